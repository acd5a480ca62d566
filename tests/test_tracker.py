"""The tracker follows every task in flight at the route's cadence, shares them between loops without
polling one twice, and recovers lost work without flooding the queues."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from studio.providers.base import ErrorKind, ProviderError, Report, Status
from studio.simulator.models import SimulatorRequest
from studio.tasks import lifecycle, queue, tracker
from studio.tasks.models import Task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from load_provider import serving  # the bench's load fake, beside the tests

pytestmark = pytest.mark.django_db(transaction=True)
State = Task.State


def in_flight(project, people, pending_task, count: int, *, due_in_s: float = 0.0) -> list[Task]:
    """`count` tasks the provider holds (running), each due for a poll in `due_in_s`."""
    tasks = [pending_task(project, people["owner"]) for _ in range(count)]
    now = timezone.now()
    for n, task in enumerate(tasks):
        Task.objects.filter(pk=task.pk).update(
            state=State.RUNNING,
            provider_task_id=f"job-{n}",
            submitted_at=now,
            next_check_at=now + timedelta(seconds=due_in_s),
        )
    return tasks


def on_the_fake(url: str, provider, project, people, pending_task, count: int) -> list[Task]:
    """`count` running tasks whose jobs the load fake at `url` holds (the project's draft account points there)."""
    account = project.draft_account
    account.base_url = url
    account.save()
    tasks = in_flight(project, people, pending_task, count)
    for task in tasks:
        Task.objects.filter(pk=task.pk).update(provider_task_id=provider.add_job())
    return tasks


def poll_once(claimed: list[Task], *, send_by: float | None = None) -> tuple[list, tracker.Stats]:
    """Poll a claim on one Poller, wait for every answer and record them: (the answers, the record's stats)."""
    stats = tracker.Stats()
    with tracker.Poller(name="test") as poller:
        poller.start(claimed, send_by=send_by)
        poller.wait_all(15)
        answers = poller.answered()
    tracker.record(answers, enqueue=lambda kind, task_id: None, stats=stats)
    return answers, stats


def test_one_tracker_run_follows_many_tasks_at_the_routes_cadence(
    simulator, project, people, pending_task, inline_queue
):
    tasks = [pending_task(project, people["owner"]) for _ in range(3)]
    for task in tasks:
        lifecycle.submit(task.pk)
    remaining = tracker.run(run_for_s=30, enqueue=inline_queue, until_idle=True)
    assert remaining is False
    for task in tasks:
        task.refresh_from_db()
        assert task.state == Task.State.DONE, task.error_message
        polls = list(
            SimulatorRequest.objects.filter(method="GET", job_id=task.provider_task_id)
            .exclude(path__endswith="/content")
            .values_list("at", flat=True)
        )
        submitted = SimulatorRequest.objects.get(method="POST", job_id=task.provider_task_id).at
        gaps = [(b - a).total_seconds() for a, b in zip([submitted, *polls], polls, strict=False)]
        # Route 4: "every 10-15 s, never below 5 s" (this project's 5 s), held: never sooner, never much
        # later. The simulator says done 0.6 s after the submit once its video is rendered, which a busy
        # machine can hold past the first polls, so how many polls it took is not the point.
        assert gaps and all(5.0 <= gap <= 10.0 for gap in gaps), gaps
    assert sorted(kind for kind, _ in inline_queue.jobs) == ["archive"] * 3


def test_an_accounts_faster_cadence_is_clamped_to_the_routes_minimum(simulator, project, people, pending_task):
    project.draft_account.poll_interval_s = 1.0
    project.draft_account.save()
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert (task.next_check_at - task.submitted_at).total_seconds() == pytest.approx(5.0, abs=0.05)


def test_one_claim_takes_a_batch_of_due_tasks_once_each(project, people, pending_task):
    tasks = in_flight(project, people, pending_task, 5)
    later = in_flight(project, people, pending_task, 2, due_in_s=60)
    first = lifecycle.claim_due_checks(limit=3)
    second = lifecycle.claim_due_checks(limit=10)
    assert len(first) == 3 and len(second) == 2
    assert {t.pk for t in first} | {t.pk for t in second} == {t.pk for t in tasks}
    assert lifecycle.claim_due_checks(limit=10) == []  # claimed: not due until the poll lease lapses
    claimed = Task.objects.get(pk=first[0].pk).next_check_at
    assert claimed - timezone.now() == pytest.approx(lifecycle.POLL_CLAIM, abs=timedelta(seconds=2))
    assert all(Task.objects.get(pk=t.pk).next_check_at > timezone.now() + timedelta(seconds=50) for t in later)


def test_trackers_claiming_at_once_never_take_the_same_task(project, people, pending_task):
    tasks = in_flight(project, people, pending_task, 120)
    taken: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def claim(mine: list[int]) -> None:
        try:
            start.wait()
            while batch := lifecycle.claim_due_checks(limit=7):
                mine.extend(t.pk for t in batch)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [pk for mine in taken for pk in mine]
    assert sorted(every) == sorted(t.pk for t in tasks)  # each claimed, none twice
    assert sum(1 for mine in taken if mine) >= 2  # really shared, not one thread taking all


def test_still_rendering_answers_are_recorded_in_one_statement(
    project, people, pending_task, django_assert_num_queries
):
    tasks = in_flight(project, people, pending_task, 20)
    claimed = lifecycle.claim_due_checks(limit=50)
    # One of them was settled meanwhile: its row is left as it is.
    Task.objects.filter(pk=tasks[0].pk).update(state=State.FAILED)
    answers = [(t, Report(Status.RUNNING, progress=40, provider_status="in_progress")) for t in claimed]
    with django_assert_num_queries(2):  # the batch, and the one request counted on the ended task
        assert lifecycle.apply_reports(answers) == []
    rows = {t.pk: t for t in Task.objects.filter(pk__in=[t.pk for t in tasks])}
    assert rows[tasks[0].pk].state == State.FAILED and rows[tasks[0].pk].progress == 0
    for task in tasks[1:]:
        row = rows[task.pk]
        assert row.state == State.RUNNING and row.progress == 40 and row.provider_requests == 1
        assert (row.next_check_at - timezone.now()).total_seconds() == pytest.approx(5.0, abs=2)


def test_a_claim_is_one_statement_and_brings_the_accounts_in_one_more(
    project, people, pending_task, django_assert_num_queries
):
    in_flight(project, people, pending_task, 6)
    with django_assert_num_queries(2):
        claimed = lifecycle.claim_due_checks(limit=10)
        routes = {task.account.provider.slug for task in claimed}  # read without another query
    assert len(claimed) == 6 and routes == {project.draft_account.provider.slug}
    assert all(task.claimed_until == Task.objects.get(pk=task.pk).next_check_at for task in claimed)


def test_a_loop_that_fell_behind_its_lease_does_not_overwrite_the_loop_that_took_over(project, people, pending_task):
    tasks = in_flight(project, people, pending_task, 4)
    slow = lifecycle.claim_due_checks(limit=10)
    # The slow loop's lease lapses; another loop claims the tasks and is polling them now.
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(next_check_at=timezone.now())
    fast = lifecycle.claim_due_checks(limit=10)
    assert {t.pk for t in fast} == {t.pk for t in tasks}
    late = [(t, Report(Status.RUNNING, progress=10, provider_status="in_progress")) for t in slow]
    assert lifecycle.apply_reports(late) == []
    for task in fast:
        row = Task.objects.get(pk=task.pk)
        # The newer claim stands (not moved to the slow loop's next check), the request is counted.
        assert row.next_check_at == task.claimed_until and row.progress == 0 and row.provider_requests == 1
    # Nor does its "could not check" (what a loop that fell behind most likely holds).
    outage = [(t, ProviderError(ErrorKind.OUTAGE, "No answer from the provider (ReadTimeout)")) for t in slow]
    lifecycle.apply_reports(outage)
    for task in fast:
        row = Task.objects.get(pk=task.pk)
        assert row.next_check_at == task.claimed_until and row.error_code == "" and row.provider_requests == 2
    answers = [(t, Report(Status.RUNNING, progress=30, provider_status="in_progress")) for t in fast]
    lifecycle.apply_reports(answers)
    assert all(Task.objects.get(pk=t.pk).progress == 30 for t in tasks)


def test_a_poll_still_unanswered_as_its_claim_lapses_is_abandoned_and_handed_back(project, people, pending_task):
    with serving(render_s=3600, latency_s=10) as (url, provider):
        tasks = on_the_fake(url, provider, project, people, pending_task, 2)
        claimed = lifecycle.claim_due_checks(limit=10)
        # A claim with 7.5 s left: sent at once (more than half a lease left), abandoned at 6.5 s.
        until = timezone.now() + timedelta(seconds=7.5)
        Task.objects.filter(pk__in=[t.pk for t in tasks]).update(next_check_at=until)
        for task in claimed:
            task.claimed_until = until
        started = time.monotonic()
        answers, stats = poll_once(claimed)
        waited = time.monotonic() - started
        # Sent and waited on (not dropped unsent), then given up a second before the claim lapsed.
        assert 6.0 <= waited < 7.5, waited
        assert [answer for _, answer in answers] == [None, None] and stats.unsent == 2
        assert {t.pk for t in lifecycle.claim_due_checks(limit=10)} == {t.pk for t in tasks}  # due again now


def test_a_poll_that_cannot_be_sent_in_time_is_handed_back_unsent(project, people, pending_task):
    with serving(render_s=3600) as (url, provider):
        tasks = on_the_fake(url, provider, project, people, pending_task, 3)
        claimed = lifecycle.claim_due_checks(limit=10)
        answers, stats = poll_once(claimed, send_by=0.0)  # long past
        assert [answer for _, answer in answers] == [None] * 3
        assert provider.requests == 0 and stats.unsent == 3 and stats.polls == 0
        # Due again at once, so this or another loop polls them now rather than when the lease lapses.
        assert {t.pk for t in lifecycle.claim_due_checks(limit=10)} == {t.pk for t in tasks}


def test_an_asynchronous_poll_reads_the_route_as_the_synchronous_one_does(
    simulator, project, people, pending_task, settings
):
    settings.SIMULATOR = {"draft_seconds": 3600, "final_seconds": 3600}  # the same answer to both polls
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task = Task.objects.select_related("account").get(pk=task.pk)

    async def poll():
        async with httpx.AsyncClient() as http:
            return await lifecycle.fetch_report_async(task, http)

    with lifecycle.http_client() as http:
        plain = lifecycle.fetch_report(task, http)
    answer = asyncio.run(poll())
    assert isinstance(answer, Report) and isinstance(plain, Report)
    assert (answer.status, answer.provider_status) == (plain.status, plain.provider_status)


def test_two_loops_share_the_tasks_without_polling_one_twice(project, people, pending_task, tmp_path, monkeypatch):
    # A loop holds at most 20 polls at once, so neither can take all 40: they must share.
    monkeypatch.setattr(tracker, "MAX_IN_FLIGHT", 20)
    log = tmp_path / "provider.log"
    with serving(render_s=3600, latency_s=0.05, log_path=log) as (url, provider):
        on_the_fake(url, provider, project, people, pending_task, 40)

        def loop() -> None:
            try:
                tracker.run(enqueue=lambda kind, task_id: None, run_for_s=11)
            finally:
                connection.close()

        loops = [threading.Thread(target=loop) for _ in range(2)]
        for thread in loops:
            thread.start()
        for thread in loops:
            thread.join(60)
    polls: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for line in log.read_text().splitlines():
        at, _method, path, _status, who, _said = line.split(" ")
        polls[path.rsplit("/", 1)[1]].append((float(at), who))
    assert len(polls) == 40
    loops_seen = {who for seen in polls.values() for _, who in seen}
    assert len(loops_seen) == 2  # both loops polled
    for seen in polls.values():
        # Due at once, then every 5 s (this project's cadence): 2 or 3 polls in 11 s (fewer on a machine
        # too busy to keep up), and never two closer than 4 s, whichever loops made them.
        assert 1 <= len(seen) <= 3, seen
        times = sorted(at for at, _ in seen)
        assert min(b - a for a, b in itertools.pairwise(times)) >= 4.0, seen


def test_a_loops_held_tasks_are_polled_again_within_one_poll_lease(project, people, pending_task, tmp_path):
    """What a loop killed mid-poll leaves: tasks claimed, never answered. They are due once the lease lapses."""
    with serving(render_s=3600) as (url, provider):
        tasks = on_the_fake(url, provider, project, people, pending_task, 5)
        assert len(lifecycle.claim_due_checks(limit=10)) == 5  # the dead loop's claim
        Task.objects.filter(pk__in=[t.pk for t in tasks]).update(
            next_check_at=timezone.now() + timedelta(seconds=1)  # its lease, nearly over
        )
        tracker.run(enqueue=lambda kind, task_id: None, run_for_s=2.5)
        assert provider.requests == 5


def test_the_sweep_leaves_a_queued_submit_alone_until_its_message_is_really_late(
    project, people, pending_task, settings
):
    task = pending_task(project, people["owner"])
    queue.enqueue_job("submit", task.pk)  # the real queue (the ORM broker, or Redis)
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    jobs = []
    for _ in range(3):
        tracker.sweep(enqueue=lambda kind, task_id: jobs.append((kind, task_id)))
    assert jobs == []  # still within LOST_MESSAGE_AFTER_S of being queued
    Task.objects.filter(pk=task.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    for _ in range(3):
        tracker.sweep(enqueue=lambda kind, task_id: jobs.append((kind, task_id)))
    assert jobs == [("submit", task.pk)]


def test_a_backlog_of_archives_is_not_queued_again_while_it_waits(project, people, pending_task):
    tasks = in_flight(project, people, pending_task, 30)
    for task in lifecycle.claim_due_checks(limit=50):
        finished = Report(Status.SUCCEEDED, progress=100, video_url="http://provider.invalid/v.mp4")
        assert lifecycle.apply_report(task, finished) == State.ARCHIVING
    jobs = []
    for _ in range(5):
        tracker.sweep(enqueue=lambda kind, task_id: jobs.append((kind, task_id)))
    assert jobs == []
    # Past its grace, each is queued again once, however often the sweep runs.
    Task.objects.filter(pk__in=[t.pk for t in tasks]).update(next_check_at=timezone.now() - timedelta(seconds=1))
    for _ in range(5):
        tracker.sweep(enqueue=lambda kind, task_id: jobs.append((kind, task_id)))
    assert sorted(jobs) == sorted(("archive", t.pk) for t in tasks)


def test_an_archive_whose_worker_died_is_queued_again(project, people, media, pending_task):
    task = pending_task(project, people["owner"])
    Task.objects.filter(pk=task.pk).update(
        state=Task.State.ARCHIVING,
        lease_until=timezone.now() - timedelta(seconds=1),
        next_check_at=timezone.now() - timedelta(seconds=1),
    )
    jobs = []
    tracker.sweep(enqueue=lambda kind, task_id: jobs.append((kind, task_id)))
    tracker.sweep(enqueue=lambda kind, task_id: jobs.append((kind, task_id)))
    assert jobs == [("archive", task.pk)]


def test_submits_and_archives_each_have_a_queue_of_their_own(settings, project, people, pending_task):
    from django_q.brokers import get_broker

    queues = {name: get_broker(name) for name in (settings.QUEUE_NAME, settings.ARCHIVE_CLUSTER)}
    before = {name: broker.queue_size() for name, broker in queues.items()}
    task = pending_task(project, people["owner"])
    queue.enqueue_job("submit", task.pk)
    queue.enqueue_job("archive", task.pk)
    queue.enqueue_job("archive", task.pk)
    try:
        after = {name: broker.queue_size() - before[name] for name, broker in queues.items()}
        assert after == {settings.QUEUE_NAME: 1, settings.ARCHIVE_CLUSTER: 2}
    finally:
        for broker in queues.values():
            broker.purge_queue()


def test_live_tasks_with_no_tracking_loop_alive_are_reported_once_per_interval(project, people, pending_task, caplog):
    pending_task(project, people["owner"])
    tracker.beat("alive")
    queue.kick_tracker()
    assert "no tracking loop is running" not in caplog.text
    tracker.stop_beating("alive")
    queue.kick_tracker()
    queue.kick_tracker()
    assert caplog.text.count("no tracking loop is running") == 1


def test_a_job_that_never_finishes_times_out_without_resubmitting(simulator, project, people, settings, pending_task):
    settings.SIMULATOR = {"draft_seconds": 3600, "final_seconds": 3600}
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    Task.objects.filter(pk=task.pk).update(
        submitted_at=timezone.now() - timedelta(hours=2), next_check_at=timezone.now()
    )
    (claimed,) = lifecycle.claim_due_checks()
    with lifecycle.http_client() as http:
        state = lifecycle.apply_report(claimed, lifecycle.fetch_report(claimed, http))
    assert state == Task.State.FAILED
    task.refresh_from_db()
    assert task.error_code == "timed_out" and "not sent again" in task.error_message
    assert SimulatorRequest.objects.filter(method="POST").count() == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded default's SQLite settings")
def test_sqlite_runs_in_wal_mode_waits_for_the_lock_and_takes_it_up_front():
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_the_tracker_and_queue_workers_load_without_the_media_and_object_storage_libraries():
    """PyAV, Pillow and boto3 are 40 MiB of every process that imports them; a tracker never decodes or stores."""
    import subprocess

    script = (
        "import sys, django; django.setup(); import studio.tasks.queue, studio.tasks.tracker; "
        "print(' '.join(m for m in ('av', 'PIL.Image', 'boto3', 'botocore') if m in sys.modules))"
    )
    env = {k: v for k, v in os.environ.items() if k != "STORAGE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "studio.settings"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert done.stdout.strip() == "", done.stdout
