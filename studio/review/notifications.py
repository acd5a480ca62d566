"""What lands in a member's inbox: mentions, replies, review status changes, finished finals.

Made here when the thing happens, in the same transaction; read in the inbox (`inbox_views.py`),
counted in the header, and gathered into one e-mail per burst for members who ask for e-mail
(`send_batched_emails`, run once a minute by django-q2's scheduler). Nobody is told about what they
did themselves, and nobody hears about a project they have left.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Max, Min, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from studio.clips.models import Clip
from studio.projects.models import Membership
from studio.tasks.models import Task

from .models import Comment, Notification, NotificationSettings

log = logging.getLogger(__name__)

# A burst of comments is one e-mail: a member's notifications go out once their newest is this old…
QUIET_PERIOD = timedelta(minutes=2)
# …or once the oldest waiting is this old, so a conversation that never pauses still reaches them.
LONGEST_WAIT = timedelta(minutes=15)
# One e-mail lists at most this many; the rest go in the next one.
MAX_PER_EMAIL = 100


def _clip_link(clip_id: int, comment: Comment | None = None) -> str:
    link = reverse("clip", args=[clip_id])
    return f"{link}#comment-{comment.pk}" if comment else link


def comment_written(comment: Comment, *, mentioned: list, replied: bool = True) -> None:
    """Tell each member @mentioned in `comment`, and (for a reply) whoever started the thread and
    replied before, each once."""
    told: set[int] = {comment.author_id} if comment.author_id else set()
    excerpt = _excerpt(comment.text)
    wanted: list[tuple[int, str, str]] = [
        (user.pk, Notification.Kind.MENTION, f"{comment.by} mentioned you: “{excerpt}”") for user in mentioned
    ]
    if replied and comment.parent_id:
        thread = Comment.objects.filter(pk=comment.parent_id) | Comment.objects.filter(parent_id=comment.parent_id)
        authors = thread.exclude(author__isnull=True).values_list("author_id", flat=True).distinct()
        wanted += [(author_id, Notification.Kind.REPLY, f"{comment.by} replied: “{excerpt}”") for author_id in authors]
    rows = []
    for user_id, kind, words in wanted:
        if user_id not in told:
            told.add(user_id)
            rows.append(
                Notification(
                    user_id=user_id,
                    project_id=comment.project_id,
                    kind=kind,
                    words=words,
                    link=_clip_link(comment.clip_id, comment),
                    clip_id=comment.clip_id,
                    comment=comment,
                )
            )
    Notification.objects.bulk_create(rows)


def _excerpt(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _still_members(project_id: int, user_ids: set[int]) -> set[int]:
    return set(Membership.objects.filter(project_id=project_id, user_id__in=user_ids).values_list("user_id", flat=True))


STATUS_WORDS = {
    Clip.Review.APPROVED: "{by} approved your {what}",
    Clip.Review.CHANGES_REQUESTED: "{by} asked for changes on your {what}",
    Clip.Review.NEEDS_REVIEW: "{by} put your {what} back to review",
}


def status_changed(clip: Clip, *, by_name: str, by_user=None, note: str | None = None) -> None:
    """Tell whoever made `clip` that its review status is now what `clip` says, unless they set it.

    `by_name` is how the change is signed (a username, or a guest's name "Ana (guest)"); `by_user`
    the member who did it, if one did. `note` defaults to the clip's review note; a caller whose
    note is signed (a guest's) passes the plain words.
    """
    task = clip.task
    maker_id = task.created_by_id
    if maker_id is None or (by_user is not None and by_user.pk == maker_id):
        return
    if not _still_members(task.project_id, {maker_id}):
        return
    note = clip.review_note if note is None else note
    words = STATUS_WORDS[Clip.Review(clip.review_status)].format(
        by=by_name, what=f"{task.get_kind_display().lower()} #{task.pk}"
    )
    if note:
        words += f": “{_excerpt(note)}”"
    Notification.objects.create(
        user_id=maker_id,
        project_id=task.project_id,
        kind=Notification.Kind.STATUS,
        words=_excerpt(words, 300),
        link=_clip_link(clip.pk),
        clip=clip,
    )


def final_finished(task: Task, clip: Clip) -> None:
    """Tell the author of the draft a final was promoted from, and whoever promoted it, that the final
    is finished (one notification each, however often this is called: an archive may run again)."""
    draft = task.promoted_from
    draft_author = draft.created_by_id if draft else None
    promoter = task.created_by_id
    people = _still_members(task.project_id, {user for user in (draft_author, promoter) if user is not None})
    title = task.prompt_version.prompt.title
    for user_id in people:
        if user_id == draft_author and user_id == promoter:
            whose = f"you promoted from your draft #{draft.pk}" if draft else "you promoted"
        elif user_id == draft_author:
            whose = f"of your draft #{draft.pk}" if draft else ""
        else:
            whose = "you promoted"
        Notification.objects.get_or_create(
            user_id=user_id,
            kind=Notification.Kind.FINAL,
            clip=clip,
            defaults={
                "project_id": task.project_id,
                "words": _excerpt(f"Final #{task.pk} {whose} is finished: “{title}”", 300),
                "link": _clip_link(clip.pk),
            },
        )


def on_final_archived(sender, *, task: Task, clip: Clip, **kwargs) -> None:
    """studio.tasks.signals.final_archived, sent inside the archive's transaction: the notifications
    commit with the clip. A savepoint keeps a failure here from undoing the archive."""
    with transaction.atomic():
        final_finished(task, clip)


# --- Reading -------------------------------------------------------------------------------------


def inbox_of(user) -> QuerySet[Notification]:
    """The user's notifications, newest first, in the projects they still belong to."""
    return Notification.objects.filter(user=user, project__memberships__user=user)


def unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return inbox_of(user).filter(read_at__isnull=True).count()


def mark_read(notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())


def mark_all_read(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def badge_html(request, *, oob: bool = False) -> str:
    """The header's Inbox link with the unread count (templates/review/inbox.html#inbox-badge)."""
    context = {"unread": unread_count(request.user), "oob": oob}
    return render_to_string("review/inbox.html#inbox-badge", context, request=request)


def badge_if_changed(request, shown: str | None) -> str:
    """For the page's one refresh: the badge as an out-of-band swap when the count the page shows
    (`shown`, sent by the refresh form) is no longer the count; "" when it still is or was not sent."""
    if shown is None or not request.user.is_authenticated:
        return ""
    unread = unread_count(request.user)
    if shown.strip() == str(unread):
        return ""
    return render_to_string("review/inbox.html#inbox-badge", {"unread": unread, "oob": True}, request=request)


def wants_email(user) -> bool:
    return NotificationSettings.objects.filter(user=user, email=True).exists()


def set_wants_email(user, *, email: bool) -> None:
    NotificationSettings.objects.update_or_create(user=user, defaults={"email": email})


# --- E-mail ----------------------------------------------------------------------------------------


def _waiting() -> QuerySet[Notification]:
    """Notifications that may still go out by e-mail: unread, not sent, to a member who asked for
    e-mail and has an address, in a project they still belong to."""
    return Notification.objects.filter(
        emailed_at__isnull=True,
        read_at__isnull=True,
        user__notification_settings__email=True,
        project__memberships__user=F("user"),
    ).exclude(user__email="")


def send_batched_emails(*, now: datetime | None = None) -> int:
    """Send each member whose burst has gone quiet one e-mail with everything waiting for them.

    Each notification is claimed with a conditional UPDATE of `emailed_at` before it is sent, so two
    workers running at once never send one twice; a send that fails gives its claims back for the
    next run. Returns how many e-mails went out.
    """
    now = now or timezone.now()
    due = (
        _waiting()
        .filter(created_at__lte=now)
        .values("user_id")
        .annotate(newest=Max("created_at"), oldest=Min("created_at"))
        .filter(Q(newest__lte=now - QUIET_PERIOD) | Q(oldest__lte=now - LONGEST_WAIT))
        .order_by("user_id")
    )
    return sum(_email_one(row["user_id"], now=now) for row in due)


def _email_one(user_id: int, *, now: datetime) -> int:
    ids = list(
        _waiting()
        .filter(user_id=user_id, created_at__lte=now)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )[:MAX_PER_EMAIL]
    stamp = timezone.now()
    if not Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).update(emailed_at=stamp):
        return 0  # another worker took them
    mine = list(
        Notification.objects.filter(pk__in=ids, emailed_at=stamp)
        .select_related("project", "user")
        .order_by("created_at", "pk")
    )
    user = mine[0].user
    site = settings.SITE_URL
    lines = [f"{note.project.name}: {note.words}\n  {site}{reverse('inbox-open', args=[note.pk])}" for note in mine]
    subject = f"Dailies: {mine[0].words}" if len(mine) == 1 else f"Dailies: {len(mine)} notifications"
    body = (
        f"Hello {user.get_username()},\n\n" + "\n\n".join(lines) + f"\n\nYour inbox: {site}{reverse('inbox')}\n"
        "You get these e-mails because you asked for them there; untick “E-mail me” to stop them.\n"
    )
    try:
        EmailMessage(subject=_excerpt(subject, 150), body=body, to=[user.email]).send()
    except Exception:
        # Given back for the next run: an e-mail server that is down loses nothing.
        Notification.objects.filter(pk__in=[note.pk for note in mine], emailed_at=stamp).update(emailed_at=None)
        log.exception("could not e-mail %d notifications to user %s", len(mine), user_id)
        return 0
    return 1


def email_notifications() -> None:
    """The django-q2 schedule's entry point (migration review 0002): once a minute."""
    sent = send_batched_emails()
    if sent:
        log.info("e-mailed notifications to %d member%s", sent, "" if sent == 1 else "s")
