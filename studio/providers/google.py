"""Google's JSON error envelope, `{"error": {"code", "message", "status", "details"}}`, read once for every
route that speaks it (route 5, the Gemini API; route 6, Google Cloud). Each route keeps its own words for
what differs (which key was refused, what a 404 means); rate limits, outages and the rest read alike."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from .base import ErrorKind, ProviderError, Report, Status, error_body, retry_after_seconds

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


def samples_report(videos: list[str], *, filtered: object, reasons: list[str]) -> Report:
    """A done operation's videos, in order, with what Google's safety filter removed.

    Several clips from one request come back as several videos; those the filter removed are not
    among them, and the report's error says why for the clips that are missing. None at all and
    some removed is a block (not billed); none and none removed returned nothing, and may have billed.
    """
    # A count as Google's JSON spells it: an int, or (int64) a string of one.
    count = filtered if isinstance(filtered, int) and not isinstance(filtered, bool) else 0
    if isinstance(filtered, str) and filtered.isdigit():
        count = int(filtered)
    removed = None
    if count or reasons:
        why = " ".join(reasons) or "no reason given"
        removed = ProviderError(ErrorKind.SAFETY, f"Google's safety filter removed the video: {why}")
    if videos:
        return Report(
            Status.SUCCEEDED,
            progress=100,
            video_url=videos[0],
            more_videos=tuple(videos[1:]),
            error=removed,
            provider_status="done" if removed is None else f"done: {count} removed",
        )
    if removed is not None:
        return Report(Status.BLOCKED, error=removed, provider_status="done: filtered")
    return Report(Status.SUCCEEDED, progress=100, video_url=None, provider_status="done: no videos")
