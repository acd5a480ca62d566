"""Route 1: the "tasks API" gateway (seeds 000 and 001, llm.bytespike.ai).

What its documentation states:
- Submit `POST {base}/v1/tasks/submit` with header `x-api-key: KEY` and a
  JSON body: `model` (`veo-3.1` | `veo-3.1-fast`), `prompt`,
  `duration_seconds` (integer, required; veo-3.1 1–8, fast 1–5), `resolution`
  (veo-3.1 720p|1080p, default 1080p; fast 720p only), `aspect_ratio`
  (16:9 default, 9:16, 1:1), `seed` (integer), `image_init` (URL of an
  init image).
- The receipt is `{task_id, status: "queued", estimated_credits, submitted_at}`.
- A finished task reads `{task_id, status: "completed", result: {video_url,
  duration_seconds, resolution}, credits}`. `video_url` is pre-signed and
  expires after 24 h.
- Recommended cadence: veo-3.1 every 2 s for the first 60 s, then every 5 s
  up to 180 s; veo-3.1-fast every 1 s for the first 30 s, then every 2 s up
  to 60 s. Polling is free. Typical latency 60–120 s (5 s clip) and 20–40 s
  (fast, 4 s clip).
- Errors: 400 validation (duration > 8, unsupported resolution), 401 / 402 /
  403 auth / wallet / scope, 451 prompt blocked by upstream safety, 5xx
  upstream. None of them is billed.
- Pricing is "per second (live rate)" with no figure: `prices.json` has no card, and
  the receipt's `estimated_credits` is the only quote this route gives.

What we assumed where it is silent:
- The poll path is not documented. We use `GET {base}/v1/tasks/{task_id}`
  with the same header; an account can change it with
  `options["poll_path"]`, a template such as "/v1/tasks/{task_id}".
- Only "queued" and "completed" are documented. "pending"/"submitted" read
  as queued, "running"/"processing"/"in_progress" as rendering,
  "failed"/"error" as a failure with whatever message comes with it (a
  message that speaks of safety, policy or moderation is a safety block, not
  billed); any other status is an answer we cannot read.
- "completed" with no `video_url` is a job that returned nothing (it may have
  been billed), unless its message speaks of safety: then the result was
  filtered (not billed).
- Credits are US dollars: `estimated_credits` becomes the receipt's quote and
  `credits` the recorded charge.
- The error body's shape is not documented: we read `error.message`, a
  string `error`, `message` or `detail`, whichever is there.
- A 451 at submit is a safety refusal (`ErrorKind.SAFETY`): the task ends
  Blocked, as a block reported by a poll does, with nothing billed.
- The first frame goes as `image_init`, a URL the provider fetches, so this
  route needs an instance with a public address for image-to-video. No last
  frame, no reference images, no audio and no negative prompt exist here:
  the capabilities say so and the adapter never sends them.
- `seed` and `resolution`/`aspect_ratio` are always sent explicitly, so the
  route's defaults never decide for us (the seed is only sent when set).
- After the documented window we keep polling at the last interval, growing
  ×1.5 for each further minute, capped at 30 s; a job is given up after
  30 minutes (never resubmitted).
- The pre-signed `video_url` is fetched without our key: a signed link needs
  none, and the key must never reach a CDN.
- "Test connection" asks for a task id that cannot exist: 401/403 mean the
  key is refused, anything else that it was accepted. It creates nothing.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation

import httpx
from django.views.decorators.debug import sensitive_variables

from studio.providers.base import (
    Capabilities,
    ErrorKind,
    ProviderError,
    Receipt,
    Report,
    Route,
    StatusWords,
    Tier,
    VideoRequest,
    absolute_url,
    error_body,
    error_for_status,
    error_message,
    percent,
    poll_report,
    read_json,
)

DEFAULT_POLL_PATH = "/v1/tasks/{task_id}"

# The seeds' recommended cadence: (poll until this many seconds, every so many seconds).
CADENCE = {
    "veo-3.1": ((60.0, 2.0), (180.0, 5.0)),
    "veo-3.1-fast": ((30.0, 1.0), (60.0, 2.0)),
}
BACKOFF = 1.5
MAX_POLL_INTERVAL_S = 30.0

STATUSES = StatusWords(
    queued=frozenset({"queued", "pending", "submitted"}),
    running=frozenset({"running", "processing", "in_progress"}),
    succeeded=frozenset({"completed", "succeeded", "success"}),
    failed=frozenset({"failed", "error"}),
)


# What veo-3.1 takes; veo-3.1-fast is the same with shorter clips, at 720p only.
_ANY = Capabilities(
    durations=tuple(range(1, 9)),
    resolutions=("720p", "1080p"),
    aspect_ratios=("16:9", "9:16", "1:1"),
    audio=False,
    negative_prompt=False,
    seed=True,
    first_frame=True,
    images_by_url=True,
)


class TasksApi(Route):
    slug = "tasks-api"
    name = "Veo tasks API"
    seed_note = "seeds 000/001"
    default_base_url = "https://llm.bytespike.ai"
    models = {
        Tier.FAST: "veo-3.1-fast",
        Tier.QUALITY: "veo-3.1",
    }
    capabilities = {
        "veo-3.1": _ANY,
        "veo-3.1-fast": dataclasses.replace(_ANY, durations=tuple(range(1, 6)), resolutions=("720p",)),
    }
    min_poll_interval_s = 1.0
    deadline_s = 30 * 60
    result_ttl_s = 24 * 3600

    @sensitive_variables()
    def key_headers(self, account) -> dict[str, str]:
        return {"x-api-key": account.api_key}

    def _task_url(self, account, task_id: str) -> str:
        template = account.options.get("poll_path") or DEFAULT_POLL_PATH
        return account.resolved_base_url + "/" + template.replace("{task_id}", task_id).lstrip("/")

    @sensitive_variables()
    def submit(self, http: httpx.Client, account, request: VideoRequest) -> Receipt:
        body: dict = {
            "model": request.model,
            "prompt": request.prompt,
            "duration_seconds": request.duration_s,
            "resolution": request.resolution,
            "aspect_ratio": request.aspect_ratio,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.first_frame:
            body["image_init"] = request.first_frame.url
        response = http.post(f"{account.resolved_base_url}/v1/tasks/submit", json=body, headers=self.headers(account))
        answer = self._answer(response)
        task_id = answer.get("task_id")
        if not task_id:
            raise ProviderError(ErrorKind.BAD_ANSWER, "The provider accepted the request but sent no task id")
        return Receipt(provider_task_id=str(task_id), estimated_cost=_dollars(answer.get("estimated_credits")))

    @sensitive_variables()
    def poll(self, http: httpx.Client, account, provider_task_id: str) -> Report:
        response = http.get(self._task_url(account, provider_task_id), headers=self.headers(account))
        answer = self._answer(response)
        raw = str(answer.get("status", ""))
        result = found if isinstance(found := answer.get("result"), dict) else {}
        url = absolute_url(account, result.get("video_url"))
        return poll_report(
            STATUSES.phase(raw),
            raw_status=raw,
            progress=percent(answer.get("progress")),
            video_url=url,
            charged=_dollars(answer.get("credits")),
            reason=error_message(answer),
        )

    @sensitive_variables()
    def download_request(self, account, provider_task_id: str, url: str) -> tuple[str, dict[str, str]]:
        # Pre-signed: the link carries its own permission, and our key stays with us.
        return url, {}

    @sensitive_variables()
    def check_account(self, http: httpx.Client, account) -> None:
        url = self._task_url(account, "task_dailies_connection_check")
        response = http.get(url, headers=self.headers(account))
        if response.status_code in (401, 403) or response.status_code >= 500:
            raise self._error(response)

    def poll_delay(self, *, model: str, elapsed_s: float, account=None) -> float:
        steps = CADENCE.get(model, CADENCE["veo-3.1"])
        for until, every in steps:
            if elapsed_s < until:
                return every
        window_end, last_every = steps[-1]
        minutes_past = int((elapsed_s - window_end) // 60) + 1
        return min(MAX_POLL_INTERVAL_S, last_every * BACKOFF**minutes_past)

    def _answer(self, response: httpx.Response) -> dict:
        if response.status_code >= 400:
            raise self._error(response)
        return read_json(response)

    def _error(self, response: httpx.Response) -> ProviderError:
        message = error_message(error_body(response))
        if response.status_code == 403:
            # The seed lists 403 as "scope": the key is known but may not do this.
            text = "The API key is not allowed to do this (scope)"
            return ProviderError(ErrorKind.AUTH, f"{text}: {message}" if message else text, http_status=403)
        return error_for_status(response, message)


def _dollars(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
