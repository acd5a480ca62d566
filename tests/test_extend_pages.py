"""Extend on the pages: the quote for the seconds added, one extension per form, who may extend, why a clip
cannot be, the budget, and Send again. Route 6's own flow through its simulator is in
studio/providers/google_cloud/test_extend.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from studio.clips.models import Clip
from studio.money.models import Budget
from studio.prompts.models import PromptVersion
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db

EIGHT = {"duration_s": 8, "resolution": "720p"}


@pytest.fixture
def project(people, media, make_project):
    """A project whose drafts go to a Google Cloud account (nothing here is sent, so its key is never used)."""
    return make_project(
        people,
        name="Harbour",
        route="google-cloud",
        key="unused",
        options={"project_id": "dailies-sim", "location": "us-central1"},
    )


def archived(task: Task, archived_clip, **clip_fields) -> Task:
    clip = archived_clip(task)
    Clip.objects.filter(pk=clip.pk).update(**{"duration_s": 8, **clip_fields})
    return Task.objects.select_related("account", "clip").get(pk=task.pk)


def test_the_extend_page_quotes_the_seconds_added_and_one_form_makes_one_extension(
    project, people, pending_task, archived_clip, clients
):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip)
    page = clients["editor"].get(f"/tasks/{source.pk}/extend")
    text = page.content.decode()
    assert page.status_code == 200 and "Adds 7 s to the 8 s clip" in text and "Extend by 7 s" in text
    quote = lifecycle.extension_quote(source)
    assert f"≈ ${quote}" in text

    empty = clients["editor"].post(f"/tasks/{source.pk}/extend", {"continuation": "   ", "form_token": "t1"})
    assert empty.status_code == 400 and 'id="id_continuation_error"' in empty.content.decode()
    assert not Task.objects.filter(extended_from=source).exists()

    for _ in range(2):  # a double click: one extension
        made = clients["editor"].post(f"/tasks/{source.pk}/extend", {"continuation": "Night falls", "form_token": "t2"})
        assert made.status_code == 302
    (extension,) = Task.objects.filter(extended_from=source)
    assert made["Location"].endswith(f"#task-{extension.pk}") and extension.continuation == "Night falls"

    # The project page: the extension's card names its source and what it asked; the source's card offers Extend.
    card_page = clients["editor"].get(f"/projects/{project.pk}/").content.decode()
    assert f'Extends <a href="/projects/{project.pk}/#task-{source.pk}">draft #{source.pk}</a>' in card_page
    assert "“Night falls”" in card_page and f'href="/tasks/{source.pk}/extend"' in card_page


def test_who_may_extend_outsiders_get_404_members_without_the_right_403_and_csrf_guards_it(
    project, people, pending_task, archived_clip, clients
):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip)
    url = f"/tasks/{source.pk}/extend"
    assert clients["outsider"].get(url).status_code == 404
    for role in ("viewer", "reviewer"):
        assert clients[role].get(url).status_code == 403
        assert clients[role].post(url, {"continuation": "x", "form_token": role}).status_code == 403
    assert f'href="{url}"' not in clients["viewer"].get(f"/projects/{project.pk}/").content.decode()
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(people["editor"])
    assert guarded.post(url, {"continuation": "Night falls"}).status_code == 403
    assert not Task.objects.filter(extended_from=source).exists()


def test_a_refused_clip_shows_why_on_its_card_and_page_and_a_post_changes_nothing(
    project, people, pending_task, archived_clip, clients
):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip, duration_s=31.0)
    card_page = clients["editor"].get(f"/projects/{project.pk}/").content.decode()
    assert "Can't extend: Only clips of 1 to 30 s can be extended; this one is 31.0 s." in card_page
    page = clients["editor"].get(f"/tasks/{source.pk}/extend").content.decode()
    assert "This clip cannot be extended: Only clips of 1 to 30 s" in page and "Extend by" not in page
    refused = clients["editor"].post(f"/tasks/{source.pk}/extend", {"continuation": "More", "form_token": "x"})
    assert refused.status_code == 400 and not Task.objects.filter(extended_from=source).exists()


def test_an_extension_over_the_budget_is_refused_inline_and_nothing_is_made(
    project, people, pending_task, archived_clip, clients
):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip)
    quote = lifecycle.extension_quote(source)
    assert quote is not None
    held = source.cost_estimate or Decimal("0")
    Budget.objects.create(project=project, limit=held + quote - Decimal("0.01"), period=Budget.Period.TOTAL)
    answer = clients["editor"].post(f"/tasks/{source.pk}/extend", {"continuation": "More", "form_token": "b"})
    assert answer.status_code == 400 and "Nothing was sent" in answer.content.decode()
    assert not Task.objects.filter(extended_from=source).exists()


def test_a_failed_extension_sent_again_extends_the_same_clip(project, people, pending_task, archived_clip, clients):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip)
    extension = lifecycle.extend(source=source, continuation="Then rain", user=people["editor"])
    Task.objects.filter(pk=extension.pk).update(state=Task.State.FAILED)
    assert clients["editor"].post(f"/tasks/{extension.pk}/send-again").status_code == 302
    again = Task.objects.exclude(pk=extension.pk).get(extended_from=source)
    assert again.continuation == "Then rain" and again.parameters == extension.parameters


def test_the_editor_starts_from_a_draft_never_from_an_extension(project, people, pending_task, archived_clip, clients):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip)
    extension = lifecycle.extend(source=source, continuation="And then", user=people["editor"])
    latest = clients["editor"].get(f"/projects/{project.pk}/").content.decode()
    assert f"task #{source.pk}</a>: " in latest and f"task #{extension.pk}</a>: " not in latest
    recalled = clients["editor"].get(f"/projects/{project.pk}/?from_task={extension.pk}").content.decode()
    assert f"task #{source.pk}</a>: " in recalled and "7 s" not in recalled.split("Settings from")[1][:300]


def test_an_extension_sends_its_continuation_alone(project, people, pending_task, archived_clip):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip)
    PromptVersion.objects.filter(pk=source.prompt_version_id).update(negative_prompt="text overlays")
    extension = lifecycle.extend(source=source, continuation="Night falls", user=people["editor"])
    request = lifecycle.video_request(Task.objects.get(pk=extension.pk))
    assert (request.prompt, request.negative_prompt, request.duration_s) == ("Night falls", "", 7)
    with source.clip.file.open("rb") as handle:
        assert request.extend is not None and request.extend.data == handle.read()


def test_the_gallery_and_compare_show_an_extension_by_its_continuation(
    project, people, pending_task, archived_clip, clients
):
    source = archived(pending_task(project, people["editor"], text="A harbour at dawn", **EIGHT), archived_clip)
    extension = archived(
        lifecycle.extend(source=source, continuation="Fog rolls over the boats", user=people["editor"]),
        archived_clip,
        duration_s=15.0,
    )
    found = clients["viewer"].get(f"/projects/{project.pk}/gallery?q=fog").content.decode()
    assert "“Fog rolls over the boats”" in found and f'id="clip-{extension.clip.pk}"' in found
    assert f'id="clip-{source.clip.pk}"' not in found
    compare = clients["viewer"].get(f"/projects/{project.pk}/compare?a={source.clip.pk}&b={extension.clip.pk}")
    text = compare.content.decode()
    assert compare.status_code == 200 and "+7 s (15 s in all)" in text


def test_an_extension_with_nothing_to_happen_next_is_refused_before_anything_is_made(
    project, people, pending_task, archived_clip
):
    source = archived(pending_task(project, people["editor"], **EIGHT), archived_clip)
    with pytest.raises(lifecycle.ExtendRefused, match="Say what happens next"):
        lifecycle.extend(source=source, continuation="  \n ", user=people["editor"])
    assert not Task.objects.filter(extended_from=source).exists()
