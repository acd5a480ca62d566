"""Price cards move to the money app; the table is renamed, so edited cards are kept."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("providers", "0004_route_price_cards")]
    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.AlterModelTable("PriceCard", "money_pricecard")],
            state_operations=[migrations.DeleteModel("PriceCard")],
        )
    ]
