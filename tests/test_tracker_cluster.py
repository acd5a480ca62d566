"""The tracker's own django-q2 cluster, for real: `manage.py qcluster` with Q_CLUSTER_NAME=<name>-tracker on the
test database (and Redis, where REDIS_URL is set), following tasks on the bench's load fake; its loop's worker
killed outright with SIGKILL is replaced and the tasks it held are polled again within one poll lease."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from studio.tasks import lifecycle, tracker
from studio.tasks.models import Task, WorkerLease

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from load_provider import serving  # the bench's load fake, beside the tests
from submit_burst import database_url, forget_queue

BASE_DIR = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db(transaction=True)


def loops_alive() -> dict[str, str]:
    """Heartbeat row name → holder ("host:pid") of every loop alive now."""
    rows = WorkerLease.objects.filter(name__startswith=tracker.LOOP_PREFIX, expires_at__gte=timezone.now())
    return dict(rows.values_list("name", "holder"))


def until(ready, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := ready():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def polls_by_job(log: Path) -> dict[str, list[tuple[float, str]]]:
    polls: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for line in log.read_text().splitlines() if log.exists() else []:
        at, method, path, _status, who, _said = line.split(" ")
        if method == "GET" and not path.endswith("/content"):
            polls[path.rsplit("/", 1)[1]].append((float(at), who))
    return polls


def test_a_tracker_killed_outright_is_replaced_and_its_tasks_polled_again_within_a_lease(
    project, people, pending_task, tmp_path
):
    log = tmp_path / "provider.log"
    name = f"t{uuid.uuid4().hex[:8]}"
    # Each answer takes a second, so the kill finds polls in flight: their tasks wait out their lease.
    with serving(render_s=3600, latency_s=1.0, log_path=log) as (url, provider):
        account = project.draft_account
        account.base_url = url
        account.save()
        tasks = [pending_task(project, people["owner"]) for _ in range(20)]
        now = timezone.now()
        for task in tasks:
            Task.objects.filter(pk=task.pk).update(
                state=Task.State.RUNNING, provider_task_id=provider.add_job(), submitted_at=now, next_check_at=now
            )
        env = {
            **os.environ,
            "DATABASE_URL": database_url(connection.settings_dict),
            "Q_CLUSTER_NAME": f"{name}-tracker",
            "SECRET_KEY": django_settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DAILIES_HTTPS": "0",
            "DAILIES_SIMULATOR": "1",
            "MEDIA_ROOT": str(tmp_path / "media"),
        }
        with open(tmp_path / "cluster.log", "wb") as output:
            cluster = subprocess.Popen(
                [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
                cwd=BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            first = until(loops_alive, timeout=60, what="the cluster's worker starts a tracking loop")
            (holder,) = first.values()
            pid = int(holder.rsplit(":", 1)[1])
            # Every task polled, then the loop's worker killed with the next polls in flight or claimed.
            until(lambda: len(polls_by_job(log)) == len(tasks), timeout=30, what="every task polled")
            time.sleep(5.5)  # the first round's answers in, the second round in flight
            os.kill(pid, signal.SIGKILL)
            killed = time.time()

            def replaced():
                return [h for h in loops_alive().values() if h != holder]

            until(replaced, timeout=15, what="a new loop in a new worker")
            replaced_after = time.time() - killed

            def all_polled_again():
                polls = polls_by_job(log)
                after = [min((at for at, _ in polls[t.provider_task_id] if at > killed), default=None) for t in tasks]
                return after if all(after) else None

            for task in tasks:
                task.refresh_from_db()
            again = until(all_polled_again, timeout=20, what="every task polled again after the kill")
            slowest = max(again) - killed
        finally:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(10)
            if django_settings.REDIS_URL:
                forget_queue(django_settings.REDIS_URL, f"{name}-tracker")
    print(f"\nloop replaced {replaced_after:.1f} s after SIGKILL; every task polled again within {slowest:.1f} s")
    assert replaced_after <= 15
    assert slowest <= lifecycle.POLL_CLAIM.total_seconds() + 3 <= 15
    # Never two loops on one task at once: polls of a task stay this project's 5 s apart.
    for seen in polls_by_job(log).values():
        times = sorted(at for at, _ in seen)
        assert all(b - a >= 4.0 for a, b in itertools.pairwise(times)), times
    assert Task.objects.filter(state=Task.State.RUNNING).count() == len(tasks)
    assert timedelta(0) < lifecycle.POLL_CLAIM <= timedelta(seconds=15)


SPAWN_A_WORKER = """
import os, django
django.setup()
from django.conf import settings
from django_q.conf import Conf
from django_q.signals import post_spawn
Conf.CLUSTER_NAME = {{"main": settings.QUEUE_NAME, "archive": settings.ARCHIVE_CLUSTER}}["{cluster}"]
before = os.nice(0)
post_spawn.send(sender="django_q", proc_name="Process-1")
print(os.nice(0) - before)
"""


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize(
    ("cluster", "niceness", "lowered_by"), [("archive", "", 5), ("archive", "12", 12), ("main", "12", 0)]
)
def test_an_archive_worker_starts_at_a_lower_cpu_priority_and_a_submit_worker_does_not(cluster, niceness, lowered_by):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studio.settings", "ARCHIVE_NICENESS": niceness}
    done = subprocess.run(
        [sys.executable, "-c", SPAWN_A_WORKER.format(cluster=cluster)],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip().splitlines()[-1]) == lowered_by
