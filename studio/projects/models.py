from __future__ import annotations

from django.conf import settings
from django.db import models


class Project(models.Model):
    """A team's workspace: its prompts, tasks, clips and provider accounts."""

    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
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
        return self.role in (self.Role.OWNER, self.Role.EDITOR)

    @property
    def is_owner(self) -> bool:
        """Only the owner manages the project's provider accounts and routing."""
        return self.role == self.Role.OWNER
