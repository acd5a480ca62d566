"""Price cards come from each route's prices.json; an owner's edit or withdrawal outlasts every reload."""

from __future__ import annotations

from decimal import Decimal

import pytest

from studio.money.models import PriceCard
from studio.money.prices import load_price_cards, quote, total
from studio.providers.registry import ROUTES, price_data

pytestmark = pytest.mark.django_db

FAST_720P = {"route": "videos-gateway", "model": "veo-3.1-fast-generate-preview", "resolution": "720p", "audio": False}


def test_a_migrated_database_holds_every_routes_packaged_cards():
    packaged = {
        (slug, card["model"], card["resolution"], card["audio"]): Decimal(card["usd_per_second"])
        for slug in ROUTES
        for card in price_data(slug)["cards"]
    }
    stored = {(c.route, c.model, c.resolution, c.audio): c.usd_per_second for c in PriceCard.objects.all()}
    assert packaged and stored == packaged


def test_each_card_carries_its_source_its_own_where_it_names_one():
    for slug in ROUTES:
        data = price_data(slug)
        for card in data["cards"]:
            stored = PriceCard.objects.get(
                route=slug, model=card["model"], resolution=card["resolution"], audio=card["audio"]
            )
            assert stored.source == card.get("source", data["source"])[:200]
    # Route 6's figures come from more than one report, so its cards name theirs one by one.
    assert len({card.source for card in PriceCard.objects.filter(route="google-cloud")}) > 1


def test_reloading_keeps_an_owners_edited_price():
    PriceCard.objects.filter(**FAST_720P).update(usd_per_second=Decimal("0.12"))
    load_price_cards()
    assert quote(**FAST_720P, seconds=4) == Decimal("0.48")


def test_a_withdrawn_card_quotes_nothing_and_stays_withdrawn_after_a_reload():
    assert quote(**FAST_720P, seconds=4) == Decimal("0.40")
    PriceCard.objects.filter(**FAST_720P).update(withdrawn=True)
    load_price_cards()
    assert quote(**FAST_720P, seconds=4) is None
    assert PriceCard.objects.filter(**FAST_720P).count() == 1


def test_a_total_is_unknown_when_any_quote_is_unknown():
    assert total([Decimal("0.40"), Decimal("0.60")]) == Decimal("1.00")
    assert total([Decimal("0.40"), None]) is None
    assert total([]) == Decimal("0")


def test_price_cards_cannot_be_deleted_in_the_admin(admin_client):
    card = PriceCard.objects.get(**FAST_720P)
    assert admin_client.post(f"/admin/money/pricecard/{card.pk}/delete/", {"post": "yes"}).status_code == 403
    assert PriceCard.objects.filter(pk=card.pk).exists()
