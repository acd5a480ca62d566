"""Simulated route 3: the generateTask / statusTask aggregator of seed 003, with its limits.

Paths, bearer key, field names and the `{code, message, data}` envelope are
the seed's. Where the seed is silent the simulator assumes, and says so here:
- errors answer their HTTP status (400, 401, 429) with `{"code", "message"}`
  carrying the same code; an unknown `taskId` is 404 in the same shape;
- `resultJson`, `failCode` and `failMsg` are "" until they mean something,
  `completeTime` and `costTime` null until the job ends;
- results are served without a key, like a CDN, at
  `download/<taskId>.mp4`: 8 s at 720p with audio (our assumption for Veo 3.1;
  `aspect_ratio: auto` renders 16:9);
- each `image_urls` entry is fetched at submit (5 s timeout); one that does
  not answer 200 with a JPG, PNG or WebP of at most 10 MB makes the job end
  `failed` with failCode `INVALID_IMAGE_URL`;
- the job stays `processing` until a worker has rendered its video, and its
  result link answers 404 until then;
- callback mode: a daemon thread started at submit sleeps until the job ends,
  then POSTs the poll envelope to `callback_url` twice (providers repeat
  deliveries), each time retrying up to 3 times while the receiver answers
  anything but 200. Every attempt is appended to `DELIVERIES` for tests.

Prompt markers (see engine.FAULTS): #blocked ends `failed` with failCode
CONTENT_VIOLATION; #filtered ends `success` with no result URLs but failCode
CONTENT_VIOLATION (the result was removed after rendering); #empty ends
`success` with an empty `resultUrls`; #ratelimit is 429 with Retry-After: 1;
#poll500 answers the first two polls with HTTP 500 in the envelope;
#malformed, #lost, #slow, #never, #truncated and #expired as in the engine.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from studio.simulator import engine
from studio.simulator.models import SimulatedJob

ROUTE = "aggregator"
MODEL = "veo-3-1"
REQUEST_TYPES = ("async", "callback")
PROVIDERS = ("auto", "value", "official")
MODES = ("quality", "fast")
ASPECTS = ("16:9", "9:16", "auto")
# generationType → (fewest, most) image_urls.
IMAGE_COUNTS = {"TEXT_2_VIDEO": (0, 0), "FIRST_AND_LAST_FRAMES_2_VIDEO": (1, 2), "REFERENCE_2_VIDEO": (1, 3)}
PHASES = {"submitted": "pending", "queued": "pending", "running": "processing", "done": "success", "failed": "failed"}
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TIMEOUT = httpx.Timeout(5.0)
INVALID_IMAGE = "INVALID_IMAGE_URL"
CALLBACK_RETRIES = 3
CALLBACK_RETRY_WAIT_S = 0.5
CALLBACK_REPEAT_AFTER_S = 0.3


@dataclass(frozen=True)
class Delivery:
    """One callback attempt the simulator made."""

    task_id: str
    url: str
    delivery: int  # 1 or 2: the same result is delivered twice
    attempt: int  # 1 + up to CALLBACK_RETRIES
    status: int  # the receiver's HTTP status; 0 when it did not answer
    body: dict
    at: datetime


DELIVERIES: list[Delivery] = []
WIRE = engine.Wire(route=ROUTE, rate_limit=lambda: _answer(429, "Rate limit exceeded"))


def _answer(status: int, message: str, data=None) -> JsonResponse:
    body = {"code": status, "message": message}
    if data is not None:
        body["data"] = data
    return JsonResponse(body, status=status)


def _authorized(request: HttpRequest) -> bool:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and engine.key_is_valid(key.strip())


def _unauthorized() -> JsonResponse:
    return _answer(401, "Invalid or missing API Key")


def validate(body: dict) -> str | None:
    """The seed's limits, as the message of a 400, or None."""
    request_type = body.get("request_type", "async")
    if request_type not in REQUEST_TYPES:
        return "request_type must be async or callback"
    callback_url = body.get("callback_url")
    if request_type == "callback" and not (
        isinstance(callback_url, str) and callback_url.startswith(("http://", "https://"))
    ):
        return "callback_url is required when request_type=callback"
    if body.get("provider", "auto") not in PROVIDERS:
        return "provider must be auto, value or official"
    given = body.get("input")
    if not isinstance(given, dict):
        return "input is required"
    kind = given.get("generationType")
    if kind not in IMAGE_COUNTS:
        return "input.generationType must be TEXT_2_VIDEO, FIRST_AND_LAST_FRAMES_2_VIDEO or REFERENCE_2_VIDEO"
    mode = given.get("mode")
    if mode not in MODES:
        return "input.mode must be quality or fast"
    prompt = given.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "input.prompt is required"
    aspect = given.get("aspect_ratio", "16:9")
    if aspect not in ASPECTS:
        return "input.aspect_ratio must be 16:9, 9:16 or auto"
    urls = given.get("image_urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
        return "input.image_urls must be a list of URLs"
    fewest, most = IMAGE_COUNTS[kind]
    if not fewest <= len(urls) <= most:
        if most == 0:
            return "TEXT_2_VIDEO takes no image_urls"
        return f"{kind} requires image_urls (max {most})"
    if kind == "REFERENCE_2_VIDEO" and (mode != "fast" or aspect != "16:9"):
        return "REFERENCE_2_VIDEO only supports fast mode and aspect_ratio 16:9"
    seed = given.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= 2**32 - 1):
        return "input.seed must be an integer from 0 to 4294967295"
    return None


def image_problem(url: str) -> str | None:
    """Why the provider could not use this image URL, or None."""
    try:
        with (
            httpx.Client(timeout=IMAGE_TIMEOUT, follow_redirects=True) as http,
            http.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_IMAGE_BYTES:
                    return "larger than 10MB"
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    if not data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) and not (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    ):
        return "not a JPG, PNG or WebP image"
    return None


@WIRE.simulated()
@require_POST
def generate_task(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return _unauthorized()
    body = engine.json_body(request)
    if body is None:
        return _answer(400, "Request body must be a JSON object")
    if refusal := validate(body):
        return _answer(400, refusal)
    given = body["input"]
    if limited := WIRE.rate_limited(given["prompt"]):
        return limited
    job = engine.new_job(
        route=ROUTE,
        model=f"{MODEL}/{given['mode']}",
        request=body,
        prompt=given["prompt"],
        quality=given["mode"] == "quality",
        picture=_picture(given),
    )
    for index, url in enumerate(given.get("image_urls", [])):
        if why := image_problem(url):
            job.fail_reason = f"{INVALID_IMAGE}: Cannot access image_urls[{index}] ({why})"
            SimulatedJob.objects.filter(pk=job.pk).update(fail_reason=job.fail_reason)
            break
    if body.get("request_type") == "callback" and not job.has("#never"):
        origin = request.build_absolute_uri("/").rstrip("/")
        threading.Thread(target=_deliver, args=(job, body["callback_url"], origin), daemon=True).start()
    receipt = {"code": 200, "message": "success", "data": {"taskId": job.id}}
    return engine.receipt(job, receipt)


@WIRE.simulated(job_in_query="taskId")
@require_GET
def status_task(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return _unauthorized()
    task_id = request.GET.get("taskId", "")
    if not task_id:
        return _answer(400, "taskId is required")
    job = WIRE.job(task_id)
    if job is None:
        return _answer(404, f"Task {task_id} not found")
    response: HttpResponse
    if job.has("#poll500") and engine.status_polls(job) <= 2:
        response = _answer(500, "Internal server error")
    elif fault := engine.poll_fault(job):
        response = fault
    else:
        origin = request.build_absolute_uri("/").rstrip("/")
        response = _answer(200, "success", status_data(job, origin=origin, now=engine.polled(job)))
    return engine.tag(response, job.id)


@WIRE.simulated(download=True)
@require_GET
def download(request: HttpRequest, job_id: str):
    # Result links are served without a key, as from a CDN.
    job = WIRE.job(job_id)
    if job is not None and job.awaits_video:
        return _answer(404, "The video is not ready yet")
    if not engine.has_video(job):
        return _answer(404, "No video for this task")
    return engine.video_response(request, job)


def _picture(given: dict) -> engine.Picture:
    """What the video of a validated request shows: 8 s at 720p with audio, as we assume Veo 3.1 gives."""
    aspect = given.get("aspect_ratio", "16:9")
    return engine.Picture(
        resolution="720p",
        aspect_ratio="16:9" if aspect == "auto" else aspect,
        duration_s=8,
        audio=True,
        tier_label=f"{given['mode'].upper()} mode",
        prompt=given["prompt"],
        seed=given.get("seed"),
    )


def status_data(job: SimulatedJob, *, origin: str, now: engine.Moment) -> dict:
    """The poll answer's `data` (and a callback's), as the job stands at `now`."""
    created_ms = int(job.created_at.timestamp() * 1000)
    data = {
        "taskId": job.id,
        "state": PHASES[now.phase],
        "resultJson": "",
        "failCode": "",
        "failMsg": "",
        "createTime": created_ms,
        "completeTime": None,
        "costTime": None,
    }
    if now.phase in ("done", "failed"):
        cost_ms = int(job.render_seconds * 1000)
        data["costTime"] = cost_ms
        data["completeTime"] = created_ms + cost_ms
    if now.phase == "done":
        urls = [] if job.has("#empty") or job.has("#filtered") else [origin + download_path(job)]
        data["resultJson"] = json.dumps({"resultUrls": urls})
        if job.has("#filtered"):
            data["failCode"] = "CONTENT_VIOLATION"
            data["failMsg"] = "The generated video was removed by the content safety filter"
    if now.phase == "failed":
        code, _, message = job.fail_reason.partition(": ")
        if code == INVALID_IMAGE:
            data["failCode"], data["failMsg"] = INVALID_IMAGE, message
        elif job.has(engine.BLOCK_MARKER):
            data["failCode"], data["failMsg"] = "CONTENT_VIOLATION", job.fail_reason
        else:
            data["failCode"], data["failMsg"] = "INTERNAL_ERROR", job.fail_reason
    return data


def _final_data(job: SimulatedJob, *, origin: str) -> dict | None:
    """The job's `data` once it has ended (its time up and its video rendered); None if it is gone first."""
    ends_at = job.created_at.timestamp() + job.render_seconds + 0.05
    time.sleep(max(0.0, ends_at - timezone.now().timestamp()))
    while True:
        try:
            current = SimulatedJob.objects.filter(pk=job.pk).first()
            if current is None:
                return None
            now = engine.polled(current)
            if now.phase in ("done", "failed"):
                return status_data(current, origin=origin, now=now)
        finally:
            # This thread's own connection, closed between looks: a thread must not hold one while it waits.
            connections.close_all()
        time.sleep(0.2)


def download_path(job: SimulatedJob) -> str:
    return reverse("simulator-aggregator-download", args=[job.id])


def _deliver(job: SimulatedJob, url: str, origin: str) -> None:
    """Call back once the job has ended: twice, each retried while the receiver says no."""
    data = _final_data(job, origin=origin)
    if data is None:
        return
    envelope = {"code": 200, "message": "success", "data": data}
    for delivery in (1, 2):
        for attempt in range(1, CALLBACK_RETRIES + 2):
            try:
                status = httpx.post(url, json=envelope, timeout=30).status_code
            except httpx.HTTPError:
                status = 0
            DELIVERIES.append(Delivery(job.id, url, delivery, attempt, status, envelope, timezone.now()))
            if status == 200:
                break
            time.sleep(CALLBACK_RETRY_WAIT_S * attempt)
        time.sleep(CALLBACK_REPEAT_AFTER_S)


urlpatterns = [
    path("api/v1/generateTask/veo-3-1", generate_task),
    path("api/v1/statusTask/veo-3-1", status_task),
    path("download/<str:job_id>.mp4", download, name="simulator-aggregator-download"),
]
