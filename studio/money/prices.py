"""What a clip costs: price cards from each route's data, quotes and totals.

Every figure Dailies shows before a spend comes from here, so a budget (next)
reserves exactly what the user was quoted.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from studio.providers.registry import ROUTES, price_data

from .models import PriceCard

CENT = Decimal("0.01")


def load_price_cards() -> None:
    """Add every route's packaged cards that the database lacks; edited and withdrawn cards stay as they are."""
    for slug in ROUTES:
        data = price_data(slug)
        for card in data["cards"]:
            PriceCard.objects.get_or_create(
                route=slug,
                model=card["model"],
                resolution=card["resolution"],
                audio=card["audio"],
                # A card may name its own source, where a route's figures come from more than one.
                defaults={
                    "usd_per_second": Decimal(card["usd_per_second"]),
                    "source": card.get("source", data["source"])[:200],
                },
            )


def load_price_cards_after_migrate(sender, *, using: str = "default", **kwargs) -> None:
    if using == "default":
        load_price_cards()


def quote(*, route: str, model: str, resolution: str, audio: bool, seconds: int) -> Decimal | None:
    """The list price of one clip, or None when no price card covers it."""
    card = PriceCard.objects.filter(
        route=route, model=model, resolution=resolution, audio=audio, withdrawn=False
    ).first()
    if card is None:
        return None
    return (card.usd_per_second * seconds).quantize(CENT)


def price_of(*, account, model: str, parameters: dict) -> Decimal | None:
    """The list price of one clip on this account with these settings, counting sound a route always renders."""
    caps = account.capabilities_for(model)
    return quote(
        route=account.route,
        model=model,
        resolution=parameters["resolution"],
        audio=bool(parameters["audio"] or (caps and caps.always_audio)),
        seconds=parameters["duration_s"],
    )


def total(quotes: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of several quotes, or None when any of them has no price card."""
    amounts = list(quotes)
    known = [amount for amount in amounts if amount is not None]
    if len(known) < len(amounts):
        return None
    return sum(known, Decimal("0"))
