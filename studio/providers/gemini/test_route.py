"""Route 5, Google's Gemini API: the adapter against its simulator over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from studio.clips.media import probe
from studio.providers.base import (
    ErrorKind,
    ImageInput,
    ProviderError,
    Tier,
    VideoRequest,
)
from studio.providers.models import ProviderAccount
from studio.providers.registry import get_route, price_data
from studio.simulator.models import SimulatedJob, SimulatorRequest
from studio.tasks import lifecycle
from studio.tasks.archive import archive
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

FAST = "veo-3.1-fast-generate-001"
QUALITY = "veo-3.1-generate-001"
LITE = "veo-3.1-lite-generate-001"
RETIRED_FAST = "veo-3.1-fast-generate-preview"
SETTINGS = {"duration_s": 4, "aspect_ratio": "16:9", "resolution": "720p", "audio": False}
ROUTE = get_route("gemini")


@pytest.fixture
def gemini_project(make_project, people, sim_key):
    """Projects on route 5's simulator."""

    def make(*, name="Moonrise", key=None, poll_interval_s=None, options=None):
        return make_project(
            people, name=name, route="gemini", key=key or sim_key, poll_interval_s=poll_interval_s, options=options
        )

    return make


@pytest.fixture
def project(gemini_project, simulator):
    return gemini_project()


@pytest.fixture
def account(project):
    return project.draft_account


def check_now(task: Task) -> Task:
    """One poll at once, as the tracker would make it when the task falls due."""
    Task.objects.filter(pk=task.pk, state__in=Task.TRACKED_STATES).update(next_check_at=timezone.now())
    (claimed,) = lifecycle.claim_due_checks()
    with lifecycle.http_client() as http:
        lifecycle.apply_report(claimed, lifecycle.fetch_report(claimed, http))
    task.refresh_from_db()
    return task


def follow(task: Task) -> Task:
    """Submit, poll without waiting for the schedule until the task leaves tracking, then archive."""
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    deadline = time.monotonic() + 15
    while task.state in Task.TRACKED_STATES and time.monotonic() < deadline:
        time.sleep(0.3)
        check_now(task)
    if task.state == Task.State.ARCHIVING:
        archive(task.pk)
        task.refresh_from_db()
    return task


def png(color: str) -> ImageInput:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return ImageInput(data=buffer.getvalue(), mime_type="image/png")


def inline(image: ImageInput) -> dict:
    return {"bytesBase64Encoded": base64.b64encode(image.data).decode(), "mimeType": "image/png"}


def header(entry: SimulatorRequest, name: str) -> str | None:
    return next((v for k, v in entry.headers.items() if k.lower() == name.lower()), None)


def sim(path: str) -> str:
    return f"{settings.SITE_URL}/simulator/gemini/{path}"


def https(url: str) -> str:
    return "https://" + url.removeprefix("http://")


# --- What the adapter sends -----------------------------------------------------

RED, GREEN, BLUE, GREY = png("red"), png("green"), png("blue"), png("grey")
BASE = {
    "model": FAST,
    "prompt": "A heron lifts off a misty pond",
    "duration_s": 8,
    "aspect_ratio": "16:9",
    "resolution": "720p",
    "seed": 7,
}


@pytest.mark.parametrize(
    ("images", "instance_extra"),
    [
        ({}, {}),
        ({"first_frame": RED}, {"image": inline(RED)}),
        ({"first_frame": RED, "last_frame": GREEN}, {"image": inline(RED), "lastFrame": inline(GREEN)}),
        (
            {"references": (RED, GREEN, BLUE)},
            {"referenceImages": [{"image": inline(i), "referenceType": "asset"} for i in (RED, GREEN, BLUE)]},
        ),
    ],
    ids=["text", "first-frame", "first-and-last-frame", "three-reference-images"],
)
def test_each_mode_sends_googles_exact_body_with_the_key_header(account, images, instance_extra, sim_key):
    request = VideoRequest(**BASE, negative_prompt="no text overlays", **images)
    assert ROUTE.capabilities[FAST].problems(request) == {}
    with lifecycle.http_client() as http:
        receipt = ROUTE.submit(http, account, request)

    sent = SimulatorRequest.objects.get(method="POST")
    assert sent.path == f"/simulator/gemini/v1beta/models/{FAST}:predictLongRunning"
    assert json.loads(sent.body) == {
        "instances": [{"prompt": "A heron lifts off a misty pond", **instance_extra}],
        "parameters": {
            "aspectRatio": "16:9",
            "resolution": "720p",
            "durationSeconds": 8,
            "sampleCount": 1,
            "negativePrompt": "no text overlays",
        },
    }
    assert header(sent, "x-goog-api-key") is not None and header(sent, "Authorization") is None
    assert sim_key not in json.dumps(sent.headers) and "key=" not in sent.path
    assert receipt.provider_task_id == f"models/{FAST}/operations/{sent.job_id}"
    assert SimulatedJob.objects.filter(pk=sent.job_id, route="gemini").exists()


def test_a_silent_draft_asks_for_no_audio_and_person_generation_comes_from_the_account(
    people, simulator, gemini_project
):
    account = gemini_project(options={"person_generation": "disallow"}).draft_account
    request = VideoRequest(model=FAST, prompt="Quiet", duration_s=4, aspect_ratio="9:16", audio=False)
    with lifecycle.http_client() as http:
        ROUTE.submit(http, account, request)
    body = json.loads(SimulatorRequest.objects.get(method="POST").body)
    # The Gemini API has no audio switch: nothing about audio is sent, and the clip will have sound anyway.
    assert body["parameters"] == {
        "aspectRatio": "9:16",
        "resolution": "720p",
        "durationSeconds": 4,
        "sampleCount": 1,
        "personGeneration": "dont_allow",
    }
    assert "negativePrompt" not in body["parameters"] and "seed" not in body["parameters"]


def test_prompt_rewriting_is_sent_only_when_chosen(people, simulator, gemini_project):
    account = gemini_project().draft_account
    request = VideoRequest(model=FAST, prompt="Quiet", duration_s=4)
    with lifecycle.http_client() as http:
        ROUTE.submit(http, account, replace(request, enhance_prompt=False))
        ROUTE.submit(http, account, request)
    chosen, unsaid = (json.loads(r.body)["parameters"] for r in SimulatorRequest.objects.filter(method="POST"))
    assert chosen["enhancePrompt"] is False and "enhancePrompt" not in unsaid
    # Google names one people value per kind of request, so the editor offers no choice.
    assert ROUTE.capabilities[FAST].people == () and ROUTE.capabilities[FAST].enhance_prompt


# --- The capability table and Google's limits -----------------------------------


def test_the_capability_table_refuses_in_plain_words_what_google_refuses():
    def problems(model=FAST, **change):
        return ROUTE.capabilities[model].problems(VideoRequest(**{**BASE, "model": model, **change}))

    assert problems(resolution="1080p", duration_s=4) == {"duration_s": "1080p and 4k need 8 s on Google's API."}
    assert problems(resolution="4k", duration_s=6)["duration_s"].startswith("1080p and 4k need 8 s")
    assert problems(LITE, resolution="4k")["resolution"] == "This model renders 720p or 1080p."
    assert problems(aspect_ratio="1:1")["aspect_ratio"] == "This route takes 16:9 or 9:16."
    assert problems(duration_s=5)["duration_s"] == "This route takes 4s, 6s or 8s clips."
    needs = "Reference images need 8 s clips at 16:9 on Google's API."
    assert problems(references=(RED,), duration_s=6) == {"references": needs}
    assert problems(references=(RED,), aspect_ratio="9:16") == {"references": needs}
    assert "at most 3" in problems(references=(RED, GREEN, BLUE, GREY))["references"]
    assert problems(last_frame=GREEN)["last_frame"] == "A last frame needs a first frame too."
    assert problems(QUALITY, resolution="4k") == {} and problems(audio=True) == {}
    for caps in ROUTE.capabilities.values():
        # No seed: Google's SDK refuses one in Gemini API mode, so the editor offers none.
        assert caps.audio and not caps.images_by_url and not caps.seed and caps.negative_prompt


def test_the_editor_offers_no_seed_on_this_route(project, owner_client):
    page = owner_client.get(reverse("draft-form", args=[project.pk])).content.decode()
    assert 'name="prompt"' in page and 'name="negative_prompt"' in page
    assert 'name="seed"' not in page


PAYLOAD = {
    "instances": [{"prompt": "Rain on a tin roof"}],
    "parameters": {"aspectRatio": "16:9", "resolution": "720p", "durationSeconds": 8, "sampleCount": 1},
}


@pytest.mark.parametrize(
    ("instance", "parameters", "words"),
    [
        ({}, {"durationSeconds": 5}, "durationSeconds must be 4, 6 or 8"),
        ({}, {"durationSeconds": "8"}, "durationSeconds must be 4, 6 or 8"),
        ({}, {"resolution": "1080p", "durationSeconds": 6}, "need durationSeconds 8"),
        ({}, {"aspectRatio": "1:1"}, "aspectRatio must be 16:9 or 9:16"),
        ({}, {"seed": 7}, 'Unknown name "seed"'),
        ({}, {"personGeneration": "everyone"}, "personGeneration must be"),
        ({}, {"enhancePrompt": "yes"}, "enhancePrompt must be a boolean"),
        ({}, {"sampleCount": 0}, "sampleCount must be an integer from 1 to 4"),
        ({}, {"sampleCount": 5}, "sampleCount must be an integer from 1 to 4"),
        ({}, {"generateAudio": True}, 'Unknown name "generateAudio"'),
        ({"prompt": ""}, {}, "A prompt is required"),
        ({"lastFrame": inline(GREEN)}, {}, "lastFrame needs image"),
        ({"image": {"bytesBase64Encoded": "!!", "mimeType": "image/png"}}, {}, "base64"),
        (
            {"referenceImages": [{"image": inline(RED), "referenceType": "asset"}]},
            {"aspectRatio": "9:16"},
            "referenceImages need durationSeconds 8 and aspectRatio 16:9",
        ),
        ({"referenceImages": [{"image": inline(RED), "referenceType": "asset"}] * 4}, {}, "at most 3"),
        ({"referenceImages": [{"image": inline(RED), "referenceType": "style"}]}, {}, 'must be "asset"'),
    ],
)
def test_the_simulator_enforces_googles_limits_in_googles_error_envelope(
    simulator, sim_key, instance, parameters, words
):
    body = {
        "instances": [{**PAYLOAD["instances"][0], **instance}],
        "parameters": {**PAYLOAD["parameters"], **parameters},
    }
    answer = httpx.post(sim(f"v1beta/models/{FAST}:predictLongRunning"), json=body, headers={"x-goog-api-key": sim_key})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and words in error["message"]
    assert not SimulatedJob.objects.exists()


def test_an_operation_moves_from_no_done_to_done_false_to_a_video_uri(simulator, sim_key, settings):
    settings.SIMULATOR = {**settings.SIMULATOR, "draft_seconds": 1.5}
    key = {"x-goog-api-key": sim_key}
    name = httpx.post(sim(f"v1beta/models/{FAST}:predictLongRunning"), json=PAYLOAD, headers=key).json()["name"]
    assert name.startswith(f"models/{FAST}/operations/")
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        answer = httpx.get(sim(f"v1beta/{name}"), headers=key).json()
        shape = "done" if answer.get("done") else ("done: false" if "done" in answer else "no done")
        if not seen or seen[-1] != shape:
            seen.append(shape)
        if shape == "done":
            break
        time.sleep(0.02)
    assert seen == ["no done", "done: false", "done"]
    job_id = name.rsplit("/", 1)[1]
    # https, as Google's own, though the simulator answers on plain http: clients read only the file id.
    assert answer["response"]["generateVideoResponse"] == {
        "generatedSamples": [{"video": {"uri": https(sim(f"v1beta/files/{job_id}:download?alt=media"))}}]
    }
    unknown = httpx.post(sim("v1beta/models/veo-9:predictLongRunning"), json=PAYLOAD, headers=key)
    assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"


def test_the_simulator_takes_google_sdks_upper_case_enums_enhance_prompt_and_sample_count(simulator, sim_key):
    # What google-genai 2.x sends in Gemini API mode (test_sdk_contract.py drives the SDK itself).
    body = {
        "instances": [
            {
                "prompt": "Rain on a tin roof",
                "referenceImages": [{"image": inline(RED), "referenceType": "ASSET"}],
            }
        ],
        "parameters": {
            **PAYLOAD["parameters"],
            "personGeneration": "ALLOW_ALL",
            "enhancePrompt": True,
            "sampleCount": 4,
        },
    }
    answer = httpx.post(sim(f"v1beta/models/{FAST}:predictLongRunning"), json=body, headers={"x-goog-api-key": sim_key})
    assert answer.status_code == 200, answer.text
    assert SimulatedJob.objects.count() == 4


def test_each_sample_is_its_own_video_and_the_operation_is_done_when_all_are(simulator, sim_key, rendered):
    key = {"x-goog-api-key": sim_key}
    body = {**PAYLOAD, "parameters": {**PAYLOAD["parameters"], "durationSeconds": 4, "sampleCount": 3}}
    name = httpx.post(sim(f"v1beta/models/{FAST}:predictLongRunning"), json=body, headers=key).json()["name"]
    job_id = name.rsplit("/", 1)[1]
    ids = [job_id, f"{job_id}s1", f"{job_id}s2"]
    assert sorted(SimulatedJob.objects.values_list("pk", flat=True)) == sorted(ids)
    answer: dict = {}
    deadline = time.monotonic() + 30
    while not answer.get("done") and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = httpx.get(sim(f"v1beta/{name}"), headers=key).json()
    assert all(rendered(sample).video for sample in ids)
    samples = answer["response"]["generateVideoResponse"]["generatedSamples"]
    assert [sample["video"]["uri"] for sample in samples] == [
        https(sim(f"v1beta/files/{sample}:download?alt=media")) for sample in ids
    ]
    videos = [
        httpx.get(sim(f"v1beta/files/{sample}:download?alt=media"), headers=key, follow_redirects=True)
        for sample in ids
    ]
    assert all(video.status_code == 200 for video in videos)
    assert len({video.content for video in videos}) == 3  # three different videos, not one three times


def test_lite_has_no_4k(simulator, sim_key, account):
    body = {**PAYLOAD, "parameters": {**PAYLOAD["parameters"], "resolution": "4k"}}
    answer = httpx.post(sim(f"v1beta/models/{LITE}:predictLongRunning"), json=body, headers={"x-goog-api-key": sim_key})
    assert answer.status_code == 400 and "4k is not supported" in answer.json()["error"]["message"]
    with lifecycle.http_client() as http:
        receipt = ROUTE.submit(http, account, VideoRequest(model=LITE, prompt="Dawn", duration_s=4))
    assert receipt.provider_task_id.startswith(f"models/{LITE}/operations/")


def test_a_refused_setting_fails_the_task_in_googles_words_and_bills_nothing(project, people, pending):
    # The form checks first; this is what happens if Google refuses anyway.
    task = follow(pending(project, people["owner"], resolution="1080p", duration_s=4))
    assert task.state == Task.State.FAILED and task.error_code == "validation"
    assert "Google refused the settings: 1080p and 4k resolutions need durationSeconds 8" in task.error_message
    assert "Nothing was billed" in task.error_message and task.cost_charged == 0


def test_a_retired_model_fails_plainly_bills_nothing_and_the_editor_refuses_it_until_an_owner_picks_another(
    project, people, pending, owner_client
):
    account = project.draft_account
    account.model_ids = {"fast": RETIRED_FAST}
    account.save()
    task = follow(pending(project, people["owner"], tier=Tier.FAST))
    assert (task.model, task.state, task.error_code) == (RETIRED_FAST, Task.State.FAILED, "retired_model")
    assert task.error_message.startswith(
        f"Google has retired this model ({RETIRED_FAST} is no longer available). Nothing was billed. "
        "A project owner can set another model id for this tier on the provider account's page"
    )
    assert task.cost_charged == 0 and not SimulatedJob.objects.exists()

    account.refresh_from_db()
    assert list(account.gone_models) == [RETIRED_FAST]
    problems = lifecycle.problems_with(
        account=account, tier=Tier.FAST, parameters=SETTINGS, prompt="Dawn", negative_prompt=""
    )
    assert problems["tier"].startswith(f"The provider answered on {timezone.now():%-d %b %Y} that {RETIRED_FAST}")
    assert "A project owner can set another fast model" in problems["tier"]
    editor = owner_client.get(f"/projects/{project.pk}/").content.decode()
    assert f"Fast · {RETIRED_FAST} (gone)" in editor and "is no longer available" in editor
    # The lite tier is untouched: its model still renders.
    assert "tier" not in lifecycle.problems_with(
        account=account, tier=Tier.LITE, parameters=SETTINGS, prompt="Dawn", negative_prompt=""
    )


# --- Keys -----------------------------------------------------------------------


def test_a_wrong_key_fails_as_a_refused_key_and_a_missing_key_is_permission_denied(
    people, simulator, gemini_project, pending
):
    project = gemini_project(key="not-a-sim-key")
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.FAILED and task.error_code == "auth"
    assert "Google refused the API key: API key not valid" in task.error_message
    assert "Nothing was billed" in task.error_message

    answer = httpx.post(sim(f"v1beta/models/{FAST}:predictLongRunning"), json=PAYLOAD)
    assert answer.status_code == 403 and answer.json()["error"]["status"] == "PERMISSION_DENIED"


def test_check_account_passes_a_good_key_names_a_bad_one_and_creates_nothing(people, simulator, gemini_project):
    good = gemini_project().draft_account
    bad = gemini_project(name="Other", key="sim-").draft_account
    with lifecycle.http_client() as http:
        assert ROUTE.check_account(http, good) is None
        with pytest.raises(ProviderError) as refused:
            ROUTE.check_account(http, bad)
    assert refused.value.kind == ErrorKind.AUTH and "API key not valid" in refused.value.message
    assert not SimulatedJob.objects.exists()
    assert not SimulatorRequest.objects.filter(method="POST").exists()


# --- Terminal states ------------------------------------------------------------


def test_a_draft_goes_through_the_worker_never_faster_than_five_seconds_and_is_archived_with_sound(
    people, simulator, settings, run_worker, sim_key, gemini_project, pending
):
    # An account asking for 0.5 s is clamped to the route's 5 s minimum; a 7 s render takes two polls.
    settings.SIMULATOR = {**settings.SIMULATOR, "draft_seconds": 7}
    project = gemini_project(poll_interval_s=0.5)
    task = pending(project, people["owner"], text="A red kite over a barley field", aspect_ratio="9:16")
    (task,) = run_worker(task.pk, timeout=40)
    assert task.state == Task.State.DONE, task.error_message

    job_id = task.provider_task_id.rsplit("/", 1)[1]
    submitted = SimulatorRequest.objects.get(method="POST", job_id=job_id).at
    polls = list(
        SimulatorRequest.objects.filter(path__contains="/operations/", job_id=job_id).values_list("at", flat=True)
    )
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise([submitted, *polls])]
    assert len(polls) == 2 and min(gaps) >= 5.0, gaps

    # Asked silent, yet Google's route always renders sound: the clip says so.
    info = probe(Path(task.clip.file.path))
    assert (info.width, info.height, task.clip.has_audio) == (720, 1280, True)
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    assert task.video_url == https(sim(f"v1beta/files/{job_id}:download?alt=media"))
    expires_in = (task.video_url_expires_at - timezone.now()).total_seconds()
    assert 2 * 86400 - 60 < expires_in <= 2 * 86400

    # The key went on Google's own file URL only; the signed location it redirected to never saw it.
    file_requests = list(SimulatorRequest.objects.filter(path__contains="/v1beta/files/"))
    signed = list(SimulatorRequest.objects.filter(path__startswith="/simulator/gemini/download/"))
    assert file_requests and all(
        # The key went in the query: masked in the log, as keys in headers are.
        r.status == 302 and "key=" in r.path and sim_key not in r.path and header(r, "x-goog-api-key") is None
        for r in file_requests
    )
    assert signed[-1].status == 200 and all(
        "key=" not in r.path and header(r, "x-goog-api-key") is None for r in signed
    )


def test_the_default_schedule_is_every_ten_seconds_and_never_below_five(project, people, pending):
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert (task.next_check_at - task.submitted_at).total_seconds() == pytest.approx(10.0, abs=0.05)
    for elapsed in (0, 9, 30, 120, 600, 900):
        assert ROUTE.poll_delay(model=FAST, elapsed_s=elapsed) == 10.0 >= ROUTE.min_poll_interval_s == 5.0
    assert ROUTE.deadline_s == 15 * 60 and ROUTE.result_ttl_s == 2 * 24 * 3600


@pytest.mark.parametrize(
    ("marker", "reason"),
    [("#blocked", "violate Google's Responsible AI practices"), ("#filtered", "removed because it may violate")],
)
def test_a_safety_filtered_operation_is_blocked_and_not_billed(project, people, marker, reason, pending):
    task = follow(pending(project, people["owner"], text=f"A street fight {marker}"))
    assert task.state == Task.State.BLOCKED and task.error_code == "safety"
    assert task.error_message.startswith("Google's safety filter removed the video:") and reason in task.error_message
    assert task.cost_charged == 0 and not hasattr(task, "clip")


def test_an_operation_done_with_an_error_fails_in_googles_words_and_bills_nothing(project, people, pending):
    task = follow(pending(project, people["owner"], text="A lighthouse #failed"))
    assert task.state == Task.State.FAILED and task.error_code == "failed"
    assert "Google could not render it: Video generation failed due to an internal error" in task.error_message
    assert task.cost_charged == 0


def test_done_with_no_samples_is_an_empty_result_that_may_have_billed(project, people, pending):
    task = follow(pending(project, people["owner"], text="A lighthouse #empty"))
    assert task.state == Task.State.FAILED and task.error_code == "empty_result"
    assert "may still have billed" in task.error_message and task.cost_charged is None


# --- Errors on the way ----------------------------------------------------------


def test_a_rate_limit_waits_as_long_as_retry_after_says_then_sends_again(project, people, pending):
    task = pending(project, people["owner"], text="Dunes #ratelimit")
    before = timezone.now()
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.PENDING and task.error_code == "rate_limit"
    assert "Sending again in 1 s; nothing was billed" in task.error_message
    assert (task.next_check_at - before).total_seconds() == pytest.approx(1.0, abs=0.5)
    assert not SimulatedJob.objects.exists()


def test_poll_500s_are_retried_with_backoff_until_the_operation_answers(project, people, pending, rendered):
    task = pending(project, people["owner"], text="Cliffs #poll500")
    lifecycle.submit(task.pk)
    time.sleep(0.7)
    rendered(SimulatedJob.objects.get().pk)
    for _ in range(2):
        asked = timezone.now()
        task = check_now(task)
        assert task.state in Task.TRACKED_STATES and task.error_code == "outage"
        assert "Google had an internal error (HTTP 500 INTERNAL)" in task.error_message
        # Backing off: twice the 10 s cadence.
        assert (task.next_check_at - asked).total_seconds() >= 20.0
    assert check_now(task).state == Task.State.ARCHIVING


def test_a_malformed_poll_answer_is_read_as_such_and_polled_again(project, people, pending, rendered):
    task = pending(project, people["owner"], text="Cliffs #malformed")
    lifecycle.submit(task.pk)
    time.sleep(0.7)
    rendered(SimulatedJob.objects.get().pk)
    task = check_now(task)
    assert task.state in Task.TRACKED_STATES and task.error_code == "bad_answer"
    assert check_now(task).state == Task.State.ARCHIVING


def test_a_lost_submit_answer_is_uncertain_and_never_sent_again(project, people, pending):
    # The cut answer stalls the test server until the read timeout (2 s under the simulator fixture).
    task = pending(project, people["owner"], text="Glacier #lost")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.UNCERTAIN and "will not send it again on its own" in task.error_message
    assert lifecycle.submit(task.pk) is False
    assert SimulatorRequest.objects.filter(method="POST").count() == 1 and SimulatedJob.objects.count() == 1


def test_an_unknown_operation_is_not_found(account):
    with lifecycle.http_client() as http, pytest.raises(ProviderError) as missing:
        ROUTE.poll(http, account, f"models/{FAST}/operations/nope")
    assert missing.value.kind == ErrorKind.NOT_FOUND


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after"),
    [
        (
            400,
            {"error": {"code": 400, "message": "bad aspect", "status": "INVALID_ARGUMENT"}},
            {},
            ErrorKind.VALIDATION,
            None,
        ),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "x",
                    "status": "INVALID_ARGUMENT",
                    "details": [{"reason": "API_KEY_INVALID"}],
                }
            },
            {},
            ErrorKind.AUTH,
            None,
        ),
        (401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, {}, ErrorKind.AUTH, None),
        (403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}}, {}, ErrorKind.AUTH, None),
        (404, {"error": {"code": 404, "status": "NOT_FOUND"}}, {}, ErrorKind.NOT_FOUND, None),
        (
            429,
            {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}},
            {"Retry-After": "12"},
            ErrorKind.RATE_LIMIT,
            12.0,
        ),
        (
            429,
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
                }
            },
            {},
            ErrorKind.RATE_LIMIT,
            37.0,
        ),
        (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, {}, ErrorKind.RATE_LIMIT, 60.0),
        (500, {"error": {"code": 500, "status": "INTERNAL"}}, {}, ErrorKind.OUTAGE, None),
        (503, {"error": {"code": 503, "status": "UNAVAILABLE"}}, {}, ErrorKind.OUTAGE, None),
        (502, "<html>Bad Gateway</html>", {}, ErrorKind.OUTAGE, None),
    ],
)
def test_every_google_error_class_maps_to_a_plain_kind(status, body, headers, kind, retry_after):
    """Classes the simulator has no marker for, answered by a stand-in transport at the HTTP boundary."""
    content = body if isinstance(body, str) else json.dumps(body)
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=content, headers=headers))
    account = ProviderAccount(route="gemini", base_url="https://generativelanguage.googleapis.com")
    account.set_api_key("AIza-test")
    with httpx.Client(transport=transport) as http, pytest.raises(ProviderError) as raised:
        ROUTE.submit(http, account, VideoRequest(model=FAST, prompt="x"))
    assert raised.value.kind == kind and raised.value.http_status == status
    assert raised.value.retry_after == retry_after


# --- Downloads ------------------------------------------------------------------


def test_the_file_url_is_refused_without_the_key_and_served_with_it(project, people, sim_key, pending, rendered):
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    time.sleep(0.7)
    rendered(SimulatedJob.objects.get().pk)
    uri = check_now(task).video_url
    # Google's https URI names the file; it is fetched from the account's own address, as the SDK does.
    assert uri.startswith("https://")
    plain = sim(f"v1beta/files/{SimulatedJob.objects.get().pk}:download?alt=media")
    refused = httpx.get(plain)
    assert refused.status_code == 403 and refused.json()["error"]["status"] == "PERMISSION_DENIED"
    url, headers = ROUTE.download_request(project.draft_account, task.provider_task_id, uri)
    assert headers == {} and url == f"{plain}&key={sim_key}"
    served = httpx.get(url, follow_redirects=True)
    assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
    assert [r.status_code for r in served.history] == [302]
    by_header = httpx.get(plain, headers={"x-goog-api-key": sim_key}, follow_redirects=True)
    assert by_header.status_code == 200 and by_header.content == served.content


def test_the_key_is_put_only_on_file_urls_at_the_accounts_own_origin(people, media, gemini_project):
    google = gemini_project(options={}).draft_account
    google.base_url = ""
    google.set_api_key("AIza-real-looking")
    assert google.resolved_base_url == "https://generativelanguage.googleapis.com"
    own = "https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media"
    assert ROUTE.download_request(google, "op", own) == (own + "&key=AIza-real-looking", {})
    # A file URI saying http is fetched by its id from the account's https address: the key never goes plain.
    plain = "http://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media"
    assert ROUTE.download_request(google, "op", plain) == (own + "&key=AIza-real-looking", {})
    for foreign in (
        "https://storage.googleapis.com/bucket/abc.mp4?X-Goog-Signature=1",
        "http://generativelanguage.googleapis.com/v1beta/other/abc",
        "https://generativelanguage.googleapis.com:8443/v1beta/files/abc:download",
        "https://generativelanguage.googleapis.com.evil.example/v1beta/files/abc:download",
    ):
        assert ROUTE.download_request(google, "op", foreign) == (foreign, {})


def test_a_download_cut_halfway_is_resumed_with_range(project, people, pending, rendered):
    # On the test server the cut shows as a stall until the read timeout (2 s under the fixture).
    task = pending(project, people["owner"], text="Harbour lights #truncated")
    lifecycle.submit(task.pk)
    job = rendered(SimulatedJob.objects.get().pk)
    task = follow(task)
    assert task.state == Task.State.DONE, task.error_message
    signed = list(SimulatorRequest.objects.filter(path__startswith="/simulator/gemini/download/"))
    assert len(signed) == 2 and header(signed[0], "Range") is None
    assert header(signed[1], "Range").startswith("bytes=") and signed[1].status == 206
    assert signed[0].job_id == job.pk
    with job.video.open("rb") as original:
        assert Path(task.clip.file.path).read_bytes() == original.read()


def test_a_video_answered_inline_is_archived_through_the_same_checks(project, people, pending, run_worker):
    # Through the worker: the tracker's polls read the operation, bytes and all, then the archive stores them.
    (task,) = run_worker(pending(project, people["owner"], text="Harbour lights #inline").pk, timeout=40)
    assert task.state == Task.State.DONE, task.error_message
    job = SimulatedJob.objects.get()
    with job.video.open("rb") as original:
        sent = original.read()
    clip = task.clip
    stored = Path(clip.file.path).read_bytes()
    assert stored == sent and clip.bytes == len(sent)
    assert clip.sha256 == hashlib.sha256(sent).hexdigest() and clip.poster and clip.has_audio
    assert probe(Path(clip.file.path)).duration_s == pytest.approx(4.0, abs=0.1)
    assert task.video_url.startswith("data:video/mp4;base64,")
    # Nothing was fetched: the operation's answer held the video.
    assert not SimulatorRequest.objects.filter(download=True).exists()


@pytest.mark.parametrize(
    ("video", "words"),
    [
        ({"encodedVideo": "!!not base64!!", "encoding": "video/mp4"}, "not base64 data"),
        ({"bytesBase64Encoded": base64.b64encode(b"no video here").decode()}, "not a playable video"),
    ],
)
def test_an_inline_answer_that_is_no_video_fails_saying_it_may_have_billed(project, people, pending, video, words):
    """A done operation whose inline sample is unusable, answered by a stand-in at the poll's HTTP boundary."""
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    done = {
        "name": task.provider_task_id,
        "done": True,
        "response": {"generateVideoResponse": {"generatedSamples": [{"video": video}]}},
    }
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=done))) as http:
        report = ROUTE.poll(http, project.draft_account, task.provider_task_id)
    Task.objects.filter(pk=task.pk).update(next_check_at=timezone.now())
    (claimed,) = lifecycle.claim_due_checks()
    lifecycle.apply_report(claimed, report)
    task.refresh_from_db()
    assert task.state == Task.State.ARCHIVING and task.video_url.startswith("data:")
    archive(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.error_code == "empty_result" and not hasattr(task, "clip")
    assert words in task.error_message and task.cost_charged is None


def test_an_expired_file_link_fails_the_download_without_a_clip(project, people, pending):
    task = follow(pending(project, people["owner"], text="Harbour lights #expired"))
    assert task.state == Task.State.FAILED and not hasattr(task, "clip")
    signed = SimulatorRequest.objects.get(path__startswith="/simulator/gemini/download/")
    assert signed.status == 403


# --- Prices -----------------------------------------------------------------------


def test_prices_reuse_route_fours_figures_for_the_same_models_with_audio_only():
    def cards(slug):
        return {(c["model"], c["resolution"], c["audio"]): c["usd_per_second"] for c in price_data(slug)["cards"]}

    route_four, route_five = cards("videos-gateway"), cards("gemini")
    assert route_five and all(audio for _, _, audio in route_five)
    # Route 4's gateway still names the preview ids; the GA ids carry the same list prices.
    as_preview = {
        ROUTE.model_for(tier): model.replace("-001", "-preview") for tier in Tier if (model := ROUTE.model_for(tier))
    }
    assert set(as_preview.values()) <= set(ROUTE.retired_models)
    for (model, resolution, audio), price in route_five.items():
        assert route_four[(as_preview.get(model, model), resolution, audio)] == price
        assert resolution in ROUTE.capabilities[model].resolutions
    assert {model for model, _, _ in route_five} == set(ROUTE.capabilities)


def test_variations_drawn_together_are_one_request_whose_samples_are_each_a_clip(
    gemini_project, simulator, clients, draft_form, run_worker
):
    project = gemini_project(poll_interval_s=5.0)
    answer = clients["editor"].post(
        f"/projects/{project.pk}/draft",
        draft_form(prompt="Gulls over a harbour", variations="2", one_request="on", form_token="together"),
    )
    assert answer.status_code == 302
    sender, other = Task.objects.filter(project=project).order_by("pk")
    assert other.sample_of == sender
    done = run_worker(sender.pk, other.pk)
    assert all(task.state == Task.State.DONE for task in done), [task.error_message for task in done]
    (sent,) = SimulatorRequest.objects.filter(path__endswith=":predictLongRunning")
    assert json.loads(sent.body)["parameters"]["sampleCount"] == 2
    assert done[0].clip.sha256 != done[1].clip.sha256 and done[0].provider_task_id == done[1].provider_task_id
