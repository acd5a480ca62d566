"""The tracker follows every task from one worker, at the route's cadence, and recovers lost work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from studio.simulator.models import SimulatorRequest
from studio.tasks import lifecycle, tracker
from studio.tasks.models import Task, WorkerLease

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_tracker_at_a_time_across_workers():
    assert tracker.take_lease("worker-a") is True
    assert tracker.take_lease("worker-b") is False
    assert tracker.take_lease("worker-a") is True  # renewing its own
    tracker.release_lease("worker-a")
    assert tracker.take_lease("worker-b") is True


def test_a_dead_trackers_lease_lapses():
    tracker.take_lease("dead")
    WorkerLease.objects.filter(name=tracker.LEASE_NAME).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tracker.lease_is_free()
    assert tracker.take_lease("next") is True


def test_one_tracker_run_follows_many_tasks_at_the_routes_cadence(
    simulator, project, people, pending_task, inline_queue
):
    tasks = [pending_task(project, people["owner"]) for _ in range(3)]
    for task in tasks:
        lifecycle.submit(task.pk)
    remaining = tracker.run(run_for_s=30, enqueue=inline_queue)
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
        # Route 4: "every 10-15 s, never below 5 s"; the simulator finishes in 0.6 s, so one poll at ~10 s.
        assert gaps and min(gaps) >= 5.0, gaps
        assert len(polls) == 1
    assert sorted(kind for kind, _ in inline_queue.jobs) == ["archive"] * 3


def test_an_accounts_faster_cadence_is_clamped_to_the_routes_minimum(simulator, project, people, pending_task):
    project.draft_account.poll_interval_s = 1.0
    project.draft_account.save()
    task = pending_task(project, people["owner"])
    lifecycle.submit(task.pk)
    task.refresh_from_db()
    assert (task.next_check_at - task.submitted_at).total_seconds() == pytest.approx(5.0, abs=0.05)


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
