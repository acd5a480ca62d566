"""Projects and the people in them: creating, archiving and deleting a project, inviting and managing members.

Every rule that protects a team lives here, not in views: there is always an
owner (the last one can neither leave nor be demoted), an invitation link
works once and expires, and nobody is added twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from studio.providers.models import ProviderAccount
from studio.simulator.engine import issue_key

from . import activity
from .models import Invitation, Membership, Project, token_digest

Role = Membership.Role
INVITATION_LIFETIME = timedelta(days=7)
# The documented minimum (5 s) rather than route 4's usual 10 s: drafts on the
# simulator finish in seconds.
SIMULATOR_POLL_S = 5.0


class TeamRuleBroken(ValidationError):
    """A change that would leave the team without an owner, or similar; the message says which rule."""


def create_project(*, name: str, description: str = "", owner: User) -> Project:
    """A new project owned by its creator; on the embedded default it drafts and renders on the simulator."""
    with transaction.atomic():
        project = Project.objects.create(name=name, description=description, created_by=owner)
        Membership.objects.create(project=project, user=owner, role=Role.OWNER)
        activity.record(project, owner, activity.Verb.CREATED, "created the project")
        if settings.SIMULATOR_FOR_NEW_PROJECTS:
            wire_to_simulator(project, key=f"sim-{secrets.token_urlsafe(12)}")
    return project


@sensitive_variables("key")
def wire_to_simulator(project: Project, *, key: str | None = None) -> ProviderAccount:
    """Route 4's simulator as the project's draft and final account, with a key the simulator issues
    for it (a new random one unless given), stored encrypted as every account key."""
    if not settings.SIMULATOR_ENABLED:
        raise ImproperlyConfigured("The built-in simulator is off here (DAILIES_SIMULATOR): no project can use it.")
    account = ProviderAccount(
        project=project,
        label="Simulator",
        route="videos-gateway",
        base_url="/simulator/videos-gateway",
        poll_interval_s=SIMULATOR_POLL_S,
    )
    account.set_api_key(issue_key(key))
    account.save()
    project.draft_account = project.final_account = account
    project.save(update_fields=["draft_account", "final_account"])
    return account


def set_archived(project: Project, *, archived: bool) -> None:
    Project.objects.filter(pk=project.pk).update(archived_at=timezone.now() if archived else None)


@dataclass(frozen=True)
class WhatDeletes:
    """What deleting a project removes, for the confirm that names it."""

    prompts: int
    tasks: int
    clips: int
    members: int
    accounts: int


def what_deleting_removes(project: Project) -> WhatDeletes:
    return WhatDeletes(
        prompts=project.prompts.count(),
        tasks=project.tasks.count(),
        clips=project.tasks.filter(clip__isnull=False).count(),
        members=project.memberships.count(),
        accounts=project.provider_accounts.count(),
    )


def delete_project(project: Project) -> None:
    with transaction.atomic():
        # Tasks protect their prompt versions and accounts; they go first.
        project.tasks.all().delete()
        project.delete()


@dataclass(frozen=True)
class Invited:
    """What inviting did: a member added at once, or an invitation with its link (shown to the owner once)."""

    membership: Membership | None = None
    invitation: Invitation | None = None
    link: str = ""


def invite(*, project: Project, who: str, role: str, invited_by: User, link_for) -> Invited:
    """Add the user named by `who` (username or e-mail address) at once, or invite an address without an account.

    `link_for(token)` makes the absolute link that goes into the e-mail.
    """
    who = who.strip()
    if role not in Role.values:
        raise TeamRuleBroken("Choose a role: owner, editor, reviewer or viewer.")
    User = get_user_model()
    user = User.objects.filter(Q(username__iexact=who) | Q(email__iexact=who) & ~Q(email="")).first()
    if user is not None:
        with transaction.atomic():
            if Membership.objects.filter(project=project, user=user).exists():
                raise TeamRuleBroken(f"{user.get_username()} is already in this project.")
            membership = Membership.objects.create(project=project, user=user, role=role)
        activity.record(
            project,
            invited_by,
            activity.Verb.INVITED,
            f"added {user.get_username()} as {membership.get_role_display().lower()}",
        )
        return Invited(membership=membership)
    if "@" not in who:
        raise TeamRuleBroken(f"Nobody here is called {who!r}. Use their e-mail address to invite them.")
    try:
        Invitation._meta.get_field("email").run_validators(who)
    except ValidationError:
        raise TeamRuleBroken(f"{who!r} is not an e-mail address.") from None
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        project=project,
        email=who,
        role=role,
        token_digest=token_digest(token),
        invited_by=invited_by,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    link = link_for(token)
    send_mail(
        subject=f"You are invited to {project.name} on Dailies",
        message=(
            f"{invited_by.get_username()} invites you to the project {project.name!r} "
            f"as {invitation.get_role_display()}."
            f"\n\nCreate your account and join here (the link works once, for 7 days):\n{link}\n"
        ),
        from_email=None,
        recipient_list=[who],
    )
    activity.record(
        project, invited_by, activity.Verb.INVITED, f"invited {who} as {invitation.get_role_display().lower()}"
    )
    return Invited(invitation=invitation, link=link)


def open_invitation(token: str) -> Invitation | None:
    """The invitation this link names, if it still works. Unknown, used, revoked and expired links look alike."""
    invitation = Invitation.objects.select_related("project").filter(token_digest=token_digest(token)).first()
    return invitation if invitation and invitation.is_open else None


def accept(invitation: Invitation, *, user: User) -> Membership:
    """Join the project through the link, once: the conditional UPDATE lets only one use win."""
    with transaction.atomic():
        won = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).update(accepted_at=timezone.now(), accepted_by=user)
        if not won:
            raise TeamRuleBroken("This invitation has already been used, was revoked or has expired.")
        membership, _created = Membership.objects.get_or_create(
            project=invitation.project, user=user, defaults={"role": invitation.role}
        )
        activity.record(
            invitation.project, user, activity.Verb.JOINED, f"joined as {membership.get_role_display().lower()}"
        )
    return membership


def revoke(invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(revoked_at=timezone.now())


def change_role(membership: Membership, *, role: str, by: User) -> None:
    if role not in Role.values:
        raise TeamRuleBroken("Choose a role: owner, editor, reviewer or viewer.")
    with transaction.atomic():
        if role != Role.OWNER:
            _keep_an_owner(membership)
        Membership.objects.filter(pk=membership.pk).update(role=role)
        activity.record(
            membership.project,
            by,
            activity.Verb.ROLE,
            f"made {membership.user.get_username()} {Role(role).label.lower()}",
        )


def remove_member(membership: Membership, *, by: User) -> None:
    with transaction.atomic():
        _keep_an_owner(membership)
        membership.delete()
        leaving = membership.user_id == by.pk
        words = "left the project" if leaving else f"removed {membership.user.get_username()}"
        activity.record(membership.project, by, activity.Verb.REMOVED, words)


def _keep_an_owner(leaving: Membership) -> None:
    """Refuse a change that would leave the project with no owner; the owners' rows stay locked until it commits."""
    owners = list(
        Membership.objects.select_for_update()
        .filter(project_id=leaving.project_id, role=Role.OWNER)
        .values_list("pk", flat=True)
    )
    if owners == [leaving.pk]:
        raise TeamRuleBroken("A project needs an owner: make someone else an owner first.")
