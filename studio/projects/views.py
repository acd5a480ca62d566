from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from studio.tasks.forms import DraftForm
from studio.tasks.models import Task

from .access import get_project_for_user
from .models import Membership


@login_required
def project_list(request):
    memberships = Membership.objects.filter(user=request.user).select_related("project").order_by("project__name")
    return render(request, "projects/project_list.html", {"memberships": memberships})


@login_required
def project_detail(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id)
    return render(request, "projects/project.html", project_page_context(project, membership))


def project_page_context(project, membership, *, form: DraftForm | None = None) -> dict:
    prompt = project.prompts.first()
    if form is None and project.draft_account:
        latest = prompt.latest_version() if prompt else None
        last_draft = project.tasks.filter(kind=Task.Kind.DRAFT).first()
        initial = {"prompt": latest.text, "negative_prompt": latest.negative_prompt} if latest else {}
        if last_draft:
            initial.update(
                tier=last_draft.tier, aspect_ratio=last_draft.aspect_ratio, duration_s=last_draft.duration_s
            )
        form = DraftForm(account=project.draft_account, initial=initial)
    tasks = (
        project.tasks.select_related("prompt_version", "promoted_from", "clip")
        .prefetch_related("promotions")
        .order_by("-created_at")
    )
    return {"project": project, "membership": membership, "prompt": prompt, "form": form, "tasks": tasks}
