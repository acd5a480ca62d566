from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from .base import Capabilities, ErrorKind, ProviderError, Route, Tier
from .registry import get_route, route_choices


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
    # The model each tier runs on, where an owner named one (tier → model id); the other tiers use
    # the route's default. Providers retire ids on their own schedule, so they are data, not code.
    model_ids = models.JSONField(default=dict, blank=True)
    # Model ids the provider answered are gone (id → {"at": ISO time, "said": its words}), kept until
    # an owner saves the account's settings again (a new id, or Google brought the old one back).
    gone_models = models.JSONField(default=dict, blank=True)
    # Under a budget a task with no price card cannot be reserved; only an
    # owner's explicit choice lets such tasks through (they count as $0 until
    # the provider reports a charge).
    allow_unpriced = models.BooleanField(
        "No price card: allow",
        default=False,
        help_text="Under a budget, send tasks that no price card covers (they count as $0 until charged).",
    )
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
    @sensitive_variables()
    def set_api_key(self, raw: str) -> None:
        self.api_key_encrypted = _fernet().encrypt(raw.encode()).decode()

    @property
    @sensitive_variables()
    def api_key(self) -> str:
        try:
            return _fernet().decrypt(self.api_key_encrypted.encode()).decode()
        except InvalidToken:
            return ""

    @property
    @sensitive_variables()
    def key_unreadable(self) -> bool:
        """A key is on file but this server cannot decrypt it (its FIELD_ENCRYPTION_KEY changed)."""
        if not self.api_key_encrypted:
            return False
        try:
            _fernet().decrypt(self.api_key_encrypted.encode())
        except InvalidToken:
            return True
        return False

    @property
    @sensitive_variables()
    def masked_key(self) -> str:
        key = self.api_key
        return f"••••{key[-4:]}" if len(key) > 8 else "••••"

    @property
    def provider(self) -> Route:
        return get_route(self.route)

    def model_for(self, tier: Tier) -> str | None:
        """The model this account sends for the tier: the owner's choice, else the route's default.

        A tier the route does not offer stays unoffered whatever is stored.
        """
        tier = Tier(tier)  # callers may hold the tier as its stored text ("fast")
        default = self.provider.model_for(tier)
        if default is None:
            return None
        return str(self.model_ids.get(tier.value) or default)

    def capabilities_for(self, model: str) -> Capabilities | None:
        """What the route accepts for this model; an id the route does not list takes its tier's default's limits."""
        route = self.provider
        if model in route.capabilities:
            return route.capabilities[model]
        for tier in Tier:
            if self.model_ids.get(tier.value) == model and (default := route.model_for(tier)):
                return route.capabilities.get(default)
        return None

    def model_gone(self, model: str) -> str:
        """The provider's own word that this model is gone, in plain words; "" while it has not said so."""
        seen = self.gone_models.get(model)
        if not seen:
            return ""
        when = parse_datetime(seen.get("at") or "")
        day = f" on {when:%-d %b %Y}" if when else ""
        said = str(seen.get("said") or "").rstrip(".")
        return f"The provider answered{day} that {model} is no longer available" + (f" ({said})." if said else ".")

    def retired_note(self, model: str) -> str:
        """What is reported about a retired id this account still names (a warning: the provider has the last word)."""
        note = self.provider.retired_models.get(model)
        return f"{model} is reported retired: {note}" if note else ""

    def gone_tiers(self) -> dict[Tier, str]:
        """Tier → why its model cannot be used, for every tier whose model is known to be gone."""
        found = {}
        for tier in Tier:
            if (model := self.model_for(tier)) and (why := self.model_gone(model)):
                found[tier] = why
        return found

    def models_in_use(self) -> list[dict]:
        """Each tier the route offers: its model, whether it is the route's default, and any word that it is gone."""
        rows = []
        for tier in Tier:
            if model := self.model_for(tier):
                rows.append(
                    {
                        "tier": tier,
                        "model": model,
                        "is_default": model == self.provider.model_for(tier),
                        "gone": self.model_gone(model),
                        "retired": self.retired_note(model),
                    }
                )
        return rows

    def mark_model_gone(self, model: str, said: str) -> None:
        """Remember the provider's word that a model is gone (one statement per account, whoever else writes)."""
        with transaction.atomic():
            account = type(self).objects.select_for_update().get(pk=self.pk)
            account.gone_models = {**account.gone_models, model: {"at": timezone.now().isoformat(), "said": said}}
            account.save(update_fields=["gone_models"])
        self.gone_models = account.gone_models

    @property
    def resolved_base_url(self) -> str:
        url = self.base_url or self.provider.default_base_url
        if self.is_simulator and not settings.SIMULATOR_ENABLED:
            # Before any request is built: nothing is sent, and the card says why in plain words.
            raise ProviderError(
                ErrorKind.UNREACHABLE,
                f"This account uses the built-in simulator ({self.base_url}), which is turned off on this server",
            )
        if url.startswith("/"):
            url = settings.SITE_URL + url
        return url.rstrip("/")

    @property
    def is_being_tested(self) -> bool:
        """A "test connection" was asked for and its worker has not answered yet."""
        return self.check_requested_at is not None and (
            self.checked_at is None or self.checked_at < self.check_requested_at
        )

    @property
    def is_simulator(self) -> bool:
        return self.base_url.startswith("/simulator/")
