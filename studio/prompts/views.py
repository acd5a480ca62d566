"""A prompt's versions: history, word diffs between any two, restore and fork."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, Max, Q, Window
from django.db.models.functions import RowNumber
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_POST

from studio.clips.models import Clip
from studio.projects.access import get_project_for_user
from studio.projects.models import Membership, Project

from .diff import Piece, word_diff
from .forms import PromptNameForm
from .models import Prompt, PromptVersion

# Enough posters to recognise a version at a glance; the rest are counted.
POSTERS_PER_VERSION = 6
# The library shows each prompt's newest clips as a strip, and at most this many prompts a page.
POSTERS_PER_PROMPT = 8
LIBRARY_PAGE = 60


def _get_prompt_for_user(user, prompt_id: int, *, edit: bool = False) -> tuple[Prompt, Project, Membership]:
    prompt = get_object_or_404(Prompt, pk=prompt_id)
    project, membership = get_project_for_user(user, prompt.project_id, edit=edit)
    return prompt, project, membership


def _get_version(prompt: Prompt, number: int) -> PromptVersion:
    version = prompt.versions.filter(number=number).first()
    if version is None:
        raise Http404(f"This prompt has no version {number}.")
    return version


def editor_url(prompt: Prompt) -> str:
    """The project page with the editor working on this prompt."""
    return f"{reverse('project-detail', args=[prompt.project_id])}?prompt={prompt.pk}"


@dataclass(frozen=True)
class VersionRow:
    """One version in the history list, with what the page shows beside its words."""

    version: PromptVersion
    task_count: int
    clip_count: int
    previous_number: int | None
    age: str
    # Restoring a version that reads like the newest would change nothing, so the page does not offer it.
    reads_like_newest: bool
    posters: list[Clip]
    more_posters: int


def _version_rows(prompt: Prompt) -> list[VersionRow]:
    """Newest first, each with how many tasks and clips it made and its clips' posters."""
    versions = list(
        prompt.versions.select_related("author")
        .annotate(task_count=Count("tasks", distinct=True), clip_count=Count("tasks__clip", distinct=True))
        .order_by("-number")
    )
    if not versions:
        return []
    clips_by_version: dict[int, list[Clip]] = defaultdict(list)
    clips = (
        Clip.objects.filter(task__prompt_version__prompt=prompt)
        .exclude(poster="")
        .select_related("task")
        .order_by("created_at")
    )
    for clip in clips:
        clips_by_version[clip.task.prompt_version_id].append(clip)
    newest = versions[0]
    rows = []
    for version, previous in zip(versions, [*versions[1:], None], strict=True):
        with_posters = clips_by_version[version.pk]
        posters = with_posters[:POSTERS_PER_VERSION]
        rows.append(
            VersionRow(
                version=version,
                task_count=version.task_count,
                clip_count=version.clip_count,
                previous_number=previous.number if previous else None,
                age=_age(version.created_at),
                reads_like_newest=(version.text, version.negative_prompt) == (newest.text, newest.negative_prompt),
                posters=posters,
                more_posters=len(with_posters) - len(posters),
            )
        )
    return rows


def _age(when: datetime) -> str:
    """'3 hours ago' for this week, a plain date before that."""
    elapsed = timezone.now() - when
    if elapsed < timedelta(minutes=1):
        return "just now"
    if elapsed < timedelta(days=7):
        return f"{timesince(when, depth=1)} ago"
    return date_format(timezone.localtime(when), "j M Y")


def _diff_context(versions: list[PromptVersion], older: PromptVersion | None, newer: PromptVersion | None) -> dict:
    context: dict[str, object] = {"versions": versions, "older": older, "newer": newer}
    if older and newer:
        text = word_diff(older.text, newer.text)
        negative = word_diff(older.negative_prompt, newer.negative_prompt)
        context.update(
            same_version=older.pk == newer.pk,
            text_diff=text,
            negative_diff=negative,
            unchanged=all(piece.op == "same" for piece in text + negative),
            added_words=_words(text + negative, "added"),
            removed_words=_words(text + negative, "removed"),
        )
    return context


def _words(pieces: list[Piece], op: str) -> int:
    return sum(len(piece.text.split()) for piece in pieces if piece.op == op)


@login_required
@require_GET
def history(request, prompt_id: int):
    prompt, project, membership = _get_prompt_for_user(request.user, prompt_id)
    rows = _version_rows(prompt)
    versions = [row.version for row in rows]
    # Like a wiki: open on what the latest edit changed.
    newer = versions[0] if versions else None
    older = versions[1] if len(versions) > 1 else newer
    context = {
        "prompt": prompt,
        "project": project,
        "membership": membership,
        "rows": rows,
        **_diff_context(versions, older, newer),
    }
    return render(request, "prompts/history.html", context)


@login_required
@require_GET
def diff(request, prompt_id: int):
    prompt, project, membership = _get_prompt_for_user(request.user, prompt_id)
    try:
        a, b = int(request.GET["a"]), int(request.GET["b"])
    except (KeyError, ValueError):
        return HttpResponseBadRequest("Pick two versions to compare (?a=NUMBER&b=NUMBER).")
    older, newer = _get_version(prompt, a), _get_version(prompt, b)
    if request.htmx:
        # The fragment only needs the numbers for its two selects, not the clips.
        rows: list[VersionRow] = []
        versions = list(prompt.versions.order_by("-number"))
        template = "prompts/history.html#version-diff"
    else:
        # Without JavaScript the picker is a plain GET form: answer with the whole page.
        rows = _version_rows(prompt)
        versions = [row.version for row in rows]
        template = "prompts/history.html"
    context = {
        "prompt": prompt,
        "project": project,
        "membership": membership,
        "rows": rows,
        **_diff_context(versions, older, newer),
    }
    return render(request, template, context)


@login_required
@require_POST
def restore(request, prompt_id: int, number: int):
    prompt, _project, _membership = _get_prompt_for_user(request.user, prompt_id, edit=True)
    version = _get_version(prompt, number)
    newest, created = prompt.restore(version=version, author=request.user)
    if created:
        messages.success(request, f"Restored the words of v{version.number} as v{newest.number}.")
    else:
        messages.info(request, f"The newest version already reads like v{version.number}; nothing changed.")
    return redirect(editor_url(prompt))


@login_required
@require_POST
def fork(request, prompt_id: int, number: int):
    prompt, _project, _membership = _get_prompt_for_user(request.user, prompt_id, edit=True)
    version = _get_version(prompt, number)
    forked = version.fork(author=request.user)
    messages.success(request, f"Started “{forked.title}” from the words of v{version.number}.")
    return redirect(editor_url(forked))


@dataclass(frozen=True)
class LibraryRow:
    """One prompt in the library: its newest words, how much it was used, its newest clips' posters."""

    prompt: Prompt
    newest: PromptVersion | None
    version_count: int
    clip_count: int
    last_used: datetime
    age: str
    posters: list[Clip]


def library_rows(project: Project, *, words: str = "", limit: int = LIBRARY_PAGE) -> tuple[list[LibraryRow], bool]:
    """The project's prompts, most recently worked on first, matching every word of `words` in their
    name or in any version's words; and whether there were more than `limit`.

    A fixed number of queries whatever the size: posters come from one windowed query.
    """
    prompts = project.prompts.annotate(
        version_count=Count("versions", distinct=True),
        clip_count=Count("versions__tasks__clip", distinct=True),
        last_used=Max("versions__created_at"),
    )
    for word in words.split()[:10]:
        prompts = prompts.filter(
            Q(title__icontains=word) | Q(pk__in=PromptVersion.objects.filter(text__icontains=word).values("prompt_id"))
        )
    found = list(prompts.order_by(F("last_used").desc(nulls_last=True), "-pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    ids = [prompt.pk for prompt in found]
    newest: dict[int, PromptVersion] = {}
    for version in PromptVersion.objects.filter(prompt_id__in=ids).order_by("prompt_id", "-number"):
        newest.setdefault(version.prompt_id, version)
    posters: dict[int, list[Clip]] = defaultdict(list)
    ranked = (
        Clip.objects.filter(task__prompt_version__prompt_id__in=ids)
        .exclude(poster="")
        .annotate(
            prompt_id=F("task__prompt_version__prompt_id"),
            rank=Window(RowNumber(), partition_by=F("prompt_id"), order_by=F("created_at").desc()),
        )
        .filter(rank__lte=POSTERS_PER_PROMPT)
        .select_related("task__prompt_version")
    )
    for clip in ranked:
        posters[clip.prompt_id].append(clip)
    rows = [
        LibraryRow(
            prompt=prompt,
            newest=newest.get(prompt.pk),
            version_count=prompt.version_count,
            clip_count=prompt.clip_count,
            last_used=prompt.last_used or prompt.created_at,
            age=_age(prompt.last_used or prompt.created_at),
            posters=posters[prompt.pk],
        )
        for prompt in found
    ]
    return rows, more


@login_required
@require_GET
def library(request, project_id: int):
    """Every prompt of the project with a strip of its clips, searchable by name and words."""
    project, membership = get_project_for_user(request.user, project_id)
    return _library_page(request, project, membership)


def _library_page(request, project, membership, *, renaming: tuple[int, PromptNameForm] | None = None):
    words = request.GET.get("q", "").strip()[:200]
    rows, more = library_rows(project, words=words)
    context = {
        "project": project,
        "membership": membership,
        "rows": rows,
        "more": more,
        "words": words,
        "renaming": renaming,
    }
    return render(request, "prompts/library.html", context, status=400 if renaming else 200)


@login_required
@require_POST
def rename(request, prompt_id: int):
    prompt, project, membership = _get_prompt_for_user(request.user, prompt_id, edit=True)
    form = PromptNameForm(request.POST)
    if not form.is_valid():
        # The library again, with the problem marked on this prompt's name box.
        return _library_page(request, project, membership, renaming=(prompt.pk, form))
    prompt.title = form.cleaned_data["title"]
    prompt.save(update_fields=["title"])
    messages.success(request, f"Renamed to “{prompt.title}”.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("prompt-library", args=[project.pk])
    return redirect(back)
