"""Bad input is refused in plain words on its field, never a server error: NUL and lone surrogates in any
form (PostgreSQL's text and jsonb cannot hold NUL), JSON no database takes, an oversized grid axis
(refused before any cell is planned), and nonsense numbers in the quote views."""

from __future__ import annotations

import importlib
import inspect

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.test import Client

from studio.forms import StorableText
from studio.money.models import Budget
from studio.projects.models import Invitation, Membership, Project
from studio.prompts.models import Prompt, PromptVersion
from studio.providers.models import ProviderAccount
from studio.tasks import forms as task_forms
from studio.tasks.models import Batch, Task

pytestmark = pytest.mark.django_db

NUL = "\x00"
NUL_REFUSED = "Remove the NUL character (\\0) from this: it cannot be stored."
SURROGATE_REFUSED = "Remove the broken character (a lone surrogate, U+D800) from this: it cannot be stored."
FORM_MODULES = ("studio.projects.forms", "studio.providers.forms", "studio.spend.forms", "studio.tasks.forms")


def refused_on(answer, field: str, words: str = NUL_REFUSED, *, form: str = "form") -> None:
    """The answer is a 400 whose form names `words` on `field`, on the page too."""
    assert answer.status_code == 400, answer.status_code
    assert words in answer.context[form].errors[field]
    assert words in answer.content.decode()


def test_every_form_of_ours_refuses_unstorable_text():
    found = [
        cls
        for name in FORM_MODULES
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass)
        if issubclass(cls, forms.BaseForm) and cls.__module__ == name
    ]
    assert len(found) >= 11
    assert [cls.__name__ for cls in found if not issubclass(cls, StorableText)] == []


def test_a_lone_surrogate_is_refused_like_a_nul():
    # A form post cannot carry one (Django decodes with replacement characters), but code can.
    from studio.projects.forms import ProjectForm

    form = ProjectForm(data={"name": "Moon\ud800rise"})
    assert not form.is_valid() and form.errors["name"] == [SURROGATE_REFUSED]


# --- The editor and grids -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_the_editor_refuses_a_nul_on_its_field_and_drafts_nothing(owner_client, project, draft_form, field):
    answer = owner_client.post(f"/projects/{project.pk}/draft", draft_form(**{field: f"A heron{NUL} lifts off"}))
    refused_on(answer, field)
    assert Task.objects.count() == 0 and PromptVersion.objects.count() == 0


@pytest.fixture
def version(project, people):
    prompt = Prompt.objects.create(project=project, title="Kites")
    return prompt.record_version(text="A red kite over green hills", negative_prompt="", author=people["owner"])


def grid_form(version, /, **fields) -> dict[str, str]:
    return {
        "version": str(version.pk),
        "tier": "fast",
        "resolution": "720p",
        "aspect_ratio": "16:9",
        "duration_s": "4",
        "seed": "",
        "columns": "seed",
        "column_values": "11, 22",
        "rows": "aspect_ratio",
        "row_values": "16:9, 9:16",
        "form_token": "g-1",
        **fields,
    }


@pytest.mark.parametrize("field", ["column_values", "row_values"])
def test_the_grid_form_refuses_a_nul_on_its_field_and_starts_nothing(owner_client, project, version, field):
    answer = owner_client.post(f"/projects/{project.pk}/grids/new", grid_form(version, **{field: f"11{NUL}, 22"}))
    refused_on(answer, field)
    assert Batch.objects.count() == 0 and Task.objects.count() == 0


@pytest.fixture
def planned(monkeypatch) -> list[dict]:
    """Every call of the grid form's per-cell planning, recorded (and still made)."""
    calls: list[dict] = []
    real = task_forms.plan

    def counting(**arguments):
        calls.append(arguments)
        return real(**arguments)

    monkeypatch.setattr(task_forms, "plan", counting)
    return calls


def test_a_40000_seed_axis_is_refused_before_any_cell_is_planned(owner_client, project, version, planned):
    seeds = ", ".join(str(n) for n in range(40_000))
    answer = owner_client.post(
        f"/projects/{project.pk}/grids/new", grid_form(version, column_values=seeds, rows="", row_values="")
    )
    refused_on(answer, "column_values", "That is far more than 16 values; a grid has at most 16 cells.")
    assert planned == [] and Batch.objects.count() == 0


def test_an_axis_of_seventeen_values_is_counted_before_any_is_read(owner_client, project, version, planned):
    values = ", ".join(f"v{n}" for n in range(1, 18))
    answer = owner_client.post(
        f"/projects/{project.pk}/grids/new",
        grid_form(version, columns="version", column_values=values, rows="", row_values=""),
    )
    refused_on(answer, "column_values", "That is 17 values; a grid has at most 16 cells.")
    assert planned == []


def test_a_value_listed_twice_is_still_named(owner_client, project, version, planned):
    answer = owner_client.post(f"/projects/{project.pk}/grids/new", grid_form(version, column_values="11, 22, 11"))
    refused_on(answer, "column_values", "“11” is listed twice.")
    assert planned == []


def test_a_grid_that_fits_is_planned_once(owner_client, project, version, planned):
    assert owner_client.post(f"/projects/{project.pk}/grids/new", grid_form(version)).status_code == 302
    assert len(planned) == 1 and Task.objects.count() == 4


# --- Provider accounts ---------------------------------------------------------------------

NEW_ACCOUNT = {
    "label": "Gateway",
    "route": "videos-gateway",
    "base_url": "/simulator/videos-gateway",
    "poll_interval_s": "",
    "api_key": "sim-secret-key-123456",
    "options_text": "",
}


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("label", f"Gate{NUL}way", NUL_REFUSED),
        ("base_url", f"https://example.com/{NUL}", NUL_REFUSED),
        ("api_key", f"sim-{NUL}", NUL_REFUSED),
        # JSON spells them as escapes: the text has none, what it decodes to does.
        ("options_text", '{"provider": "\\u0000"}', NUL_REFUSED),
        ("options_text", '{"\\u0000": "auto"}', NUL_REFUSED),
        ("options_text", '{"a": [{"b": ["\\u0000"]}]}', NUL_REFUSED),
        ("options_text", '{"provider": "\\ud800"}', SURROGATE_REFUSED),
        ("options_text", '{"n": NaN}', "Not JSON we can store (NaN, Infinity or a number too large)."),
        ("options_text", '{"n": -Infinity}', "Not JSON we can store (NaN, Infinity or a number too large)."),
        ("options_text", '{"n": 1e999}', "Not JSON we can store (NaN, Infinity or a number too large)."),
        ("options_text", '{"n": ' + "9" * 5000 + "}", "Not JSON we can store (NaN, Infinity or a number too large)."),
        ("options_text", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "Not JSON we can store (nested too deeply)."),
        ("poll_interval_s", "1e300", "Poll interval is a number of seconds above zero, at most 3600."),
    ],
)
def test_adding_an_account_refuses_what_cannot_be_stored_on_its_field(owner_client, project, field, value, words):
    before = ProviderAccount.objects.count()
    answer = owner_client.post(f"/projects/{project.pk}/accounts/add", {**NEW_ACCOUNT, field: value})
    refused_on(answer, field, words)
    assert ProviderAccount.objects.count() == before


def test_a_proper_character_beyond_the_basic_plane_is_kept(owner_client, project):
    # An escaped surrogate pair is one whole character (🎬), not a lone half.
    answer = owner_client.post(
        f"/projects/{project.pk}/accounts/add", {**NEW_ACCOUNT, "options_text": '{"note": "\\ud83c\\udfac"}'}
    )
    assert answer.status_code == 302
    assert ProviderAccount.objects.get(label="Gateway").options == {"note": "🎬"}


def test_editing_an_account_refuses_a_nul_in_its_options_and_keeps_them(owner_client, project):
    account = project.draft_account
    ProviderAccount.objects.filter(pk=account.pk).update(options={"provider": "auto"})
    answer = owner_client.post(
        f"/accounts/{account.pk}/",
        {**NEW_ACCOUNT, "label": "Renamed", "api_key": "", "options_text": '{"provider": "a\\u0000"}'},
    )
    refused_on(answer, "options_text")
    account.refresh_from_db()
    assert account.options == {"provider": "auto"} and account.label == "Simulator"


def test_choosing_accounts_refuses_a_nul_and_keeps_the_choice(owner_client, project):
    account = project.draft_account
    answer = owner_client.post(
        f"/projects/{project.pk}/accounts/", {"draft_account": f"{account.pk}{NUL}", "final_account": ""}
    )
    assert answer.status_code == 200 and answer.context["routing"].errors["draft_account"]
    project.refresh_from_db()
    assert project.draft_account_id == account.pk and project.final_account_id == account.pk


# --- Projects and members ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["name", "description"])
def test_a_new_project_refuses_a_nul_on_its_field(clients, people, field):
    data = {"name": "Night ferry", "description": "Teaser", field: f"Night{NUL}ferry"}
    refused_on(clients["outsider"].post("/projects/new", data), field)
    assert Project.objects.count() == 0


@pytest.mark.parametrize("field", ["name", "description"])
def test_project_settings_refuse_a_nul_and_change_nothing(project, owner_client, field):
    data = {"name": "Moonset", "description": "", field: f"Moon{NUL}set"}
    refused_on(owner_client.post(f"/projects/{project.pk}/settings", data), field)
    project.refresh_from_db()
    assert (project.name, project.description) == ("Moonrise", "")


def test_deleting_refuses_a_nul_in_the_typed_name(project, owner_client):
    answer = owner_client.post(f"/projects/{project.pk}/delete", {"confirm": f"Moon{NUL}rise"})
    refused_on(answer, "confirm", form="delete_form")
    assert Project.objects.filter(pk=project.pk).exists()


def test_inviting_refuses_a_nul_and_invites_no_one(project, owner_client):
    before = Membership.objects.count()
    answer = owner_client.post(f"/projects/{project.pk}/members/", {"who": f"new{NUL}@example.com", "role": "viewer"})
    refused_on(answer, "who")
    assert Invitation.objects.count() == 0 and Membership.objects.count() == before


def test_a_role_with_a_nul_changes_nothing(project, owner_client, people):
    editor = Membership.objects.get(project=project, user=people["editor"])
    answer = owner_client.post(f"/projects/{project.pk}/members/{editor.pk}/role", {"role": f"viewer{NUL}"})
    assert answer.status_code == 302
    editor.refresh_from_db()
    assert editor.role == "editor"


def test_signing_up_through_an_invitation_refuses_a_nul_in_the_username(project, owner_client, mailoutbox):
    owner_client.post(f"/projects/{project.pk}/members/", {"who": "new@example.com", "role": "viewer"})
    token = mailoutbox[0].body.split("/invites/")[1].split()[0]
    users = get_user_model().objects.count()
    answer = Client().post(
        f"/invites/{token}",
        {"username": f"new{NUL}comer", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    refused_on(answer, "username")
    assert get_user_model().objects.count() == users


def test_the_login_form_refuses_a_nul_without_an_error_page(people):
    answer = Client().post("/login/", {"username": f"own{NUL}er", "password": "pw-owner"})
    assert answer.status_code == 200 and "_auth_user_id" not in answer.client.session


# --- Budget and spend ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["limit", "member_cap"])
def test_the_budget_form_refuses_a_nul_and_sets_no_budget(project, owner_client, field):
    data = {"limit": "10", "period": "month", "member_cap": "", field: f"1{NUL}0"}
    answer = owner_client.post(f"/projects/{project.pk}/budget", data)
    assert answer.status_code == 400 and answer.context["form"].errors[field]
    assert not Budget.objects.filter(project=project).exists()


def test_the_spend_filters_survive_a_nul(project, owner_client):
    answer = owner_client.get(f"/projects/{project.pk}/spend", {"period": "dates", "start": f"2026-01-01{NUL}"})
    assert answer.status_code == 200


# --- Quote views: whatever the numbers, an answer in words ------------------------------------

NONSENSE = [NUL, f"4{NUL}", "-1", "-99999999999999", "9" * 5000, "1e999", "NaN"]


@pytest.mark.parametrize("field", ["tier", "resolution", "duration_s", "variations", "audio", "prompt_id"])
@pytest.mark.parametrize("value", NONSENSE)
def test_the_draft_quote_never_fails_on_nonsense(owner_client, project, field, value):
    answer = owner_client.get(
        f"/projects/{project.pk}/draft/quote", {"tier": "fast", "resolution": "720p", "duration_s": "4", field: value}
    )
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "field", ["version", "tier", "resolution", "duration_s", "seed", "columns", "column_values", "row_values"]
)
@pytest.mark.parametrize("value", NONSENSE)
def test_the_grid_quote_never_fails_on_nonsense(owner_client, project, version, field, value):
    answer = owner_client.get(f"/projects/{project.pk}/grids/quote", grid_form(version, **{field: value}))
    assert answer.status_code == 200 and "$" not in answer.content.decode()


def test_the_quotes_never_fail_on_bytes_that_are_not_utf8(owner_client, project, version):
    # %ED%A0%80 is a lone surrogate in UTF-8's form; Django reads it as a replacement character.
    for path in ("draft/quote?tier=fast&duration_s=4&resolution=", "grids/quote?column_values="):
        assert owner_client.get(f"/projects/{project.pk}/{path}%ED%A0%80%00").status_code == 200


def test_the_grid_quote_of_a_40000_seed_axis_is_refused_in_words(owner_client, project, version, planned):
    seeds = ",".join(str(n) for n in range(40_000))
    answer = owner_client.get(
        f"/projects/{project.pk}/grids/quote", grid_form(version, column_values=seeds, rows="", row_values="")
    )
    assert answer.status_code == 200 and "a grid has at most 16 cells" in answer.content.decode()
    assert planned == []


# --- Inputs outside forms: a NUL is named where the user is, never a 500 -------------------------


def test_a_review_note_with_a_nul_is_refused_and_changes_nothing(project, people, pending_task, archived_clip, clients):
    clip = archived_clip(pending_task(project, people["owner"]))
    answer = clients["reviewer"].post(
        f"/projects/{project.pk}/gallery/review", {"clip": clip.pk, "review": "approved", "note": "ok\x00"}, follow=True
    )
    assert answer.status_code == 200 and "Note: Remove the NUL character" in answer.content.decode()
    clip.refresh_from_db()
    assert clip.review_status == "needs_review"


@pytest.mark.parametrize("name", ["q", "author", "route", "model"])
def test_gallery_filters_drop_a_nul_and_say_so(project, owner_client, name):
    answer = owner_client.get(f"/projects/{project.pk}/gallery", {name: "dusk\x00"})
    assert answer.status_code == 200 and "Remove the NUL character" in answer.content.decode()


def test_settling_with_a_nul_in_the_job_id_changes_nothing(project, people, pending_task, owner_client):
    task = pending_task(project, people["owner"])
    Task.objects.filter(pk=task.pk).update(state=Task.State.UNCERTAIN)
    answer = owner_client.post(f"/tasks/{task.pk}/settle", {"found": "yes", "provider_task_id": "job\x00"}, follow=True)
    assert answer.status_code == 200 and "Paste the job" in answer.content.decode()
    assert Task.objects.get(pk=task.pk).state == Task.State.UNCERTAIN
