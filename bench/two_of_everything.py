"""Two of everything on one machine: a draft posted to one web server plays, from object storage, through the other.

Starts, against one PostgreSQL database, one Redis database and one S3-compatible bucket:

- web A and web B: gunicorn, each on its own port, with its own MEDIA_ROOT and var/ folder (its own
  collectstatic);
- worker A and worker B: `manage.py workers` (three django-q2 clusters: submits, archives and the tracker),
  each with its own MEDIA_ROOT, under one Q_CLUSTER_NAME so both take work from the same queues. Each
  tracker cluster runs a tracking loop; the two loops share the tasks in flight (a claim holds a task for
  one poll, so no task is polled by both at once). "Two trackers" here means those two loops
  each able to run it.

Then it logs in to web A, posts the editor's Draft form there (real CSRF and form tokens), follows the task's
card on web A until it is done, logs in to web B and fetches the clip with Range, and its poster, from web B,
comparing every byte with the objects read from the bucket with boto3. It checks that none of the four media
folders holds any file afterwards (nothing leaned on a shared disk), asks both web servers' /healthz, and reads
the draft's route through the processes from their logs and django-q2's result table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/deploy REDIS_URL=redis://127.0.0.1:6379/10 \\
        .venv/bin/python bench/two_of_everything.py [--simulator-on A|B] [--keep]

DATABASE_URL names a PostgreSQL server: the bench creates a database of its own beside the one named (and
drops it afterwards); it never writes to the named one. STORAGE_URL, when set, names the object store (the
bench writes under a prefix of its own there and empties it afterwards); without it the bench starts a
SeaweedFS of its own (tests/seaweedfs.py). Every process it started is killed, by process group, on the way
out, failure or not. `tests/test_two_of_everything.py` runs the same against the test database and asserts
on these figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import httpx
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
from draft_to_clip import found, login, new_task_id  # the bench's own helpers, beside this file
from submit_burst import (
    children_of,
    draft_fields,
    drop_database,
    editor,
    forget_queue,
    free_port,
    new_project,
    open_database,
    tail,
    throwaway_database,
)

from tests import seaweedfs

BASE_DIR = Path(__file__).resolve().parent.parent
WEB_WORKERS = 2  # gunicorn workers per web server, 8 threads each (as `manage.py serve` runs them)
QUEUE_WORKERS = 2  # django-q2 workers per cluster (the settings' minimum)
# The simulated render takes this long; polls still follow the route's own cadence (5 s minimum on route 4).
RENDER_SECONDS = 2
PROMPT = "Two of everything: a ferry crossing at dawn, gulls following, slow pan"
STARTUP_TIMEOUT_S = 60.0
DONE_TIMEOUT_S = 60.0


# --- The object store -------------------------------------------------------------------------------------


@contextmanager
def object_store(folder: Path) -> Iterator[tuple[str, str]]:
    """(STORAGE_URL, how it came about): the one this process is given, else a SeaweedFS started in `folder`.

    Raises FileNotFoundError when neither is there (no STORAGE_URL, no `weed` binary).
    """
    if os.environ.get("STORAGE_URL"):
        yield os.environ["STORAGE_URL"], "STORAGE_URL"
        return
    if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
        raise RuntimeError("Give the object store as STORAGE_URL (s3://KEY:SECRET@HOST:PORT/BUCKET?…) for this bench.")
    server = seaweedfs.start(folder / "seaweedfs")
    try:
        yield server.url, f"a SeaweedFS started for this run, pid {server.pid}"
    finally:
        server.stop()


def under_prefix(storage_url: str, prefix: str) -> str:
    """The same bucket, with `prefix` added to the STORAGE_URL's key prefix."""
    parts = urlparse(storage_url)
    return parts._replace(path=parts.path.rstrip("/") + "/" + prefix.strip("/")).geturl()


@dataclass(frozen=True)
class Bucket:
    """The object store a STORAGE_URL names, read with boto3 directly (not through the app's storage)."""

    client: Any  # boto3's S3 client
    name: str
    location: str  # the key prefix the app stores under
    endpoint: str

    @classmethod
    def of(cls, storage_url: str) -> Bucket:
        from studio.settings import media_storage

        options = media_storage({"STORAGE_URL": storage_url})["OPTIONS"]
        client = boto3.client(
            "s3",
            endpoint_url=options["endpoint_url"],
            region_name=options["region_name"],
            aws_access_key_id=options.get("access_key"),
            aws_secret_access_key=options.get("secret_key"),
            config=Config(s3={"addressing_style": options["addressing_style"] or "auto"}, signature_version="s3v4"),
        )
        return cls(client, options["bucket_name"], options["location"], options["endpoint_url"] or "Amazon S3")

    def key(self, name: str) -> str:
        """The object key of a file the app names `name` (a FileField's name)."""
        return f"{self.location}/{name}" if self.location else name

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=self.key(name))["Body"].read()

    def keys(self) -> list[str]:
        prefix = f"{self.location}/" if self.location else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def empty(self) -> int:
        """Delete every object under this prefix (never the bucket's others); how many there were."""
        keys = self.keys()
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.name, Delete={"Objects": batch, "Quiet": True})
        return len(keys)


# --- The deployment -----------------------------------------------------------------------------------------


@dataclass
class Process:
    """One process of the deployment, started in a session (and process group) of its own."""

    role: str  # "web A", "worker B"
    popen: subprocess.Popen
    media: Path
    var: Path
    log: Path
    url: str = ""  # web servers: where it answers
    port: int | None = None
    # Workers: the name django-q2 gave the cluster (its log's "Q Cluster … running.").
    cluster: str = ""
    # Everything it started, as seen once it was up (gunicorn's workers; the cluster's sentinel, workers,
    # monitor and pusher).
    children: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def media_files(self) -> list[Path]:
        return sorted(p for p in self.media.rglob("*") if p.is_file()) if self.media.exists() else []


@dataclass
class Deployment:
    web_a: Process
    web_b: Process
    worker_a: Process
    worker_b: Process
    queue: str  # Q_CLUSTER_NAME, shared by both clusters
    database_url: str
    redis_url: str
    storage_url: str
    simulator_web: Process  # whose /simulator/ the workers send the simulator account's requests to

    @property
    def webs(self) -> list[Process]:
        return [self.web_a, self.web_b]

    @property
    def workers(self) -> list[Process]:
        return [self.worker_a, self.worker_b]

    @property
    def processes(self) -> list[Process]:
        return [*self.webs, *self.workers]


@contextmanager
def two_of_everything(
    *,
    folder: Path,
    database_url: str,
    redis_url: str,
    storage_url: str,
    secret_key: str,
    simulator_on: str = "B",
) -> Iterator[Deployment]:
    """Web A and B (gunicorn) and worker A and B (qcluster) on that database, Redis and bucket; killed after.

    Each process has its own MEDIA_ROOT and var/ folder under `folder` and logs to `folder/<role>.log`. The
    simulator account's base URL (/simulator/videos-gateway) resolves, in the workers, against
    DAILIES_SITE_URL: the web server named by `simulator_on`. `secret_key` must be the one this process
    encrypts provider keys with. The database must be migrated.
    """
    queue = f"two-{uuid.uuid4().hex[:8]}"
    ports = {"A": free_port(), "B": free_port()}
    urls = {side: f"http://127.0.0.1:{port}" for side, port in ports.items()}
    common = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STORAGE_URL": storage_url,
        "Q_CLUSTER_NAME": queue,
        "Q_WORKERS": str(QUEUE_WORKERS),
        "SIMULATOR_DRAFT_SECONDS": str(RENDER_SECONDS),
        # A team deployment over plain http on this machine, with the simulator on, sharing one secret
        # key (it signs the sessions both web servers read and encrypts the provider keys).
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        "DAILIES_HTTPS": "0",
        "DAILIES_SIMULATOR": "1",
        "LOG_LEVEL": "INFO",
    }
    for inherited in ("AWS_STORAGE_BUCKET_NAME", "DAILIES_PUBLIC_URL", "HOST", "PORT"):
        common.pop(inherited, None)

    def env(role: str, *, site_url: str, port: int | None = None) -> dict[str, str]:
        home = folder / role.lower().replace(" ", "-")
        return {
            **common,
            "MEDIA_ROOT": str(home / "media"),
            "DAILIES_VAR_DIR": str(home / "var"),
            "DAILIES_SITE_URL": site_url,
            **({"HOST": "127.0.0.1", "PORT": str(port)} if port else {}),
        }

    webs = {side: env(f"web {side}", site_url=urls[side], port=ports[side]) for side in "AB"}
    workers = {side: env(f"worker {side}", site_url=urls[simulator_on]) for side in "AB"}
    started: list[Process] = []
    try:
        # Each web server serves the hashed static files of its own var/ folder (DEBUG is off).
        collecting = [
            subprocess.Popen(
                [sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput", "--verbosity", "0"],
                cwd=BASE_DIR,
                env=webs[side],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            for side in "AB"
        ]
        for collect in collecting:
            if collect.wait(timeout=120) != 0:
                raise RuntimeError(f"collectstatic failed (exit {collect.returncode})")
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        for side in "AB":
            started.append(
                start(
                    f"web {side}",
                    [
                        *(gunicorn, "studio.wsgi:application", "--bind", f"127.0.0.1:{ports[side]}"),
                        *("--workers", str(WEB_WORKERS), "--threads", "8", "--worker-class", "gthread"),
                        *("--timeout", "120", "--access-logfile", "-"),
                    ],
                    env=webs[side],
                    folder=folder,
                    url=urls[side],
                    port=ports[side],
                )
            )
        for side in "AB":
            started.append(
                start(
                    f"worker {side}",
                    [sys.executable, str(BASE_DIR / "manage.py"), "workers"],
                    env=workers[side],
                    folder=folder,
                )
            )
        web_a, web_b, worker_a, worker_b = started
        for web in (web_a, web_b):
            wait_until(web, partial(_answers, f"{web.url}/healthz"), what="answer /healthz with 200")
        for worker in (worker_a, worker_b):
            wait_until(worker, partial(_cluster_name, worker), what="report its cluster running")
            worker.cluster = _cluster_name(worker)
        for process in started:
            process.children = descendants(process.pid)
        yield Deployment(
            web_a=web_a,
            web_b=web_b,
            worker_a=worker_a,
            worker_b=worker_b,
            queue=queue,
            database_url=database_url,
            redis_url=redis_url,
            storage_url=storage_url,
            simulator_web=web_a if simulator_on == "A" else web_b,
        )
    finally:
        for process in started:
            stop(process)
        forget_queue(redis_url, queue)


def start(role: str, command: list[str], *, env: dict[str, str], folder: Path, **where) -> Process:
    media, var = Path(env["MEDIA_ROOT"]), Path(env["DAILIES_VAR_DIR"])
    media.mkdir(parents=True, exist_ok=True)
    var.mkdir(parents=True, exist_ok=True)
    log = folder / f"{role.lower().replace(' ', '-')}.log"
    with log.open("ab") as out:
        popen = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's and the cluster's workers join it
        )
    return Process(role=role, popen=popen, media=media, var=var, log=log, **where)


def wait_until(process: Process, ready: Callable[[], object], *, what: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.role} stopped (exit {process.popen.returncode}):\n{tail(process.log)}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{process.role} did not {what} within {timeout:.0f} s:\n{tail(process.log)}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _cluster_name(worker: Process) -> str:
    for line in log_messages(worker):
        if running := re.fullmatch(r"Q Cluster (\S+)( \[\S+\])? running\.", line):
            return running.group(1)
    return ""


def descendants(pid: int) -> list[int]:
    found_pids, todo = [], [pid]
    while todo:
        for child in children_of(todo.pop()):
            found_pids.append(child)
            todo.append(child)
    return sorted(found_pids)


def stop(process: Process) -> None:
    """Kill the process's group, then anything it started that left the group; wait for it."""
    # Frozen first, so it starts nothing more (a cluster's sentinel replaces dead workers).
    _signal(process.pid, signal.SIGSTOP, group=True)
    everything = set(process.children) | set(descendants(process.pid))
    _signal(process.pid, signal.SIGKILL, group=True)
    for pid in everything:
        _signal(pid, signal.SIGKILL, group=False)
    try:
        process.popen.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _signal(pid: int, signum: int, *, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def alive(pid: int) -> bool:
    """Whether `pid` is still a process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# --- What the logs say ----------------------------------------------------------------------------------------


def log_messages(process: Process) -> list[str]:
    """The messages of the process's JSON log lines (Django's and django-q2's), in order."""
    messages = []
    for line in process.log_text().splitlines():
        if line.startswith("{"):
            try:
                messages.append(str(json.loads(line).get("message", "")))
            except json.JSONDecodeError:
                continue
    return messages


ACCESS = re.compile(r'"(GET|POST|HEAD|PUT|PATCH|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')


def requests_served(web: Process) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request in the web server's access log."""
    return [(m[1], m[2], int(m[3])) for m in map(ACCESS.search, web.log_text().splitlines()) if m]


def ran_on(deployment: Deployment, queue_name: str) -> tuple[Process, str] | None:
    """The worker process whose log says it ran the queue message `queue_name`, and its worker process name."""
    for worker in deployment.workers:
        for message in log_messages(worker):
            if ran := re.match(rf"(\S+) processing {re.escape(queue_name)} '", message):
                return worker, ran.group(1)
    return None


# --- The draft -----------------------------------------------------------------------------------------------


def set_up(*, username: str = "two") -> tuple[int, str, str]:
    """(project id, username, password): an owner and a project drafting on the simulator's route 4.

    Through this process's ORM, so on the database its settings name (the deployment's).
    """
    from django.contrib.auth import get_user_model

    password = secrets.token_urlsafe(16)
    owner = get_user_model().objects.create_user(username, password=password)
    project, _ = new_project(owner, name="Two of everything", prompts=0)
    return project.pk, username, password


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Played:
    """What the draft through web A and the playback through web B gave."""

    task_id: int
    clip_id: int
    job_id: str
    draft_status: int
    seconds_to_done: float
    video_key: str
    video_bytes: int
    video_sha256: str
    clip_sha256: str  # as the Clip row records it
    poster_key: str
    poster_bytes: int
    simulator_key: str  # the simulator's own render, in the bucket too
    first_kib: Fetched  # web B, Range: bytes=0-1023
    whole: Fetched  # web B, Range: bytes=0-
    poster: Fetched  # web B
    first_kib_equal: bool
    whole_equal: bool
    poster_equal: bool
    media_files: dict[str, list[str]]  # role → files left in its MEDIA_ROOT
    health: dict[str, tuple[int, dict]]  # role → /healthz status and answer
    bucket_keys: list[str]


def draft_on_a_play_on_b(deployment: Deployment, *, project_id: int, username: str, password: str) -> Played:
    from studio.clips.models import Clip
    from studio.simulator.models import SimulatedJob
    from studio.tasks.models import Task

    a, b = deployment.web_a, deployment.web_b
    with httpx.Client(base_url=a.url, follow_redirects=True, timeout=60) as browser:
        login(browser, username, password)
        token, form_token = editor(browser, project_id, "")
        clicked = time.monotonic()
        answer = browser.post(
            f"/projects/{project_id}/draft",
            data=draft_fields(prompt=PROMPT, prompt_id="", form_token=form_token),
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        task_id = new_task_id(answer.text, action="Draft")
        clip_id, polls = follow_card(browser, task_id)
        seconds = time.monotonic() - clicked

    task = Task.objects.get(pk=task_id)
    clip = Clip.objects.get(pk=clip_id, task=task)
    job = SimulatedJob.objects.get(pk=task.provider_task_id)
    video_name, poster_name, render_name = str(clip.file.name), str(clip.poster.name), str(job.video.name)
    bucket = Bucket.of(deployment.storage_url)
    video, poster = bucket.read(video_name), bucket.read(poster_name)

    with httpx.Client(base_url=b.url, follow_redirects=True, timeout=60) as browser:
        login(browser, username, password)  # a session of its own, on the other server
        first = fetch(browser, f"/clips/{clip_id}/video", headers={"Range": "bytes=0-1023"})
        whole = fetch(browser, f"/clips/{clip_id}/video", headers={"Range": "bytes=0-"})
        shown = fetch(browser, f"/clips/{clip_id}/poster")

    # gunicorn writes a request's access-log line just after sending its answer: wait for the lines read later.
    _until(
        lambda: (
            bool(served(a, "POST", rf"/projects/{project_id}/draft"))
            and len(served(a, "GET", rf"/tasks/{task_id}/card")) >= polls
        )
    )
    _until(
        lambda: (
            len(served(b, "GET", rf"/clips/{clip_id}/video")) >= 2
            and bool(served(b, "GET", rf"/clips/{clip_id}/poster"))
        )
    )
    _until(lambda: simulator_requests(deployment.simulator_web, job.pk)["download"] >= 1)
    return Played(
        task_id=task_id,
        clip_id=clip_id,
        job_id=job.pk,
        draft_status=answer.status_code,
        seconds_to_done=seconds,
        video_key=bucket.key(video_name),
        video_bytes=len(video),
        video_sha256=hashlib.sha256(video).hexdigest(),
        clip_sha256=clip.sha256,
        poster_key=bucket.key(poster_name),
        poster_bytes=len(poster),
        simulator_key=bucket.key(render_name),
        first_kib=first,
        whole=whole,
        poster=shown,
        first_kib_equal=first.body == video[:1024],
        whole_equal=whole.body == video,
        poster_equal=shown.body == poster,
        media_files={p.role: [str(f.relative_to(p.media)) for f in p.media_files()] for p in deployment.processes},
        health={web.role: healthz(web) for web in deployment.webs},
        bucket_keys=bucket.keys(),
    )


def follow_card(browser: httpx.Client, task_id: int, *, timeout: float = DONE_TIMEOUT_S) -> tuple[int, int]:
    """Poll the task's card as the page does until it is done: (the id of the clip it plays, polls made)."""
    from studio.tasks.models import Task

    deadline, polls = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        card = browser.get(f"/tasks/{task_id}/card", headers={"HX-Request": "true"}).text
        polls += 1
        state = found(r'data-state="(\w+)"', card, what=f"state on task {task_id}'s card")
        if state == "done":
            return int(found(r'src="/clips/(\d+)/video"', card, what=f"video on task {task_id}'s card")), polls
        if state in {"failed", "blocked", "uncertain"}:
            raise RuntimeError(f"Task {task_id} ended {state}: {Task.objects.get(pk=task_id).error_message}")
        time.sleep(0.5)
    raise RuntimeError(f"Task {task_id} not done after {timeout:.0f} s (state {Task.objects.get(pk=task_id).state})")


def _until(ready: Callable[[], bool], *, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not (done := ready()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return done


def fetch(browser: httpx.Client, path: str, *, headers: dict[str, str] | None = None) -> Fetched:
    answer = browser.get(path, headers=headers)
    return Fetched(answer.status_code, dict(answer.headers), answer.content)


def healthz(web: Process) -> tuple[int, dict]:
    answer = httpx.get(f"{web.url}/healthz", timeout=10)
    return answer.status_code, answer.json()


# --- The route ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One queue message the deployment ran for the draft, as django-q2's result table and the logs show it."""

    call: str  # "submit_task(12)"
    worker: str  # the role of the process whose log says it ran it, "" if none does
    process_name: str  # the cluster's worker process that ran it ("Process-1:2")
    started: datetime
    seconds: float
    success: bool


FUNCTIONS = {
    "studio.tasks.queue.submit_task": "submit_task",
    "studio.tasks.queue.track": "track",
    "studio.tasks.queue.kick_tracker": "kick_tracker",
    "studio.simulator.worker.render_video": "render_video",
    "studio.tasks.queue.archive_task": "archive_task",
}


def route_of(deployment: Deployment, played: Played, *, timeout: float = 15) -> list[Step]:
    """The queue messages that carried the draft: its submit, the simulator's render and its archive, oldest
    first, with any tracking run that ended meanwhile; waits (up to `timeout`) until django-q2 has recorded the
    first three (a tracking run lasts minutes: `tracking_loops` says which are running)."""
    from django_q.models import Task as QueueResult

    ours = {
        ("studio.tasks.queue.submit_task", (played.task_id,)),
        ("studio.simulator.worker.render_video", (played.job_id,)),
        ("studio.tasks.queue.archive_task", (played.task_id,)),
    }
    deadline = time.monotonic() + timeout
    while True:
        rows = list(QueueResult.objects.filter(func__in=FUNCTIONS).order_by("started"))
        found_ours = {(r.func, tuple(r.args or ())) for r in rows} & ours
        if found_ours == ours or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    steps = []
    for row in rows:
        args = tuple(row.args or ())
        if row.func not in {f for f, _ in ours} or (row.func, args) in ours:
            where = ran_on(deployment, row.name)
            steps.append(
                Step(
                    call=f"{FUNCTIONS[row.func]}({', '.join(map(repr, args))})",
                    worker=where[0].role if where else "",
                    process_name=where[1] if where else "",
                    started=row.started,
                    seconds=(row.stopped - row.started).total_seconds(),
                    success=row.success,
                )
            )
    return steps


def tracking_loops(deployment: Deployment) -> list[tuple[str, int]]:
    """(worker role, pid) of each tracking loop alive now, from its heartbeat row, matched to the worker that
    started the process."""
    from django.utils import timezone

    from studio.tasks.models import WorkerLease

    alive_now = WorkerLease.objects.filter(name__startswith="tracker:", expires_at__gte=timezone.now())
    loops = []
    for holder in alive_now.values_list("holder", flat=True):
        pid = int(holder.rsplit(":", 1)[1])
        role = next((w.role for w in deployment.workers if pid in descendants(w.pid)), "")
        loops.append((role, pid))
    return sorted(loops)


def simulator_requests(web: Process, job_id: str) -> Counter[str]:
    """The simulator requests in the web server's access log: submits, status polls and downloads of the job."""
    kinds: Counter[str] = Counter()
    for method, path, _ in requests_served(web):
        if not path.startswith("/simulator/"):
            continue
        if method == "POST":
            kinds["submit"] += 1
        elif job_id in path and path.endswith("/content"):
            kinds["download"] += 1
        elif job_id in path:
            kinds["poll"] += 1
        else:
            kinds["other"] += 1
    return kinds


def served(web: Process, method: str, pattern: str) -> list[int]:
    """The statuses the web server answered `method` requests for paths matching `pattern` with."""
    return [status for m, path, status in requests_served(web) if m == method and re.fullmatch(pattern, path)]


# --- The report -----------------------------------------------------------------------------------------------


def report(deployment: Deployment, played: Played, steps: list[Step], *, database: str, store: str) -> str:
    bucket = Bucket.of(deployment.storage_url)
    a, b, sim = deployment.web_a, deployment.web_b, deployment.simulator_web
    lines = [
        "Two of everything on this machine, sharing only:",
        f"  PostgreSQL  {database}",
        f"  Redis       {deployment.redis_url} (Q_CLUSTER_NAME {deployment.queue}: one queue for both clusters)",
        f"  objects     {bucket.endpoint}, bucket {bucket.name}, prefix {bucket.location or '(none)'} ({store})",
        "",
        f"  {'role':<9} {'pid':>7}  {'port':>5}  media folder (MEDIA_ROOT; var/ beside it)",
    ]
    for p in deployment.processes:
        lines.append(f"  {p.role:<9} {p.pid:>7}  {p.port or '-':>5}  {p.media}")
        if p.url:
            what = f"gunicorn, {WEB_WORKERS} workers × 8 threads (pids {_pids(p.children)}) at {p.url}"
        else:
            what = (
                f"manage.py workers: submit, archive and tracker clusters (the first named {p.cluster}), "
                f"each a sentinel, workers, monitor and pusher (pids {_pids(p.children)})"
            )
        lines.append(f"  {'':<9} {'':>7}  {'':>5}  {what}; log {p.log.name}")
    lines += [
        "",
        "The simulator account's base URL, /simulator/videos-gateway, resolves in both workers against their",
        f"DAILIES_SITE_URL={sim.url}: the provider side is {sim.role}'s simulator.",
        "",
        "The draft's route (web servers: their access logs; workers: django-q2's result table, each message",
        "matched to the worker whose log says it processed it):",
        f"  {a.role:<9} browser:   {summary(a, simulator=False)}",
    ]
    for step in steps:
        where = f"{step.worker:<9} {step.process_name[:16]}" if step.worker else "(no worker log names it)"
        outcome = "" if step.success else " FAILED"
        lines.append(f"  {where:<26} {_short(step.call):<30} {step.seconds:5.2f} s{outcome}  {_what(step, played)}")
    for web in deployment.webs:
        lines.append(f"  {web.role:<9} simulator: {summary(web, simulator=True)}")
    lines += [
        f"  {b.role:<9} browser:   {summary(b, simulator=False)}",
        f"  Draft click → done on {a.role}'s card: {played.seconds_to_done:.1f} s.",
        "",
        f"In the bucket: {played.video_key} ({played.video_bytes} bytes, sha256 {played.video_sha256[:16]}…),",
        f"  its poster {played.poster_key} ({played.poster_bytes} bytes),",
        f"  and the simulator's own render {played.simulator_key}.",
        f"Served by {b.role} ({b.url}), logged in there with a session of its own, compared with the objects:",
        _fetched(f"GET /clips/{played.clip_id}/video  Range: bytes=0-1023", played.first_kib, played.first_kib_equal),
        _fetched(f"GET /clips/{played.clip_id}/video  Range: bytes=0-   ", played.whole, played.whole_equal)
        + f"; the Clip's sha256 {'matches' if played.clip_sha256 == played.video_sha256 else 'DIFFERS'}",
        _fetched(f"GET /clips/{played.clip_id}/poster                  ", played.poster, played.poster_equal),
        "",
        "Local disk afterwards (nothing leaned on a shared folder):",
    ]
    for role, files in played.media_files.items():
        lines.append(f"  {role:<9} {len(files)} files in its MEDIA_ROOT" + (f": {', '.join(files)}" if files else ""))
    lines.append("/healthz:")
    for role, (status, answer) in played.health.items():
        lines.append(f"  {role:<9} {status} {json.dumps(answer)}")
    loops = ", ".join(f"{role or '?'} pid {pid}" for role, pid in tracking_loops(deployment)) or "none"
    lines += [
        "Trackers: each worker's tracker cluster runs a long-lived tracking loop; the loops share the tasks in",
        "  flight (one claim holds a task for one poll), and a loop killed outright is replaced by its",
        f"  cluster's sentinel at once. Loops running now: {loops}.",
    ]
    return "\n".join(lines)


def summary(web: Process, *, simulator: bool) -> str:
    """The web server's requests, the simulator's or the others (static files and health probes left out),
    in order, runs of the same request counted: "GET /tasks/1/card 200 ×12"."""
    runs: list[list] = []
    for method, path, status in requests_served(web):
        if path.startswith(("/static/", "/healthz")) or path.startswith("/simulator/") != simulator:
            continue
        if runs and runs[-1][0] == (method, path, status):
            runs[-1][1] += 1
        else:
            runs.append([(method, path, status), 1])
    return ", ".join(f"{m} {_short(p)} {s}" + (f" ×{n}" if n > 1 else "") for (m, p, s), n in runs) or "none"


def _short(text: str) -> str:
    """Long simulator job ids shortened ("task_0cdcfc4c…"), so that the route reads on one line a step."""
    return re.sub(r"(task_[0-9a-f]{8})[0-9a-f]{8,}", r"\1…", text)


def _fetched(request: str, answer: Fetched, equal: bool) -> str:
    about = answer.headers.get("content-range") or answer.headers.get("content-type", "")
    return f"  {request} → {answer.status} {about}, {len(answer.body)} bytes, {'equal' if equal else 'NOT EQUAL'}"


def _what(step: Step, played: Played) -> str:
    name = step.call.split("(")[0]
    return {
        "submit_task": f"sent it to the simulator: job {_short(played.job_id)}",
        "render_video": "the simulator's render, into the bucket",
        "archive_task": "downloaded it, checked it, made its poster, uploaded both to the bucket",
        "track": "a tracking run (they last minutes)",
        "kick_tracker": "the schedule's once-a-minute safety net",
    }.get(name, "")


def _pids(pids: list[int]) -> str:
    return " ".join(map(str, pids)) or "none"


def stopped_report(deployment: Deployment) -> tuple[str, list[int]]:
    """After the deployment is gone: a line saying so, and any of its pids still alive (none, if all is well)."""
    everything = sorted({pid for p in deployment.processes for pid in (p.pid, *p.children)})
    # A killed process takes a moment to exit, longer on a busy machine: give them 10 s.
    deadline = time.monotonic() + 10
    while (left := [pid for pid in everything if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return f"Stopped: {len(everything)} processes of 4 process groups killed, {len(left)} left running.", left


# --- The bench ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulator-on", choices=["A", "B"], default="B", help="whose simulator the workers use")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (the six logs)")
    args = parser.parse_args()
    server_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        sys.exit("Set DATABASE_URL (a PostgreSQL server) and REDIS_URL: the team deployment's services.")
    # A SIGTERM unwinds like Ctrl-C, so every process started is killed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    folder = Path(tempfile.mkdtemp(prefix="dailies-two-"))
    database_url, to_drop = throwaway_database(folder, server_url=server_url, prefix="dailies_two")
    try:
        with object_store(folder) as (store_url, store):
            run(args, folder=folder, database_url=database_url, redis_url=redis_url, store_url=store_url, store=store)
    finally:
        if to_drop:
            drop_database(server_url, to_drop)
        if args.keep:
            print(f"\nKept {folder} (one log per process).")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run(
    args: argparse.Namespace, *, folder: Path, database_url: str, redis_url: str, store_url: str, store: str
) -> None:
    storage_url = under_prefix(store_url, f"two-of-everything-{uuid.uuid4().hex[:8]}")
    # This process sets the project up and reads what happened, on the same database and bucket.
    started = time.monotonic()
    open_database(database_url, media_root=folder / "bench-media", REDIS_URL=redis_url, STORAGE_URL=storage_url)
    from django.conf import settings

    project_id, username, password = set_up()
    print(f"Database migrated and project set up in {time.monotonic() - started:.1f} s.")
    started = time.monotonic()
    try:
        with two_of_everything(
            folder=folder,
            database_url=database_url,
            redis_url=redis_url,
            storage_url=storage_url,
            secret_key=settings.SECRET_KEY,
            simulator_on=args.simulator_on,
        ) as deployment:
            print(f"Two web servers and two clusters answering after {time.monotonic() - started:.1f} s.\n")
            played = draft_on_a_play_on_b(deployment, project_id=project_id, username=username, password=password)
            steps = route_of(deployment, played)
            database = f"{settings.DATABASES['default']['NAME']} (throwaway, on {urlparse(database_url).hostname})"
            print(report(deployment, played, steps, database=database, store=store))
        line, left = stopped_report(deployment)
        print(f"\n{line}" + (f" Still running: {left}" if left else ""))
    finally:
        emptied = Bucket.of(storage_url).empty()
        print(f"Emptied the bucket's prefix ({emptied} objects).")


if __name__ == "__main__":
    main()
