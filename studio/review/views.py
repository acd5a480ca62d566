"""Members' comments on a clip: the panel, write, reply, edit, delete, resolve.

Every answer to an htmx request is the clip's whole panel again (templates/review/_comments.html),
so threads, counts and the scrubber's markers are redrawn from one source; without JavaScript each
form posts and comes back to the page it was sent from.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from studio.clips.models import Clip
from studio.projects.access import get_project_for_user

from .comments import (
    CommentEditForm,
    Commenter,
    CommentForm,
    add_comment,
    edit_comment,
    may_change,
    may_delete,
    panel_context,
    set_resolved,
)
from .models import Comment


def _get_clip(user, clip_id: int, *, review: bool = False):
    clip = get_object_or_404(Clip.objects.select_related("task__project"), pk=clip_id)
    project, membership = get_project_for_user(user, clip.task.project_id)
    if review and not membership.can_review:
        raise PermissionDenied("Viewers watch; reviewers, editors and owners comment.")
    return clip, project, membership


def _get_comment(user, comment_id: int):
    comment = get_object_or_404(Comment.objects.select_related("clip__task", "author"), pk=comment_id)
    project, membership = get_project_for_user(user, comment.project_id)
    return comment, project, membership


def _panel(request, clip, membership, **options):
    return render(
        request, "review/_comments.html#comments-panel", panel_context(clip, membership=membership, **options)
    )


def _refused(request, clip, membership, **options):
    """A refused form: htmx swaps only 2xx answers, so the panel comes back with the problem marked;
    without JavaScript, a page with the panel and its problem (400)."""
    if request.htmx:
        return _panel(request, clip, membership, **options)
    context = panel_context(clip, membership=membership, **options)
    return render(request, "review/comment_refused.html", context, status=400)


def _done(request, clip, membership):
    """After a change: the panel again for htmx, else back to the page the form came from."""
    return _panel(request, clip, membership) if request.htmx else redirect(_back(request, clip))


def _back(request, clip) -> str:
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return reverse("clip", args=[clip.pk]) + "#comments"


@login_required
@require_GET
def comments(request, clip_id: int):
    clip, _project, membership = _get_clip(request.user, clip_id)
    return _panel(request, clip, membership)


@login_required
@require_POST
def comment_add(request, clip_id: int):
    clip, _project, membership = _get_clip(request.user, clip_id, review=True)
    form = CommentForm(request.POST, clip=clip)
    if not form.is_valid():
        return _refused(request, clip, membership, form=form)
    add_comment(clip=clip, by=Commenter(user=request.user), data=form.cleaned_data)
    return _done(request, clip, membership)


@login_required
@require_POST
def comment_edit(request, comment_id: int):
    comment, _project, membership = _get_comment(request.user, comment_id)
    if not may_change(comment, membership):
        raise PermissionDenied("Only its author edits a comment.")
    form = CommentEditForm(request.POST)
    if not form.is_valid():
        return _refused(request, comment.clip, membership, editing=(comment.pk, form))
    edit_comment(comment, text=form.cleaned_data["text"])
    return _done(request, comment.clip, membership)


@login_required
@require_POST
def comment_delete(request, comment_id: int):
    comment, _project, membership = _get_comment(request.user, comment_id)
    if not may_delete(comment, membership):
        raise PermissionDenied("Only its author, or a project owner, deletes a comment.")
    clip = comment.clip
    comment.delete()
    return _done(request, clip, membership)


@login_required
@require_POST
def comment_resolve(request, comment_id: int):
    comment, _project, membership = _get_comment(request.user, comment_id)
    if not membership.can_review:
        raise PermissionDenied("Viewers watch; reviewers, editors and owners resolve comments.")
    set_resolved(comment, resolved=request.POST.get("resolved") == "1", by_name=request.user.get_username())
    return _done(request, comment.clip, membership)
