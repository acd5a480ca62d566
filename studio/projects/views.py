from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from studio.tasks.forms import DraftForm
from studio.tasks.models import Batch, Task

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
            account=project.draft_account, project=project, user=request.user,
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


def editor_initial(project, prompt, recalled: Task | None) -> dict:
    """What the editor shows: a recalled clip's exact settings, else the prompt's newest words and the last draft's framing."""
    if recalled:
        source, version = recalled, recalled.prompt_version
    else:
        version = prompt.latest_version() if prompt else None
        source = project.tasks.filter(kind=Task.Kind.DRAFT).first()
    initial = {"prompt_id": prompt.pk if prompt else None}
    if version:
        initial.update(prompt=version.text, negative_prompt=version.negative_prompt)
    if source:
        parameters = source.parameters
        initial.update(
            aspect_ratio=parameters.get("aspect_ratio"),
            duration_s=parameters.get("duration_s"),
            resolution=parameters.get("resolution"),
            audio=parameters.get("audio", False),
            first_frame_id=parameters.get("first_frame"),
            last_frame_id=parameters.get("last_frame"),
            reference_ids=",".join(str(i) for i in parameters.get("references", [])),
        )
        if source.kind == Task.Kind.DRAFT:
            initial["tier"] = source.tier
        if recalled:
            initial["seed"] = recalled.seed
    return initial


def project_page_context(project, membership, *, form: DraftForm | None = None, prompt=None) -> dict:
    prompt = prompt or project.prompts.first()
    tasks = list(
        project.tasks.select_related("prompt_version", "promoted_from", "clip")
        .prefetch_related("promotions")
        .order_by("-created_at")
    )
    batches = {batch.pk: batch for batch in Batch.objects.filter(project=project)}
    # Standalone tasks as cards; a batch's tasks as one group, where its first task stood.
    items, seen = [], set()
    for task in tasks:
        if task.batch_id is None:
            items.append({"task": task})
        elif task.batch_id not in seen:
            seen.add(task.batch_id)
            batch = batches[task.batch_id]
            members = sorted((t for t in tasks if t.batch_id == batch.pk), key=lambda t: (t.cell_row, t.cell_column))
            items.append({"batch": batch, "tasks": members})
    return {
        "project": project,
        "membership": membership,
        "prompt": prompt,
        "form": form,
        "items": items,
        "has_tasks": bool(tasks),
    }
