"""Bad input gets a clear error where the user is, and creates no task."""

from __future__ import annotations

import pytest

from studio.prompts.models import PromptVersion
from studio.providers.models import ProviderAccount
from studio.tasks import lifecycle
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def post(draft_form):
    """`post(client, project, **fields)`: post the draft form as HTMX does."""
    return lambda client, project, **fields: client.post(
        f"/projects/{project.pk}/draft", draft_form(**fields), HTTP_HX_REQUEST="true"
    )


def test_empty_prompt_is_refused_inline(owner_client, project, post):
    answer = post(owner_client, project, prompt="   ")
    assert answer.status_code == 200
    html = answer.content.decode()
    assert 'id="draft-panel"' in html and "Write a prompt first" in html
    assert Task.objects.count() == 0 and PromptVersion.objects.count() == 0


def test_duration_out_of_range_names_the_routes_rule(owner_client, project, post):
    answer = post(owner_client, project, duration_s="30")
    assert "This route takes 4s, 6s or 8s clips." in answer.content.decode()
    assert Task.objects.count() == 0


def test_seed_out_of_range_is_refused(owner_client, project, post):
    answer = post(owner_client, project, seed=str(2**32))
    assert "from 0 to 4294967295" in answer.content.decode()
    assert Task.objects.count() == 0


def test_unknown_aspect_ratio_is_refused(owner_client, project, post):
    answer = post(owner_client, project, aspect_ratio="4:3")
    assert "Select a valid choice" in answer.content.decode()
    assert Task.objects.count() == 0


def test_form_errors_without_htmx_rerender_the_page(owner_client, project, draft_form):
    answer = owner_client.post(f"/projects/{project.pk}/draft", draft_form(prompt=""))
    assert answer.status_code == 400
    assert "Write a prompt first" in answer.content.decode()


def test_a_double_click_makes_one_task(owner_client, project, post):
    post(owner_client, project, form_token="tok-1")
    post(owner_client, project, form_token="tok-1")
    assert Task.objects.count() == 1
    post(owner_client, project, form_token="tok-2")
    assert Task.objects.count() == 2


def test_a_draft_records_a_version_only_when_the_words_change(owner_client, project, post):
    post(owner_client, project, form_token="a")
    post(owner_client, project, form_token="b")
    post(owner_client, project, form_token="c", prompt="A lighthouse at dawn")
    assert list(PromptVersion.objects.order_by("number").values_list("number", flat=True)) == [1, 2]
    first, second, third = Task.objects.order_by("pk")
    assert first.prompt_version == second.prompt_version != third.prompt_version


def test_a_draft_without_a_seed_gets_one_recorded(owner_client, project, post):
    post(owner_client, project)
    task = Task.objects.get()
    assert task.seed is not None and 0 <= task.seed <= 2**32 - 1
    assert task.cost_estimate is not None  # fast 720p silent has a price card


def test_the_first_draft_names_its_prompt_after_its_first_eight_words(owner_client, project, post):
    post(owner_client, project, prompt="A slow dolly past rain on neon signs, reflections pooling below")
    assert project.prompts.get().title == "A slow dolly past rain on neon signs,…"


def test_people_and_prompt_rewriting_are_offered_where_the_route_takes_them_and_kept_on_the_task(
    owner_client, project, post
):
    editor = owner_client.get(f"/projects/{project.pk}/").content.decode()
    assert "People and prompt rewriting" in editor and "provider&#x27;s defaults" in editor
    for value, words in (("allow_all", "Anyone, adults and children"), ("allow_adult", "Adults only")):
        assert f'<option value="{value}">{words}</option>' in editor
    assert '<option value="off">Keep my exact words</option>' in editor
    post(owner_client, project, people="dont_allow", enhance_prompt="off")
    task = Task.objects.get()
    assert (task.parameters["people"], task.parameters["enhance_prompt"]) == ("dont_allow", False)
    # Recalled, the editor starts from them and says what it carried.
    recalled = owner_client.get(f"/projects/{project.pk}/?from_task={task.pk}").content.decode()
    assert '<option value="dont_allow" selected>No people</option>' in recalled
    assert "no people · exact words" in recalled


def test_a_people_setting_the_route_does_not_take_is_refused_inline(owner_client, project, post):
    answer = post(owner_client, project, people="everyone")
    assert "Select a valid choice" in answer.content.decode()
    assert Task.objects.count() == 0


def test_google_gemini_offers_prompt_rewriting_but_no_people_choice(owner_client, project):
    account = project.draft_account
    account.route = "gemini"
    account.save()
    editor = owner_client.get(f"/projects/{project.pk}/").content.decode()
    assert 'name="enhance_prompt"' in editor and 'name="people"' not in editor


def test_a_final_on_a_route_without_the_drafts_people_setting_says_it_was_left_to_the_route(
    project, people, pending_task
):
    draft = pending_task(project, people["owner"], people="allow_all", enhance_prompt=True)
    cloud = ProviderAccount(project=project, label="Cloud", route="google-cloud")
    wanted, notes = lifecycle.final_parameters(draft, cloud)
    assert "people" not in wanted and wanted["enhance_prompt"] is True
    assert any("takes no “anyone, adults and children” setting; it decides who appears" in n for n in notes), notes
    ours = ProviderAccount(project=project, label="Gateway", route="videos-gateway")
    wanted, notes = lifecycle.final_parameters(draft, ours)
    assert (wanted["people"], wanted["enhance_prompt"]) == ("allow_all", True) and not notes


def test_drawing_variations_together_is_offered_only_where_the_route_renders_several_clips_per_request(
    project, make_project, people, clients, draft_form
):
    gateway = clients["editor"].get(f"/projects/{project.pk}/").content.decode()
    assert 'name="one_request"' not in gateway
    # Posted anyway, it is not a choice this route has: plain variations, one request each.
    answer = clients["editor"].post(
        f"/projects/{project.pk}/draft", draft_form(variations="2", one_request="on", form_token="gw")
    )
    assert answer.status_code == 302
    assert not Task.objects.filter(project=project, sample_of__isnull=False).exists()

    cloud = make_project(
        people,
        name="Cloud",
        route="google-cloud",
        key="unused",
        options={"project_id": "dailies-sim", "location": "us"},
    )
    page = clients["editor"].get(f"/projects/{cloud.pk}/").content.decode()
    assert 'name="one_request"' in page and "Up to 4 variations from one request" in page
