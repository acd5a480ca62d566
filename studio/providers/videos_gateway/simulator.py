"""Simulated route 4: the `/v1/videos` gateway of seed 004, with the seed's limits.

Business failures (validation, unknown model) answer HTTP 200 with an error
object, as the seed documents; a missing key or one the simulator did not
issue answers 401. The job says SUCCESS once a worker has rendered its video;
until then it is IN_PROGRESS, and its content is 404.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from studio.simulator import engine

ROUTE = "videos-gateway"
MODELS = {
    "veo-3.1-generate-preview": "quality",
    "veo-3.1-fast-generate-preview": "fast",
    "veo-3.1-lite-generate-preview": "lite",
}
RESOLUTIONS = ("720p", "1080p", "4k")
DURATIONS = (4, 6, 8)
ASPECTS = ("16:9", "9:16")
PERSONS = ("allow_all", "allow_adult", "disallow")
WIRE = engine.Wire(
    route=ROUTE,
    rate_limit=lambda: engine.error_json(429, "Rate limit exceeded", type_="rate_limit_error", code="rate_limited"),
)
PHASES = {
    "submitted": "SUBMITTED",
    "queued": "QUEUED",
    "running": "IN_PROGRESS",
    "done": "SUCCESS",
    "failed": "FAILURE",
}


def _authorized(request: HttpRequest) -> bool:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and engine.key_is_valid(key.strip())


def _unauthorized() -> JsonResponse:
    return engine.error_json(401, "Invalid API key", type_="authentication_error", code="invalid_api_key")


def _refuse(message: str, code: str = "invalid_parameter") -> JsonResponse:
    # Seed 004: business failures are HTTP 200 with an error object.
    return engine.error_json(200, message, type_="invalid_request_error", code=code)


def validate(body: dict) -> JsonResponse | None:
    model = body.get("model")
    if model not in MODELS:
        return _refuse(f"Unknown model {model!r}", "model_not_found")
    has_image = any(body.get(k) for k in ("image", "images", "lastFrameImage", "input_reference"))
    prompt = body.get("prompt")
    if not has_image and (not isinstance(prompt, str) or not prompt.strip()):
        return _refuse("prompt is required for text-to-video")
    resolution = body.get("resolution", body.get("size", "720p"))
    if resolution not in RESOLUTIONS:
        return _refuse(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    if resolution == "4k" and MODELS[model] == "lite":
        return _refuse("4k is not available on veo-3.1-lite-generate-preview")
    try:
        duration = int(body.get("duration", body.get("seconds", 8)))
    except (TypeError, ValueError):
        return _refuse("duration must be 4, 6 or 8")
    if duration not in DURATIONS:
        return _refuse("duration must be 4, 6 or 8")
    if resolution in ("1080p", "4k") and duration != 8:
        return _refuse("1080p and 4k resolutions only support 8-second duration")
    if body.get("aspect_ratio", "16:9") not in ASPECTS:
        return _refuse("aspect_ratio must be 16:9 or 9:16")
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 2**32 - 1):
        return _refuse("seed must be an integer from 0 to 4294967295")
    if body.get("person_generation") not in (None, *PERSONS):
        return _refuse("person_generation must be allow_all, allow_adult or disallow")
    for flag in ("generate_audio", "enhance_prompt"):
        if flag in body and not isinstance(body[flag], bool):
            return _refuse(f"{flag} must be true or false")
    return None


@WIRE.simulated()
@require_POST
def submit(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return _unauthorized()
    body = engine.json_body(request)
    if body is None:
        return engine.error_json(400, "Body must be a JSON object", type_="invalid_request_error", code="bad_json")
    if refusal := validate(body):
        return refusal
    if limited := WIRE.rate_limited(body.get("prompt", "")):
        return limited
    job = engine.new_job(
        route=ROUTE,
        model=body["model"],
        request=body,
        prompt=body.get("prompt", ""),
        quality=MODELS[body["model"]] == "quality",
        picture=_picture(body),
    )
    receipt = {
        "id": job.id,
        "task_id": job.id,
        "object": "video",
        "model": job.model,
        "status": "QUEUED",
        "progress": 0,
        "created_at": int(job.created_at.timestamp()),
    }
    return engine.receipt(job, receipt)


@WIRE.simulated()
@require_GET
def status(request: HttpRequest, job_id: str) -> HttpResponse:
    if not _authorized(request):
        return _unauthorized()
    job = WIRE.job(job_id)
    if job is None:
        return engine.error_json(404, f"Task {job_id} not found", type_="invalid_request_error", code="not_found")
    if fault := engine.poll_fault(job):
        return fault
    now = engine.polled(job)
    answer = {
        "id": job.id,
        "task_id": job.id,
        "object": "video",
        "model": job.model,
        "status": PHASES[now.phase],
        "progress": f"{now.progress}%",
        "created_at": int(job.created_at.timestamp()),
    }
    if now.phase == "done" and job.has("#filtered"):
        answer["fail_reason"] = "The generated video was removed by the safety filter"
    elif now.phase == "done" and not job.has("#empty"):
        answer["result_url"] = f"/v1/videos/{job.id}/content"
    if now.phase == "failed":
        answer["fail_reason"] = job.fail_reason
    return JsonResponse(answer)


def _picture(body: dict) -> engine.Picture:
    """What the video of a validated request shows."""
    return engine.Picture(
        resolution=body.get("resolution", body.get("size", "720p")),
        aspect_ratio=body.get("aspect_ratio", "16:9"),
        duration_s=int(body.get("duration", body.get("seconds", 8))),
        audio=body.get("generate_audio") is True,
        tier_label=f"{MODELS[body['model']].upper()} tier",
        prompt=body.get("prompt", ""),
        seed=body.get("seed"),
    )


@WIRE.simulated(download=True)
@require_GET
def content(request: HttpRequest, job_id: str):
    if not _authorized(request):
        return _unauthorized()
    job = WIRE.job(job_id)
    if job is not None and job.awaits_video:
        return engine.error_json(404, "The video is not ready yet", type_="invalid_request_error", code="not_ready")
    if not engine.has_video(job):
        return engine.error_json(404, "No video for this task", type_="invalid_request_error", code="not_found")
    return engine.video_response(request, job)


urlpatterns = [
    path("v1/videos", submit),
    path("v1/video/generations", submit),
    path("v1/videos/<str:job_id>", status),
    path("v1/video/generations/<str:job_id>", status),
    path("v1/videos/<str:job_id>/content", content),
]
