"""Simulated route 1: the "tasks API" of seeds 000 and 001, with the seeds' limits.

Paths, header (`x-api-key`), field names and answers are the seeds'. Where the
seeds are silent the simulator assumes, and says so here:
- the poll path `GET v1/tasks/<task_id>` (the seeds give only the answer);
- the error body `{"error": {"code", "message"}}` with the HTTP status;
- the in-flight status `running` (only `queued` and `completed` are
  documented) and a `progress` integer, which is simulator-only;
- `estimated_credits`/`credits` at $0.11/s for veo-3.1 and $0.045/s for
  veo-3.1-fast, the rates that make the seeds' examples (0.55 for 5 s, 0.18
  for 4 s) come out; they are not a rate card;
- the pre-signed video link `cdn/download/<task_id>.mp4?expires=…&sig=…`,
  served without a key; a wrong signature or a link past its 24 h is 403.

Keys: only those the simulator issued (`manage.py simulator_key`) are
accepted; an issued "sim-nofunds…" answers 402 (empty wallet) and
"sim-noscope…" 403 (scope), so both can be demonstrated
(`manage.py simulator_key --prefix sim-nofunds-`).

The job says "completed" once a worker has rendered its video; until then it
is "running" at 99, and the video link answers 404.

Prompt markers (see engine.FAULTS): #blocked is refused at submit with 451,
as the seeds document; #ratelimit is 429 with Retry-After: 1; #filtered ends
"completed" with no result and a safety error; #empty ends "completed" with a
result but no `video_url`; #lost, #poll500, #malformed, #slow, #never,
#truncated and #expired as in the engine. The route-local marker #failed
ends the job "failed" with an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from studio.simulator import engine
from studio.simulator.models import SimulatedJob

ROUTE = "tasks-api"


@dataclass(frozen=True)
class Limits:
    """What one model of the seeds takes, and what it costs."""

    durations: range
    resolutions: tuple[str, ...]
    default: str  # the resolution when none is asked for
    usd_per_second: Decimal
    quality: bool


MODELS = {
    "veo-3.1": Limits(
        durations=range(1, 9),
        resolutions=("720p", "1080p"),
        default="1080p",
        usd_per_second=Decimal("0.11"),
        quality=True,
    ),
    "veo-3.1-fast": Limits(
        durations=range(1, 6),
        resolutions=("720p",),
        default="720p",
        usd_per_second=Decimal("0.045"),
        quality=False,
    ),
}
ASPECTS = ("16:9", "9:16", "1:1")
PHASES = {"submitted": "queued", "queued": "queued", "running": "running", "done": "completed", "failed": "failed"}
FAILED_MARKER = "#failed"
WIRE = engine.Wire(
    route=ROUTE,
    rate_limit=lambda: _error(429, "rate_limited", "Too many requests; retry later"),
)
LINK_TTL_S = 24 * 3600


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _key_refusal(request: HttpRequest) -> JsonResponse | None:
    key = request.headers.get("x-api-key", "").strip()
    if not engine.key_is_valid(key):
        return _error(401, "unauthorized", "Missing or invalid x-api-key")
    if key.startswith("sim-nofunds"):
        return _error(402, "insufficient_credits", "Wallet balance is too low for this request")
    if key.startswith("sim-noscope"):
        return _error(403, "forbidden", "This API key is not allowed to use the tasks API")
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(body: dict) -> JsonResponse | None:
    model = body.get("model")
    if model not in MODELS:
        return _error(400, "invalid_model", f"Unknown model {model!r}; use veo-3.1 or veo-3.1-fast")
    limits = MODELS[model]
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return _error(400, "invalid_request", "prompt is required")
    duration = body.get("duration_seconds")
    low, high = limits.durations[0], limits.durations[-1]
    if not _is_int(duration) or duration not in limits.durations:
        return _error(400, "invalid_duration", f"duration_seconds must be an integer from {low} to {high} for {model}")
    if body.get("resolution", limits.default) not in limits.resolutions:
        return _error(
            400, "unsupported_resolution", f"resolution must be {' or '.join(limits.resolutions)} for {model}"
        )
    if body.get("aspect_ratio", "16:9") not in ASPECTS:
        return _error(400, "invalid_aspect_ratio", "aspect_ratio must be 16:9, 9:16 or 1:1")
    if "seed" in body and not _is_int(body["seed"]):
        return _error(400, "invalid_seed", "seed must be an integer")
    image = body.get("image_init")
    if image is not None and (not isinstance(image, str) or not image.startswith(("http://", "https://"))):
        return _error(400, "invalid_image_init", "image_init must be the URL of an image")
    return None


def _credits(job: SimulatedJob) -> float:
    rate = MODELS[job.model].usd_per_second
    return float((rate * job.request["duration_seconds"]).quantize(Decimal("0.01")))


@WIRE.simulated()
@require_POST
def submit(request: HttpRequest) -> HttpResponse:
    if refusal := _key_refusal(request):
        return refusal
    body = engine.json_body(request)
    if body is None:
        return _error(400, "invalid_json", "Body must be a JSON object")
    if limited := WIRE.rate_limited(str(body.get("prompt", ""))):
        return limited
    if refusal := validate(body):
        return refusal
    if engine.BLOCK_MARKER in engine.faults_in(body["prompt"]):
        return _error(451, "content_blocked", "Prompt blocked by upstream safety")
    failed = FAILED_MARKER in body["prompt"].lower().split()
    job = engine.new_job(
        route=ROUTE,
        model=body["model"],
        request=body,
        prompt=body["prompt"],
        quality=MODELS[body["model"]].quality,
        picture=None if failed else _picture(body),
    )
    if failed:
        job.fail_reason = "Upstream generation failed: the model returned an internal error"
        job.save(update_fields=["fail_reason"])
    receipt = {
        "task_id": job.id,
        "status": "queued",
        "estimated_credits": _credits(job),
        "submitted_at": job.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return engine.receipt(job, receipt)


@WIRE.simulated()
@require_GET
def status(request: HttpRequest, job_id: str) -> HttpResponse:
    if refusal := _key_refusal(request):
        return refusal
    job = WIRE.job(job_id)
    if job is None:
        return _error(404, "not_found", f"Task {job_id} not found")
    if fault := engine.poll_fault(job):
        return fault
    now = engine.polled(job)
    answer: dict = {"task_id": job.id, "status": PHASES[now.phase], "progress": now.progress}
    if now.phase == "done":
        body = job.request
        answer["credits"] = _credits(job)
        if job.has("#filtered"):
            answer["credits"] = 0
            answer["result"] = None
            answer["error"] = {
                "code": "content_filtered",
                "message": "The generated video was removed by the upstream safety filter",
            }
        else:
            answer["result"] = {
                "duration_seconds": body["duration_seconds"],
                "resolution": body.get("resolution", MODELS[job.model].default),
            }
            if not job.has("#empty"):
                answer["result"]["video_url"] = request.build_absolute_uri(signed_path(job))
    if now.phase == "failed":
        answer["error"] = {"code": "generation_failed", "message": job.fail_reason}
    return JsonResponse(answer)


def signed_path(job: SimulatedJob) -> str:
    expires = int(job.created_at.timestamp()) + LINK_TTL_S
    return reverse(download, args=[job.id]) + f"?expires={expires}&sig={_signature(job.id, expires)}"


def _signature(job_id: str, expires: int) -> str:
    message = f"{job_id}:{expires}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


@WIRE.simulated(download=True)
@require_GET
def download(request: HttpRequest, job_id: str):
    # Pre-signed: no key is asked for, the signature and expiry are the permission.
    try:
        expires = int(request.GET.get("expires", ""))
    except ValueError:
        expires = 0
    if not hmac.compare_digest(request.GET.get("sig", ""), _signature(job_id, expires)):
        return _error(403, "signature_mismatch", "The request signature does not match")
    if time.time() > expires:
        return _error(403, "expired", "The signed URL has expired")
    job = WIRE.job(job_id)
    if job is not None and job.awaits_video:
        return _error(404, "not_ready", "The video is not ready yet")
    if not engine.has_video(job):
        return _error(404, "not_found", "No video for this task")
    return engine.video_response(request, job)


def _picture(body: dict) -> engine.Picture:
    """What the video of a validated request shows (the tasks API renders no sound)."""
    limits = MODELS[body["model"]]
    return engine.Picture(
        resolution=body.get("resolution", limits.default),
        aspect_ratio=body.get("aspect_ratio", "16:9"),
        duration_s=body["duration_seconds"],
        audio=False,
        tier_label="QUALITY tier" if limits.quality else "FAST tier",
        prompt=body["prompt"],
        seed=body.get("seed"),
    )


urlpatterns = [
    path("v1/tasks/submit", submit),
    path("v1/tasks/<str:job_id>", status),
    path("cdn/download/<str:job_id>.mp4", download),
]
