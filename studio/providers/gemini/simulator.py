"""Simulated route 5: Google's Gemini API for Veo 3.1, with Google's limits and error envelope.

Every refusal is `{"error": {"code", "message", "status"}}`. A missing key
answers 403 PERMISSION_DENIED and a wrong one (any the simulator did not
issue) 400 INVALID_ARGUMENT with the ErrorInfo reason `API_KEY_INVALID`, as
Google does. The key is read from
`x-goog-api-key` or `?key=`. The GA ids (`veo-3.1-*-001`) render; the preview
ids answer 404 "is no longer available", as Google's have since 2026-10-22,
unless `settings.SIMULATOR["gemini_previews_retired"]` is False.

It accepts exactly what Google's own SDK (google-genai 2.x, Gemini API mode)
sends, proven by `test_sdk_contract.py`: enum values in either case
(`referenceType: "ASSET"`, `personGeneration: "ALLOW_ALL"`), `enhancePrompt`
(a boolean) and `sampleCount` 1–4. It refuses `seed` and every other field the
SDK refuses in this mode, in Google's "Unknown name" words, so a client that
sends one is caught here.

`sampleCount` n renders n videos, each its own job (the operation's job id,
then that id + "s1", "s2", …), and the done answer lists one
`generatedSamples[]` entry per video, as Google's REST reference describes; the
operation is done when every sample is.

Every video has a sound track: the Gemini API has no way to ask for silence.
A sample's `video.uri` is `https://{host}/…/v1beta/files/{id}:download?alt=media`,
https even when this simulator is served over plain http on loopback:
google-genai's `files.download` only reads a file id out of an `https://` URI
and fetches `{its base URL}/files/{id}:download?alt=media` itself, and our
adapter does the same, so neither ever dials the https address. The file URL
needs the key and answers with a 302 to a signed location on this host, which
needs no key (like Google's own). A worker renders the video; the operation is
not `done` until it has.

Prompt markers: #blocked and #filtered end done with `raiMediaFilteredCount`
and no samples, #empty ends done with an empty `generatedSamples`, #failed
(this route's own) ends done with an `error`, #inline (this route's own)
answers each sample inline as `{"encodedVideo": base64, "encoding":
"video/mp4"}` (how google-genai reads an inline video) instead of a URI,
#ratelimit is a 429 RESOURCE_EXHAUSTED with Retry-After, and #lost, #poll500,
#malformed, #slow, #never, #truncated, #expired as in `engine.FAULTS`.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import TypeGuard

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import path, re_path
from django.views.decorators.http import require_GET, require_POST

from studio.simulator import engine
from studio.simulator.models import SimulatedJob

ROUTE = "gemini"
GA = {
    "veo-3.1-generate-001": "quality",
    "veo-3.1-fast-generate-001": "fast",
    "veo-3.1-lite-generate-001": "lite",
}
PREVIEWS = {
    "veo-3.1-generate-preview": "quality",
    "veo-3.1-fast-generate-preview": "fast",
    "veo-3.1-lite-generate-preview": "lite",
}
# Model id → tier, for every id the simulator renders (the previews only while not retired).
MODELS = {**GA, **PREVIEWS}
RESOLUTIONS = ("720p", "1080p", "4k")
DURATIONS = (4, 6, 8)
ASPECTS = ("16:9", "9:16")
PERSONS = ("allow_all", "allow_adult", "dont_allow")
MIME_TYPES = ("image/png", "image/jpeg", "image/webp")
INSTANCE_FIELDS = ("prompt", "image", "lastFrame", "referenceImages")
# What google-genai 2.x sends in Gemini API mode (its `_GenerateVideosConfig_to_mldev`); it refuses
# `seed`, `generateAudio` and the rest there, so this simulator answers them as Google's unknown fields.
PARAMETER_FIELDS = (
    "aspectRatio",
    "resolution",
    "durationSeconds",
    "negativePrompt",
    "personGeneration",
    "enhancePrompt",
    "sampleCount",
)
MAX_REFERENCES = 3
MAX_SAMPLES = 4
RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
RAI_REASONS = {
    "#blocked": "The prompt could not be submitted. This prompt contains words that violate Google's "
    "Responsible AI practices. Try rephrasing the prompt. You have not been charged.",
    "#filtered": "The generated video was removed because it may violate Google's usage policies. "
    "You have not been charged.",
}
FAILED_MARKER = "#failed"
INLINE_MARKER = "#inline"
SIGNER = signing.Signer(salt="simulator-gemini-file")


def _rate_limit() -> JsonResponse:
    return engine.google_error(
        429,
        "Resource has been exhausted (e.g. check quota).",
        "RESOURCE_EXHAUSTED",
        details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}],
    )


WIRE = engine.Wire(route=ROUTE, rate_limit=_rate_limit)


def _refuse(message: str) -> JsonResponse:
    return engine.google_error(400, message, "INVALID_ARGUMENT")


def _key_refusal(request: HttpRequest) -> JsonResponse | None:
    key = request.headers.get("x-goog-api-key") or request.GET.get("key", "")
    if not key:
        return engine.google_error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity). "
            "Please use API Key or other form of API consumer identity to call this API.",
            "PERMISSION_DENIED",
        )
    if not engine.key_is_valid(key):
        return engine.google_error(
            400,
            "API key not valid. Please pass a valid API key.",
            "INVALID_ARGUMENT",
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        )
    return None


def _image_problem(image, where: str) -> str | None:
    if not isinstance(image, dict) or set(image) - {"bytesBase64Encoded", "mimeType"}:
        return f"{where} must be an object with bytesBase64Encoded and mimeType."
    if image.get("mimeType") not in MIME_TYPES:
        return f"{where}.mimeType must be one of {', '.join(MIME_TYPES)}."
    try:
        data = base64.b64decode(image.get("bytesBase64Encoded") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        data = b""
    if not data:
        return f"{where}.bytesBase64Encoded must be non-empty base64 image data."
    return None


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
    ):
        for name in given:
            if name not in known:
                return _refuse(
                    f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
                )
    if set(body) - {"instances", "parameters"}:
        return _refuse("Only instances and parameters may be sent.")

    prompt = instance.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        return _refuse("prompt must be a string.")
    if not (prompt or "").strip() and "image" not in instance:
        return _refuse("A prompt is required for text-to-video.")
    if "image" in instance and (problem := _image_problem(instance["image"], "image")):
        return _refuse(problem)
    if "lastFrame" in instance:
        if "image" not in instance:
            return _refuse("lastFrame needs image (the first frame) too.")
        if problem := _image_problem(instance["lastFrame"], "lastFrame"):
            return _refuse(problem)
    references = instance.get("referenceImages", [])
    if not isinstance(references, list) or len(references) > MAX_REFERENCES:
        return _refuse(f"referenceImages takes at most {MAX_REFERENCES} images.")
    for index, reference in enumerate(references):
        # The SDK sends its enum's name, "ASSET"; the REST reference writes "asset". Both are one value.
        if not isinstance(reference, dict) or str(reference.get("referenceType", "")).lower() != "asset":
            return _refuse(f'referenceImages[{index}].referenceType must be "asset" ("ASSET").')
        if problem := _image_problem(reference.get("image"), f"referenceImages[{index}].image"):
            return _refuse(problem)

    aspect = parameters.get("aspectRatio", "16:9")
    if aspect not in ASPECTS:
        return _refuse("aspectRatio must be 16:9 or 9:16.")
    resolution = parameters.get("resolution", "720p")
    if resolution not in RESOLUTIONS:
        return _refuse("resolution must be 720p, 1080p or 4k.")
    if resolution == "4k" and MODELS[model] == "lite":
        return _refuse(f"4k is not supported by {model}.")
    duration = parameters.get("durationSeconds", 8)
    if not isinstance(duration, int) or isinstance(duration, bool) or duration not in DURATIONS:
        return _refuse("durationSeconds must be 4, 6 or 8.")
    if resolution in ("1080p", "4k") and duration != 8:
        return _refuse("1080p and 4k resolutions need durationSeconds 8.")
    if references and (duration != 8 or aspect != "16:9"):
        return _refuse("referenceImages need durationSeconds 8 and aspectRatio 16:9.")
    if not isinstance(parameters.get("negativePrompt", ""), str):
        return _refuse("negativePrompt must be a string.")
    if str(parameters.get("personGeneration", "allow_all")).lower() not in PERSONS:
        return _refuse("personGeneration must be allow_all, allow_adult or dont_allow (either case).")
    if not isinstance(parameters.get("enhancePrompt", True), bool):
        return _refuse("enhancePrompt must be a boolean.")
    samples = parameters.get("sampleCount", 1)
    if not isinstance(samples, int) or isinstance(samples, bool) or not 1 <= samples <= MAX_SAMPLES:
        return _refuse(f"sampleCount must be an integer from 1 to {MAX_SAMPLES}.")
    return None


def _prompt(body: dict) -> str:
    instance = (body.get("instances") or [{}])[0]
    return instance.get("prompt") or ""


@WIRE.simulated()
@require_POST
def submit(request: HttpRequest, model: str) -> HttpResponse:
    if refusal := _key_refusal(request):
        return refusal
    if model in PREVIEWS and settings.SIMULATOR.get("gemini_previews_retired", True):
        return engine.google_error(404, f"models/{model} is no longer available.", "NOT_FOUND")
    if model not in MODELS:
        return engine.google_error(
            404,
            f"models/{model} is not found for API version v1beta, or is not supported for predictLongRunning.",
            "NOT_FOUND",
        )
    body = engine.json_body(request)
    if body is None:
        return _refuse("Invalid JSON payload received.")
    if refusal := validate(body, model):
        return refusal
    prompt = _prompt(body)
    if limited := WIRE.rate_limited(prompt):
        return limited
    failed = FAILED_MARKER in prompt.lower().split()
    job_id = secrets.token_hex(12)
    # Each sample is its own video, rendered as its own job; the first is the operation's.
    job, *_ = [
        engine.new_job(
            route=ROUTE,
            model=model,
            request=body,
            prompt=prompt,
            quality=MODELS[model] == "quality",
            picture=None if failed else _picture(model, body, index=index),
            job_id=_sample_id(job_id, index),
        )
        for index in range(_sample_count(body))
    ]
    answer = {"name": _operation_name(job)}
    return engine.receipt(job, answer)


@WIRE.simulated()
@require_GET
def operation(request: HttpRequest, model: str, job_id: str) -> HttpResponse:
    if refusal := _key_refusal(request):
        return refusal
    job = SimulatedJob.objects.filter(pk=job_id, route=ROUTE, model=model).first()
    if job is None:
        return engine.google_error(404, "Requested entity was not found.", "NOT_FOUND")
    if fault := engine.poll_fault(job):
        if fault.status_code >= 500:
            return engine.google_error(500, "Internal error encountered.", "INTERNAL")
        return fault
    phase = engine.polled(job).phase
    answer: dict = {"name": _operation_name(job)}
    if phase == "running":
        answer["done"] = False
    if phase not in ("done", "failed"):
        # Google's JSON leaves out false booleans, so early answers carry no `done` at all.
        return JsonResponse(answer)
    if _failed(job) or (phase == "failed" and not job.has(engine.BLOCK_MARKER)):
        answer["done"] = True
        answer["error"] = {"code": 13, "message": "Video generation failed due to an internal error."}
        return JsonResponse(answer)
    outcome: dict
    if filtered := [marker for marker in RAI_REASONS if job.has(marker)]:
        outcome = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [RAI_REASONS[filtered[0]]]}
    elif job.has("#empty"):
        outcome = {"generatedSamples": []}
    else:
        samples = [job, *_other_samples(job)]
        if any(engine.polled(sample).phase != "done" for sample in samples[1:]):
            answer["done"] = False  # the operation is done when every sample is
            return JsonResponse(answer)
        prefix = request.path[: -len(f"v1beta/models/{model}/operations/{job_id}")]
        outcome = {"generatedSamples": [{"video": _video(request, prefix, sample)} for sample in samples]}
    answer["done"] = True
    answer["response"] = {"@type": RESPONSE_TYPE, "generateVideoResponse": outcome}
    return JsonResponse(answer)


def _video(request: HttpRequest, prefix: str, sample: SimulatedJob) -> dict:
    """One sample's video: inline under #inline (as google-genai reads it), else Google's https file URI.

    The URI is https even though tests serve the simulator over plain http on loopback: google-genai's
    `files.download` only takes a file id out of an `https://…/files/{id}…` URI (`t_file_name`), then
    fetches `{its own base URL}/files/{id}:download?alt=media`; our adapter does the same.
    """
    if INLINE_MARKER in _prompt(sample.request).lower().split():
        with sample.video.open("rb") as handle:
            data = handle.read()
        return {"encodedVideo": base64.b64encode(data).decode(), "encoding": "video/mp4"}
    return {"uri": f"https://{request.get_host()}{prefix}v1beta/files/{sample.id}:download?alt=media"}


@WIRE.simulated(download=True)
@require_GET
def file_download(request: HttpRequest, file_id: str) -> HttpResponse:
    """The file URL Google hands out: needs the key, then redirects to a signed location."""
    if refusal := _key_refusal(request):
        return refusal
    job = WIRE.job(file_id)
    if not _has_video(job):
        return engine.google_error(404, "Requested entity was not found.", "NOT_FOUND")
    prefix = request.path[: -len(f"v1beta/files/{file_id}:download")]
    return HttpResponseRedirect(f"{prefix}download/{job.id}?signature={SIGNER.signature(job.id)}")


@WIRE.simulated(download=True)
@require_GET
def signed_download(request: HttpRequest, job_id: str) -> HttpResponseBase:
    if not secrets.compare_digest(request.GET.get("signature", ""), SIGNER.signature(job_id)):
        return engine.google_error(403, "The signature of this link does not match.", "PERMISSION_DENIED")
    job = WIRE.job(job_id)
    if not _has_video(job):
        return engine.google_error(404, "Requested entity was not found.", "NOT_FOUND")
    if job.has("#expired"):
        return engine.google_error(403, "This signed link has expired.", "PERMISSION_DENIED")
    return engine.video_response(request, job)


def _picture(model: str, body: dict, *, index: int = 0) -> engine.Picture:
    """What the video of a validated request shows, always with a sound track (the Gemini API has no silent mode)."""
    parameters = body.get("parameters", {})
    count = _sample_count(body)
    return engine.Picture(
        resolution=parameters.get("resolution", "720p"),
        aspect_ratio=parameters.get("aspectRatio", "16:9"),
        duration_s=parameters.get("durationSeconds", 8),
        audio=True,
        tier_label=f"{MODELS[model].upper()} tier" + (f" · sample {index + 1} of {count}" if count > 1 else ""),
        prompt=_prompt(body),
        seed=None,  # the Gemini API takes no seed
    )


def _sample_count(body: dict) -> int:
    return int((body.get("parameters") or {}).get("sampleCount", 1))


def _sample_id(job_id: str, index: int) -> str:
    # Lower-case letters and digits only: google-genai reads a file id as `[a-z0-9]+`.
    return job_id if index == 0 else f"{job_id}s{index}"


def _other_samples(job: SimulatedJob) -> list[SimulatedJob]:
    """The operation's samples after the first, in order."""
    ids = [_sample_id(job.id, index) for index in range(1, _sample_count(job.request))]
    found = {sample.id: sample for sample in SimulatedJob.objects.filter(route=ROUTE, pk__in=ids)}
    return [found[sample_id] for sample_id in ids if sample_id in found]


def _operation_name(job: SimulatedJob) -> str:
    return f"models/{job.model}/operations/{job.id}"


def _failed(job: SimulatedJob) -> bool:
    return FAILED_MARKER in _prompt(job.request).lower().split()


def _has_video(job: SimulatedJob | None) -> TypeGuard[SimulatedJob]:
    return job is not None and engine.has_video(job) and not _failed(job)


urlpatterns = [
    re_path(r"^v1beta/models/(?P<model>[^/:]+):predictLongRunning$", submit),
    re_path(r"^v1beta/models/(?P<model>[^/:]+)/operations/(?P<job_id>[^/]+)$", operation),
    re_path(r"^v1beta/files/(?P<file_id>[^/:]+):download$", file_download),
    path("download/<str:job_id>", signed_download),
]
