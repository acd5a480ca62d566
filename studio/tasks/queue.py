"""Thin django-q2 entry points. Messages carry only ids; the database says what to do.

A message may be lost (the Redis broker keeps no receipts) or arrive twice;
every function here is safe either way because the work it calls claims its
task with a conditional UPDATE.
"""

from __future__ import annotations

import logging

from django_q.tasks import async_task

from studio.providers.checks import check_connection

from . import lifecycle, tracker
from .archive import archive

log = logging.getLogger(__name__)


def submit_task(task_id: int) -> None:
    lifecycle.submit(task_id)
    kick_tracker()


def archive_task(task_id: int) -> None:
    archive(task_id)


def track() -> None:
    """Run the tracker for a while, then hand over to a fresh message if work remains."""
    if tracker.run(enqueue=enqueue_job):
        kick_tracker()


def kick_tracker() -> None:
    """Start the tracker unless one is already running. Cheap; called often."""
    if tracker.lease_is_free() and tracker.has_live_work():
        async_task("studio.tasks.queue.track", group="tracker")


_JOBS = {"submit": "studio.tasks.queue.submit_task", "archive": "studio.tasks.queue.archive_task"}


def enqueue_job(kind: str, task_id: int) -> None:
    async_task(_JOBS[kind], task_id, group=kind)


def check_account(account_id: int) -> None:
    check_connection(account_id)


def enqueue_account_check(account_id: int) -> None:
    async_task("studio.tasks.queue.check_account", account_id, group="account-check")
