"""What lands in a member's inbox: mentions, replies, review status changes, finished finals.

Made here when the thing happens, in the same transaction; read in the inbox and gathered into
batched e-mails elsewhere. Nobody is told about what they did themselves.
"""

from __future__ import annotations

from django.urls import reverse

from .models import Comment, Notification


def _clip_link(clip_id: int, comment: Comment | None = None) -> str:
    link = reverse("clip", args=[clip_id])
    return f"{link}#comment-{comment.pk}" if comment else link


def comment_written(comment: Comment, *, mentioned: list, replied: bool = True) -> None:
    """Tell each member @mentioned in `comment`, and (for a reply) whoever started the thread and
    replied before, each once."""
    told: set[int] = {comment.author_id} if comment.author_id else set()
    rows = []
    excerpt = comment.text if len(comment.text) <= 120 else comment.text[:119] + "…"
    for user in mentioned:
        if user.pk not in told:
            told.add(user.pk)
            rows.append(
                Notification(
                    user=user,
                    project_id=comment.project_id,
                    kind=Notification.Kind.MENTION,
                    words=f"{comment.by} mentioned you: “{excerpt}”",
                    link=_clip_link(comment.clip_id, comment),
                    clip_id=comment.clip_id,
                    comment=comment,
                )
            )
    if replied and comment.parent_id:
        thread = Comment.objects.filter(pk=comment.parent_id) | Comment.objects.filter(parent_id=comment.parent_id)
        for author_id in thread.exclude(author__isnull=True).values_list("author_id", flat=True).distinct():
            if author_id not in told:
                told.add(author_id)
                rows.append(
                    Notification(
                        user_id=author_id,
                        project_id=comment.project_id,
                        kind=Notification.Kind.REPLY,
                        words=f"{comment.by} replied: “{excerpt}”",
                        link=_clip_link(comment.clip_id, comment),
                        clip_id=comment.clip_id,
                        comment=comment,
                    )
                )
    Notification.objects.bulk_create(rows)
