"""Playlists: the project's list, the review page that plays one clip after another, changes to a
playlist (editors and owners), its feedback as CSV and as a printable page, and the still of a
commented frame.

Who may: every member watches a playlist and takes its feedback away; editors and owners make,
rename, fill, reorder and delete playlists; review status is set through the gallery's own
review view (reviewers, editors, owners), which the review page posts to.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.clips.models import Clip
from studio.projects import activity
from studio.projects.access import get_project_for_user

from . import export, playlists
from .comments import panel_html
from .models import Playlist


def _get_playlist(user, playlist_id: int, *, edit: bool = False):
    """The playlist, its project and the member: 404 to outsiders, 403 to members who may not change it."""
    playlist = get_object_or_404(Playlist, pk=playlist_id)
    project, membership = get_project_for_user(user, playlist.project_id, edit=edit)
    return playlist, project, membership


def _page(playlist: Playlist, clip_id: int | None = None) -> str:
    url = reverse("playlist", args=[playlist.pk])
    return f"{url}?clip={clip_id}" if clip_id else url


def _back(request, fallback: str) -> str:
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return fallback


def _clip_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


@login_required
@require_http_methods(["GET", "POST"])
def playlist_list(request, project_id: int):
    """The project's playlists; POST makes a new one (editors and owners)."""
    project, membership = get_project_for_user(request.user, project_id, edit=request.method == "POST")
    form = playlists.PlaylistNameForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            playlist = playlists.create(project=project, name=form.cleaned_data["name"], by=request.user)
            return redirect(_page(playlist))
    status = 400 if form.is_bound else 200
    context = {"project": project, "membership": membership, "playlists": playlists.playlists_of(project), "form": form}
    return render(request, "review/playlists.html", context, status=status)


@login_required
@require_POST
def playlist_add(request, project_id: int):
    """Add the chosen clips (the gallery's selection, or one clip page's) to a playlist, or to a new one."""
    project, _membership = get_project_for_user(request.user, project_id, edit=True)
    fallback = reverse("gallery", args=[project.pk])
    ids = [int(v) for v in request.POST.getlist("clip") if v.isdigit()]
    in_project = {
        clip.pk: clip for clip in Clip.objects.filter(task__project=project, pk__in=ids).select_related("task")
    }
    chosen = [in_project[pk] for pk in ids if pk in in_project]
    if not chosen:
        messages.error(request, "Select at least one clip to add to a playlist.")
        return redirect(_back(request, fallback))
    choice = request.POST.get("playlist", "")
    try:
        # One transaction: a new playlist that could not take the clips is not left behind empty.
        with transaction.atomic():
            if choice == "new":
                now = timezone.localtime()
                name = f"Playlist of {now.day} {now:%b, %H:%M}"
                playlist = playlists.create(project=project, name=name, by=request.user)
            else:
                found = Playlist.objects.filter(project=project, pk=_clip_id(choice) or 0).first()
                if found is None:
                    messages.error(request, "Choose a playlist of this project, or a new one.")
                    return redirect(_back(request, fallback))
                playlist = found
            added = playlists.add_clips(playlist, chosen)
    except playlists.PlaylistFull as full:
        messages.error(request, str(full))
        return redirect(_back(request, fallback))
    already = len(chosen) - added
    words = f"Added {added} clip{pluralize(added)} to “{playlist.name}”."
    if already:
        words += f" {already} {'was' if already == 1 else 'were'} in it already."
    messages.success(request, words)
    if choice == "new":
        return redirect(_page(playlist))
    return redirect(_back(request, fallback))


@login_required
@require_GET
def playlist_page(request, playlist_id: int):
    """The review: one large player going through the clips in order, the list beside it, the
    current clip's status and comments. ?clip= says which clip is on (the first otherwise); the
    page's script asks for the same URL with HX-Request to swap in another clip without reloading."""
    playlist, project, membership = _get_playlist(request.user, playlist_id)
    clips = playlists.clips_in_order(playlist)
    wanted = _clip_id(request.GET.get("clip", ""))
    at = next((i for i, clip in enumerate(clips) if clip.pk == wanted), 0)
    current = clips[at] if clips else None
    context = {
        "project": project,
        "membership": membership,
        "playlist": playlist,
        "clips": clips,
        "current": current,
        "at": at,
        "previous": clips[at - 1] if current and at > 0 else None,
        "next": clips[at + 1] if current and at + 1 < len(clips) else None,
        "here": _page(playlist, current.pk if current else None),
        "comments_panel": panel_html(request, current, membership=membership) if current else "",
        "rename_form": playlists.PlaylistNameForm(initial={"name": playlist.name}),
    }
    template = "review/playlist.html#playlist-review" if request.htmx else "review/playlist.html"
    response = render(request, template, context)
    # One address, two answers: a cache must not give the region alone to a page load, or the page to the script.
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_POST
def playlist_rename(request, playlist_id: int):
    playlist, project, membership = _get_playlist(request.user, playlist_id, edit=True)
    form = playlists.PlaylistNameForm(request.POST)
    if not form.is_valid():
        context = {"project": project, "membership": membership, "playlist": playlist, "form": form}
        return render(request, "review/playlist_rename.html", context, status=400)
    playlists.rename(playlist, name=form.cleaned_data["name"])
    messages.success(request, f"Renamed the playlist “{playlist.name}”.")
    return redirect(_back(request, _page(playlist)))


@login_required
@require_POST
def playlist_delete(request, playlist_id: int):
    """Without `confirm`, the page that asks; with it, the playlist goes (its clips stay)."""
    playlist, project, membership = _get_playlist(request.user, playlist_id, edit=True)
    if request.POST.get("confirm") != "1":
        context = {"project": project, "membership": membership, "playlist": playlist, "count": playlist.items.count()}
        return render(request, "review/playlist_delete.html", context)
    name = playlist.name
    playlist.delete()
    messages.success(request, f"Deleted the playlist “{name}”; its clips are still in the gallery.")
    return redirect("playlists", project.pk)


@login_required
@require_POST
def playlist_remove(request, playlist_id: int):
    playlist, _project, _membership = _get_playlist(request.user, playlist_id, edit=True)
    clip_id = _clip_id(request.POST.get("clip", ""))
    if clip_id is None or not playlists.remove_clip(playlist, clip_id):
        messages.error(request, "That clip is not in this playlist.")
    return redirect(_back(request, _page(playlist)))


@login_required
@require_POST
def playlist_move(request, playlist_id: int):
    """One place up or down: the keyboard's and the no-script way to reorder."""
    playlist, _project, _membership = _get_playlist(request.user, playlist_id, edit=True)
    clip_id = _clip_id(request.POST.get("clip", ""))
    by = {"up": -1, "down": 1}.get(request.POST.get("move", ""))
    if clip_id is None or by is None:
        messages.error(request, "Say which clip to move, up or down.")
    else:
        playlists.move(playlist, clip_id, by=by)
    back = _back(request, _page(playlist))
    return redirect(back + (f"#item-{clip_id}" if clip_id and "#" not in back else ""))


@login_required
@require_POST
def playlist_order(request, playlist_id: int):
    """The whole order at once (clip=… in play order), as the page's drag and drop posts it."""
    playlist, _project, _membership = _get_playlist(request.user, playlist_id, edit=True)
    ids = [int(v) for v in request.POST.getlist("clip") if v.isdigit()]
    playlists.reorder(playlist, ids)
    if request.htmx or request.headers.get("Accept") == "application/json":
        return HttpResponse(status=204)
    return redirect(_back(request, _page(playlist)))


@login_required
@require_GET
def playlist_feedback(request, playlist_id: int):
    """Every clip's status and comments, with the still of each timecoded comment, to print."""
    playlist, project, membership = _get_playlist(request.user, playlist_id)
    clips = playlists.clips_in_order(playlist)
    context = {
        "project": project,
        "membership": membership,
        "playlist": playlist,
        "sheet": export.Sheet(
            title=playlist.name,
            back_url=_page(playlist),
            back_label="Back to the playlist",
            csv_url=reverse("playlist-feedback-csv", args=[playlist.pk]),
        ),
        "feedback": export.feedback(clips, frame_url=export.frame_url),
        "made_at": timezone.now(),
    }
    return render(request, "review/playlist_feedback.html", context)


@login_required
@require_GET
def playlist_feedback_csv(request, playlist_id: int):
    playlist, project, _membership = _get_playlist(request.user, playlist_id)
    clips = playlists.clips_in_order(playlist)
    activity.record(
        project,
        request.user,
        activity.Verb.EXPORTED,
        f"exported the feedback on playlist “{playlist.name}” as CSV",
        link=_page(playlist),
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"feedback-{slugify(playlist.name) or 'playlist'}-{stamp}.csv"
    return export.csv_response(export.feedback_rows(clips), filename=filename)


@login_required
@require_GET
def clip_frame(request, clip_id: int, frame: int):
    """One frame of a clip as a JPEG (made once, then kept): the printable feedback's stills."""
    clip = get_object_or_404(Clip.objects.select_related("task"), pk=clip_id)
    get_project_for_user(request.user, clip.task.project_id)
    return export.frame_response(clip, frame)
