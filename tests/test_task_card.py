"""The task card asks the task what it may offer; promotion answers each page in its own way."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from studio.images.models import InputImage
from studio.projects.models import Membership
from studio.providers.base import Tier
from studio.tasks import lifecycle
from studio.tasks.models import Batch, Task

pytestmark = pytest.mark.django_db

State = Task.State


@pytest.fixture
def a_task(pending_task):
    """`a_task(project, user, *, state, kind, promoted_from, **fields)`: a task of "A fox in snow", seed 7
    (a fast draft, or a quality final), put straight into this state with these fields."""

    def make(project, user, *, state=State.DONE, kind=Task.Kind.DRAFT, promoted_from=None, **fields) -> Task:
        task = pending_task(
            project,
            user,
            text="A fox in snow",
            tier=Tier.QUALITY if kind == Task.Kind.FINAL else Tier.FAST,
            kind=kind,
            seed=7,
            promoted_from=promoted_from,
        )
        Task.objects.filter(pk=task.pk).update(state=state, **fields)
        return Task.objects.get(pk=task.pk)

    return make


# --- What the task may offer --------------------------------------------------


@pytest.mark.parametrize("state", list(State))
def test_only_an_uncertain_failed_or_blocked_task_can_be_sent_again(state):
    assert Task(state=state).can_send_again == (state in {State.UNCERTAIN, State.FAILED, State.BLOCKED})


def test_the_button_says_send_again_when_uncertain_and_try_again_when_failed():
    assert (Task(state=State.UNCERTAIN).is_uncertain, Task(state=State.UNCERTAIN).send_again_label) == (
        True,
        "Send again",
    )
    assert (Task(state=State.FAILED).is_uncertain, Task(state=State.FAILED).send_again_label) == (False, "Try again")


@pytest.mark.parametrize(
    ("state", "charged", "estimate", "label"),
    [
        (State.DONE, Decimal("1.20"), Decimal("0.80"), "charged $1.20"),
        (State.FAILED, Decimal("0"), Decimal("0.80"), "not billed"),
        (State.FAILED, None, Decimal("0.80"), "quoted $0.80"),
        (State.BLOCKED, None, Decimal("0.80"), "quoted $0.80"),
        (State.RUNNING, None, Decimal("0.80"), "≈ $0.80 list price"),
        (State.DONE, None, Decimal("0.80"), "≈ $0.80 list price"),
        (State.UNCERTAIN, None, Decimal("0.80"), "≈ $0.80 list price"),
        (State.DONE, None, None, "no price card"),
    ],
)
def test_the_cost_label_claims_a_charge_only_when_the_provider_reported_one(state, charged, estimate, label):
    assert Task(state=state, cost_charged=charged, cost_estimate=estimate).cost_label == label


@pytest.mark.parametrize(
    ("kind", "state", "promotable"),
    [
        (Task.Kind.DRAFT, State.DONE, True),
        (Task.Kind.DRAFT, State.RUNNING, False),
        (Task.Kind.DRAFT, State.FAILED, False),
        (Task.Kind.FINAL, State.DONE, False),
    ],
)
def test_only_a_finished_draft_can_be_promoted(kind, state, promotable):
    assert Task(kind=kind, state=state).can_be_promoted is promotable


@pytest.mark.parametrize(
    ("final_state", "again"),
    [
        (None, True),
        (State.PENDING, False),
        (State.RUNNING, False),
        (State.DONE, False),
        (State.FAILED, True),
        (State.BLOCKED, True),
    ],
)
def test_promote_is_offered_while_no_final_is_on_its_way_or_done(project, people, final_state, again, a_task):
    draft = a_task(project, people["owner"])
    if final_state:
        a_task(project, people["owner"], kind=Task.Kind.FINAL, state=final_state, promoted_from=draft)
    assert draft.can_promote_again is again


def test_a_task_has_a_clip_only_when_done_and_archived(project, people, media, a_task, archived_clip):
    draft = a_task(project, people["owner"])
    assert not draft.has_clip
    archived_clip(draft)
    assert Task.objects.get(pk=draft.pk).has_clip
    assert not Task(state=State.RUNNING).has_clip


def test_a_final_compares_with_its_draft_only_when_both_have_clips(project, people, media, a_task, archived_clip):
    draft = a_task(project, people["owner"])
    final = a_task(project, people["owner"], kind=Task.Kind.FINAL, promoted_from=draft)
    archived_clip(final)
    final = Task.objects.get(pk=final.pk)
    assert not final.can_compare_with_draft
    archived_clip(draft)
    final = Task.objects.get(pk=final.pk)
    assert final.can_compare_with_draft and not Task.objects.get(pk=draft.pk).can_compare_with_draft


@pytest.mark.parametrize(
    ("role", "owner"), [("owner", True), ("editor", False), ("reviewer", False), ("viewer", False)]
)
def test_only_the_owner_membership_is_the_owner(project, people, role, owner):
    assert Membership.objects.get(project=project, user=people[role]).is_owner is owner


# --- The card asks those questions ---------------------------------------------


def card(client, task: Task) -> str:
    return client.get(f"/tasks/{task.pk}/card", HTTP_HX_REQUEST="true").content.decode()


def test_a_failed_card_offers_try_again_and_shows_its_quote(project, people, owner_client, a_task):
    task = a_task(
        project,
        people["owner"],
        state=State.FAILED,
        cost_estimate=Decimal("0.80"),
        error_message="The provider refused it.",
    )
    html = card(owner_client, task)
    assert "quoted $0.80" in html and ">Try again</button>" in html and "confirm(" not in html


def test_an_uncertain_card_asks_before_sending_again(project, people, owner_client, a_task):
    html = card(owner_client, a_task(project, people["owner"], state=State.UNCERTAIN))
    assert ">Send again</button>" in html and "may bill twice" in html


def test_a_finished_draft_card_offers_promote_until_its_final_is_on_its_way(project, people, owner_client, a_task):
    draft = a_task(project, people["owner"])
    assert "Promote to final" in card(owner_client, draft)
    final = a_task(project, people["owner"], kind=Task.Kind.FINAL, state=State.RUNNING, promoted_from=draft)
    html = card(owner_client, draft)
    assert "Promote to final" not in html and f"Final #{final.pk}: rendering" in html
    Task.objects.filter(pk=final.pk).update(state=State.FAILED)
    assert "Promote to final" in card(owner_client, draft)


# --- Promotion ----------------------------------------------------------------


def test_promoting_a_running_draft_is_refused_and_makes_nothing(project, people, owner_client, a_task):
    draft = a_task(project, people["owner"], state=State.RUNNING)
    answer = owner_client.post(f"/tasks/{draft.pk}/promote", follow=True)
    assert "Only a finished draft can be promoted." in answer.content.decode()
    assert not Task.objects.filter(promoted_from=draft).exists()


def test_promote_refuses_a_project_without_a_final_account(project, people, a_task):
    draft = a_task(project, people["owner"])
    project.final_account = None
    project.save()
    draft = Task.objects.select_related("project").get(pk=draft.pk)
    with pytest.raises(lifecycle.PromotionRefused, match="no provider account for finals"):
        lifecycle.promote(draft=draft, user=people["owner"])
    assert not Task.objects.filter(promoted_from=draft).exists()


def test_sending_a_done_task_again_is_refused(project, people, owner_client, a_task):
    task = a_task(project, people["owner"])
    answer = owner_client.post(f"/tasks/{task.pk}/send-again", follow=True)
    assert "Only a failed or uncertain task can be sent again." in answer.content.decode()
    assert Task.objects.count() == 1


@pytest.fixture
def grid_of_done_drafts(owner_client, project, draft_form):
    owner_client.post(f"/projects/{project.pk}/draft", draft_form(form_token="first"))
    Task.objects.all().delete()
    version = project.prompts.get().latest_version()
    answer = owner_client.post(
        f"/projects/{project.pk}/grids/new",
        {
            "version": version.pk,
            "tier": "fast",
            "resolution": "720p",
            "aspect_ratio": "16:9",
            "duration_s": "4",
            "seed": "",
            "columns": "seed",
            "column_values": "11, 22",
            "rows": "",
            "row_values": "",
            "form_token": "g",
        },
    )
    assert answer.status_code == 302
    batch = Batch.objects.get()
    batch.tasks.update(state=State.DONE)
    return batch


def test_the_grid_pages_cards_say_they_are_on_the_grid(owner_client, grid_of_done_drafts):
    page = owner_client.get(f"/batches/{grid_of_done_drafts.pk}/").content.decode()
    for task in grid_of_done_drafts.tasks.all():
        assert f'hx-post="/tasks/{task.pk}/promote?compact=1&amp;on=grid"' in page
    # The same cards on the project page are compact, but not on a grid.
    page = owner_client.get(f"/projects/{grid_of_done_drafts.project_id}/").content.decode()
    assert "on=grid" not in page and 'promote?compact=1"' in page


def test_promoting_on_the_grid_page_adds_no_new_card(owner_client, grid_of_done_drafts):
    draft = grid_of_done_drafts.tasks.first()
    answer = owner_client.post(f"/tasks/{draft.pk}/promote?compact=1&on=grid", HTTP_HX_REQUEST="true")
    html = answer.content.decode()
    final = Task.objects.get(promoted_from=draft)
    assert answer.status_code == 200 and "hx-swap-oob" not in html
    # The draft's own card shows its final and stays followed as a compact grid card.
    assert f"Final #{final.pk}: " in html
    assert re.search(rf'name="card" form="live-cards" value="{draft.pk}:\w+:cg"', html)


def test_a_grouped_card_without_the_grid_signal_lists_its_final_whatever_page_it_came_from(
    owner_client, grid_of_done_drafts
):
    draft = grid_of_done_drafts.tasks.first()
    # The page it came from no longer matters, only what the card sends.
    answer = owner_client.post(
        f"/tasks/{draft.pk}/promote?compact=1",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/batches/{grid_of_done_drafts.pk}/",
    )
    final = Task.objects.get(promoted_from=draft)
    html = answer.content.decode()
    assert 'hx-swap-oob="afterbegin:#task-list"' in html and f'id="task-{final.pk}"' in html


# --- The editor's fields --------------------------------------------------------


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 80, 40)).save(buffer, "PNG")
    return SimpleUploadedFile("frame.png", buffer.getvalue(), content_type="image/png")


def test_a_recalled_first_frame_shows_under_its_input_with_a_keep_box(owner_client, project, draft_form):
    owner_client.post(f"/projects/{project.pk}/draft", {**draft_form(), "first_frame": png()})
    task, image = Task.objects.get(), InputImage.objects.get()
    page = owner_client.get(f"/projects/{project.pk}/?from_task={task.pk}").content.decode()
    start = page.index('<div class="field field-first_frame">')
    field = page[start : page.index('<div class="field field-last_frame">', start)]
    assert f'src="/images/{image.pk}/thumbnail"' in field
    assert f'data-keeps="first_frame_id" value="{image.pk}"' in field
    assert f'name="first_frame_id" value="{image.pk}"' in page


def test_the_tier_select_re_renders_the_editor(owner_client, project):
    page = owner_client.get(f"/projects/{project.pk}/").content.decode()
    assert f'<select name="tier" hx-get="/projects/{project.pk}/draft/form" hx-target="#draft-panel"' in page


def test_a_field_error_is_announced_beside_its_field(project, owner_client):
    answer = owner_client.post(
        f"/projects/{project.pk}/accounts/add", {"label": "", "route": "videos-gateway", "api_key": "k"}
    )
    html = answer.content.decode()
    assert '<div class="field field-label has-error">' in html
    assert '<p class="error" role="alert" id="id_label_error">This field is required.</p>' in html
    assert 'aria-describedby="id_label_error"' in html


def test_a_seed_the_route_does_not_take_is_not_shown_as_if_it_shaped_the_clip(
    db, make_people, make_project, pending_task, archived_clip, client_for
):
    people = make_people()
    gemini = make_project(people, name="Gemini", route="gemini")
    task = pending_task(gemini, people["owner"], seed=4242)
    clip = archived_clip(task)
    client = client_for(people["owner"])
    card = client.get(f"/tasks/{task.pk}/card", HTTP_HX_REQUEST="true").content.decode()
    assert "seed 4242" not in card
    page = client.get(f"/clips/{clip.pk}/").content.decode()
    assert "not sent (this route takes no seed)" in page and "4242" not in page
