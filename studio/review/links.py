"""Review links: one selection of a project (a clip, a draft ↔ final pair, a playlist or a saved gallery
filter) for people without an account, to watch and, if the link allows it, comment on and approve.

The token is the credential: 256 random bits, shown once when the link is made, and only its sha256
kept (like invitations, `projects/team.py`). A link that is unknown, revoked or expired answers exactly
like one that never existed. Everything a guest reaches is checked against the link's own selection
(`clip_in_selection`), always inside the link's project. Requests are counted per client address with
the shared limiter of `studio.limits` (unknown tokens, requests to one link, wrong passwords).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django import forms
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from studio.clips import gallery
from studio.clips.models import Clip
from studio.forms import StorableText, unstorable
from studio.limits.tries import MissLimit
from studio.projects import activity
from studio.projects.models import Project

from . import notifications
from .models import GUEST_NAME_MAX_LENGTH, Playlist, PlaylistItem, ReviewLink

Kind = ReviewLink.Kind

# Unknown tokens from one address, across every review link (as for invitation links).
UNKNOWN_LINKS = MissLimit("review links", misses=20, window=timedelta(minutes=15))
# Every request to one link from one address: pages, media ranges and posts alike. A clip page makes a
# handful (page, poster, a few video ranges); a list of posters one per clip shown.
REQUESTS_PER_LINK = 120
REQUEST_WINDOW = timedelta(minutes=1)
# Wrong passwords for one link from one address.
PASSWORD_TRIES = 10
PASSWORD_WINDOW = timedelta(minutes=15)
# How many clips a playlist or filter link lists on its page.
MAX_LISTED = 200
# last_used_at is written at most this often: a page with a player is several requests.
TOUCH_EVERY = timedelta(seconds=60)


def requests_to(link: ReviewLink) -> MissLimit:
    return MissLimit(f"review link {link.pk}", misses=REQUESTS_PER_LINK, window=REQUEST_WINDOW)


def password_tries(link: ReviewLink) -> MissLimit:
    return MissLimit(f"review link {link.pk} password", misses=PASSWORD_TRIES, window=PASSWORD_WINDOW)


class LinkForm(StorableText, forms.Form):
    """A new link as an owner or editor asks for it: what it shows and what a guest may do."""

    kind = forms.ChoiceField(choices=Kind.choices, widget=forms.RadioSelect, initial=Kind.CLIP)
    title = forms.CharField(
        max_length=120,
        required=False,
        help_text="What the guest sees as the page's title, e.g. “Lighthouse: cut 2 for the client”.",
    )
    clip = forms.IntegerField(
        required=False, min_value=1, label="Clip number", help_text="For one clip, and the first side of a pair."
    )
    other_clip = forms.IntegerField(
        required=False, min_value=1, label="Other clip number", help_text="The other side of a pair (its final)."
    )
    playlist = forms.ModelChoiceField(queryset=Playlist.objects.none(), required=False, empty_label="—")
    filter_query = forms.CharField(
        max_length=2000,
        required=False,
        label="Gallery filter",
        help_text="The gallery's address with its filters (or just the part after “?”). "
        "The link shows every clip matching them, new ones too.",
    )
    allow_comments = forms.BooleanField(required=False, initial=True, label="Allow comments")
    allow_status = forms.BooleanField(required=False, label="Allow approve / request changes")
    show_prompts = forms.BooleanField(required=False, initial=True, label="Show prompts")
    show_costs = forms.BooleanField(required=False, label="Show costs")
    expires_on = forms.DateField(
        required=False,
        label="Expires after",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The link works until the end of this day. Empty: until revoked.",
    )
    password = forms.CharField(
        required=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional: guests type it once per browser session.",
    )

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        playlist = self.fields["playlist"]
        assert isinstance(playlist, forms.ModelChoiceField)
        playlist.queryset = Playlist.objects.filter(project=project)

    def _clip(self, name: str) -> Clip | None:
        number = self.cleaned_data.get(name)
        if number is None:
            return None
        clip = Clip.objects.filter(pk=number, task__project=self.project).first()
        if clip is None:
            self.add_error(name, f"This project has no clip #{number}.")
        return clip

    def clean_expires_on(self) -> date | None:
        day = self.cleaned_data.get("expires_on")
        if day is not None and day < timezone.localdate():
            raise ValidationError("Choose today or a later day.")
        return day

    def clean_filter_query(self) -> str:
        raw = self.cleaned_data.get("filter_query", "").strip()
        return raw.split("?", 1)[1] if "?" in raw else raw

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind in (Kind.CLIP, Kind.PAIR):
            data["clip"] = self._clip("clip")
            if data["clip"] is None and "clip" not in self.errors:
                self.add_error("clip", "Which clip? Give its number (it is in the clip page's address).")
        if kind == Kind.PAIR:
            data["other_clip"] = self._clip("other_clip")
            if data["other_clip"] is None and "other_clip" not in self.errors:
                self.add_error("other_clip", "A pair needs a second clip.")
            elif data["clip"] is not None and data["other_clip"] == data["clip"]:
                self.add_error("other_clip", "Choose two different clips.")
        if kind == Kind.PLAYLIST and data.get("playlist") is None:
            self.add_error("playlist", "Choose a playlist.")
        if kind == Kind.FILTER:
            query = QueryDict(data.get("filter_query", ""), mutable=True)
            query.pop("after", None)
            filters = gallery.read_filters(query)
            if filters.problems:
                named = "; ".join(f"{name}: {problem}" for name, problem in filters.problems.items())
                self.add_error("filter_query", f"These filters cannot be read ({named}).")
            elif not filters.active:
                self.add_error("filter_query", "These are no filters: the link would show every clip of the project.")
            data["filter_query"] = query.urlencode()
        return data


@dataclass(frozen=True)
class Created:
    """A new link and its token: the token is shown to its maker once, and not kept."""

    link: ReviewLink
    token: str


def create_link(*, project: Project, by: User, data: dict) -> Created:
    """A link from `LinkForm.cleaned_data`."""
    kind = data["kind"]
    token = secrets.token_urlsafe(32)
    day = data.get("expires_on")
    link = ReviewLink.objects.create(
        project=project,
        kind=kind,
        title=data.get("title", ""),
        token_sha256=ReviewLink.digest(token),
        clip=data.get("clip") if kind in (Kind.CLIP, Kind.PAIR) else None,
        other_clip=data.get("other_clip") if kind == Kind.PAIR else None,
        playlist=data.get("playlist") if kind == Kind.PLAYLIST else None,
        filter_query=data.get("filter_query", "") if kind == Kind.FILTER else "",
        allow_comments=data.get("allow_comments", False),
        allow_status=data.get("allow_status", False),
        show_costs=data.get("show_costs", False),
        show_prompts=data.get("show_prompts", False),
        expires_at=_end_of(day) if day else None,
        password=make_password(data["password"]) if data.get("password") else "",
        created_by=by,
    )
    activity.record(project, by, activity.Verb.INVITED, f"made a review link: {describe(link)}")
    return Created(link=link, token=token)


def _end_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()))


def describe(link: ReviewLink) -> str:
    """What the link shows, in a few words."""
    if link.title:
        return link.title
    if link.kind == Kind.CLIP:
        return f"clip #{link.clip_id}"
    if link.kind == Kind.PAIR:
        return f"clips #{link.clip_id} and #{link.other_clip_id} side by side"
    if link.kind == Kind.PLAYLIST:
        return f"playlist “{link.playlist.name}”" if link.playlist else "a playlist"
    return "gallery filter " + link.filter_query


def open_link(token: str) -> ReviewLink | None:
    """The link this token names, if it is still open. Unknown, revoked and expired look alike.

    Looked up by the token's sha256: the database compares digests, and a digest says nothing about
    how close a guessed token came.
    """
    if not token or len(token) > 100:
        return None
    link = ReviewLink.objects.select_related("project").filter(token_sha256=ReviewLink.digest(token)).first()
    if link is None or not link.is_open:
        return None
    # Belt and braces: the stored digest equals the token's, compared in constant time.
    return link if secrets.compare_digest(link.token_sha256, ReviewLink.digest(token)) else None


def revoke(link: ReviewLink, *, by: User) -> bool:
    """Close the link at once; False if it was already revoked."""
    closed = ReviewLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    if closed:
        activity.record(link.project, by, activity.Verb.INVITED, f"revoked the review link {describe(link)}")
    return bool(closed)


def touch(link: ReviewLink) -> None:
    """Note the link's use (at most once a minute: one page is several requests)."""
    now = timezone.now()
    if link.last_used_at is None or now - link.last_used_at >= TOUCH_EVERY:
        ReviewLink.objects.filter(pk=link.pk).update(last_used_at=now)
        link.last_used_at = now


def password_is_right(link: ReviewLink, password: str) -> bool:
    return bool(link.password) and check_password(password, link.password)


def selected_clips(link: ReviewLink) -> QuerySet[Clip]:
    """Every clip the link shows, always inside its own project, in the order it shows them."""
    in_project = Clip.objects.filter(task__project_id=link.project_id).select_related(
        "task__prompt_version", "reviewed_by"
    )
    if link.kind in (Kind.CLIP, Kind.PAIR):
        # Deleting a clip deletes its links; an empty side still shows nothing rather than anything.
        ids = [pk for pk in (link.clip_id, link.other_clip_id) if pk is not None]
        return in_project.filter(pk__in=ids).order_by("created_at", "pk")
    if link.kind == Kind.PLAYLIST:
        if link.playlist_id is None:
            return in_project.none()
        position = PlaylistItem.objects.filter(playlist_id=link.playlist_id, clip_id=OuterRef("pk"))
        return (
            in_project.annotate(position=Subquery(position.values("position")[:1]))
            .filter(position__isnull=False)
            .order_by("position", "pk")
        )
    filters = gallery.read_filters(QueryDict(link.filter_query))
    order = ("-task__created_at", "-task__pk") if filters.sort == "newest" else ("task__created_at", "task__pk")
    return (
        gallery.clips_of(link.project, filters).select_related("task__prompt_version", "reviewed_by").order_by(*order)
    )


def clip_in_selection(link: ReviewLink, clip_id: int) -> Clip | None:
    return selected_clips(link).filter(pk=clip_id).first()


def may_comment(link: ReviewLink) -> bool:
    return link.allow_comments and not link.project.is_archived


def may_set_status(link: ReviewLink) -> bool:
    return link.allow_status and not link.project.is_archived


class GuestNameForm(StorableText, forms.Form):
    name = forms.CharField(
        max_length=GUEST_NAME_MAX_LENGTH,
        label="Your name",
        help_text="Shown with your comments and approvals, marked as a guest.",
        error_messages={"required": "Give a name first: the team sees it with your comments."},
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise ValidationError("Give a name first: the team sees it with your comments.")
        return name


class PasswordForm(forms.Form):
    password = forms.CharField(
        max_length=128, widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True})
    )


GUEST_STATUSES = (Clip.Review.APPROVED, Clip.Review.CHANGES_REQUESTED)


def guest_review(link: ReviewLink, clip: Clip, *, status: str, note: str, guest_name: str) -> str:
    """A guest approves or asks for changes. Clips record a member as `reviewed_by`; a guest has no
    account, so their name leads the note (“Ana (guest): …”) and reviewed_by stays empty.

    Returns "" when done, or what is wrong, in plain words."""
    if status not in GUEST_STATUSES:
        return "Choose approve or request changes."
    note = " ".join(note.split())
    if problem := unstorable(note):
        return f"Note: {problem}"
    signed = f"{guest_name} (guest)" + (f": {note}" if note else "")
    if len(signed) > 500:
        return f"Keep the note under {500 - len(guest_name) - 10} characters."
    with transaction.atomic():
        Clip.objects.filter(pk=clip.pk, task__project_id=link.project_id).update(
            review_status=status, reviewed_by=None, reviewed_at=timezone.now(), review_note=signed
        )
        clip.refresh_from_db(fields=["review_status", "reviewed_by", "reviewed_at", "review_note"])
        notifications.status_changed(clip, by_name=f"{guest_name} (guest)", note=note)
        label = Clip.Review(status).label.lower()
        # The feed names an account; a guest has none, so the line goes under the link's maker, saying who.
        activity.record(
            link.project,
            link.created_by,
            activity.Verb.REVIEWED,
            f"shared a review link, where {guest_name} (guest) marked clip #{clip.pk} {label}"
            + (f": “{note}”" if note else ""),
            link=reverse("clip", args=[clip.pk]),
        )
    return ""
