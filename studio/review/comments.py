"""Comments on clips: written, edited, deleted, resolved, and who they mention.

Members comment through the clip page and the compare page; guests through a review link
(`links.py`), under the name they gave. Both go through `add_comment`, so a comment is checked the
same way wherever it comes from. Texts are stored as typed and shown escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from studio.clips.models import Clip
from studio.forms import StorableText
from studio.projects.models import Membership

from . import notifications
from .drawing import parse_drawing
from .models import COMMENT_MAX_LENGTH, Comment, ReviewLink

MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def frame_count(clip: Clip) -> int:
    """How many frames the clip has at its own rate (at least 1)."""
    return max(1, round(float(clip.duration_s) * float(clip.frame_rate or 24)))


class CommentForm(StorableText, forms.Form):
    """A comment as the page posts it: words, an optional frame or range, an optional drawing, a thread."""

    text = forms.CharField(
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Say what to keep or change. @name tells a member."}),
        error_messages={"required": "Write the comment first."},
    )
    frame_in = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    frame_out = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    drawing = forms.CharField(required=False, widget=forms.HiddenInput)
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, clip: Clip, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clip = clip

    def clean_drawing(self):
        return parse_drawing(self.cleaned_data.get("drawing") or "")

    def clean_parent(self) -> Comment | None:
        parent_id = self.cleaned_data.get("parent")
        if parent_id is None:
            return None
        parent = Comment.objects.filter(pk=parent_id, clip=self.clip).first()
        if parent is None:
            raise ValidationError("That comment is not on this clip any more.")
        # Replies join the thread's first comment: threads are one level deep, as in review tools.
        return parent.parent or parent

    def clean(self):
        data = super().clean()
        frames = frame_count(self.clip)
        frame_in, frame_out = data.get("frame_in"), data.get("frame_out")
        if frame_in is not None and frame_in >= frames:
            self.add_error("frame_in", f"This clip has frames 0 to {frames - 1}.")
        if frame_out is not None:
            if frame_in is None:
                self.add_error("frame_out", "A range needs its first frame too.")
            elif frame_out >= frames:
                self.add_error("frame_out", f"This clip has frames 0 to {frames - 1}.")
            elif frame_out < frame_in:
                self.add_error("frame_out", "A range ends after it starts.")
            elif frame_out == frame_in:
                data["frame_out"] = None
        if data.get("drawing") and frame_in is None:
            self.add_error("drawing", "A drawing belongs to a frame: mark the frame first.")
        if data.get("parent") is not None and (frame_in is not None or data.get("drawing")):
            # A reply answers its thread; the frame and drawing are the thread's.
            data["frame_in"] = data["frame_out"] = data["drawing"] = None
        return data


class CommentEditForm(StorableText, forms.Form):
    text = forms.CharField(max_length=COMMENT_MAX_LENGTH, error_messages={"required": "A comment needs words."})


@dataclass(frozen=True)
class Commenter:
    """Who writes: a member, or a guest by name through a link."""

    user: Any = None  # a User; typed loosely as request.user is (a lazy object)
    guest_name: str = ""
    link: ReviewLink | None = None


def mentioned_members(text: str, project_id: int) -> list:
    """Members of the project named as @username in `text`."""
    names = {name.rstrip(".").lower() for name in MENTION.findall(text)}
    if not names:
        return []
    User = get_user_model()
    members = User.objects.filter(memberships__project_id=project_id).distinct()
    return [user for user in members if user.get_username().lower() in names]


def add_comment(*, clip: Clip, by: Commenter, data: dict) -> Comment:
    """Store a checked comment (`CommentForm.cleaned_data`) and tell whom it concerns."""
    with transaction.atomic():
        comment = Comment.objects.create(
            project_id=clip.task.project_id,
            clip=clip,
            parent=data.get("parent"),
            author=by.user,
            guest_name=by.guest_name if by.user is None else "",
            review_link=by.link,
            text=data["text"],
            frame_in=data.get("frame_in"),
            frame_out=data.get("frame_out"),
            drawing=data.get("drawing"),
        )
        mentioned = mentioned_members(comment.text, comment.project_id)
        if mentioned:
            comment.mentions.set(mentioned)
        notifications.comment_written(comment, mentioned=mentioned)
    return comment


def edit_comment(comment: Comment, *, text: str) -> None:
    with transaction.atomic():
        comment.text = text
        comment.edited_at = timezone.now()
        comment.save(update_fields=["text", "edited_at"])
        mentioned = mentioned_members(text, comment.project_id)
        new = [user for user in mentioned if not comment.mentions.filter(pk=user.pk).exists()]
        comment.mentions.set(mentioned)
        notifications.comment_written(comment, mentioned=new, replied=False)


def set_resolved(comment: Comment, *, resolved: bool, by_name: str) -> None:
    Comment.objects.filter(pk=comment.pk).update(
        resolved_at=timezone.now() if resolved else None, resolved_by_name=by_name if resolved else ""
    )


def may_change(comment: Comment, membership: Membership | None) -> bool:
    """A member edits or deletes their own comments; an owner may delete anyone's (moderation)."""
    return membership is not None and comment.author_id == membership.user_id


def may_delete(comment: Comment, membership: Membership | None) -> bool:
    return membership is not None and (comment.author_id == membership.user_id or membership.is_owner)


def threads(clip: Clip) -> list[Comment]:
    """The clip's comments as threads: first comments in time order (timecoded ones by frame
    first), each with `.thread_replies` listed."""
    comments = list(
        Comment.objects.filter(clip=clip)
        .select_related("author")
        .prefetch_related("mentions", "answered_by")
        .order_by("created_at")
    )
    replies: dict[int, list[Comment]] = {}
    for comment in comments:
        if comment.parent_id:
            replies.setdefault(comment.parent_id, []).append(comment)
    heads = [comment for comment in comments if comment.parent_id is None]
    for head in heads:
        setattr(head, "thread_replies", replies.get(head.pk, []))  # noqa: B010
    return sorted(heads, key=lambda c: (c.frame_in is None, c.frame_in or 0, c.created_at))


def panel_context(
    clip: Clip,
    *,
    membership: Membership | None,
    form: CommentForm | None = None,
    editing: tuple[int, CommentEditForm] | None = None,
    post_url: str = "",
    can_comment: bool | None = None,
) -> dict:
    """What templates/review/_comments.html needs for one clip's panel.

    Members see it with their `membership`; a review link passes `membership=None`, its own
    `post_url` and whether the link allows comments.
    """
    heads = threads(clip)
    count = sum(1 + len(getattr(head, "thread_replies", [])) for head in heads)
    return {
        "clip": clip,
        "membership": membership,
        "threads": heads,
        "comment_count": count,
        "open_count": sum(1 for head in heads if not head.is_resolved),
        "comment_form": form or CommentForm(clip=clip),
        "editing": editing,
        "post_url": post_url or reverse("comment-add", args=[clip.pk]),
        "can_comment": membership.can_review if can_comment is None and membership else bool(can_comment),
        "frames": frame_count(clip),
        "fps": clip.frame_rate or 24,
    }


def panel_html(request, clip: Clip, *, membership: Membership | None, **options) -> str:
    """One clip's comments panel as HTML, for a page that shows it beside its player."""
    context = panel_context(clip, membership=membership, **{k: v for k, v in options.items() if k != "label"})
    context["label"] = options.get("label", "")
    return render_to_string("review/_comments.html#comments-panel", context, request=request)


@dataclass(frozen=True)
class Revision:
    """A clip that had changes requested, and the notes a revised draft should answer."""

    clip: Clip
    comments: list[Comment]

    @property
    def note(self) -> str:
        return self.clip.review_note


def notes_to_answer(project, editor) -> Revision | None:
    """What "Revise" puts beside the editor (a DraftForm, or None): the review note and open comments
    (first comments of each thread, in frame order) of the clip it revises; None when it revises
    nothing, or a clip not in this project."""
    clip_id = editor.value("revise_clip") if editor is not None else None
    if not clip_id:
        return None
    try:
        clip = Clip.objects.select_related("task", "reviewed_by").get(pk=int(clip_id), task__project=project)
    except (Clip.DoesNotExist, TypeError, ValueError):
        return None
    open_heads = [head for head in threads(clip) if not head.is_resolved]
    return Revision(clip=clip, comments=open_heads)


def record_answers(*, project, comment_ids: list[str], tasks) -> int:
    """Mark the chosen comments (of this project only) as answered by the new draft(s)."""
    wanted = [int(n) for n in comment_ids if str(n).isdigit()]
    comments = list(Comment.objects.filter(pk__in=wanted, project=project))
    for comment in comments:
        comment.answered_by.add(*tasks)
    return len(comments)
