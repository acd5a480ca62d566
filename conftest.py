"""Shared fixtures: a project with an owner, an editor, a viewer and an outsider,
wired to the simulator served over real HTTP by `live_server`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from studio.projects.models import Membership, Project
from studio.providers.models import ProviderAccount
from studio.tasks import lifecycle, tracker
from studio.tasks.models import Task

SIM_KEY = "sim-test-key"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def people(db):
    User = get_user_model()
    return {
        role: User.objects.create_user(username=role, password="pw-" + role)
        for role in ("owner", "editor", "viewer", "outsider")
    }


def make_project(people, *, name="Moonrise", base_url="/simulator/videos-gateway", key=SIM_KEY,
                 poll_interval_s=None) -> Project:
    project = Project.objects.create(name=name)
    account = ProviderAccount(project=project, label="Simulator", route="videos-gateway", base_url=base_url,
                              poll_interval_s=poll_interval_s)
    account.set_api_key(key)
    account.save()
    project.draft_account = project.final_account = account
    project.save()
    for role in ("owner", "editor", "viewer"):
        Membership.objects.create(project=project, user=people[role], role=role)
    return project


@pytest.fixture
def project(people, media):
    # Route 4's documented minimum cadence (5 s) rather than its usual 10 s keeps runs short.
    return make_project(people, poll_interval_s=5.0)


@pytest.fixture
def simulator(live_server, settings, media):
    """The simulator on a real socket, fast enough for tests, reached by the worker as the app would."""
    settings.SITE_URL = live_server.url
    settings.SIMULATOR = {"draft_seconds": 0.6, "final_seconds": 1.2}
    # Django's test server stalls (rather than hangs up) on a cut download.
    settings.DOWNLOAD_READ_TIMEOUT_S = 2
    settings.SUBMIT_READ_TIMEOUT_S = 2
    return live_server


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(people):
    return client_for(people["owner"])


def draft_form(**overrides) -> dict:
    data = {
        "prompt": "A lighthouse at dusk, waves below, slow push in",
        "negative_prompt": "",
        "tier": "fast",
        "aspect_ratio": "16:9",
        "duration_s": "4",
        "resolution": "720p",
        "seed": "",
        "variations": "1",
        "form_token": "",
    }
    data.update(overrides)
    return data


class InlineQueue:
    """Stands in for django-q2's queue in tests: runs each job at once, in order."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, int]] = []

    def __call__(self, kind: str, task_id: int) -> None:
        from studio.tasks.archive import archive

        self.jobs.append((kind, task_id))
        {"submit": lifecycle.submit, "archive": archive}[kind](task_id)


def run_worker(*task_ids: int, timeout: float = 60.0) -> list[Task]:
    """Do what the cluster does until every task is terminal: submit, track, archive."""
    queue = InlineQueue()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(4) as pool, lifecycle.http_client() as http:
        while time.monotonic() < deadline:
            for task_id in task_ids:
                lifecycle.submit(task_id)
            tracker.step(pool=pool, http=http, enqueue=queue)
            tasks = list(Task.objects.filter(pk__in=task_ids))
            if all(not t.is_live for t in tasks):
                return sorted(tasks, key=lambda t: task_ids.index(t.pk))
            time.sleep(0.1)
    raise AssertionError(f"tasks {task_ids} still live after {timeout} s")


@pytest.fixture(scope="session", autouse=True)
def empty_redis_queue_afterwards():
    """Views enqueue real messages; on the Redis broker, leave nothing behind for a live cluster."""
    yield
    from django.conf import settings

    if settings.REDIS_URL:
        from django_q.brokers import get_broker

        get_broker().purge_queue()
