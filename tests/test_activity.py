"""The project's activity feed: one line per thing someone did, newest first, said once even when a form is resent."""

from __future__ import annotations

import pytest

from studio.projects.models import Activity, Membership, Project

pytestmark = pytest.mark.django_db


def lines(client, project) -> list[str]:
    html = client.get(f"/projects/{project.pk}/activity").content.decode()
    return [" ".join(item.split()) for item in html.split('<li class="verb-')[1:]]


def test_drafts_and_role_changes_each_leave_one_line(project, clients, people, draft_form):
    owner, editor = clients["owner"], clients["editor"]
    token = "draft-once"
    editor.post(f"/projects/{project.pk}/draft", draft_form(form_token=token))
    editor.post(f"/projects/{project.pk}/draft", draft_form(form_token=token))  # resent: one task, one line
    reviewer = Membership.objects.get(project=project, user=people["reviewer"])
    owner.post(f"/projects/{project.pk}/members/{reviewer.pk}/role", {"role": "viewer"})
    verbs = list(Activity.objects.filter(project=project).values_list("verb", flat=True))
    assert verbs == ["role", "drafted"]
    feed = lines(clients["viewer"], project)
    assert "owner" in feed[0] and "made reviewer viewer" in feed[0]
    assert "editor" in feed[1] and "drafted task #" in feed[1]


def test_team_changes_are_in_the_feed(clients, people, settings):
    settings.SIMULATOR_FOR_NEW_PROJECTS = False
    clients["owner"].post("/projects/new", {"name": "Feed"})
    project = Project.objects.get(name="Feed")
    clients["owner"].post(f"/projects/{project.pk}/members/", {"who": "editor", "role": "editor"})
    clients["owner"].post(f"/projects/{project.pk}/members/", {"who": "guest@example.com", "role": "reviewer"})
    editor = Membership.objects.get(project=project, user=people["editor"])
    clients["editor"].post(f"/projects/{project.pk}/members/{editor.pk}/remove")
    words = list(Activity.objects.filter(project=project).order_by("at", "pk").values_list("words", flat=True))
    assert words == [
        "created the project",
        "added editor as editor",
        "invited guest@example.com as reviewer",
        "left the project",
    ]


def test_outsiders_see_no_feed(project, clients):
    assert clients["outsider"].get(f"/projects/{project.pk}/activity").status_code == 404


def test_stars_and_exports_are_in_the_feed(project, clients, people, pending_task, media, archived_clip):
    clip = archived_clip(pending_task(project, people["owner"]))
    clients["reviewer"].post(f"/projects/{project.pk}/gallery/star", {"clip": [clip.pk], "star": "1"})
    clients["reviewer"].post(f"/projects/{project.pk}/gallery/star", {"clip": [clip.pk], "star": "1"})  # no change
    clients["viewer"].post(f"/projects/{project.pk}/gallery/zip", {"clip": [clip.pk]}).getvalue()
    words = list(Activity.objects.filter(project=project).order_by("at", "pk").values_list("actor__username", "words"))
    assert words == [("reviewer", "starred 1 clip"), ("viewer", "downloaded 1 clip as a zip")]
