"""Route 2, seed 002's "OpenAI Video" protocol: the adapter against its simulator over real HTTP."""

from __future__ import annotations

import functools
import io
import itertools
import json
import time
from datetime import timedelta
from pathlib import Path

import av
import httpx
import pytest
from django.utils import timezone
from PIL import Image

from studio.clips.media import has_audio_stream
from studio.providers.base import (
    ErrorKind,
    ImageInput,
    ProviderError,
    Status,
    Tier,
    VideoRequest,
)
from studio.providers.registry import get_route, price_data
from studio.simulator.engine import issue_key
from studio.simulator.models import SimulatedJob, SimulatorRequest
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

ROUTE = get_route("openai-video")
BASE = "/simulator/openai-video"
AUTH = {"Authorization": "Bearer sim-contract"}


@pytest.fixture
def route2_project(make_project, people):
    """Projects on route 2's simulator."""

    def make(*, key="sim-route2-key", poll_interval_s=2.0, name="Rainfall"):
        return make_project(people, name=name, route="openai-video", key=key, poll_interval_s=poll_interval_s)

    return make


@pytest.fixture
def account(route2_project):
    """Accounts on route 2's simulator (a factory: keys and cadence vary by test)."""

    def make(**kwargs):
        return route2_project(**kwargs).draft_account

    return make


@pytest.fixture
def new_task(pending_task):
    """`new_task(project, user, *, text, tier, kind, **parameters)`: a pending task of route 2's words,
    5 s, seed 7."""
    return functools.partial(pending_task, text="Rain falling on a quiet street at night", seed=7, duration_s=5)


def tiny_png() -> ImageInput:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 9), (200, 80, 20)).save(buffer, format="PNG")
    return ImageInput(data=buffer.getvalue(), mime_type="image/png")


def the_submit() -> SimulatorRequest:
    return SimulatorRequest.objects.get(method="POST")


def polls_of(job_id: str) -> list[SimulatorRequest]:
    return list(SimulatorRequest.objects.filter(method="GET", job_id=job_id, download=False))


def downloads_of(job_id: str) -> list[SimulatorRequest]:
    return list(SimulatorRequest.objects.filter(method="GET", job_id=job_id, download=True))


@pytest.fixture
def http():
    with lifecycle.http_client() as client:
        yield client


@pytest.fixture
def raw(simulator):
    issue_key("sim-contract")
    with httpx.Client(base_url=f"{simulator.url}{BASE}", timeout=30) as client:
        yield client


# --- What the route offers ------------------------------------------------------


def test_the_route_offers_veo31_for_finals_and_veo31_fast_for_drafts():
    assert ROUTE.models == {Tier.QUALITY: "veo3.1", Tier.FAST: "veo3.1-fast"}
    quality, fast = ROUTE.capabilities["veo3.1"], ROUTE.capabilities["veo3.1-fast"]
    for caps in (quality, fast):
        assert caps.durations == (5, 10) and caps.resolutions == ("720p", "1080p")
        assert caps.aspect_ratios == ("16:9",)
        assert (caps.first_frame, caps.last_frame, caps.max_references) == (True, False, 0)
        assert not caps.negative_prompt and not caps.seed and not caps.images_by_url
    assert quality.audio and not fast.audio
    assert (ROUTE.min_poll_interval_s, ROUTE.deadline_s, ROUTE.result_ttl_s) == (2.0, 1800, 86400)


def test_the_form_refuses_what_the_seed_does_not_offer():
    request = VideoRequest(
        model="veo3.1-fast",
        prompt="x",
        duration_s=8,
        aspect_ratio="9:16",
        resolution="4k",
        audio=True,
        negative_prompt="blur",
        last_frame=tiny_png(),
        references=(tiny_png(),),
    )
    problems = ROUTE.capabilities["veo3.1-fast"].problems(request)
    assert set(problems) == {
        "duration_s",
        "aspect_ratio",
        "resolution",
        "audio",
        "negative_prompt",
        "last_frame",
        "references",
    }


def test_the_price_is_forty_cents_a_second_on_veo31_with_or_without_audio():
    cards = price_data("openai-video")["cards"]
    assert sorted((c["model"], c["resolution"], c["audio"], c["usd_per_second"]) for c in cards) == sorted(
        ("veo3.1", resolution, audio, "0.40") for resolution in ("720p", "1080p") for audio in (True, False)
    )


# --- Exactly what goes over the wire ----------------------------------------------


def test_text_to_video_sends_the_documented_body_with_a_bearer_key(simulator, people, http, account):
    request = VideoRequest(
        model="veo3.1",
        prompt="Rain on a tin roof",
        duration_s=10,
        resolution="1080p",
        audio=True,
        seed=42,
    )
    receipt = ROUTE.submit(http, account(), request)
    sent = the_submit()
    assert sent.path == f"{BASE}/v1/videos/generations" and sent.status == 200
    # No seed and no negative prompt: the seed documents neither.
    assert json.loads(sent.body) == {
        "model": "veo3.1",
        "prompt": "Rain on a tin roof",
        "duration_seconds": 10,
        "size": "1920x1080",
        "audio": True,
    }
    assert sent.headers["Authorization"] == "Bearer sim-r…"  # the log masks all but the scheme and 5 chars
    assert sent.headers["Content-Type"] == "application/json"
    assert receipt.provider_task_id == sent.job_id and receipt.provider_task_id.startswith("vtask_")
    assert receipt.estimated_cost is None


def test_a_first_frame_goes_as_a_data_uri_in_source_image(simulator, people, http, account):
    image = tiny_png()
    request = VideoRequest(
        model="veo3.1-fast",
        prompt="The kite lifts off",
        duration_s=5,
        resolution="720p",
        first_frame=image,
    )
    ROUTE.submit(http, account(), request)
    assert json.loads(the_submit().body) == {
        "model": "veo3.1-fast",
        "prompt": "The kite lifts off",
        "duration_seconds": 5,
        "size": "1280x720",
        "audio": False,
        "source_image": image.data_uri,
    }


def test_polls_use_the_documented_path_and_key(simulator, people, http, account):
    owner = account()
    receipt = ROUTE.submit(http, owner, VideoRequest(model="veo3.1-fast", prompt="Fog", duration_s=5))
    report = ROUTE.poll(http, owner, receipt.provider_task_id)
    assert report.status in (Status.QUEUED, Status.RUNNING) and isinstance(report.progress, int)
    (poll,) = polls_of(receipt.provider_task_id)
    assert poll.path == f"{BASE}/v1/videos/tasks/{receipt.provider_task_id}"
    assert poll.headers["Authorization"].startswith("Bearer sim-")


# --- The simulator speaks the protocol ---------------------------------------------


def test_a_simulated_job_walks_queued_in_progress_completed_with_integer_progress(raw):
    body = {
        "model": "veo3.1",
        "prompt": "Wind in the pines",
        "duration_seconds": 5,
        "size": "1280x720",
        "audio": True,
    }
    task_id = raw.post("/v1/videos/generations", json=body, headers=AUTH).json()["task_id"]
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = raw.get(f"/v1/videos/tasks/{task_id}", headers=AUTH).json()
        assert isinstance(answer["progress"], int) and 0 <= answer["progress"] <= 100
        if not seen or seen[-1] != answer["status"]:
            seen.append(answer["status"])
        if answer["status"] == "completed":
            break
        time.sleep(0.05)
    assert seen == ["queued", "in_progress", "completed"]
    assert answer["error"] is None and answer["result_url"].endswith(f"/tasks/{task_id}/download/video.mp4")
    audio = raw.get(answer["audio_url"], headers=AUTH)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mp4"
    with av.open(io.BytesIO(audio.content)) as track:
        assert len(track.streams.audio) == 1 and not track.streams.video
    assert raw.get(answer["audio_url"]).status_code == 401


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"model": "veo3.1-fast", "audio": True}, "veo3.1-fast does not generate audio"),
        ({"duration_seconds": 8}, "duration_seconds must be 5 or 10"),
        ({"size": "1080x1920"}, "size must be 1280x720 or 1920x1080"),
        ({"seed": 3}, "Unrecognized request argument supplied: seed"),
        ({"model": "veo-3.1"}, "does not exist"),
        ({"source_image": "data:image/png;base64,???"}, "source_image must be"),
    ],
)
def test_the_simulator_refuses_what_the_seed_does_not_allow_with_openai_style_400s(raw, change, words):
    body = {
        "model": "veo3.1",
        "prompt": "Rain",
        "duration_seconds": 5,
        "size": "1280x720",
        "audio": False,
    }
    answer = raw.post("/v1/videos/generations", json={**body, **change}, headers=AUTH)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert words in error["message"] and error["type"] == "invalid_request_error" and error["code"]
    assert not SimulatedJob.objects.exists()


# --- Every error class, in plain words -----------------------------------------------


def test_a_refused_setting_is_a_validation_error_in_the_providers_words(simulator, people, http, account):
    with pytest.raises(ProviderError) as refused:
        ROUTE.submit(http, account(), VideoRequest(model="veo3.1-fast", prompt="x", duration_s=8))
    assert refused.value.kind == ErrorKind.VALIDATION and "duration_seconds must be 5 or 10" in refused.value.message


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind"),
    [
        (429, {"error": {"code": "insufficient_quota", "message": "Out"}}, {}, ErrorKind.WALLET),
        (
            429,
            {"error": {"code": "rate_limit_exceeded"}},
            {"Retry-After": "7"},
            ErrorKind.RATE_LIMIT,
        ),
        (
            400,
            {"error": {"code": "content_policy_violation", "message": "No"}},
            {},
            ErrorKind.SAFETY,
        ),
        (403, {"error": {"code": "unsupported_country", "message": "No"}}, {}, ErrorKind.AUTH),
        (503, {"error": {"message": "overloaded"}}, {}, ErrorKind.OUTAGE),
        (
            200,
            {"error": {"code": "invalid_value", "message": "Bad size"}},
            {},
            ErrorKind.VALIDATION,
        ),
        (200, {"status": "queued"}, {}, ErrorKind.BAD_ANSWER),
    ],
)
def test_openai_style_error_answers_the_simulator_does_not_give_are_read_in_plain_words(
    people, status, body, headers, kind, account
):
    # The simulator never answers these; a stand-in transport at the HTTP boundary does.
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body, headers=headers))
    with httpx.Client(transport=transport) as http, pytest.raises(ProviderError) as refused:
        ROUTE.submit(http, account(), VideoRequest(model="veo3.1", prompt="x", duration_s=5))
    assert refused.value.kind == kind
    if kind == ErrorKind.RATE_LIMIT:
        assert refused.value.retry_after == 7.0


def test_a_wrong_key_is_refused_and_nothing_is_billed(simulator, people, route2_project, new_task):
    project = route2_project(key="wrong-key")
    task = new_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert (task.state, task.error_code, task.cost_charged) == (Task.State.FAILED, "auth", 0)
    assert "rejected the API key" in task.error_message and "Nothing was billed" in task.error_message


def test_an_empty_wallet_says_to_top_up(simulator, people, http, account):
    with pytest.raises(ProviderError) as refused:
        ROUTE.submit(
            http,
            account(key="sim-no-credit-1"),
            VideoRequest(model="veo3.1", prompt="x", duration_s=5),
        )
    assert refused.value.kind == ErrorKind.WALLET and refused.value.http_status == 402
    assert "Top up" in refused.value.for_user


def test_a_rate_limited_submit_waits_as_long_as_retry_after_says(simulator, people, route2_project, new_task):
    task = new_task(route2_project(), people["owner"], text="Crowd at dusk #ratelimit")
    before = timezone.now()
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.PENDING and task.error_code == "rate_limit"
    assert 0.9 <= (task.next_check_at - before).total_seconds() <= 2.0
    assert not SimulatedJob.objects.exists()


def test_a_lost_submit_answer_is_uncertain_and_never_sent_again(simulator, people, route2_project, new_task):
    task = new_task(route2_project(), people["owner"], text="Harbour lights #lost")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.UNCERTAIN and "will not send it again on its own" in task.error_message
    assert lifecycle.submit(task.pk) is False
    assert SimulatorRequest.objects.filter(method="POST").count() == 1 and SimulatedJob.objects.count() == 1


def poll_now(task: Task) -> str:
    Task.objects.filter(pk=task.pk).update(next_check_at=timezone.now())
    (claimed,) = lifecycle.claim_due_checks()
    with lifecycle.http_client() as http:
        return lifecycle.apply_report(claimed, lifecycle.fetch_report(claimed, http))


@pytest.mark.parametrize(
    ("marker", "kind", "failing_polls"), [("#poll500", "outage", 2), ("#malformed", "bad_answer", 1)]
)
def test_a_poll_that_breaks_is_retried_with_backoff(
    simulator, people, marker, kind, failing_polls, route2_project, new_task, rendered
):
    task = new_task(route2_project(poll_interval_s=None), people["owner"], text=f"Dunes {marker}")
    lifecycle.submit(task.pk)
    for _ in range(failing_polls):
        asked = timezone.now()
        assert poll_now(task) == Task.State.QUEUED
        task.refresh_from_db()
        assert task.error_code == kind and "Trying again" in task.error_message
        # Twice the route's 5 s cadence.
        assert (task.next_check_at - asked).total_seconds() >= 10.0
    rendered(task.provider_task_id)
    assert poll_now(task) == Task.State.ARCHIVING


def test_a_job_that_never_finishes_times_out_after_thirty_minutes_without_resubmitting(
    simulator, people, route2_project, new_task
):
    task = new_task(route2_project(), people["owner"], text="Slow tide #never")
    lifecycle.submit(task.pk)
    Task.objects.filter(pk=task.pk).update(submitted_at=timezone.now() - timedelta(minutes=31))
    assert poll_now(task) == Task.State.FAILED
    task.refresh_from_db()
    assert task.error_code == "timed_out" and "30 minutes" in task.error_message
    assert SimulatorRequest.objects.filter(method="POST").count() == 1


# --- Every terminal state, through the worker -----------------------------------------


def test_a_draft_is_archived_as_a_silent_720p_clip(simulator, people, run_worker, route2_project, new_task):
    task = new_task(route2_project(), people["owner"])
    (task,) = run_worker(task.pk)
    assert task.state == Task.State.DONE, task.error_message
    clip = task.clip
    assert (clip.width, clip.height, clip.has_audio) == (1280, 720, False)
    assert clip.duration_s == pytest.approx(5.0, abs=0.1) and not clip.audio_file
    (video,) = downloads_of(task.provider_task_id)
    assert video.path.endswith("/download/video.mp4") and video.headers["Authorization"].startswith("Bearer sim-")


def test_a_final_with_audio_keeps_the_separate_audio_track(simulator, people, run_worker, route2_project, new_task):
    task = new_task(
        route2_project(),
        people["owner"],
        tier=Tier.QUALITY,
        kind="final",
        resolution="1080p",
        audio=True,
    )
    (task,) = run_worker(task.pk)
    assert task.state == Task.State.DONE, task.error_message
    assert json.loads(the_submit().body)["audio"] is True
    clip = task.clip
    assert (clip.width, clip.height, clip.has_audio) == (1920, 1080, True)
    assert clip.audio_file and Path(clip.audio_file.path).exists()
    assert has_audio_stream(Path(clip.audio_file.path))
    assert not probe_has_video(Path(clip.audio_file.path))
    paths = sorted(entry.path.rsplit("/", 1)[1] for entry in downloads_of(task.provider_task_id))
    assert paths == ["audio.m4a", "video.mp4"]


def probe_has_video(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.video)


@pytest.mark.parametrize(
    ("marker", "state", "kind", "words"),
    [
        ("#blocked", Task.State.BLOCKED, "safety", "safety filter"),
        ("#filtered", Task.State.BLOCKED, "safety", "safety filter removed the result"),
        ("#failed", Task.State.FAILED, "failed", "could not render it"),
    ],
)
def test_a_job_the_provider_refused_ends_unbilled_in_plain_words(
    simulator, people, marker, state, kind, words, run_worker, route2_project, new_task
):
    task = new_task(route2_project(), people["owner"], text=f"A street fight {marker}")
    (task,) = run_worker(task.pk)
    assert (task.state, task.error_code, task.cost_charged) == (state, kind, 0)
    assert words in task.error_message
    assert not downloads_of(task.provider_task_id)


def test_a_job_done_with_no_video_says_it_may_have_billed(simulator, people, run_worker, route2_project, new_task):
    task = new_task(route2_project(), people["owner"], text="An empty room #empty")
    (task,) = run_worker(task.pk)
    assert (task.state, task.error_code, task.cost_charged) == (
        Task.State.FAILED,
        "empty_result",
        None,
    )
    assert "may still have billed" in task.error_message


def test_a_download_cut_halfway_is_resumed_with_range(simulator, people, run_worker, route2_project, new_task):
    task = new_task(
        route2_project(),
        people["owner"],
        text="Surf at noon #truncated",
        tier=Tier.QUALITY,
        kind="final",
        audio=True,
    )
    (task,) = run_worker(task.pk)
    assert task.state == Task.State.DONE, task.error_message
    first, resumed, audio = downloads_of(task.provider_task_id)
    assert first.path.endswith("/video.mp4") and "Range" not in first.headers
    assert resumed.path == first.path and resumed.headers["Range"].startswith("bytes=") and resumed.status == 206
    assert audio.path.endswith("/audio.m4a")
    # The resumed clip is byte for byte what the provider rendered.
    with SimulatedJob.objects.get(pk=task.provider_task_id).video.open("rb") as rendered:
        assert Path(task.clip.file.path).read_bytes() == rendered.read()


def test_an_expired_link_fails_without_a_clip(simulator, people, run_worker, route2_project, new_task):
    task = new_task(route2_project(), people["owner"], text="Late train #expired")
    (task,) = run_worker(task.pk)
    assert task.state == Task.State.FAILED and not hasattr(task, "clip")


# --- Cadence ------------------------------------------------------------------------


def test_the_documented_cadence_is_every_5_s_then_every_10_s(simulator, people, run_worker, route2_project, new_task):
    assert [ROUTE.poll_delay(model="veo3.1", elapsed_s=s) for s in (0, 179, 180, 1200)] == [
        5.0,
        5.0,
        10.0,
        10.0,
    ]
    task = new_task(route2_project(poll_interval_s=None), people["owner"])
    (task,) = run_worker(task.pk)
    assert task.state == Task.State.DONE, task.error_message
    submitted = the_submit().at
    polls = [entry.at for entry in polls_of(task.provider_task_id)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise([submitted, *polls])]
    assert len(polls) == 1 and gaps[0] >= 5.0, gaps


def test_a_faster_account_setting_never_polls_below_2_s(
    simulator, people, settings, run_worker, route2_project, new_task
):
    settings.SIMULATOR = {"draft_seconds": 3.5, "final_seconds": 3.5}
    task = new_task(route2_project(poll_interval_s=0.5), people["owner"])
    (task,) = run_worker(task.pk)
    assert task.state == Task.State.DONE, task.error_message
    submitted = the_submit().at
    polls = [entry.at for entry in polls_of(task.provider_task_id)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise([submitted, *polls])]
    assert len(polls) >= 2 and min(gaps) >= 2.0, gaps


# --- Keys ----------------------------------------------------------------------------


def test_test_connection_accepts_a_good_key_and_refuses_a_bad_one(simulator, people, http, account):
    ROUTE.check_account(http, account())
    with pytest.raises(ProviderError) as refused:
        ROUTE.check_account(http, account(key="nope", name="Other"))
    assert refused.value.kind == ErrorKind.AUTH
    assert not SimulatedJob.objects.exists()


def test_the_key_goes_only_to_the_accounts_own_host(people, account):
    owner = account(key="sim-secret")
    owner.base_url = "https://llm.bytespike.ai"
    own = ROUTE.download_request(owner, "t1", "https://llm.bytespike.ai/files/t1.mp4")
    assert own == ("https://llm.bytespike.ai/files/t1.mp4", {"Authorization": "Bearer sim-secret"})
    relative = ROUTE.download_request(owner, "t1", "/files/t1.m4a")
    assert relative == (
        "https://llm.bytespike.ai/files/t1.m4a",
        {"Authorization": "Bearer sim-secret"},
    )
    for elsewhere in (
        "https://cdn.example.com/t1.mp4",
        "http://llm.bytespike.ai/t1.mp4",
        "https://llm.bytespike.ai:8443/t1.mp4",
        "https://llm.bytespike.ai.evil.test/t1.mp4",
    ):
        assert ROUTE.download_request(owner, "t1", elsewhere) == (elsewhere, {})
