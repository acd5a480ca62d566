"""Price cards, taken over from the providers app (its migration 0005 renamed the table)."""

import studio.providers.registry
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = [("providers", "0005_price_cards_move_to_money")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PriceCard",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("route", models.CharField(choices=studio.providers.registry.route_choices,
                                                   max_length=40)),
                        ("model", models.CharField(max_length=80)),
                        ("resolution", models.CharField(max_length=10)),
                        ("audio", models.BooleanField()),
                        ("usd_per_second", models.DecimalField(decimal_places=4, max_digits=8)),
                        ("source", models.CharField(blank=True, max_length=200)),
                    ],
                    options={
                        "ordering": ["route", "model", "resolution", "audio"],
                        "constraints": [
                            models.UniqueConstraint(fields=("route", "model", "resolution", "audio"),
                                                    name="one_price_per_variant")
                        ],
                    },
                )
            ],
            database_operations=[],
        )
    ]
