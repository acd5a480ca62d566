"""Price cards for routes 1, 2, 3 and 5, from each route module's PRICES (one source of truth).

Routes whose documentation publishes no rate (1 and 3) have none: the UI then
says "no price card" instead of inventing a figure. Editable in the admin.
"""

from decimal import Decimal

from django.db import migrations

ROUTES = ("tasks_api", "openai_video", "aggregator", "gemini")


def add_cards(apps, schema_editor):
    from importlib import import_module

    PriceCard = apps.get_model("providers", "PriceCard")
    for name in ROUTES:
        module = import_module(f"studio.providers.{name}")
        route = next(obj.slug for obj in vars(module).values() if getattr(obj, "__module__", "") == module.__name__
                     and hasattr(obj, "slug"))
        source = getattr(module, "SOURCE", "the route's documentation")
        for model, resolution, audio, price in module.PRICES:
            PriceCard.objects.get_or_create(
                route=route, model=model, resolution=resolution, audio=audio,
                defaults={"usd_per_second": Decimal(price), "source": source[:200]},
            )


def remove_cards(apps, schema_editor):
    apps.get_model("providers", "PriceCard").objects.exclude(route="videos-gateway").delete()


class Migration(migrations.Migration):
    dependencies = [("providers", "0003_connection_checks")]
    operations = [migrations.RunPython(add_cards, remove_cards)]
