"""Route 6: Veo on Google Cloud (Vertex AI; Google now calls it Gemini Enterprise Agent Platform).

No seed covers this route; PROVIDERS.md ("Route 6"), Google's Vertex AI Veo reference
(`model-reference/veo-video-generation`, `models/veo/3-1-generate`) and what google-genai 2.x
sends and reads in its Google Cloud mode (`_GenerateVideosConfig_to_vertex`,
`_GenerateVideosResponse_from_vertex`, `Operations.get`) are the sources.

What the documentation states:
- Submit `POST https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/
  {location}/publishers/google/models/{model}:predictLongRunning` with `Authorization: Bearer
  TOKEN` (an OAuth 2 access token: see `auth.py`) and `{"instances": [{"prompt", "image",
  "lastFrame", "referenceImages": [{"image", "referenceType"}], "video"}], "parameters":
  {"aspectRatio", "resolution", "durationSeconds", "negativePrompt", "generateAudio", "seed"
  (uint32), "personGeneration", "sampleCount" (1–4), "enhancePrompt", "storageUri"}}`. Images
  travel inline as `{"bytesBase64Encoded", "mimeType"}` (or as `gcsUri`, which we do not use).
- GA models `veo-3.1-generate-001` and `veo-3.1-fast-generate-001`: 16:9 or 9:16 (not 9:16
  with reference images), 4, 6 or 8 s (reference images: 8 s only), at most 4 videos a
  request, 50 requests a minute per project.
- The answer is a long-running operation `{"name": "projects/…/publishers/google/models/
  {model}/operations/{id}"}`. Poll `POST …/models/{model}:fetchPredictOperation` with
  `{"operationName": NAME}` (what google-genai's `operations.get` does). Done answers carry
  `response.videos[]`, each `{"gcsUri", "mimeType"}` when `storageUri` was given, else
  `{"bytesBase64Encoded", "mimeType"}`, and `raiMediaFilteredCount`/`raiMediaFilteredReasons`
  when the safety filter removed videos; a failed operation carries `error {code, message}`.
- HTTP errors are `{"error": {"code", "message", "status", "details"}}`. Google's own sample
  polls every 15 s; a render takes "a few minutes, longer at peak".

What we assumed where it is silent:
- Models per tier: fast `veo-3.1-fast-generate-001`, quality `veo-3.1-generate-001`, and lite
  `veo-3.1-lite-generate-001`, which third-party gateways list as a Google Cloud model though
  the Google pages we could read do not. Lite is taken to draw text or a first frame only (no
  last frame, no reference images: what those gateways say) at 720p or 1080p. An account may
  name another model id for a tier (`ProviderAccount.model_ids`, on the account form) when Google
  retires one; the task records and sends that id, with its tier's default's limits.
- 720p, 1080p and 4k, and above 720p only 8 s, as on route 5 (Veo's own limits); reference
  images (up to 3, type "asset") are offered on standard and fast.
- The project id and location come from the account (`options["project_id"]`,
  `options["location"]`, set on the account form). A blank base URL (or the global endpoint)
  means the location's own endpoint; the global location uses `aiplatform.googleapis.com`.
  Any other base URL (a proxy, the simulator) is used as given.
- We always send `generateAudio` (as asked), `sampleCount` (1, or up to 4 when variations are drawn
  in one request: each video is its own task's clip, in the order Google lists them, each billed as
  a clip) and the seed when the task has one. Videos the safety filter removed are missing from the
  list (`raiMediaFilteredCount` says how many): the clips left without one are blocked, not billed. `personGeneration`
  and `enhancePrompt` come from the editor (people: adults only or none; Google's allow_all
  needs an allowlist, so it is not offered), else from the account's options (`person_generation`, `enhance_prompt`),
  route 4's `disallow` read as Google's `dont_allow`; `storageUri` from `options["storage_uri"]`
  (a `gs://bucket/prefix/`), else the video comes back inline.
- Extend: Google's pages say Veo 3.1 on this platform (standard, fast and lite) extends a clip Veo
  made of 1 to 30 s; the gateways in front of it add 24 fps, 720p or 1080p, 16:9 or 9:16, and 7 s
  added. Those are our limits (`EXTENSION`), checked on the archived clip before Extend is offered.
  The clip travels inline as the instance's `video` (`{"bytesBase64Encoded", "mimeType":
  "video/mp4"}`) with the continuation as `prompt`, `durationSeconds` 7, the source's resolution,
  aspect ratio and audio; a clip over 15 MB is not offered (we take Google's inline request limit to be
  the Gemini API's 20 MB, and base64 adds a third; the `gcsUri` form is not used). We take the answer
  to be the whole clip with its continuation (as Google's
  Gemini API documents for Veo 3.1), so the new clip runs 7 s longer than its source, and the bill
  is for the 7 s rendered.
- An inline video is reported as a `data:` URL holding the bytes, as on route 5: the archive
  decodes and checks it like a download. A `gs://bucket/object` is fetched through Cloud
  Storage's JSON API (`GET {storage}/storage/v1/b/{bucket}/o/{object}?alt=media`, which takes
  Range) with the same access token, sent only to that storage address: `options
  ["storage_base_url"]`, else the account's base URL when it is not a googleapis.com address
  (a proxy or the simulator serves both), else `https://storage.googleapis.com`.
- A failed operation whose message speaks of Google's Responsible AI practices (prompts refused
  before rendering come back so, with "Support codes") is a safety block, not billed; any other
  operation error is a plain failure, not billed. A done operation with neither videos, filter
  counts nor an error returned nothing and may have billed.
- 400 is a refused setting; 401 a token Google refused (after one fresh token was tried: a 401
  means nothing was done, so a submit is sent once more safely); 403 a service account without
  permission on this project (or a project that does not exist); 404 at submit a model Google
  no longer offers this project at this location: retired, and the message says to pick another
  model id; 404 at poll an unknown operation; 429 a rate limit (Retry-After, else RetryInfo,
  else 60 s); 5xx an outage.
- The operation has no documented progress, so not done is "running"; a missing `done` is
  false, as Google's JSON leaves out false booleans.
- "Test connection" gets a token and asks for an operation that cannot exist: a refused key or
  missing permission is named, an unknown operation means the account works. Nothing is made.
- Videos inline never expire; in a bucket they live by the bucket's own rules. We keep the
  usual 24 h before calling a link stale.

Prices: `prices.json`, per card with its source; Google's own price page could not be read.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from django.views.decorators.debug import sensitive_variables

from studio.providers.base import (
    GOOGLE_MODEL_ID,
    SAFETY_WORDS,
    ErrorKind,
    Extension,
    ImageInput,
    ProviderError,
    Receipt,
    Report,
    Route,
    Status,
    Tier,
    VideoRequest,
    http_client,
    read_json,
    same_origin,
    veo_capabilities,
)
from studio.providers.google import read_refusal, samples_report

from .auth import KEYRING, Session

QUALITY = "veo-3.1-generate-001"
FAST = "veo-3.1-fast-generate-001"
LITE = "veo-3.1-lite-generate-001"
GLOBAL_ENDPOINT = "https://aiplatform.googleapis.com"
STORAGE = "https://storage.googleapis.com"
PERSON_GENERATION = {"disallow": "dont_allow"}
WHERE = "Google Cloud"
MIME_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
# Google's project ids: 6–30 lower-case letters, digits and hyphens, starting with a letter.
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
# us-central1, europe-west4, global, us, eu…
LOCATION = re.compile(r"[a-z]+(?:-[a-z]+[0-9]+)?")
OPERATION = re.compile(r"projects/[^/]+/locations/[^/]+/publishers/google/models/[^/:]+/operations/[^/:?#]+")

# Videos one request may render (sampleCount).
MAX_SAMPLES = 4
# A Veo clip of 1 to 30 s at 24 fps, 720p or 1080p, continued by 7 s (see the docstring).
EXTENSION = Extension(
    added_s=7,
    min_source_s=1,
    max_source_s=30,
    frame_rate=24,
    resolutions=("720p", "1080p"),
    aspect_ratios=("16:9", "9:16"),
    # Inside a request we take Google to hold to 20 MB (the Gemini API's inline limit); base64 adds a third.
    max_source_bytes=15_000_000,
)
# allow_all needs Google's approval on this platform (so it is not offered); prompt rewriting is a switch.
_VEO = veo_capabilities(
    where=WHERE,
    max_references=3,
    people=("allow_adult", "dont_allow"),
    enhance_prompt=True,
    extend=EXTENSION,
    max_samples=MAX_SAMPLES,
)


class GoogleCloud(Route):
    """Veo through a Google Cloud project, authorised as a service account (or the machine's own)."""

    slug = "google-cloud"
    name = "Google Cloud Vertex AI"
    # Blank or this: the account's location's own endpoint (see `api_base`).
    default_base_url = GLOBAL_ENDPOINT
    models = {Tier.LITE: LITE, Tier.FAST: FAST, Tier.QUALITY: QUALITY}
    capabilities = {
        QUALITY: _VEO,
        FAST: _VEO,
        LITE: veo_capabilities(
            where=WHERE,
            lite=True,
            last_frame=False,
            max_references=0,
            people=_VEO.people,
            enhance_prompt=True,
            extend=EXTENSION,
            max_samples=MAX_SAMPLES,
        ),
    }
    model_id_shape = GOOGLE_MODEL_ID
    model_id_example = "veo-3.1-generate-001"
    min_poll_interval_s = 5.0
    deadline_s = 20 * 60

    @sensitive_variables()
    def submit(self, http: httpx.Client, account, request: VideoRequest) -> Receipt:
        project, location = where(account)
        model = request.model
        # Built before any request leaves (the token's included): a failure here sends nothing.
        body = {"instances": [_instance(request)], "parameters": _parameters(account, request)}
        url = f"{api_base(account)}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}"
        with KEYRING.session(http, account) as auth:
            try:
                auth.headers()
            except httpx.HTTPError as exc:
                raise ProviderError(
                    ErrorKind.UNREACHABLE, f"Not sent: Google's token service did not answer ({type(exc).__name__})"
                ) from None
            response = _send(http, auth, f"{url}:predictLongRunning", body)
        if response.status_code >= 400:
            raise google_error(response, model=model, location=location)
        name = read_json(response).get("name")
        if not isinstance(name, str) or not OPERATION.fullmatch(name):
            raise ProviderError(ErrorKind.BAD_ANSWER, "Google accepted the request but sent no operation name")
        return Receipt(provider_task_id=name)

    @sensitive_variables()
    def poll(self, http: httpx.Client, account, provider_task_id: str) -> Report:
        if not OPERATION.fullmatch(provider_task_id):
            raise ProviderError(ErrorKind.NOT_FOUND, f"{provider_task_id!r} is not a Google Cloud operation name")
        resource = provider_task_id.rpartition("/operations/")[0]
        url = f"{api_base(account, provider_task_id)}/v1/{resource}:fetchPredictOperation"
        with KEYRING.session(http, account, operation=provider_task_id) as auth:
            response = _send(http, auth, url, {"operationName": provider_task_id})
            if response.status_code >= 400:
                raise google_error(response)
            return _report(read_json(response))

    @sensitive_variables()
    def download_request(self, account, provider_task_id: str, url: str) -> tuple[str, dict[str, str]]:
        storage = storage_base(account)
        if url.startswith("gs://"):
            bucket, _, name = url.removeprefix("gs://").partition("/")
            if not bucket or not name:
                raise ProviderError(ErrorKind.BAD_ANSWER, f"Google named a video at {url!r}, which is no object")
            url = f"{storage}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?alt=media"
        if not same_origin(url, storage):
            return url, {}
        # The archive hands no client over: a token, when one is due, is fetched on a client of its own.
        with http_client() as http, KEYRING.session(http, account) as auth:
            return url, auth.headers()

    def download_refusal_passes(self, account, url: str) -> bool:
        """An object in the customer's own bucket does not expire: a refusal is our credentials (a token gone
        stale, a key being rotated), so the cached token is dropped and the download tried again later."""
        KEYRING.drop_token(account)
        return url.startswith("gs://")

    @sensitive_variables()
    def check_account(self, http: httpx.Client, account) -> None:
        project, location = where(account)
        model = account.model_for(Tier.FAST) or FAST
        resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
        with KEYRING.session(http, account) as auth:
            response = _send(
                http,
                auth,
                f"{api_base(account)}/v1/{resource}:fetchPredictOperation",
                {"operationName": f"{resource}/operations/dailies-connection-check"},
            )
        if response.status_code < 400 or response.status_code in (400, 404):
            return
        error = google_error(response)
        if error.kind in (ErrorKind.AUTH, ErrorKind.OUTAGE, ErrorKind.RATE_LIMIT):
            raise error

    def poll_delay(self, *, model: str, elapsed_s: float, account=None) -> float:
        return 15.0


def where(account) -> tuple[str, str]:
    """The account's Google Cloud project id and location, or a plain refusal naming what is missing."""
    project = str(account.options.get("project_id") or "").strip()
    location = str(account.options.get("location") or "").strip()
    missing = [name for name, value in (("project id", project), ("location", location)) if not value]
    if missing:
        raise ProviderError(
            ErrorKind.UNREACHABLE, f"This account names no Google Cloud {' or '.join(missing)}: add it to the account"
        )
    if not PROJECT_ID.fullmatch(project) or not LOCATION.fullmatch(location):
        raise ProviderError(
            ErrorKind.UNREACHABLE,
            f"This account's Google Cloud project id or location is not one Google uses: {project!r}, {location!r}",
        )
    return project, location


def api_base(account, operation: str | None = None) -> str:
    """Where to send a request: the location's own endpoint, unless the account names another address.

    A poll goes where its operation runs (its name says), so tasks in flight keep being followed
    after an owner moves the account to another location.
    """
    base = account.resolved_base_url
    if base == GLOBAL_ENDPOINT:
        _project, location = where(account)
        if operation and (named := re.match(r"projects/[^/]+/locations/([^/]+)/", operation)):
            location = named.group(1)
        return base if location == "global" else f"https://{location}-aiplatform.googleapis.com"
    return base


def storage_base(account) -> str:
    if chosen := str(account.options.get("storage_base_url") or "").strip().rstrip("/"):
        return chosen
    base = account.resolved_base_url
    host = (urlsplit(base).hostname or "").lower()
    return STORAGE if host == "googleapis.com" or host.endswith(".googleapis.com") else base


def _send(http: httpx.Client, auth: Session, url: str, body: dict) -> httpx.Response:
    """POST with the session's token; once more with a fresh one if Google refuses a cached one (401)."""
    response = http.post(url, json=body, headers={**auth.headers(), "Accept": "application/json"})
    if response.status_code == 401 and auth.refused():
        response = http.post(url, json=body, headers={**auth.headers(), "Accept": "application/json"})
    return response


def _instance(request: VideoRequest) -> dict[str, Any]:
    instance: dict[str, Any] = {"prompt": request.prompt}
    if request.extend:
        instance["video"] = {"bytesBase64Encoded": request.extend.base64, "mimeType": request.extend.mime_type}
    if request.first_frame:
        instance["image"] = _inline(request.first_frame)
    if request.last_frame:
        instance["lastFrame"] = _inline(request.last_frame)
    if request.references:
        instance["referenceImages"] = [
            {"image": _inline(image), "referenceType": "asset"} for image in request.references
        ]
    return instance


def _parameters(account, request: VideoRequest) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "aspectRatio": request.aspect_ratio,
        "resolution": request.resolution,
        "durationSeconds": int(request.duration_s),
        "generateAudio": bool(request.audio),
        "sampleCount": request.samples,
    }
    if request.negative_prompt:
        parameters["negativePrompt"] = request.negative_prompt
    if request.seed is not None and 0 <= request.seed < 2**32:
        parameters["seed"] = request.seed
    options = account.options
    # The editor's choice first; the account's options are the default for tasks that made none.
    if person := request.people or options.get("person_generation"):
        parameters["personGeneration"] = PERSON_GENERATION.get(person, person)
    enhance = request.enhance_prompt if request.enhance_prompt is not None else options.get("enhance_prompt")
    if isinstance(enhance, bool):
        parameters["enhancePrompt"] = enhance
    if storage := str(options.get("storage_uri") or "").strip():
        parameters["storageUri"] = storage
    return parameters


def _inline(image: ImageInput) -> dict[str, str]:
    return {"bytesBase64Encoded": image.base64, "mimeType": image.mime_type}


def _report(answer: dict) -> Report:
    if answer.get("done") is not True:
        return Report(Status.RUNNING, provider_status="done: false")
    if isinstance(error := answer.get("error"), dict):
        message = str(error.get("message") or "no reason given")
        status = f"error {error.get('code', '')}".strip()
        if SAFETY_WORDS.search(message) or "responsible ai" in message.lower():
            blocked = ProviderError(ErrorKind.SAFETY, f"Google's safety filter refused it: {message}")
            return Report(Status.BLOCKED, error=blocked, provider_status=status)
        failure = ProviderError(ErrorKind.FAILED, f"Google could not render it: {message}")
        return Report(Status.FAILED, error=failure, provider_status=status)
    outcome = answer.get("response") or {}
    if not isinstance(outcome, dict):
        raise ProviderError(ErrorKind.BAD_ANSWER, "Google's finished operation has an unreadable response")
    found = [_video_url(video) for video in [*(outcome.get("videos") or []), *(outcome.get("generatedSamples") or [])]]
    return samples_report(
        [url for url in found if url],
        filtered=outcome.get("raiMediaFilteredCount"),
        reasons=[str(reason) for reason in outcome.get("raiMediaFilteredReasons") or [] if reason],
    )


def _video_url(video: object) -> str | None:
    """One video of a done operation as a URL to archive: its `gs://` object, or its bytes as a `data:` URL."""
    if isinstance(video, str):  # the older `generatedSamples`: Cloud Storage URIs only
        return video if video.startswith("gs://") else None
    if not isinstance(video, dict):
        return None
    if isinstance(uri := video.get("gcsUri"), str) and uri.startswith("gs://"):
        return uri
    if isinstance(data := video.get("bytesBase64Encoded"), str) and data:
        mime_type = str(video.get("mimeType") or "")
        return f"data:{mime_type if MIME_TYPE.fullmatch(mime_type) else 'video/mp4'};base64,{data}"
    return None


def google_error(response: httpx.Response, *, model: str | None = None, location: str = "") -> ProviderError:
    """Google's error envelope in plain words, with this route's meaning of 401, 403 and a 404."""
    refusal = read_refusal(response)
    code, said = refusal.code, refusal.said
    if code == 401:
        return refusal.fail(ErrorKind.AUTH, f"Google refused the account's access token{said}")
    if code == 403:
        return refusal.fail(ErrorKind.AUTH, f"Google denied this account on this project{said}")
    if code == 400:
        return refusal.fail(ErrorKind.VALIDATION, f"Google refused the settings{said}")
    if code == 404:
        # Only Google's own word about the model marks it gone on the account: a 404 from a wrong base URL
        # or a proxy's page says nothing about the model.
        message = refusal.message.lower()
        about_model = refusal.status == "NOT_FOUND" and (
            "publisher model" in message or "no longer available" in message
        )
        if model and about_model:
            return refusal.fail(
                ErrorKind.RETIRED_MODEL,
                f"Google has retired this model or no longer offers it here ({model} in {location})",
            )
        if model:
            return refusal.fail(
                ErrorKind.NOT_FOUND, f"Nothing answers at this address (HTTP 404): check the account's base URL{said}"
            )
        return refusal.fail(ErrorKind.NOT_FOUND, f"Google does not know this operation{said}")
    return refusal.otherwise(limited="this project")
