"""What the task lifecycle announces to the apps above it, which it must not import.

`final_archived` is sent with `task` and `clip` inside the transaction that marks a final done
with its clip stored, once per final (a second worker that lost the race sends nothing). Review
connects its notifications to it (studio/review/apps.py).
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

log = logging.getLogger(__name__)

final_archived = Signal()


def announce_final_archived(task, clip) -> None:
    """Send `final_archived`; a receiver that fails is logged and never undoes the archive."""
    for receiver, outcome in final_archived.send_robust(sender=type(task), task=task, clip=clip):
        if isinstance(outcome, Exception):
            log.error("final #%s archived, but %r failed: %r", task.pk, receiver, outcome, exc_info=outcome)
