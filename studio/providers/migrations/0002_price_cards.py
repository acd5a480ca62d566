"""Default price cards. Editable in the admin; a gateway's own rate may differ.

Route 4 (seed 004) publishes no prices, so its cards carry Google's Gemini API
list prices for the same models as third-party price pages reported them in
2026; where no source gave a figure (silent 4k) there is no card, and the UI
says "no price card" rather than guessing.
"""

from decimal import Decimal

from django.db import migrations

SOURCE = "Google Gemini API list price (third-party report, 2026)"
CARDS = [
    # model, resolution, audio, USD per second
    ("veo-3.1-generate-preview", "720p", True, "0.40"),
    ("veo-3.1-generate-preview", "1080p", True, "0.40"),
    ("veo-3.1-generate-preview", "720p", False, "0.20"),
    ("veo-3.1-generate-preview", "1080p", False, "0.20"),
    ("veo-3.1-generate-preview", "4k", True, "0.60"),
    ("veo-3.1-fast-generate-preview", "720p", True, "0.15"),
    ("veo-3.1-fast-generate-preview", "1080p", True, "0.15"),
    ("veo-3.1-fast-generate-preview", "720p", False, "0.10"),
    ("veo-3.1-fast-generate-preview", "1080p", False, "0.10"),
    ("veo-3.1-fast-generate-preview", "4k", True, "0.35"),
    ("veo-3.1-lite-generate-preview", "720p", True, "0.05"),
    ("veo-3.1-lite-generate-preview", "1080p", True, "0.08"),
    ("veo-3.1-lite-generate-preview", "720p", False, "0.03"),
    ("veo-3.1-lite-generate-preview", "1080p", False, "0.05"),
]


def add_cards(apps, schema_editor):
    PriceCard = apps.get_model("providers", "PriceCard")
    for model, resolution, audio, price in CARDS:
        PriceCard.objects.get_or_create(
            route="videos-gateway",
            model=model,
            resolution=resolution,
            audio=audio,
            defaults={"usd_per_second": Decimal(price), "source": SOURCE},
        )


def remove_cards(apps, schema_editor):
    apps.get_model("providers", "PriceCard").objects.filter(route="videos-gateway", source=SOURCE).delete()


class Migration(migrations.Migration):
    dependencies = [("providers", "0001_initial")]
    operations = [migrations.RunPython(add_cards, remove_cards)]
