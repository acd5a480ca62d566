"""Every view checks membership: 404 to outsiders, 403 to reviewers and viewers who try to change things,
CSRF on unsafe requests."""

from __future__ import annotations

import pytest
from django.test import Client

from studio.projects.models import Membership
from studio.tasks.models import Task

# Members who watch but never change the project; an owner or an editor may.
WATCHERS = ("reviewer", "viewer")


@pytest.fixture
def finished(project, people, media, pending_task, archived_clip):
    """Two done drafts of "A fox in snow" with clips (seeds 7 and 8)."""
    task = pending_task(project, people["owner"], text="A fox in snow", seed=7)
    clip = archived_clip(task)
    other = archived_clip(pending_task(project, people["owner"], text="A fox in snow", seed=8))
    return task, clip, other


def pages(project, task, clip, other):
    return [
        f"/projects/{project.pk}/",
        f"/tasks/{task.pk}/card",
        f"/clips/{clip.pk}/video",
        f"/projects/{project.pk}/compare?a={clip.pk}&b={other.pk}",
        f"/projects/{project.pk}/accounts/",
    ]


def test_outsider_gets_404_everywhere(project, clients, finished, draft_form):
    task, clip, other = finished
    outsider = clients["outsider"]
    for url in pages(project, task, clip, other):
        assert outsider.get(url, HTTP_HX_REQUEST="true").status_code == 404, url
    assert outsider.post(f"/projects/{project.pk}/draft", draft_form()).status_code == 404
    assert outsider.post(f"/tasks/{task.pk}/promote").status_code == 404


def test_outsider_does_not_see_the_project_in_the_list(project, clients):
    assert b"Moonrise" not in clients["outsider"].get("/").content


@pytest.mark.parametrize("role", ["owner", "editor", "reviewer", "viewer"])
def test_every_member_sees_the_project_in_the_list(project, clients, role):
    assert b"Moonrise" in clients[role].get("/").content


@pytest.mark.parametrize(
    ("role", "may_change"),
    [
        ("owner", True),
        ("editor", True),
        ("reviewer", False),
        ("viewer", False),
    ],
)
def test_only_owner_and_editor_memberships_can_edit(project, people, role, may_change):
    assert Membership.objects.get(project=project, user=people[role]).can_edit is may_change


@pytest.mark.parametrize("role", WATCHERS)
def test_reviewers_and_viewers_can_watch_but_not_change(project, clients, finished, draft_form, role):
    task, clip, other = finished
    watcher = clients[role]
    for url in pages(project, task, clip, other):
        assert watcher.get(url, HTTP_HX_REQUEST="true").status_code == 200, url
    assert watcher.post(f"/projects/{project.pk}/draft", draft_form()).status_code == 403
    assert watcher.post(f"/tasks/{task.pk}/promote").status_code == 403
    assert watcher.post(f"/tasks/{task.pk}/send-again").status_code == 403
    assert Task.objects.count() == 2
    assert b"Promote to final" not in watcher.get(f"/projects/{project.pk}/").content


def test_anonymous_is_sent_to_login(project):
    answer = Client().get(f"/projects/{project.pk}/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


def test_unsafe_requests_need_the_csrf_token(project, people, draft_form):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    assert client.post(f"/projects/{project.pk}/draft", draft_form(), HTTP_HX_REQUEST="true").status_code == 403
    assert Task.objects.count() == 0
    page = client.get(f"/projects/{project.pk}/").content.decode()
    token = client.cookies["csrftoken"].value
    # HTMX sends the token from <body hx-headers>, so the page must carry it.
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    answer = client.post(f"/projects/{project.pk}/draft", draft_form(), HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200 and Task.objects.count() == 1
