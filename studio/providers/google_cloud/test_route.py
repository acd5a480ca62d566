"""Route 6, Veo on Google Cloud: the adapter against its simulator over real HTTP, tokens and all."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import itertools
import json
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from PIL import Image

from studio.clips.media import probe
from studio.images.models import InputImage
from studio.providers.base import ErrorKind, ImageInput, ProviderError, Report, Status, Tier, VideoRequest
from studio.providers.google_cloud.adapter import api_base
from studio.providers.google_cloud.auth import KEYRING, Token
from studio.providers.models import ProviderAccount
from studio.providers.registry import get_route, price_data
from studio.simulator.models import SimulatedJob, SimulatorRequest, SimulatorServiceAccountKey
from studio.tasks import lifecycle
from studio.tasks.archive import archive
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

QUALITY = "veo-3.1-generate-001"
FAST = "veo-3.1-fast-generate-001"
LITE = "veo-3.1-lite-generate-001"
PROJECT_ID = "dailies-sim"
LOCATION = "us-central1"
OPTIONS = {"project_id": PROJECT_ID, "location": LOCATION}
RESOURCE = f"projects/{PROJECT_ID}/locations/{LOCATION}/publishers/google/models"
ROUTE = get_route("google-cloud")


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
    deadline = time.monotonic() + 20
    while task.state in Task.TRACKED_STATES and time.monotonic() < deadline:
        time.sleep(0.3)
        check_now(task)
    if task.state == Task.State.ARCHIVING:
        archive(task.pk)
        task.refresh_from_db()
    return task


def png(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def inline(color: str) -> dict:
    return {"bytesBase64Encoded": base64.b64encode(png(color)).decode(), "mimeType": "image/png"}


def header(entry: SimulatorRequest, name: str) -> str | None:
    return next((v for k, v in entry.headers.items() if k.lower() == name.lower()), None)


def sim(path: str) -> str:
    return f"{settings.SITE_URL}/simulator/google-cloud/{path}"


def token_requests() -> list[SimulatorRequest]:
    return list(SimulatorRequest.objects.filter(route="google-cloud", path="/simulator/google-cloud/token"))


def api_requests(verb: str) -> list[SimulatorRequest]:
    return list(SimulatorRequest.objects.filter(route="google-cloud", path__endswith=f":{verb}"))


def bearer_for(key: str) -> dict[str, str]:
    """A token for a key file, fetched as the adapter does (through google-auth and a plain client)."""
    KEYRING.forget()
    account = ProviderAccount(route="google-cloud", options=OPTIONS)
    account.set_api_key(key)
    with httpx.Client() as http, KEYRING.session(http, account) as auth:
        return auth.headers()


def unissued_key_file(token_uri: str) -> str:
    """A well-formed key file that no one issued (a fresh private key), for stand-in transports and refusals."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": "0" * 40,
            "private_key": pem,
            "client_email": f"stranger@{PROJECT_ID}.iam.gserviceaccount.com",
            "token_uri": token_uri,
        }
    )


def uploaded(project, media: Path, color: str) -> InputImage:
    media.mkdir(parents=True, exist_ok=True)
    (media / f"in-{color}.png").write_bytes(png(color))
    return InputImage.objects.create(
        project=project,
        file=f"in-{color}.png",
        thumbnail=f"in-{color}.png",
        mime_type="image/png",
        width=8,
        height=8,
        bytes=len(png(color)),
        sha256="0" * 64,
    )


# --- What the adapter sends, through the task lifecycle ------------------------------------------


@pytest.mark.parametrize(
    ("images", "instance_extra"),
    [
        ((), {}),
        (("first_frame",), {"image": inline("red")}),
        (("first_frame", "last_frame"), {"image": inline("red"), "lastFrame": inline("green")}),
        (
            ("references",),
            {"referenceImages": [{"image": inline(c), "referenceType": "asset"} for c in ("red", "green", "blue")]},
        ),
    ],
    ids=["text", "first-frame", "first-and-last-frame", "three-reference-images"],
)
def test_each_mode_renders_end_to_end_with_googles_exact_body_and_a_bearer_token(
    project, people, media, pending, images, instance_extra
):
    red, green, blue = (uploaded(project, media, c) for c in ("red", "green", "blue"))
    chosen = {
        "first_frame": {"first_frame": red.pk},
        "last_frame": {"last_frame": green.pk},
        "references": {"references": [red.pk, green.pk, blue.pk]},
    }
    parameters = {name: value for image in images for name, value in chosen[image].items()}
    task = follow(pending(project, people["owner"], text="A heron lifts off a misty pond", duration_s=8, **parameters))
    assert task.state == Task.State.DONE, task.error_message

    (submitted,) = api_requests("predictLongRunning")
    assert submitted.path == f"/simulator/google-cloud/v1/{RESOURCE}/{FAST}:predictLongRunning"
    assert json.loads(submitted.body) == {
        "instances": [{"prompt": "A heron lifts off a misty pond", **instance_extra}],
        "parameters": {
            "aspectRatio": "16:9",
            "resolution": "720p",
            "durationSeconds": 8,
            "generateAudio": False,
            "sampleCount": 1,
            "seed": 7,
        },
    }
    # The token came first, from the key file's own token_uri; the API saw only the token, never the key.
    (fetched,) = token_requests()
    assert fetched.pk < submitted.pk and fetched.status == 200
    assert header(submitted, "Authorization").startswith("Bearer ya29.")
    assert task.provider_task_id == f"{RESOURCE}/{FAST}/operations/{submitted.job_id}"
    info = probe(Path(task.clip.file.path))
    assert (info.width, info.height, task.clip.has_audio) == (1280, 720, False)


def test_account_options_reach_google_and_a_silent_draft_asks_for_no_audio(cloud_project, people, pending):
    options = {"person_generation": "disallow", "enhance_prompt": False, "storage_uri": "gs://dailies-renders/drafts/"}
    project = cloud_project(options=options)
    lifecycle.submit(pending(project, people["owner"], aspect_ratio="9:16", audio=False).pk)
    (submitted,) = api_requests("predictLongRunning")
    assert json.loads(submitted.body)["parameters"] == {
        "aspectRatio": "9:16",
        "resolution": "720p",
        "durationSeconds": 4,
        "generateAudio": False,
        "sampleCount": 1,
        "seed": 7,
        "personGeneration": "dont_allow",
        "enhancePrompt": False,
        "storageUri": "gs://dailies-renders/drafts/",
    }


def test_the_editors_people_and_rewriting_choice_overrides_the_accounts_options(cloud_project, people, pending):
    project = cloud_project(options={"person_generation": "disallow", "enhance_prompt": False})
    lifecycle.submit(pending(project, people["owner"], people="allow_adult", enhance_prompt=True).pk)
    (submitted,) = api_requests("predictLongRunning")
    parameters = json.loads(submitted.body)["parameters"]
    assert (parameters["personGeneration"], parameters["enhancePrompt"]) == ("allow_adult", True)
    # allow_all needs Google's approval here, so the editor does not offer it.
    assert ROUTE.capabilities[FAST].people == ("allow_adult", "dont_allow")
    assert "people" in ROUTE.capabilities[FAST].problems(VideoRequest(model=FAST, prompt="p", people="allow_all"))


def test_the_capability_table_refuses_in_plain_words_what_google_refuses():
    base = {"model": FAST, "prompt": "p", "duration_s": 8, "aspect_ratio": "16:9", "resolution": "720p"}
    red = ImageInput(png("red"), "image/png")

    def problems(model=FAST, **change):
        return ROUTE.capabilities[model].problems(VideoRequest(**{**base, "model": model, **change}))

    assert problems(resolution="1080p", duration_s=4) == {"duration_s": "1080p and 4k need 8 s on Google Cloud."}
    assert problems(QUALITY, resolution="4k") == {} and problems(resolution="4k") == {}
    assert problems(aspect_ratio="1:1")["aspect_ratio"] == "This route takes 16:9 or 9:16."
    needs = "Reference images need 8 s clips at 16:9 on Google Cloud."
    assert problems(references=(red,), aspect_ratio="9:16") == {"references": needs}
    assert "at most 3" in problems(references=(red,) * 4)["references"]
    # Lite: text or a first frame, at 720p or 1080p.
    assert problems(LITE, resolution="4k")["resolution"] == "This model renders 720p or 1080p."
    assert problems(LITE, first_frame=red) == {}
    assert problems(LITE, first_frame=red, last_frame=red)["last_frame"] == "This model does not take a last frame."
    assert problems(LITE, references=(red,))["references"] == "This model does not take reference images."
    for caps in ROUTE.capabilities.values():
        assert caps.seed and caps.audio and not caps.always_audio and not caps.images_by_url and caps.negative_prompt


PAYLOAD = {
    "instances": [{"prompt": "Rain on a tin roof"}],
    "parameters": {"aspectRatio": "16:9", "resolution": "720p", "durationSeconds": 8, "sampleCount": 1},
}


@pytest.mark.parametrize(
    ("model", "instance", "parameters", "words"),
    [
        (FAST, {}, {"durationSeconds": 5}, "durationSeconds must be 4, 6 or 8"),
        (FAST, {}, {"resolution": "1080p", "durationSeconds": 6}, "need durationSeconds 8"),
        (FAST, {}, {"aspectRatio": "1:1"}, "aspectRatio must be 16:9 or 9:16"),
        (FAST, {}, {"seed": 2**32}, "seed must be an integer from 0 to 4294967295"),
        (FAST, {}, {"generateAudio": "yes"}, "generateAudio must be a boolean"),
        (FAST, {}, {"sampleCount": 5}, "sampleCount must be an integer from 1 to 4"),
        (FAST, {}, {"storageUri": "s3://bucket/x"}, "storageUri must be a Cloud Storage URI"),
        (FAST, {}, {"watermark": True}, 'Unknown name "watermark"'),
        (FAST, {"prompt": ""}, {}, "A prompt is required"),
        (FAST, {"lastFrame": inline("green")}, {}, "lastFrame needs image"),
        (FAST, {"referenceImages": [{"image": inline("red"), "referenceType": "asset"}] * 4}, {}, "at most 3"),
        (FAST, {"referenceImages": [{"image": inline("red"), "referenceType": "style"}]}, {}, 'must be "asset"'),
        (FAST, {"video": {"gcsUri": "gs://nobody/x/sample_0.mp4", "mimeType": "video/mp4"}}, {}, "names no object"),
        (LITE, {}, {"resolution": "4k"}, "4k is not supported"),
        (LITE, {"image": inline("red"), "lastFrame": inline("green")}, {}, "lastFrame is not supported"),
    ],
)
def test_the_simulator_enforces_googles_limits_in_googles_error_envelope(key_file, model, instance, parameters, words):
    body = {
        "instances": [{**PAYLOAD["instances"][0], **instance}],
        "parameters": {**PAYLOAD["parameters"], **parameters},
    }
    answer = httpx.post(sim(f"v1/{RESOURCE}/{model}:predictLongRunning"), json=body, headers=bearer_for(key_file()))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and words in error["message"]
    assert not SimulatedJob.objects.exists()


# --- Tokens -------------------------------------------------------------------------------------


def test_one_token_serves_every_request_until_it_nears_its_expiry(project, people, pending):
    for _ in range(3):
        lifecycle.submit(pending(project, people["owner"]).pk)
    assert len(api_requests("predictLongRunning")) == 3 and len(token_requests()) == 1
    task = Task.objects.first()
    check_now(task)
    assert len(token_requests()) == 1  # the poll brought the same token


def test_an_expired_token_is_refreshed_before_the_next_request(project, people, pending, settings):
    # Tokens of 4 s are handed out again for 3 s (a quarter of their life is the margin), then refreshed.
    settings.SIMULATOR = {**settings.SIMULATOR, "google_cloud_token_seconds": 4, "draft_seconds": 30}
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    assert len(token_requests()) == 1
    time.sleep(4.2)  # the simulator no longer takes that token either
    task = check_now(task)
    assert task.state in Task.TRACKED_STATES and task.error_code == "", task.error_message
    _, refreshed = token_requests()
    (poll,) = api_requests("fetchPredictOperation")  # one poll, answered: no token was sent stale
    assert refreshed.pk < poll.pk and poll.status == 200


def test_a_token_google_stops_taking_early_is_replaced_once_and_the_request_sent_again(
    project, people, pending, settings
):
    settings.SIMULATOR = {**settings.SIMULATOR, "draft_seconds": 30}
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    # Google refuses every token issued so far, though each says it lives an hour.
    settings.SIMULATOR = {**settings.SIMULATOR, "google_cloud_tokens_not_before": time.time() + 1}
    time.sleep(1.1)
    task = check_now(task)
    assert task.state in Task.TRACKED_STATES and task.error_code == "", task.error_message
    refused, answered = api_requests("fetchPredictOperation")
    assert (refused.status, answered.status) == (401, 200) and len(token_requests()) == 2


def test_a_key_the_simulator_never_issued_fails_as_a_refused_key_and_sends_nothing(cloud_project, people, pending):
    project = cloud_project(key=unissued_key_file(sim("token")))
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.FAILED and task.error_code == "auth"
    assert "Google refused the account's credentials: invalid_grant: Invalid JWT Signature" in task.error_message
    assert task.cost_charged == 0 and not api_requests("predictLongRunning")
    assert token_requests()[0].status == 400


def test_a_revoked_key_is_refused_at_its_next_token(project, people, pending):
    SimulatorServiceAccountKey.objects.all().delete()
    task = follow(pending(project, people["owner"]))
    assert (
        task.state == Task.State.FAILED and task.error_code == "auth" and "Invalid JWT Signature" in task.error_message
    )


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("AIza-not-a-key-file", "This is not a JSON key file"),
        ('{"type": "authorized_user", "client_id": "x"}', 'type "authorized_user", not a service account'),
        ('{"client_email": "a@b.iam.gserviceaccount.com"}', "has no private_key, token_uri"),
    ],
)
def test_a_key_that_is_no_service_account_key_file_fails_plainly_before_anything_is_sent(
    cloud_project, people, pending, key, words
):
    task = follow(pending(cloud_project(key=key), people["owner"]))
    assert task.state == Task.State.FAILED and task.error_code == "auth" and words in task.error_message
    assert not SimulatorRequest.objects.exists()


def test_a_project_the_service_account_does_not_belong_to_is_permission_denied(cloud_project, people, pending):
    project = cloud_project(options={"project_id": "someone-elses"})
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.FAILED and task.error_code == "auth"
    assert "Google denied this account on this project: Permission 'aiplatform.endpoints.predict' denied" in (
        task.error_message
    )


def test_no_key_means_this_machines_default_credentials(
    cloud_project, people, pending, key_file, tmp_path, monkeypatch
):
    credentials = tmp_path / "application_default_credentials.json"
    credentials.write_text(key_file())
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    task = follow(pending(cloud_project(key=""), people["owner"]))
    assert task.state == Task.State.DONE, task.error_message
    assert len(token_requests()) == 1


def test_no_key_and_no_default_credentials_fails_saying_so(cloud_project, people, pending, tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    task = follow(pending(cloud_project(key=""), people["owner"]))
    assert task.state == Task.State.FAILED and task.error_code == "auth"
    assert "no service-account key, and this machine has no Google Cloud credentials" in task.error_message
    assert not SimulatorRequest.objects.exists()


def test_a_key_file_this_server_cannot_read_never_falls_back_to_the_machines_credentials(
    cloud_project, people, pending, key_file, tmp_path, monkeypatch
):
    credentials = tmp_path / "application_default_credentials.json"
    credentials.write_text(key_file())
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    project = cloud_project()
    ProviderAccount.objects.filter(pk=project.draft_account_id).update(api_key_encrypted="gAAAAA-not-ours")
    project.refresh_from_db()
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.FAILED and task.error_code == "auth"
    assert "key file cannot be read on this server" in task.error_message
    assert not SimulatorRequest.objects.exists()


def test_the_signed_assertion_and_the_token_never_reach_the_simulators_log(project, people, pending):
    follow(pending(project, people["owner"]))
    (fetched,) = token_requests()
    # The assertion is as good as the key for an hour: the log keeps its first characters only, as a key's.
    kept = QueryDict(fetched.body)["assertion"]
    assert kept.endswith("…") and len(kept) <= 13
    # The token the account holds now is the one every request carried; none of the log shows it whole.
    with httpx.Client() as http, KEYRING.session(http, project.draft_account) as auth:
        token = auth.headers()["Authorization"].removeprefix("Bearer ")
    assert len(token_requests()) == 1  # the cached one
    logged = json.dumps([[r.body, r.headers, r.path] for r in SimulatorRequest.objects.all()])
    assert token[-24:] not in logged and project.draft_account.api_key[-60:-30] not in logged


# --- The tracker's loop ---------------------------------------------------------------------------


def test_polls_on_the_trackers_loop_fetch_their_token_through_its_client_and_replay_alike(
    cloud_project, people, pending, settings
):
    """Five polls at once with no token cached: each run of each poll asks the same requests for the same answers."""
    settings.SIMULATOR = {**settings.SIMULATOR, "draft_seconds": 3600}
    project = cloud_project()
    tasks = [pending(project, people["owner"], text=f"Dunes {n}") for n in range(5)]
    for task in tasks:
        lifecycle.submit(task.pk)
    KEYRING.forget()  # as in a tracker process, which never submitted anything
    Task.objects.update(next_check_at=timezone.now())
    claimed = lifecycle.claim_due_checks()

    async def poll_all():
        async with httpx.AsyncClient() as http:
            return await asyncio.gather(*(lifecycle.fetch_report_async(task, http) for task in claimed))

    reports = asyncio.run(poll_all())
    assert all(isinstance(r, Report) and r.status == Status.RUNNING for r in reports), reports
    polls = api_requests("fetchPredictOperation")
    assert len(polls) == 5 and all(p.status == 200 for p in polls)
    assert 1 <= len(token_requests()) <= 6  # one for the submits, then at most one per poll
    # The next round finds the token the first round kept: no request for one.
    before = len(token_requests())
    asyncio.run(poll_all())
    assert len(token_requests()) == before


def test_a_draft_goes_through_the_worker_at_googles_cadence_and_is_archived_from_inline_bytes(
    cloud_project, people, settings, run_worker, pending
):
    # An account asking for 0.5 s is clamped to the route's 5 s minimum; a 7 s render takes two polls.
    settings.SIMULATOR = {**settings.SIMULATOR, "draft_seconds": 7}
    project = cloud_project(poll_interval_s=0.5)
    task = pending(project, people["owner"], text="A red kite over a barley field", aspect_ratio="9:16", audio=True)
    (task,) = run_worker(task.pk, timeout=40)
    assert task.state == Task.State.DONE, task.error_message

    job_id = task.provider_task_id.rsplit("/", 1)[1]
    submitted = SimulatorRequest.objects.get(path__endswith=":predictLongRunning").at
    polls = list(SimulatorRequest.objects.filter(job_id=job_id, path__endswith=":fetchPredictOperation"))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise([submitted, *(p.at for p in polls)])]
    assert len(polls) == 2 and min(gaps) >= 5.0, gaps

    info = probe(Path(task.clip.file.path))
    assert (info.width, info.height, task.clip.has_audio) == (720, 1280, True)
    with SimulatedJob.objects.get().video.open("rb") as original:
        sent = original.read()
    assert Path(task.clip.file.path).read_bytes() == sent
    assert task.clip.sha256 == hashlib.sha256(sent).hexdigest()
    assert task.video_url.startswith("data:video/mp4;base64,")
    assert not SimulatorRequest.objects.filter(download=True).exists()  # the operation's answer held the video


def test_the_default_schedule_is_every_fifteen_seconds_and_never_below_five(project, people, pending):
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert (task.next_check_at - task.submitted_at).total_seconds() == pytest.approx(15.0, abs=0.05)
    for elapsed in (0, 30, 600, 1200):
        assert ROUTE.poll_delay(model=FAST, elapsed_s=elapsed) == 15.0 >= ROUTE.min_poll_interval_s == 5.0
    assert ROUTE.deadline_s == 20 * 60


# --- Outcomes ---------------------------------------------------------------------------------------


def test_a_prompt_google_refuses_as_against_its_responsible_ai_practices_is_blocked_and_not_billed(
    project, people, pending
):
    task = follow(pending(project, people["owner"], text="A street fight #blocked"))
    assert task.state == Task.State.BLOCKED and task.error_code == "safety"
    assert task.error_message.startswith("Google's safety filter refused it: The prompt could not be submitted")
    assert task.cost_charged == 0 and not hasattr(task, "clip")


def test_a_video_the_filter_removed_is_blocked_and_not_billed(project, people, pending):
    task = follow(pending(project, people["owner"], text="A street fight #filtered"))
    assert task.state == Task.State.BLOCKED and task.error_code == "safety"
    assert task.error_message.startswith("Google's safety filter removed the video: The generated video was removed")
    assert task.cost_charged == 0


def test_an_operation_done_with_an_internal_error_fails_and_bills_nothing(project, people, pending):
    task = follow(pending(project, people["owner"], text="A lighthouse #failed"))
    assert task.state == Task.State.FAILED and task.error_code == "failed"
    assert "Google could not render it: Video generation failed due to an internal error" in task.error_message
    assert task.cost_charged == 0


def test_done_with_no_videos_is_an_empty_result_that_may_have_billed(project, people, pending):
    task = follow(pending(project, people["owner"], text="A lighthouse #empty"))
    assert task.state == Task.State.FAILED and task.error_code == "empty_result" and task.cost_charged is None


def test_a_retired_model_fails_plainly_and_another_model_id_for_the_tier_renders(
    cloud_project, people, pending, settings
):
    settings.SIMULATOR = {**settings.SIMULATOR, "google_cloud_retired": [FAST]}
    project = cloud_project()
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.FAILED and task.error_code == "retired_model" and task.cost_charged == 0
    assert task.error_message.startswith(
        f"Google has retired this model or no longer offers it here ({FAST} in {LOCATION}). Nothing was billed. "
        "A project owner can set another model id for this tier on the provider account's page"
    )
    account = project.draft_account
    account.refresh_from_db()
    assert list(account.gone_models) == [FAST]
    account.model_ids = {"fast": LITE}
    account.save()
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.DONE and task.model == LITE, task.error_message
    assert api_requests("predictLongRunning")[-1].path.endswith(f"/{LITE}:predictLongRunning")


# --- Errors on the way ------------------------------------------------------------------------------


def test_a_rate_limit_waits_as_long_as_retry_after_says_then_sends_again(project, people, pending):
    task = pending(project, people["owner"], text="Dunes #ratelimit")
    before = timezone.now()
    lifecycle.submit(task.pk)
    after = timezone.now()
    task.refresh_from_db()
    assert task.state == Task.State.PENDING and task.error_code == "rate_limit"
    assert "Sending again in 1 s; nothing was billed" in task.error_message
    # One second after the answer came (the submit itself, token included, may take a while on a busy machine).
    assert before + timedelta(seconds=1) <= task.next_check_at <= after + timedelta(seconds=1)


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
        assert (task.next_check_at - asked).total_seconds() >= 30.0  # backing off: twice the 15 s cadence
    assert check_now(task).state == Task.State.ARCHIVING


def test_a_malformed_poll_answer_is_read_as_such_and_polled_again(project, people, pending, rendered):
    task = pending(project, people["owner"], text="Cliffs #malformed")
    lifecycle.submit(task.pk)
    time.sleep(0.7)
    rendered(SimulatedJob.objects.get().pk)
    assert check_now(task).error_code == "bad_answer"
    assert check_now(task).state == Task.State.ARCHIVING


def test_a_worker_failing_between_the_token_and_the_submit_has_sent_nothing_billable(
    project, people, pending, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("worker lost between the token and the submit")

    monkeypatch.setattr("studio.providers.google_cloud.adapter._send", broken)
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    # The token was fetched, but a token creates no job: the task was not sent, so it is not uncertain.
    assert len(token_requests()) == 1 and not api_requests("predictLongRunning")
    assert task.request_sent_at is None
    assert task.state == Task.State.FAILED and "Not sent: RuntimeError" in task.error_message


def test_a_lost_submit_answer_is_uncertain_and_never_sent_again(project, people, pending):
    task = pending(project, people["owner"], text="Glacier #lost")
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.UNCERTAIN and "will not send it again on its own" in task.error_message
    assert lifecycle.submit(task.pk) is False and len(api_requests("predictLongRunning")) == 1


def test_an_unknown_operation_is_not_found(account):
    with lifecycle.http_client() as http, pytest.raises(ProviderError) as missing:
        ROUTE.poll(http, account, f"{RESOURCE}/{FAST}/operations/nope")
    assert missing.value.kind == ErrorKind.NOT_FOUND


def stand_in(status: int, body, headers: dict | None = None):
    """A transport answering Google's token endpoint with a token and everything else with this answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "ya29.stand-in", "expires_in": 3600})
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(status, content=content, headers=headers or {})

    return httpx.MockTransport(answer)


def stand_in_account() -> ProviderAccount:
    account = ProviderAccount(route="google-cloud", base_url="", options=OPTIONS)
    account.set_api_key(unissued_key_file("https://oauth2.googleapis.com/token"))
    return account


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry_after"),
    [
        (400, {"error": {"code": 400, "message": "bad aspect", "status": "INVALID_ARGUMENT"}}, {}, "validation", None),
        (403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}}, {}, "auth", None),
        # At submit, Google's 404 about the model is a retired model; any other 404 (a wrong address) is not.
        (
            404,
            {"error": {"code": 404, "message": "Publisher Model `x` was not found", "status": "NOT_FOUND"}},
            {},
            "retired_model",
            None,
        ),
        (404, {"error": {"code": 404, "status": "NOT_FOUND"}}, {}, "not_found", None),
        (404, "<html>Not Found</html>", {}, "not_found", None),
        (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, {"Retry-After": "12"}, "rate_limit", 12.0),
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
            "rate_limit",
            37.0,
        ),
        (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, {}, "rate_limit", 60.0),
        (500, {"error": {"code": 500, "status": "INTERNAL"}}, {}, "outage", None),
        (503, {"error": {"code": 503, "status": "UNAVAILABLE"}}, {}, "outage", None),
        (502, "<html>Bad Gateway</html>", {}, "outage", None),
    ],
)
def test_every_google_error_class_maps_to_a_plain_kind(status, body, headers, kind, retry_after):
    """Classes the simulator has no marker for, answered by a stand-in transport at the HTTP boundary."""
    with httpx.Client(transport=stand_in(status, body, headers)) as http, pytest.raises(ProviderError) as raised:
        ROUTE.submit(http, stand_in_account(), VideoRequest(model=FAST, prompt="x"))
    assert raised.value.kind == kind and raised.value.http_status == status
    assert raised.value.retry_after == retry_after


def test_the_api_goes_to_the_locations_own_endpoint_unless_the_account_names_another():
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "ya29.stand-in", "expires_in": 3600})
        return httpx.Response(200, json={"name": f"{RESOURCE}/{FAST}/operations/1"})

    account = stand_in_account()
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        ROUTE.submit(http, account, VideoRequest(model=FAST, prompt="x"))
        account.options = {**OPTIONS, "location": "global"}
        ROUTE.submit(http, account, VideoRequest(model=FAST, prompt="x"))
    assert sent == [
        "https://oauth2.googleapis.com/token",
        f"https://us-central1-aiplatform.googleapis.com/v1/{RESOURCE}/{FAST}:predictLongRunning",
        "https://aiplatform.googleapis.com/v1/projects/dailies-sim/locations/global/publishers/google/models/"
        f"{FAST}:predictLongRunning",
    ]


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, "auth"),
        (401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}, "auth"),
        (429, {"error": "rate_limit_exceeded"}, "rate_limit"),
        (500, {"error": "internal_failure"}, "outage"),
        (503, "<html>unavailable</html>", "outage"),
        (400, {"error": "temporarily_unavailable"}, "outage"),
    ],
)
def test_token_service_answers_map_to_plain_kinds_without_google_auths_sleeps(status, body, kind):
    def answer(request: httpx.Request) -> httpx.Response:
        content = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(status, content=content)

    started = time.monotonic()
    with httpx.Client(transport=httpx.MockTransport(answer)) as http, pytest.raises(ProviderError) as raised:
        ROUTE.poll(http, stand_in_account(), f"{RESOURCE}/{FAST}/operations/1")
    assert raised.value.kind == kind
    assert time.monotonic() - started < 0.9  # google-auth would have slept a second or more before trying again


def test_check_account_passes_a_good_key_names_a_bad_one_and_creates_nothing(cloud_project):
    good = cloud_project().draft_account
    bad = cloud_project(name="Other", key=unissued_key_file(sim("token"))).draft_account
    elsewhere = cloud_project(name="Elsewhere", options={"project_id": "someone-elses"}).draft_account
    with lifecycle.http_client() as http:
        assert ROUTE.check_account(http, good) is None
        for refused in (bad, elsewhere):
            with pytest.raises(ProviderError) as raised:
                ROUTE.check_account(http, refused)
            assert raised.value.kind == ErrorKind.AUTH
    assert not SimulatedJob.objects.exists() and not api_requests("predictLongRunning")


def test_an_account_without_project_or_location_fails_before_sending(cloud_project, people, pending):
    project = cloud_project(options={"project_id": "", "location": ""})
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.FAILED and "names no Google Cloud project id or location" in task.error_message
    assert not SimulatorRequest.objects.exists()


# --- Downloads from Cloud Storage ---------------------------------------------------------------------


def test_a_video_in_a_bucket_is_fetched_through_cloud_storage_with_the_same_token(cloud_project, people, pending):
    project = cloud_project(options={"storage_uri": "gs://dailies-renders/drafts/"})
    task = follow(pending(project, people["owner"]))
    assert task.state == Task.State.DONE, task.error_message
    job = SimulatedJob.objects.get()
    assert task.video_url == f"gs://dailies-renders/drafts/{job.id}/sample_0.mp4"
    # The object's name goes as one path segment, its slashes encoded, as the JSON API wants it.
    url, _ = ROUTE.download_request(project.draft_account, task.provider_task_id, task.video_url)
    assert url == sim(f"storage/v1/b/dailies-renders/o/drafts%2F{job.id}%2Fsample_0.mp4?alt=media")
    (fetched,) = SimulatorRequest.objects.filter(download=True)
    assert (
        fetched.path == f"/simulator/google-cloud/storage/v1/b/dailies-renders/o/drafts/{job.id}/sample_0.mp4?alt=media"
    )
    assert fetched.status == 200 and header(fetched, "Authorization").startswith("Bearer ya29.")
    with job.video.open("rb") as original:
        assert Path(task.clip.file.path).read_bytes() == original.read()
    # Without a token Cloud Storage refuses it, as Google's does.
    assert (
        httpx.get(sim(f"storage/v1/b/dailies-renders/o/drafts%2F{job.id}%2Fsample_0.mp4?alt=media")).status_code == 401
    )


def test_a_refused_download_from_the_bucket_waits_and_retries_with_a_fresh_token_never_losing_the_clip(
    cloud_project, people, pending, rendered
):
    project = cloud_project(options={"storage_uri": "gs://dailies-renders/drafts/"})
    task = pending(project, people["owner"])
    lifecycle.submit(task.pk)
    time.sleep(0.7)
    rendered(SimulatedJob.objects.get().pk)
    while (task := check_now(task)).state in Task.TRACKED_STATES:
        time.sleep(0.3)
    # The token this process holds goes stale (Cloud Storage refuses it) before the archive runs.
    account = project.draft_account
    digest = hashlib.sha256(account.api_key.strip().encode()).hexdigest()
    KEYRING._tokens[digest] = Token("ya29.stale", time.time() + 3600)
    assert archive(task.pk) is False
    task.refresh_from_db()
    assert task.state == Task.State.ARCHIVING and "the clip is not lost" in task.error_message
    assert SimulatorRequest.objects.filter(download=True).last().status == 401
    Task.objects.filter(pk=task.pk).update(lease_until=None, next_check_at=timezone.now())
    archive(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.DONE and task.clip.file


def test_a_poll_goes_to_the_location_its_operation_runs_in_even_after_the_account_moves():
    account = ProviderAccount(
        route="google-cloud", base_url="", options={"project_id": "p-123456", "location": "europe-west4"}
    )
    operation = "projects/p-123456/locations/us-central1/publishers/google/models/m/operations/1"
    assert api_base(account) == "https://europe-west4-aiplatform.googleapis.com"
    assert api_base(account, operation) == "https://us-central1-aiplatform.googleapis.com"
    assert api_base(account, operation.replace("us-central1", "global")) == "https://aiplatform.googleapis.com"
    account.base_url = "https://proxy.example"  # an address the owner named is used as given
    assert api_base(account, operation) == "https://proxy.example"


def test_the_token_goes_only_to_the_storage_address(cloud_project):
    google = cloud_project(options={}).draft_account
    google.base_url = ""
    url, headers = ROUTE.download_request(google, "op", "https://cdn.example/video.mp4")
    assert (url, headers) == ("https://cdn.example/video.mp4", {})
    assert ROUTE.download_request(google, "op", "data:video/mp4;base64,AAAA") == ("data:video/mp4;base64,AAAA", {})


def test_a_download_cut_halfway_is_resumed_with_range(cloud_project, people, pending):
    project = cloud_project(options={"storage_uri": "gs://dailies-renders/"})
    task = follow(pending(project, people["owner"], text="Harbour lights #truncated"))
    assert task.state == Task.State.DONE, task.error_message
    first, resumed = SimulatorRequest.objects.filter(download=True)
    assert header(first, "Range") is None and header(resumed, "Range").startswith("bytes=") and resumed.status == 206


def test_an_object_gone_from_the_bucket_fails_the_download_without_a_clip(cloud_project, people, pending):
    project = cloud_project(options={"storage_uri": "gs://dailies-renders/"})
    task = follow(pending(project, people["owner"], text="Harbour lights #expired"))
    assert task.state == Task.State.FAILED and not hasattr(task, "clip")


def test_several_videos_are_several_objects_and_the_operation_waits_for_all(key_file, rendered):
    token = bearer_for(key_file())
    body = {**PAYLOAD, "parameters": {**PAYLOAD["parameters"], "durationSeconds": 4, "sampleCount": 3}}
    body["parameters"]["storageUri"] = "gs://dailies-renders/many"
    name = httpx.post(sim(f"v1/{RESOURCE}/{FAST}:predictLongRunning"), json=body, headers=token).json()["name"]
    operation = name.rsplit("/", 1)[1]
    ids = [operation, f"{operation}s1", f"{operation}s2"]
    answer: dict = {}
    deadline = time.monotonic() + 30
    while not answer.get("done") and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = httpx.post(
            sim(f"v1/{RESOURCE}/{FAST}:fetchPredictOperation"), json={"operationName": name}, headers=token
        ).json()
    assert all(rendered(sample).video for sample in ids)
    assert answer["response"]["videos"] == [
        {"gcsUri": f"gs://dailies-renders/many/{operation}/sample_{n}.mp4", "mimeType": "video/mp4"} for n in range(3)
    ]
    videos = [
        httpx.get(sim(f"storage/v1/b/dailies-renders/o/many%2F{operation}%2Fsample_{n}.mp4?alt=media"), headers=token)
        for n in range(3)
    ]
    assert all(v.status_code == 200 for v in videos) and len({v.content for v in videos}) == 3


# --- Prices -------------------------------------------------------------------------------------------


def test_every_card_names_its_source_and_fits_the_models_limits():
    data = price_data("google-cloud")
    assert data["cards"]
    for card in data["cards"]:
        assert card["source"] and card["model"] in ROUTE.capabilities
        assert card["resolution"] in ROUTE.capabilities[card["model"]].resolutions
    assert not [c for c in data["cards"] if c["resolution"] == "4k" and not c["audio"]]  # no figure, no card
    assert {(c["model"], c["resolution"], c["audio"]) for c in data["cards"]} >= {
        (model, resolution, True) for model in (QUALITY, FAST) for resolution in ("720p", "1080p", "4k")
    }


def test_the_tiers_are_googles_ga_models():
    assert ROUTE.models == {Tier.LITE: LITE, Tier.FAST: FAST, Tier.QUALITY: QUALITY}
