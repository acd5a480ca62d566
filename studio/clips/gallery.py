"""A project's gallery: every clip, filtered and paged by a keyset, so the 10,000th costs what the 10th does.

The filters live in the URL, so a filtered gallery can be bookmarked and
shared. Clips are in the order their tasks were asked for, and paging goes by
the task's (created_at, id) rather than by offset, along the index the project
page also reads (tasks by project, newest first): each page is
one bounded query however deep it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from django.utils.dateparse import parse_date

from studio.forms import unstorable
from studio.providers.base import Tier
from studio.providers.registry import route_name

from .models import Clip

PAGE_SIZE = 24
KINDS = {"draft": "Drafts", "final": "Finals"}
TIERS = {"lite": "Lite", "fast": "Fast", "quality": "Quality"}
ASPECTS = ("16:9", "9:16", "1:1")
SORTS = {"newest": "Newest first", "oldest": "Oldest first"}
# Prompt search: PostgreSQL's full-text search (English stemming: "lighthouses" finds "lighthouse");
# elsewhere every word must appear somewhere in the prompt.
MAX_WORDS = 8
SEARCH_CONFIG = "english"


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    tier: str = ""
    route: str = ""
    model: str = ""
    aspect_ratio: str = ""
    author: str = ""
    since: date | None = None
    until: date | None = None
    words: str = ""
    starred: bool = False
    review: str = ""
    sort: str = "newest"
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return any(
            (
                self.kind,
                self.tier,
                self.route,
                self.model,
                self.aspect_ratio,
                self.author,
                self.since,
                self.until,
                self.words,
                self.starred,
                self.review,
            )
        )


def read_filters(query) -> Filters:
    """The filters in a query string; a value we cannot use is dropped and named in `problems`."""
    problems: dict[str, str] = {}

    def choice(name: str, allowed) -> str:
        value = str(query.get(name, "")).strip()
        if value and value not in allowed:
            problems[name] = f"{value[:40]!r} is not one of the choices."
            return ""
        return value

    def day(name: str) -> date | None:
        raw = str(query.get(name, "")).strip()
        if not raw:
            return None
        try:
            parsed = parse_date(raw)
        except ValueError:
            parsed = None
        if parsed is None:
            problems[name] = "Use a date like 2026-12-01."
        return parsed

    def text(name: str, limit: int) -> str:
        value = str(query.get(name, "")).strip()[:limit]
        if problem := unstorable(value):
            problems[name] = problem
            return ""
        return value

    return Filters(
        kind=choice("kind", KINDS),
        tier=choice("tier", TIERS),
        route=text("route", 40),
        model=text("model", 80),
        aspect_ratio=choice("aspect_ratio", ASPECTS),
        author=text("author", 150),
        since=day("since"),
        until=day("until"),
        words=" ".join(text("q", 2000).split()[:MAX_WORDS]),
        starred=query.get("starred") == "1",
        review=choice("review", Clip.Review.values),
        sort=choice("sort", SORTS) or "newest",
        problems=problems,
    )


def routes_of(project) -> list[tuple[str, str]]:
    """The project's routes as (slug, plain name), for the gallery's Route filter."""
    slugs = sorted({account.route for account in project.provider_accounts.all()})
    return [(slug, route_name(slug)) for slug in slugs]


def models_of(project) -> list[str]:
    """Every model the project's routes offer, in tier order: what its clips can have been made with."""
    models: list[str] = []
    for account in project.provider_accounts.all():
        # The account's own choices, then the route's defaults (clips made before an id was changed).
        chosen = [model for tier in Tier if (model := account.model_for(tier))]
        for model in [*chosen, *account.provider.models.values()]:
            if model not in models:
                models.append(model)
    return models


def clips_of(project, filters: Filters) -> QuerySet[Clip]:
    clips = Clip.objects.filter(task__project=project)
    if filters.kind:
        clips = clips.filter(task__kind=filters.kind)
    if filters.tier:
        clips = clips.filter(task__tier=filters.tier)
    if filters.route:
        clips = clips.filter(task__route=filters.route)
    if filters.model:
        clips = clips.filter(task__model=filters.model)
    if filters.aspect_ratio:
        clips = clips.filter(task__parameters__aspect_ratio=filters.aspect_ratio)
    if filters.author:
        clips = clips.filter(task__created_by__username=filters.author)
    if filters.since:
        clips = clips.filter(created_at__gte=_start_of(filters.since))
    if filters.until:
        clips = clips.filter(created_at__lt=_start_of(filters.until) + timedelta(days=1))
    if filters.starred:
        clips = clips.filter(starred_at__isnull=False)
    if filters.review:
        clips = clips.filter(review_status=filters.review)
    if filters.words:
        clips = _matching_words(clips, filters.words)
    return clips


def _matching_words(clips: QuerySet[Clip], words: str) -> QuerySet[Clip]:
    # An extension is found by its continuation as well as by the words it continues.
    if connection.vendor == "postgresql":
        vector = SearchVector(
            "task__prompt_version__text", KeyTextTransform("continuation", "task__parameters"), config=SEARCH_CONFIG
        )
        return clips.annotate(words_found=vector).filter(words_found=SearchQuery(words, config=SEARCH_CONFIG))
    for word in words.split():
        clips = clips.filter(
            Q(task__prompt_version__text__icontains=word) | Q(task__parameters__continuation__icontains=word)
        )
    return clips


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@dataclass(frozen=True)
class GalleryPage:
    clips: list[Clip]
    # Where the next page starts, for ?after=; empty on the last page.
    next_cursor: str


def page_of(project, filters: Filters, *, after: str = "", size: int = PAGE_SIZE) -> GalleryPage:
    """One page of clips, starting after the cursor of the previous one."""
    newest_first = filters.sort == "newest"
    clips = clips_of(project, filters)
    position = _read_cursor(after)
    if position:
        at, pk = position
        if newest_first:
            clips = clips.filter(Q(task__created_at__lt=at) | Q(task__created_at=at, task__pk__lt=pk))
        else:
            clips = clips.filter(Q(task__created_at__gt=at) | Q(task__created_at=at, task__pk__gt=pk))
    order = ("-task__created_at", "-task__pk") if newest_first else ("task__created_at", "task__pk")
    rows = list(
        clips.select_related(
            "task__prompt_version", "task__promoted_from__clip", "task__created_by", "starred_by", "reviewed_by"
        )
        .prefetch_related("task__promotions__clip")
        .order_by(*order)[: size + 1]
    )
    more = len(rows) > size
    rows = rows[:size]
    return GalleryPage(clips=rows, next_cursor=_cursor(rows[-1]) if more and rows else "")


CURSOR_TIME = "%Y%m%dT%H%M%S.%f"


def _cursor(clip: Clip) -> str:
    # Exact to the microsecond (a float timestamp is not), so a page never skips nor repeats a clip.
    return f"{clip.task.created_at.astimezone(UTC).strftime(CURSOR_TIME)}_{clip.task_id}"


def _read_cursor(raw: str) -> tuple[datetime, int] | None:
    stamp, _, pk = raw.partition("_")
    try:
        return datetime.strptime(stamp, CURSOR_TIME).replace(tzinfo=UTC), int(pk)
    except ValueError:
        return None
