from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from studio.projects.access import get_project_for_user

from .models import Clip
from .streaming import ranged_file_response


def _get_clip_for_user(user, clip_id: int) -> Clip:
    clip = get_object_or_404(Clip.objects.select_related("task"), pk=clip_id)
    get_project_for_user(user, clip.task.project_id)
    return clip


@login_required
@require_GET
def clip_video(request, clip_id: int):
    clip = _get_clip_for_user(request.user, clip_id)
    response = ranged_file_response(request, Path(clip.file.path), content_type="video/mp4")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def clip_poster(request, clip_id: int):
    clip = _get_clip_for_user(request.user, clip_id)
    if not clip.poster:
        raise Http404("This clip has no poster.")
    response = ranged_file_response(request, Path(clip.poster.path), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def compare(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id)
    try:
        ids = [int(request.GET["a"]), int(request.GET["b"])]
    except (KeyError, ValueError):
        return HttpResponseBadRequest("Pick two clips to compare (?a=CLIP&b=CLIP).")
    found = {
        clip.pk: clip
        for clip in Clip.objects.select_related("task__prompt_version").filter(pk__in=ids, task__project=project)
    }
    if len(found) != len(set(ids)):
        raise Http404("One of these clips is not in this project.")
    left, right = found[ids[0]], found[ids[1]]
    return render(
        request,
        "clips/compare.html",
        {"project": project, "membership": membership, "clips": [left, right]},
    )
