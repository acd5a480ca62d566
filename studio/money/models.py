from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

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


class Budget(models.Model):
    """What a project may spend: a limit in total or per calendar month, and an optional cap per member.

    The row is also the lock every submit in the project takes while it adds
    up what is already held and reserves its quote (see `studio.tasks.budgets`),
    so no burst of clicks on any number of processes can overrun it.
    """

    class Period(models.TextChoices):
        MONTH = "month", "Each calendar month"
        TOTAL = "total", "In total"

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="budget")
    limit = models.DecimalField(
        "Project budget (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Blank: no project limit.",
    )
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    member_cap = models.DecimalField(
        "Cap per member (USD)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Blank: members share the project budget with no cap of their own.",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return f"Budget of project {self.project_id}: {self.limit_words}"

    @property
    def is_limited(self) -> bool:
        return self.limit is not None or self.member_cap is not None

    @property
    def period_words(self) -> str:
        return "this month" if self.period == self.Period.MONTH else "in total"

    @property
    def limit_words(self) -> str:
        if self.limit is None:
            return "no limit"
        return f"${self.limit} {self.period_words}"

    def period_start(self, now: datetime) -> datetime | None:
        """When the current period began (local midnight on the 1st), or None for a budget in total."""
        if self.period == self.Period.TOTAL:
            return None
        local = timezone.localtime(now)
        return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
