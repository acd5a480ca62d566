"""Once added the price cards of routes 1, 2, 3 and 5 by importing the route modules.

Price cards now load from each route's `prices.json` (see `studio.money.prices`),
never from a migration that imports a route's code; this one is kept empty so
migration history stays whole.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("providers", "0003_connection_checks")]
    operations: list = []
