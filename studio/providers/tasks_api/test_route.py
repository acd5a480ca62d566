"""Route 1, the tasks API of seeds 000/001: the adapter against its simulator over real HTTP."""

from __future__ import annotations

import functools
import io
import itertools
import json
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone
from PIL import Image

from studio.clips.media import probe
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
from studio.simulator.models import SimulatorRequest
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

ROUTE = get_route("tasks-api")
KEY = "sim-tasks-key"


@pytest.fixture
def tasks_project(make_project, people):
    """Projects on route 1's simulator, with this key and these account options."""

    def make(*, key=KEY, options=None):
        return make_project(people, name="Tide", route="tasks-api", key=key, options=options)

    return make


@pytest.fixture
def account(simulator, tasks_project):
    return tasks_project().draft_account


@pytest.fixture
def task_for(pending_task):
    """`task_for(project, user, *, text, tier, **parameters)`: a pending draft of route 1's words, seed 7."""
    return functools.partial(pending_task, text="Tide coming in over black sand", seed=7)


def sent(method="POST") -> list[SimulatorRequest]:
    return list(SimulatorRequest.objects.filter(route="tasks-api", method=method))


def status_polls(task: Task) -> list[SimulatorRequest]:
    return list(SimulatorRequest.objects.filter(method="GET", job_id=task.provider_task_id, download=False))


def downloads(task: Task) -> list[SimulatorRequest]:
    return list(SimulatorRequest.objects.filter(job_id=task.provider_task_id, download=True))


def gaps(task: Task) -> list[float]:
    submitted = SimulatorRequest.objects.get(method="POST", job_id=task.provider_task_id).at
    times = [submitted, *(poll.at for poll in status_polls(task))]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(times)]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 80, 20)).save(out, format="PNG")
    return out.getvalue()


# --- The capability table -----------------------------------------------------------


def test_the_route_offers_quality_and_fast_but_no_lite_tier():
    assert ROUTE.models == {Tier.QUALITY: "veo-3.1", Tier.FAST: "veo-3.1-fast"}
    assert ROUTE.model_for(Tier.LITE) is None


def test_veo_31_takes_1_to_8_seconds_at_720p_or_1080p_without_audio():
    caps = ROUTE.capabilities["veo-3.1"]
    assert caps.durations == (1, 2, 3, 4, 5, 6, 7, 8)
    assert caps.resolutions == ("720p", "1080p") and caps.aspect_ratios == ("16:9", "9:16", "1:1")
    assert (caps.audio, caps.negative_prompt, caps.last_frame, caps.max_references) == (False, False, False, 0)
    assert caps.first_frame and caps.images_by_url and caps.seed


def test_veo_31_fast_takes_1_to_5_seconds_at_720p_only():
    caps = ROUTE.capabilities["veo-3.1-fast"]
    request = VideoRequest(model="veo-3.1-fast", prompt="x", duration_s=6, resolution="1080p", audio=True)
    assert set(caps.problems(request)) == {"duration_s", "resolution", "audio"}


def test_a_first_frame_without_a_public_url_is_refused_before_any_spend():
    caps = ROUTE.capabilities["veo-3.1"]
    image = ImageInput(data=png(), mime_type="image/png")
    problems = caps.problems(VideoRequest(model="veo-3.1", prompt="x", first_frame=image))
    assert "public address" in problems["first_frame"]


def test_no_price_is_invented_because_the_seeds_publish_none():
    assert price_data("tasks-api")["cards"] == []


# --- Contract: exactly what goes over the wire ---------------------------------------


def test_text_to_video_sends_the_seeds_body_and_header_and_reads_the_receipt(account):
    request = VideoRequest(
        model="veo-3.1",
        prompt="Drone shot along a river",
        duration_s=5,
        resolution="1080p",
        aspect_ratio="9:16",
        seed=42,
        negative_prompt="ignored",
        audio=False,
    )
    with httpx.Client() as http:
        receipt = ROUTE.submit(http, account, request)
    (entry,) = sent()
    assert entry.path == "/simulator/tasks-api/v1/tasks/submit"
    assert json.loads(entry.body) == {
        "model": "veo-3.1",
        "prompt": "Drone shot along a river",
        "duration_seconds": 5,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
        "seed": 42,
    }
    assert entry.headers["X-Api-Key"].startswith("sim-tasks-k") and KEY not in str(entry.headers)
    assert entry.headers["Content-Type"] == "application/json"
    assert "Authorization" not in entry.headers
    assert receipt.provider_task_id.startswith("task_") and entry.job_id == receipt.provider_task_id
    # 5 s of veo-3.1 is quoted 0.55 credits, as in the seed's example; credits are taken as dollars.
    assert receipt.estimated_cost == Decimal("0.55")


def test_a_first_frame_goes_as_the_image_init_url(account):
    first = "https://dailies.example/media/first.png"
    image = ImageInput(data=png(), mime_type="image/png", url=first)
    request = VideoRequest(model="veo-3.1-fast", prompt="Slow zoom into ramen", duration_s=4, first_frame=image)
    with httpx.Client() as http:
        ROUTE.submit(http, account, request)
    body = json.loads(sent()[0].body)
    assert body == {
        "model": "veo-3.1-fast",
        "prompt": "Slow zoom into ramen",
        "duration_seconds": 4,
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "image_init": first,
    }


def test_polls_go_to_the_assumed_path_with_the_same_header(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"]).pk)
    poll = status_polls(task)[0]
    assert poll.path == f"/simulator/tasks-api/v1/tasks/{task.provider_task_id}"
    assert poll.headers["X-Api-Key"].startswith("sim-tasks-k")


def test_the_poll_path_can_be_changed_per_account(account):
    account.options = {"poll_path": "/v2/jobs/{task_id}/status"}
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"task_id": "task_1", "status": "queued"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        assert ROUTE.poll(http, account, "task_1").status == Status.QUEUED
    assert seen[0].url.path == "/simulator/tasks-api/v2/jobs/task_1/status"
    assert seen[0].headers["x-api-key"] == KEY


# --- Terminal states through the worker ----------------------------------------------


def test_a_fast_draft_is_archived_with_its_charge_and_quote(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], duration_s=4, aspect_ratio="1:1").pk)
    assert task.state == Task.State.DONE, task.error_message
    assert task.cost_estimate == Decimal("0.18") and task.cost_charged == Decimal("0.18")
    info = probe(task.clip.file.path)
    assert (info.width, info.height, info.has_audio) == (720, 720, False)
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    assert "/cdn/download/" in task.video_url and "sig=" in task.video_url
    assert task.video_url_expires_at - timezone.now() > timedelta(hours=23)


def test_a_quality_render_at_1080p_is_archived_and_polled_every_2_s(
    simulator, people, run_worker, tasks_project, task_for
):
    project = tasks_project()
    (task,) = run_worker(
        task_for(project, people["owner"], tier=Tier.QUALITY, duration_s=2, resolution="1080p", aspect_ratio="9:16").pk
    )
    assert task.state == Task.State.DONE, task.error_message
    info = probe(task.clip.file.path)
    assert (info.width, info.height) == (1080, 1920)
    assert json.loads(sent()[0].body)["model"] == "veo-3.1"
    assert min(gaps(task)) >= 2.0


def test_the_video_is_fetched_without_our_key(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"]).pk)
    url, headers = ROUTE.download_request(project.draft_account, task.provider_task_id, task.video_url)
    assert (url, headers) == (task.video_url, {})
    (fetch,) = downloads(task)
    assert "X-Api-Key" not in fetch.headers and "Authorization" not in fetch.headers


def test_a_tampered_signature_is_refused_by_the_cdn(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"]).pk)
    assert httpx.get(task.video_url).status_code == 200
    assert httpx.get(task.video_url.replace("sig=", "sig=0")).status_code == 403


def test_a_prompt_refused_for_safety_at_submit_with_451_ends_blocked_and_not_billed(
    simulator, people, tasks_project, task_for
):
    project = tasks_project()
    task = task_for(project, people["owner"], text="A riot #blocked")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.BLOCKED and task.finished_at is not None
    assert task.error_code == ErrorKind.SAFETY and task.cost_charged == 0
    assert "safety filter" in task.error_message and "Prompt blocked by upstream safety" in task.error_message
    assert sent()[0].status == 451 and sent("GET") == []


def test_a_failed_job_ends_failed_with_the_providers_message(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], text="Storm at sea #failed").pk)
    assert task.state == Task.State.FAILED and task.error_code == ErrorKind.FAILED
    assert "Upstream generation failed" in task.error_message and task.cost_charged == 0


def test_a_filtered_result_ends_blocked_not_billed(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], text="Wildlife #filtered").pk)
    assert task.state == Task.State.BLOCKED and task.error_code == ErrorKind.SAFETY
    assert "removed by the upstream safety filter" in task.error_message and task.cost_charged == 0


def test_completed_without_a_video_ends_saying_it_may_have_billed(
    simulator, people, run_worker, tasks_project, task_for
):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], text="Foliage #empty").pk)
    assert task.state == Task.State.FAILED and task.error_code == ErrorKind.EMPTY_RESULT
    assert "may still have billed" in task.error_message and downloads(task) == []


@pytest.mark.parametrize(
    ("answer", "status", "kind"),
    [
        ({"status": "processing"}, Status.RUNNING, None),
        ({"status": "error", "message": "GPU node lost"}, Status.FAILED, ErrorKind.FAILED),
        ({"status": "failed", "error": "Rejected by content policy"}, Status.BLOCKED, ErrorKind.SAFETY),
    ],
)
def test_undocumented_statuses_are_read_as_assumed(account, answer, status, kind):
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=answer))) as http:
        report = ROUTE.poll(http, account, "task_1")
    assert report.status == status
    assert (report.error.kind if report.error else None) == kind


def test_an_unknown_status_is_an_answer_we_cannot_read(account):
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"status": "zapped"}))
    with httpx.Client(transport=transport) as http, pytest.raises(ProviderError) as raised:
        ROUTE.poll(http, account, "task_1")
    assert raised.value.kind == ErrorKind.BAD_ANSWER and "zapped" in raised.value.message


# --- Error classes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"model": "veo-3.1", "duration_s": 9, "resolution": "1080p"}, "from 1 to 8"),
        ({"model": "veo-3.1-fast", "duration_s": 6}, "from 1 to 5"),
        ({"model": "veo-3.1-fast", "resolution": "1080p"}, "resolution must be 720p"),
        ({"model": "veo-3.1", "aspect_ratio": "4:3"}, "aspect_ratio must be"),
    ],
)
def test_validation_is_400_in_plain_words_and_makes_no_job(account, change, words):
    request = VideoRequest(**{"model": "veo-3.1", "prompt": "Tide", "duration_s": 4, **change})
    with httpx.Client() as http, pytest.raises(ProviderError) as raised:
        ROUTE.submit(http, account, request)
    assert raised.value.kind == ErrorKind.VALIDATION and raised.value.http_status == 400
    assert words in raised.value.message
    assert "Nothing was billed" in raised.value.for_user


def test_the_simulator_refuses_a_seed_that_is_not_an_integer(simulator):
    issue_key(KEY)
    answer = httpx.post(
        f"{simulator.url}/simulator/tasks-api/v1/tasks/submit",
        headers={"x-api-key": KEY},
        json={"model": "veo-3.1", "prompt": "x", "duration_seconds": 4, "seed": "7"},
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_seed"


@pytest.mark.parametrize(
    ("key", "status", "kind", "words"),
    [
        ("not-a-sim-key", 401, ErrorKind.AUTH, "rejected the API key"),
        ("sim-nofunds-1", 402, ErrorKind.WALLET, "no credit left"),
        ("sim-noscope-1", 403, ErrorKind.AUTH, "not allowed"),
    ],
)
def test_auth_wallet_and_scope_refusals_are_not_billed(
    simulator, people, key, status, kind, words, tasks_project, task_for
):
    project = tasks_project(key=key)
    task = task_for(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.error_code == kind and task.cost_charged == 0
    assert words in task.error_message and "Nothing was billed" in task.error_message
    assert sent()[0].status == status


def test_a_rate_limited_submit_waits_for_retry_after_then_sends_again(simulator, people, tasks_project, task_for):
    project = tasks_project()
    task = task_for(project, people["owner"], text="Tide #ratelimit")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.PENDING and task.error_code == ErrorKind.RATE_LIMIT
    assert (task.next_check_at - timezone.now()).total_seconds() == pytest.approx(1.0, abs=0.3)
    assert lifecycle.submit(task.pk) is False  # not before Retry-After
    Task.objects.filter(pk=task.pk).update(next_check_at=timezone.now())
    assert lifecycle.submit(task.pk) is True
    assert [r.status for r in sent()] == [429, 429]


def test_a_500_on_poll_is_retried_with_backoff_until_done(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], text="Waterfall #poll500").pk)
    assert task.state == Task.State.DONE, task.error_message
    polls = status_polls(task)
    assert [p.status for p in polls[:3]] == [500, 500, 200]
    # After each failed poll the wait doubles the fast model's 1 s.
    assert all(gap >= 2.0 for gap in gaps(task)[1:3])


def test_a_poll_answer_that_is_not_json_is_retried_until_done(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], text="Weather #malformed").pk)
    assert task.state == Task.State.DONE, task.error_message
    assert status_polls(task)[0].status == 200 and len(status_polls(task)) >= 2
    assert gaps(task)[1] >= 2.0


def test_a_lost_submit_answer_is_uncertain_and_never_resent(simulator, people, tasks_project, task_for):
    project = tasks_project()
    task = task_for(project, people["owner"], text="Forest #lost")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.UNCERTAIN and "will not send it again" in task.error_message
    assert lifecycle.submit(task.pk) is False
    assert len(sent()) == 1


def test_a_job_that_never_finishes_times_out_after_30_minutes_without_resubmitting(
    simulator, people, tasks_project, task_for
):
    project = tasks_project()
    task = task_for(project, people["owner"], text="Glacier #never")
    lifecycle.submit(task.pk)
    Task.objects.filter(pk=task.pk).update(
        submitted_at=timezone.now() - timedelta(minutes=31), next_check_at=timezone.now()
    )
    (claimed,) = lifecycle.claim_due_checks()
    with lifecycle.http_client() as http:
        assert lifecycle.apply_report(claimed, lifecycle.fetch_report(claimed, http)) == Task.State.FAILED
    task.refresh_from_db()
    assert task.error_code == ErrorKind.TIMED_OUT and len(sent()) == 1


# --- Cadence -----------------------------------------------------------------------------


def test_the_schedule_follows_the_seeds_and_backs_off_after_their_window():
    quality = [ROUTE.poll_delay(model="veo-3.1", elapsed_s=t) for t in (0, 59, 60, 179, 180, 240, 600, 3600)]
    assert quality == [2, 2, 5, 5, 7.5, 11.25, 30, 30]
    fast = [ROUTE.poll_delay(model="veo-3.1-fast", elapsed_s=t) for t in (0, 29, 30, 59, 60, 120, 3600)]
    assert fast == [1, 1, 2, 2, 3, 4.5, 30]


def test_the_schedule_never_goes_below_one_second_nor_shrinks():
    for model in ROUTE.capabilities:
        delays = [ROUTE.poll_delay(model=model, elapsed_s=t / 2) for t in range(2 * 3600)]
        assert min(delays) >= ROUTE.min_poll_interval_s == 1.0
        assert delays == sorted(delays)


def test_polls_of_a_running_job_never_come_faster_than_a_second(
    simulator, people, settings, run_worker, tasks_project, task_for
):
    settings.SIMULATOR = {"draft_seconds": 2.5, "final_seconds": 2.5}
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"]).pk)
    assert task.state == Task.State.DONE, task.error_message
    assert len(status_polls(task)) >= 3
    assert min(gaps(task)) >= 1.0


def test_an_accounts_faster_interval_is_clamped_to_one_second(simulator, people, tasks_project, task_for):
    project = tasks_project()
    project.draft_account.poll_interval_s = 0.2
    project.draft_account.save()
    task = task_for(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert (task.next_check_at - task.submitted_at).total_seconds() == pytest.approx(1.0, abs=0.05)


# --- Downloads ------------------------------------------------------------------------


def test_a_download_cut_halfway_is_resumed_with_range(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], text="River bend #truncated").pk)
    assert task.state == Task.State.DONE, task.error_message
    first, second = downloads(task)
    assert "Range" not in first.headers and second.headers["Range"].startswith("bytes=")
    assert second.status == 206 and "X-Api-Key" not in second.headers
    assert task.clip.bytes > int(second.headers["Range"][6:-1]) > 0
    assert probe(task.clip.file.path).duration_s == pytest.approx(4.0, abs=0.1)


def test_an_expired_link_ends_the_task_without_a_clip(simulator, people, run_worker, tasks_project, task_for):
    project = tasks_project()
    (task,) = run_worker(task_for(project, people["owner"], text="Dunes #expired").pk)
    assert task.state == Task.State.FAILED and not hasattr(task, "clip")
    assert downloads(task)[0].status == 403


# --- Test connection ------------------------------------------------------------------


def test_check_account_accepts_a_good_key_and_spends_nothing(account):
    with httpx.Client() as http:
        ROUTE.check_account(http, account)
    assert sent() == [] and [r.status for r in sent("GET")] == [404]


def test_check_account_names_a_refused_key(simulator, people, tasks_project):
    account = tasks_project(key="wrong-key").draft_account
    with httpx.Client() as http, pytest.raises(ProviderError) as raised:
        ROUTE.check_account(http, account)
    assert raised.value.kind == ErrorKind.AUTH and raised.value.http_status == 401
