"""Review: comments on clips (timecoded, drawn on, threaded), review links for people without an
account, playlists to review in order, and each member's notifications."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.timesince import timesince

COMMENT_MAX_LENGTH = 5000
GUEST_NAME_MAX_LENGTH = 60


class Comment(models.Model):
    """A note on a clip, by a member or by a guest through a review link.

    A timecode is a frame (`frame_in`) or a range (`frame_in`..`frame_out`), counted from 0 at the
    clip's own frame rate. A drawing is vector data in the frame's own 0..1 coordinates, so it
    scales to any player (`drawing.py` says its shape). Replies point at their thread's first comment.
    """

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="comments")
    clip = models.ForeignKey("clips.Clip", on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    # Set for a guest's comment (author is then empty): the name they gave, and the link they came by.
    guest_name = models.CharField(max_length=GUEST_NAME_MAX_LENGTH, blank=True)
    review_link = models.ForeignKey(
        "review.ReviewLink", null=True, blank=True, on_delete=models.SET_NULL, related_name="comments"
    )
    text = models.TextField(max_length=COMMENT_MAX_LENGTH)
    frame_in = models.PositiveIntegerField(null=True, blank=True)
    frame_out = models.PositiveIntegerField(null=True, blank=True)
    drawing = models.JSONField(null=True, blank=True)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in")
    # Drafts made with "Revise" that answer this comment.
    answered_by = models.ManyToManyField("tasks.Task", blank=True, related_name="answered_comments")
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["clip", "created_at"], name="comments_of_a_clip")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(frame_out__isnull=True) | models.Q(frame_in__lte=models.F("frame_out")),
                name="a_range_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=models.Q(author__isnull=False) | ~models.Q(guest_name=""),
                name="a_comment_has_an_author_or_a_guest_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.by} on clip {self.clip_id}: {self.text[:40]}"

    @property
    def by(self) -> str:
        """Who wrote it, as the page shows it."""
        if self.author_id:
            return self.author.get_username() if self.author else "someone who left"
        return self.guest_name or "a guest"

    @property
    def age(self) -> str:
        """'just now', '5 minutes ago', '2 days ago'."""
        elapsed = timezone.now() - self.created_at
        return "just now" if elapsed.total_seconds() < 60 else f"{timesince(self.created_at, depth=1)} ago"

    @property
    def drawing_json(self) -> str:
        """The drawing as JSON text, for the page's script to read from an (escaped) attribute."""
        return json.dumps(self.drawing, separators=(",", ":")) if self.drawing else ""

    @property
    def is_guest(self) -> bool:
        return self.author_id is None

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def has_timecode(self) -> bool:
        return self.frame_in is not None


class ReviewLink(models.Model):
    """A link that lets someone without an account watch (and, if allowed, comment on and approve)
    exactly one selection of a project: a clip, a draft ↔ final pair, a playlist, or a saved gallery filter.

    Only the token's sha256 is kept; the token itself is shown once, when the link is made.
    """

    class Kind(models.TextChoices):
        CLIP = "clip", "One clip"
        PAIR = "pair", "Draft and final side by side"
        PLAYLIST = "playlist", "A playlist"
        FILTER = "filter", "A saved gallery filter"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="review_links")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=120, blank=True)
    token_sha256 = models.CharField(max_length=64, unique=True)
    clip = models.ForeignKey("clips.Clip", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    other_clip = models.ForeignKey("clips.Clip", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    playlist = models.ForeignKey(
        "review.Playlist", null=True, blank=True, on_delete=models.CASCADE, related_name="review_links"
    )
    # The gallery's query string when the link was made (kind "filter"), read by clips.gallery's filters.
    filter_query = models.CharField(max_length=2000, blank=True)
    allow_comments = models.BooleanField(default=True)
    allow_status = models.BooleanField(default=False)
    show_costs = models.BooleanField(default=False)
    show_prompts = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Django's password hash; empty for a link with no password.
    password = models.CharField(max_length=256, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} link for project {self.project_id}"

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @property
    def is_open(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class Playlist(models.Model):
    """Clips in the order a review plays them."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="playlists")
    name = models.CharField(max_length=120)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class PlaylistItem(models.Model):
    playlist = models.ForeignKey(Playlist, on_delete=models.CASCADE, related_name="items")
    clip = models.ForeignKey("clips.Clip", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["playlist", "clip"], name="a_clip_once_per_playlist")]

    def __str__(self) -> str:
        return f"{self.playlist_id} #{self.position}: clip {self.clip_id}"


class Notification(models.Model):
    """Something a member should see: a mention, a reply, a status change, a finished final."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mentioned you"
        REPLY = "reply", "Replied to you"
        STATUS = "status", "Review status changed"
        FINAL = "final", "Final finished"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    words = models.CharField(max_length=300)
    link = models.CharField(max_length=500)
    clip = models.ForeignKey("clips.Clip", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # When it went out in an e-mail (one e-mail gathers every notification of a burst).
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "read_at"], name="unread_notifications"),
            # The e-mail batcher's question: whose notifications have not gone out yet.
            models.Index(fields=["emailed_at", "user"], name="notifications_to_email"),
        ]
        constraints = [
            # A final finishes once: an archive run again (or a second worker) tells nobody twice.
            models.UniqueConstraint(
                fields=["user", "clip"], condition=models.Q(kind="final"), name="a_finished_final_is_told_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.words}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationSettings(models.Model):
    """How a member wants to be told, beyond the inbox. No row means the defaults: inbox only."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    # One e-mail per burst of notifications (`notifications.send_batched_emails`).
    email = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"{self.user_id}: {'e-mail' if self.email else 'inbox only'}"
