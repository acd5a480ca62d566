"""Prompt versions: history, diffs between any two, restore, fork, and who may do which."""

from __future__ import annotations

import pytest
from django.http import HttpRequest
from django.test import Client

from studio.clips.models import Clip
from studio.prompts.models import Prompt
from studio.tasks import lifecycle
from studio.tasks.models import Task

V1 = "A lighthouse at dusk, waves below, slow push in"
V2 = "A lighthouse at night, waves below, slow push in"
V3 = "A red lighthouse at night, storm waves below, slow push in"


@pytest.fixture
def prompt(project, people):
    """Three versions by two people; v2 and v3 each rendered once."""
    prompt = Prompt.objects.create(project=project, title="Lighthouse", created_by=people["owner"])
    prompt.record_version(text=V1, negative_prompt="", author=people["owner"])
    prompt.record_version(text=V2, negative_prompt="people", author=people["editor"])
    prompt.record_version(text=V3, negative_prompt="people, boats", author=people["owner"])
    return prompt


def urls(prompt) -> dict[str, str]:
    return {
        "history": f"/prompts/{prompt.pk}/history",
        "diff": f"/prompts/{prompt.pk}/diff?a=1&b=3",
        "restore": f"/prompts/{prompt.pk}/versions/1/restore",
        "fork": f"/prompts/{prompt.pk}/versions/1/fork",
    }


def editor_url(prompt) -> str:
    return f"/projects/{prompt.project_id}/?prompt={prompt.pk}"


def test_history_lists_every_version_newest_first_with_its_author(prompt, owner_client):
    page = owner_client.get(urls(prompt)["history"]).content.decode()
    assert page.index('id="v3"') < page.index('id="v2"') < page.index('id="v1"')
    v2 = page[page.index('id="v2"') : page.index('id="v1"')]
    assert "editor" in v2 and V2 in v2


def test_history_counts_each_versions_tasks_and_clips_and_shows_their_posters(prompt, project, people, clients, media):
    version = prompt.versions.get(number=2)
    for seed in (1, 2):
        task = lifecycle.new_task(
            project=project,
            prompt_version=version,
            account=project.draft_account,
            tier="fast",
            kind="draft",
            user=people["owner"],
            seed=seed,
            parameters={"duration_s": 4, "aspect_ratio": "16:9", "resolution": "720p", "audio": False},
        )
    Task.objects.filter(pk=task.pk).update(state=Task.State.DONE)
    clip = Clip.objects.create(
        task=task,
        file="clip.mp4",
        poster="poster.jpg",
        duration_s=4,
        width=1280,
        height=720,
        has_audio=False,
        bytes=18,
        sha256="0" * 64,
    )

    page = clients["viewer"].get(urls(prompt)["history"]).content.decode()
    v2 = page[page.index('id="v2"') : page.index('id="v1"')]
    assert "2 tasks · 1 clip" in v2
    assert f"/clips/{clip.pk}/poster" in v2
    assert "Not rendered yet" in page[page.index('id="v3"') : page.index('id="v2"')]


def test_history_opens_on_what_the_newest_version_changed(prompt, owner_client):
    page = owner_client.get(urls(prompt)["history"]).content.decode()
    assert '<option value="2" selected>' in page
    assert '<option value="3" selected>' in page
    assert "<ins>red </ins>" in page


def test_diff_between_v1_and_v3_marks_removed_and_added_words(prompt, owner_client):
    page = owner_client.get(urls(prompt)["diff"]).content.decode()
    assert "<ins>red </ins>" in page
    assert "<del>dusk, </del><ins>night, storm </ins>" in page
    # The negative prompt is compared too: v1 had none.
    assert "<ins>people, boats</ins>" in page


def test_diff_for_htmx_is_only_the_diff_region(prompt, owner_client):
    response = owner_client.get(urls(prompt)["diff"], HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="version-diff"')
    assert "<del>dusk, </del>" in fragment
    assert "<html" not in fragment


def test_diff_without_javascript_is_the_whole_history_page(prompt, owner_client):
    page = owner_client.get(urls(prompt)["diff"]).content.decode()
    assert "<html" in page and 'id="v1"' in page


def test_diff_with_an_unknown_version_is_404(prompt, owner_client):
    assert owner_client.get(f"/prompts/{prompt.pk}/diff?a=1&b=9").status_code == 404


def test_diff_without_two_version_numbers_is_400_in_plain_words(prompt, owner_client):
    response = owner_client.get(f"/prompts/{prompt.pk}/diff?a=1&b=latest")
    assert response.status_code == 400
    assert b"Pick two versions" in response.content


def test_restore_makes_the_old_words_the_newest_version_by_the_restorer(prompt, people, clients):
    response = clients["editor"].post(urls(prompt)["restore"])
    assert response.status_code == 302
    assert response["Location"] == editor_url(prompt)
    newest = prompt.latest_version()
    assert (newest.number, newest.text, newest.negative_prompt) == (4, V1, "")
    assert newest.author == people["editor"]
    # History only grows: the version restored from is still there, unchanged.
    assert prompt.versions.get(number=1).author == people["owner"]


def test_restoring_the_newest_version_changes_nothing(prompt, owner_client):
    response = owner_client.post(f"/prompts/{prompt.pk}/versions/3/restore")
    assert response.status_code == 302
    assert prompt.versions.count() == 3


def test_restoring_words_the_newest_version_already_has_changes_nothing(prompt, people, owner_client):
    prompt.record_version(text=V1, negative_prompt="", author=people["owner"])
    owner_client.post(urls(prompt)["restore"])
    assert prompt.versions.count() == 4


def test_fork_starts_a_new_prompt_in_the_same_project_from_that_version(prompt, people, clients):
    response = clients["editor"].post(f"/prompts/{prompt.pk}/versions/2/fork")
    fork = Prompt.objects.exclude(pk=prompt.pk).get()
    assert response.status_code == 302
    assert response["Location"] == editor_url(fork)
    assert fork.project_id == prompt.project_id
    assert fork.created_by == people["editor"]
    assert "Lighthouse" in fork.title and fork.title != prompt.title
    only = fork.versions.get()
    assert (only.number, only.text, only.negative_prompt, only.author) == (1, V2, "people", people["editor"])
    assert prompt.versions.count() == 3


def test_restore_or_fork_of_an_unknown_version_is_404(prompt, owner_client):
    assert owner_client.post(f"/prompts/{prompt.pk}/versions/9/restore").status_code == 404
    assert owner_client.post(f"/prompts/{prompt.pk}/versions/9/fork").status_code == 404


def test_outsider_gets_404_on_every_view(prompt, clients):
    outsider = clients["outsider"]
    pages = urls(prompt)
    assert outsider.get(pages["history"]).status_code == 404
    assert outsider.get(pages["diff"]).status_code == 404
    assert outsider.get(pages["diff"], HTTP_HX_REQUEST="true").status_code == 404
    assert outsider.post(pages["restore"]).status_code == 404
    assert outsider.post(pages["fork"]).status_code == 404
    assert prompt.versions.count() == 3 and Prompt.objects.count() == 1


def test_missing_prompt_is_404(owner_client, db):
    assert owner_client.get("/prompts/999/history").status_code == 404


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_reviewers_and_viewers_read_history_and_diffs_but_cannot_restore_or_fork(prompt, clients, role):
    watcher = clients[role]
    pages = urls(prompt)
    assert watcher.get(pages["history"]).status_code == 200
    assert watcher.get(pages["diff"]).status_code == 200
    assert watcher.post(pages["restore"]).status_code == 403
    assert watcher.post(pages["fork"]).status_code == 403
    assert prompt.versions.count() == 3 and Prompt.objects.count() == 1


@pytest.mark.parametrize("role", ["reviewer", "viewer"])
def test_reviewers_and_viewers_are_not_offered_restore_or_fork(prompt, clients, role):
    page = clients[role].get(urls(prompt)["history"]).content.decode()
    assert "/restore" not in page and "/fork" not in page


def test_restore_and_fork_need_a_post(prompt, owner_client):
    assert owner_client.get(urls(prompt)["restore"]).status_code == 405
    assert owner_client.get(urls(prompt)["fork"]).status_code == 405


def test_restore_and_fork_without_a_csrf_token_are_refused(prompt, people):
    client = Client(enforce_csrf_checks=True)
    # django-axes checks every sign-in against its request; the test client's has none of its own.
    client.login(request=HttpRequest(), username="owner", password="pw-owner")
    assert client.post(urls(prompt)["restore"]).status_code == 403
    assert client.post(urls(prompt)["fork"]).status_code == 403
    assert prompt.versions.count() == 3 and Prompt.objects.count() == 1


def test_restore_with_the_pages_csrf_token_works(prompt, people):
    client = Client(enforce_csrf_checks=True)
    client.login(request=HttpRequest(), username="owner", password="pw-owner")
    client.get(urls(prompt)["history"])
    response = client.post(urls(prompt)["restore"], {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert response.status_code == 302
    assert prompt.latest_version().text == V1


def test_history_needs_a_login(prompt):
    response = Client().get(urls(prompt)["history"])
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_editor_names_its_prompt_and_version_and_links_to_history_and_the_library(prompt, project, owner_client):
    Prompt.objects.create(project=project, title="Harbour", created_by=None)
    page = owner_client.get(editor_url(prompt)).content.decode()
    editor = page[page.index('id="draft-panel"') :]
    assert ">Lighthouse</a></h2>" in editor
    assert 'data-number="3"' in editor and ">v3</span>" in editor
    assert f'href="/prompts/{prompt.pk}/history"' in editor
    assert f'href="/projects/{project.pk}/prompts"' in editor and "Library (2)" in editor


def test_history_does_not_offer_to_restore_words_the_newest_version_already_has(prompt, people, owner_client):
    prompt.record_version(text=V1, negative_prompt="", author=people["owner"])
    page = owner_client.get(urls(prompt)["history"]).content.decode()
    v1 = page[page.index('id="v1"') :]
    assert "Same words as the newest" in v1
    assert urls(prompt)["restore"] not in page
    assert f"/prompts/{prompt.pk}/versions/2/restore" in page


def test_diff_picker_is_a_plain_get_form_that_htmx_also_drives(prompt, owner_client):
    page = owner_client.get(urls(prompt)["history"]).content.decode()
    assert f'method="get" action="/prompts/{prompt.pk}/diff"' in page
    assert f'hx-get="/prompts/{prompt.pk}/diff"' in page
