"""Route 3: the generateTask / statusTask aggregator (seed 003).

What its documentation states:
- Submit `POST {base}/api/v1/generateTask/veo-3-1` with an API key "in the
  header". Body: `request_type` (`async` polling or `callback` webhook),
  `callback_url` (required for callback), `provider` (routing: `auto`, `value`
  or `official`; default `auto`) and `input` {`generationType`, `mode`,
  `prompt`, `aspect_ratio`, `image_urls`, `seed`}.
- `generationType`: `TEXT_2_VIDEO`; `FIRST_AND_LAST_FRAMES_2_VIDEO` (needs
  `image_urls`, at most 2); `REFERENCE_2_VIDEO` (`image_urls`, at most 3, only
  with `mode: fast` and `aspect_ratio: 16:9`). `mode`: `quality` | `fast`.
  Images are JPG, PNG or WebP, at most 10 MB each, fetched by the provider.
- The receipt is `{"code":200,"message":"success","data":{"taskId":"task_…"}}`.
  Errors: 400 invalid parameters, 401 invalid or missing key, 429 rate limit
  ("wait and retry"; 10,000 requests/min, 1,000 concurrent tasks).
- Poll `GET {base}/api/v1/statusTask/veo-3-1?taskId=…`: `data` = {taskId,
  state pending|processing|success|failed, resultJson, failCode, failMsg,
  createTime, completeTime, costTime} (times in ms). `resultJson` is a JSON
  *string* holding `{"resultUrls": […]}`. failCodes: `CONTENT_VIOLATION`,
  `INVALID_IMAGE_URL`.
- A callback POSTs the poll answer's envelope to `callback_url`; callback
  mode is "strongly recommended". Average render ~2 min: "submit, wait 90 s,
  then poll every 5 s". Result URLs are valid for 15 days.

What we assumed where it is silent:
- Auth: the seed does not name the header; the provider's public docs use
  `Authorization: Bearer KEY`, so we send that.
- No public address is given: every account names its own base URL.
- Model ids are ours: `veo-3-1/fast` (fast tier) and `veo-3-1/quality`
  (quality tier); the part after the slash is the `mode` we send. No lite.
- Durations, resolutions and audio are not documented and no field sets them.
  We assume Veo 3.1's 8 s at 720p (see `ASSUMED_*` below, the one place to
  change) and Veo's native audio on every clip: audio is offered, no audio
  field is sent, and a silent draft may come back with sound. No negative
  prompt is documented, so none is offered.
- `aspect_ratio` also takes `auto`; our form does not offer it.
- `generationType` follows the images: references → REFERENCE_2_VIDEO, a
  first (and optional last) frame → FIRST_AND_LAST_FRAMES_2_VIDEO, none →
  TEXT_2_VIDEO. References cannot be mixed with frames in one request.
- `provider` comes from `account.options["provider"]` (default `auto`);
  `request_type` from `account.options["request_type"]` (default `callback`,
  as the seed recommends). A task is sent as `callback` only when the
  lifecycle gave it a callback URL; otherwise `async`.
- The answer's `code` is checked as well as the HTTP status: a body whose
  `code` is not 200 is an error even on HTTP 200, read as if it were that
  HTTP status. 429 without Retry-After waits 60 s.
- A `state: failed` poll (or callback) carries `code: 200`. `CONTENT_VIOLATION`
  is a safety block (not billed). `INVALID_IMAGE_URL` is a refusal of our
  input in plain words. Any other failCode is a plain failure.
- `success` with no `resultUrls` is a job that returned nothing (it may have
  billed). `success` that also carries failCode `CONTENT_VIOLATION` is a
  result removed by the safety filter (not billed). A `resultJson` that is
  already an object is read too; one that is not JSON is a bad answer.
- Unknown task ids are not documented; we read HTTP 404 as "not found".
- No charges are reported and no prices are published: `prices.json` has no card.
- Result URLs need no key. We send ours only to the base URL's own origin,
  never to another host (a CDN).
- Cadence: async mode waits 90 s, then polls every 5 s. In callback mode
  polls are only a safety net: first at 90 s, then every 60 s.
  `account.options["first_poll_s"]` shortens (or lengthens) the first wait for
  self-hosted or simulated accounts; it never goes below the 5 s minimum.
  Both need the account, so `poll_delay` takes it as an optional keyword; a
  caller that does not pass it gets the documented async cadence.
- "Test connection" asks for a task id that cannot exist: 401/403 means the
  key is refused, anything else means it was accepted. It creates nothing.
"""

from __future__ import annotations

import json

import httpx
from django.views.decorators.debug import sensitive_variables

from studio.providers.base import (
    Capabilities,
    ErrorKind,
    ProviderError,
    Receipt,
    Report,
    Route,
    Status,
    StatusWords,
    Tier,
    VideoRequest,
    bearer,
    error_body,
    error_for_status,
    poll_report,
    read_json,
)

STATUSES = StatusWords(
    queued=frozenset({"pending"}),
    running=frozenset({"processing"}),
    succeeded=frozenset({"success"}),
    failed=frozenset({"failed"}),
)
FAST = "veo-3-1/fast"
QUALITY = "veo-3-1/quality"
# Not documented by the route: Veo 3.1's own 8 s clips at 720p (assumed).
ASSUMED_DURATIONS = (8,)
ASSUMED_RESOLUTIONS = ("720p",)

PROVIDERS = ("auto", "value", "official")
FIRST_POLL_S = 90.0
POLL_EVERY_S = 5.0
CALLBACK_SAFETY_NET_S = 60.0
RATE_LIMIT_WAIT_S = 60.0
CONNECTION_CHECK_ID = "dailies-connection-check"

_REFERENCE_RULE = "Reference images need the fast mode and 16:9 on this route."


def _reference_rule(request: VideoRequest) -> dict[str, str]:
    if not request.references:
        return {}
    if request.first_frame or request.last_frame:
        return {"references": "Reference images cannot be combined with a first or last frame on this route."}
    if request.model != FAST or request.aspect_ratio != "16:9":
        return {"references": _REFERENCE_RULE}
    return {}


_VEO = Capabilities(
    durations=ASSUMED_DURATIONS,
    resolutions=ASSUMED_RESOLUTIONS,
    aspect_ratios=("16:9", "9:16"),
    audio=True,
    seed=True,
    first_frame=True,
    last_frame=True,
    # Quality refuses references through the check, in the route's own words.
    max_references=3,
    images_by_url=True,
    check=_reference_rule,
)


class Aggregator(Route):
    slug = "aggregator"
    name = "Multi-provider aggregator"
    seed_note = "seed 003"
    default_base_url = ""  # the seed gives no address: every account names its own
    models = {Tier.FAST: FAST, Tier.QUALITY: QUALITY}
    capabilities = {FAST: _VEO, QUALITY: _VEO}
    min_poll_interval_s = POLL_EVERY_S
    result_ttl_s = 15 * 24 * 3600

    @sensitive_variables()
    def key_headers(self, account) -> dict[str, str]:
        return bearer(account)

    def uses_callbacks(self, account) -> bool:
        return account.options.get("request_type", "callback") == "callback"

    @sensitive_variables()
    def submit(self, http: httpx.Client, account, request: VideoRequest) -> Receipt:
        provider = account.options.get("provider", "auto")
        if provider not in PROVIDERS:
            raise ProviderError(
                ErrorKind.VALIDATION,
                f"This account's provider option is {provider!r}; it must be auto, value or official",
            )
        body: dict = {"request_type": "callback" if request.callback_url else "async"}
        if request.callback_url:
            body["callback_url"] = request.callback_url
        body["provider"] = provider
        body["input"] = video_input(request)
        response = http.post(
            f"{account.resolved_base_url}/api/v1/generateTask/veo-3-1", json=body, headers=self.headers(account)
        )
        data = self._data(response)
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not task_id:
            raise ProviderError(ErrorKind.BAD_ANSWER, "The provider accepted the request but sent no task id")
        return Receipt(provider_task_id=str(task_id))

    @sensitive_variables()
    def poll(self, http: httpx.Client, account, provider_task_id: str) -> Report:
        response = http.get(
            f"{account.resolved_base_url}/api/v1/statusTask/veo-3-1",
            params={"taskId": provider_task_id},
            headers=self.headers(account),
        )
        return report_from(self._data(response))

    def parse_callback(self, body: bytes) -> tuple[str, Report]:
        try:
            envelope = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProviderError(ErrorKind.BAD_ANSWER, "The callback is not JSON") from None
        if not isinstance(envelope, dict):
            raise ProviderError(ErrorKind.BAD_ANSWER, "The callback is not a JSON object")
        _raise_for_code(envelope)
        data = envelope.get("data")
        if not isinstance(data, dict) or not data.get("taskId"):
            raise ProviderError(ErrorKind.BAD_ANSWER, "The callback names no task")
        return str(data["taskId"]), report_from(data)

    @sensitive_variables()
    def check_account(self, http: httpx.Client, account) -> None:
        response = http.get(
            f"{account.resolved_base_url}/api/v1/statusTask/veo-3-1",
            params={"taskId": CONNECTION_CHECK_ID},
            headers=self.headers(account),
        )
        if response.status_code in (401, 403) or response.status_code >= 500:
            raise error_for_status(response, _message(response))
        try:
            code = read_json(response).get("code")
        except ProviderError:
            return
        if code in (401, 403):
            _raise_for_code({"code": code, "message": _message(response)})

    def poll_delay(self, *, model: str, elapsed_s: float, account=None) -> float:
        first = max(self.min_poll_interval_s, _first_poll_s(account))
        if elapsed_s < first:
            return max(self.min_poll_interval_s, first - elapsed_s)
        if account is not None and self.uses_callbacks(account):
            return CALLBACK_SAFETY_NET_S
        return POLL_EVERY_S

    def _data(self, response: httpx.Response):
        """The envelope's `data`, or the error the answer carries (HTTP status or body code)."""
        if response.status_code >= 400:
            raise _with_wait(error_for_status(response, _message(response)))
        envelope = read_json(response)
        _raise_for_code(envelope, headers=response.headers)
        return envelope.get("data")


def _first_poll_s(account) -> float:
    """The documented 90 s, or the account's own `first_poll_s` (self-hosted or simulated accounts)."""
    raw = account.options.get("first_poll_s") if account is not None else None
    try:
        return float(raw) if raw is not None else FIRST_POLL_S
    except (TypeError, ValueError):
        return FIRST_POLL_S


def video_input(request: VideoRequest) -> dict:
    """The `input` object: the generation type follows the images given."""
    if request.references:
        kind, images = "REFERENCE_2_VIDEO", list(request.references)
    elif request.first_frame:
        kind, images = "FIRST_AND_LAST_FRAMES_2_VIDEO", [request.first_frame]
        if request.last_frame:
            images.append(request.last_frame)
    else:
        kind, images = "TEXT_2_VIDEO", []
    if any(image.url is None for image in images):
        raise ProviderError(
            ErrorKind.VALIDATION, "This route fetches images by URL, and an image has no public address"
        )
    body: dict = {
        "generationType": kind,
        "mode": request.model.rpartition("/")[2],
        "prompt": request.prompt,
        "aspect_ratio": request.aspect_ratio,
    }
    if images:
        body["image_urls"] = [image.url for image in images]
    if request.seed is not None:
        body["seed"] = request.seed
    return body


def report_from(data) -> Report:
    """A status `data` object (from a poll or a callback) in route-neutral words."""
    if not isinstance(data, dict):
        raise ProviderError(ErrorKind.BAD_ANSWER, "The provider's status answer carries no data")
    state = str(data.get("state") or "")
    fail_code = str(data.get("failCode") or "")
    reason = str(data.get("failMsg") or "")
    phase = STATUSES.phase(state)
    if phase == Status.FAILED and fail_code == "INVALID_IMAGE_URL":
        error = ProviderError(
            ErrorKind.VALIDATION,
            f"The provider could not fetch an input image (it takes public JPG, PNG or WebP links "
            f"of at most 10 MB): {reason or 'no reason given'}",
        )
        return Report(Status.FAILED, error=error, provider_status=state)
    urls = _result_urls(data.get("resultJson")) if phase == Status.SUCCEEDED else []
    if phase == Status.FAILED and fail_code and fail_code != "CONTENT_VIOLATION":
        reason = f"{reason or 'no reason given'} ({fail_code})"
    return poll_report(
        phase,
        raw_status=state,
        video_url=urls[0] if urls else None,
        reason=reason or fail_code,
        # The seed names the cause by failCode, not in words.
        safety=fail_code == "CONTENT_VIOLATION",
    )


def _result_urls(raw) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ProviderError(ErrorKind.BAD_ANSWER, "The provider's resultJson is not JSON") from None
    urls = raw.get("resultUrls") if isinstance(raw, dict) else None
    if urls is None:
        return []
    if not isinstance(urls, list):
        raise ProviderError(ErrorKind.BAD_ANSWER, "The provider's resultUrls is not a list")
    return [str(url) for url in urls if url]


def _raise_for_code(envelope: dict, *, headers=None) -> None:
    """A body `code` other than 200 is an error even on HTTP 200, read as the status it names."""
    code = envelope.get("code", 200)
    if code == 200:
        return
    try:
        status = int(code)
    except (TypeError, ValueError):
        raise ProviderError(ErrorKind.BAD_ANSWER, f"The provider answered with an unknown code {code!r}") from None
    message = str(envelope.get("message") or "")
    raise _with_wait(error_for_status(httpx.Response(status, headers=headers), message))


def _with_wait(error: ProviderError) -> ProviderError:
    # "Wait and retry", for how long the seed does not say.
    if error.kind == ErrorKind.RATE_LIMIT and error.retry_after is None:
        error.retry_after = RATE_LIMIT_WAIT_S
    return error


def _message(response: httpx.Response) -> str:
    return str(error_body(response).get("message") or "")
