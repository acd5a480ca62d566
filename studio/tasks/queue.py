"""Thin django-q2 entry points. Messages carry only ids; the database says what to do.

A message may be lost (the Redis broker keeps no receipts) or arrive twice;
every function here is safe either way because the work it calls claims its
task with a conditional UPDATE.

Three clusters (settings.Q_CLUSTER's ALT_CLUSTERS): submits (and the
simulator's renders) on the main one's queue, archives on
settings.ARCHIVE_CLUSTER's, and the tracking loop in settings.TRACKER_CLUSTER's
workers.
"""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone
from django_q.conf import Conf
from django_q.signals import post_spawn
from django_q.tasks import async_task

from studio.providers.checks import check_connection

from . import lifecycle, tracker
from .archive import archive
from .models import Task

log = logging.getLogger(__name__)


def submit_task(task_id: int) -> None:
    lifecycle.submit(task_id)
    kick_tracker()


def archive_task(task_id: int) -> None:
    archive(task_id)


@receiver(post_spawn)
def start_worker(sender, proc_name: str, **kwargs) -> None:
    """A tracker cluster's worker, as it starts, runs the tracking loop for as long as it lives.

    django-q2's sentinel replaces a worker that dies within its guard cycle
    (half a second), so a loop killed outright is running again within a
    second or two; the tasks it held are due again when their poll leases
    lapse. Its queue carries no messages: the loop is started by the worker
    itself, so no message can be prefetched by a busy cluster or lost.

    An archive worker yields the CPU instead: when a wave of renders finishes
    at once its probes and posters can fill every core, and a poll sent late
    delays every task it follows, where an archive a few seconds later delays
    one clip that is already safe at the provider.
    """
    if Conf.CLUSTER_NAME == settings.TRACKER_CLUSTER:
        tracker.run_forever(enqueue=enqueue_job)
    elif Conf.CLUSTER_NAME == settings.ARCHIVE_CLUSTER and settings.ARCHIVE_NICENESS:
        os.nice(settings.ARCHIVE_NICENESS)


def kick_tracker() -> None:
    """Say so in the log (once per KICK_EVERY) when tasks are live and no tracking loop is alive anywhere."""
    if not tracker.is_tracking() and tracker.has_live_work() and tracker.take_kick():
        log.warning(
            "tasks are in flight but no tracking loop is running: start `manage.py workers` "
            "(or a qcluster with Q_CLUSTER_NAME=%s)",
            settings.TRACKER_CLUSTER,
        )


_JOBS = {"submit": "studio.tasks.queue.submit_task", "archive": "studio.tasks.queue.archive_task"}


def enqueue_job(kind: str, task_id: int) -> None:
    """Queue a submit (main cluster) or an archive (archive cluster).

    A submit's task records until when its message may still be waiting, so the
    sweep queues it again only once that has passed (an archive's is set by
    `lifecycle.apply_report`, which moves it to archiving).
    """
    # Named even for the main queue: a tracker's or archive worker's own queue is the default there.
    cluster = settings.ARCHIVE_CLUSTER if kind == "archive" else settings.QUEUE_NAME
    async_task(_JOBS[kind], task_id, group=kind, cluster=cluster)
    if kind == "submit":
        Task.objects.filter(pk=task_id, state=Task.State.PENDING, lease_until__isnull=True).update(
            lease_until=timezone.now() + lifecycle.lost_message_after()
        )


def check_account(account_id: int) -> None:
    check_connection(account_id)


def enqueue_account_check(account_id: int) -> None:
    async_task("studio.tasks.queue.check_account", account_id, group="account-check", cluster=settings.QUEUE_NAME)
