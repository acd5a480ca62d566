"""The project's activity feed: who drafted, promoted, changed a role, starred, exported — one line each."""

from __future__ import annotations

from django.contrib.auth.models import User

from .models import Activity, Project

Verb = Activity.Verb
FEED_LENGTH = 100


def record(project: Project, actor: User | None, verb: str, words: str, *, link: str = "") -> None:
    Activity.objects.create(project=project, actor=actor, verb=verb, words=words[:300], link=link[:300])


def record_once(project: Project, actor: User | None, verb: str, words: str, *, link: str) -> None:
    """Record it unless this very thing (same verb, same link) is already in the feed: a resent form says it once."""
    # Not get_or_create: two lines written by a race must not turn every later copy into an error.
    if not Activity.objects.filter(project=project, verb=verb, link=link[:300]).exists():
        record(project, actor, verb, words, link=link)


def feed(project: Project) -> list[Activity]:
    return list(project.activity.select_related("actor")[:FEED_LENGTH])
