"""Simulated route 6: Veo on Google Cloud (Vertex AI), with Google's OAuth, limits and error envelope.

Tokens: `POST token` is the token endpoint of the key files the simulator issues
(`studio.simulator.service_accounts.issue_key_file`, or `manage.py simulator_key --google-cloud
PROJECT`): it checks the signed JWT against the key's public half and answers a short-lived
access token, or Google's `{"error": "invalid_grant", "error_description": …}` for a key it did
not issue, a bad signature or a stale assertion. Every other request needs `Authorization: Bearer`
with a live token (else 401 UNAUTHENTICATED, as Google), for the project its key belongs to (else
403 PERMISSION_DENIED "… (or it may not exist)").

The API: `POST v1/projects/{project}/locations/{location}/publishers/google/models/{model}:
predictLongRunning` and `…:fetchPredictOperation` with `{"operationName"}` (`v1beta1`, google-genai's
default in this mode, too). It accepts exactly what google-genai 2.x sends in its Google Cloud mode
(`test_sdk_contract.py` drives it): enum values in either case (`referenceType: "ASSET"`,
`personGeneration: "ALLOW_ALL"`, `compressionQuality: "OPTIMIZED"`), `enhancePrompt`, `seed`,
`generateAudio`, `storageUri`, `sampleCount` 1–4, `fps`, `resizeMode`, `pubsubTopic`, top-level
`labels`, and an instance `video` to extend (inline MP4, or a `gs://` object this simulator wrote):
a clip of 1 to 30 s at 24 fps (it reads the file to check), `durationSeconds` 7, 720p or 1080p,
answered with the whole clip, its length plus 7 s. Anything else is refused in Google's "Unknown name" words.

`sampleCount` n renders n videos, each its own job (the operation's id, then that id + "s1", …);
the operation is done when every one is. With `storageUri` (`gs://bucket/prefix`) each comes back
as `{"gcsUri": "gs://bucket/prefix/{operation}/sample_{n}.mp4", "mimeType": "video/mp4"}`, served
by Cloud Storage's JSON API here (`GET storage/v1/b/{bucket}/o/{object}?alt=media`, Range too,
same bearer token); without it, inline as `{"bytesBase64Encoded", "mimeType"}`.

Models: `veo-3.1-generate-001`, `veo-3.1-fast-generate-001`, `veo-3.1-lite-generate-001` (720p or
1080p; text or a first frame only). Retired ids (`veo-3.0-*`, `veo-2.0-*`, and any listed in
`settings.SIMULATOR["google_cloud_retired"]`) and unknown ones answer Vertex's 404 "Publisher Model
… was not found or your project does not have access to it".

Prompt markers: #blocked ends the operation with Google's Responsible AI `error` (code 3), #filtered
ends done with `raiMediaFilteredCount` and no videos, #empty done with no videos, #failed (this
route's own) with an internal `error` (code 13), #ratelimit is a 429 RESOURCE_EXHAUSTED with
Retry-After, and #lost, #poll500, #malformed, #slow, #never, #truncated, #expired as in
`engine.FAULTS` (#expired, for an object in a bucket: deleted from it, 404 "No such object").
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import TypeGuard

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import re_path
from django.views.decorators.http import require_GET, require_POST

from studio.simulator import engine
from studio.simulator.models import SimulatedJob, SimulatorRequest
from studio.simulator.render import Shape, shape_of
from studio.simulator.service_accounts import (
    JWT_GRANT,
    Bearer,
    Refused,
    check_assertion,
    new_access_token,
    read_access_token,
)

ROUTE = "google-cloud"
MODELS = {
    "veo-3.1-generate-001": "quality",
    "veo-3.1-fast-generate-001": "fast",
    "veo-3.1-lite-generate-001": "lite",
}
RETIRED_PREFIXES = ("veo-3.0-", "veo-2.0-")
RESOLUTIONS = ("720p", "1080p", "4k")
DURATIONS = (4, 6, 8)
# An extension: a Veo clip of 1 to 30 s at 24 fps, 720p or 1080p, continued by 7 s (the adapter's assumptions).
EXTENSION_S = 7
EXTENDED_RESOLUTIONS = ("720p", "1080p")
ASPECTS = ("16:9", "9:16")
PERSONS = ("allow_all", "allow_adult", "dont_allow")
MIME_TYPES = ("image/png", "image/jpeg", "image/webp")
INSTANCE_FIELDS = ("prompt", "image", "lastFrame", "referenceImages", "video")
PARAMETER_FIELDS = (
    "aspectRatio",
    "resolution",
    "durationSeconds",
    "negativePrompt",
    "generateAudio",
    "seed",
    "personGeneration",
    "sampleCount",
    "enhancePrompt",
    "storageUri",
    "compressionQuality",
    "resizeMode",
    "fps",
    "pubsubTopic",
)
MAX_REFERENCES = 3
MAX_SAMPLES = 4
MAX_SEED = 2**32 - 1
RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
RAI_REFUSAL = (
    "The prompt could not be submitted. This prompt contains sensitive words that violate Google's "
    "Responsible AI practices. Try rephrasing the prompt. If you think this was an error, send feedback. "
    "Support codes: 29310472"
)
RAI_FILTERED = (
    "The generated video was removed because it may violate Google's usage policies. You have not been "
    "charged. Support codes: 17301594"
)
FAILED_MARKER = "#failed"
API = (
    r"^v1(?:beta1)?/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
    r"/publishers/google/models/(?P<model>[^/:]+)"
)


def _rate_limit() -> JsonResponse:
    return engine.google_error(
        429,
        "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: "
        "veo-3.1. Please submit a quota increase request.",
        "RESOURCE_EXHAUSTED",
        details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}],
    )


WIRE = engine.Wire(route=ROUTE, rate_limit=_rate_limit)


def _refuse(message: str) -> JsonResponse:
    return engine.google_error(400, message, "INVALID_ARGUMENT")


def _error_info(reason: str, domain: str = "googleapis.com") -> list[dict]:
    return [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain}]


# --- Tokens -------------------------------------------------------------------------------------


@WIRE.simulated()
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """The key files' `token_uri`: a signed JWT in, a short-lived access token out (RFC 7523)."""
    if request.POST.get("grant_type") != JWT_GRANT:
        return JsonResponse(
            {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: only JWT bearer."},
            status=400,
        )
    try:
        key = check_assertion(request.POST.get("assertion", ""), token_path=request.path)
    except Refused as refused:
        return JsonResponse({"error": refused.error, "error_description": refused.description}, status=refused.status)
    issued = new_access_token(key)
    return JsonResponse({"access_token": issued.value, "expires_in": issued.expires_in, "token_type": "Bearer"})


def _caller(request: HttpRequest, project: str, resource: str) -> JsonResponse | None:
    """Google's refusal of a request without a live token for `project`, or None to go on."""
    holder = read_access_token(request.headers.get("Authorization", ""))
    if not isinstance(holder, Bearer):
        if holder == "CREDENTIALS_MISSING":
            message = "Request is missing required authentication credential."
        else:
            message = "Request had invalid authentication credentials."
        return engine.google_error(
            401,
            f"{message} Expected OAuth 2 access token, login cookie or other valid authentication credential. "
            "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "UNAUTHENTICATED",
            details=_error_info(holder),
        )
    if holder.project_id != project:
        return engine.google_error(
            403,
            f"Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/{resource}' "
            "(or it may not exist).",
            "PERMISSION_DENIED",
            details=_error_info("IAM_PERMISSION_DENIED", "aiplatform.googleapis.com"),
        )
    return None


def _unknown_model(resource: str) -> JsonResponse | None:
    model = resource.rpartition("/")[2]
    more: object = settings.SIMULATOR.get("google_cloud_retired", ())
    retired = model.startswith(RETIRED_PREFIXES) or (isinstance(more, list | tuple) and model in more)
    if model in MODELS and not retired:
        return None
    return engine.google_error(
        404,
        f"Publisher Model `{resource}` was not found or your project does not have access to it. Please ensure "
        "you are using a valid model version. For more information, see: "
        "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions",
        "NOT_FOUND",
    )


# --- Submit -------------------------------------------------------------------------------------


def _media_problem(media, where: str, mime_types: tuple[str, ...]) -> str | None:
    if not isinstance(media, dict) or set(media) - {"bytesBase64Encoded", "gcsUri", "mimeType"}:
        return f"{where} must be an object with bytesBase64Encoded (or gcsUri) and mimeType."
    if "gcsUri" in media:
        if "bytesBase64Encoded" in media:
            return f"{where} takes bytesBase64Encoded or gcsUri, not both."
        if mime_types != ("video/mp4",) or _written_video(str(media["gcsUri"])) is None:
            return f"{where}.gcsUri names no object this project can read."
        return None
    if media.get("mimeType") not in mime_types:
        return f"{where}.mimeType must be one of {', '.join(mime_types)}."
    try:
        data = base64.b64decode(media.get("bytesBase64Encoded") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        data = b""
    if not data:
        return f"{where}.bytesBase64Encoded must be non-empty base64 data."
    return None


def _extension_problem(video: dict, parameters: dict) -> str | None:
    """What Google would refuse about extending this video with these parameters."""
    if parameters.get("durationSeconds", EXTENSION_S) != EXTENSION_S:
        return f"durationSeconds must be {EXTENSION_S} for a video extension."
    if parameters.get("resolution", "720p") not in EXTENDED_RESOLUTIONS:
        return "A video extension renders at 720p or 1080p."
    source = _source_video(video)
    if source is None:
        return "video is not a playable MP4."
    if not 1 <= round(source.duration_s, 1) <= 30:
        return f"The input video must be 1 to 30 seconds long; it is {source.duration_s:.1f} s."
    if abs(source.frame_rate - 24) > 0.01:
        return f"The input video must be 24 fps; it is {source.frame_rate:g} fps."
    return None


def _source_video(video: dict) -> Shape | None:
    """The shape of the video sent to be extended, read from its bytes (inline, or the object it names)."""
    if "gcsUri" in video:
        job = _written_video(str(video["gcsUri"]))
        if job is None:
            return None
        with job.video.open("rb") as handle:
            return shape_of(handle.read())
    return shape_of(base64.b64decode(video["bytesBase64Encoded"]))


def _is_int(value) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(body: dict, model: str) -> JsonResponse | None:
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return _refuse("instances must hold exactly one instance object.")
    instance = instances[0]
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        return _refuse("parameters must be an object.")
    for where, given, known in (
        ("instances[0]", instance, INSTANCE_FIELDS),
        ("parameters", parameters, PARAMETER_FIELDS),
        ("", body, ("instances", "parameters", "labels")),
    ):
        for name in given:
            if name not in known:
                return _refuse(
                    f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
                )
    labels = body.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        return _refuse("labels must map names to strings.")

    lite = MODELS[model] == "lite"
    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return _refuse("prompt must be a string.")
    if not (prompt or "").strip() and "image" not in instance and "video" not in instance:
        return _refuse("A prompt is required for text-to-video.")
    if "image" in instance and (problem := _media_problem(instance["image"], "image", MIME_TYPES)):
        return _refuse(problem)
    if "lastFrame" in instance:
        if lite:
            return _refuse(f"lastFrame is not supported by {model}.")
        if "image" not in instance:
            return _refuse("lastFrame needs image (the first frame) too.")
        if problem := _media_problem(instance["lastFrame"], "lastFrame", MIME_TYPES):
            return _refuse(problem)
    references = instance.get("referenceImages", [])
    if references and lite:
        return _refuse(f"referenceImages is not supported by {model}.")
    if not isinstance(references, list) or len(references) > MAX_REFERENCES:
        return _refuse(f"referenceImages takes at most {MAX_REFERENCES} asset images.")
    for index, reference in enumerate(references):
        # The SDK sends its enum's name, "ASSET"; the REST reference writes "asset". Both are one value.
        if not isinstance(reference, dict) or str(reference.get("referenceType", "")).lower() != "asset":
            return _refuse(f'referenceImages[{index}].referenceType must be "asset" ("ASSET").')
        if problem := _media_problem(reference.get("image"), f"referenceImages[{index}].image", MIME_TYPES):
            return _refuse(problem)
    if "video" in instance:
        if any(name in instance for name in ("image", "lastFrame", "referenceImages")):
            return _refuse("video (an extension) takes no image, lastFrame or referenceImages.")
        if problem := _media_problem(instance["video"], "video", ("video/mp4",)):
            return _refuse(problem)
        if problem := _extension_problem(instance["video"], parameters):
            return _refuse(problem)

    aspect = parameters.get("aspectRatio", "16:9")
    if aspect not in ASPECTS:
        return _refuse("aspectRatio must be 16:9 or 9:16.")
    resolution = parameters.get("resolution", "720p")
    if resolution not in RESOLUTIONS:
        return _refuse("resolution must be 720p, 1080p or 4k.")
    if resolution == "4k" and lite:
        return _refuse(f"4k is not supported by {model}.")
    duration = parameters.get("durationSeconds", EXTENSION_S if "video" in instance else 8)
    if "video" not in instance and (not _is_int(duration) or duration not in DURATIONS):
        return _refuse("durationSeconds must be 4, 6 or 8.")
    if resolution in ("1080p", "4k") and duration != 8 and "video" not in instance:
        return _refuse("1080p and 4k resolutions need durationSeconds 8.")
    if references and (duration != 8 or aspect != "16:9"):
        return _refuse("referenceImages need durationSeconds 8 and aspectRatio 16:9.")
    if not isinstance(parameters.get("negativePrompt", ""), str):
        return _refuse("negativePrompt must be a string.")
    if not isinstance(parameters.get("generateAudio", True), bool):
        return _refuse("generateAudio must be a boolean.")
    seed = parameters.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        return _refuse(f"seed must be an integer from 0 to {MAX_SEED}.")
    if str(parameters.get("personGeneration", "allow_adult")).lower() not in PERSONS:
        return _refuse("personGeneration must be allow_adult, allow_all or dont_allow (either case).")
    if not isinstance(parameters.get("enhancePrompt", True), bool):
        return _refuse("enhancePrompt must be a boolean.")
    samples = parameters.get("sampleCount", 1)
    if not _is_int(samples) or not 1 <= samples <= MAX_SAMPLES:
        return _refuse(f"sampleCount must be an integer from 1 to {MAX_SAMPLES}.")
    storage = parameters.get("storageUri", "gs://bucket/")
    if not isinstance(storage, str) or not storage.startswith("gs://") or len(storage.split("/")[2]) < 3:
        return _refuse("storageUri must be a Cloud Storage URI, gs://bucket/prefix.")
    if str(parameters.get("compressionQuality", "optimized")).lower() not in ("optimized", "lossless"):
        return _refuse("compressionQuality must be optimized or lossless.")
    if str(parameters.get("resizeMode", "pad")).lower() not in ("pad", "crop"):
        return _refuse("resizeMode must be pad or crop.")
    if parameters.get("fps", 24) != 24:
        return _refuse("fps must be 24.")
    if not isinstance(parameters.get("pubsubTopic", ""), str):
        return _refuse("pubsubTopic must be a string.")
    return None


@WIRE.simulated()
@require_POST
def submit(request: HttpRequest, project: str, location: str, model: str) -> HttpResponse:
    resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
    if refusal := _caller(request, project, resource):
        return refusal
    if unknown := _unknown_model(resource):
        return unknown
    body = engine.json_body(request)
    if body is None:
        return _refuse("Invalid JSON payload received.")
    if refusal := validate(body, model):
        return refusal
    prompt = _prompt(body)
    if limited := WIRE.rate_limited(prompt):
        return limited
    failed = FAILED_MARKER in prompt.lower().split()
    operation = str(uuid.uuid4())
    # Each video is its own job, rendered on its own; the first is the operation's.
    job, *_ = [
        engine.new_job(
            route=ROUTE,
            model=model,
            request=body,
            prompt=prompt,
            quality=MODELS[model] == "quality",
            picture=None if failed else _picture(model, body, index=index),
            job_id=_sample_id(operation, index),
        )
        for index in range(_sample_count(body))
    ]
    return engine.receipt(job, {"name": f"{resource}/operations/{job.id}"})


# --- Operations ----------------------------------------------------------------------------------


@WIRE.simulated()
@require_POST
def fetch_operation(request: HttpRequest, project: str, location: str, model: str) -> HttpResponse:
    resource = f"projects/{project}/locations/{location}/publishers/google/models/{model}"
    if refusal := _caller(request, project, resource):
        return refusal
    body = engine.json_body(request)
    name = str((body or {}).get("operationName") or "")
    if not name.startswith(f"{resource}/operations/"):
        return _refuse(f"operationName must be an operation of {resource}.")
    job = SimulatedJob.objects.filter(pk=name.rpartition("/")[2], route=ROUTE, model=model).first()
    if job is None:
        return engine.google_error(404, f"Operation {name} not found.", "NOT_FOUND")
    return engine.tag(_operation(job, name), job.id)


def _operation(job: SimulatedJob, name: str) -> HttpResponse:
    polls = _polls(job) + 1  # this one
    if job.has("#poll500") and polls <= 2:
        return engine.google_error(500, "Internal error encountered.", "INTERNAL")
    if job.has("#malformed") and polls <= 1:
        return HttpResponse("<html>502 Bad Gateway</html>", status=200, content_type="text/html")
    phase = engine.polled(job).phase
    answer: dict = {"name": name}
    if phase == "running":
        answer["done"] = False
    if phase not in ("done", "failed"):
        # Google's JSON leaves out false booleans, so early answers carry no `done` at all.
        return JsonResponse(answer)
    if job.has(engine.BLOCK_MARKER):
        answer.update(done=True, error={"code": 3, "message": RAI_REFUSAL})
        return JsonResponse(answer)
    if _failed(job) or phase == "failed":
        answer.update(done=True, error={"code": 13, "message": "Video generation failed due to an internal error."})
        return JsonResponse(answer)
    outcome: dict = {"@type": RESPONSE_TYPE}
    if job.has("#filtered"):
        outcome.update(raiMediaFilteredCount=1, raiMediaFilteredReasons=[RAI_FILTERED])
    elif not job.has("#empty"):
        samples = [job, *_other_samples(job)]
        if any(engine.polled(sample).phase != "done" for sample in samples[1:]):
            answer["done"] = False  # the operation is done when every video is
            return JsonResponse(answer)
        outcome["videos"] = [_video(sample, index, operation=job.id) for index, sample in enumerate(samples)]
    answer.update(done=True, response=outcome)
    return JsonResponse(answer)


def _video(sample: SimulatedJob, index: int, *, operation: str) -> dict:
    """One video: a `gs://` object under the request's storageUri, else its bytes inline."""
    if storage := (sample.request.get("parameters") or {}).get("storageUri"):
        return {"gcsUri": f"{storage.rstrip('/')}/{operation}/sample_{index}.mp4", "mimeType": "video/mp4"}
    with sample.video.open("rb") as handle:
        data = handle.read()
    return {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "video/mp4"}


def _polls(job: SimulatedJob) -> int:
    """How many operation polls this job had before this one (they are POSTs, filed under the job when answered)."""
    return SimulatorRequest.objects.filter(route=ROUTE, job_id=job.id, path__endswith=":fetchPredictOperation").count()


# --- Cloud Storage ------------------------------------------------------------------------------


@WIRE.simulated(download=True)
@require_GET
def storage_object(request: HttpRequest, bucket: str, prefix: str, job_id: str, index: str) -> HttpResponseBase:
    """Cloud Storage's JSON API for the objects the simulated operations wrote: metadata, or `alt=media`."""
    holder = read_access_token(request.headers.get("Authorization", ""))
    if not isinstance(holder, Bearer):
        return _storage_error(401, "Anonymous caller does not have storage.objects.get access.", "required")
    name = f"{prefix}{job_id}/sample_{index}.mp4"
    sample = _written_video(f"gs://{bucket}/{name}")
    if sample is None or sample.has("#expired"):
        # #expired: the object was deleted from the bucket (a lifecycle rule, by hand), as Cloud Storage
        # answers a caller allowed to list it.
        return _storage_error(404, f"No such object: {bucket}/{name}", "notFound")
    if request.GET.get("alt") != "media":
        return JsonResponse(
            {
                "kind": "storage#object",
                "bucket": bucket,
                "name": name,
                "contentType": "video/mp4",
                "size": str(sample.video.size),
            }
        )
    return engine.tag(engine.video_response(request, sample), sample.id)  # type: ignore[arg-type]


def _storage_error(code: int, message: str, reason: str) -> JsonResponse:
    error = {"code": code, "message": message, "errors": [{"message": message, "domain": "global", "reason": reason}]}
    return JsonResponse({"error": error}, status=code)


def _written_video(uri: str) -> SimulatedJob | None:
    """The rendered job whose video this simulator wrote at `uri` (gs://bucket/prefix/{operation}/sample_{n}.mp4)."""
    folder, _, file = uri.rpartition("/")
    location, _, operation = folder.rpartition("/")
    if not file.startswith("sample_") or not file.endswith(".mp4") or not file[7:-4].isdigit():
        return None
    index = int(file[7:-4])
    sample = SimulatedJob.objects.filter(pk=_sample_id(operation, index), route=ROUTE).first()
    if not _has_video(sample):
        return None
    storage = str((sample.request.get("parameters") or {}).get("storageUri") or "")
    return sample if storage and storage.rstrip("/") == location else None


# --- Jobs ------------------------------------------------------------------------------------------


def _prompt(body: dict) -> str:
    instance = (body.get("instances") or [{}])[0]
    return instance.get("prompt") or ""


def _picture(model: str, body: dict, *, index: int = 0) -> engine.Picture:
    """What the video of a validated request shows."""
    parameters = body.get("parameters", {})
    count = _sample_count(body)
    instance = (body.get("instances") or [{}])[0]
    if "video" in instance and (source := _source_video(instance["video"])):
        # An extension answers the whole clip: the source with its continuation after it.
        duration_s = round(source.duration_s) + parameters.get("durationSeconds", EXTENSION_S)
        label = " · extended"
    else:
        duration_s, label = parameters.get("durationSeconds", 8), ""
    return engine.Picture(
        resolution=parameters.get("resolution", "720p"),
        aspect_ratio=parameters.get("aspectRatio", "16:9"),
        duration_s=duration_s,
        audio=parameters.get("generateAudio", True),
        tier_label=f"{MODELS[model].upper()} tier{label}" + (f" · video {index + 1} of {count}" if count > 1 else ""),
        prompt=_prompt(body),
        seed=parameters.get("seed"),
    )


def _sample_count(body: dict) -> int:
    return int((body.get("parameters") or {}).get("sampleCount", 1))


def _sample_id(operation: str, index: int) -> str:
    return operation if index == 0 else f"{operation}s{index}"


def _other_samples(job: SimulatedJob) -> list[SimulatedJob]:
    """The operation's videos after the first, in order."""
    ids = [_sample_id(job.id, index) for index in range(1, _sample_count(job.request))]
    found = {sample.id: sample for sample in SimulatedJob.objects.filter(route=ROUTE, pk__in=ids)}
    return [found[sample_id] for sample_id in ids if sample_id in found]


def _failed(job: SimulatedJob) -> bool:
    return FAILED_MARKER in _prompt(job.request).lower().split()


def _has_video(job: SimulatedJob | None) -> TypeGuard[SimulatedJob]:
    return job is not None and engine.has_video(job) and not _failed(job)


urlpatterns = [
    re_path(r"^token$", token),
    re_path(API + r":predictLongRunning$", submit),
    re_path(API + r":fetchPredictOperation$", fetch_operation),
    re_path(
        r"^(?:download/)?storage/v1/b/(?P<bucket>[^/]+)/o/(?P<prefix>(?:.+/)?)(?P<job_id>[^/]+)/sample_(?P<index>\d+)\.mp4$",
        storage_object,
    ),
]
