from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from studio.money import prices as money
from studio.projects import activity
from studio.projects.access import get_project_for_user
from studio.prompts.models import Prompt, PromptVersion, record_words
from studio.providers.base import Tier
from studio.review import notifications
from studio.review.comments import notes_to_answer, record_answers

from . import batches, budgets, lifecycle
from .forms import DraftForm, ExtendForm, GridForm, kept_image_values, whole_number
from .models import Batch, Task
from .pages import changed_cards, live_cards_seen, project_page_context, quote_cards, quote_for
from .queue import enqueue_job, kick_tracker

log = logging.getLogger(__name__)


def _get_task_for_user(user, task_id: int, *, edit: bool = False, own: bool = False):
    task = get_object_or_404(Task.objects.select_related("prompt_version", "project"), pk=task_id)
    project, membership = get_project_for_user(user, task.project_id, edit=edit, own=own)
    return task, project, membership


def _on_grid(request) -> bool:
    # The grid page says so on its cards' requests (?on=grid), as compact cards say ?compact=1.
    return request.GET.get("on") == "grid"


def _card(request, task: Task, project, membership) -> str:
    quote_cards([task], project=project, membership=membership)
    context = {
        "task": task,
        "project": project,
        "membership": membership,
        "compact": bool(request.GET.get("compact")),
        "on_grid": _on_grid(request),
    }
    return render_to_string("projects/project.html#task-card", context, request=request)


def _send(task: Task) -> None:
    """Hand a committed task to the queue; if the broker is down, the tracker's sweep sends it later.

    The database is the truth: the task is pending either way, so the page
    shows it waiting to send rather than an error for a task that will be billed.
    """
    try:
        enqueue_job("submit", task.pk)
        kick_tracker()
    except Exception as exc:  # the broker (Redis, or the database queue) is unreachable
        log.warning("could not queue task %s (%s); the sweep will send it", task.pk, type(exc).__name__)


def _editor_form(request, project, **kwargs) -> DraftForm:
    return DraftForm(account=project.draft_account, project=project, user=request.user, **kwargs)


def _prompt_for(project, values) -> Prompt | None:
    """The prompt the editor's words go to; None on "New prompt" (or a project with no prompt yet)."""
    if str(values.get("new_prompt", "")).lower() in {"true", "on", "1"}:
        return None
    prompt_id = whole_number(str(values.get("prompt_id") or ""))
    if prompt_id is not None:
        return project.prompts.filter(pk=prompt_id).first() or project.prompts.first()
    return project.prompts.first()


@login_required
@require_POST
def draft(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id, edit=True)
    if project.draft_account is None:
        messages.error(request, "This project has no provider account for drafts yet.")
        return redirect("project-detail", project.pk)
    form = _editor_form(request, project, data=request.POST, files=request.FILES)
    prompt = _prompt_for(project, request.POST)
    if not form.is_valid():
        return _editor_with_errors(request, project, membership, form, prompt)
    try:
        # The version and its tasks land together: a refused budget changes nothing.
        with transaction.atomic():
            new_tasks, created, words, link, version = _start_drafts(request, project, form, prompt)
            if new_tasks[0].prompt_version_id != version.pk:
                # A concurrent copy of this form made the tasks, from its own
                # version: keep nothing of ours (no stray prompt or version).
                raise _MadeByAnotherCopy(new_tasks, created, words, link)
            # In the same transaction, so concurrent copies (queued on the
            # form's constraint) find this line instead of writing their own.
            activity.record_once(project, request.user, activity.Verb.DRAFTED, words, link=link)
            if form.cleaned_data.get("revise_clip"):
                record_answers(project=project, comment_ids=request.POST.getlist("answers"), tasks=new_tasks)
    except budgets.OverBudget as refusal:
        form.add_error(None, str(refusal))
        return _editor_with_errors(request, project, membership, form, prompt)
    except _MadeByAnotherCopy as copy:
        new_tasks, created, words, link = copy.args
        version = new_tasks[0].prompt_version
    for task in new_tasks:
        if not task.rides_along:  # its clip comes with its sender's request
            _send(task)
    if not request.htmx:
        return redirect("project-detail", project.pk)
    # A fresh editor (new token, same words) plus the new card or group at the top of the list.
    # It stays on the prompt and version just drafted, and says its settings are kept from the new task.
    dropped = ("form_token", "seed", "csrfmiddlewaretoken", "new_prompt", "prompt_name", "revise_clip", "answers")
    kept = {k: v for k, v in request.POST.items() if k not in dropped}
    kept.update(
        prompt_id=version.prompt_id,
        version_id=version.pk,
        settings_from=new_tasks[0].pk,
        **kept_image_values(form.parameters()),
    )
    context = project_page_context(
        project, membership, form=_editor_form(request, project, initial=kept), prompt=version.prompt
    )
    editor = render_to_string("projects/project.html#draft-form", context, request=request)
    item = render_to_string("projects/project.html#task-item", {**context, "item": created}, request=request)
    return render(request, "tasks/card_updates.html", {"editor": editor, "card": item})


class _MadeByAnotherCopy(Exception):
    """Rolls back this copy's words: the first copy of the form already made its tasks."""


def _editor_with_errors(request, project, membership, form: DraftForm, prompt):
    context = project_page_context(project, membership, form=form, prompt=prompt)
    context["revising"] = notes_to_answer(project, form)
    if request.htmx:
        return render(request, "projects/project.html#draft-form", context)
    return render(request, "projects/project.html", context, status=400)


def _start_drafts(request, project, form: DraftForm, prompt):
    """The editor's words as a version, and its draft or variations, created (and held) together."""
    data = form.cleaned_data
    base = PromptVersion.objects.filter(pk=data["version_id"]).first() if data.get("version_id") else None
    version = record_words(
        project=project,
        prompt=prompt,
        text=data["prompt"],
        negative_prompt=data.get("negative_prompt", ""),
        user=request.user,
        base=base,
        name=data.get("prompt_name", ""),
    )
    created: dict[str, object]
    if data["variations"] > 1:
        # Drawn together: as many to a request as the route renders from one.
        per_request = form.caps.max_samples if data.get("one_request") and form.caps else 1
        if per_request > 1:
            axes = [batches.sample_axis(data["variations"], per_request=per_request)]
        else:
            axes = [batches.seed_axis(data["variations"])]
        cells = batches.plan(
            account=project.draft_account,
            version=version,
            tier=form.chosen_tier,
            parameters=form.parameters(),
            seed=None,
            axes=axes,
        )
        batch = batches.start(
            project=project,
            kind=Batch.Kind.VARIATIONS,
            account=project.draft_account,
            cells=cells,
            axes=axes,
            user=request.user,
            form_token=data["form_token"],
            per_request=per_request,
        )
        new_tasks = list(batch.tasks.all())
        words, link = f"drafted {len(new_tasks)} variations", reverse("batch-detail", args=[batch.pk])
        # Every task of a variations batch has its column (its place along the seed axis).
        created = {"batch": batch, "tasks": sorted(new_tasks, key=lambda t: t.cell_column or 0)}
    else:
        task = lifecycle.start_draft(
            project=project,
            version=version,
            tier=form.chosen_tier,
            parameters=form.parameters(),
            seed=data.get("seed"),
            user=request.user,
            form_token=data["form_token"],
        )
        new_tasks, created = [task], {"task": task}
        words, link = f"drafted task #{task.pk}", f"{project_url(project)}#task-{task.pk}"
    return new_tasks, created, words, link, version


@login_required
@require_GET
def draft_form(request, project_id: int):
    """The editor again with the same values: options follow the chosen tier."""
    project, membership = get_project_for_user(request.user, project_id, edit=True)
    if project.draft_account is None:
        return redirect("project-detail", project.pk)
    values = request.GET.dict()
    form = _editor_form(request, project, initial=values)
    context = project_page_context(project, membership, form=form, prompt=_prompt_for(project, values))
    context["revising"] = notes_to_answer(project, form)
    return render(request, "projects/project.html#draft-form", context)


@login_required
@require_GET
def draft_quote(request, project_id: int):
    """The editor's quote beside its Draft button, against what the budget has left."""
    project, _membership = get_project_for_user(request.user, project_id)
    account = project.draft_account
    if account is None:
        return HttpResponse("")
    form = DraftForm(account=account, project=project, initial=request.GET.dict())
    draft = form.quote()
    quote = None
    if not draft.problem:
        quote = quote_for(draft.total, standing=budgets.standing(project, request.user), account=account)
    # Images that disagree with the frame are said above the quote, in the same answer.
    context = {"draft": draft, "quote": quote, "image_warnings": form.image_warnings(), "with_warnings": True}
    return render(request, "tasks/quote.html", context)


def _grid_form(request, project, **kwargs) -> GridForm:
    return GridForm(account=project.draft_account, project=project, **kwargs)


@login_required
def new_grid(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id, edit=request.method == "POST")
    if project.draft_account is None:
        messages.error(request, "This project has no provider account for drafts yet.")
        return redirect("project-detail", project.pk)
    if request.method == "POST":
        form = _grid_form(request, project, data=request.POST)
        batch = None
        if form.is_valid():
            try:
                batch = batches.start(
                    project=project,
                    kind=Batch.Kind.GRID,
                    account=project.draft_account,
                    cells=form.cells,
                    axes=form.axes,
                    user=request.user,
                    form_token=form.cleaned_data["form_token"],
                )
            except budgets.OverBudget as refusal:
                form.add_error(None, str(refusal))
        if batch is not None:
            for task in batch.tasks.all():
                _send(task)
            link = reverse("batch-detail", args=[batch.pk])
            cells = len(form.cells)
            activity.record_once(project, request.user, activity.Verb.DRAFTED, f"drafted a grid of {cells}", link=link)
            return redirect("batch-detail", batch.pk)
        status = 400
    else:
        prompt = project.prompts.first()
        latest = prompt.latest_version() if prompt else None
        last = project.tasks.filter(kind=Task.Kind.DRAFT).first()
        initial: dict[str, object] = {"version": latest, "columns": "seed", "column_values": "", "rows": ""}
        if last:
            initial.update(
                tier=last.tier, aspect_ratio=last.aspect_ratio, duration_s=last.duration_s, resolution=last.resolution
            )
        form = _grid_form(request, project, initial=initial)
        status = 200
    context = {"project": project, "membership": membership, "form": form, "max_cells": batches.MAX_CELLS}
    return render(request, "tasks/new_grid.html", context, status=status)


@login_required
@require_GET
def grid_quote(request, project_id: int):
    """The cell count and quoted total for the grid as it stands, before anything is sent."""
    project, _membership = get_project_for_user(request.user, project_id)
    if project.draft_account is None:
        return HttpResponse("")
    form = _grid_form(request, project, data=request.GET)
    valid = form.is_valid()
    total = money.total(cell.quote for cell in form.cells) if valid else None
    context = {
        "form": form,
        "valid": valid,
        "cells": form.cells,
        "total": total,
        "max_cells": batches.MAX_CELLS,
    }
    if valid:
        standing = budgets.standing(project, request.user)
        context["quote"] = quote_for(total, standing=standing, account=project.draft_account)
    return render(request, "tasks/new_grid.html#grid-quote", context)


@login_required
@require_GET
def batch_detail(request, batch_id: int):
    batch = get_object_or_404(Batch, pk=batch_id)
    project, membership = get_project_for_user(request.user, batch.project_id)
    layout = batches.grid_of(batch)
    quote_cards([task for _label, row in layout for task in row if task], project=project, membership=membership)
    context = {"project": project, "membership": membership, "batch": batch, "layout": layout}
    return render(request, "tasks/batch.html", context)


@login_required
@require_GET
def task_card(request, task_id: int):
    task, project, membership = _get_task_for_user(request.user, task_id)
    if not request.htmx:
        return redirect(f"{project_url(project)}#task-{task.pk}")
    return HttpResponse(_card(request, task, project, membership))


@login_required
@require_GET
def live_cards(request, project_id: int):
    """The page's one refresh: only the cards that changed, as out-of-band swaps; 204 and no HTML when none did.

    The header's unread count rides along: the page sends the count it shows (`unread`) and gets the
    Inbox badge back only when that count is no longer true."""
    project, membership = get_project_for_user(request.user, project_id)
    changed = changed_cards(project, live_cards_seen(request.GET.getlist("card")))
    badge = notifications.badge_if_changed(request, request.GET.get("unread"))
    if not changed and not badge:
        return HttpResponse(status=204)
    quote_cards([task for task, _card in changed], project=project, membership=membership)
    context = {"project": project, "membership": membership, "oob": True}
    cards = [
        render_to_string(
            "projects/project.html#task-card",
            {**context, "task": task, "compact": card.compact, "on_grid": card.on_grid},
            request=request,
        )
        for task, card in changed
    ]
    return HttpResponse("".join(cards) + badge)


@login_required
@require_POST
def promote(request, task_id: int):
    draft_task, project, membership = _get_task_for_user(request.user, task_id, edit=True)
    if not draft_task.can_be_promoted:
        messages.error(request, "Only a finished draft can be promoted.")
        return redirect("project-detail", project.pk)
    try:
        final, created = lifecycle.promote(draft=draft_task, user=request.user)
    except (lifecycle.PromotionRefused, budgets.OverBudget) as refusal:
        messages.error(request, str(refusal))
        return redirect("project-detail", project.pk)
    if created:
        _send(final)
        activity.record_once(
            project,
            request.user,
            activity.Verb.PROMOTED,
            f"promoted draft #{draft_task.pk} to final #{final.pk}",
            link=f"{project_url(project)}#task-{final.pk}",
        )
    if not request.htmx:
        return redirect(f"{project_url(project)}#task-{final.pk}")
    draft_task.refresh_from_db()
    # On a grid page the draft's card shows the final; only the project page lists it as a new card.
    new_card = created and not _on_grid(request)
    return render(
        request,
        "tasks/card_updates.html",
        {
            "editor": "",
            "card": _card(request, final, project, membership) if new_card else "",
            "replaced": _card(request, draft_task, project, membership),
        },
    )


@login_required
def extend(request, task_id: int):
    """Extend a finished clip: the continuation prompt, the quote for the seconds added, or why it cannot be."""
    source, project, membership = _get_task_for_user(request.user, task_id, edit=True)
    refusal, amount, added_s = "", None, None
    try:
        added_s = lifecycle.extension_parameters(source, "")["duration_s"]
        amount = lifecycle.extension_quote(source)
    except lifecycle.ExtendRefused as why:
        refusal = str(why)
    form = ExtendForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and not refusal:
        if form.is_valid():
            try:
                extension = lifecycle.extend(
                    source=source,
                    continuation=form.cleaned_data["continuation"],
                    user=request.user,
                    form_token=form.cleaned_data["form_token"] or "",
                )
            except lifecycle.ExtendRefused as why:
                form.add_error("continuation", str(why))
            except budgets.OverBudget as over:
                form.add_error(None, str(over))
            else:
                _send(extension)  # a resent form finds its task; a second message is claimed by nobody
                activity.record_once(
                    project,
                    request.user,
                    activity.Verb.EXTENDED,
                    f"extended #{source.pk} as #{extension.pk}",
                    link=f"{project_url(project)}#task-{extension.pk}",
                )
                return redirect(f"{project_url(project)}#task-{extension.pk}")
        status = 400
    elif request.method == "POST":
        status = 400
    elif request.method != "GET":
        return HttpResponse(status=405)
    standing = budgets.standing(project, request.user.pk)
    return render(
        request,
        "tasks/extend.html",
        {
            "project": project,
            "membership": membership,
            "source": source,
            "form": form,
            "refusal": refusal,
            "quote": None if refusal else quote_for(amount, standing=standing, account=source.account),
            "added_s": added_s,
            "total_s": source.clip.duration_s + added_s if added_s and source.has_clip else None,
        },
        status=status,
    )


@login_required
@require_POST
def send_again(request, task_id: int):
    """A user's explicit choice to pay for the same settings again."""
    task, project, _membership = _get_task_for_user(request.user, task_id, edit=True)
    if not task.can_send_again:
        messages.error(request, "Only a failed or uncertain task can be sent again.")
        return redirect("project-detail", project.pk)
    if task.is_extension:
        # Checked as a new extension is: its source clip must still be there and extendable.
        try:
            if task.extended_from is None:
                raise lifecycle.ExtendRefused("The clip it extends was deleted.")
            lifecycle.extension_model(task.extended_from)
            problems = {}
        except lifecycle.ExtendRefused as why:
            problems = {"extend": str(why)}
    else:
        problems = lifecycle.problems_with(
            account=task.account,
            tier=Tier(task.tier),
            parameters=task.parameters,
            prompt=task.prompt_version.text,
            negative_prompt=lifecycle.negative_prompt_sent(
                account=task.account, model=task.model, version=task.prompt_version
            ),
        )
    if problems:
        # Checked as a new draft is (a tier whose model is gone, a route that changed): nothing is created.
        messages.error(request, "Not sent again: " + " ".join(problems.values()))
        return redirect(f"{project_url(project)}#task-{task.pk}")
    try:
        again = lifecycle.new_task(
            project=project,
            prompt_version=task.prompt_version,
            account=task.account,
            tier=Tier(task.tier),
            kind=task.kind,
            parameters=task.parameters,
            user=request.user,
            promoted_from=task.promoted_from,
            extended_from=task.extended_from,
            # A clip of a request for several shares its seed, which alone renders the request's first
            # clip: each one tried again on its own draws a seed of its own.
            seed=None if task.rides_along or task.other_samples.exists() else task.seed,
            form_token=f"again-{task.pk}",
        )
    except budgets.OverBudget as refusal:
        messages.error(request, str(refusal))
        return redirect(f"{project_url(project)}#task-{task.pk}")
    _send(again)
    return redirect(f"{project_url(project)}#task-{again.pk}")


@login_required
@require_POST
def settle(request, task_id: int):
    """An owner's answer for an uncertain submission: found at the provider (with its id), or not there."""
    task, project, _membership = _get_task_for_user(request.user, task_id, own=True)
    back = request.POST.get("next") or f"{project_url(project)}#task-{task.pk}"
    # Several clips from one request share its submission: settling one settles the request's sender.
    task = task.sample_of or task
    if not back.startswith("/") or back.startswith("//"):
        back = project_url(project)
    try:
        if request.POST.get("found") == "yes":
            lifecycle.settle_found(task.pk, provider_task_id=request.POST.get("provider_task_id", ""), by=request.user)
            _send_tracker()
            words = f"settled task #{task.pk}: found at the provider, now followed"
        elif request.POST.get("found") == "no":
            lifecycle.settle_not_billed(task.pk, by=request.user)
            words = f"settled task #{task.pk}: not at the provider, not billed"
        else:
            raise lifecycle.SettleRefused("Say whether the provider has this job.")
    except lifecycle.SettleRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    activity.record(project, request.user, activity.Verb.SETTLED, words, link=f"{project_url(project)}#task-{task.pk}")
    messages.success(request, words[0].upper() + words[1:] + ".")
    return redirect(back)


def _send_tracker() -> None:
    try:
        kick_tracker()
    except Exception as exc:  # the sweep's schedule starts it once the broker is back
        log.warning("could not start the tracker (%s)", type(exc).__name__)


@csrf_exempt  # called by providers, not browsers; the unguessable token is the credential
@require_POST
def provider_callback(request, token: str):
    status, detail = lifecycle.receive_callback(token=token, body=request.body[:1_000_000])
    if status == 200 and detail == Task.State.ARCHIVING:
        task_id = Task.objects.filter(callback_token=token).values_list("pk", flat=True).first()
        if task_id is not None:  # None only if the task was deleted since it answered
            enqueue_job("archive", task_id)
    return JsonResponse({"ok": status == 200, "detail": detail}, status=status)


def project_url(project) -> str:
    return reverse("project-detail", args=[project.pk])
