"""The tracker: one loop, cluster-wide, that follows every task in flight.

It holds one django-q2 worker however many tasks are in flight (polls run on a
small thread pool), wakes as often as the nearest due poll needs rather than at
the cluster's 30-second scheduler tick, and sweeps up work whose queue message
or worker was lost. A lease row makes it single across machines; if its worker
is killed the lease lapses and the next kick (every Draft click, every minute
from the schedule) starts another.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db.models import Min, Q
from django.utils import timezone

from . import lifecycle
from .models import Task, WorkerLease

log = logging.getLogger(__name__)
State = Task.State

LEASE_NAME = "tracker"
LEASE = timedelta(seconds=15)
RUN_FOR_S = 50.0
MAX_SLEEP_S = 0.5
POLL_THREADS = 8
# A pending task nobody has picked up this long after its message was sent.
LOST_SUBMIT_AFTER = timedelta(seconds=10)


def take_lease(holder: str) -> bool:
    now = timezone.now()
    WorkerLease.objects.get_or_create(name=LEASE_NAME, defaults={"expires_at": now})
    return bool(
        WorkerLease.objects.filter(name=LEASE_NAME)
        .filter(Q(expires_at__lte=now) | Q(holder=holder))
        .update(holder=holder, expires_at=now + LEASE)
    )


def release_lease(holder: str) -> None:
    WorkerLease.objects.filter(name=LEASE_NAME, holder=holder).update(holder="", expires_at=timezone.now())


def lease_is_free() -> bool:
    return not WorkerLease.objects.filter(name=LEASE_NAME, expires_at__gte=timezone.now()).exists()


def has_live_work() -> bool:
    return Task.objects.filter(state__in=Task.LIVE_STATES).exists()


def run(*, enqueue: Callable[[str, int], None], run_for_s: float = RUN_FOR_S) -> bool:
    """Follow tasks for up to `run_for_s` seconds. Returns whether work remains.

    `enqueue(kind, task_id)` hands submits and archives to other workers
    (django-q2's queue, from `queue.track`; an inline runner in tests).
    """
    holder = uuid.uuid4().hex
    if not take_lease(holder):
        return has_live_work()
    deadline = time.monotonic() + run_for_s
    try:
        with ThreadPoolExecutor(POLL_THREADS) as pool, lifecycle.http_client() as http:
            while time.monotonic() < deadline:
                if not take_lease(holder):
                    return has_live_work()
                step(pool=pool, http=http, enqueue=enqueue)
                if not has_live_work():
                    return False
                time.sleep(_sleep_until_next_due())
    finally:
        release_lease(holder)
    return has_live_work()


def step(*, pool: ThreadPoolExecutor, http, enqueue) -> int:
    """One pass: sweep, then poll everything due. Returns how many tasks were polled."""
    sweep(enqueue=enqueue)
    due = lifecycle.claim_due_checks()
    if not due:
        return 0
    reports = list(pool.map(lambda task: lifecycle.fetch_report(task, http), due))
    for task, report in zip(due, reports, strict=True):
        if lifecycle.apply_report(task, report) == State.ARCHIVING:
            enqueue("archive", task.pk)
    return len(due)


def sweep(*, enqueue) -> None:
    """Pick up what a lost queue message or a killed worker left behind."""
    lifecycle.mark_stale_submissions_uncertain()
    now = timezone.now()
    # Pending tasks whose submit message never ran, and those whose wait after
    # a rate limit (the provider's Retry-After) is over: those are sent the
    # moment it passes, not at the next lost-message sweep.
    stale_pending = (
        Task.objects.filter(state=State.PENDING)
        .filter(Q(next_check_at__isnull=True, created_at__lt=now - LOST_SUBMIT_AFTER) | Q(next_check_at__lte=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    )
    for task_id, held in stale_pending.values_list("pk", "lease_until")[:50]:
        # The lease here only stops the next sweep from queueing it again;
        # submit() claims the task itself, so a duplicate message is harmless.
        if Task.objects.filter(pk=task_id, state=State.PENDING, lease_until=held).update(
            lease_until=now + LOST_SUBMIT_AFTER
        ):
            enqueue("submit", task_id)
    # Clips whose download job was lost or whose worker died mid-download.
    stale_archives = Task.objects.filter(state=State.ARCHIVING, next_check_at__lte=now).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    for task_id, check_at in stale_archives.values_list("pk", "next_check_at")[:50]:
        if Task.objects.filter(pk=task_id, state=State.ARCHIVING, next_check_at=check_at).update(
            next_check_at=now + lifecycle.ARCHIVE_REQUEUE
        ):
            enqueue("archive", task_id)


def _sleep_until_next_due() -> float:
    # Polls due, and rate-limited submits whose wait ends.
    waiting = Task.objects.filter(state__in=(*Task.TRACKED_STATES, State.PENDING))
    nearest = waiting.aggregate(at=Min("next_check_at"))["at"]
    if nearest is None:
        return MAX_SLEEP_S
    return min(MAX_SLEEP_S, max(0.05, (nearest - timezone.now()).total_seconds()))
