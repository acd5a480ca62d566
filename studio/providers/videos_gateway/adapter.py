"""Route 4: the OpenAI-compatible `/v1/videos` gateway (seed 004).

What its documentation states:
- Submit `POST {base}/v1/videos` with `Authorization: Bearer KEY`. Models
  `veo-3.1-generate-preview` (quality, audio, up to 4k),
  `veo-3.1-fast-generate-preview` and `veo-3.1-lite-generate-preview` (no 4k).
  `resolution` 720p|1080p|4k, and 1080p/4k take 8 s only; `duration` 4|6|8;
  `aspect_ratio` 16:9|9:16; `generate_audio` is off unless set; optional
  `negative_prompt`, `seed` (0…2^32−1, best effort), `person_generation`
  (allow_all, allow_adult, disallow) and `enhance_prompt` (off unless set), both
  from the editor, the people setting else from the account's options.
- The receipt is top-level JSON `{id, task_id, object, model, status, progress,
  created_at}`. Business failures come back as HTTP 200 carrying
  `{"error": {"message", "type", "code"}}` instead: we check `error` first.
- Poll `GET {base}/v1/videos/{task_id}`: `status` SUBMITTED|QUEUED|IN_PROGRESS|
  SUCCESS|FAILURE (lower-case OpenAI-style statuses are accepted too),
  `progress` as "50%", `result_url` of the form `/v1/videos/{id}/content`,
  `fail_reason` on failure.
- Download `GET {base}/v1/videos/{task_id}/content` with the same auth; Range
  is supported.
- Poll every 10–15 s, never below 5 s. Creation is not idempotent.

What we assumed where it is silent:
- We send `resolution` and `duration` (the first of each documented alias pair).
- A `fail_reason` that speaks of safety, policy, moderation or RAI filtering
  is a safety block (not billed); any other failure is a plain failure.
- Error `code`/`type` values are not listed: codes mentioning auth/key are
  auth, quota/balance/credit are wallet, rate are rate limits, safety/policy
  are safety blocks, anything else is a validation refusal.
- A relative `result_url` is resolved against the account's base URL. SUCCESS
  without one is a job that returned nothing (it may have been billed), unless
  its `fail_reason` speaks of safety: then the result was filtered (not billed).
- The receipt carries no price; the quote comes from our price card.
- Images go as data URIs (the seed accepts URL, data URI or raw base64), so
  no public address is needed: `image` is the first frame, `lastFrameImage`
  the last, `input_reference` one reference image (the seed names a single
  string, so we offer one). Reference images follow Veo's own rule from
  Google's API (8 s, 16:9), which the seed does not restate.
- "Test connection" asks for a task id that cannot exist: 401 means the key
  is refused, anything else means it was accepted. It creates nothing.
"""

from __future__ import annotations

import re

import httpx
from django.views.decorators.debug import sensitive_variables

from studio.providers.base import (
    SAFETY_WORDS,
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
    error_message,
    percent,
    poll_report,
    read_json,
    veo_capabilities,
)

STATUSES = StatusWords(
    queued=frozenset({"submitted", "queued", "pending"}),
    running=frozenset({"in_progress"}),
    succeeded=frozenset({"success", "completed"}),
    failed=frozenset({"failure", "failed"}),
)
WHERE = "this route"

# Veo's own limits, with one reference image (the seed names a single string).
# Seed 004 documents person_generation (allow_all, allow_adult, disallow) and enhance_prompt (off unless set).
_PEOPLE = ("allow_all", "allow_adult", "dont_allow")
_VEO = veo_capabilities(where=WHERE, max_references=1, people=_PEOPLE, enhance_prompt=True)


class VideosGateway(Route):
    slug = "videos-gateway"
    name = "Video gateway"
    seed_note = "seed 004"
    default_base_url = ""  # self-hosted or resold: every account names its own
    models = {
        Tier.LITE: "veo-3.1-lite-generate-preview",
        Tier.FAST: "veo-3.1-fast-generate-preview",
        Tier.QUALITY: "veo-3.1-generate-preview",
    }
    capabilities = {
        "veo-3.1-generate-preview": _VEO,
        "veo-3.1-fast-generate-preview": _VEO,
        "veo-3.1-lite-generate-preview": veo_capabilities(
            where=WHERE, lite=True, max_references=1, people=_PEOPLE, enhance_prompt=True
        ),
    }
    min_poll_interval_s = 5.0
    deadline_s = 20 * 60

    @sensitive_variables()
    def key_headers(self, account) -> dict[str, str]:
        return bearer(account)

    @sensitive_variables()
    def submit(self, http: httpx.Client, account, request: VideoRequest) -> Receipt:
        body: dict = {
            "model": request.model,
            "prompt": request.prompt,
            "resolution": request.resolution,
            "duration": request.duration_s,
            "aspect_ratio": request.aspect_ratio,
            "generate_audio": request.audio,
        }
        if request.negative_prompt:
            body["negative_prompt"] = request.negative_prompt
        if request.seed is not None:
            body["seed"] = request.seed
        # The editor's choice first (Google's words; this gateway says "disallow"), else the account's option.
        if person := request.people or account.options.get("person_generation"):
            body["person_generation"] = {"dont_allow": "disallow"}.get(person, person)
        if request.enhance_prompt is not None:
            body["enhance_prompt"] = request.enhance_prompt
        if request.first_frame:
            body["image"] = request.first_frame.data_uri
        if request.last_frame:
            body["lastFrameImage"] = request.last_frame.data_uri
        if request.references:
            body["input_reference"] = request.references[0].data_uri
        response = http.post(f"{account.resolved_base_url}/v1/videos", json=body, headers=self.headers(account))
        answer = self._answer(response)
        task_id = answer.get("task_id") or answer.get("id")
        if not task_id:
            raise ProviderError(ErrorKind.BAD_ANSWER, "The provider accepted the request but sent no task id")
        return Receipt(provider_task_id=str(task_id))

    @sensitive_variables()
    def poll(self, http: httpx.Client, account, provider_task_id: str) -> Report:
        response = http.get(f"{account.resolved_base_url}/v1/videos/{provider_task_id}", headers=self.headers(account))
        answer = self._answer(response)
        raw = str(answer.get("status", ""))
        url = absolute_url(account, answer.get("result_url"))
        return poll_report(
            STATUSES.phase(raw),
            raw_status=raw,
            progress=percent(answer.get("progress")),
            video_url=url,
            reason=str(answer.get("fail_reason") or answer.get("error") or ""),
        )

    @sensitive_variables()
    def check_account(self, http: httpx.Client, account) -> None:
        response = http.get(
            f"{account.resolved_base_url}/v1/videos/dailies-connection-check", headers=self.headers(account)
        )
        if response.status_code in (401, 403):
            raise error_for_status(response, "")
        if response.status_code >= 500:
            raise error_for_status(response, "")

    def poll_delay(self, *, model: str, elapsed_s: float, account=None) -> float:
        return 10.0

    def _answer(self, response: httpx.Response) -> dict:
        """The JSON body, or the error it carries (HTTP 200 error objects included)."""
        if response.status_code >= 400:
            raise error_for_status(response, error_message(error_body(response)))
        answer = read_json(response)
        if isinstance(answer.get("error"), dict):
            raise _business_error(answer["error"])
        return answer


def _business_error(error: dict) -> ProviderError:
    label = f"{error.get('code') or ''} {error.get('type') or ''}".lower()
    message = str(error.get("message") or "no reason given")
    if re.search(r"auth|api.?key|permission|unauthori", label):
        return ProviderError(ErrorKind.AUTH, f"The provider rejected the API key: {message}")
    if re.search(r"quota|balance|credit|insufficient|payment", label):
        return ProviderError(ErrorKind.WALLET, f"The provider account has no credit left: {message}")
    if "rate" in label:
        return ProviderError(ErrorKind.RATE_LIMIT, f"The provider is rate limiting this account: {message}")
    if SAFETY_WORDS.search(label):
        return ProviderError(ErrorKind.SAFETY, f"Blocked by the provider's safety filter: {message}")
    return ProviderError(ErrorKind.VALIDATION, f"The provider refused the settings: {message}")
