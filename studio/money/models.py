from __future__ import annotations

from django.db import models

from studio.providers.registry import route_choices


class PriceCard(models.Model):
    """List price per generated second for one model at one resolution, with or without audio.

    Loaded from each route's `prices.json` where missing; an owner's edit in
    the admin is kept (loading never overwrites a card). A card is withdrawn
    rather than deleted, so the packaged data cannot bring back a price the
    owner took away: a withdrawn card quotes nothing ("no price card").
    """

    route = models.CharField(max_length=40, choices=route_choices)
    model = models.CharField(max_length=80)
    resolution = models.CharField(max_length=10)
    audio = models.BooleanField()
    usd_per_second = models.DecimalField(max_digits=8, decimal_places=4)
    source = models.CharField(max_length=200, blank=True)
    withdrawn = models.BooleanField(default=False, help_text="Quote nothing for this variant: no price card.")

    class Meta:
        ordering = ["route", "model", "resolution", "audio"]
        constraints = [
            models.UniqueConstraint(fields=["route", "model", "resolution", "audio"], name="one_price_per_variant")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.resolution}{' + audio' if self.audio else ''}: ${self.usd_per_second}/s"
