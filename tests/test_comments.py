"""Comments on clips: frames and ranges, drawings, threads, mentions, edit/delete/resolve, and hostile input."""

from __future__ import annotations

import json

import pytest

from studio.review.drawing import MAX_SHAPES
from studio.review.models import Comment, Notification

pytestmark = pytest.mark.django_db

ARROW = [{"type": "arrow", "color": "#ff5050", "from": [0.2, 0.3], "to": [0.6, 0.5]}]


@pytest.fixture
def clip(project, people, pending_task, archived_clip):
    """A done 4 s draft at 24 fps: frames 0 to 95."""
    return archived_clip(pending_task(project, people["owner"]))


def post(client, clip, htmx=True, **fields):
    shown = {k: json.dumps(v) if k == "drawing" and not isinstance(v, str) else v for k, v in fields.items()}
    data = {"text": "Push in slower", **shown}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(f"/clips/{clip.pk}/comments/add", data, **headers)


def test_a_reviewer_comments_at_a_frame_with_an_arrow_and_the_clip_page_shows_it(clients, clip):
    answer = post(clients["reviewer"], clip, frame_in=48, drawing=ARROW)
    assert answer.status_code == 200
    comment = Comment.objects.get()
    assert (comment.frame_in, comment.frame_out, comment.author.username) == (48, None, "reviewer")
    assert comment.drawing == ARROW
    page = clients["viewer"].get(f"/clips/{clip.pk}/").content.decode()
    assert f'id="comment-{comment.pk}"' in page and 'data-frame-in="48"' in page
    # As JSON in an escaped attribute (PostgreSQL's jsonb keeps the keys in an order of its own).
    assert 'data-drawing="[{&quot;' in page and "&quot;type&quot;:&quot;arrow&quot;" in page
    assert 'data-action="seek" data-frame="48"' in page


def test_a_range_is_kept_and_a_one_frame_range_is_a_frame(clients, clip):
    post(clients["editor"], clip, frame_in=10, frame_out=20)
    post(clients["editor"], clip, frame_in=30, frame_out=30)
    assert list(Comment.objects.order_by("pk").values_list("frame_in", "frame_out")) == [(10, 20), (30, None)]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"frame_in": 96}, "This clip has frames 0 to 95."),
        ({"frame_in": 20, "frame_out": 10}, "A range ends after it starts."),
        ({"frame_out": 10}, "A range needs its first frame too."),
        ({"drawing": ARROW}, "A drawing belongs to a frame"),
        ({"frame_in": 1, "drawing": "not json"}, "not a drawing this page made"),
        ({"frame_in": 1, "drawing": {"type": "arrow"}}, "should be a list of shapes"),
        ({"frame_in": 1, "drawing": [{"type": "circle", "color": "#ffffff"}]}, "pen, arrow, rect or text"),
        ({"frame_in": 1, "drawing": [{**ARROW[0], "to": [1.5, 0]}]}, "lies outside the frame"),
        ({"frame_in": 1, "drawing": [{**ARROW[0], "color": "red;x"}]}, "not #rrggbb"),
        ({"frame_in": 1, "drawing": [{**ARROW[0], "onclick": "x"}]}, "carries something a drawing does not hold"),
        ({"frame_in": 1, "drawing": ARROW * (MAX_SHAPES + 1)}, f"at most {MAX_SHAPES} shapes"),
        ({"frame_in": 1, "drawing": [{"type": "pen", "color": "#ffffff", "points": [[0.5, 0.5]] * 5000}]}, "too large"),
        ({"text": "x" * 5001}, "at most 5000 characters"),
        ({"text": "   "}, "Write the comment first."),
        ({"text": "bad\x00words"}, "Remove the NUL character"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_stored(clients, clip, fields, problem):
    answer = post(clients["reviewer"], clip, **fields)
    assert answer.status_code == 200  # htmx swaps the panel with the problem on its form
    assert problem in answer.content.decode()
    assert not Comment.objects.exists()
    plain = post(clients["reviewer"], clip, htmx=False, **fields)
    assert plain.status_code == 400 and problem in plain.content.decode()


def test_script_and_html_are_stored_as_text_and_shown_escaped(clients, clip):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
    post(clients["reviewer"], clip, text=hostile)
    assert Comment.objects.get().text == hostile
    page = clients["owner"].get(f"/clips/{clip.pk}/").content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_links_are_made_clickable_safely(clients, clip):
    post(clients["reviewer"], clip, text='See https://example.com/ref?a=1&b=2 and javascript:alert(1) "x"')
    page = clients["owner"].get(f"/clips/{clip.pk}/").content.decode()
    assert '<a href="https://example.com/ref?a=1&amp;b=2" rel="nofollow">' in page
    assert 'href="javascript:' not in page


def test_a_reply_joins_its_thread_and_tells_those_in_it(clients, clip, people):
    post(clients["editor"], clip, text="Too dark", frame_in=5)
    head = Comment.objects.get()
    post(clients["reviewer"], clip, text="Agreed", parent=head.pk, frame_in=9)
    reply = Comment.objects.get(text="Agreed")
    post(clients["owner"], clip, text="Fixing", parent=reply.pk)
    last = Comment.objects.get(text="Fixing")
    assert reply.parent_id == head.pk and last.parent_id == head.pk  # one level deep
    assert reply.frame_in is None  # a reply's frame is its thread's
    told = sorted(Notification.objects.filter(kind="reply").values_list("user__username", "comment__text"))
    assert told == [("editor", "Agreed"), ("editor", "Fixing"), ("reviewer", "Fixing")]


def test_a_mention_tells_that_member_once_and_nobody_outside(clients, clip, people):
    post(clients["reviewer"], clip, text="@editor and @Editor, see this. @outsider too. mail@editor.com")
    assert list(Notification.objects.values_list("user__username", "kind")) == [("editor", "mention")]
    assert list(Comment.objects.get().mentions.values_list("username", flat=True)) == ["editor"]


def test_nobody_is_told_about_their_own_comment(clients, clip):
    post(clients["editor"], clip, text="Note to self @editor")
    assert not Notification.objects.exists()


def test_viewers_watch_and_do_not_comment(clients, clip):
    assert post(clients["viewer"], clip).status_code == 403
    assert not Comment.objects.exists()


def test_only_the_author_edits_and_an_owner_may_delete_anyones(clients, clip):
    post(clients["reviewer"], clip, text="Original")
    comment = Comment.objects.get()
    assert clients["editor"].post(f"/comments/{comment.pk}/edit", {"text": "Hijacked"}).status_code == 403
    assert clients["reviewer"].post(f"/comments/{comment.pk}/edit", {"text": "Better words"}).status_code == 302
    comment.refresh_from_db()
    assert comment.text == "Better words" and comment.edited_at is not None
    assert clients["editor"].post(f"/comments/{comment.pk}/delete").status_code == 403
    assert clients["owner"].post(f"/comments/{comment.pk}/delete").status_code == 302
    assert not Comment.objects.exists()


def test_an_edit_that_empties_a_comment_is_refused_and_changes_nothing(clients, clip):
    post(clients["reviewer"], clip, text="Original")
    comment = Comment.objects.get()
    answer = clients["reviewer"].post(f"/comments/{comment.pk}/edit", {"text": ""}, HTTP_HX_REQUEST="true")
    assert "A comment needs words." in answer.content.decode()
    comment.refresh_from_db()
    assert comment.text == "Original"


def test_resolve_and_reopen(clients, clip):
    post(clients["editor"], clip, text="Fix the flicker", frame_in=3)
    comment = Comment.objects.get()
    clients["reviewer"].post(f"/comments/{comment.pk}/resolve", {"resolved": "1"})
    comment.refresh_from_db()
    assert comment.is_resolved and comment.resolved_by_name == "reviewer"
    panel = clients["owner"].get(f"/clips/{clip.pk}/comments").content.decode()
    assert "1 · 0 open" in panel and ">Reopen</button>" in panel
    clients["reviewer"].post(f"/comments/{comment.pk}/resolve", {"resolved": "0"})
    comment.refresh_from_db()
    assert not comment.is_resolved


def test_the_compare_page_shows_both_clips_comments(clients, clip, project, people, pending_task, archived_clip):
    other = archived_clip(pending_task(project, people["owner"], text="Another take"))
    post(clients["reviewer"], clip, text="On A", frame_in=4)
    post(clients["reviewer"], other, text="On B", frame_in=8)
    page = clients["viewer"].get(f"/projects/{project.pk}/compare?a={clip.pk}&b={other.pk}").content.decode()
    assert f'id="comments-{clip.pk}"' in page and f'id="comments-{other.pk}"' in page
    assert "On A" in page and "On B" in page


# --- Revise: a draft that answers the notes ------------------------------------------------


@pytest.fixture
def changes_requested(clients, clip):
    post(clients["reviewer"], clip, text="Slower push in", frame_in=10)
    post(clients["reviewer"], clip, text="Warmer light")
    post(clients["reviewer"], clip, text="Already fine")
    Comment.objects.filter(text="Already fine").update(resolved_at="2026-12-01T00:00:00Z")
    clip.review_status, clip.review_note = "changes", "Nearly there"
    clip.save(update_fields=["review_status", "review_note"])
    return clip


def test_changes_requested_offers_revise_with_the_open_notes_beside_the_words(clients, changes_requested, project):
    clip = changes_requested
    page = clients["editor"].get(f"/clips/{clip.pk}/").content.decode()
    revise = f"/projects/{project.pk}/?from_task={clip.task_id}&amp;revise={clip.pk}#draft-panel"
    assert f'href="{revise}"' in page
    editor = clients["editor"].get(revise.replace("&amp;", "&")).content.decode()
    notes = editor[editor.index("data-revising") : editor.index('<div class="editor-main">')]
    assert "Nearly there" in notes and "Slower push in" in notes and "frame 10" in notes and "Warmer light" in notes
    assert "Already fine" not in notes
    assert notes.count('name="answers"') == 2
    assert f'name="revise_clip" value="{clip.pk}"' in editor


def test_a_revised_draft_records_the_comments_it_answers(clients, changes_requested, project, draft_form):
    clip = changes_requested
    slower = Comment.objects.get(text="Slower push in")
    outside = Comment.objects.get(text="Warmer light")
    answer = clients["editor"].post(
        f"/projects/{project.pk}/draft",
        {
            **draft_form(prompt="A lighthouse at dusk, slower push in"),
            "revise_clip": str(clip.pk),
            "answers": [str(slower.pk)],
        },
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    assert "data-revising" not in answer.content.decode()  # the fresh editor is no longer revising
    new = clip.task.project.tasks.order_by("-pk").first()
    assert list(slower.answered_by.all()) == [new]
    assert not outside.answered_by.exists()
    page = clients["viewer"].get(f"/clips/{clip.pk}/").content.decode()
    assert f"answered by draft #{new.pk}" in page


def test_the_clip_page_costs_the_same_queries_with_one_comment_or_forty(clients, clip, django_assert_max_num_queries):
    post(clients["reviewer"], clip, text="First @editor", frame_in=1)
    with django_assert_max_num_queries(100) as one:
        answer = clients["owner"].get(f"/clips/{clip.pk}/")
    assert answer.status_code == 200, answer.status_code
    # Counted now: each later request empties the connection's query log the context reads.
    queries = len(one.captured_queries)
    head = Comment.objects.get()
    for n in range(20):
        post(clients["reviewer"], clip, text=f"Note {n} @editor", frame_in=n)
        post(clients["editor"], clip, text=f"Reply {n}", parent=head.pk)
    with django_assert_max_num_queries(queries):
        clients["owner"].get(f"/clips/{clip.pk}/")
