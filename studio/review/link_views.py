"""Review links: the project's list (make, revoke), and the guest's side under /r/<token>/.

A guest's request goes through `guest` (the decorator below) before anything else: unknown, revoked
and expired tokens are one 404, and requests are counted per client address (`links.py` says the
limits). The guest's session remembers, per link, that the password was given and the name they gave.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from studio.clips.models import Clip
from studio.limits import tries
from studio.projects.access import get_project_for_user
from studio.projects.models import Membership
from studio.streaming import ranged_storage_response

from . import export, links
from .comments import Commenter, CommentForm, add_comment, panel_html
from .models import ReviewLink

# request.session[GUESTS] = {"<link id>": {"unlocked": True, "name": "Ana"}}
GUESTS = "review_links"

# --- The project's side: owners and editors -----------------------------------------------------


@login_required
@require_GET
def review_links(request, project_id: int):
    """The project's review links, newest first, with what each shows and allows and when it was last used."""
    project, membership = _manager(request.user, project_id)
    return _list_page(request, project, membership)


@login_required
@require_GET
def review_link_feedback(request, project_id: int, link_id: int):
    """What guests (and members) said on a link's clips, with the still of each timecoded comment, to print."""
    project, membership = _manager(request.user, project_id)
    link = get_object_or_404(ReviewLink, pk=link_id, project=project)
    context = {
        "project": project,
        "membership": membership,
        "sheet": export.Sheet(
            title=links.describe(link),
            back_url=reverse("review-links", args=[project.pk]) + f"#review-link-{link.pk}",
            back_label="Back to the review links",
            csv_url=reverse("review-link-feedback-csv", args=[project.pk, link.pk]),
        ),
        "feedback": export.feedback(links.selected_clips(link), frame_url=export.frame_url),
        "made_at": timezone.now(),
    }
    return render(request, "review/playlist_feedback.html", context)


@login_required
@require_GET
def review_link_feedback_csv(request, project_id: int, link_id: int):
    project, _membership = _manager(request.user, project_id)
    link = get_object_or_404(ReviewLink, pk=link_id, project=project)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"feedback-review-link-{link.pk}-{stamp}.csv"
    return export.csv_response(export.feedback_rows(links.selected_clips(link)), filename=filename)


def _manager(user, project_id: int):
    """Owners and editors manage links; in an archived project too, so a link can still be revoked."""
    project, membership = get_project_for_user(user, project_id)
    if membership.role not in (Membership.Role.OWNER, Membership.Role.EDITOR):
        raise PermissionDenied("Owners and editors share clips for review.")
    return project, membership


def _list_page(request, project, membership, *, made: ReviewLink | None = None, made_url: str = ""):
    rows = list(project.review_links.select_related("clip", "other_clip", "playlist", "created_by"))
    for link in rows:
        link.described = links.describe(link)
    context = {"project": project, "membership": membership, "links": rows, "made": made, "made_url": made_url}
    return render(request, "review/links.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def review_link_new(request, project_id: int):
    """Make a link. ?clip= (and ?other=, ?playlist=, ?filter=) fill the form from where it was asked for."""
    project, membership = get_project_for_user(request.user, project_id, edit=True)
    if request.method == "POST":
        form = links.LinkForm(request.POST, project=project)
        if form.is_valid():
            made = links.create_link(project=project, by=request.user, data=form.cleaned_data)
            # Shown once, to copy: only its digest is kept.
            url = request.build_absolute_uri(reverse("review-link", args=[made.token]))
            return _list_page(request, project, membership, made=made.link, made_url=url)
    else:
        form = links.LinkForm(initial=_initial(request.GET, project), project=project)
    checks = [form[name] for name in ("allow_comments", "allow_status", "show_prompts", "show_costs")]
    return render(
        request,
        "review/link_new.html",
        {"project": project, "membership": membership, "form": form, "checks": checks},
        status=400 if form.errors else 200,
    )


def _initial(query, project) -> dict:
    initial: dict = {}
    if query.get("clip", "").isdigit():
        clip = Clip.objects.filter(pk=int(query["clip"]), task__project=project).select_related("task").first()
        if clip is not None:
            initial["clip"] = clip.pk
            # Offer the pair a clip belongs to: a final with its draft, a draft with its newest final.
            other = _pair_of(clip)
            if other is not None:
                initial["other_clip"] = other.pk
    if query.get("other", "").isdigit():
        initial["other_clip"] = int(query["other"])
        initial["kind"] = ReviewLink.Kind.PAIR
    if query.get("playlist", "").isdigit():
        initial["playlist"] = int(query["playlist"])
        initial["kind"] = ReviewLink.Kind.PLAYLIST
    if query.get("filter"):
        initial["filter_query"] = query["filter"][:2000]
        initial["kind"] = ReviewLink.Kind.FILTER
    return initial


def _pair_of(clip: Clip) -> Clip | None:
    task = clip.task
    if task.promoted_from_id:
        return Clip.objects.filter(task_id=task.promoted_from_id).first()
    return Clip.objects.filter(task__promoted_from=task).order_by("-created_at").first()


@login_required
@require_POST
def review_link_revoke(request, project_id: int, link_id: int):
    project, _membership = _manager(request.user, project_id)
    link = get_object_or_404(ReviewLink, pk=link_id, project=project)
    if links.revoke(link, by=request.user):
        messages.success(request, f"Revoked the review link {links.describe(link)}: it answers “not found” now.")
    return redirect("review-links", project.pk)


# --- The guest's side -----------------------------------------------------------------------------


def guest(view: Callable) -> Callable:
    """Open the link named by the URL's token, or answer 404 as for a token that never existed; count
    the request against the client address's limits (429 past them)."""

    @wraps(view)
    def checked(request: HttpRequest, token: str, **kwargs) -> HttpResponse:
        wait = links.UNKNOWN_LINKS.wait(request)
        if wait is not None:
            return tries.too_many(request, refused="Too many unknown review links from your address.", wait=wait)
        link = links.open_link(token)
        if link is None:
            links.UNKNOWN_LINKS.missed(request)
            raise Http404("No such review link.")
        limit = links.requests_to(link)
        wait = limit.wait(request)
        if wait is not None:
            return tries.too_many(
                request, refused="Too many requests to this review link from your address.", wait=wait
            )
        limit.missed(request)
        links.touch(link)
        response = view(request, link, token, **kwargs)
        # Not for search engines, and not for shared caches: the token is the only credential.
        response["X-Robots-Tag"] = "noindex, nofollow"
        response.setdefault("Cache-Control", "private, no-store")
        return response

    return checked


def _guest_state(request, link: ReviewLink) -> dict:
    return request.session.get(GUESTS, {}).get(str(link.pk), {})


def _remember(request, link: ReviewLink, **values) -> None:
    every = dict(request.session.get(GUESTS, {}))
    every[str(link.pk)] = {**every.get(str(link.pk), {}), **values}
    request.session[GUESTS] = every


def _unlocked(request, link: ReviewLink) -> bool:
    return not link.password or bool(_guest_state(request, link).get("unlocked"))


def _needs_name(link: ReviewLink) -> bool:
    return links.may_comment(link) or links.may_set_status(link)


def _guest_name(request, link: ReviewLink) -> str:
    return str(_guest_state(request, link).get("name", ""))


def _ready(request, link: ReviewLink) -> bool:
    """Password given (if any) and name given (if the link lets the guest say anything)."""
    return _unlocked(request, link) and (not _needs_name(link) or bool(_guest_name(request, link)))


def _base_context(request, link: ReviewLink, token: str) -> dict:
    return {
        "link": link,
        "token": token,
        "project": link.project,
        "title": link.title or link.project.name,
        "guest_name": _guest_name(request, link),
        "can_comment": links.may_comment(link),
        "can_set_status": links.may_set_status(link),
    }


@require_http_methods(["GET", "POST"])
@guest
def review_link(request, link: ReviewLink, token: str):
    """The link's page: its password, then the guest's name, then what it shows."""
    context = _base_context(request, link, token)
    if not _unlocked(request, link):
        return _password_page(request, link, context)
    if _needs_name(link) and (not _guest_name(request, link) or request.method == "POST"):
        return _name_page(request, link, context)
    if request.method == "POST":
        return redirect("review-link", token)
    clips = list(links.selected_clips(link)[: links.MAX_LISTED + 1])
    if link.kind == ReviewLink.Kind.CLIP:
        if not clips:
            raise Http404("This clip is gone.")
        return _clip_page(request, link, token, clips[0])
    if link.kind == ReviewLink.Kind.PAIR:
        if len(clips) != 2:
            raise Http404("One of these clips is gone.")
        context["sides"] = [_side(request, link, token, clip) for clip in clips]
        return render(request, "review/link_pair.html", context)
    context["clips"] = clips[: links.MAX_LISTED]
    context["more"] = len(clips) > links.MAX_LISTED
    return render(request, "review/link_list.html", context)


def _password_page(request, link: ReviewLink, context: dict):
    form = links.PasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        limit = links.password_tries(link)
        wait = limit.wait(request)
        if wait is not None:
            return tries.too_many(
                request, refused="Too many wrong passwords for this link from your address.", wait=wait
            )
        if form.is_valid() and links.password_is_right(link, form.cleaned_data["password"]):
            _remember(request, link, unlocked=True)
            return redirect("review-link", context["token"])
        limit.missed(request)
        form = links.PasswordForm()
        context["wrong"] = True
    context["form"] = form
    return render(request, "review/link_password.html", context, status=400 if context.get("wrong") else 200)


def _name_page(request, link: ReviewLink, context: dict):
    form = links.GuestNameForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        _remember(request, link, name=form.cleaned_data["name"])
        return redirect("review-link", context["token"])
    context["form"] = form
    return render(request, "review/link_name.html", context, status=400 if form.errors else 200)


def _side(request, link: ReviewLink, token: str, clip: Clip, *, form: CommentForm | None = None) -> dict:
    """One clip as a guest sees it: the player goes through the link, comments if allowed."""
    task = clip.task
    return {
        "clip": clip,
        "task": task,
        "settings": _settings(clip),
        "comments": panel_html(
            request,
            clip,
            membership=None,
            form=form,
            post_url=reverse("review-link-comment", args=[token, clip.pk]),
            can_comment=links.may_comment(link),
        ),
    }


def _settings(clip: Clip) -> list[tuple[str, str]]:
    """What the clip is, without where it was made: no route, no account."""
    task = clip.task
    parameters = task.parameters or {}
    rows = [
        ("Kind", task.get_kind_display()),
        ("Tier", task.get_tier_display()),
        ("Resolution", str(parameters.get("resolution") or f"{clip.height}p")),
        ("Aspect ratio", str(parameters.get("aspect_ratio") or "—")),
        ("Duration", f"{clip.duration_s:.1f} s"),
        ("Audio", "yes" if clip.has_audio else "no"),
    ]
    return rows


def _clip_page(request, link: ReviewLink, token: str, clip: Clip, *, form: CommentForm | None = None, status=200):
    context = _base_context(request, link, token)
    context.update(_side(request, link, token, clip, form=form))
    if link.kind in (ReviewLink.Kind.PLAYLIST, ReviewLink.Kind.FILTER):
        ids = list(links.selected_clips(link).values_list("pk", flat=True)[: links.MAX_LISTED])
        if clip.pk in ids:
            at = ids.index(clip.pk)
            context["position"] = (at + 1, len(ids))
            context["previous_id"] = ids[at - 1] if at > 0 else None
            context["next_id"] = ids[at + 1] if at + 1 < len(ids) else None
    return render(request, "review/link_clip.html", context, status=status)


def _selected(link: ReviewLink, clip_id: int) -> Clip:
    clip = links.clip_in_selection(link, clip_id)
    if clip is None:
        raise Http404("No such clip here.")
    return clip


@require_GET
@guest
def review_link_clip(request, link: ReviewLink, token: str, clip_id: int):
    if not _ready(request, link):
        return redirect("review-link", token)
    return _clip_page(request, link, token, _selected(link, clip_id))


@require_GET
@guest
def review_link_video(request, link: ReviewLink, token: str, clip_id: int):
    """The clip for the guest's player, through the link's checks (no public media URL)."""
    if not _unlocked(request, link):
        raise Http404("No such clip here.")
    clip = _selected(link, clip_id)
    response = ranged_storage_response(request, clip.file, content_type="video/mp4")
    # Revoking must stop playback at once: nothing is kept for later.
    response["Cache-Control"] = "private, no-store"
    if request.GET.get("download") == "1":
        name = f"{slugify(link.project.name) or 'project'}_clip-{clip.pk}.mp4"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_GET
@guest
def review_link_poster(request, link: ReviewLink, token: str, clip_id: int):
    if not _unlocked(request, link):
        raise Http404("No such clip here.")
    clip = _selected(link, clip_id)
    if not clip.poster:
        raise Http404("This clip has no poster.")
    response = ranged_storage_response(request, clip.poster, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


def _back(request, token: str, clip: Clip) -> str:
    """Where a guest's form came from, if that is a page of this very link."""
    back = request.POST.get("next", "")
    if back.startswith(reverse("review-link", args=[token])) and "//" not in back and "\\" not in back:
        return back
    return reverse("review-link-clip", args=[token, clip.pk])


@require_POST
@guest
def review_link_comment(request, link: ReviewLink, token: str, clip_id: int):
    """A guest's comment, under the name they gave, marked as a guest's."""
    if not _ready(request, link):
        return redirect("review-link", token)
    clip = _selected(link, clip_id)
    if not links.may_comment(link):
        raise PermissionDenied("This review link does not take comments.")
    form: CommentForm | None = CommentForm(request.POST, clip=clip)
    if form is not None and form.is_valid():
        add_comment(clip=clip, by=Commenter(guest_name=_guest_name(request, link), link=link), data=form.cleaned_data)
        form = None
        if not request.htmx:
            return redirect(_back(request, token, clip))
    status = 200 if form is None else 400
    if request.htmx:
        # The panel again, as the members' comment views answer it (templates/review/_comments.html);
        # a refused comment too, with its problem marked on the form, as 200: htmx swaps only 2xx answers.
        html = panel_html(
            request,
            clip,
            membership=None,
            form=form,
            post_url=reverse("review-link-comment", args=[token, clip.pk]),
            can_comment=True,
        )
        return HttpResponse(html)
    if link.kind == ReviewLink.Kind.PAIR and not request.POST.get("next", "").startswith(
        reverse("review-link-clip", args=[token, clip.pk])
    ):
        context = _base_context(request, link, token)
        context["sides"] = [
            _side(request, link, token, side, form=form if side.pk == clip.pk else None)
            for side in links.selected_clips(link)
        ]
        return render(request, "review/link_pair.html", context, status=status)
    return _clip_page(request, link, token, clip, form=form, status=status)


@require_POST
@guest
def review_link_status(request, link: ReviewLink, token: str, clip_id: int):
    """A guest approves the clip or asks for changes, with an optional note."""
    if not _ready(request, link):
        return redirect("review-link", token)
    clip = _selected(link, clip_id)
    if not links.may_set_status(link):
        raise PermissionDenied("This review link does not let guests approve or request changes.")
    problem = links.guest_review(
        link,
        clip,
        status=request.POST.get("review", ""),
        note=request.POST.get("note", ""),
        guest_name=_guest_name(request, link),
    )
    if problem:
        messages.error(request, problem)
    else:
        label = Clip.Review(request.POST["review"]).label.lower()
        messages.success(request, f"Marked {label}. Thank you, {_guest_name(request, link)}.")
    return redirect(_back(request, token, clip) + f"#review-{clip.pk}")
