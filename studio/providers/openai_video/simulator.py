"""Simulated route 2: seed 002's "OpenAI Video" protocol for veo3.1, with its limits.

Errors are OpenAI-style `{"error": {"message", "type", "code"}}` with real HTTP
statuses; unknown fields are refused, as OpenAI's API does. The seed does not
say where `result_url` and `audio_url` point: here they are absolute URLs on
this host under `/download/`, served with the same Bearer auth and Range.
A worker renders both files; the job says `completed` once they exist.

Beyond the prompt markers of `engine.FAULTS`, `#failed` in a prompt ends the
job `failed` for a reason that is not safety, and an issued key starting with
`sim-no-credit` is an account with an empty wallet (402 `insufficient_quota`).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from studio.simulator import engine
from studio.simulator.models import SimulatedJob
from studio.streaming import ranged_storage_response

ROUTE = "openai-video"
MODELS = {"veo3.1": "quality", "veo3.1-fast": "fast"}
SIZES = {"1280x720": "720p", "1920x1080": "1080p"}
DURATIONS = (5, 10)
FIELDS = {"model", "prompt", "duration_seconds", "size", "audio", "source_image"}
PHASES = {
    "submitted": "queued",
    "queued": "queued",
    "running": "in_progress",
    "done": "completed",
    "failed": "failed",
}
NO_CREDIT_PREFIX = "sim-no-credit"
FAILED_MARKER = "#failed"
WIRE = engine.Wire(
    route=ROUTE,
    rate_limit=lambda: engine.error_json(
        429, "Rate limit reached for requests", type_="requests", code="rate_limit_exceeded"
    ),
)
DATA_URI = re.compile(r"^data:image/(png|jpeg|webp);base64,(.+)$", re.DOTALL)


def _key(request: HttpRequest) -> str | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and engine.key_is_valid(key) else None


def _unauthorized() -> JsonResponse:
    return engine.error_json(401, "Incorrect API key provided", type_="invalid_request_error", code="invalid_api_key")


def _refuse(message: str, code: str = "invalid_value") -> JsonResponse:
    return engine.error_json(400, message, type_="invalid_request_error", code=code)


def validate(body: dict) -> JsonResponse | None:
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        return _refuse(f"Unrecognized request argument supplied: {', '.join(unknown)}", "unknown_parameter")
    model = body.get("model")
    if model not in MODELS:
        return _refuse(f"The model {model!r} does not exist or you do not have access to it", "model_not_found")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return _refuse("prompt is required", "missing_required_parameter")
    duration = body.get("duration_seconds")
    if not isinstance(duration, int) or isinstance(duration, bool) or duration not in DURATIONS:
        return _refuse("duration_seconds must be 5 or 10")
    if body.get("size") not in SIZES:
        return _refuse("size must be 1280x720 or 1920x1080")
    audio = body.get("audio", False)
    if not isinstance(audio, bool):
        return _refuse("audio must be true or false")
    if audio and model == "veo3.1-fast":
        return _refuse("veo3.1-fast does not generate audio")
    if "source_image" in body and not _is_image(body["source_image"]):
        return _refuse("source_image must be an http(s) URL or a base64 data URI of a PNG, JPEG or WebP image")
    return None


def _is_image(value) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith(("http://", "https://")):
        return True
    match = DATA_URI.match(value)
    if not match:
        return False
    try:
        return bool(base64.b64decode(match.group(2), validate=True))
    except (binascii.Error, ValueError):
        return False


@WIRE.simulated()
@require_POST
def generations(request: HttpRequest) -> HttpResponse:
    key = _key(request)
    if key is None:
        return _unauthorized()
    if key.startswith(NO_CREDIT_PREFIX):
        return engine.error_json(
            402,
            "You exceeded your current quota, please check your plan and billing",
            type_="insufficient_quota",
            code="insufficient_quota",
        )
    body = engine.json_body(request)
    if body is None:
        return _refuse("We could not parse the JSON body of your request", "invalid_json")
    if refusal := validate(body):
        return refusal
    if limited := WIRE.rate_limited(body["prompt"]):
        return limited
    job = engine.new_job(
        route=ROUTE,
        model=body["model"],
        request=body,
        prompt=body["prompt"],
        quality=MODELS[body["model"]] == "quality",
        picture=None if FAILED_MARKER in body["prompt"].lower().split() else _picture(body),
        job_id=f"vtask_{secrets.token_hex(12)}",
    )
    receipt = {
        "task_id": job.id,
        "model": job.model,
        "status": "queued",
        "progress": 0,
        "created_at": int(job.created_at.timestamp()),
    }
    return engine.receipt(job, receipt)


def _picture(body: dict) -> engine.Picture:
    """What the video of a validated request shows; its sound, if asked for, also comes on its own."""
    audio = body.get("audio") is True
    return engine.Picture(
        resolution=SIZES[body["size"]],
        aspect_ratio="16:9",
        duration_s=body["duration_seconds"],
        audio=audio,
        tier_label=f"{MODELS[body['model']].upper()} tier",
        prompt=body["prompt"],
        seed=None,
        audio_track=audio,
    )


def _moment(job: SimulatedJob, *, poll: bool = False) -> engine.Moment:
    now = engine.polled(job) if poll else engine.moment(job)
    if now.phase == "done" and FAILED_MARKER in job.request["prompt"].lower().split():
        return engine.Moment("failed", 100)
    return now


def _not_found(job_id: str) -> JsonResponse:
    return engine.error_json(404, f"No task found with id {job_id!r}", type_="invalid_request_error", code="not_found")


@WIRE.simulated()
@require_GET
def task(request: HttpRequest, job_id: str) -> HttpResponse:
    if _key(request) is None:
        return _unauthorized()
    job = WIRE.job(job_id)
    if job is None:
        return _not_found(job_id)
    if fault := engine.poll_fault(job):
        return fault
    now = _moment(job, poll=True)
    answer = {
        "task_id": job.id,
        "model": job.model,
        "status": PHASES[now.phase],
        "progress": now.progress,
        "created_at": int(job.created_at.timestamp()),
        "result_url": None,
        "audio_url": None,
        "error": None,
    }
    if now.phase == "failed" and job.has(engine.BLOCK_MARKER):
        answer["error"] = {"code": "content_policy_violation", "message": job.fail_reason}
    elif now.phase == "failed":
        answer["error"] = {
            "code": "generation_failed",
            "message": "The model could not render this prompt",
        }
    elif now.phase == "done" and job.has("#filtered"):
        answer["error"] = {
            "code": "content_policy_violation",
            "message": "The generated video was removed by the safety system",
        }
    elif now.phase == "done" and not job.has("#empty"):
        # The files exist once the job says completed, so a download never waits on a render.
        base = request.build_absolute_uri(f"/simulator/{ROUTE}/v1/videos/tasks/{job.id}/download")
        answer["result_url"] = f"{base}/video.mp4"
        if job.audio:
            answer["audio_url"] = f"{base}/audio.m4a"
    return JsonResponse(answer)


def _downloadable(request: HttpRequest, job_id: str) -> SimulatedJob | JsonResponse:
    if _key(request) is None:
        return _unauthorized()
    job = WIRE.job(job_id)
    if not engine.has_video(job) or _moment(job).phase != "done":
        # Also while a worker is still rendering it: the job does not say completed until then.
        return _not_found(job_id)
    return job


@WIRE.simulated(download=True)
@require_GET
def video_file(request: HttpRequest, job_id: str):
    job = _downloadable(request, job_id)
    if not isinstance(job, SimulatedJob):
        return job
    return engine.video_response(request, job)


@WIRE.simulated(download=True)
@require_GET
def audio_file(request: HttpRequest, job_id: str):
    job = _downloadable(request, job_id)
    if not isinstance(job, SimulatedJob):
        return job
    if not job.audio:
        return _not_found(job_id)
    if job.has("#expired"):
        return JsonResponse({"error": {"message": "The signed URL has expired", "code": 403}}, status=403)
    return ranged_storage_response(request, job.audio, content_type="audio/mp4")


urlpatterns = [
    path("v1/videos/generations", generations),
    path("v1/videos/tasks/<str:job_id>", task),
    path("v1/videos/tasks/<str:job_id>/download/video.mp4", video_file),
    path("v1/videos/tasks/<str:job_id>/download/audio.m4a", audio_file),
]
