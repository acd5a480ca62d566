"""How often one client may get it wrong: sign-ins (django-axes) and links whose token is the credential.

Sign-in failures are django-axes' (settings AXES_*); this module gives it the client's address and the
lockout page. Misses on token links are counted here, per client address, in the database like axes'
counts, so every web server (and every process of the embedded default) shares one count. Invitation
links use `INVITATION_LINKS`; review links (issue 10) get a `MissLimit` of their own the same way.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta

from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .models import ADDRESS_CHARS, LinkMisses


def client_address(request: HttpRequest) -> str:
    """The client's IP address: the connection's own, or, behind TRUSTED_PROXY_COUNT proxies, the address
    the outermost of them saw (each appends the one it was reached from to X-Forwarded-For, so the entries
    before those are whatever the client sent, and not to be trusted)."""
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= count and _is_address(forwarded[-count]):
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR", "")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MissLimit:
    """At most `misses` misses from one client address in a `window` that starts at its first miss; past
    that, every try from there is refused until the window ends, right token or wrong."""

    name: str
    misses: int
    window: timedelta

    def _counts(self, request: HttpRequest):
        return LinkMisses.objects.filter(link=self.name, address=_address(request))

    def wait(self, request: HttpRequest) -> timedelta | None:
        """How long this client must wait before trying again; None when it may try now."""
        now = timezone.now()
        open_window = self._counts(request).filter(window_ends__gt=now, misses__gte=self.misses)
        ends = open_window.values_list("window_ends", flat=True).first()
        return ends - now if ends else None

    def missed(self, request: HttpRequest) -> None:
        """Count one miss from this client: one conditional UPDATE, so servers counting at once lose none."""
        now = timezone.now()
        if self._counts(request).filter(window_ends__gt=now).update(misses=F("misses") + 1):
            return
        # No open window: start one, and let every ended one go.
        LinkMisses.objects.filter(window_ends__lte=now).delete()
        try:
            with transaction.atomic():
                LinkMisses.objects.create(
                    link=self.name, address=_address(request), misses=1, window_ends=now + self.window
                )
        except IntegrityError:  # another server started it at the same moment
            self._counts(request).update(misses=F("misses") + 1)


def _address(request: HttpRequest) -> str:
    # A longer REMOTE_ADDR than any IP address (a socket's name, say) still counts, cut short.
    return client_address(request)[:ADDRESS_CHARS]


# An invitation's token is 256 random bits: no one guesses one, but a client trying many is refused a while.
INVITATION_LINKS = MissLimit("invitation links", misses=20, window=timedelta(minutes=15))


def too_many(request: HttpRequest, *, refused: str, wait: timedelta) -> HttpResponse:
    """The plain-words 429 page: what was refused and how many minutes to wait (also as Retry-After)."""
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    context = {"refused": refused, "minutes": minutes}
    response = render(request, "registration/too_many_tries.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def sign_in_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """django-axes' lockout page (AXES_LOCKOUT_CALLABLE), on the login page and the admin's: the wait left is
    the cool-off from this username's last failure from this address (tries while locked out do not count)."""
    cool_off: timedelta = settings.AXES_COOLOFF_TIME
    last_failure = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials), ip_address=client_address(request) or None
    ).aggregate(last=Max("attempt_time"))["last"]
    wait = last_failure + cool_off - timezone.now() if last_failure else cool_off
    return too_many(request, refused="Too many failed sign-ins.", wait=wait)
