from __future__ import annotations

from django.contrib import messages
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from studio.projects.access import get_project_for_user
from studio.projects.views import project_page_context
from studio.providers.base import Tier

from . import lifecycle
from .forms import DraftForm
from .models import Task
from .queue import enqueue_job, kick_tracker


def _get_task_for_user(user, task_id: int, *, edit: bool = False):
    task = get_object_or_404(Task.objects.select_related("prompt_version", "project"), pk=task_id)
    project, membership = get_project_for_user(user, task.project_id, edit=edit)
    return task, project, membership


def _card(request, task: Task, project, membership) -> str:
    context = {"task": task, "project": project, "membership": membership}
    return render_to_string("projects/project.html#task-card", context, request=request)


def _send(task: Task) -> None:
    enqueue_job("submit", task.pk)
    kick_tracker()


@login_required
@require_POST
def draft(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id, edit=True)
    if project.draft_account is None:
        messages.error(request, "This project has no provider account for drafts yet.")
        return redirect("project-detail", project.pk)
    form = DraftForm(request.POST, account=project.draft_account)
    if not form.is_valid():
        context = project_page_context(project, membership, form=form)
        if request.htmx:
            return render(request, "projects/project.html#draft-form", context)
        return render(request, "projects/project.html", context, status=400)

    data = form.cleaned_data
    task = lifecycle.start_draft(
        project=project,
        prompt=project.prompts.first(),
        text=data["prompt"],
        negative_prompt=data["negative_prompt"],
        tier=Tier(data["tier"]),
        parameters=form.parameters(),
        seed=data["seed"],
        user=request.user,
        form_token=data["form_token"],
    )
    _send(task)
    if not request.htmx:
        return redirect("project-detail", project.pk)
    # A fresh editor (new token, same words) plus the new card at the top of the list.
    fresh = DraftForm(account=project.draft_account, initial={**data, "seed": None})
    context = project_page_context(project, membership, form=fresh)
    editor = render_to_string("projects/project.html#draft-form", context, request=request)
    card = _card(request, task, project, membership)
    return render(
        request,
        "tasks/card_updates.html",
        {"editor": editor, "card": card},
    )


@login_required
@require_GET
def task_card(request, task_id: int):
    task, project, membership = _get_task_for_user(request.user, task_id)
    if not request.htmx:
        return redirect(f"{project_url(project)}#task-{task.pk}")
    return render(request, "projects/project.html#task-card", {"task": task, "project": project,
                                                                "membership": membership})


@login_required
@require_POST
def promote(request, task_id: int):
    draft_task, project, membership = _get_task_for_user(request.user, task_id, edit=True)
    if draft_task.kind != Task.Kind.DRAFT or draft_task.state != Task.State.DONE:
        messages.error(request, "Only a finished draft can be promoted.")
        return redirect("project-detail", project.pk)
    if project.final_account is None:
        messages.error(request, "This project has no provider account for finals yet.")
        return redirect("project-detail", project.pk)
    problems = lifecycle.problems_with(
        account=project.final_account,
        tier=Tier.QUALITY,
        parameters=lifecycle.final_parameters(draft_task),
        prompt=draft_task.prompt_version.text,
        negative_prompt=draft_task.prompt_version.negative_prompt,
    )
    if problems:
        messages.error(request, "The final route cannot render this: " + " ".join(problems.values()))
        return redirect("project-detail", project.pk)
    final, created = lifecycle.promote(draft=draft_task, user=request.user)
    if created:
        _send(final)
    if not request.htmx:
        return redirect(f"{project_url(project)}#task-{final.pk}")
    draft_task.refresh_from_db()
    return render(
        request,
        "tasks/card_updates.html",
        {"editor": "", "card": _card(request, final, project, membership) if created else "",
         "replaced": _card(request, draft_task, project, membership)},
    )


@login_required
@require_POST
def send_again(request, task_id: int):
    """A user's explicit choice to pay for the same settings again."""
    task, project, membership = _get_task_for_user(request.user, task_id, edit=True)
    if task.state not in (Task.State.UNCERTAIN, Task.State.FAILED, Task.State.BLOCKED):
        messages.error(request, "Only a failed or uncertain task can be sent again.")
        return redirect("project-detail", project.pk)
    again = lifecycle.new_task(
        project=project,
        prompt_version=task.prompt_version,
        account=task.account,
        tier=Tier(task.tier),
        kind=task.kind,
        parameters=task.parameters,
        seed=task.seed,
        user=request.user,
        promoted_from=task.promoted_from,
        form_token=f"again-{task.pk}",
    )
    _send(again)
    return redirect(f"{project_url(project)}#task-{again.pk}")


@csrf_exempt  # called by providers, not browsers; the unguessable token is the credential
@require_POST
def provider_callback(request, token: str):
    status, detail = lifecycle.receive_callback(token=token, body=request.body[:1_000_000])
    if status == 200 and detail == Task.State.ARCHIVING:
        task_id = Task.objects.filter(callback_token=token).values_list("pk", flat=True).first()
        enqueue_job("archive", task_id)
    return JsonResponse({"ok": status == 200, "detail": detail}, status=status)


def project_url(project) -> str:
    from django.urls import reverse

    return reverse("project-detail", args=[project.pk])
