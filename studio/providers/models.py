from __future__ import annotations

import base64
import hashlib
from decimal import Decimal

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models

from .base import Route, get_route, route_choices


def _fernet() -> Fernet:
    digest = hashlib.sha256(settings.FIELD_ENCRYPTION_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class ProviderAccount(models.Model):
    """A project's key for one route. The key is stored encrypted and shown masked."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="provider_accounts")
    label = models.CharField(max_length=80)
    route = models.CharField(max_length=40, choices=route_choices)
    # Blank: the route's public address. A path starting with "/" is on this
    # instance (the built-in simulator).
    base_url = models.CharField(max_length=300, blank=True)
    api_key_encrypted = models.TextField(editable=False)
    # Slower than the route's documented cadence is allowed; faster is clamped
    # to the route's minimum.
    poll_interval_s = models.FloatField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The last "test connection", run by a worker (never in a web request).
    check_requested_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    check_ok = models.BooleanField(null=True)
    check_message = models.TextField(blank=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_route_display()})"

    # The key never leaves this object unencrypted except to build a request.
    def set_api_key(self, raw: str) -> None:
        self.api_key_encrypted = _fernet().encrypt(raw.encode()).decode()

    @property
    def api_key(self) -> str:
        try:
            return _fernet().decrypt(self.api_key_encrypted.encode()).decode()
        except InvalidToken:
            return ""

    @property
    def masked_key(self) -> str:
        key = self.api_key
        return f"••••{key[-4:]}" if len(key) > 8 else "••••"

    @property
    def provider(self) -> Route:
        return get_route(self.route)

    @property
    def resolved_base_url(self) -> str:
        url = self.base_url or self.provider.default_base_url
        if url.startswith("/"):
            url = settings.SITE_URL + url
        return url.rstrip("/")

    @property
    def is_simulator(self) -> bool:
        return self.base_url.startswith("/simulator/")


class PriceCard(models.Model):
    """List price per generated second for one model at one resolution, with or without audio."""

    route = models.CharField(max_length=40, choices=route_choices)
    model = models.CharField(max_length=80)
    resolution = models.CharField(max_length=10)
    audio = models.BooleanField()
    usd_per_second = models.DecimalField(max_digits=8, decimal_places=4)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["route", "model", "resolution", "audio"]
        constraints = [
            models.UniqueConstraint(fields=["route", "model", "resolution", "audio"], name="one_price_per_variant")
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.resolution}{' + audio' if self.audio else ''}: ${self.usd_per_second}/s"


def quote(*, route: str, model: str, resolution: str, audio: bool, seconds: int) -> Decimal | None:
    """The list price of one clip, or None when no price card covers it."""
    card = PriceCard.objects.filter(route=route, model=model, resolution=resolution, audio=audio).first()
    if card is None:
        return None
    return (card.usd_per_second * seconds).quantize(Decimal("0.01"))


def price_of(*, route: str, model: str, parameters: dict) -> Decimal | None:
    """The list price of one clip with these settings, counting sound a route always renders."""
    caps = get_route(route).capabilities.get(model)
    return quote(
        route=route,
        model=model,
        resolution=parameters["resolution"],
        audio=bool(parameters["audio"] or (caps and caps.always_audio)),
        seconds=parameters["duration_s"],
    )
