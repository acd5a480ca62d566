"""Review links: made by owners and editors, shown once, revoked at once; a guest sees exactly the
link's selection and nothing else, through a password and a name, comments and approves as a guest;
hostile input is stored as text and shown escaped; requests are limited per client address."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studio.clips.models import Clip
from studio.limits.models import LinkMisses
from studio.review import links
from studio.review.models import GUEST_NAME_MAX_LENGTH, Comment, Notification, Playlist, PlaylistItem, ReviewLink
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><b onmouseover="steal()">bold</b>'


@pytest.fixture
def clip_of(project, people, pending_task, archived_clip, media):
    """`clip_of(project=…, kind=…, text=…)`: a finished clip with a poster."""

    def make(in_project=None, *, kind="draft", text="Waves on basalt", promoted_from=None) -> Clip:
        where = in_project or project
        task = pending_task(where, people["owner"], kind=kind, text=text, promoted_from=promoted_from)
        clip = archived_clip(task, content=b"video bytes of task %d" % task.pk)
        (media / f"poster-{task.pk}.jpg").write_bytes(b"\xff\xd8\xff poster")
        Clip.objects.filter(pk=clip.pk).update(poster=f"poster-{task.pk}.jpg")
        clip.refresh_from_db()
        return clip

    return make


@pytest.fixture
def make_link(project, people):
    """`make_link(kind=…, **options)` → (link, token), as the owner makes it."""

    def make(kind=ReviewLink.Kind.CLIP, *, in_project=None, **options) -> tuple[ReviewLink, str]:
        data = {
            "kind": kind,
            "allow_comments": True,
            "allow_status": True,
            "show_prompts": True,
            "show_costs": False,
            **options,
        }
        made = links.create_link(project=in_project or project, by=people["owner"], data=data)
        return made.link, made.token

    return make


def guest_in(token: str, *, name: str = "Ana", password: str = "") -> Client:
    """A browser without an account that has opened the link, given its password and a name."""
    guest = Client()
    if password:
        assert guest.post(f"/r/{token}/", {"password": password}).status_code == 302
    if name:
        answer = guest.post(f"/r/{token}/", {"name": name})
        assert answer.status_code == 302, answer.content.decode()[:500]
    return guest


# --- Making, listing, revoking --------------------------------------------------------------------


def test_an_editor_makes_a_link_and_sees_its_address_once_and_only_its_digest_is_kept(clients, project, clip_of):
    clip = clip_of()
    editor = clients["editor"]
    form = editor.get(reverse("review-link-new", args=[project.pk]) + f"?clip={clip.pk}")
    assert form.status_code == 200 and f'value="{clip.pk}"' in form.content.decode()
    answer = editor.post(
        reverse("review-link-new", args=[project.pk]),
        {"kind": "clip", "clip": clip.pk, "allow_comments": "on", "password": "tide pools", "title": "For Ana"},
    )
    assert answer.status_code == 200
    page = answer.content.decode()
    link = ReviewLink.objects.get()
    start = page.index("http://testserver/r/")
    url = page[start : page.index('"', start)]
    token = url.removeprefix("http://testserver/r/").rstrip("/")
    assert len(token) >= 43
    assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(ReviewLink.objects.values().get())
    assert link.password and link.password != "tide pools"
    assert link.clip_id == clip.pk and link.allow_comments and not link.allow_status
    # The list shows the link, never its token again.
    listed = editor.get(reverse("review-links", args=[project.pk])).content.decode()
    assert "For Ana" in listed and token not in listed and "not yet" in listed


def test_reviewers_and_viewers_cannot_make_or_revoke_links(clients, project, clip_of, make_link):
    clip = clip_of()
    link, _token = make_link(clip=clip)
    for role in ("reviewer", "viewer"):
        made = clients[role].post(reverse("review-link-new", args=[project.pk]), {"kind": "clip", "clip": clip.pk})
        assert made.status_code == 403
        revoked = clients[role].post(reverse("review-link-revoke", args=[project.pk, link.pk]))
        assert revoked.status_code == 403
    assert ReviewLink.objects.count() == 1 and ReviewLink.objects.get().revoked_at is None


def test_a_link_cannot_name_a_clip_of_another_project(clients, project, people, make_project, clip_of):
    other = make_project(people, name="Elsewhere")
    foreign = clip_of(other)
    answer = clients["owner"].post(
        reverse("review-link-new", args=[project.pk]), {"kind": "clip", "clip": foreign.pk, "allow_comments": "on"}
    )
    assert answer.status_code == 400
    assert f"This project has no clip #{foreign.pk}." in answer.content.decode()
    assert not ReviewLink.objects.exists()


def test_a_filter_link_takes_the_gallery_address_and_refuses_no_filters(clients, project):
    new = reverse("review-link-new", args=[project.pk])
    owner = clients["owner"]
    refused = owner.post(new, {"kind": "filter", "filter_query": f"http://testserver/projects/{project.pk}/gallery"})
    assert refused.status_code == 400 and "would show every clip" in refused.content.decode()
    made = owner.post(new, {"kind": "filter", "filter_query": f"/projects/{project.pk}/gallery?kind=final&after=x"})
    assert made.status_code == 200
    assert ReviewLink.objects.get().filter_query == "kind=final"


def test_revoking_closes_the_link_at_once_and_keeps_the_guests_comments(clients, project, clip_of, make_link):
    clip = clip_of()
    link, token = make_link(clip=clip)
    guest = guest_in(token)
    guest.post(reverse("review-link-comment", args=[token, clip.pk]), {"text": "Warmer light, please"})
    answer = clients["editor"].post(reverse("review-link-revoke", args=[project.pk, link.pk]))
    assert answer.status_code == 302
    for url in (f"/r/{token}/", f"/r/{token}/clips/{clip.pk}/", f"/r/{token}/clips/{clip.pk}/video"):
        assert guest.get(url).status_code == 404
    comment = Comment.objects.get()
    assert comment.review_link_id == link.pk and comment.guest_name == "Ana"
    member_page = clients["viewer"].get(reverse("clip", args=[clip.pk])).content.decode()
    assert "Warmer light, please" in member_page
    assert "Revoked" in clients["owner"].get(reverse("review-links", args=[project.pk])).content.decode()


# --- Exactly the selection --------------------------------------------------------------------------


def _guest_urls(token: str, clip_id: int) -> list[str]:
    return [
        f"/r/{token}/clips/{clip_id}/",
        f"/r/{token}/clips/{clip_id}/video",
        f"/r/{token}/clips/{clip_id}/poster",
    ]


def test_a_clip_link_gives_its_clip_and_nothing_else(project, people, make_project, clip_of, make_link):
    clip, neighbour = clip_of(), clip_of(text="Another clip of the same project")
    foreign = clip_of(make_project(people, name="Elsewhere"))
    _link, token = make_link(clip=clip)
    guest = guest_in(token)
    page = guest.get(f"/r/{token}/")
    assert page.status_code == 200
    assert f"/r/{token}/clips/{clip.pk}/video" in page.content.decode()
    video = guest.get(f"/r/{token}/clips/{clip.pk}/video")
    assert video.status_code == 200 and b"".join(video.streaming_content) == b"video bytes of task %d" % clip.task_id
    assert guest.get(f"/r/{token}/clips/{clip.pk}/poster").status_code == 200
    for other in (neighbour, foreign):
        for url in _guest_urls(token, other.pk):
            assert guest.get(url).status_code == 404, url
        assert guest.post(f"/r/{token}/clips/{other.pk}/comments", {"text": "hi"}).status_code == 404
        assert guest.post(f"/r/{token}/clips/{other.pk}/review", {"review": "approved"}).status_code == 404
    assert not Comment.objects.exists()
    assert Clip.objects.filter(review_status=Clip.Review.APPROVED).count() == 0


def test_a_token_of_another_project_reaches_none_of_this_projects_clips(
    project, people, make_project, clip_of, make_link
):
    ours = clip_of()
    other_project = make_project(people, name="Elsewhere")
    theirs = clip_of(other_project)
    _link, token = make_link(clip=theirs, in_project=other_project)
    guest = guest_in(token)
    assert guest.get(f"/r/{token}/clips/{theirs.pk}/").status_code == 200
    for url in _guest_urls(token, ours.pk):
        assert guest.get(url).status_code == 404
    assert guest.post(f"/r/{token}/clips/{ours.pk}/comments", {"text": "hi"}).status_code == 404
    assert guest.post(f"/r/{token}/clips/{ours.pk}/review", {"review": "approved"}).status_code == 404
    assert not Comment.objects.filter(clip=ours).exists()


def test_a_pair_link_shows_both_sides_and_no_third_clip(clip_of, make_link):
    draft = clip_of(text="The draft")
    final = clip_of(kind="final", promoted_from=draft.task)
    third = clip_of(text="A third clip")
    _link, token = make_link(ReviewLink.Kind.PAIR, clip=draft, other_clip=final)
    guest = guest_in(token)
    page = guest.get(f"/r/{token}/").content.decode()
    assert f"/r/{token}/clips/{draft.pk}/video" in page and f"/r/{token}/clips/{final.pk}/video" in page
    assert "The draft" in page
    assert guest.get(f"/r/{token}/clips/{final.pk}/").status_code == 200
    for url in _guest_urls(token, third.pk):
        assert guest.get(url).status_code == 404


def test_a_playlist_link_lists_its_clips_in_order_and_only_them(project, people, clip_of, make_link):
    first, second, outside = clip_of(), clip_of(), clip_of()
    playlist = Playlist.objects.create(project=project, name="Client cut", created_by=people["owner"])
    PlaylistItem.objects.create(playlist=playlist, clip=second, position=1)
    PlaylistItem.objects.create(playlist=playlist, clip=first, position=2)
    _link, token = make_link(ReviewLink.Kind.PLAYLIST, playlist=playlist)
    guest = guest_in(token)
    page = guest.get(f"/r/{token}/").content.decode()
    assert page.index(f"/r/{token}/clips/{second.pk}/") < page.index(f"/r/{token}/clips/{first.pk}/")
    assert f"/clips/{outside.pk}/" not in page
    assert guest.get(f"/r/{token}/clips/{first.pk}/").status_code == 200
    for url in _guest_urls(token, outside.pk):
        assert guest.get(url).status_code == 404


def test_a_filter_link_shows_what_the_gallery_filter_selects(clip_of, make_link):
    draft = clip_of()
    final = clip_of(kind="final", promoted_from=draft.task)
    _link, token = make_link(ReviewLink.Kind.FILTER, filter_query="kind=final")
    guest = guest_in(token)
    page = guest.get(f"/r/{token}/").content.decode()
    assert f"/r/{token}/clips/{final.pk}/" in page and f"/clips/{draft.pk}/" not in page
    assert guest.get(f"/r/{token}/clips/{final.pk}/video").status_code == 200
    assert guest.get(f"/r/{token}/clips/{draft.pk}/video").status_code == 404


def test_revoked_expired_and_unknown_tokens_answer_the_same_404(clip_of, make_link, people):
    clip = clip_of()
    revoked, revoked_token = make_link(clip=clip)
    links.revoke(revoked, by=people["owner"])
    expired, expired_token = make_link(clip=clip)
    ReviewLink.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    unknown = Client().get("/r/not-a-token-anyone-made/")
    assert unknown.status_code == 404
    for token in (revoked_token, expired_token):
        guest = Client()
        answer = guest.get(f"/r/{token}/")
        assert (answer.status_code, answer.content) == (404, unknown.content)
        for url in _guest_urls(token, clip.pk):
            assert guest.get(url).status_code == 404
        assert guest.post(f"/r/{token}/", {"name": "Ana"}).status_code == 404


def test_a_link_expiring_today_works_until_the_end_of_the_day(clip_of, make_link):
    _link, token = make_link(clip=clip_of(), expires_on=timezone.localdate())
    assert guest_in(token).get(f"/r/{token}/").status_code == 200


# --- Password and name ------------------------------------------------------------------------------


def test_a_wrong_password_never_shows_the_clip(clip_of, make_link):
    clip = clip_of(text="Secret lighthouse words")
    _link, token = make_link(clip=clip, password="tide pools")
    guest = Client()
    first = guest.get(f"/r/{token}/").content.decode()
    assert "has a password" in first and "Secret lighthouse" not in first and "/video" not in first
    wrong = guest.post(f"/r/{token}/", {"password": "tide pool"})
    assert wrong.status_code == 400
    assert "That password is not right." in wrong.content.decode()
    assert "Secret lighthouse" not in wrong.content.decode()
    for url in _guest_urls(token, clip.pk):
        answer = guest.get(url)
        assert answer.status_code in (302, 404) and b"video bytes" not in answer.getvalue()
    assert guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "sneaky"}).status_code == 302
    assert not Comment.objects.exists()
    right = guest.post(f"/r/{token}/", {"password": "tide pools"})
    assert right.status_code == 302
    assert guest.post(f"/r/{token}/", {"name": "Ana"}).status_code == 302
    assert "Secret lighthouse words" in guest.get(f"/r/{token}/").content.decode()
    assert guest.get(f"/r/{token}/clips/{clip.pk}/video").status_code == 200


def test_ten_wrong_passwords_lock_the_address_out_of_that_link(clip_of, make_link):
    _link, token = make_link(clip=clip_of(), password="tide pools")
    guest = Client()
    for _ in range(links.PASSWORD_TRIES):
        assert guest.post(f"/r/{token}/", {"password": "guess"}).status_code == 400
    locked = guest.post(f"/r/{token}/", {"password": "tide pools"})
    assert locked.status_code == 429
    assert "Too many wrong passwords for this link" in locked.content.decode()
    assert int(locked["Retry-After"]) > 0


def test_the_password_is_remembered_per_link(clip_of, make_link):
    clip = clip_of()
    _one, one_token = make_link(clip=clip, password="first")
    _two, two_token = make_link(clip=clip, password="second")
    guest = guest_in(one_token, password="first")
    assert guest.get(f"/r/{one_token}/clips/{clip.pk}/video").status_code == 200
    assert "has a password" in guest.get(f"/r/{two_token}/").content.decode()
    assert guest.get(f"/r/{two_token}/clips/{clip.pk}/video").status_code == 404


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give a name first"),
        ("   ", "Give a name first"),
        ("Ana\x00", "Remove the NUL character"),
        ("A" * (GUEST_NAME_MAX_LENGTH + 1), f"at most {GUEST_NAME_MAX_LENGTH} characters"),
    ],
)
def test_a_guest_name_that_cannot_be_kept_is_refused_inline(clip_of, make_link, name, message):
    _link, token = make_link(clip=clip_of())
    guest = Client()
    answer = guest.post(f"/r/{token}/", {"name": name})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    # Still asked for, nothing shown.
    assert "Who is watching?" in guest.get(f"/r/{token}/").content.decode()


def test_a_hostile_guest_name_is_kept_as_text_and_shown_escaped(clients, clip_of, make_link):
    clip = clip_of()
    name = '<img src=x onerror="alert(1)">'
    _link, token = make_link(clip=clip)
    guest = guest_in(token, name=name)
    page = guest.get(f"/r/{token}/").content.decode()
    assert name not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "Fine"})
    guest.post(f"/r/{token}/clips/{clip.pk}/review", {"review": "approved"})
    assert Comment.objects.get().guest_name == name
    member_page = clients["owner"].get(reverse("clip", args=[clip.pk])).content.decode()
    assert name not in member_page and "&lt;img src=x onerror=" in member_page


# --- Comments and status ------------------------------------------------------------------------------


def test_a_guest_comment_is_stored_as_typed_and_shown_escaped_to_guests_and_members(clients, clip_of, make_link):
    clip = clip_of()
    link, token = make_link(clip=clip)
    guest = guest_in(token, name="Ana")
    answer = guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": HOSTILE, "next": f"/r/{token}/"})
    assert answer.status_code == 302 and answer["Location"] == f"/r/{token}/"
    comment = Comment.objects.get()
    assert comment.text == HOSTILE
    assert (comment.author, comment.guest_name, comment.review_link_id) == (None, "Ana", link.pk)
    for page in (guest.get(f"/r/{token}/"), clients["viewer"].get(reverse("clip", args=[clip.pk]))):
        html = page.content.decode()
        assert HOSTILE not in html and "<script>alert" not in html
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_a_guest_comment_by_htmx_gets_the_panel_back(clip_of, make_link):
    clip = clip_of()
    _link, token = make_link(clip=clip)
    guest = guest_in(token)
    answer = guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "At the horizon"}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert f'id="comments-{clip.pk}"' in html and "At the horizon" in html and "guest" in html


def test_a_refused_guest_comment_by_htmx_comes_back_in_the_panel_with_its_problem(clip_of, make_link):
    clip = clip_of()
    _link, token = make_link(clip=clip)
    guest = guest_in(token)
    answer = guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "z" * 5001}, HTTP_HX_REQUEST="true")
    # htmx swaps only 2xx answers: the refusal is marked on the panel's form.
    assert answer.status_code == 200
    assert (
        "at most 5000 characters" in answer.content.decode() and f'id="comments-{clip.pk}"' in answer.content.decode()
    )
    assert not Comment.objects.exists()


def test_a_very_long_guest_comment_is_refused_with_a_clear_message(clip_of, make_link):
    clip = clip_of()
    _link, token = make_link(clip=clip)
    guest = guest_in(token)
    answer = guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "x" * 5001})
    assert answer.status_code == 400
    assert "at most 5000 characters" in answer.content.decode()
    assert not Comment.objects.exists()
    kept = guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "y" * 5000})
    assert kept.status_code == 302 and len(Comment.objects.get().text) == 5000


def test_a_guest_cannot_comment_or_approve_where_the_link_does_not_allow_it(clip_of, make_link):
    clip = clip_of()
    _link, token = make_link(clip=clip, allow_comments=False, allow_status=False)
    guest = Client()
    page = guest.get(f"/r/{token}/").content.decode()
    # Watching only: no name asked, no forms.
    assert "Who is watching?" not in page
    assert f"/r/{token}/clips/{clip.pk}/comments" not in page and f"/r/{token}/clips/{clip.pk}/review" not in page
    assert f"/r/{token}/clips/{clip.pk}/video" in page
    assert guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "hi"}).status_code == 403
    assert guest.post(f"/r/{token}/clips/{clip.pk}/review", {"review": "approved"}).status_code == 403
    assert not Comment.objects.exists()
    clip.refresh_from_db()
    assert clip.review_status == Clip.Review.NEEDS_REVIEW


def test_a_guest_approves_under_their_name_and_no_account_is_recorded(clients, clip_of, make_link):
    clip = clip_of()
    _link, token = make_link(clip=clip)
    guest = guest_in(token, name="Ana Lima")
    answer = guest.post(f"/r/{token}/clips/{clip.pk}/review", {"review": "approved", "note": "  Lovely  dawn "})
    assert answer.status_code == 302
    clip.refresh_from_db()
    assert clip.review_status == Clip.Review.APPROVED
    assert clip.reviewed_by is None and clip.reviewed_at is not None
    assert clip.review_note == "Ana Lima (guest): Lovely dawn"
    changes = guest.post(f"/r/{token}/clips/{clip.pk}/review", {"review": "changes"})
    assert changes.status_code == 302
    clip.refresh_from_db()
    assert (clip.review_status, clip.review_note) == (Clip.Review.CHANGES_REQUESTED, "Ana Lima (guest)")
    # Guests approve or ask for changes; they do not put a clip back to review.
    guest.post(f"/r/{token}/clips/{clip.pk}/review", {"review": "needs_review"})
    clip.refresh_from_db()
    assert clip.review_status == Clip.Review.CHANGES_REQUESTED
    feed = clients["owner"].get(reverse("project-activity", args=[clip.task.project_id])).content.decode()
    assert "Ana Lima (guest) marked clip" in feed
    # Whoever made the clip is told, under the guest's name.
    told = Notification.objects.filter(user=clip.task.created_by, kind=Notification.Kind.STATUS)
    first = told.order_by("pk").first()
    assert first is not None and first.words.startswith("Ana Lima (guest)") and "Lovely dawn" in first.words


def test_guest_posts_need_the_csrf_token(clip_of, make_link):
    clip = clip_of()
    _link, token = make_link(clip=clip)
    guest = Client(enforce_csrf_checks=True)
    page = guest.get(f"/r/{token}/")
    assert page.status_code == 200
    assert guest.post(f"/r/{token}/", {"name": "Ana"}).status_code == 403
    csrf = guest.cookies["csrftoken"].value
    assert guest.post(f"/r/{token}/", {"name": "Ana", "csrfmiddlewaretoken": csrf}).status_code == 302
    assert guest.post(f"/r/{token}/clips/{clip.pk}/comments", {"text": "no token"}).status_code == 403
    assert not Comment.objects.exists()


# --- What a guest sees ------------------------------------------------------------------------------


def test_costs_and_prompts_show_only_when_the_link_says_so_and_keys_never(project, sim_key, clip_of, make_link):
    clip = clip_of(text="Moonrise over the harbour, slow dolly")
    Task.objects.filter(pk=clip.task_id).update(cost_estimate=Decimal("1.20"))
    _plain, plain_token = make_link(clip=clip, show_prompts=False, show_costs=False)
    _full, full_token = make_link(clip=clip, show_prompts=True, show_costs=True)
    plain = guest_in(plain_token).get(f"/r/{plain_token}/").content.decode()
    full = guest_in(full_token).get(f"/r/{full_token}/").content.decode()
    assert "Moonrise over the harbour" not in plain and "1.20" not in plain and "Cost" not in plain
    assert "Moonrise over the harbour" in full and "1.20" in full
    for page in (plain, full):
        assert sim_key not in page
        assert project.draft_account.label not in page
        assert "videos-gateway" not in page
        assert reverse("project-detail", args=[project.pk]) not in page


def test_use_is_noted_as_the_links_last_use(clip_of, make_link):
    link, token = make_link(clip=clip_of())
    assert link.last_used_at is None
    guest_in(token).get(f"/r/{token}/")
    link.refresh_from_db()
    assert link.last_used_at is not None and timezone.now() - link.last_used_at < timedelta(minutes=1)


# --- Limits -----------------------------------------------------------------------------------------


def test_too_many_requests_to_one_link_from_one_address_get_429(monkeypatch, clip_of, make_link):
    monkeypatch.setattr(links, "REQUESTS_PER_LINK", 5)
    clip = clip_of()
    _link, token = make_link(clip=clip)
    _other, other_token = make_link(clip=clip)
    guest = guest_in(token)  # one request
    for _ in range(4):
        assert guest.get(f"/r/{token}/").status_code == 200
    refused = guest.get(f"/r/{token}/clips/{clip.pk}/video")
    assert refused.status_code == 429
    assert "Too many requests to this review link from your address." in refused.content.decode()
    # Another address, or another link, is counted apart.
    assert guest_in(token, name="").get(f"/r/{token}/", REMOTE_ADDR="10.0.0.9").status_code == 200
    assert guest_in(other_token).get(f"/r/{other_token}/").status_code == 200


def test_many_unknown_tokens_from_one_address_are_refused_a_while(make_link, clip_of):
    _link, token = make_link(clip=clip_of())
    prober = Client()
    for n in range(links.UNKNOWN_LINKS.misses):
        assert prober.get(f"/r/guess-{n}/").status_code == 404
    refused = prober.get(f"/r/{token}/")
    assert refused.status_code == 429 and "Too many unknown review links" in refused.content.decode()
    assert LinkMisses.objects.filter(link="review links").get().misses == links.UNKNOWN_LINKS.misses


def test_a_links_feedback_prints_and_exports_what_was_said_on_its_clips_only(
    clients, project, people, pending_task, archived_clip
):
    from studio.review.comments import Commenter, add_comment
    from studio.review.models import ReviewLink

    shared = archived_clip(pending_task(project, people["owner"], text="Shared take"))
    other = archived_clip(pending_task(project, people["owner"], text="Not shared"))
    link = ReviewLink.objects.create(
        project=project, kind=ReviewLink.Kind.CLIP, clip=shared, token_sha256=ReviewLink.digest("t" * 40)
    )
    add_comment(clip=shared, by=Commenter(guest_name="Ana", link=link), data={"text": "=HYPERLINK(1) hold longer"})
    add_comment(clip=other, by=Commenter(user=people["editor"]), data={"text": "Internal note"})
    page = clients["editor"].get(f"/projects/{project.pk}/review-links/{link.pk}/feedback").content.decode()
    assert "hold longer" in page and "Internal note" not in page and "Ana" in page
    csv_text = clients["editor"].get(f"/projects/{project.pk}/review-links/{link.pk}/feedback.csv").content.decode()
    assert "'=HYPERLINK(1) hold longer" in csv_text and "Internal note" not in csv_text
    assert clients["reviewer"].get(f"/projects/{project.pk}/review-links/{link.pk}/feedback").status_code == 403
