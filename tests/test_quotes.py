"""Every spend button shows its quote and what the budget has left, and no nonsense figure is ever quoted."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from studio.money.models import Budget
from studio.prompts.models import Prompt
from studio.providers.base import Tier
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db

State = Task.State
# Fast 720p silent on the default price cards: $0.10/s, so a 4 s draft is $0.40.
# A final there is quality 1080p with audio, 8 s at $0.40/s: $3.20.
FAST_4S = {"tier": "fast", "resolution": "720p", "duration_s": "4"}


def set_budget(project, limit: str | None, *, member_cap: str | None = None, period: str = "month") -> Budget:
    return Budget.objects.create(
        project=project,
        limit=None if limit is None else Decimal(limit),
        member_cap=None if member_cap is None else Decimal(member_cap),
        period=period,
    )


def draft_quote(client, project, **fields) -> str:
    return client.get(f"/projects/{project.pk}/draft/quote", {**FAST_4S, **fields}).content.decode()


def card(client, task: Task) -> str:
    return client.get(f"/tasks/{task.pk}/card", HTTP_HX_REQUEST="true").content.decode()


def button(html: str, label: str) -> str:
    """The opening tag of the button that says `label`."""
    found = re.search(rf"<button[^>]*>{re.escape(label)}</button>", html)
    assert found, f"no {label!r} button in {html}"
    return found.group(0)


@pytest.fixture
def a_task(pending_task):
    """`a_task(project, user, *, state, **fields)`: a 4 s fast draft (quoted $0.40), put into this state."""

    def make(project, user, *, state=State.DONE, **fields) -> Task:
        task = pending_task(project, user)
        Task.objects.filter(pk=task.pk).update(state=state, **fields)
        return Task.objects.get(pk=task.pk)

    return make


# --- The editor ------------------------------------------------------------------


def test_the_draft_quote_shows_what_the_budget_has_left(owner_client, project):
    set_budget(project, "10.00")
    html = draft_quote(owner_client, project)
    assert "Quote: <strong>$0.40</strong>" in html
    assert "$10.00 left of $10.00 this month" in html and "data-over-budget" not in html


def test_the_draft_quote_counts_what_the_project_holds_and_the_members_own_cap(owner_client, project, people, a_task):
    a_task(project, people["owner"])  # holds its $0.40
    set_budget(project, "10.00", member_cap="5.00")
    html = draft_quote(owner_client, project, variations="3")
    assert "3 × $0.40 = <strong>$1.20</strong>" in html
    assert "$9.60 left of $10.00 this month; your cap: $4.60 left of $5.00" in html


def test_a_draft_quote_over_the_budget_says_so_and_disables_draft(owner_client, project):
    set_budget(project, "1.00")
    html = draft_quote(owner_client, project, variations="3")
    assert "Over budget: $1.20 needed, $1.00 left" in html and "data-over-budget" in html
    # The editor turns its Draft button off when its quote carries that mark (static/js/studio.js).
    page = owner_client.get(f"/projects/{project.pk}/").content.decode()
    assert 'data-quote="#draft-quote"' in page


def test_a_members_cap_is_what_is_left_for_them(owner_client, project):
    set_budget(project, None, member_cap="0.30")
    html = draft_quote(owner_client, project)
    assert "Over budget: $0.40 needed, $0.30 left" in html


def test_with_no_budget_the_quote_shows_only_the_price(owner_client, project):
    html = draft_quote(owner_client, project)
    assert "Quote: <strong>$0.40</strong>" in html and "left" not in html
    set_budget(project, None)  # a budget row with no limit is no budget
    assert "left" not in draft_quote(owner_client, project)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"duration_s": "-99999999999999"}, "Duration must be one of 4, 6, 8 s."),
        ({"duration_s": "99999999999999"}, "Duration must be one of 4, 6, 8 s."),
        ({"duration_s": "9" * 5000}, "Duration must be one of 4, 6, 8 s."),
        ({"duration_s": "4.5"}, "Duration must be one of 4, 6, 8 s."),
        ({"duration_s": "0"}, "Duration must be one of 4, 6, 8 s."),
        ({"variations": "-5"}, "Draft 1 to 8 variations."),
        ({"variations": "0"}, "Draft 1 to 8 variations."),
        ({"variations": "100000000000000000000"}, "Draft 1 to 8 variations at a time."),
        ({"variations": "many"}, "Variations: a whole number from 1 to 8."),
        ({"tier": "ultra"}, "Tier must be one of lite, fast."),
        ({"tier": "quality"}, "Tier must be one of lite, fast."),
        ({"resolution": "8k"}, "Resolution must be one of 720p, 1080p, 4k."),
        ({"resolution": "1080p", "duration_s": "4"}, "1080p and 4k need 8 s"),
    ],
)
def test_numbers_the_form_would_refuse_are_named_not_priced(owner_client, project, fields, reason):
    set_budget(project, "10.00")
    html = draft_quote(owner_client, project, **fields)
    assert "—" in html and reason in html
    assert "$" not in html, "nothing may be priced, nor the budget compared with it"


def test_the_quote_of_what_the_form_accepts_is_still_priced_at_the_edges(owner_client, project):
    assert "8 × $0.80 = <strong>$6.40</strong>" in draft_quote(owner_client, project, duration_s="8", variations="8")


# --- Grids -------------------------------------------------------------------------


@pytest.fixture
def version(project, people):
    prompt = Prompt.objects.create(project=project, title="Kites")
    return prompt.record_version(text="A red kite over green hills", negative_prompt="", author=people["owner"])


@pytest.fixture
def grid_quote(owner_client, project, version):
    def ask(**fields) -> str:
        data = {
            "version": version.pk,
            **FAST_4S,
            "aspect_ratio": "16:9",
            "seed": "",
            "columns": "seed",
            "column_values": "11, 22",
            "rows": "aspect_ratio",
            "row_values": "16:9, 9:16",
        }
        answer = owner_client.get(f"/projects/{project.pk}/grids/quote", {**data, **fields})
        assert answer.status_code == 200
        return answer.content.decode()

    return ask


def test_the_grid_quote_shows_each_cell_and_the_total_against_the_budget(project, grid_quote):
    set_budget(project, "10.00")
    html = grid_quote(duration_s="4", column_values="11, 22", row_values="16:9, 9:16")
    assert "4 cells" in html and "quoted total <strong>$1.60</strong>" in html
    for cell in ("seed 11 · 16:9", "seed 22 · 16:9", "seed 11 · 9:16", "seed 22 · 9:16"):
        assert f"<li>{cell}: $0.40</li>" in html
    assert "$10.00 left of $10.00 this month" in html and "data-over-budget" not in html


def test_a_grid_is_quoted_at_the_model_the_account_sends_not_the_routes_default(project, grid_quote):
    # The fast tier sends the quality model: each 4 s cell is priced as quality ($0.20/s silent on route 4).
    account = project.draft_account
    account.model_ids = {"fast": account.provider.model_for(Tier.QUALITY)}
    account.save()
    html = grid_quote(duration_s="4", column_values="11, 22", row_values="16:9, 9:16")
    assert "<li>seed 11 · 16:9: $0.80</li>" in html and "quoted total <strong>$3.20</strong>" in html


def test_a_grid_over_the_budget_says_so_and_disables_its_button(owner_client, project, grid_quote):
    set_budget(project, "1.00")
    html = grid_quote(columns="duration_s", column_values="4, 8", rows="", row_values="")
    assert "<li>4 s: $0.40</li>" in html and "<li>8 s: $0.80</li>" in html
    assert "Over budget: $1.20 needed, $1.00 left" in html and "data-over-budget" in html
    page = owner_client.get(f"/projects/{project.pk}/grids/new").content.decode()
    assert 'data-quote="#grid-quote"' in page


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"duration_s": "-99999999999999"}, "Duration must be one of 4, 6, 8 s."),
        ({"duration_s": "9" * 5000}, "Enter a whole number."),
        ({"tier": "ultra"}, "Select a valid choice."),
        ({"resolution": "8k"}, "Select a valid choice."),
        ({"column_values": "9" * 5000}, "is not a value here"),
        ({"column_values": "²"}, "is not a value here"),
        ({"columns": "duration_s", "column_values": "-99999999999999"}, "is not a value here"),
        ({"columns": "version", "column_values": "v" + "1" * 5000}, "is not a value here"),
    ],
)
def test_grid_numbers_the_form_would_refuse_are_named_not_priced(project, grid_quote, fields, reason):
    set_budget(project, "10.00")
    html = grid_quote(**fields)
    assert "—" in html and reason in html
    assert "$" not in html and "cells" not in html


# --- Cards: promote and send again ----------------------------------------------------


def test_promote_shows_the_finals_quote_and_what_is_left(project, people, owner_client, a_task):
    draft = a_task(project, people["owner"])
    set_budget(project, "10.00")
    html = card(owner_client, draft)
    # The draft holds its $0.40, and the final is 1080p, 8 s with audio.
    assert "≈ $3.20 · $9.60 left of $10.00 this month" in html
    assert "disabled" not in button(html, "Promote to final")


def test_promote_over_the_budget_is_disabled_and_says_why(project, people, clients, a_task):
    draft = a_task(project, people["owner"])
    set_budget(project, "3.00")
    html = card(clients["editor"], draft)
    assert "Over budget: $3.20 needed, $2.60 left" in html
    assert "disabled" in button(html, "Promote to final")


def test_promote_with_no_budget_shows_only_its_quote(project, people, owner_client, a_task):
    html = card(owner_client, a_task(project, people["owner"]))
    assert "≈ $3.20</span>" in html and "left of" not in html


def test_send_again_shows_the_tasks_own_quote(project, people, owner_client, a_task):
    failed = a_task(project, people["owner"], state=State.FAILED, cost_estimate=Decimal("0.80"))
    set_budget(project, "10.00")
    html = card(owner_client, failed)
    assert "≈ $0.80 · $9.20 left of $10.00 this month" in html
    assert "disabled" not in button(html, "Try again")
    Budget.objects.filter(project=project).update(limit=Decimal("1.00"))
    html = card(owner_client, failed)
    assert "Over budget: $0.80 needed, $0.20 left" in html and "disabled" in button(html, "Try again")


def test_an_unpriced_send_again_under_a_budget_is_off_unless_the_account_allows_it(
    project, people, owner_client, a_task
):
    failed = a_task(project, people["owner"], state=State.FAILED, cost_estimate=None)
    set_budget(project, "10.00")
    html = card(owner_client, failed)
    assert "No price card" in html and "disabled" in button(html, "Try again")
    type(project.draft_account).objects.filter(pk=project.draft_account_id).update(allow_unpriced=True)
    html = card(owner_client, failed)
    assert "no price card · $10.00 left" in html and "disabled" not in button(html, "Try again")


def test_the_project_page_and_the_grid_page_quote_their_buttons(project, owner_client, version):
    grid = {
        "version": version.pk,
        **FAST_4S,
        "aspect_ratio": "16:9",
        "seed": "",
        "columns": "seed",
        "column_values": "11, 22",
        "form_token": "g",
    }
    answer = owner_client.post(f"/projects/{project.pk}/grids/new", grid)
    assert answer.status_code == 302
    Task.objects.update(state=State.DONE)
    set_budget(project, "10.00")
    # The two cells hold $0.80; each may be promoted for $3.20.
    for url in (f"/projects/{project.pk}/", answer["Location"]):
        page = owner_client.get(url).content.decode()
        assert page.count("≈ $3.20 · $9.20 left of $10.00 this month") == 2, url


def test_watchers_see_no_spend_buttons_and_pay_for_no_quotes(project, people, clients, a_task):
    draft = a_task(project, people["owner"])
    set_budget(project, "10.00")
    html = card(clients["reviewer"], draft)
    assert "Promote" not in html and "≈ $3.20" not in html


# --- Settling an uncertain submission --------------------------------------------------


def test_owners_get_the_settle_form_on_an_uncertain_card(project, people, owner_client, a_task):
    task = a_task(project, people["owner"], state=State.UNCERTAIN)
    html = card(owner_client, task)
    form = html[html.index(f'action="/tasks/{task.pk}/settle"') :]
    form = form[: form.index("</form>")]
    assert 'name="provider_task_id"' in form
    assert '<button name="found" value="yes">Found it: follow</button>' in form
    assert '<button name="found" value="no" formnovalidate>Not there: not billed</button>' in form
    assert "nothing was billed" in form


@pytest.mark.parametrize("role", ["editor", "reviewer", "viewer"])
def test_others_see_only_the_explanation(project, people, clients, a_task, role):
    html = card(clients[role], a_task(project, people["owner"], state=State.UNCERTAIN))
    assert "/settle" not in html and "Found it" not in html
    assert "An owner can settle this" in html


def test_a_card_that_is_not_uncertain_has_no_settle_form(project, people, owner_client, a_task):
    for state in (State.DONE, State.FAILED, State.RUNNING):
        html = card(owner_client, a_task(project, people["owner"], state=state))
        assert "/settle" not in html and "An owner can settle" not in html


def test_the_settle_forms_answers_reach_the_settle_view(project, people, owner_client, a_task):
    found = a_task(project, people["owner"], state=State.UNCERTAIN)
    gone = a_task(project, people["owner"], state=State.UNCERTAIN)
    owner_client.post(f"/tasks/{found.pk}/settle", {"found": "yes", "provider_task_id": "job-42"})
    owner_client.post(f"/tasks/{gone.pk}/settle", {"found": "no", "provider_task_id": ""})
    found.refresh_from_db()
    gone.refresh_from_db()
    assert (found.state, found.provider_task_id) == (State.QUEUED, "job-42")
    assert (gone.state, gone.cost_charged) == (State.FAILED, Decimal("0"))


# --- What the page costs ------------------------------------------------------------------


def page_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.fixture
def add_cards(project, people, a_task, archived_clip):
    """`add_cards(n)`: n more done drafts with clips (each with a Promote quote) and n failed ones (Try again)."""

    def add(count: int) -> None:
        for _ in range(count):
            archived_clip(a_task(project, people["owner"]))
            a_task(project, people["editor"], state=State.FAILED, cost_estimate=Decimal("0.40"))

    return add


@pytest.mark.parametrize("role", ["owner", "editor"])
def test_the_project_pages_queries_do_not_grow_with_its_cards(project, clients, add_cards, role):
    set_budget(project, "100.00", member_cap="50.00")
    url = f"/projects/{project.pk}/"
    add_cards(1)
    few = page_queries(clients[role], url)
    add_cards(5)
    many = page_queries(clients[role], url)
    page = clients[role].get(url).content.decode()
    assert page.count("≈ $3.20 · ") == 6 and page.count("≈ $0.40 · ") == 6
    assert many == few


def test_the_live_refresh_prices_changed_cards_at_a_flat_cost(project, people, clients, pending_task):
    set_budget(project, "100.00")
    client = clients["owner"]

    def refresh_queries(count: int) -> int:
        tasks = [pending_task(project, people["owner"]) for _ in range(count)]
        # Each finished as the page watched: its card comes back with Promote, quoted.
        Task.objects.filter(pk__in=[t.pk for t in tasks]).update(state=State.DONE)
        cards = [f"{t.pk}:stale:" for t in tasks]
        with CaptureQueriesContext(connection) as captured:
            html = client.get(f"/projects/{project.pk}/live", {"card": cards}).content.decode()
        assert html.count("Promote to final</button>") == count and html.count("≈ $3.20 · ") == count
        return len(captured)

    assert refresh_queries(1) == refresh_queries(5)


# --- The spend page's link ---------------------------------------------------------------


@pytest.mark.parametrize(("role", "shown"), [("owner", True), ("editor", True), ("reviewer", False), ("viewer", False)])
def test_owners_and_editors_find_the_spend_page_in_the_project_nav(project, clients, role, shown):
    spend = reverse("spend", args=[project.pk])
    page = clients[role].get(f"/projects/{project.pk}/").content.decode()
    assert (f'href="{spend}">Spend</a>' in page) is shown
