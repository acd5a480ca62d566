"""Every URL × every role, generated from the URLconf: a new view without an entry here fails the suite.

Each view names who may use it with each method. Outsiders get 404 for
anything inside a project (they learn nothing, not even that it exists);
members who lack the right get 403; the anonymous are sent to log in; a
method a view does not take is 405 for everyone who is signed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from studio.clips.models import Clip
from studio.images.models import InputImage
from studio.projects.models import Invitation, Membership
from studio.review.models import Comment, Playlist, PlaylistItem, ReviewLink
from studio.tasks.models import Batch, Task

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "viewer", "reviewer", "editor", "owner")
# Who may: "public" (anyone, no login), "signed-in", "member", "reviewer" (not viewers), "editor", "owner",
# "token" (a public link: an unknown token is 404 for everyone), "sign-out"
# (everyone is sent to log in), "own" (the owner's own: anyone else signed in gets 404), or None (the view
# does not take this method).
RULES: dict[str, tuple[str | None, str | None]] = {
    # name: (GET, POST)
    "project-list": ("signed-in", None),
    "login": ("public", "public"),
    "logout": (None, "sign-out"),
    "project-detail": ("member", None),
    "project-new": ("signed-in", "signed-in"),
    "project-settings": ("member", "owner"),
    "project-archive": (None, "owner"),
    "project-delete": (None, "owner"),
    "members": ("member", "owner"),
    "project-activity": ("member", None),
    "member-role": (None, "owner"),
    "member-remove": (None, "owner"),
    "invitation-revoke": (None, "owner"),
    "invitation": ("token", "token"),
    # Each member's own inbox; the fixture's notification is the owner's, and nobody else's to open.
    "inbox": ("signed-in", None),
    "inbox-read-all": (None, "signed-in"),
    "inbox-settings": (None, "signed-in"),
    "inbox-open": ("own", None),
    # Review links: owners and editors make and revoke them; guests reach /r/<token>/ with the token alone.
    "review-links": ("editor", None),
    "review-link-new": ("editor", "editor"),
    "review-link-revoke": (None, "editor"),
    "review-link-feedback": ("editor", None),
    "review-link-feedback-csv": ("editor", None),
    "review-link": ("token", "token"),
    "review-link-clip": ("token", None),
    "review-link-video": ("token", None),
    "review-link-poster": ("token", None),
    "review-link-comment": (None, "token"),
    "review-link-status": (None, "token"),
    "comments": ("member", None),
    "comment-add": (None, "reviewer"),
    # The fixture's comment is the owner's: only its author edits it; its author or an owner deletes it.
    "comment-edit": (None, "owner"),
    "comment-delete": (None, "owner"),
    "comment-resolve": (None, "reviewer"),
    "prompt-library": ("member", None),
    "prompt-rename": (None, "editor"),
    "prompt-history": ("member", None),
    "prompt-diff": ("member", None),
    "prompt-restore": (None, "editor"),
    "prompt-fork": (None, "editor"),
    "draft": (None, "editor"),
    "draft-form": ("editor", None),
    "draft-quote": ("member", None),
    "new-grid": ("member", "editor"),
    "grid-quote": ("member", None),
    "batch-detail": ("member", None),
    "provider-accounts": ("member", "owner"),
    "provider-account-add": (None, "owner"),
    "provider-account-edit": ("owner", "owner"),
    "provider-account-test": (None, "owner"),
    "provider-account-row": ("member", None),
    "compare": ("member", None),
    "gallery": ("member", None),
    "gallery-zip": (None, "member"),
    "gallery-star": (None, "reviewer"),
    "gallery-review": (None, "reviewer"),
    "gallery-compare": (None, "member"),
    "compare-pick": ("member", "member"),
    "task-card": ("member", None),
    "live-cards": ("member", None),
    "promote": (None, "editor"),
    "send-again": (None, "editor"),
    "extend": ("editor", "editor"),
    "task-settle": (None, "owner"),
    "project-budget": ("owner", "owner"),
    "spend": ("editor", None),
    "spend-csv": ("editor", None),
    "provider-callback": (None, "token"),
    "clip": ("member", None),
    "clip-video": ("member", None),
    "clip-poster": ("member", None),
    # Playlists: every member watches and takes the feedback away; editors and owners change them.
    "playlists": ("member", "editor"),
    "playlist-add": (None, "editor"),
    "playlist": ("member", None),
    "playlist-rename": (None, "editor"),
    # Without confirm=1 a delete only asks, so the fixture's playlist is still there for the owner.
    "playlist-delete": (None, "editor"),
    "playlist-remove": (None, "editor"),
    "playlist-move": (None, "editor"),
    "playlist-order": (None, "editor"),
    "playlist-feedback": ("member", None),
    "playlist-feedback-csv": ("member", None),
    # A frame's still, checked like the clip's media (the fixture's clip is not a real video: 422).
    "clip-frame": ("member", None),
    "image-thumbnail": ("member", None),
    "image-public": ("token", None),
    # For load balancers: database, broker and storage reachable; no login, no secrets.
    "healthz": ("public", None),
    # The icon browsers ask for on their own: a redirect to the collected file.
    "favicon": ("public", None),
}
# Mounted apps with their own rules: Django's admin (staff only) and the simulator (provider keys).
MOUNTED_ELSEWHERE = ("admin/", "simulator/")
# Views that need no login: a method they do not take is 405 even for the anonymous.
NO_LOGIN = {name for name, rules in RULES.items() if {"public", "token", "sign-out"} & set(rules)}
RANK = {"viewer": 1, "reviewer": 2, "editor": 3, "owner": 4}
NEEDED = {"member": 1, "reviewer": 2, "editor": 3, "owner": 4}


def named_routes() -> dict[str, str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.name

    return {name: route for route, name in walk(get_resolver().url_patterns) if not route.startswith(MOUNTED_ELSEWHERE)}


def test_every_url_has_an_access_rule():
    routes = named_routes()
    assert None not in routes, "every URL needs a name, so it can have a rule here"
    assert set(routes) == set(RULES), f"add a rule for {set(routes) - set(RULES)}; drop {set(RULES) - set(routes)}"


@dataclass
class Studio:
    project_id: int
    kwargs: dict[str, dict]


@pytest.fixture
def studio(project, people, pending_task, media) -> Studio:
    owner = people["owner"]
    task = pending_task(project, owner)
    Task.objects.filter(pk=task.pk).update(state=Task.State.DONE)
    media.mkdir(parents=True, exist_ok=True)
    (media / "clip.mp4").write_bytes(b"\x00" * 64)
    (media / "poster.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 61)
    clip = Clip.objects.create(
        task=task,
        file="clip.mp4",
        poster="poster.jpg",
        duration_s=4,
        width=1280,
        height=720,
        has_audio=False,
        bytes=64,
        sha256="0" * 64,
    )
    batch = Batch.objects.create(project=project, kind=Batch.Kind.VARIATIONS, axes=[], created_by=owner)
    image = InputImage.objects.create(
        project=project,
        file="poster.jpg",
        thumbnail="poster.jpg",
        mime_type="image/jpeg",
        width=64,
        height=64,
        bytes=64,
        sha256="1" * 64,
    )
    extra = get_user_model().objects.create_user(username="extra", password="pw")
    extra_membership = Membership.objects.create(project=project, user=extra, role=Membership.Role.VIEWER)
    invitation = Invitation.objects.create(
        project=project, email="guest@example.com", token_digest="0" * 64, expires_at=timezone.now(), invited_by=owner
    )
    review_link = ReviewLink.objects.create(
        project=project, kind=ReviewLink.Kind.CLIP, clip=clip, token_sha256="0" * 64, created_by=owner
    )
    playlist = Playlist.objects.create(project=project, name="Dailies", created_by=owner)
    PlaylistItem.objects.create(playlist=playlist, clip=clip, position=0)
    version = task.prompt_version
    notification = owner.notifications.create(
        project=project, kind="status", words="Approved", link=f"/clips/{clip.pk}/"
    )
    comment = Comment.objects.create(project=project, clip=clip, author=owner, text="Keep the light", frame_in=12)
    in_project = {"project_id": project.pk}
    return Studio(
        project_id=project.pk,
        kwargs={
            "project-detail": in_project,
            "project-settings": in_project,
            "project-archive": in_project,
            "project-delete": in_project,
            "members": in_project,
            "project-activity": in_project,
            "draft": in_project,
            "draft-form": in_project,
            "draft-quote": in_project,
            "new-grid": in_project,
            "grid-quote": in_project,
            "provider-accounts": in_project,
            "provider-account-add": in_project,
            "compare": in_project,
            "live-cards": in_project,
            "gallery": in_project,
            "gallery-zip": in_project,
            "gallery-star": in_project,
            "gallery-review": in_project,
            "gallery-compare": in_project,
            "member-role": {**in_project, "membership_id": extra_membership.pk},
            "member-remove": {**in_project, "membership_id": extra_membership.pk},
            "invitation-revoke": {**in_project, "invitation_id": invitation.pk},
            "invitation": {"token": "not-a-real-token"},
            "inbox-open": {"notification_id": notification.pk},
            "review-links": in_project,
            "review-link-new": in_project,
            "review-link-revoke": {**in_project, "link_id": review_link.pk},
            "review-link-feedback": {**in_project, "link_id": review_link.pk},
            "review-link-feedback-csv": {**in_project, "link_id": review_link.pk},
            "review-link": {"token": "not-a-real-token"},
            "review-link-clip": {"token": "not-a-real-token", "clip_id": clip.pk},
            "review-link-video": {"token": "not-a-real-token", "clip_id": clip.pk},
            "review-link-poster": {"token": "not-a-real-token", "clip_id": clip.pk},
            "review-link-comment": {"token": "not-a-real-token", "clip_id": clip.pk},
            "review-link-status": {"token": "not-a-real-token", "clip_id": clip.pk},
            "comments": {"clip_id": clip.pk},
            "comment-add": {"clip_id": clip.pk},
            "comment-edit": {"comment_id": comment.pk},
            "comment-delete": {"comment_id": comment.pk},
            "comment-resolve": {"comment_id": comment.pk},
            "prompt-library": in_project,
            "prompt-rename": {"prompt_id": version.prompt_id},
            "prompt-history": {"prompt_id": version.prompt_id},
            "prompt-diff": {"prompt_id": version.prompt_id},
            "prompt-restore": {"prompt_id": version.prompt_id, "number": version.number},
            "prompt-fork": {"prompt_id": version.prompt_id, "number": version.number},
            "batch-detail": {"batch_id": batch.pk},
            "provider-account-edit": {"account_id": project.draft_account.pk},
            "provider-account-test": {"account_id": project.draft_account.pk},
            "provider-account-row": {"account_id": project.draft_account.pk},
            "compare-pick": {"clip_id": clip.pk},
            "task-card": {"task_id": task.pk},
            "promote": {"task_id": task.pk},
            "send-again": {"task_id": task.pk},
            "extend": {"task_id": task.pk},
            "task-settle": {"task_id": task.pk},
            "project-budget": in_project,
            "spend": in_project,
            "spend-csv": in_project,
            "provider-callback": {"token": "not-a-real-token"},
            "clip": {"clip_id": clip.pk},
            "clip-video": {"clip_id": clip.pk},
            "clip-poster": {"clip_id": clip.pk},
            "playlists": in_project,
            "playlist-add": in_project,
            "playlist": {"playlist_id": playlist.pk},
            "playlist-rename": {"playlist_id": playlist.pk},
            "playlist-delete": {"playlist_id": playlist.pk},
            "playlist-remove": {"playlist_id": playlist.pk},
            "playlist-move": {"playlist_id": playlist.pk},
            "playlist-order": {"playlist_id": playlist.pk},
            "playlist-feedback": {"playlist_id": playlist.pk},
            "playlist-feedback-csv": {"playlist_id": playlist.pk},
            "clip-frame": {"clip_id": clip.pk, "frame": 0},
            "image-thumbnail": {"image_id": image.pk},
            "image-public": {"token": "not-a-real-token"},
        },
    )


def expected(name: str, rule: str | None, role: str) -> str:
    """What this role must meet: "ok", "login", "404", "403" or "405"."""
    if rule is None and name in NO_LOGIN:
        return "405"
    if rule == "sign-out":
        return "login"
    if rule == "public":
        return "ok"
    if rule == "token":
        return "404"
    if role == "anonymous":
        return "login"
    if rule is None:
        return "405"
    if rule == "signed-in":
        return "ok"
    if rule == "own":
        return "ok" if role == "owner" else "404"
    if role == "outsider":
        return "404"
    return "ok" if RANK[role] >= NEEDED[rule] else "403"


def outcome(status: int, location: str) -> str:
    if status == 302 and location.startswith("/login/"):
        return "login"
    if status in (403, 404, 405):
        return str(status)
    assert status < 500, f"server error {status}"
    return "ok"


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_each_role_gets_what_the_rule_says(name, method, studio, clients):
    rule = RULES[name][0 if method == "GET" else 1]
    url = reverse(name, kwargs=studio.kwargs.get(name, {}))
    seen, wanted = {}, {}
    for role in ROLES:
        client = Client() if role == "anonymous" else clients[role]
        answer = client.get(url) if method == "GET" else client.post(url, {})
        seen[role] = outcome(answer.status_code, answer.get("Location", ""))
        wanted[role] = expected(name, rule, role)
    assert seen == wanted
