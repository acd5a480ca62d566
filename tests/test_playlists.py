"""Playlists: made, filled, reordered and emptied by editors and owners, watched by every member; the
review page plays them in order with each clip's status and comments."""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection, connections

from studio.clips.models import Clip
from studio.review import playlists
from studio.review.models import Comment, Playlist, PlaylistItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def clips(project, people, pending_task, archived_clip):
    """Four done clips of the project, oldest first."""

    def make(count: int = 4) -> list[Clip]:
        return [
            archived_clip(pending_task(project, people["owner"], text=f"Shot {n}: waves on basalt"))
            for n in range(count)
        ]

    return make


@pytest.fixture
def playlist(project, people) -> Playlist:
    return playlists.create(project=project, name="Tuesday dailies", by=people["editor"])


def order(playlist: Playlist) -> list[int]:
    return list(PlaylistItem.objects.filter(playlist=playlist).order_by("position").values_list("clip_id", flat=True))


def positions(playlist: Playlist) -> list[int]:
    return list(PlaylistItem.objects.filter(playlist=playlist).order_by("position").values_list("position", flat=True))


# --- The domain -------------------------------------------------------------------------------


def test_clips_are_added_in_the_order_given_and_only_once(playlist, clips):
    a, b, c, d = clips()
    assert playlists.add_clips(playlist, [c, a, c]) == 2
    assert playlists.add_clips(playlist, [a, b, d]) == 2
    assert order(playlist) == [c.pk, a.pk, b.pk, d.pk]
    assert positions(playlist) == [0, 1, 2, 3]


def test_a_clip_of_another_project_is_refused(playlist, people, make_project, pending_task, archived_clip):
    other = make_project(people, name="Elsewhere")
    stranger = archived_clip(pending_task(other, people["owner"]))
    with pytest.raises(ValueError):
        playlists.add_clips(playlist, [stranger])
    assert order(playlist) == []


def test_removing_renumbers_without_gaps(playlist, clips):
    a, b, c, d = clips()
    playlists.add_clips(playlist, [a, b, c, d])
    assert playlists.remove_clip(playlist, b.pk) is True
    assert playlists.remove_clip(playlist, b.pk) is False
    assert order(playlist) == [a.pk, c.pk, d.pk]
    assert positions(playlist) == [0, 1, 2]
    assert Clip.objects.filter(pk=b.pk).exists(), "the clip itself stays"


def test_reorder_puts_named_clips_first_and_keeps_the_rest_after(playlist, clips):
    a, b, c, d = clips()
    playlists.add_clips(playlist, [a, b, c, d])
    playlists.reorder(playlist, [d.pk, b.pk, a.pk, c.pk])
    assert order(playlist) == [d.pk, b.pk, a.pk, c.pk]
    # A page drawn before `c` and `d` were added only knows a and b; unknown ids are ignored.
    playlists.reorder(playlist, [a.pk, 999_999, b.pk])
    assert order(playlist) == [a.pk, b.pk, d.pk, c.pk]
    assert positions(playlist) == [0, 1, 2, 3]


def test_move_goes_one_place_and_stops_at_the_ends(playlist, clips):
    a, b, c, _d = clips()
    playlists.add_clips(playlist, [a, b, c])
    assert playlists.move(playlist, c.pk, by=-1) is True
    assert order(playlist) == [a.pk, c.pk, b.pk]
    assert playlists.move(playlist, a.pk, by=-1) is False
    assert playlists.move(playlist, b.pk, by=1) is False
    assert order(playlist) == [a.pk, c.pk, b.pk]


def test_a_playlist_holds_at_most_max_items(playlist, clips, monkeypatch):
    monkeypatch.setattr(playlists, "MAX_ITEMS", 3)
    a, b, c, d = clips()
    playlists.add_clips(playlist, [a, b])
    with pytest.raises(playlists.PlaylistFull, match="1 more fit"):
        playlists.add_clips(playlist, [c, d])
    assert order(playlist) == [a.pk, b.pk]


def test_the_review_order_counts_each_clips_comments(playlist, clips, people):
    a, b, _c, _d = clips()
    playlists.add_clips(playlist, [b, a])
    head = Comment.objects.create(project=playlist.project, clip=a, author=people["owner"], text="Too dark")
    Comment.objects.create(project=playlist.project, clip=a, parent=head, author=people["editor"], text="Agreed")
    shown = playlists.clips_in_order(playlist)
    assert [(clip.pk, clip.comment_count) for clip in shown] == [(b.pk, 0), (a.pk, 2)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL's row locks")
@pytest.mark.django_db(transaction=True)
def test_concurrent_adds_never_duplicate_nor_break_the_order(project, people, pending_task, archived_clip):
    playlist = playlists.create(project=project, name="Busy", by=people["editor"])
    made = [archived_clip(pending_task(project, people["owner"], text=f"Shot {n}")) for n in range(12)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def add(chosen: list[Clip]) -> None:
        try:
            start.wait()
            playlists.add_clips(playlist, chosen)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    # Four people add overlapping selections at the same moment.
    batches = [made[0:6], made[3:9], made[6:12], made[0:12:2]]
    threads = [threading.Thread(target=add, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(order(playlist)) == sorted(clip.pk for clip in made)
    assert positions(playlist) == list(range(12))


# --- The views ----------------------------------------------------------------------------------


def test_an_editor_makes_renames_and_deletes_a_playlist(project, clients):
    editor = clients["editor"]
    answer = editor.post(f"/projects/{project.pk}/playlists/", {"name": "  Client   cut  "})
    playlist = Playlist.objects.get(project=project)
    assert playlist.name == "Client cut"
    assert answer.status_code == 302 and answer["Location"] == f"/playlists/{playlist.pk}/"
    assert "Client cut" in editor.get(f"/projects/{project.pk}/playlists/").content.decode()

    assert editor.post(f"/playlists/{playlist.pk}/rename", {"name": ""}).status_code == 400
    editor.post(f"/playlists/{playlist.pk}/rename", {"name": "Final cut"})
    playlist.refresh_from_db()
    assert playlist.name == "Final cut"

    # Delete asks first; only the confirmed post deletes.
    asked = editor.post(f"/playlists/{playlist.pk}/delete")
    assert asked.status_code == 200 and "Delete “Final cut”?" in asked.content.decode()
    assert Playlist.objects.filter(pk=playlist.pk).exists()
    editor.post(f"/playlists/{playlist.pk}/delete", {"confirm": "1"})
    assert not Playlist.objects.filter(pk=playlist.pk).exists()


def test_outsiders_get_404_and_viewers_and_reviewers_403_on_changes(project, clients, playlist, clips):
    a, b, _c, _d = clips()
    playlists.add_clips(playlist, [a, b])
    changes = [
        (f"/projects/{project.pk}/playlists/", {"name": "Mine"}),
        (f"/projects/{project.pk}/playlists/add", {"clip": [a.pk], "playlist": "new"}),
        (f"/playlists/{playlist.pk}/rename", {"name": "Mine"}),
        (f"/playlists/{playlist.pk}/delete", {"confirm": "1"}),
        (f"/playlists/{playlist.pk}/remove", {"clip": a.pk}),
        (f"/playlists/{playlist.pk}/move", {"clip": b.pk, "move": "up"}),
        (f"/playlists/{playlist.pk}/order", {"clip": [b.pk, a.pk]}),
    ]
    for url, data in changes:
        assert clients["outsider"].post(url, data).status_code == 404, url
        assert clients["viewer"].post(url, data).status_code == 403, url
        assert clients["reviewer"].post(url, data).status_code == 403, url
    for url in (
        f"/projects/{project.pk}/playlists/",
        f"/playlists/{playlist.pk}/",
        f"/playlists/{playlist.pk}/feedback",
        f"/playlists/{playlist.pk}/feedback.csv",
    ):
        assert clients["outsider"].get(url).status_code == 404, url
        assert clients["viewer"].get(url).status_code == 200, url
    assert Playlist.objects.filter(project=project).count() == 1
    assert order(playlist) == [a.pk, b.pk]


def test_the_gallery_selection_makes_a_new_playlist_in_the_order_picked(project, clients, clips):
    a, b, c, _d = clips()
    answer = clients["editor"].post(
        f"/projects/{project.pk}/playlists/add",
        {"clip": [c.pk, a.pk], "playlist": "new", "next": f"/projects/{project.pk}/gallery"},
    )
    playlist = Playlist.objects.get(project=project)
    assert answer["Location"] == f"/playlists/{playlist.pk}/"
    assert order(playlist) == [c.pk, a.pk]
    # Adding again to that playlist goes back to the gallery and says what was already there.
    answer = clients["owner"].post(
        f"/projects/{project.pk}/playlists/add",
        {"clip": [a.pk, b.pk], "playlist": str(playlist.pk), "next": f"/projects/{project.pk}/gallery?kind=draft"},
        follow=True,
    )
    assert answer.redirect_chain[-1][0] == f"/projects/{project.pk}/gallery?kind=draft"
    assert "Added 1 clip to" in answer.content.decode() and "1 was in it already" in answer.content.decode()
    assert order(playlist) == [c.pk, a.pk, b.pk]


def test_clips_and_playlists_of_another_project_cannot_be_added(project, people, clients, clips, make_project):
    a, *_ = clips()
    other = make_project(people, name="Elsewhere")
    theirs = playlists.create(project=other, name="Theirs", by=people["owner"])
    answer = clients["editor"].post(
        f"/projects/{project.pk}/playlists/add", {"clip": [a.pk], "playlist": str(theirs.pk)}, follow=True
    )
    assert "Choose a playlist of this project" in answer.content.decode()
    assert order(theirs) == []


def test_the_review_page_shows_the_list_and_the_chosen_clip(clients, playlist, clips, people):
    a, b, c, _d = clips()
    playlists.add_clips(playlist, [a, b, c])
    Clip.objects.filter(pk=b.pk).update(review_status=Clip.Review.APPROVED, reviewed_by=people["reviewer"])
    Comment.objects.create(project=playlist.project, clip=b, author=people["owner"], text="<b>bold</b> & sure")
    html = clients["viewer"].get(f"/playlists/{playlist.pk}/?clip={b.pk}").content.decode()
    listed = re.findall(r'class="playlist-item[^"]*" id="item-(\d+)"', html)
    assert listed == [str(a.pk), str(b.pk), str(c.pk)]
    assert f'id="playlist-stage" data-clip="{b.pk}"' in html
    assert "2 of 3" in html
    assert f'href="/playlists/{playlist.pk}/?clip={a.pk}" data-step="previous"' in html
    assert f'href="/playlists/{playlist.pk}/?clip={c.pk}" data-step="next"' in html
    assert "1 comment" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; sure" in html and "<b>bold</b>" not in html
    # A viewer watches: no status form, no reorder controls.
    assert "data-status-form" not in html and 'name="move"' not in html and 'draggable="true"' not in html
    reviewer = clients["reviewer"].get(f"/playlists/{playlist.pk}/?clip={b.pk}").content.decode()
    assert "data-status-form" in reviewer and 'name="move"' not in reviewer
    editor = clients["editor"].get(f"/playlists/{playlist.pk}/").content.decode()
    assert f'id="playlist-stage" data-clip="{a.pk}"' in editor, "the first clip when none is named"
    assert 'draggable="true"' in editor and 'name="move"' in editor


def test_the_page_script_gets_the_review_region_alone(clients, playlist, clips):
    a, b, *_ = clips()
    playlists.add_clips(playlist, [a, b])
    html = clients["viewer"].get(f"/playlists/{playlist.pk}/?clip={b.pk}", headers={"HX-Request": "true"}).content
    assert html.lstrip().startswith(b'<div class="playlist-review"')
    assert b"<html" not in html and f'data-clip="{b.pk}"'.encode() in html


def test_a_reviewer_approves_from_the_playlist_and_comes_back_to_it(clients, playlist, clips, people):
    a, b, *_ = clips()
    playlists.add_clips(playlist, [a, b])
    here = f"/playlists/{playlist.pk}/?clip={b.pk}"
    answer = clients["reviewer"].post(
        f"/projects/{playlist.project_id}/gallery/review", {"clip": b.pk, "review": "approved", "next": here}
    )
    assert answer["Location"] == here
    b.refresh_from_db()
    assert b.review_status == Clip.Review.APPROVED and b.reviewed_by == people["reviewer"]


def test_move_buttons_and_the_dragged_order_change_the_order(clients, playlist, clips):
    a, b, c, _d = clips()
    playlists.add_clips(playlist, [a, b, c])
    answer = clients["editor"].post(f"/playlists/{playlist.pk}/move", {"clip": c.pk, "move": "up"})
    assert answer["Location"] == f"/playlists/{playlist.pk}/#item-{c.pk}"
    assert order(playlist) == [a.pk, c.pk, b.pk]
    answer = clients["owner"].post(
        f"/playlists/{playlist.pk}/order", {"clip": [b.pk, a.pk, c.pk]}, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 204
    assert order(playlist) == [b.pk, a.pk, c.pk]
    clients["editor"].post(f"/playlists/{playlist.pk}/remove", {"clip": a.pk})
    assert order(playlist) == [b.pk, c.pk]
    assert positions(playlist) == [0, 1]


def test_the_gallery_and_clip_page_offer_add_to_playlist_to_editors_only(project, clients, playlist, clips):
    a, *_ = clips()
    for role, offered in (("editor", True), ("owner", True), ("reviewer", False), ("viewer", False)):
        gallery = clients[role].get(f"/projects/{project.pk}/gallery").content.decode()
        clip_page = clients[role].get(f"/clips/{a.pk}/").content.decode()
        assert ("Add to playlist" in gallery) is offered, role
        assert ("Add to playlist" in clip_page) is offered, role
        if offered:
            assert f'<option value="{playlist.pk}">Tuesday dailies</option>' in gallery


def test_a_new_playlist_that_cannot_take_the_selection_is_not_left_empty(project, clients, clips, monkeypatch):
    monkeypatch.setattr(playlists, "MAX_ITEMS", 2)
    chosen = clips(3)
    answer = clients["editor"].post(
        f"/projects/{project.pk}/playlists/add", {"clip": [c.pk for c in chosen], "playlist": "new"}, follow=True
    )
    assert "A playlist holds at most 2 clips" in answer.content.decode()
    assert not Playlist.objects.filter(project=project).exists()
