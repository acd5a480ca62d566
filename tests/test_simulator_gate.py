"""The simulator is open only where it is on, and only to keys it issued; it renders in a worker, never in
the web request; its request log is bounded; and the demo account is an ordinary user, made only on the
embedded default (issue 13, sections 4 and 5).

Requests go through Django's test client, in this thread, so a render inside a request would leave its
file behind before the request returns: the tests look for that file.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import clear_url_caches
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.signals import pre_enqueue
from google.auth import crypt, jwt

import studio.urls
from studio.projects.management.commands.bootstrap_demo import DEMO_USER, SAMPLE_PROJECT, how_to_log_in
from studio.projects.models import Project
from studio.projects.team import wire_to_simulator
from studio.providers.models import ProviderAccount
from studio.simulator.engine import issue_key, key_is_valid
from studio.simulator.models import SimulatedJob, SimulatorKey, SimulatorRequest, SimulatorServiceAccountKey
from studio.simulator.service_accounts import CLOUD_PLATFORM, JWT_GRANT, issue_key_file
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db

GATEWAY = "/simulator/videos-gateway/v1/videos"
BODY = {"model": "veo-3.1-fast-generate-preview", "prompt": "Gulls over a breakwater", "duration": 4}
RENDER = "studio.simulator.worker.render_video"

# Each route's submit: path, the header that carries the key (and how), a body it accepts.
SUBMITS = {
    "tasks-api": (
        "/simulator/tasks-api/v1/tasks/submit",
        lambda key: {"HTTP_X_API_KEY": key},
        {"model": "veo-3.1-fast", "prompt": "Gulls", "duration_seconds": 4},
    ),
    "openai-video": (
        "/simulator/openai-video/v1/videos/generations",
        lambda key: {"HTTP_AUTHORIZATION": f"Bearer {key}"},
        {"model": "veo3.1-fast", "prompt": "Gulls", "duration_seconds": 5, "size": "1280x720"},
    ),
    "aggregator": (
        "/simulator/aggregator/api/v1/generateTask/veo-3-1",
        lambda key: {"HTTP_AUTHORIZATION": f"Bearer {key}"},
        {"input": {"generationType": "TEXT_2_VIDEO", "mode": "fast", "prompt": "Gulls"}},
    ),
    "videos-gateway": (GATEWAY, lambda key: {"HTTP_AUTHORIZATION": f"Bearer {key}"}, BODY),
    "gemini": (
        "/simulator/gemini/v1beta/models/veo-3.1-fast-generate-001:predictLongRunning",
        lambda key: {"HTTP_X_GOOG_API_KEY": key},
        {"instances": [{"prompt": "Gulls"}], "parameters": {"durationSeconds": 4}},
    ),
}


def submit(client: Client, route: str, key: str | None):
    path, header, body = SUBMITS[route]
    return client.post(path, json.dumps(body), content_type="application/json", **(header(key) if key else {}))


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def queued() -> Iterator[list[dict]]:
    """The django-q2 messages sent while the test runs, as the broker receives them (whichever it is)."""
    sent: list[dict] = []

    def keep(sender, task, **kwargs):
        sent.append(task)

    pre_enqueue.connect(keep, dispatch_uid="test_simulator_gate")
    yield sent
    pre_enqueue.disconnect(dispatch_uid="test_simulator_gate")


def run_as_the_cluster_would(message: dict):
    """What a django-q2 worker does with a message: call the function it names with its arguments."""
    return import_string(message["func"])(*message["args"], **message.get("kwargs", {}))


# --- Mounted only where it is on ----------------------------------------------------------------


def _rebuild_urlconf() -> None:
    importlib.reload(studio.urls)
    clear_url_caches()


@pytest.fixture
def simulator_off(settings) -> Iterator[None]:
    """The URLconf as a deployment with the simulator off builds it (DAILIES_SIMULATOR=0)."""
    was = settings.SIMULATOR_ENABLED
    settings.SIMULATOR_ENABLED = False
    _rebuild_urlconf()
    yield
    settings.SIMULATOR_ENABLED = was
    _rebuild_urlconf()


def test_where_the_simulator_is_off_its_urls_do_not_exist(simulator_off, client):
    key = issue_key()
    for route in SUBMITS:
        assert submit(client, route, key).status_code == 404
    assert client.get("/simulator/videos-gateway/v1/videos/task_x", **bearer(key)).status_code == 404
    assert not SimulatedJob.objects.exists() and not SimulatorRequest.objects.exists()


def settings_in_a_process_of_its_own(tmp_path, **env: str) -> dict:
    """The simulator's settings, and whether its URLs resolve, in a fresh process under this environment."""
    script = textwrap.dedent(
        """
        import json, django
        django.setup()
        from django.conf import settings
        from django.urls import Resolver404, resolve
        try:
            resolve("/simulator/videos-gateway/v1/videos")
            mounted = True
        except Resolver404:
            mounted = False
        print(json.dumps({"enabled": settings.SIMULATOR_ENABLED, "mounted": mounted,
                          "new_projects": settings.SIMULATOR_FOR_NEW_PROJECTS}))
        """
    )
    names = ("DATABASE_URL", "REDIS_URL", "DEBUG", "DAILIES_SIMULATOR", "DAILIES_SIMULATOR_FOR_NEW_PROJECTS")
    base = {k: v for k, v in os.environ.items() if k not in names}
    base |= {"DJANGO_SETTINGS_MODULE": "studio.settings", "DAILIES_VAR_DIR": str(tmp_path / "var")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**base, **{name: value.format(tmp=tmp_path) for name, value in env.items()}},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


TEAM = {
    "DATABASE_URL": "sqlite:///{tmp}/team.sqlite3",
    "DEBUG": "0",
    "SECRET_KEY": "a team deployment's own secret, long enough to pass the checks",
    "ALLOWED_HOSTS": "dailies.example",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, {"enabled": True, "mounted": True, "new_projects": True}, id="embedded default"),
        pytest.param(TEAM, {"enabled": False, "mounted": False, "new_projects": False}, id="team deployment"),
        pytest.param(
            {**TEAM, "DAILIES_SIMULATOR": "1"},
            {"enabled": True, "mounted": True, "new_projects": False},
            id="team deployment that asks for it",
        ),
        pytest.param(
            {"DAILIES_SIMULATOR": "0"},
            {"enabled": False, "mounted": False, "new_projects": False},
            id="embedded default without it",
        ),
    ],
)
def test_the_simulator_is_on_by_default_only_on_the_embedded_default_and_switchable(tmp_path, env, expected):
    assert settings_in_a_process_of_its_own(tmp_path, **env) == expected


def test_new_projects_can_never_be_wired_to_a_simulator_that_is_off(tmp_path, settings):
    conflicting = settings_in_a_process_of_its_own(
        tmp_path, DAILIES_SIMULATOR="0", DAILIES_SIMULATOR_FOR_NEW_PROJECTS="1"
    )
    assert "ImproperlyConfigured" in conflicting["error"] and "off here" in conflicting["error"]
    settings.SIMULATOR_ENABLED = False
    with pytest.raises(ImproperlyConfigured, match="simulator is off"):
        wire_to_simulator(Project.objects.create(name="Harbour"))
    assert not SimulatedJob.objects.exists()


def test_an_account_on_the_simulator_while_it_is_off_fails_in_plain_words_sending_nothing(
    settings, people, project, pending_task
):
    settings.SIMULATOR_ENABLED = False
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert task.state == Task.State.FAILED and task.error_code == "unreachable"
    assert "built-in simulator (/simulator/videos-gateway), which is turned off on this server" in task.error_message
    assert "Nothing was sent, so nothing was billed" in task.error_message
    assert task.provider_requests == 0


# --- Only keys it issued ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", SUBMITS)
@pytest.mark.parametrize("key", [None, "sim-x", "sim-test-key-never-issued"])
def test_where_it_is_on_a_request_without_an_issued_key_is_refused(client, media, route, key):
    assert submit(client, route, key).status_code in (400, 401, 403)  # each route's own refusal of a key
    assert not SimulatedJob.objects.exists()


@pytest.mark.parametrize("route", SUBMITS)
def test_a_key_the_simulator_issued_is_accepted(client, media, route):
    answer = submit(client, route, issue_key())
    assert answer.status_code == 200, answer.content
    assert SimulatedJob.objects.filter(route=route).count() == 1


def test_issued_keys_are_random_and_only_their_digest_is_kept():
    first, second = issue_key(), issue_key()
    assert first != second and first.startswith("sim-") and len(first) > 30
    assert key_is_valid(first) and key_is_valid(second) and not key_is_valid(first[:-1])
    kept = list(SimulatorKey.objects.values_list("digest", flat=True))
    assert len(kept) == 2 and not any(first in digest or second in digest for digest in kept)


def test_an_owner_gets_a_key_for_an_account_added_by_hand(client, media):
    out = io.StringIO()
    call_command("simulator_key", stdout=out)
    key = out.getvalue().strip()
    assert key_is_valid(key)
    assert client.post(GATEWAY, json.dumps(BODY), content_type="application/json", **bearer(key)).status_code == 200


def test_an_owner_gets_a_google_cloud_key_file_whose_token_requests_the_simulator_answers(client, settings):
    out = io.StringIO()
    call_command("simulator_key", "--google-cloud", "my-studio-123", stdout=out)
    key = json.loads(out.getvalue())
    assert key["type"] == "service_account" and key["client_email"] == "dailies@my-studio-123.iam.gserviceaccount.com"
    assert key["token_uri"] == f"{settings.SITE_URL}/simulator/google-cloud/token"
    # A token request signed with the key file's private key, as google-auth signs it.
    now = int(time.time())
    claims = {
        "iss": key["client_email"],
        "aud": key["token_uri"],
        "scope": CLOUD_PLATFORM,
        "iat": now,
        "exp": now + 600,
    }
    assertion = jwt.encode(crypt.RSASigner.from_service_account_info(key), claims).decode()
    answer = client.post("/simulator/google-cloud/token", {"grant_type": JWT_GRANT, "assertion": assertion})
    assert answer.status_code == 200 and answer.json()["access_token"].startswith("ya29.")
    # Revoked in the admin (the row deleted): refused as Google refuses a deleted key.
    SimulatorServiceAccountKey.objects.all().delete()
    answer = client.post("/simulator/google-cloud/token", {"grant_type": JWT_GRANT, "assertion": assertion})
    assert answer.status_code == 400 and answer.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }


# --- Rendering runs in a worker --------------------------------------------------------------------


def test_the_web_request_never_renders_a_worker_does_and_the_download_waits_for_it(client, media, settings, queued):
    settings.SIMULATOR = {"draft_seconds": 0.2, "final_seconds": 0.2}
    key = issue_key()
    job_id = client.post(GATEWAY, json.dumps(BODY), content_type="application/json", **bearer(key)).json()["id"]
    time.sleep(0.3)  # the job's time is up

    status = client.get(f"{GATEWAY}/{job_id}", **bearer(key)).json()
    assert status["status"] == "IN_PROGRESS" and status["progress"] == "99%" and "result_url" not in status
    not_ready = client.get(f"{GATEWAY}/{job_id}/content", **bearer(key))
    assert not_ready.status_code == 404 and not_ready.json()["error"]["code"] == "not_ready"
    # Three requests in, and nothing was rendered anywhere: no file, in storage or on disk.
    job = SimulatedJob.objects.get(pk=job_id)
    assert not job.video and not (media / "simulator").exists()

    # The render was handed to the queue, once, by id; the cluster's worker runs it.
    (message,) = [m for m in queued if m["func"] == RENDER]
    assert message["args"] == (job_id,)
    assert run_as_the_cluster_would(message) is True
    assert run_as_the_cluster_would(message) is False  # a copy of the message renders nothing twice

    status = client.get(f"{GATEWAY}/{job_id}", **bearer(key)).json()
    assert status["status"] == "SUCCESS" and status["result_url"] == f"/v1/videos/{job_id}/content"
    video = client.get(f"{GATEWAY}/{job_id}/content", **bearer(key))
    assert video.status_code == 200 and video["Content-Type"] == "video/mp4"
    job.refresh_from_db()
    with job.video.open("rb") as stored:
        assert b"".join(video.streaming_content) == stored.read()


def test_a_lost_render_message_is_asked_for_again_by_the_next_poll(client, media, settings, queued):
    settings.SIMULATOR = {"draft_seconds": 0.2, "final_seconds": 0.2}
    key = issue_key()
    job_id = client.post(GATEWAY, json.dumps(BODY), content_type="application/json", **bearer(key)).json()["id"]
    client.get(f"{GATEWAY}/{job_id}", **bearer(key))
    assert [m["args"] for m in queued if m["func"] == RENDER] == [(job_id,)]  # a poll soon after asks nothing more

    # No worker took it on for a minute: the message was lost (Redis keeps no receipts).
    SimulatedJob.objects.filter(pk=job_id).update(render_queued_at=timezone.now() - timedelta(seconds=61))
    client.get(f"{GATEWAY}/{job_id}", **bearer(key))
    assert [m["args"] for m in queued if m["func"] == RENDER] == [(job_id,), (job_id,)]


def test_a_job_far_from_its_end_queues_no_render_until_its_end_is_near(client, media, settings, queued):
    settings.SIMULATOR = {"draft_seconds": 300, "final_seconds": 300}
    key = issue_key()
    job_id = client.post(GATEWAY, json.dumps(BODY), content_type="application/json", **bearer(key)).json()["id"]
    client.get(f"{GATEWAY}/{job_id}", **bearer(key))
    assert not [m for m in queued if m["func"] == RENDER]

    SimulatedJob.objects.filter(pk=job_id).update(created_at=timezone.now() - timedelta(seconds=280))
    client.get(f"{GATEWAY}/{job_id}", **bearer(key))
    assert [m["args"] for m in queued if m["func"] == RENDER] == [(job_id,)]


def test_jobs_that_never_have_a_video_are_never_rendered(client, media, settings, queued):
    settings.SIMULATOR = {"draft_seconds": 0.2, "final_seconds": 0.2}
    key = issue_key()
    for marker in ("#blocked", "#filtered", "#empty", "#never"):
        body = {**BODY, "prompt": f"Gulls {marker}"}
        client.post(GATEWAY, json.dumps(body), content_type="application/json", **bearer(key))
    assert SimulatedJob.objects.count() == 4
    assert set(SimulatedJob.objects.values_list("picture", flat=True)) == {None}
    assert not [m for m in queued if m["func"] == RENDER]


# --- The request log is bounded --------------------------------------------------------------------


def test_the_request_log_keeps_only_the_last_rows_without_counting_them(client, settings):
    settings.SIMULATOR_LOG_ROWS = 5
    key = issue_key()
    for n in range(12):
        with CaptureQueriesContext(connection) as queries:
            client.get(f"{GATEWAY}/task_{n}", **bearer(key))
    assert list(SimulatorRequest.objects.values_list("path", flat=True)) == [
        f"{GATEWAY}/task_{n}" for n in range(7, 12)
    ]
    sql = [query["sql"].upper() for query in queries.captured_queries]
    assert not any("COUNT(" in statement for statement in sql)
    assert any(statement.startswith('DELETE FROM "SIMULATOR_SIMULATORREQUEST"') for statement in sql)


def test_a_nul_byte_in_a_body_is_refused_and_logged_without_it(client):
    key = issue_key()
    raw = b'{"model": "veo-3.1-fast-generate-preview", "prompt": "a\x00b", "duration": 4}'
    escaped = json.dumps({**BODY, "prompt": "a\x00b"})  # NUL as \\u0000: valid JSON, unstorable text
    for body in (raw, escaped):
        answer = client.post(GATEWAY, body, content_type="application/json", **bearer(key))
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_json"
    assert not SimulatedJob.objects.exists()
    assert all("\x00" not in body for body in SimulatorRequest.objects.values_list("body", flat=True))


# --- The demo account ------------------------------------------------------------------------------


@pytest.fixture
def embedded(settings, tmp_path):
    settings.EMBEDDED_DEFAULT = True
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


def bootstrap() -> str:
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    return out.getvalue()


def test_on_the_embedded_default_the_demo_account_is_an_ordinary_user_with_a_generated_password(embedded):
    said = bootstrap()
    demo = get_user_model().objects.get(username=DEMO_USER)
    assert not demo.is_superuser and not demo.is_staff
    kept = embedded / "demo-password"
    password = kept.read_text().strip()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    validate_password(password, demo)  # the validators pass it
    assert demo.check_password(password) and not demo.check_password("demo")
    assert password in said and how_to_log_in() == f"Log in as 'demo' with password {password!r}."
    # The sample project's account holds a key the simulator issued, stored encrypted.
    account = Project.objects.get(name=SAMPLE_PROJECT).draft_account
    assert account.is_simulator and key_is_valid(account.api_key)
    assert account.api_key not in account.api_key_encrypted

    bootstrap()  # again: nothing changes
    demo.refresh_from_db()
    assert demo.check_password(password) and Project.objects.filter(name=SAMPLE_PROJECT).count() == 1


def test_a_rerun_renews_no_google_cloud_key_file_in_the_sample_project(embedded):
    bootstrap()
    project = Project.objects.get(name=SAMPLE_PROJECT)
    key = issue_key_file(project_id="dailies-sim", token_uri="http://localhost/simulator/google-cloud/token")
    cloud = ProviderAccount(project=project, label="Cloud", route="google-cloud", base_url="/simulator/google-cloud")
    cloud.set_api_key(key)
    cloud.save()
    bootstrap()
    cloud.refresh_from_db()
    assert cloud.api_key == key


def test_an_earlier_demo_admin_is_demoted_and_its_known_password_replaced(embedded):
    get_user_model().objects.create_superuser(DEMO_USER, password="demo")
    said = bootstrap()
    demo = get_user_model().objects.get(username=DEMO_USER)
    assert not demo.is_superuser and not demo.is_staff and not demo.check_password("demo")
    assert "no longer an admin" in said and "createsuperuser" in said
    assert demo.check_password((embedded / "demo-password").read_text().strip())


def test_a_team_deployment_gets_no_demo_account_and_is_told_why(settings, tmp_path):
    settings.EMBEDDED_DEFAULT = False
    settings.VAR_DIR = tmp_path / "var"
    said = bootstrap()
    assert "DATABASE_URL is set" in said and "manage.py createsuperuser" in said
    assert not get_user_model().objects.exists() and not Project.objects.exists()
    assert not (tmp_path / "var" / "demo-password").exists()
    assert "createsuperuser" in how_to_log_in()
