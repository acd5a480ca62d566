"""Google's JSON error envelope, `{"error": {"code", "message", "status", "details"}}`, read once for every
route that speaks it (route 5, the Gemini API; route 6, Google Cloud). Each route keeps its own words for
what differs (which key was refused, what a 404 means); rate limits, outages and the rest read alike."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from .base import ErrorKind, ProviderError, error_body, retry_after_seconds

# A 429 that says neither Retry-After nor RetryInfo: wait a minute before sending again.
RATE_LIMIT_WAIT_S = 60.0


@dataclass(frozen=True)
class GoogleRefusal:
    response: httpx.Response
    message: str
    status: str
    details: list[dict]

    @property
    def code(self) -> int:
        return self.response.status_code

    @property
    def said(self) -> str:
        """Google's own words, as a suffix (": …"), or nothing."""
        return f": {self.message}" if self.message else ""

    def fail(self, kind: ErrorKind, text: str, retry_after: float | None = None) -> ProviderError:
        return ProviderError(kind, text, retry_after=retry_after, http_status=self.code)

    def otherwise(self, *, limited: str) -> ProviderError:
        """A rate limit (on `limited`: "this key", "this project"), an outage, or a plain refusal."""
        if self.code == 429:
            wait = retry_after_seconds(self.response)
            if wait is None:
                wait = retry_delay(self.details)
            if wait is None:
                wait = RATE_LIMIT_WAIT_S
            return self.fail(ErrorKind.RATE_LIMIT, f"Google is rate limiting {limited}{self.said}", retry_after=wait)
        if self.code >= 500:
            label = f"HTTP {self.code} {self.status}" if self.status else f"HTTP {self.code}"
            return self.fail(ErrorKind.OUTAGE, f"Google had an internal error ({label}){self.said}")
        return self.fail(ErrorKind.FAILED, f"Google refused the request (HTTP {self.code}){self.said}")


def read_refusal(response: httpx.Response) -> GoogleRefusal:
    error = found if isinstance(found := error_body(response).get("error"), dict) else {}
    return GoogleRefusal(
        response=response,
        message=str(error.get("message") or "").strip(),
        status=str(error.get("status") or ""),
        details=[d for d in error.get("details") or [] if isinstance(d, dict)],
    )


def retry_delay(details: list[dict]) -> float | None:
    """`RetryInfo.retryDelay` ("37s" or "1.5s") from Google's error details."""
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
