"""Once added route 4's default price cards.

Price cards now load from each route's `prices.json` (see `studio.money.prices`),
never from a migration; this one is kept empty so migration history stays whole.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]
    operations: list = []
