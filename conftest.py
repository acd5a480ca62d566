"""Shared fixtures: the people (an owner, an editor, a reviewer, a viewer and an outsider), a project
they belong to, wired to the simulator served over real HTTP by `live_server`, and the helpers tests
call with arguments, as factory fixtures.

The factories (`make_people`, `make_project`, `client_for`, `draft_form`, `pending_task`,
`run_worker`) are session-scoped so module-scoped fixtures can use them too; they return a function
that touches the database only when called. Test modules take them as arguments and import nothing
from here.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client, override_settings

from studio.clips.models import Clip
from studio.projects.models import Membership, Project
from studio.prompts.models import Prompt
from studio.providers.base import Tier
from studio.providers.models import ProviderAccount
from studio.simulator import worker
from studio.simulator.engine import KEY_PREFIX, issue_key
from studio.simulator.models import SimulatedJob
from studio.tasks import lifecycle, tracker
from studio.tasks.models import Task

_SIM_KEY = "sim-test-key"
# Everyone a project fixture knows; all but the outsider are members, in this role.
_MEMBERS = ("owner", "editor", "reviewer", "viewer")
_PEOPLE = (*_MEMBERS, "outsider")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def static_files_by_their_own_names():
    """Static files as the source tree names them, as Django advises for tests: with DEBUG off, the
    settings ask for collectstatic's hashed names, which the test server (serving from the source
    folders) does not know. tests/test_deploy.py serves the collected, hashed files."""
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**django_settings.STORAGES, "staticfiles": plain}):
        yield


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """A media folder of the test's own, on local storage even where STORAGE_URL names an object store
    (tests/test_object_storage.py runs the same paths against that)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def sim_key() -> str:
    """A key of the simulator's form; `make_project` has the simulator issue it (so it is accepted) and
    gives it to the project's account."""
    return _SIM_KEY


# --- People and projects -------------------------------------------------------


def _make_people() -> dict[str, User]:
    users = get_user_model().objects
    return {role: users.create_user(username=role, password="pw-" + role) for role in _PEOPLE}


@pytest.fixture(scope="session")
def make_people() -> Callable[[], dict[str, User]]:
    """`make_people()`: users named owner, editor, reviewer, viewer and outsider (password "pw-<name>")."""
    return _make_people


@pytest.fixture
def people(db, make_people) -> dict[str, User]:
    """Role name → user: owner, editor, reviewer, viewer, outsider."""
    return make_people()


def _make_project(
    people: dict[str, User],
    *,
    name: str = "Moonrise",
    route: str = "videos-gateway",
    base_url: str | None = None,
    key: str = _SIM_KEY,
    poll_interval_s: float | None = None,
    options: dict | None = None,
) -> Project:
    project = Project.objects.create(name=name)
    account = ProviderAccount(
        project=project,
        label="Simulator",
        route=route,
        base_url=f"/simulator/{route}" if base_url is None else base_url,
        poll_interval_s=poll_interval_s,
        options=options or {},
    )
    if account.is_simulator and key.startswith(KEY_PREFIX) and key != KEY_PREFIX:
        # Issued by the simulator, as `wire_to_simulator` has it issue the app's keys. Any other
        # string ("not-a-sim-key") is a key it never issued, as is any sim- key a test did not give here.
        issue_key(key)
    account.set_api_key(key)
    account.save()
    project.draft_account = project.final_account = account
    project.save()
    for role in _MEMBERS:
        Membership.objects.create(project=project, user=people[role], role=role)
    return project


@pytest.fixture(scope="session")
def make_project() -> Callable[..., Project]:
    """`make_project(people, *, name, route, base_url, key, poll_interval_s, options)`: a project whose
    drafts and finals go to one simulator account (base_url defaults to /simulator/<route>; a key of the
    simulator's form, sim-…, is issued by it), with people's owner, editor, reviewer and viewer as
    members in those roles."""
    return _make_project


@pytest.fixture
def project(people, media, make_project) -> Project:
    # Route 4's documented minimum cadence (5 s) rather than its usual 10 s keeps runs short.
    return make_project(people, poll_interval_s=5.0)


@pytest.fixture
def simulator(live_server, settings, media):
    """The simulator on a real socket, fast enough for tests, reached by the worker as the app would,
    having issued `sim_key`; the renders it queues are made meanwhile by workers of its own, as the
    cluster's would."""
    issue_key(_SIM_KEY)
    settings.SITE_URL = live_server.url
    settings.SIMULATOR = {"draft_seconds": 0.6, "final_seconds": 1.2}
    # Django's test server stalls (rather than hangs up) on a cut download.
    settings.DOWNLOAD_READ_TIMEOUT_S = 2
    settings.SUBMIT_READ_TIMEOUT_S = 2
    with _simulator_workers():
        yield live_server


@contextmanager
def _simulator_workers(count: int = 2) -> Iterator[None]:
    """What the cluster's workers do for the simulator, on threads until the block ends: take each
    render it queued and run `worker.render_video`, the function its django-q2 message names."""
    stop = threading.Event()

    def work() -> None:
        try:
            while not stop.wait(0.05):
                for job_id in worker.queued_renders():
                    worker.render_video(job_id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, name=f"simulator-worker-{n}", daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)


@pytest.fixture
def simulator_workers() -> Iterator[None]:
    """The simulator's renders, made on threads beside the test as the cluster's workers would make
    them (the `simulator` fixture and `run_worker` start such threads themselves)."""
    with _simulator_workers():
        yield


def _rendered(job_id: str, timeout: float = 60.0) -> SimulatedJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = SimulatedJob.objects.get(pk=job_id)
        if job.video or job.fail_reason:
            return job
        time.sleep(0.05)
    raise AssertionError(f"the simulator's workers did not render job {job_id} within {timeout} s")


@pytest.fixture(scope="session")
def rendered() -> Callable[..., SimulatedJob]:
    """`rendered(job_id, timeout=60.0)`: wait until the simulator's workers have rendered this job's
    video (a provider's file exists by the time it says done); the job."""
    return _rendered


# --- Logged-in clients -----------------------------------------------------------


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def client_for() -> Callable[[User], Client]:
    """`client_for(user)`: a test Client logged in as that user."""
    return _client_for


class _Clients(dict):
    """Role name → a Client logged in as that person, made on first use."""

    def __init__(self, people: dict[str, User]) -> None:
        super().__init__()
        self.people = people

    def __missing__(self, role: str) -> Client:
        client = self[role] = _client_for(self.people[role])
        return client


@pytest.fixture
def clients(people) -> dict[str, Client]:
    """`clients["reviewer"]`: a Client logged in as that one of `people`, the same one all test long."""
    return _Clients(people)


@pytest.fixture
def owner_client(clients) -> Client:
    return clients["owner"]


# --- Forms, tasks and the worker -------------------------------------------------


def _draft_form(**overrides: str) -> dict[str, str]:
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


@pytest.fixture(scope="session")
def draft_form() -> Callable[..., dict[str, str]]:
    """`draft_form(**overrides)`: the draft form's fields for a 4 s 720p fast draft, as posted."""
    return _draft_form


# A pending task's settings unless a test says otherwise: 4 s, 16:9, 720p, silent.
_TASK_PARAMETERS = {"duration_s": 4, "aspect_ratio": "16:9", "resolution": "720p", "audio": False}


def _pending_task(
    project: Project,
    user: User,
    *,
    text: str = "Waves on basalt",
    tier: Tier = Tier.FAST,
    kind: str = "draft",
    seed: int | None = 1,
    promoted_from: Task | None = None,
    **parameters: object,
) -> Task:
    prompt = Prompt.objects.create(project=project, title="t")
    version = prompt.record_version(text=text, negative_prompt="", author=user)
    assert project.draft_account is not None
    return lifecycle.new_task(
        project=project,
        prompt_version=version,
        account=project.draft_account,
        tier=tier,
        kind=kind,
        user=user,
        seed=seed,
        promoted_from=promoted_from,
        parameters={**_TASK_PARAMETERS, **parameters},
    )


@pytest.fixture(scope="session")
def pending_task() -> Callable[..., Task]:
    """`pending_task(project, user, *, text, tier, kind, seed, promoted_from, **parameters)`: a new prompt
    with these words and a pending task of it on the project's draft account, not yet sent. By default a
    fast draft of "Waves on basalt", seed 1; `parameters` (duration_s, aspect_ratio, resolution, audio)
    change the default 4 s, 16:9, 720p, silent settings."""
    return _pending_task


@pytest.fixture
def pending() -> Callable[..., Task]:
    """`pending(project, user, *, text, tier, **parameters)`: `pending_task` with seed 7, as the Google
    routes' contract tests look for it in what was sent."""
    return functools.partial(_pending_task, seed=7)


class _InlineQueue:
    """Stands in for django-q2's queue in tests: runs each job at once, in order."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, int]] = []

    def __call__(self, kind: str, task_id: int) -> None:
        from studio.tasks.archive import archive

        self.jobs.append((kind, task_id))
        {"submit": lifecycle.submit, "archive": archive}[kind](task_id)


@pytest.fixture
def inline_queue() -> _InlineQueue:
    """A queue to hand the tracker as `enqueue`: it runs each job at once and lists them in `.jobs`."""
    return _InlineQueue()


def _run_worker(*task_ids: int, timeout: float = 60.0) -> list[Task]:
    queue = _InlineQueue()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(4) as pool, lifecycle.http_client() as http, _simulator_workers():
        while time.monotonic() < deadline:
            for task_id in task_ids:
                lifecycle.submit(task_id)
            tracker.step(pool=pool, http=http, enqueue=queue)
            tasks = list(Task.objects.filter(pk__in=task_ids))
            if all(not t.is_live for t in tasks):
                return sorted(tasks, key=lambda t: task_ids.index(t.pk))
            time.sleep(0.1)
    raise AssertionError(f"tasks {task_ids} still live after {timeout} s")


@pytest.fixture
def archived_clip(media) -> Callable[..., Clip]:
    """`archived_clip(task, content=..., **task_fields)`: the task done, with its clip's file in storage,
    as the archive step leaves it (made without the network)."""

    def archive(task: Task, *, content: bytes = b"not really a video", **task_fields) -> Clip:
        Task.objects.filter(pk=task.pk).update(state=Task.State.DONE, **task_fields)
        media.mkdir(parents=True, exist_ok=True)
        (media / f"clip-{task.pk}.mp4").write_bytes(content)
        return Clip.objects.create(
            task=task,
            file=f"clip-{task.pk}.mp4",
            duration_s=4,
            width=1280,
            height=720,
            has_audio=False,
            bytes=len(content),
            sha256="0" * 64,
        )

    return archive


@pytest.fixture(scope="session")
def run_worker() -> Callable[..., list[Task]]:
    """`run_worker(*task_ids, timeout=60.0)`: do what the cluster does until every task is terminal
    (submit, track, archive, and the simulator's renders); the tasks, in the order asked for."""
    return _run_worker


@pytest.fixture(scope="session", autouse=True)
def empty_redis_queue_afterwards():
    """Views enqueue real messages; on the Redis broker, leave nothing behind for a live cluster."""
    yield
    from django.conf import settings

    if settings.REDIS_URL:
        from django_q.brokers import get_broker

        get_broker().purge_queue()
