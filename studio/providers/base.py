"""The one small interface every Veo 3.1 route speaks, and the words shared by all.

A route module turns Dailies' route-neutral `VideoRequest` into its provider's
HTTP calls and turns the answers back into a `Receipt` (after submit) or a
`Report` (after each poll). It never touches the database: the lifecycle in
`studio.tasks.lifecycle` owns state, claims and retries.
"""

from __future__ import annotations

import base64
import enum
import functools
import json
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
from django.views.decorators.debug import sensitive_variables


class Tier(enum.StrEnum):
    """Dailies' speed/quality ladder; each route maps it to its own model ids."""

    LITE = "lite"
    FAST = "fast"
    QUALITY = "quality"


DRAFT_TIERS = (Tier.LITE, Tier.FAST)

# Google's model ids (veo-3.1-generate-001): lower-case letters, digits, dots and hyphens.
GOOGLE_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9.-]{0,99}")

# Set on a request a route makes on the way to its submit that creates nothing at the provider (route 6's
# token request): the submit's "request sent" stamp waits for the request that can create a job.
CREATES_NOTHING = "dailies.creates_nothing"

# Who may appear in a clip, in Google's words (every Veo route passes them on), and in the user's.
PEOPLE = {"allow_all": "Anyone, adults and children", "allow_adult": "Adults only", "dont_allow": "No people"}

# Words by which gateways' free-text failure reasons say "the safety filter
# stopped it" (not billed) rather than "it broke". "rai" only as a word, so
# "rain" in a prompt echoed back is not a block.
SAFETY_WORDS = re.compile(r"safety|content.?policy|moderat|\brai\b|blocked|filtered|violat", re.IGNORECASE)


@dataclass(frozen=True)
class ImageInput:
    """An uploaded picture, in every form a route may want it."""

    data: bytes
    mime_type: str
    # A URL the provider can fetch, when this instance has a public address.
    url: str | None = None

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode()

    @property
    def data_uri(self) -> str:
        return f"data:{self.mime_type};base64,{self.base64}"


@dataclass(frozen=True)
class ClipInput:
    """An archived clip sent back to the provider to be extended."""

    data: bytes
    mime_type: str = "video/mp4"

    @property
    def base64(self) -> str:
        return base64.b64encode(self.data).decode()


@dataclass(frozen=True)
class Extension:
    """Which clips a model can extend, and by how much; Google's words for Veo on Google Cloud."""

    # Seconds one extension adds (what is rendered, and billed).
    added_s: int
    # The source clip: its length, frame rate, resolution and framing.
    min_source_s: float
    max_source_s: float
    frame_rate: float
    resolutions: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    # The largest file the route takes (the clip travels inside the request).
    max_source_bytes: int | None = None

    def refusal(
        self, *, duration_s: float, frame_rate: float, resolution: str, aspect_ratio: str, size: int = 0
    ) -> str | None:
        """Why a clip of this shape cannot be extended, in plain words; None when it can."""
        if self.max_source_bytes is not None and size > self.max_source_bytes:
            return (
                f"Only clips up to {self.max_source_bytes / 1e6:.0f} MB can be sent to be extended; "
                f"this one is {size / 1e6:.1f} MB."
            )
        if not self.min_source_s <= round(duration_s, 1) <= self.max_source_s:
            return (
                f"Only clips of {self.min_source_s:g} to {self.max_source_s:g} s can be extended; "
                f"this one is {duration_s:.1f} s."
            )
        if abs(frame_rate - self.frame_rate) > 0.01:
            return f"Only {self.frame_rate:g} fps clips can be extended; this one is {frame_rate:g} fps."
        if resolution not in self.resolutions:
            return f"Only {_words(self.resolutions)} clips can be extended; this one is {resolution}."
        if aspect_ratio not in self.aspect_ratios:
            return f"Only {_words(self.aspect_ratios)} clips can be extended; this one is {aspect_ratio}."
        return None


@dataclass(frozen=True)
class VideoRequest:
    model: str
    prompt: str
    negative_prompt: str = ""
    duration_s: int = 4
    aspect_ratio: str = "16:9"
    resolution: str = "720p"
    audio: bool = False
    seed: int | None = None
    first_frame: ImageInput | None = None
    last_frame: ImageInput | None = None
    references: tuple[ImageInput, ...] = ()
    # Who may appear (Google's words: allow_all, allow_adult, dont_allow); "" leaves it to the route.
    people: str = ""
    # Whether the model may rewrite the prompt before rendering; None leaves it to the route.
    enhance_prompt: bool | None = None
    # A clip to continue: the prompt says what happens next, `duration_s` is the seconds added.
    extend: ClipInput | None = None
    # How many clips this one request renders (each billed as the route bills a clip).
    samples: int = 1
    # Where a route that calls back should deliver its result (unguessable per task).
    callback_url: str | None = None


@dataclass(frozen=True)
class Receipt:
    provider_task_id: str
    estimated_cost: Decimal | None = None


class Status(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"


class ErrorKind(enum.StrEnum):
    VALIDATION = "validation"
    AUTH = "auth"
    WALLET = "wallet"
    SAFETY = "safety"
    RATE_LIMIT = "rate_limit"
    OUTAGE = "outage"
    NOT_FOUND = "not_found"
    # The provider says the model itself is gone (retired, shut down): no task on it can succeed.
    RETIRED_MODEL = "retired_model"
    BAD_ANSWER = "bad_answer"
    EMPTY_RESULT = "empty_result"
    TIMED_OUT = "timed_out"
    UNREACHABLE = "unreachable"
    LINK_REFUSED = "link_refused"
    FAILED = "failed"


# What the user reads on the card: what happened, then what to do next.
NEXT_STEP = {
    ErrorKind.VALIDATION: "Change the settings and draft again. Nothing was billed.",
    ErrorKind.AUTH: "Ask the project owner to check this provider account's API key. Nothing was billed.",
    ErrorKind.WALLET: "Top up the provider account, then try again. Nothing was billed.",
    ErrorKind.SAFETY: "Reword the prompt and try again. Blocked jobs are not billed.",
    ErrorKind.RATE_LIMIT: "Wait a minute and try again. Nothing was billed.",
    ErrorKind.OUTAGE: "The provider is having trouble; try again in a few minutes.",
    ErrorKind.NOT_FOUND: "This model or job is no longer available at the provider; pick another tier or route.",
    ErrorKind.RETIRED_MODEL: (
        "Nothing was billed. A project owner can set another model id for this tier on the provider "
        "account's page; until then draft on another tier or route."
    ),
    ErrorKind.BAD_ANSWER: "The provider answered with something we could not read; try again later.",
    ErrorKind.EMPTY_RESULT: "The provider may still have billed it: check your provider dashboard.",
    ErrorKind.TIMED_OUT: "It was not sent again, so you are not billed twice; draft again if you still want it.",
    ErrorKind.UNREACHABLE: "Nothing was sent, so nothing was billed. Check the account's address and try again.",
    ErrorKind.LINK_REFUSED: "The job may have been billed: look for the clip in the provider's dashboard.",
    ErrorKind.FAILED: "Try again; if it keeps failing, change the prompt or settings.",
}


class ProviderError(Exception):
    """A provider said no, or could not be understood. `message` is plain words."""

    def __init__(
        self, kind: ErrorKind, message: str, *, retry_after: float | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after
        self.http_status = http_status

    @property
    def for_user(self) -> str:
        return f"{self.message.rstrip('.')}. {NEXT_STEP[self.kind]}"


@dataclass(frozen=True)
class Report:
    """One poll answer, in route-neutral words."""

    status: Status
    progress: int | None = None
    video_url: str | None = None
    # A separate audio track, for routes that deliver one beside the video.
    audio_url: str | None = None
    error: ProviderError | None = None
    charged: Decimal | None = None
    provider_status: str = ""
    # A request for several clips: the videos after the first, in order. Videos the provider removed
    # (its safety filter) are missing from the end, and `error` then says why (see `videos`).
    more_videos: tuple[str, ...] = ()

    @property
    def videos(self) -> tuple[str, ...]:
        """Every video the answer holds, the first one first."""
        return tuple(url for url in (self.video_url, *self.more_videos) if url)


@dataclass(frozen=True)
class Capabilities:
    """What one model on one route accepts; drives the form and server-side checks."""

    durations: tuple[int, ...]
    resolutions: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    audio: bool
    # Routes that always render sound, asked or not (and bill it).
    always_audio: bool = False
    negative_prompt: bool = False
    seed: bool = True
    first_frame: bool = False
    last_frame: bool = False
    max_references: int = 0
    # Routes that fetch images themselves need a URL the provider can reach.
    images_by_url: bool = False
    # Who may appear, where the route lets the user choose (Google's words, see PEOPLE).
    people: tuple[str, ...] = ()
    # Whether the user may switch the route's prompt rewriting on or off.
    enhance_prompt: bool = False
    # Which clips this model can extend (None: it extends none).
    extend: Extension | None = None
    # How many clips one request may render (Google's sampleCount); 1 where the route takes one per request.
    max_samples: int = 1
    # (resolution, durations allowed at it, the route's reason).
    rules: tuple[tuple[str, tuple[int, ...], str], ...] = field(default=())
    # Anything else the route refuses, as field → message (e.g. references need 8 s).
    check: Callable[[VideoRequest], dict[str, str]] | None = None

    def problems(self, request: VideoRequest) -> dict[str, str]:
        """Field → message for everything this model would refuse."""
        found: dict[str, str] = {}
        if request.extend is not None:
            return self._extension_problems(request)
        if not 1 <= request.samples <= self.max_samples:
            found["samples"] = (
                f"This model renders at most {self.max_samples} clips from one request."
                if self.max_samples > 1
                else "This route renders one clip per request."
            )
        if request.duration_s not in self.durations:
            found["duration_s"] = f"This route takes {_words(self.durations, 's')} clips."
        if request.resolution not in self.resolutions:
            found["resolution"] = f"This model renders {_words(self.resolutions)}."
        if request.aspect_ratio not in self.aspect_ratios:
            found["aspect_ratio"] = f"This route takes {_words(self.aspect_ratios)}."
        if request.audio and not self.audio:
            found["audio"] = "This model cannot generate audio."
        if request.negative_prompt and not self.negative_prompt:
            found["negative_prompt"] = "This route does not take a negative prompt."
        if request.first_frame and not self.first_frame:
            found["first_frame"] = "This model does not take a first frame."
        if request.last_frame and not self.last_frame:
            found["last_frame"] = "This model does not take a last frame."
        if request.last_frame and not request.first_frame:
            found.setdefault("last_frame", "A last frame needs a first frame too.")
        if len(request.references) > self.max_references:
            found["references"] = (
                f"This model takes at most {self.max_references} reference images."
                if self.max_references
                else "This model does not take reference images."
            )
        if request.people and request.people not in self.people:
            found["people"] = (
                f"This route takes {_words([PEOPLE[p].lower() for p in self.people])}."
                if self.people
                else "This route does not take a people setting."
            )
        if request.enhance_prompt is not None and not self.enhance_prompt:
            found["enhance_prompt"] = "This route does not rewrite prompts."
        if self.images_by_url and any(
            image.url is None for image in (request.first_frame, request.last_frame, *request.references) if image
        ):
            found.setdefault(
                "first_frame" if request.first_frame else "references",
                "This route fetches images by URL, and this instance has no public address (set DAILIES_PUBLIC_URL).",
            )
        for resolution, durations, reason in self.rules:
            if request.resolution == resolution and request.duration_s not in durations:
                found.setdefault("duration_s", reason)
        if self.check:
            for name, message in self.check(request).items():
                found.setdefault(name, message)
        return found

    def _extension_problems(self, request: VideoRequest) -> dict[str, str]:
        # The source clip's own shape was checked when Extend was offered (`Extension.refusal`).
        if self.extend is None:
            return {"extend": "This model does not extend clips."}
        found: dict[str, str] = {}
        if request.duration_s != self.extend.added_s:
            found["duration_s"] = f"An extension adds {self.extend.added_s} s."
        if request.first_frame or request.last_frame or request.references:
            found["extend"] = "An extension takes no images: it continues the clip."
        if not request.prompt.strip():
            found["prompt"] = "Say what happens next."
        if request.audio and not self.audio:
            found["audio"] = "This model cannot generate audio."
        if request.people and request.people not in self.people:
            found["people"] = "This route does not take that people setting."
        return found


# Veo's own limits, which every gateway in front of it passes on; `where` names
# the route in the message ("this route", "Google's API").
def veo_eight_second_rules(*resolutions: str, where: str) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    reason = f"1080p and 4k need 8 s on {where}."
    return tuple((resolution, (8,), reason) for resolution in resolutions)


def veo_reference_rule(where: str) -> Callable[[VideoRequest], dict[str, str]]:
    def check(request: VideoRequest) -> dict[str, str]:
        if request.references and (request.duration_s != 8 or request.aspect_ratio != "16:9"):
            return {"references": f"Reference images need 8 s clips at 16:9 on {where}."}
        return {}

    return check


def veo_capabilities(*, where: str, lite: bool = False, **differences: Any) -> Capabilities:
    """Veo 3.1's own limits, which every route in front of it passes on, with the route's `differences`.

    4, 6 or 8 s; 720p, 1080p or 4k (lite: no 4k), and above 720p only 8 s;
    16:9 or 9:16; audio, negative prompt, first and last frame; references
    need 8 s at 16:9. `where` names the route in the messages.
    """
    veo = Capabilities(
        durations=(4, 6, 8),
        resolutions=("720p", "1080p") if lite else ("720p", "1080p", "4k"),
        aspect_ratios=("16:9", "9:16"),
        audio=True,
        negative_prompt=True,
        first_frame=True,
        last_frame=True,
        rules=veo_eight_second_rules("1080p", *(() if lite else ("4k",)), where=where),
        check=veo_reference_rule(where),
    )
    return replace(veo, **differences)


def _words(values, unit: str = "") -> str:
    items = [f"{v}{unit}" for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class Account(Protocol):
    """What a route reads of a provider account; `models.ProviderAccount` is the one in use."""

    @property
    def api_key(self) -> str: ...

    @property
    def resolved_base_url(self) -> str: ...

    @property
    def options(self) -> dict[str, Any]: ...


class Route:
    """Base for route modules. Subclasses set the class attributes and the three calls."""

    slug: ClassVar[str]
    # In plain words, for people choosing a route ("Google Gemini API"); the protocol's details live
    # in the module docstring.
    name: ClassVar[str]
    # Where the route's documentation came from ("seed 004"), shown small beside the name.
    seed_note: ClassVar[str] = ""
    default_base_url: ClassVar[str]
    models: ClassVar[dict[Tier, str]]
    capabilities: ClassVar[dict[str, Capabilities]]
    min_poll_interval_s: ClassVar[float]
    # Model ids the provider has retired, each with what happened in plain words (when, what to use
    # instead). Still offered as choices, so an account on one explains itself.
    retired_models: ClassVar[dict[str, str]] = {}
    # The shape of a model id this route's provider can have (None: any id without spaces), checked on the
    # account form so an id the provider could never answer for is refused before anything is sent.
    model_id_shape: ClassVar[re.Pattern[str] | None] = None
    model_id_example: ClassVar[str] = ""
    # Past this, a job that never finishes is ended as timed out (never resubmitted).
    deadline_s: ClassVar[float] = 30 * 60
    # How long the provider keeps result URLs alive.
    result_ttl_s: ClassVar[float] = 24 * 3600

    def submit(self, http: httpx.Client, account: Account, request: VideoRequest) -> Receipt:
        raise NotImplementedError

    def poll(self, http: httpx.Client, account: Account, provider_task_id: str) -> Report:
        raise NotImplementedError

    def key_headers(self, account: Account) -> dict[str, str]:
        """The header that carries the account's key, in the route's own form."""
        raise NotImplementedError

    @sensitive_variables()
    def headers(self, account: Account) -> dict[str, str]:
        """What every request to the provider's own address carries."""
        return {**self.key_headers(account), "Accept": "application/json"}

    @sensitive_variables()
    def download_request(self, account: Account, provider_task_id: str, url: str) -> tuple[str, dict[str, str]]:
        """URL and headers to fetch a result file (the video, or a separate audio track).

        By default our key goes only to the account's own origin: result links
        often point at a CDN or another host, and a key sent there leaks.
        Routes whose links carry their own permission override this.
        """
        url = absolute_url(account, url) or url
        return url, self.key_headers(account) if same_origin(url, account.resolved_base_url) else {}

    def download_refusal_passes(self, account: Account, url: str) -> bool:
        """After the result's download was refused (401/403, or our credentials for it were): whether to try
        again later rather than call the link dead. Provider links expire, so by default a refusal is final."""
        return False

    def poll_delay(self, *, model: str, elapsed_s: float, account: Account | None = None) -> float:
        """Seconds until the next poll, as the route's documentation asks."""
        raise NotImplementedError

    def check_account(self, http: httpx.Client, account: Account) -> None:
        """Raise ProviderError if the account's key or address does not work. Must spend nothing."""
        raise NotImplementedError

    def uses_callbacks(self, account: Account) -> bool:
        """Whether this account's tasks are called back (then polls are only a slow safety net)."""
        return False

    def parse_callback(self, body: bytes) -> tuple[str, Report]:
        """(provider task id, report) from a callback delivery; only for routes with callbacks."""
        raise NotImplementedError

    @property
    def extends_clips(self) -> bool:
        """Whether any of the route's models can extend a clip (Extend is offered on its clips)."""
        return any(caps.extend for caps in self.capabilities.values())

    def model_for(self, tier: Tier) -> str | None:
        """The route's default model for the tier (an account may name another: `ProviderAccount.model_for`)."""
        return self.models.get(tier)


def same_origin(url: str, base_url: str) -> bool:
    """Whether `url` is on the account's own scheme, host and port: the only place our key may go.

    Result links often point at a CDN or another host; a key sent there leaks.
    """

    def origin(address: str) -> tuple[str, str, int | None]:
        parts = urlsplit(address)
        scheme = parts.scheme.lower()
        return scheme, (parts.hostname or "").lower(), parts.port or {"https": 443, "http": 80}.get(scheme)

    return origin(url) == origin(base_url)


@sensitive_variables()
def bearer(account: Account) -> dict[str, str]:
    """The key as an OAuth-style bearer token, as most gateways take it."""
    return {"Authorization": f"Bearer {account.api_key}"}


def absolute_url(account: Account, url: object) -> str | None:
    """A result link as an absolute URL; a path is on the account's own address (its base URL + path)."""
    if not url or not isinstance(url, str):
        return None
    if url.startswith("/"):
        return account.resolved_base_url + url
    return urljoin(account.resolved_base_url + "/", url)


def http_client(timeout: httpx.Timeout | None = None) -> httpx.Client:
    """The one way Dailies talks to providers: explicit timeouts, redirects followed."""
    return httpx.Client(
        timeout=timeout or httpx.Timeout(30.0, connect=10.0),
        follow_redirects=True,
        headers={"User-Agent": "Dailies/0.1"},
        verify=tls_settings(),
    )


@functools.cache
def tls_settings() -> ssl.SSLContext:
    """httpx's default TLS settings (certifi's CAs, or SSL_CERT_FILE), read once per process.

    Reading the CA bundle costs 30 ms of CPU, which a fresh client per submit,
    archive or check would otherwise pay every time; a context may be shared by
    any number of clients and threads.
    """
    return httpx.create_ssl_context()


def read_json(response: httpx.Response) -> dict:
    """The answer's JSON object, or a plain-words error if it is not one."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProviderError(
            ErrorKind.BAD_ANSWER, f"The provider answered HTTP {response.status_code} with something that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise ProviderError(ErrorKind.BAD_ANSWER, "The provider answered with JSON that is not an object")
    return body


def error_body(response: httpx.Response) -> dict:
    """An error answer's JSON object, or {} when it is not one (then only its status speaks)."""
    try:
        return read_json(response)
    except ProviderError:
        return {}


def retry_after_seconds(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def error_for_status(response: httpx.Response, message: str) -> ProviderError:
    """The common meaning of an HTTP error status; routes refine it where their docs say more."""
    code = response.status_code
    kind = {
        400: ErrorKind.VALIDATION,
        401: ErrorKind.AUTH,
        402: ErrorKind.WALLET,
        403: ErrorKind.AUTH,
        404: ErrorKind.NOT_FOUND,
        422: ErrorKind.VALIDATION,
        429: ErrorKind.RATE_LIMIT,
        451: ErrorKind.SAFETY,
    }.get(code, ErrorKind.OUTAGE if code >= 500 else ErrorKind.FAILED)
    default = {
        ErrorKind.AUTH: "The provider rejected the API key",
        ErrorKind.WALLET: "The provider account has no credit left",
        ErrorKind.SAFETY: "Blocked by the provider's safety filter",
        ErrorKind.RATE_LIMIT: "The provider is rate limiting this account",
        ErrorKind.OUTAGE: f"The provider had an internal error (HTTP {code})",
    }.get(kind, f"The provider refused the request (HTTP {code})")
    text = f"{default}: {message}" if message else default
    return ProviderError(kind, text, retry_after=retry_after_seconds(response), http_status=code)


# --- Reading poll answers: what most routes share --------------------------------


@dataclass(frozen=True)
class StatusWords:
    """A route's status strings for each of Dailies' phases (compared case-insensitively)."""

    queued: frozenset[str]
    running: frozenset[str]
    succeeded: frozenset[str]
    failed: frozenset[str]

    def phase(self, raw: str) -> Status | None:
        word = raw.lower()
        for status, words in (
            (Status.QUEUED, self.queued),
            (Status.RUNNING, self.running),
            (Status.SUCCEEDED, self.succeeded),
            (Status.FAILED, self.failed),
        ):
            if word in words:
                return status
        return None


def poll_report(
    phase: Status | None,
    *,
    raw_status: str,
    progress: int | None = None,
    video_url: str | None = None,
    audio_url: str | None = None,
    charged: Decimal | None = None,
    reason: str = "",
    safety: bool | None = None,
) -> Report:
    """One poll answer in route-neutral words, read the way every route's documentation implies.

    `reason` is the provider's own failure text; `safety` says whether the
    safety filter is the cause (by default: whether `reason` speaks of it). A
    success without a video is a result the filter removed when it is the
    cause (not billed), else a job that returned nothing, which the lifecycle
    records as possibly billed.
    """
    blocked = bool(SAFETY_WORDS.search(reason)) if safety is None else safety
    if phase in (Status.QUEUED, Status.RUNNING):
        return Report(phase, progress=progress, provider_status=raw_status)
    if phase == Status.SUCCEEDED:
        if not video_url and blocked:
            error = ProviderError(ErrorKind.SAFETY, f"The provider's safety filter removed the result: {reason}")
            return Report(Status.BLOCKED, error=error, provider_status=raw_status)
        return Report(
            Status.SUCCEEDED,
            progress=100,
            video_url=video_url or None,
            audio_url=audio_url if video_url else None,
            charged=charged,
            provider_status=raw_status,
        )
    if phase == Status.FAILED:
        reason = reason or "no reason given"
        if blocked:
            error = ProviderError(ErrorKind.SAFETY, f"Blocked by the provider's safety filter: {reason}")
            return Report(Status.BLOCKED, error=error, provider_status=raw_status)
        error = ProviderError(ErrorKind.FAILED, f"The provider could not render it: {reason}")
        return Report(Status.FAILED, error=error, provider_status=raw_status)
    raise ProviderError(ErrorKind.BAD_ANSWER, f"The provider reported an unknown status {raw_status!r}")


def error_message(body: dict) -> str:
    """The provider's own words in an error body: `error.message`, a string `error`, `message` or `detail`."""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    return str(error or body.get("message") or body.get("detail") or "")


def percent(value: object) -> int | None:
    """A progress figure (50, 50.0, "50" or "50%") as 0–100, or None when there is none to read."""
    if value is None or isinstance(value, bool):
        return None
    match = re.match(r"\s*(\d+(?:\.\d+)?)", str(value))
    return max(0, min(100, int(float(match.group(1))))) if match else None
