"""Route 4 (seed 004) contract: exact requests, every terminal state and error class, over real HTTP."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from studio.clips.media import probe
from studio.providers.base import ImageInput, VideoRequest
from studio.providers.registry import get_route
from studio.simulator.models import SimulatorRequest
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)
ROUTE = get_route("videos-gateway")


def tiny_png(color=(10, 120, 200)) -> ImageInput:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buffer, "PNG")
    return ImageInput(data=buffer.getvalue(), mime_type="image/png")


def sent(project, request: VideoRequest) -> tuple[dict, dict]:
    with lifecycle.http_client() as http:
        receipt = ROUTE.submit(http, project.draft_account, request)
    entry = SimulatorRequest.objects.get(job_id=receipt.provider_task_id, method="POST")
    return json.loads(entry.body), entry.headers


def test_people_and_prompt_rewriting_go_in_the_gateways_own_words(simulator, project):
    request = VideoRequest(model="veo-3.1-fast-generate-preview", prompt="Dunes", people="dont_allow")
    body, _ = sent(project, replace(request, enhance_prompt=True))
    assert (body["person_generation"], body["enhance_prompt"]) == ("disallow", True)
    body, _ = sent(project, replace(request, people="allow_adult", enhance_prompt=False))
    assert (body["person_generation"], body["enhance_prompt"]) == ("allow_adult", False)
    # Not chosen: not sent (this gateway's enhancement stays off unless set).
    body, _ = sent(project, replace(request, people=""))
    assert "person_generation" not in body and "enhance_prompt" not in body


def test_text_to_video_sends_exactly_the_documented_fields(simulator, project):
    body, headers = sent(
        project,
        VideoRequest(
            model="veo-3.1-fast-generate-preview",
            prompt="Dunes",
            duration_s=6,
            aspect_ratio="9:16",
            resolution="720p",
            seed=5,
            negative_prompt="text",
        ),
    )
    assert body == {
        "model": "veo-3.1-fast-generate-preview",
        "prompt": "Dunes",
        "resolution": "720p",
        "duration": 6,
        "aspect_ratio": "9:16",
        "generate_audio": False,
        "negative_prompt": "text",
        "seed": 5,
    }
    assert headers["Authorization"].startswith("Bearer sim-") and headers["Content-Type"] == "application/json"


def test_first_and_last_frames_go_as_data_uris(simulator, project):
    first, last = tiny_png(), tiny_png((200, 10, 10))
    body, _ = sent(
        project,
        VideoRequest(
            model="veo-3.1-generate-preview",
            prompt="Morph",
            duration_s=8,
            resolution="1080p",
            first_frame=first,
            last_frame=last,
        ),
    )
    assert body["image"] == first.data_uri and body["lastFrameImage"] == last.data_uri
    assert body["image"].startswith("data:image/png;base64,")


def test_a_reference_image_goes_as_input_reference(simulator, project):
    reference = tiny_png()
    body, _ = sent(
        project,
        VideoRequest(
            model="veo-3.1-generate-preview",
            prompt="Same mug",
            duration_s=8,
            resolution="720p",
            references=(reference,),
        ),
    )
    assert body["input_reference"] == reference.data_uri and "image" not in body


@pytest.fixture
def run_prompt(pending_task, run_worker):
    """A draft of these words, run through the worker to its end."""

    def run(project, people, prompt: str) -> Task:
        # The documented minimum cadence keeps these end-to-end runs short.
        project.draft_account.poll_interval_s = ROUTE.min_poll_interval_s
        project.draft_account.save()
        task = pending_task(project, people["owner"], text=prompt)
        (task,) = run_worker(task.pk, timeout=90)
        return task

    return run


def test_a_done_job_with_no_video_fails_saying_it_may_have_billed(simulator, project, people, run_prompt):
    task = run_prompt(project, people, "Nothing here #empty")
    assert task.state == "failed" and task.error_code == "empty_result"
    assert "returned no video" in task.error_message and "may still have billed" in task.error_message


def test_a_safety_filtered_result_reported_done_ends_blocked_not_billed(simulator, project, people, run_prompt):
    task = run_prompt(project, people, "A crowd #filtered")
    assert task.state == "blocked" and task.cost_charged == 0


def test_a_download_cut_halfway_is_resumed_with_range(simulator, project, people, run_prompt):
    task = run_prompt(project, people, "Waves #truncated")
    assert task.state == "done", task.error_message
    assert probe(task.clip.file.path).duration_s == pytest.approx(4.0, abs=0.1)
    downloads = SimulatorRequest.objects.filter(job_id=task.provider_task_id, path__endswith="/content")
    ranges = [entry.headers.get("Range") for entry in downloads]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and len(ranges) == 2


def test_an_expired_link_ends_in_plain_words(simulator, project, people, run_prompt):
    task = run_prompt(project, people, "Old link #expired")
    assert task.state == "failed" and task.error_code == "link_refused"
    assert "link was refused or has expired" in task.error_message and "may have been billed" in task.error_message


def test_five_hundreds_on_polls_are_retried_with_backoff(simulator, project, people, run_prompt):
    task = run_prompt(project, people, "Flaky #poll500")
    assert task.state == "done", task.error_message
    polls = (
        SimulatorRequest.objects.filter(job_id=task.provider_task_id, method="GET")
        .exclude(path__endswith="/content")
        .order_by("at")
    )
    assert [p.status for p in polls][:3] == [500, 500, 200]
    gaps = [(b.at - a.at).total_seconds() for a, b in itertools.pairwise(polls)]
    assert all(gap >= 2 * ROUTE.min_poll_interval_s - 0.2 for gap in gaps[:2]), gaps


def test_a_poll_answer_that_is_not_json_is_retried_not_fatal(simulator, project, people, pending_task):
    task = pending_task(project, people["owner"], text="Garbled #malformed")
    lifecycle.submit(task.pk)
    Task.objects.filter(pk=task.pk).update(next_check_at=timezone.now())
    (claimed,) = lifecycle.claim_due_checks()
    with lifecycle.http_client() as http:
        report = lifecycle.fetch_report(claimed, http)
    assert report.kind == "bad_answer"
    assert lifecycle.apply_report(claimed, report) == "queued"
    task.refresh_from_db()
    assert "Could not check on this task" in task.error_message and task.next_check_at > timezone.now()


def test_a_rate_limited_submit_waits_for_retry_after_then_sends(simulator, project, people, pending_task):
    task = pending_task(project, people["owner"], text="Busy #ratelimit")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == "pending" and "Sending again in 1 s" in task.error_message
    wait = (task.next_check_at - timezone.now()).total_seconds()
    assert 0 < wait <= 1.0
    assert lifecycle.submit(task.pk) is False  # not before Retry-After


def test_a_lost_receipt_leaves_the_task_uncertain(simulator, project, people, pending_task):
    task = pending_task(project, people["owner"], text="Gone #lost")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == "uncertain"
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert lifecycle.submit(task.pk) is False
    assert SimulatorRequest.objects.filter(method="POST").count() == 1


def test_validation_refusals_arrive_as_http_200_error_objects_and_read_plainly(simulator, project):
    from studio.providers.base import ProviderError

    with lifecycle.http_client() as http, pytest.raises(ProviderError) as caught:
        ROUTE.submit(
            http,
            project.draft_account,
            VideoRequest(model="veo-3.1-lite-generate-preview", prompt="x", resolution="4k", duration_s=8),
        )
    assert caught.value.kind == "validation" and "4k is not available" in caught.value.message


def test_the_key_goes_only_to_the_gateways_own_origin(project):
    account = project.draft_account
    base = account.resolved_base_url
    assert ROUTE.download_request(account, "t", f"{base}/v1/videos/t/content")[1]["Authorization"].startswith("Bearer ")
    for elsewhere in ("https://cdn.example/v.mp4", base.replace("http://", "https://") + "/v"):
        assert ROUTE.download_request(account, "t", elsewhere)[1] == {}
