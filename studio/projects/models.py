from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


class Project(models.Model):
    """A team's workspace: its prompts, tasks, clips and provider accounts."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # An archived project is read-only and hidden from the project list by default.
    archived_at = models.DateTimeField(null=True, blank=True)
    # Which provider account drafts and which renders finals; they may differ
    # (draft cheaply on one gateway, render the final with audio on another).
    draft_account = models.ForeignKey(
        "providers.ProviderAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    final_account = models.ForeignKey(
        "providers.ProviderAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        EDITOR = "editor", "Editor"
        # Watches, and (with the review features) comments and sets review status; never spends.
        REVIEWER = "reviewer", "Reviewer"
        VIEWER = "viewer", "Viewer"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]

    def __str__(self) -> str:
        return f"{self.user} · {self.project} ({self.role})"

    @property
    def can_edit(self) -> bool:
        """Drafts, promotes and spends: owners and editors, and only while the project is not archived."""
        return self.role in (self.Role.OWNER, self.Role.EDITOR) and not self.project.is_archived

    @property
    def can_review(self) -> bool:
        """Stars clips and (with review) comments and sets their status: everyone but viewers."""
        return self.role != self.Role.VIEWER

    @property
    def is_owner(self) -> bool:
        """Only the owner manages the project's provider accounts and routing."""
        return self.role == self.Role.OWNER


def token_digest(token: str) -> str:
    """What is stored of an invitation's token: its link works, a copy of the database does not."""
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """A link that lets someone without an account sign up and join a project, once, before it expires."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices, default=Membership.Role.EDITOR)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.project} ({self.role})"

    @property
    def is_open(self) -> bool:
        """Not used, not revoked, not expired: the link still works."""
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class Activity(models.Model):
    """One thing someone did in a project, in words, for the project's activity feed."""

    class Verb(models.TextChoices):
        CREATED = "created", "created the project"
        INVITED = "invited", "invited"
        JOINED = "joined", "joined"
        ROLE = "role", "changed a role"
        REMOVED = "removed", "removed a member"
        DRAFTED = "drafted", "drafted"
        PROMOTED = "promoted", "promoted"
        EXTENDED = "extended", "extended a clip"
        STARRED = "starred", "starred"
        REVIEWED = "reviewed", "set a review status"
        EXPORTED = "exported", "exported"
        SETTLED = "settled", "settled a submission"
        BUDGET = "budget", "changed the budget"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    verb = models.CharField(max_length=12, choices=Verb.choices)
    # The rest of the sentence after the actor's name, e.g. "promoted draft #12 to final #13".
    words = models.CharField(max_length=300)
    # Where the reader goes to see it (a path on this site), or "".
    link = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.actor} {self.words}"
