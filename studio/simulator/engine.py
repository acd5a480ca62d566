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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from studio.streaming import ranged_file_response

from .models import SimulatedJob, SimulatorRequest
from .render import render_clip

# Marker words in a prompt that steer the simulated outcome, for demos and
# tests. Each route module answers them in its own wire format.
FAULTS = {
    "#blocked": "the job ends blocked by the safety filter (not billed)",
    "#filtered": "the job reports done, but the result was removed by the safety filter",
    "#empty": "the job reports done with no video and no error",
    "#ratelimit": "the submit is refused with 429 and Retry-After: 1 (no job is made)",
    "#lost": "the submit makes the job, then the answer is cut off mid-body",
    "#poll500": "the first two status polls answer HTTP 500",
    "#malformed": "the first status poll answers with something that is not JSON",
    "#slow": "the job takes twenty times as long",
    "#never": "the job never finishes",
    "#truncated": "the first download breaks off halfway (Range resumes it)",
    "#expired": "the download link has expired (403)",
}
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


@dataclass(frozen=True)
class Wire:
    """What one simulated route says in its own way; everything else here is shared.

    `rate_limit` builds the route's 429 answer in its own error envelope (the
    engine adds Retry-After).
    """

    route: str
    rate_limit: Callable[[], HttpResponse]

    def simulated(self, *, download: bool = False, job_in_query: str = ""):
        """Mark a view as part of this route: no CSRF, every request logged (downloads tagged as such).

        The log names each request's job: from the URL's `job_id`, or from the
        query parameter `job_in_query` for routes that poll by query.
        """

        def wrap(view):
            @csrf_exempt
            @functools.wraps(view)
            def logged(request: HttpRequest, *args, **kwargs):
                entry = SimulatorRequest.objects.create(
                    route=self.route,
                    method=request.method or "",
                    path=self._loggable_path(request),
                    headers=self._loggable_headers(request),
                    body=request.body.decode("utf-8", "replace")[:20000],
                    job_id=kwargs.get("job_id") or (request.GET.get(job_in_query, "") if job_in_query else ""),
                    download=download,
                )
                response = view(request, *args, **kwargs)
                SimulatorRequest.objects.filter(pk=entry.pk).update(
                    status=response.status_code, job_id=getattr(response, _JOB_TAG, entry.job_id)
                )
                return response

            return logged

        return wrap

    def job(self, job_id: str) -> SimulatedJob | None:
        return SimulatedJob.objects.filter(pk=job_id, route=self.route).first()

    def rate_limited(self, prompt: str) -> HttpResponse | None:
        """The route's 429 when the prompt asks for one (#ratelimit); no job is made."""
        if "#ratelimit" not in faults_in(prompt):
            return None
        response = self.rate_limit()
        response["Retry-After"] = "1"
        return response

    def _loggable_headers(self, request: HttpRequest) -> dict[str, str]:
        # Keys are masked even here: the log is shown to tests and demos. Any
        # header that could carry one is, whichever route it was sent to.
        return {name: _masked(value) if _names_a_key(name) else value for name, value in request.headers.items()}

    def _loggable_path(self, request: HttpRequest) -> str:
        secret = [name for name in request.GET if _names_a_key(name)]
        if not secret:
            return request.get_full_path()
        query = request.GET.copy()
        for name in secret:
            # The last value, as `request.GET[name]` reads it (a str; the stubs allow a list).
            query[name] = _masked(str(query[name]))
        return f"{request.path}?{query.urlencode()}"


def _names_a_key(name: str) -> bool:
    """Authorization, or any header or query parameter named for a key (x-api-key, x-goog-api-key, key)."""
    name = name.lower()
    return name in ("authorization", "key") or name.endswith(("-key", "_key"))


def _masked(value: str) -> str:
    return value[:12] + "…" if len(value) > 12 else "…"


def key_is_valid(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and len(key) > len(KEY_PREFIX)


def has_video(job: SimulatedJob | None) -> TypeGuard[SimulatedJob]:
    """Whether the job ended with a video to download (not #empty, not removed by #filtered)."""
    return job is not None and moment(job).phase == "done" and not job.has("#empty") and not job.has("#filtered")


def json_body(request: HttpRequest) -> dict | None:
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def faults_in(prompt: str) -> set[str]:
    words = set(prompt.lower().split())
    return {fault for fault in FAULTS if fault in words}


def new_job(
    *, route: str, model: str, request: dict, prompt: str, quality: bool, job_id: str | None = None
) -> SimulatedJob:
    timing = settings.SIMULATOR
    faults = faults_in(prompt)
    fail_reason = ""
    if BLOCK_MARKER in faults:
        fail_reason = "Content blocked by the safety policy: the prompt was flagged by the RAI filter"
    seconds = timing["final_seconds"] if quality else timing["draft_seconds"]
    return SimulatedJob.objects.create(
        id=job_id or f"task_{secrets.token_hex(12)}",
        route=route,
        model=model,
        request=request,
        render_seconds=seconds * (20 if "#slow" in faults else 1),
        fail_reason=fail_reason,
        faults=" ".join(sorted(faults)),
    )


def status_polls(job: SimulatedJob) -> int:
    """How many status requests this job has had, the current one included."""
    return SimulatorRequest.objects.filter(job_id=job.id, method="GET", download=False).count()


def downloads(job: SimulatedJob) -> int:
    """How many download requests this job has had, the current one included."""
    return SimulatorRequest.objects.filter(job_id=job.id, method="GET", download=True).count()


def poll_fault(job: SimulatedJob) -> HttpResponse | None:
    """The route-neutral answer to a poll that should fail, or None."""
    polls = status_polls(job)
    if job.has("#poll500") and polls <= 2:
        return JsonResponse({"error": {"message": "upstream error", "code": 500}}, status=500)
    if job.has("#malformed") and polls <= 1:
        return HttpResponse("<html>502 Bad Gateway</html>", status=200, content_type="text/html")
    return None


def receipt(job: SimulatedJob, body: dict) -> HttpResponse:
    """A submit's answer, tagged with its job for the request log, or cut off under #lost."""
    response = _lost_answer(body) if job.has("#lost") else JsonResponse(body)
    return tag(response, job.id)


# The attribute on a response that names its job for the request log (read by `Wire.simulated`).
_JOB_TAG = "job_id"


def tag(response: HttpResponse, job_id: str) -> HttpResponse:
    """Tag an answer with its job, so the request log files it under that job."""
    setattr(response, _JOB_TAG, job_id)
    return response


def _lost_answer(body: dict) -> HttpResponse:
    """An answer cut off after the job was made: it promises more bytes than it sends."""
    data = json.dumps(body).encode()
    response = HttpResponse(data[: len(data) // 2], content_type="application/json")
    response["Content-Length"] = str(len(data))
    return response


def video_response(request: HttpRequest, job: SimulatedJob, path: Path) -> HttpResponseBase:
    """The video with Range support, or the download fault this job asks for."""
    if job.has("#expired"):
        return JsonResponse({"error": {"message": "The signed URL has expired", "code": 403}}, status=403)
    if job.has("#truncated") and downloads(job) <= 1 and "Range" not in request.headers:
        size = path.stat().st_size
        response = StreamingHttpResponse(_first_half(path), content_type="video/mp4")
        response["Content-Length"] = str(size)
        response["Accept-Ranges"] = "bytes"
        return response
    return ranged_file_response(request, path, content_type="video/mp4")


def _first_half(path: Path):
    # The body ends short of its Content-Length: gunicorn then hangs up (a cut),
    # Django's test server keeps the connection open (a stall until the
    # client's read timeout). Both are what a client must resume from.
    with path.open("rb") as handle:
        yield handle.read(path.stat().st_size // 2)


@dataclass(frozen=True)
class Moment:
    """Where a job is on its timeline, in neutral words each route translates."""

    phase: str  # submitted | queued | running | done | failed
    progress: int


def moment(job: SimulatedJob) -> Moment:
    elapsed = (timezone.now() - job.created_at).total_seconds()
    span = max(job.render_seconds, 0.001)
    if job.has("#never"):
        elapsed = min(elapsed, 0.9 * span)
    if elapsed >= span:
        return Moment("failed" if job.fail_reason else "done", 100)
    if elapsed < 0.05 * span:
        return Moment("submitted", 0)
    if elapsed < 0.2 * span:
        return Moment("queued", 0)
    return Moment("running", min(99, int(100 * elapsed / span)))


def video_path(
    job: SimulatedJob,
    *,
    resolution: str,
    aspect_ratio: str,
    duration_s: float,
    audio: bool,
    tier_label: str,
    prompt: str,
    seed: int | None,
) -> Path:
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
