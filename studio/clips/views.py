from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from studio.forms import unstorable
from studio.projects import activity
from studio.projects.access import get_project_for_user
from studio.prompts.diff import parameter_diff, word_diff
from studio.review import notifications
from studio.review.comments import panel_html
from studio.streaming import ranged_storage_response

from . import gallery as galleries
from .downloads import content_disposition
from .export import zip_stream
from .models import Clip

# The compare selection lives in the session: per user by nature, per project
# by key. "projects" is the truth ({"<project id>": [clip ids, oldest first]});
# "picked" repeats every picked id in one flat list because a template cannot
# look a dict up by a variable key, and the pick control is a plain include.
COMPARE_SESSION_KEY = "compare"
COMPARE_AT_MOST = 2
# Veo 3.1 renders at 24 frames per second; the compare transport steps by one.
FPS = 24

# The settings a compare shows side by side, in reading order.
PARAMETER_LABELS = {
    "kind": "Kind",
    "tier": "Tier",
    "model": "Model",
    "seed": "Seed",
    "resolution": "Resolution",
    "aspect_ratio": "Aspect ratio",
    "duration_s": "Duration",
    "audio": "Audio",
}


def _get_clip_for_user(user, clip_id: int) -> Clip:
    # The project and prompt name the clip when it is downloaded.
    clip = get_object_or_404(Clip.objects.select_related("task__project", "task__prompt_version__prompt"), pk=clip_id)
    get_project_for_user(user, clip.task.project_id)
    return clip


# Media is streamed through these access-checked views, from the local folder or the object store
# alike, rather than redirected to a presigned link: every range request is checked (a removed member
# loses access at once, not when a link expires), the object store can stay on a private network,
# pages need no second origin (CSP, CORS) and a stable URL lets browsers cache posters. Clips are
# seconds long, so a web thread is held briefly, and a seek asks the store for just its range.


@login_required
@require_GET
def clip_video(request, clip_id: int):
    """The clip for a player, or with ?download=1 saved under its name (project, prompt, version, seed, tier)."""
    clip = _get_clip_for_user(request.user, clip_id)
    response = ranged_storage_response(request, clip.file, content_type="video/mp4")
    response["Cache-Control"] = "private, max-age=86400"
    if request.GET.get("download") == "1":
        response["Content-Disposition"] = content_disposition(clip)
    return response


@login_required
@require_GET
def clip_poster(request, clip_id: int):
    clip = _get_clip_for_user(request.user, clip_id)
    if not clip.poster:
        raise Http404("This clip has no poster.")
    response = ranged_storage_response(request, clip.poster, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def clip_page(request, clip_id: int):
    """A clip's own page: a large player, its words and their change from the version before, settings, lineage."""
    clip = get_object_or_404(
        Clip.objects.select_related(
            "task__prompt_version__prompt",
            "task__created_by",
            "task__promoted_from__clip",
            "task__promoted_from__created_by",
            "task__extended_from__clip",
            "task__account",
        ),
        pk=clip_id,
    )
    project, membership = get_project_for_user(request.user, clip.task.project_id)
    task = clip.task
    version = task.prompt_version
    previous = version.prompt.versions.filter(number__lt=version.number).order_by("-number").first()
    finals = task.promotions.select_related("clip", "created_by").order_by("created_at")
    context = {
        "project": project,
        "membership": membership,
        "clip": clip,
        "task": task,
        "version": version,
        "previous": previous,
        "prompt_diff": word_diff(previous.text, version.text) if previous else None,
        "settings": [(PARAMETER_LABELS[name], _shown(name, value)) for name, value in _settings_of(clip).items()],
        "finals": finals,
        "extensions": task.extensions.select_related("clip").order_by("created_at"),
        "comments_panel": panel_html(request, clip, membership=membership),
    }
    return render(request, "clips/clip.html", context)


@login_required
@require_GET
def gallery(request, project_id: int):
    """Every clip of the project as posters, filtered from the URL; later pages append as the list scrolls."""
    project, membership = get_project_for_user(request.user, project_id)
    filters = galleries.read_filters(request.GET)
    page = galleries.page_of(project, filters, after=request.GET.get("after", ""))
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "project": project,
        "membership": membership,
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "choices": {
            "kinds": galleries.KINDS,
            "tiers": galleries.TIERS,
            "aspects": galleries.ASPECTS,
            "sorts": galleries.SORTS,
            "reviews": Clip.Review.choices,
            # From the project's accounts, not its tasks: a bounded list however many clips there are.
            "routes": galleries.routes_of(project),
            "models": galleries.models_of(project),
            "authors": project.memberships.order_by("user__username").values_list("user__username", flat=True),
        },
    }
    if request.htmx and request.GET.get("after"):
        return render(request, "clips/gallery.html#gallery-page", context)
    return render(request, "clips/gallery.html", context)


@login_required
@require_POST
def gallery_star(request, project_id: int):
    """Star (or unstar) the chosen clips for the team; back to the gallery as it was."""
    project, membership = get_project_for_user(request.user, project_id)
    if not membership.can_review:
        raise PermissionDenied("Viewers watch; reviewers, editors and owners pick the stars.")
    ids = [int(v) for v in request.POST.getlist("clip") if v.isdigit()]
    chosen = Clip.objects.filter(task__project=project, pk__in=ids)
    if request.POST.get("star") == "1":
        count = chosen.filter(starred_at__isnull=True).update(starred_by=request.user, starred_at=timezone.now())
        messages.success(request, f"Starred {count} clip{pluralize(count)}.")
        if count:
            activity.record(
                project,
                request.user,
                activity.Verb.STARRED,
                f"starred {count} clip{pluralize(count)}",
                link=reverse("gallery", args=[project.pk]) + "?starred=1",
            )
    else:
        count = chosen.filter(starred_at__isnull=False).update(starred_by=None, starred_at=None)
        messages.success(request, f"Unstarred {count} clip{pluralize(count)}.")
    return redirect(_back_to(request, project))


def _back_to(request, project) -> str:
    """Where a gallery, clip-page or playlist form came from, if it is this project's gallery, a clip page
    or a playlist's review."""
    back = request.POST.get("next", "")
    if back.startswith((reverse("gallery", args=[project.pk]), "/clips/", "/playlists/")) and "//" not in back:
        return back
    return reverse("gallery", args=[project.pk])


@login_required
@require_POST
def gallery_review(request, project_id: int):
    """Set the review status of the chosen clips: approved, changes requested (with a note), or back to review."""
    project, membership = get_project_for_user(request.user, project_id)
    if not membership.can_review:
        raise PermissionDenied("Viewers watch; reviewers, editors and owners set review status.")
    status = request.POST.get("review", "")
    if status not in Clip.Review.values:
        messages.error(request, "Choose approved, changes requested or needs review.")
        return redirect(_back_to(request, project))
    note = " ".join(request.POST.get("note", "").split())[:500]
    if problem := unstorable(note):
        messages.error(request, f"Note: {problem}")
        return redirect(_back_to(request, project))
    ids = [int(v) for v in request.POST.getlist("clip") if v.isdigit()]
    chosen = Clip.objects.filter(task__project=project, pk__in=ids)
    with transaction.atomic():
        # Whoever made a clip hears of a new status or note on it (not of one marked the same again).
        changing = list(chosen.exclude(review_status=status, review_note=note).values_list("pk", flat=True))
        count = chosen.update(
            review_status=status, reviewed_by=request.user, reviewed_at=timezone.now(), review_note=note
        )
        for clip in Clip.objects.filter(pk__in=changing).select_related("task"):
            notifications.status_changed(clip, by_name=request.user.get_username(), by_user=request.user)
    label = Clip.Review(status).label.lower()
    if count:
        activity.record(
            project,
            request.user,
            activity.Verb.REVIEWED,
            f"marked {count} clip{pluralize(count)} {label}" + (f": “{note}”" if note else ""),
        )
    messages.success(request, f"Marked {count} clip{pluralize(count)} {label}.")
    return redirect(_back_to(request, project))


@login_required
@require_POST
def gallery_compare(request, project_id: int):
    """The two selected clips side by side (the compare page is a plain GET of both)."""
    project, _membership = get_project_for_user(request.user, project_id)
    ids = [int(v) for v in request.POST.getlist("clip") if v.isdigit()]
    found = list(
        Clip.objects.filter(task__project=project, pk__in=ids).order_by("created_at").values_list("pk", flat=True)
    )
    if len(found) != 2:
        messages.error(request, "Select exactly two clips to compare them.")
        return redirect(_back_to(request, project))
    return redirect(f"{reverse('compare', args=[project.pk])}?a={found[0]}&b={found[1]}")


# One download is bounded, so one request cannot hold a web worker for hours.
MAX_ZIP_CLIPS = 500


@login_required
@require_POST
def gallery_zip(request, project_id: int):
    """The chosen clips (or every clip matching the gallery's filters) as one streamed zip with a manifest."""
    project, _membership = get_project_for_user(request.user, project_id)
    if request.POST.get("matching"):
        clips = galleries.clips_of(project, galleries.read_filters(request.POST))
    else:
        ids = [int(v) for v in request.POST.getlist("clip") if v.isdigit()]
        clips = Clip.objects.filter(task__project=project, pk__in=ids)
    chosen = list(
        clips.select_related("task__prompt_version", "task__created_by")
        .prefetch_related("task__promotions")
        .order_by("created_at", "pk")[: MAX_ZIP_CLIPS + 1]
    )
    if not chosen:
        messages.error(request, "Choose at least one clip to download.")
        return redirect("gallery", project.pk)
    if len(chosen) > MAX_ZIP_CLIPS:
        messages.error(request, f"A zip holds at most {MAX_ZIP_CLIPS} clips: narrow the filters or choose fewer.")
        return redirect("gallery", project.pk)
    activity.record(
        project, request.user, activity.Verb.EXPORTED, f"downloaded {len(chosen)} clip{pluralize(len(chosen))} as a zip"
    )
    response = StreamingHttpResponse(zip_stream(chosen), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{slugify(project.name) or "project"}-clips.zip"'
    return response


@login_required
@require_GET
def compare(request, project_id: int):
    project, membership = get_project_for_user(request.user, project_id)
    try:
        ids = _two_clip_ids(request.GET)
    except ValueError as problem:
        return HttpResponseBadRequest(str(problem), content_type="text/plain; charset=utf-8")
    found = {
        clip.pk: clip
        for clip in Clip.objects.select_related("task__prompt_version").filter(pk__in=ids, task__project=project)
    }
    if len(found) != len(ids):
        raise Http404("One of these clips is not in this project.")
    left, right = found[ids[0]], found[ids[1]]
    return render(
        request,
        "clips/compare.html",
        {
            "project": project,
            "membership": membership,
            "clips": [left, right],
            # The transport spans the longer clip, counted in frames.
            "fps": FPS,
            "last_frame": round(max(left.duration_s, right.duration_s) * FPS) - 1,
            # Both reading directions, so swapping sides in the page keeps
            # "what changed from left to right" true without a round trip.
            "notes": [compare_notes(left, right), compare_notes(right, left)],
            # Each clip's comments; a comment's frame seeks both players.
            "comment_panels": [
                panel_html(
                    request,
                    clip,
                    membership=membership,
                    label=f"{side} · {clip.task.get_kind_display()} #{clip.task.pk}",
                )
                for side, clip in (("A", left), ("B", right))
            ],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def compare_pick(request, clip_id: int):
    """The "Add to compare" control of one clip card; POST pick=add|remove changes the selection.

    Every member may pick, reviewers and viewers too: comparing changes nothing in the project.
    """
    clip = _get_clip_for_user(request.user, clip_id)
    if request.method == "POST":
        project_id = clip.task.project_id
        picks = compare_picks(request.session, project_id)
        if request.POST.get("pick") == "remove":
            picks = [pk for pk in picks if pk != clip.pk]
        elif clip.pk not in picks:
            picks = [*picks, clip.pk][-COMPARE_AT_MOST:]
        _save_compare_picks(request.session, project_id, picks)
        if not request.htmx:
            return redirect(reverse("project-detail", args=[project_id]) + f"#task-{clip.task_id}")
        response = render(request, "clips/_compare_pick.html", {"clip": clip})
        # Other clips' controls refresh themselves (one may just have been dropped).
        return trigger_client_event(response, "compare-changed", after="settle")
    return render(request, "clips/_compare_pick.html", {"clip": clip})


def compare_picks(session, project_id: int) -> list[int]:
    """The clips this session picked in one project, oldest first."""
    return list(session.get(COMPARE_SESSION_KEY, {}).get("projects", {}).get(str(project_id), []))


def _save_compare_picks(session, project_id: int, picks: list[int]) -> None:
    projects = dict(session.get(COMPARE_SESSION_KEY, {}).get("projects", {}))
    if picks:
        projects[str(project_id)] = picks
    else:
        projects.pop(str(project_id), None)
    session[COMPARE_SESSION_KEY] = {
        "projects": projects,
        "picked": [pk for ids in projects.values() for pk in ids],
    }


def _two_clip_ids(query) -> list[int]:
    """The clip ids in ?a=&b=; a ValueError says in plain words what is wrong with them."""
    if not query.get("a") or not query.get("b"):
        raise ValueError(
            "Pick two clips to compare: use “Add to compare” on two clip cards, "
            "or open /projects/<project>/compare?a=<clip>&b=<clip>."
        )
    ids = []
    for side in ("a", "b"):
        raw = query[side].strip()
        if not raw.isdigit():
            raise ValueError(f"“{raw[:40]}” is not a clip number (?{side}= must be a whole number).")
        ids.append(int(raw))
    if ids[0] == ids[1]:
        raise ValueError(f"Pick two different clips to compare; both sides name clip {ids[0]}.")
    return ids


def compare_notes(old: Clip, new: Clip) -> dict:
    """What differs from `old` (left) to `new` (right): prompt words and settings."""
    old_version, new_version = old.task.prompt_version, new.task.prompt_version
    changes = parameter_diff(_settings_of(old), _settings_of(new))
    changes.sort(key=lambda change: list(PARAMETER_LABELS).index(change.name))
    return {
        "old": old,
        "new": new,
        "same_version": old_version.pk == new_version.pk,
        "prompt": word_diff(old.task.words, new.task.words),
        "negative_prompt": word_diff(old_version.negative_prompt, new_version.negative_prompt),
        "has_negative_prompt": bool(old_version.negative_prompt or new_version.negative_prompt),
        "parameters": [
            {
                "label": PARAMETER_LABELS[change.name],
                "old": _shown(change.name, change.old),
                "new": _shown(change.name, change.new),
                "changed": change.changed,
            }
            for change in changes
        ],
    }


def _settings_of(clip: Clip) -> dict:
    task = clip.task
    known = {
        **task.parameters,
        "kind": task.get_kind_display(),
        "tier": task.get_tier_display(),
        "model": task.model,
        "seed": task.seed if task.seed_sent else NOT_SENT,
    }
    if task.is_extension:
        # The seconds it added, and what the whole clip came to.
        known["duration_s"] = f"+{task.duration_s} s ({clip.duration_s:.0f} s in all)"
    return {name: known.get(name) for name in PARAMETER_LABELS}


# A seed kept for a route that takes none: said so, rather than shown as if it shaped the clip.
NOT_SENT = "not sent (this route takes no seed)"


def _shown(name: str, value) -> str:
    if value is None:
        return "drawn by the provider" if name == "seed" else "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name == "duration_s":
        return value if isinstance(value, str) else f"{value} s"
    return str(value)
