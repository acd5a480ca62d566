"""What every simulated route shares: keys, the request log, a job's timeline and its video.

Each route module under this package speaks its own paths and field names on
top of these. A job's state is computed from the time since it was accepted,
so the simulator needs no worker of its own and any number of web processes
can serve it.
"""

from __future__ import annotations

import functools
import json
import secrets
import textwrap
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .models import SimulatedJob, SimulatorRequest
from .render import render_clip

# Marker words in a prompt that steer the simulated outcome, for demos and tests.
BLOCK_MARKER = "#blocked"

# Keys the simulator accepts: anything starting with this. Others get 401.
KEY_PREFIX = "sim-"

SIZES = {
    ("720p", "16:9"): (1280, 720),
    ("720p", "9:16"): (720, 1280),
    ("720p", "1:1"): (720, 720),
    ("1080p", "16:9"): (1920, 1080),
    ("1080p", "9:16"): (1080, 1920),
    ("1080p", "1:1"): (1080, 1080),
    ("4k", "16:9"): (3840, 2160),
    ("4k", "9:16"): (2160, 3840),
}


def simulated(route: str):
    """Mark a view as part of one simulated route: no CSRF, every request logged."""

    def wrap(view):
        @csrf_exempt
        @functools.wraps(view)
        def logged(request: HttpRequest, *args, **kwargs):
            entry = SimulatorRequest.objects.create(
                route=route,
                method=request.method,
                path=request.get_full_path(),
                headers=_loggable_headers(request),
                body=request.body.decode("utf-8", "replace")[:20000],
                job_id=kwargs.get("job_id", ""),
            )
            response = view(request, *args, **kwargs)
            SimulatorRequest.objects.filter(pk=entry.pk).update(
                status=response.status_code, job_id=getattr(response, "job_id", entry.job_id)
            )
            return response

        return logged

    return wrap


def _loggable_headers(request: HttpRequest) -> dict[str, str]:
    # Keys are masked even here: the log is shown to tests and demos.
    masked = {}
    for name, value in request.headers.items():
        if name.lower() in {"authorization", "x-api-key", "x-goog-api-key"}:
            value = value[:12] + "…" if len(value) > 12 else "…"
        masked[name] = value
    return masked


def key_is_valid(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX)


def json_body(request: HttpRequest) -> dict | None:
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def new_job(*, route: str, model: str, request: dict, prompt: str, quality: bool) -> SimulatedJob:
    timing = settings.SIMULATOR
    fail_reason = ""
    if BLOCK_MARKER in prompt.lower():
        fail_reason = "Content blocked by the safety policy: the prompt was flagged by the RAI filter"
    return SimulatedJob.objects.create(
        id=f"task_{secrets.token_hex(12)}",
        route=route,
        model=model,
        request=request,
        render_seconds=timing["final_seconds"] if quality else timing["draft_seconds"],
        fail_reason=fail_reason,
    )


@dataclass(frozen=True)
class Moment:
    """Where a job is on its timeline, in neutral words each route translates."""

    phase: str  # submitted | queued | running | done | failed
    progress: int


def moment(job: SimulatedJob) -> Moment:
    elapsed = (timezone.now() - job.created_at).total_seconds()
    span = max(job.render_seconds, 0.001)
    if elapsed >= span:
        return Moment("failed" if job.fail_reason else "done", 100)
    if elapsed < 0.05 * span:
        return Moment("submitted", 0)
    if elapsed < 0.2 * span:
        return Moment("queued", 0)
    return Moment("running", min(99, int(100 * elapsed / span)))


def video_path(job: SimulatedJob, *, resolution: str, aspect_ratio: str, duration_s: float, audio: bool,
               tier_label: str, prompt: str, seed: int | None) -> Path:
    """The job's MP4, rendered on first request and kept."""
    path = Path(settings.MEDIA_ROOT) / "simulator" / f"{job.id}.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        width, height = SIZES[(resolution, aspect_ratio)]
        wrap_at = max(24, width // 28)
        lines = textwrap.wrap(prompt, wrap_at)[:5] or ["(no prompt)"]
        lines += [
            f"{tier_label} · {job.model}",
            f"seed {seed if seed is not None else 'random'} · {resolution} {aspect_ratio} · "
            f"{duration_s:g}s · {'audio' if audio else 'silent'}",
        ]
        render_clip(
            path,
            width=width,
            height=height,
            duration_s=duration_s,
            audio=audio,
            title_lines=lines,
            seed=seed if seed is not None else 0,
        )
    return path


def error_json(status: int, message: str, *, type_: str, code: str) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": type_, "code": code}}, status=status)
