"""Route 2: the "OpenAI Video" protocol for veo3.1 (seed 002).

What its documentation states:
- Submit `POST {base}/v1/videos/generations` with `Authorization: Bearer KEY`
  and JSON `{model, prompt, duration_seconds, size, audio}`; the answer carries
  `task_id`. `source_image` makes it image-to-video.
- Models: `veo3.1` (native audio when `audio: true`) and `veo3.1-fast`, named
  as the variant to use "without audio".
- `duration_seconds` 5 or 10; `size` `1280x720` or `1920x1080`.
- Poll `GET {base}/v1/videos/tasks/{task_id}`; when ready it returns
  `result_url` (the MP4 with its audio layer) and `audio_url` (the audio track
  alone). "Poll pattern matches sora2": OpenAI-style `status`
  queued | in_progress | completed | failed, `progress` 0–100, and
  `error {code, message}` on failure.
- Price: $0.40 per second of generated footage on veo3.1; audio adds no
  separate line item on this tier; failures are not billed. No price is
  published for veo3.1-fast, so `prices.json` has no card for it.

What we assumed where it is silent:
- Sizes map our 720p → `1280x720` and 1080p → `1920x1080`. Only these two
  landscape sizes are listed, so the route offers 16:9 only.
- `source_image` has no documented format: we send a data URI (a URL would do
  too, by OpenAI convention), so no public address is needed. It is the first
  frame only; the route has no last frame and no reference images.
- No negative prompt and no seed are documented, so neither is sent (an
  OpenAI-style API refuses unknown fields); the model cards say so.
- veo3.1-fast takes no audio: we never send `audio: true` to it (the form
  refuses it first).
- HTTP errors are OpenAI-style `{"error": {"message", "type", "code"}}`:
  400 validation, 401/403 key, 402 wallet, 429 rate limit (with Retry-After;
  but code `insufficient_quota` is OpenAI's "out of credit", a wallet problem),
  5xx outage. A 400 whose code or message speaks of content policy or safety
  is a safety block.
- A `failed` status whose `error.code`/`message` speaks of content policy,
  safety or moderation is a safety block (not billed); other failures are
  plain failures (not billed, per the seed). `completed` with no `result_url`
  is a job that returned nothing (it may have billed) unless its `error` speaks
  of safety, then the result was filtered (not billed).
- The result URLs may need our key; nothing says. We send the key only when
  the URL is on the same origin (scheme, host and port) as the account's base
  URL, so it never leaks to a CDN or another host. Relative URLs are resolved
  against the base URL. We assume the links live 24 h.
- The receipt carries no price; the quote comes from our price card.
- Cadence: the seed points at sora2's pattern and gives no number. Veo renders
  take one to a few minutes, so we poll every 5 s for the first 3 minutes and
  every 10 s after; a slower account setting is honoured, a faster one is held
  at 2 s (the densest cadence any Veo route here documents) since no rate limit
  is published. Jobs still running after 30 minutes are ended as timed out.
- "Test connection" asks for a task id that cannot exist: 401/403 means the
  key is refused, anything else means it was accepted. It creates nothing.
"""

from __future__ import annotations

import dataclasses

import httpx
from django.views.decorators.debug import sensitive_variables

from studio.providers.base import (
    SAFETY_WORDS,
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
    bearer,
    error_body,
    error_for_status,
    percent,
    poll_report,
    read_json,
)

SIZES = {"720p": "1280x720", "1080p": "1920x1080"}
STATUSES = StatusWords(
    queued=frozenset({"queued", "pending"}),
    running=frozenset({"in_progress", "processing"}),
    succeeded=frozenset({"completed"}),
    failed=frozenset({"failed"}),
)

# What veo3.1 takes; veo3.1-fast is the same without audio.
_ANY = Capabilities(
    durations=(5, 10),
    resolutions=("720p", "1080p"),
    aspect_ratios=("16:9",),
    audio=True,
    negative_prompt=False,
    seed=False,
    first_frame=True,
)


class OpenAIVideo(Route):
    slug = "openai-video"
    name = "OpenAI-style video API"
    seed_note = "seed 002"
    default_base_url = "https://llm.bytespike.ai"
    models = {
        Tier.FAST: "veo3.1-fast",
        Tier.QUALITY: "veo3.1",
    }
    capabilities = {
        "veo3.1": _ANY,
        "veo3.1-fast": dataclasses.replace(_ANY, audio=False),
    }
    min_poll_interval_s = 2.0
    deadline_s = 30 * 60
    result_ttl_s = 24 * 3600

    @sensitive_variables()
    def key_headers(self, account) -> dict[str, str]:
        return bearer(account)

    @sensitive_variables()
    def submit(self, http: httpx.Client, account, request: VideoRequest) -> Receipt:
        body: dict = {
            "model": request.model,
            "prompt": request.prompt,
            "duration_seconds": request.duration_s,
            "size": SIZES.get(request.resolution, request.resolution),
            "audio": request.audio,
        }
        if request.first_frame:
            body["source_image"] = request.first_frame.data_uri
        response = http.post(
            f"{account.resolved_base_url}/v1/videos/generations",
            json=body,
            headers=self.headers(account),
        )
        answer = _answer(response)
        task_id = answer.get("task_id")
        if not task_id:
            if isinstance(answer.get("error"), dict):
                raise _refusal(answer["error"], http_status=response.status_code)
            raise ProviderError(ErrorKind.BAD_ANSWER, "The provider accepted the request but sent no task id")
        return Receipt(provider_task_id=str(task_id))

    @sensitive_variables()
    def poll(self, http: httpx.Client, account, provider_task_id: str) -> Report:
        response = http.get(
            f"{account.resolved_base_url}/v1/videos/tasks/{provider_task_id}",
            headers=self.headers(account),
        )
        answer = _answer(response)
        raw = str(answer.get("status", ""))
        error = found if isinstance(found := answer.get("error"), dict) else {}
        return poll_report(
            STATUSES.phase(raw),
            raw_status=raw,
            progress=percent(answer.get("progress")),
            video_url=absolute_url(account, answer.get("result_url")),
            audio_url=absolute_url(account, answer.get("audio_url")),
            reason=" ".join(str(error.get(k) or "") for k in ("code", "message")).strip(),
        )

    @sensitive_variables()
    def check_account(self, http: httpx.Client, account) -> None:
        response = http.get(
            f"{account.resolved_base_url}/v1/videos/tasks/dailies-connection-check",
            headers=self.headers(account),
        )
        if response.status_code in (401, 403) or response.status_code >= 500:
            raise _error_for(response)

    def poll_delay(self, *, model: str, elapsed_s: float, account=None) -> float:
        return 5.0 if elapsed_s < 180 else 10.0


def _answer(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise _error_for(response)
    return read_json(response)


def _error_for(response: httpx.Response) -> ProviderError:
    """An OpenAI-style HTTP error in plain words, refined by its `code`."""
    body = error_body(response)
    error = found if isinstance(found := body.get("error"), dict) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")
    if code == "insufficient_quota":
        return ProviderError(
            ErrorKind.WALLET,
            f"The provider account has no credit left: {message}",
            http_status=response.status_code,
        )
    if response.status_code == 400 and SAFETY_WORDS.search(f"{code} {message}"):
        return ProviderError(
            ErrorKind.SAFETY,
            f"Blocked by the provider's safety filter: {message}",
            http_status=response.status_code,
        )
    return error_for_status(response, message)


def _refusal(error: dict, *, http_status: int) -> ProviderError:
    """An error object in an HTTP 200 answer (not documented; handled like a 400)."""
    message = str(error.get("message") or "no reason given")
    if SAFETY_WORDS.search(f"{error.get('code') or ''} {message}"):
        return ProviderError(
            ErrorKind.SAFETY,
            f"Blocked by the provider's safety filter: {message}",
            http_status=http_status,
        )
    return ProviderError(
        ErrorKind.VALIDATION,
        f"The provider refused the settings: {message}",
        http_status=http_status,
    )
