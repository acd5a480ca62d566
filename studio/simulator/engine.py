"""What every simulated route shares: keys, the request log, a job's timeline and its video.

Each route module under `studio/providers/<route>/simulator.py` speaks its own
paths and field names on top of these. A job's state is computed from the time
since it was accepted and from whether its video has been rendered, so any
number of web processes can serve it. The render itself runs in a worker
(`worker.render_video`), never in a web request.

It answers only keys it issued (`issue_key`), and keeps only its last
`SIMULATOR_LOG_ROWS` requests.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeGuard

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from studio.storage import read_range
from studio.streaming import ranged_storage_response

from .models import SimulatedJob, SimulatorKey, SimulatorRequest
from .worker import Picture, nobody_rendering, queue_render  # routes describe each job's video with `engine.Picture`

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

# How every key the simulator issues begins (routes give some longer prefixes a meaning, e.g.
# an empty wallet). Only issued keys are accepted; any other answers the route's 401.
KEY_PREFIX = "sim-"

# A job's render is asked of the queue this long before its timeline ends (at once for the
# usual few seconds), so a far-off job costs nothing yet; and asked again when no worker took
# it on within RENDER_ASK_AGAIN (the message was lost, or the broker was down).
RENDER_HEAD_START = timedelta(seconds=30)
RENDER_ASK_AGAIN = timedelta(seconds=60)


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
                _read_large_body(request)
                entry = SimulatorRequest.objects.create(
                    route=self.route,
                    method=request.method or "",
                    path=self._loggable_path(request),
                    headers=self._loggable_headers(request),
                    body=self._loggable_body(request),
                    job_id=kwargs.get("job_id") or (request.GET.get(job_in_query, "") if job_in_query else ""),
                    download=download,
                )
                _forget_requests_before(entry.pk)
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

    def _loggable_body(self, request: HttpRequest) -> str:
        # No database stores a NUL in text (PostgreSQL refuses it); the log shows where it was.
        body = request.body.decode("utf-8", "replace").replace("\x00", "\ufffd")[:20000]
        if request.content_type != "application/x-www-form-urlencoded":
            return body
        # A token request's signed assertion (route 6) is as good as a key for an hour: masked too.
        form = QueryDict(body, mutable=True)
        for name in [name for name in form if _names_a_key(name) or name in _FORM_SECRETS]:
            form[name] = _masked(str(form[name]))
        return form.urlencode()

    def _loggable_path(self, request: HttpRequest) -> str:
        secret = [name for name in request.GET if _names_a_key(name)]
        if not secret:
            return request.get_full_path()
        query = request.GET.copy()
        for name in secret:
            # The last value, as `request.GET[name]` reads it (a str; the stubs allow a list).
            query[name] = _masked(str(query[name]))
        return f"{request.path}?{query.urlencode()}"


# Providers take requests far larger than Django's form limit (route 6 takes a clip to extend inline).
SIMULATED_BODY_MAX = 32 * 1024 * 1024


def _read_large_body(request: HttpRequest) -> None:
    """Read a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django would refuse it) up to the simulator's own limit,
    where `request.body` keeps it, as Django does once it has read one."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if settings.DATA_UPLOAD_MAX_MEMORY_SIZE is not None and settings.DATA_UPLOAD_MAX_MEMORY_SIZE < length:
        if length <= SIMULATED_BODY_MAX:
            body = request.read(length)
            request._body = body  # Django's own cache of a body it has read
            request._stream = io.BytesIO(body)


def _forget_requests_before(newest: int) -> None:
    """Keep only the last SIMULATOR_LOG_ROWS requests: one ranged DELETE on the primary key, never a count."""
    SimulatorRequest.objects.filter(pk__lte=newest - settings.SIMULATOR_LOG_ROWS).delete()


# Form fields of OAuth token requests that carry a credential.
_FORM_SECRETS = {"assertion", "client_secret", "refresh_token", "subject_token"}


def _names_a_key(name: str) -> bool:
    """Authorization, or any header or query parameter named for a key (x-api-key, x-goog-api-key, key)."""
    name = name.lower()
    return name in ("authorization", "key") or name.endswith(("-key", "_key"))


def _masked(value: str) -> str:
    return value[:12] + "…" if len(value) > 12 else "…"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(key: str | None = None, *, prefix: str = KEY_PREFIX) -> str:
    """A key the simulator accepts from now on: a new random one (starting with `prefix`), or this one.

    Only its digest is kept here; whoever holds the key (a provider account) stores it encrypted.
    """
    key = key or f"{prefix}{secrets.token_urlsafe(24)}"
    SimulatorKey.objects.get_or_create(digest=_digest(key))
    return key


def key_is_valid(key: str) -> bool:
    """Whether the simulator issued this key."""
    return bool(key) and SimulatorKey.objects.filter(digest=_digest(key)).exists()


def has_video(job: SimulatedJob | None) -> TypeGuard[SimulatedJob]:
    """Whether the job ended with a video to download (rendered; not #empty, not removed by #filtered)."""
    return (
        job is not None
        and moment(job).phase == "done"
        and bool(job.video)
        and not job.has("#empty")
        and not job.has("#filtered")
    )


def json_body(request: HttpRequest) -> dict | None:
    """The body's JSON object, or None when it is none (or holds a NUL, which no database stores as text)."""
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) and not _holds_nul(body) else None


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def faults_in(prompt: str) -> set[str]:
    words = set(prompt.lower().split())
    return {fault for fault in FAULTS if fault in words}


# Jobs with these markers never have a video to render.
_NO_VIDEO = {"#blocked", "#filtered", "#empty", "#never"}


def new_job(
    *,
    route: str,
    model: str,
    request: dict,
    prompt: str,
    quality: bool,
    picture: Picture | None,
    job_id: str | None = None,
) -> SimulatedJob:
    """Accept a job. `picture` is what its video will show (None when the route knows it will have none)."""
    timing = settings.SIMULATOR
    faults = faults_in(prompt)
    fail_reason = ""
    if BLOCK_MARKER in faults:
        fail_reason = "Content blocked by the safety policy: the prompt was flagged by the RAI filter"
    seconds = timing["final_seconds"] if quality else timing["draft_seconds"]
    job = SimulatedJob.objects.create(
        id=job_id or f"task_{secrets.token_hex(12)}",
        route=route,
        model=model,
        request=request,
        render_seconds=seconds * (20 if "#slow" in faults else 1),
        fail_reason=fail_reason,
        faults=" ".join(sorted(faults)),
        picture=None if picture is None or faults & _NO_VIDEO else picture.as_json(),
    )
    ask_for_render(job)
    return job


def ask_for_render(job: SimulatedJob) -> None:
    """Queue the job's render once its end is near, unless it is queued, under way or done.

    Claimed by a conditional UPDATE, so of any number of web processes polling
    the same job one asks; and asked again when no worker took it on in time.
    """
    now = timezone.now()
    if (
        not job.awaits_video
        or job.created_at + timedelta(seconds=job.render_seconds) - now > RENDER_HEAD_START
        or (job.render_queued_at and job.render_queued_at >= now - RENDER_ASK_AGAIN)
    ):
        return  # as the row read a moment ago says: no write for the many polls that need none
    not_asked_lately = Q(render_queued_at__isnull=True) | Q(render_queued_at__lt=now - RENDER_ASK_AGAIN)
    asked = SimulatedJob.objects.filter(
        not_asked_lately, nobody_rendering(now), pk=job.pk, video="", fail_reason=""
    ).update(render_queued_at=now)
    if asked:
        queue_render(job.id)


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


def google_error(code: int, message: str, status: str, *, details: list | None = None) -> JsonResponse:
    """Google's error envelope, as both Google routes (5 and 6) answer a refusal."""
    error: dict = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return JsonResponse({"error": error}, status=code)


def video_response(request: HttpRequest, job: SimulatedJob) -> HttpResponseBase:
    """The rendered video from storage with Range support, or the download fault this job asks for."""
    if job.has("#expired"):
        return JsonResponse({"error": {"message": "The signed URL has expired", "code": 403}}, status=403)
    if job.has("#truncated") and downloads(job) <= 1 and "Range" not in request.headers:
        # The body ends short of its Content-Length: gunicorn then hangs up (a cut),
        # Django's test server keeps the connection open (a stall until the
        # client's read timeout). Both are what a client must resume from.
        size = job.video.size
        response = StreamingHttpResponse(read_range(job.video, 0, size // 2), content_type="video/mp4")
        response["Content-Length"] = str(size)
        response["Accept-Ranges"] = "bytes"
        return response
    return ranged_storage_response(request, job.video, content_type="video/mp4")


@dataclass(frozen=True)
class Moment:
    """Where a job is on its timeline, in neutral words each route translates."""

    phase: str  # submitted | queued | running | done | failed
    progress: int


def moment(job: SimulatedJob) -> Moment:
    """Where the job is now, read from the clock and the job's row (nothing is asked of anyone)."""
    elapsed = (timezone.now() - job.created_at).total_seconds()
    span = max(job.render_seconds, 0.001)
    if job.has("#never"):
        elapsed = min(elapsed, 0.9 * span)
    if elapsed >= span:
        if job.fail_reason:
            return Moment("failed", 100)
        if job.awaits_video:
            # Its time is up but no worker has finished its file: still running, as a provider
            # says while the file is being made, so "done" always has a video to download.
            return Moment("running", 99)
        return Moment("done", 100)
    if elapsed < 0.05 * span:
        return Moment("submitted", 0)
    if elapsed < 0.2 * span:
        return Moment("queued", 0)
    return Moment("running", min(99, int(100 * elapsed / span)))


def polled(job: SimulatedJob) -> Moment:
    """Where the job is, as a status poll sees it: a poll also asks for its render when due (`ask_for_render`)."""
    ask_for_render(job)
    return moment(job)


def error_json(status: int, message: str, *, type_: str, code: str) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": type_, "code": code}}, status=status)
