from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MoneyConfig(AppConfig):
    name = "studio.money"

    def ready(self) -> None:
        # Models may be imported only once the app registry is ready.
        from .prices import load_price_cards_after_migrate

        # Reference data, like Django's own content types: a fresh database
        # (and every test flush) gets each route's cards from its prices.json.
        post_migrate.connect(load_price_cards_after_migrate, sender=self)
