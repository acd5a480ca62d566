"""Route 5: Google's own Gemini API (`generativelanguage.googleapis.com`).

No seed covers this route; PROVIDERS.md ("Route 5") is the source.

What its documentation states:
- Submit `POST {base}/v1beta/models/{model}:predictLongRunning` with the
  header `x-goog-api-key: KEY` and `{"instances": [{"prompt", "image",
  "lastFrame", "referenceImages"}], "parameters": {"aspectRatio",
  "resolution", "durationSeconds", "negativePrompt", "personGeneration",
  "enhancePrompt", "sampleCount"}}`. Images travel inline as
  `{"bytesBase64Encoded", "mimeType"}`; reference images as `{"image": {…},
  "referenceType": "asset"}` (Google's SDK sends the enum's name, "ASSET").
- Models: the GA ids `veo-3.1-generate-001`, `veo-3.1-fast-generate-001` and
  `veo-3.1-lite-generate-001` by default. The preview ids
  (`veo-3.1-*-generate-preview`) were reported shut down on 2026-10-22: a submit
  on one answers 404 "… is no longer available", which ends the task as
  Failed (not billed) with a retired-model error and marks the model gone on
  the account, so the editor refuses it until an owner picks another id. The
  preview ids stay listed (`retired_models`) so an account still naming one
  explains itself. Each account may name its own id per tier
  (`ProviderAccount.model_ids`). Audio is always generated: there is no switch for it, so a "silent"
  draft on this route still has a sound track, and its Clip says
  `has_audio=True`.
- Limits: 16:9 or 9:16; 720p, 1080p or 4k (lite: no 4k), and 1080p/4k need
  8 s; 4, 6 or 8 s; at most 3 reference images, which need 8 s and 16:9.
- The answer is a long-running operation `{"name": "models/…/operations/ID"}`;
  poll `GET {base}/v1beta/{name}` until `done`. Done carries
  `response.generateVideoResponse.generatedSamples[].video`, each with a
  `uri` or the video inline as `encodedVideo` (base64) with its `encoding`
  (how google-genai 2.x reads this route's answer), or
  `raiMediaFilteredCount`/`raiMediaFilteredReasons` and no samples when the
  safety filter removed the video (not billed), or `error {code, message}`.
- HTTP errors are `{"error": {"code", "message", "status"}}`: 400
  INVALID_ARGUMENT, 403 PERMISSION_DENIED, 404 NOT_FOUND, 429
  RESOURCE_EXHAUSTED, 500/503.
- Download `GET {uri}` with the key, following redirects. Videos are kept
  2 days. Poll every 10 s; a render takes 11 s to 6 min.

What we assumed where it is silent:
- We send the key as `x-goog-api-key` on submit and poll. For the download we
  put it in the file URL as `?key=` (Google accepts either), and only when
  the file's origin is the account's base origin. The file endpoint redirects
  to a signed location, and httpx keeps custom headers on a cross-origin
  redirect (it drops only `Authorization`), so a header would hand the key to
  whatever host the redirect names; a query parameter stays on the URL it was
  put on. A file URL on any other origin is fetched without the key. (httpx
  logs URLs at INFO; settings keep its logger at WARNING for this reason.)
- No `seed` is sent: PROVIDERS.md's parameter list for this route has none,
  and Google's own SDK (google-genai 2.x, `_GenerateVideosConfig_to_mldev`)
  refuses `seed` in Gemini API mode ("only supported in Gemini Enterprise
  Agent Platform mode"). The capabilities say `seed=False`, so the editor
  offers no seed field on this route; a seed a task still carries (a
  variation's, or one recalled from another route) is not sent.
- `enhancePrompt` is the editor's "Prompt rewriting" (sent only when chosen).
  People are not offered in the editor: Google documents `allow_all` for
  text-to-video and `allow_adult` for image-to-video on Veo 3.1, one value
  each, and a forum report shows even that refused at times.
- `personGeneration` comes from the account's `options["person_generation"]`
  and is passed through; route 4's word `disallow` is translated to Google's
  `dont_allow`. Google's own per-mode rules for it come back as a 400 in
  Google's words.
- We never send a `generateAudio` field (the Gemini API has none for Veo).
- `sampleCount` is 1, or up to 4 when variations are drawn in one request:
  each sample with a video is its own task's clip, in the order Google lists
  them, each billed as a clip. Samples the safety filter removed are missing
  (`raiMediaFilteredCount`): the clips left without one are blocked, not billed.
- An inline sample (`encodedVideo`, or `bytesBase64Encoded` as Google Cloud
  spells it) is reported as a `data:` URL holding the bytes; the archive
  decodes it into the same download file and stores it through the same
  checks (size, sha256, PyAV probe, poster) as a fetched one. No key is
  involved. The bytes wait in the task's `video_url` (a text column) until the
  archive takes them: about 1.33 times the clip's size, for a few seconds.
- A file URI is read the way google-genai's `files.download` reads it
  (`t_file_name`): the file id after `files/`, fetched from the account's own
  base URL as `{base}/v1beta/files/{id}:download?alt=media`. We do so only
  when the URI names the account's own host and port (whatever its scheme),
  so a URI saying `http://` never makes the key travel unencrypted, and the
  simulator's `https://` URIs work on a plain-http loopback address.
- The operation has no documented progress or queue states, so an operation
  that is not done is "running" with no progress. Google's JSON omits false
  booleans, so a missing `done` means not done.
- A done operation with neither samples nor RAI fields nor an error is a job
  that returned nothing (it may have billed). A done operation with an
  `error` is a plain failure (not billed).
- 400 INVALID_ARGUMENT is a refused setting, except Google's "API key not
  valid" (ErrorInfo reason `API_KEY_INVALID`), which is a refused key; 401 and
  403 are refused keys. A 429 is a rate limit: we wait what `Retry-After`
  says, else the `RetryInfo.retryDelay` in the error details, else 60 s.
- The operation carries no price, so the quote comes from our price card.
- "Test connection" polls an operation that cannot exist: a refused key is
  named as such, a 404 means the key works. It creates nothing.
- Reference images are offered on all three models with the same rules; the
  documentation states no difference.
- That the GA `-001` ids answer on the Gemini API as they do on Google Cloud:
  LiteLLM's model catalogue (v1.100) lists `veo-3.1-lite-generate-001` for both.
  Where Google says otherwise, an owner names the live id on the account.

Prices: Google's list prices are not in PROVIDERS.md. `prices.json` reuses the
figures route 4 carries for the same model ids ("Google Gemini API list price
(third-party report, 2026)"),
with audio only, since this route always renders audio; silent 4k has no
figure and none is invented.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from django.views.decorators.debug import sensitive_variables

from studio.providers.base import (
    GOOGLE_MODEL_ID,
    ErrorKind,
    ProviderError,
    Receipt,
    Report,
    Route,
    Status,
    Tier,
    VideoRequest,
    read_json,
    same_origin,
    veo_capabilities,
)
from studio.providers.google import read_refusal, samples_report

LITE = "veo-3.1-lite-generate-001"
FAST = "veo-3.1-fast-generate-001"
QUALITY = "veo-3.1-generate-001"
SHUT_DOWN = "Google shut the Gemini API's preview ids down on 2026-10-22 (public notices); use {} instead."
PERSON_GENERATION = {"disallow": "dont_allow"}
WHERE = "Google's API"
# google-genai's `t_file_name`: the file id is the lower-case letters and digits after "files/".
FILE_ID = re.compile(r"/files/([a-z0-9]+):download$")
MIME_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")

# Veo's own limits, with three reference images and sound on every clip.
# People are not offered: Google documents one value per kind of request (allow_all for text,
# allow_adult with images), so a choice would only fail. Prompt rewriting is a switch.
_VEO = veo_capabilities(
    where=WHERE, max_references=3, always_audio=True, seed=False, enhance_prompt=True, max_samples=4
)
_VEO_LITE = veo_capabilities(
    where=WHERE, lite=True, max_references=3, always_audio=True, seed=False, enhance_prompt=True, max_samples=4
)


class Gemini(Route):
    """Google's Gemini API. Audio is always generated, even for a draft asked silent."""

    slug = "gemini"
    name = "Google Gemini API"
    default_base_url = "https://generativelanguage.googleapis.com"
    models = {Tier.LITE: LITE, Tier.FAST: FAST, Tier.QUALITY: QUALITY}
    model_id_shape = GOOGLE_MODEL_ID
    model_id_example = "veo-3.1-generate-001"
    retired_models = {
        "veo-3.1-generate-preview": SHUT_DOWN.format(QUALITY),
        "veo-3.1-fast-generate-preview": SHUT_DOWN.format(FAST),
        "veo-3.1-lite-generate-preview": SHUT_DOWN.format(LITE),
    }
    capabilities = {
        QUALITY: _VEO,
        FAST: _VEO,
        LITE: _VEO_LITE,
        # Kept for the tasks made on them, and for an account that still names one.
        "veo-3.1-generate-preview": _VEO,
        "veo-3.1-fast-generate-preview": _VEO,
        "veo-3.1-lite-generate-preview": _VEO_LITE,
    }
    min_poll_interval_s = 5.0
    deadline_s = 15 * 60
    result_ttl_s = 2 * 24 * 3600

    @sensitive_variables()
    def key_headers(self, account) -> dict[str, str]:
        return {"x-goog-api-key": account.api_key}

    @sensitive_variables()
    def submit(self, http: httpx.Client, account, request: VideoRequest) -> Receipt:
        instance: dict = {"prompt": request.prompt}
        if request.first_frame:
            instance["image"] = _inline(request.first_frame)
        if request.last_frame:
            instance["lastFrame"] = _inline(request.last_frame)
        if request.references:
            instance["referenceImages"] = [
                {"image": _inline(image), "referenceType": "asset"} for image in request.references
            ]
        parameters: dict = {
            "aspectRatio": request.aspect_ratio,
            "resolution": request.resolution,
            "durationSeconds": int(request.duration_s),
            "sampleCount": request.samples,
        }
        if request.negative_prompt:
            parameters["negativePrompt"] = request.negative_prompt
        if person := account.options.get("person_generation"):
            parameters["personGeneration"] = PERSON_GENERATION.get(person, person)
        if request.enhance_prompt is not None:
            parameters["enhancePrompt"] = request.enhance_prompt
        response = http.post(
            f"{account.resolved_base_url}/v1beta/models/{request.model}:predictLongRunning",
            json={"instances": [instance], "parameters": parameters},
            headers=self.headers(account),
        )
        if response.status_code >= 400:
            raise _google_error(response, model=request.model)
        name = read_json(response).get("name")
        if not isinstance(name, str) or not name:
            raise ProviderError(ErrorKind.BAD_ANSWER, "Google accepted the request but sent no operation name")
        return Receipt(provider_task_id=name)

    @sensitive_variables()
    def poll(self, http: httpx.Client, account, provider_task_id: str) -> Report:
        response = http.get(f"{account.resolved_base_url}/v1beta/{provider_task_id}", headers=self.headers(account))
        if response.status_code >= 400:
            raise _google_error(response)
        answer = read_json(response)
        if answer.get("done") is not True:
            return Report(Status.RUNNING, provider_status="done: false")
        if isinstance(answer.get("error"), dict):
            error = answer["error"]
            message = str(error.get("message") or "no reason given")
            failure = ProviderError(ErrorKind.FAILED, f"Google could not render it: {message}")
            return Report(Status.FAILED, error=failure, provider_status=f"error {error.get('code', '')}".strip())
        payload = answer.get("response") or {}
        outcome = (payload.get("generateVideoResponse") or {}) if isinstance(payload, dict) else None
        if not isinstance(outcome, dict):
            raise ProviderError(ErrorKind.BAD_ANSWER, "Google's finished operation has an unreadable response")
        found = [
            _video_url(sample.get("video") if isinstance(sample, dict) else None)
            for sample in outcome.get("generatedSamples") or []
        ]
        return samples_report(
            [url for url in found if url],
            filtered=outcome.get("raiMediaFilteredCount"),
            reasons=[str(r) for r in outcome.get("raiMediaFilteredReasons") or [] if r],
        )

    @sensitive_variables()
    def download_request(self, account, provider_task_id: str, url: str) -> tuple[str, dict[str, str]]:
        # The key rides in the URL, never in a header: see the module docstring.
        if file_id := _file_id(url, account.resolved_base_url):
            url = f"{account.resolved_base_url}/v1beta/files/{file_id}:download?alt=media"
        if not same_origin(url, account.resolved_base_url):
            return url, {}
        parts = urlsplit(url)
        query = "&".join(q for q in (parts.query, urlencode({"key": account.api_key})) if q)
        return urlunsplit(parts._replace(query=query)), {}

    @sensitive_variables()
    def check_account(self, http: httpx.Client, account) -> None:
        model = self.models[Tier.FAST]
        response = http.get(
            f"{account.resolved_base_url}/v1beta/models/{model}/operations/dailies-connection-check",
            headers=self.headers(account),
        )
        if response.status_code < 400 or response.status_code == 404:
            return
        error = _google_error(response)
        if error.kind in (ErrorKind.AUTH, ErrorKind.OUTAGE):
            raise error

    def poll_delay(self, *, model: str, elapsed_s: float, account=None) -> float:
        return 10.0


def _video_url(video: object) -> str | None:
    """A sample's video as a URL to archive: its `uri`, or its inline bytes as a `data:` URL."""
    if not isinstance(video, dict):
        return None
    if isinstance(uri := video.get("uri"), str) and uri:
        return uri
    data = video.get("encodedVideo") or video.get("bytesBase64Encoded")
    if isinstance(data, str) and data:
        mime_type = str(video.get("encoding") or video.get("mimeType") or "")
        return f"data:{mime_type if MIME_TYPE.fullmatch(mime_type) else 'video/mp4'};base64,{data}"
    return None


def _file_id(uri: str, base_url: str) -> str | None:
    """The file id in a Google file URI on the account's own host and port, as google-genai reads it."""
    try:
        parts, base = urlsplit(uri), urlsplit(base_url)
        if parts.scheme not in ("http", "https") or (parts.hostname, parts.port) != (base.hostname, base.port):
            return None
    except ValueError:  # a port that is not a number
        return None
    match = FILE_ID.search(parts.path)
    return match.group(1) if match else None


def _inline(image) -> dict[str, str]:
    return {"bytesBase64Encoded": image.base64, "mimeType": image.mime_type}


def _google_error(response: httpx.Response, *, model: str | None = None) -> ProviderError:
    """Google's error envelope in plain words, with this route's meaning of a refused key and a 404."""
    refusal = read_refusal(response)
    code, said = refusal.code, refusal.said
    message = refusal.message.lower()
    key_refused = any(d.get("reason") == "API_KEY_INVALID" for d in refusal.details) or "api key not valid" in message
    if code in (401, 403) or key_refused:
        return refusal.fail(ErrorKind.AUTH, f"Google refused the API key{said}")
    if code == 400:
        return refusal.fail(ErrorKind.VALIDATION, f"Google refused the settings{said}")
    if code == 404:
        if "no longer available" in message and model:
            return refusal.fail(
                ErrorKind.RETIRED_MODEL, f"Google has retired this model ({model} is no longer available)"
            )
        return refusal.fail(ErrorKind.NOT_FOUND, f"Google does not know this model or job{said}")
    return refusal.otherwise(limited="this key")
