from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from studio.tasks.forms import DraftForm
from studio.tasks.models import Task
from studio.tasks.pages import editor_initial, project_page_context

from .access import get_project_for_user
from .models import Membership


@login_required
def project_list(request):
    memberships = Membership.objects.filter(user=request.user).select_related("project").order_by("project__name")
    return render(request, "projects/project_list.html", {"memberships": memberships})


@login_required
def project_detail(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id)
    prompt = _chosen_prompt(project, request.GET.get("prompt"))
    recalled = _task_in(project, request.GET.get("from_task"))
    if recalled:
        prompt = recalled.prompt_version.prompt
    form = None
    if project.draft_account:
        form = DraftForm(
            account=project.draft_account,
            project=project,
            user=request.user,
            initial=editor_initial(project, prompt, recalled),
        )
    context = project_page_context(project, membership, form=form, prompt=prompt)
    context["recalled"] = recalled
    return render(request, "projects/project.html", context)


def _chosen_prompt(project, raw):
    if raw and str(raw).isdigit():
        chosen = project.prompts.filter(pk=int(raw)).first()
        if chosen:
            return chosen
    return project.prompts.first()


def _task_in(project, raw) -> Task | None:
    if raw and str(raw).isdigit():
        return project.tasks.select_related("prompt_version__prompt").filter(pk=int(raw)).first()
    return None
