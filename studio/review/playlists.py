"""Playlists: a project's clips in the order a review plays them.

Positions are 0, 1, 2, … with no gaps. Every change takes the playlist's row lock first
(`select_for_update`), so two people adding, removing or reordering at once take turns: the
positions are renumbered inside that one transaction and never collide or go missing, and the
unique (playlist, clip) constraint is the last word on duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.db import transaction
from django.db.models import Count, QuerySet

from studio.clips.models import Clip
from studio.forms import StorableText

from .models import Comment, Playlist, PlaylistItem

NAME_MAX_LENGTH = 120
# One review is bounded, so one page (and one export) stays one reasonable request.
MAX_ITEMS = 200


class PlaylistNameForm(StorableText, forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        error_messages={"required": "Give the playlist a name."},
        widget=forms.TextInput(attrs={"placeholder": "e.g. Tuesday dailies"}),
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the playlist a name.")
        return name


class PlaylistFull(Exception):
    """Adding would take the playlist past MAX_ITEMS; the message says so in plain words."""


def playlists_of(project) -> QuerySet[Playlist]:
    """The project's playlists, newest first, each with `clip_count`."""
    return Playlist.objects.filter(project=project).annotate(clip_count=Count("items")).order_by("-created_at", "-pk")


def create(*, project, name: str, by) -> Playlist:
    return Playlist.objects.create(project=project, name=name, created_by=by)


def rename(playlist: Playlist, *, name: str) -> None:
    Playlist.objects.filter(pk=playlist.pk).update(name=name)
    playlist.name = name


def _locked(playlist: Playlist) -> list[PlaylistItem]:
    """Take the playlist's lock and read its items in order (call inside a transaction)."""
    Playlist.objects.select_for_update().filter(pk=playlist.pk).first()
    return list(PlaylistItem.objects.filter(playlist=playlist).order_by("position", "pk"))


def _renumber(items: list[PlaylistItem]) -> None:
    moved = []
    for position, item in enumerate(items):
        if item.position != position:
            item.position = position
            moved.append(item)
    if moved:
        PlaylistItem.objects.bulk_update(moved, ["position"])


def add_clips(playlist: Playlist, clips: Iterable[Clip]) -> int:
    """Append these clips of the playlist's project, in the order given, skipping any already in it;
    how many were added. Raises PlaylistFull (adding none) when they would not all fit."""
    wanted = []
    for clip in clips:
        if clip.task.project_id != playlist.project_id:
            raise ValueError(f"clip {clip.pk} is not in the playlist's project")
        if clip.pk not in wanted:
            wanted.append(clip.pk)
    if not wanted:
        return 0
    with transaction.atomic():
        items = _locked(playlist)
        present = {item.clip_id for item in items}
        new = [pk for pk in wanted if pk not in present]
        if len(items) + len(new) > MAX_ITEMS:
            raise PlaylistFull(
                f"A playlist holds at most {MAX_ITEMS} clips; this one has {len(items)}, "
                f"so {MAX_ITEMS - len(items)} more fit."
            )
        _renumber(items)
        # Under the lock nobody else adds meanwhile; the unique constraint would refuse a duplicate loudly.
        PlaylistItem.objects.bulk_create(
            [PlaylistItem(playlist=playlist, clip_id=pk, position=len(items) + i) for i, pk in enumerate(new)]
        )
    return len(new)


def remove_clip(playlist: Playlist, clip_id: int) -> bool:
    """Take the clip out of the playlist (the clip itself stays); whether it was there."""
    with transaction.atomic():
        items = _locked(playlist)
        kept = [item for item in items if item.clip_id != clip_id]
        if len(kept) == len(items):
            return False
        PlaylistItem.objects.filter(playlist=playlist, clip_id=clip_id).delete()
        _renumber(kept)
    return True


def reorder(playlist: Playlist, clip_ids: list[int]) -> None:
    """Put the playlist in this order. Ids not in the playlist are ignored; clips the list leaves out
    (added by someone else since the page was drawn) keep their order after the named ones."""
    with transaction.atomic():
        items = _locked(playlist)
        by_clip = {item.clip_id: item for item in items}
        named = []
        for pk in clip_ids:
            item = by_clip.pop(pk, None)
            if item is not None:
                named.append(item)
        rest = [item for item in items if item.clip_id in by_clip]
        _renumber(named + rest)


def move(playlist: Playlist, clip_id: int, *, by: int) -> bool:
    """Move one clip `by` places (-1 up, +1 down), within the ends; whether it moved."""
    with transaction.atomic():
        items = _locked(playlist)
        at = next((i for i, item in enumerate(items) if item.clip_id == clip_id), None)
        if at is None:
            return False
        to = max(0, min(len(items) - 1, at + by))
        if to == at:
            return False
        items.insert(to, items.pop(at))
        _renumber(items)
    return True


def clips_in_order(playlist: Playlist) -> list[Clip]:
    """The playlist's clips in play order, each with `comment_count` (replies included), ready for
    the review page and the export."""
    items = list(
        PlaylistItem.objects.filter(playlist=playlist)
        .select_related("clip__task__prompt_version__prompt", "clip__reviewed_by")
        .order_by("position", "pk")
    )
    clips = [item.clip for item in items]
    counts = dict(
        Comment.objects.filter(clip__in=clips).values("clip").annotate(n=Count("pk")).values_list("clip", "n")
    )
    for clip in clips:
        setattr(clip, "comment_count", counts.get(clip.pk, 0))  # noqa: B010
    return clips
