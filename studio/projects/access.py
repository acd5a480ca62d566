"""The one way views reach a project: 404 to outsiders, 403 to members who may watch but not do what they ask."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Membership, Project


def membership_for(user, project_id: int) -> Membership:
    membership = Membership.objects.select_related("project").filter(project_id=project_id, user_id=user.pk).first()
    if membership is None:
        # Outsiders learn nothing, not even that the project exists.
        raise Http404("No such project.")
    return membership


def get_project_for_user(user, project_id: int, *, edit: bool = False, own: bool = False) -> tuple[Project, Membership]:
    """The project and the user's membership; `edit` asks for an owner or editor, `own` for an owner."""
    membership = membership_for(user, project_id)
    if own and not membership.is_owner:
        raise PermissionDenied("Only a project owner can do this.")
    if edit and not membership.can_edit:
        if membership.project.is_archived:
            raise PermissionDenied("This project is archived: it can be watched but not changed.")
        raise PermissionDenied("Reviewers and viewers can watch but not change this project.")
    return membership.project, membership
