"""Thin django-q2 entry points. Messages carry only ids; the database says what to do.

A message may be lost (the Redis broker keeps no receipts) or arrive twice;
every function here is safe either way because the work it calls claims its
task with a conditional UPDATE.

Three queues, each read by a cluster of its own (settings.Q_CLUSTER's
ALT_CLUSTERS): submits (and the simulator's renders) on the main one, archives
on settings.ARCHIVE_CLUSTER, and the tracking loop on settings.TRACKER_CLUSTER.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone
from django_q.brokers import get_broker
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


def track() -> None:
    """One run of the tracking loop, then the next, queued on the tracker's own queue as this one ends.

    The next is queued only if none is waiting there already: a worker that
    was replaced queued one as it started (see `start_tracking_on_spawn`).
    """
    try:
        tracker.run(enqueue=enqueue_job)
    finally:
        if not get_broker(settings.TRACKER_CLUSTER).queue_size():
            start_tracking()


def start_tracking() -> None:
    async_task("studio.tasks.queue.track", group="tracker", cluster=settings.TRACKER_CLUSTER)


@receiver(post_spawn)
def start_tracking_on_spawn(sender, proc_name: str, **kwargs) -> None:
    """A tracker cluster's worker, as it starts (or replaces one that died), queues a tracking run.

    The sentinel replaces a dead worker within its guard cycle (half a
    second), so a loop killed outright is running again within a second or
    two; the tasks it held are due again when their poll leases lapse.
    """
    if Conf.CLUSTER_NAME == settings.TRACKER_CLUSTER:
        start_tracking()


def kick_tracker() -> None:
    """Start a tracking loop if none is alive (its cluster lost its messages); cheap, called often."""
    if not tracker.is_tracking() and tracker.has_live_work() and tracker.take_kick():
        start_tracking()


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
