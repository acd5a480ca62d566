"""The spend page, its CSV and the budget settings: who may see them, what they add up, and settling by hand."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from studio.money.models import Budget
from studio.projects.models import Activity, Membership
from studio.providers.base import Tier
from studio.providers.models import ProviderAccount
from studio.providers.registry import route_choices
from studio.spend import ledger
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db
State = Task.State


@pytest.fixture
def task_costing(project, people, pending_task):
    """`task_costing(quote, charged=None, *, by="owner", state=DONE, at=None, **fields)`: a task with that money."""

    def make(quote, charged=None, *, by="owner", state=State.DONE, at: datetime | None = None, **fields) -> Task:
        task = pending_task(project, people[by], tier=fields.pop("tier", Tier.FAST))
        money = {
            "cost_estimate": None if quote is None else Decimal(quote),
            "cost_charged": None if charged is None else Decimal(charged),
        }
        Task.objects.filter(pk=task.pk).update(state=state, **money, **({"created_at": at} if at else {}), **fields)
        task.refresh_from_db()
        return task

    return make


def at(day: str, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(f"{day}T{hour:02d}:00:00"))


def section(page: str, anchor: str) -> str:
    """The HTML of the page's <section id=anchor>."""
    start = page.index(f'id="{anchor}"')
    return page[start : page.index("</section>", start)]


class _Forms(HTMLParser):
    """The page's forms as (action, {name: value}, button words), as a browser would send them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str], str]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "form":
            self.forms.append((found.get("action") or "", {}, ""))
        elif tag == "input" and self.forms and found.get("name"):
            self.forms[-1][1][found["name"]] = found.get("value") or ""
        elif tag == "button" and self.forms:
            self._in_button = True

    def handle_data(self, data):
        if getattr(self, "_in_button", False):
            action, fields, words = self.forms[-1]
            self.forms[-1] = (action, fields, words + data.strip())

    def handle_endtag(self, tag):
        if tag == "button":
            self._in_button = False


def page_form(page: str, button: str) -> tuple[str, dict[str, str]]:
    parser = _Forms()
    parser.feed(page)
    matches = [(action, fields) for action, fields, words in parser.forms if words == button]
    assert len(matches) == 1, f"one form with a {button!r} button, found {len(matches)}"
    return matches[0]


# --- Who may ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "spend_status", "budget_status"),
    [("outsider", 404, 404), ("viewer", 403, 403), ("reviewer", 403, 403), ("editor", 200, 403), ("owner", 200, 200)],
)
def test_owners_and_editors_see_spend_and_only_owners_the_budget(project, clients, role, spend_status, budget_status):
    client = clients[role]
    assert client.get(reverse("spend", args=[project.pk])).status_code == spend_status
    assert client.get(reverse("spend-csv", args=[project.pk])).status_code == spend_status
    assert client.get(reverse("project-budget", args=[project.pk])).status_code == budget_status
    saved = client.post(reverse("project-budget", args=[project.pk]), {"limit": "1", "period": "month"})
    assert saved.status_code == (302 if budget_status == 200 else budget_status)
    assert Budget.objects.filter(project=project).exists() == (role == "owner")


def test_the_spend_link_is_in_the_nav_only_for_owners_and_editors(project, clients):
    spend_url = reverse("spend", args=[project.pk])
    assert spend_url in clients["editor"].get(reverse("members", args=[project.pk])).content.decode()
    assert spend_url not in clients["reviewer"].get(reverse("members", args=[project.pk])).content.decode()


def test_an_archived_projects_spend_is_still_shown_to_its_editor(project, clients):
    project.archived_at = timezone.now()
    project.save()
    assert clients["editor"].get(reverse("spend", args=[project.pk])).status_code == 200


# --- Budget settings ----------------------------------------------------------------------


def test_an_owner_sets_a_monthly_budget_and_a_cap_and_the_feed_says_so(project, owner_client, people):
    account = project.draft_account
    answer = owner_client.post(
        reverse("project-budget", args=[project.pk]),
        {"limit": "50", "period": "month", "member_cap": "5", "allow_unpriced": [account.pk]},
    )
    assert answer.status_code == 302
    budget = Budget.objects.get(project=project)
    assert (budget.limit, budget.period, budget.member_cap) == (Decimal("50.00"), "month", Decimal("5.00"))
    assert budget.updated_by == people["owner"]
    account.refresh_from_db()
    assert account.allow_unpriced
    line = Activity.objects.get(project=project, verb=Activity.Verb.BUDGET)
    assert line.words == (
        "set the budget to $50.00 each calendar month; set a cap of $5.00 per member each calendar month; "
        "allowed tasks with no price card on Simulator"
    )
    page = owner_client.get(reverse("project-budget", args=[project.pk])).content.decode()
    assert "<strong>$50.00</strong> left of $50.00" in page


def test_blanking_the_amounts_removes_the_budget_and_unticking_stops_unpriced_tasks(project, owner_client):
    Budget.objects.create(project=project, limit=Decimal("20"), member_cap=Decimal("3"))
    ProviderAccount.objects.filter(pk=project.draft_account.pk).update(allow_unpriced=True)
    answer = owner_client.post(
        reverse("project-budget", args=[project.pk]), {"limit": "", "period": "total", "member_cap": ""}
    )
    assert answer.status_code == 302
    budget = Budget.objects.get(project=project)
    assert (budget.limit, budget.member_cap, budget.is_limited) == (None, None, False)
    assert not ProviderAccount.objects.get(pk=project.draft_account.pk).allow_unpriced
    assert Activity.objects.get(verb=Activity.Verb.BUDGET).words == (
        "removed the project budget; removed the cap per member; stopped tasks with no price card on Simulator"
    )


def test_saving_the_same_budget_again_records_nothing(project, owner_client):
    Budget.objects.create(project=project, limit=Decimal("20.00"), period="total")
    answer = owner_client.post(reverse("project-budget", args=[project.pk]), {"limit": "20", "period": "total"})
    assert answer.status_code == 302
    assert not Activity.objects.filter(verb=Activity.Verb.BUDGET).exists()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("limit", "-1", "greater than or equal to 0"),
        ("limit", "ten dollars", "Enter a number."),
        ("limit", "10000000.01", "At most $10000000"),
        ("limit", "1e12", "At most $10000000"),
        ("limit", "NaN", "Enter a number."),
        ("limit", "1.005", "no more than 2 decimal places"),
        ("member_cap", "-0.01", "greater than or equal to 0"),
        ("member_cap", "99999999999", "At most $10000000"),
    ],
)
def test_bad_amounts_change_nothing_and_are_marked_beside_their_field(project, owner_client, field, value, says):
    Budget.objects.create(project=project, limit=Decimal("20.00"), member_cap=Decimal("2.00"))
    form = {"limit": "30", "period": "total", "member_cap": "4", "allow_unpriced": [project.draft_account.pk]}
    answer = owner_client.post(reverse("project-budget", args=[project.pk]), {**form, field: value})
    assert answer.status_code == 400
    page = answer.content.decode()
    error = page[page.index(f'id="id_{field}_error"') :].split("</p>")[0]
    assert says in error
    assert page.count('role="alert"') == 1  # only that field is marked
    budget = Budget.objects.get(project=project)
    assert (budget.limit, budget.period, budget.member_cap) == (Decimal("20.00"), "month", Decimal("2.00"))
    assert not ProviderAccount.objects.get(pk=project.draft_account.pk).allow_unpriced
    assert not Activity.objects.filter(verb=Activity.Verb.BUDGET).exists()


def test_the_largest_budget_allowed_is_ten_million(project, owner_client):
    answer = owner_client.post(reverse("project-budget", args=[project.pk]), {"limit": "10000000", "period": "month"})
    assert answer.status_code == 302
    assert Budget.objects.get(project=project).limit == Decimal("10000000.00")


def test_the_budget_page_shows_the_standing_with_a_meter(project, owner_client, task_costing):
    Budget.objects.create(project=project, limit=Decimal("10.00"))
    task_costing("2.50")
    task_costing("0.40", "1.50")
    page = owner_client.get(reverse("project-budget", args=[project.pk])).content.decode()
    assert "<strong>$4.00</strong> spent this month" in page
    assert "<strong>$6.00</strong> left of $10.00" in page
    assert 'aria-valuenow="40"' in page and 'data-percent="40"' in page


# --- What the page adds up ------------------------------------------------------------------


@pytest.fixture
def week_of_spend(task_costing):
    """Three days of one week in March 2025 (Monday the 3rd), and a task the week after."""
    return [
        task_costing("0.40", "0.40", by="owner", at=at("2025-03-03", 9)),
        task_costing("0.40", "0.80", by="editor", at=at("2025-03-03", 15)),
        task_costing("1.20", None, by="editor", state=State.RUNNING, at=at("2025-03-05")),
        task_costing("3.20", "0", by="owner", state=State.FAILED, at=at("2025-03-07"), tier=Tier.LITE),
        task_costing("9.00", "9.00", by="owner", at=at("2025-03-10")),
    ]


def test_the_chart_holds_each_days_charged_and_quoted_spend(project, week_of_spend):
    window = ledger.window(
        period="dates", start=at("2025-03-03").date(), end=at("2025-03-09").date(), group="day", now=timezone.now()
    )
    chart = ledger.chart(window.tasks(project), window, now=timezone.now())
    assert [bar.label for bar in chart.bars] == ["3 Mar", "4 Mar", "5 Mar", "6 Mar", "7 Mar", "8 Mar", "9 Mar"]
    held = [(bar.totals.count, bar.totals.charged, bar.totals.quoted_only, bar.totals.held) for bar in chart.bars]
    assert held[0] == (2, Decimal("1.20"), Decimal("0"), Decimal("1.20"))
    assert held[1] == (0, Decimal("0"), Decimal("0"), Decimal("0"))
    assert held[2] == (1, Decimal("0"), Decimal("1.20"), Decimal("1.20"))
    assert held[4] == (1, Decimal("0"), Decimal("0"), Decimal("0"))  # failed, not billed: holds nothing
    # Drawn to scale: both $1.20 bars are as tall, one charged, one quoted only.
    assert chart.top == Decimal(2)
    assert chart.bars[0].charged_height == chart.bars[2].quoted_height > 0
    assert chart.bars[0].quoted_height == chart.bars[2].charged_height == 0


def test_by_week_the_chart_has_one_bar_per_monday(project, week_of_spend):
    window = ledger.window(period="all", start=None, end=None, group="week", now=at("2025-03-12"))
    chart = ledger.chart(window.tasks(project), window, now=at("2025-03-12"))
    assert [(bar.label, bar.totals.held) for bar in chart.bars] == [
        ("week of 3 Mar", Decimal("2.40")),
        ("week of 10 Mar", Decimal("9.00")),
    ]


def test_the_tables_add_up_by_member_route_tier_and_model(project, week_of_spend):
    tasks = ledger.window(period="all", start=None, end=None, group="day", now=timezone.now()).tasks(project)
    by_member = {row.label: row for row in ledger.breakdown(tasks, "member")}
    owner, editor = by_member["owner"], by_member["editor"]
    assert (owner.count, owner.quoted, owner.charged, owner.held) == (
        3,
        Decimal("12.60"),
        Decimal("9.40"),
        Decimal("9.40"),
    )
    # Charged 0.80 on a 0.40 quote; the running task has no charge yet so is left out of the difference.
    assert (editor.count, editor.quoted, editor.charged, editor.difference, editor.held) == (
        2,
        Decimal("1.60"),
        Decimal("0.80"),
        Decimal("0.40"),
        Decimal("2.00"),
    )
    assert owner.difference == Decimal("-3.20")  # the failed task was quoted 3.20 and billed nothing
    by_tier = {row.label: row.held for row in ledger.breakdown(tasks, "tier")}
    assert by_tier == {"Fast": Decimal("11.40"), "Lite": Decimal("0.00")}
    [route] = ledger.breakdown(tasks, "route")
    assert (route.label, route.count) == (dict(route_choices())["videos-gateway"], 5)  # its name, not its slug
    by_model = {row.label: row.count for row in ledger.breakdown(tasks, "model")}
    assert by_model == {week_of_spend[0].model: 4, week_of_spend[3].model: 1}
    assert ledger.totals(tasks).held == Decimal("11.40")


def test_the_page_shows_the_periods_figures(project, clients, week_of_spend):
    query = {"period": "dates", "start": "2025-03-03", "end": "2025-03-09", "group": "day"}
    page = clients["editor"].get(reverse("spend", args=[project.pk]), query).content.decode()
    chart = section(page, "chart")
    assert "4 tasks, $2.40 held" in chart
    assert chart.count('class="charged"') == 1 and chart.count('class="quoted"') == 1
    assert "3 Mar: $1.20 held, $1.20 charged, $0.00 quoted and not yet charged; 2 tasks" in chart
    member_table = page[page.index('data-by="member"') :].split("</table>")[0]
    cells = ["2", "$1.60", "$0.80", "+$0.40", "$2.00"]  # tasks, quoted, charged, difference, held
    assert "<td>editor</td>" + "".join(f'<td class="number">{cell}</td>' for cell in cells) in member_table
    # The week after is outside the dates asked for.
    assert "$9.00" not in page.split('id="may-have-been-billed"')[0]


def test_this_month_is_the_default_and_last_month_is_left_out(project, clients, task_costing):
    task_costing("0.70", "0.70")
    task_costing("5.00", "5.00", at=ledger.month_start(timezone.now()) - timedelta(hours=1))
    page = clients["owner"].get(reverse("spend", args=[project.pk])).content.decode()
    assert "1 task, $0.70 held" in section(page, "chart")


def test_a_range_missing_a_date_falls_back_to_this_month_and_says_so(project, clients):
    page = clients["owner"].get(reverse("spend", args=[project.pk]), {"period": "dates", "start": "2025-03-01"})
    assert page.status_code == 200
    assert "Pick both dates" in page.content.decode()
    assert "Held spend, this month" in page.content.decode()


def test_a_charge_different_from_the_quote_is_shown_with_the_difference(project, clients, task_costing):
    dearer = task_costing("0.40", "0.80")
    cheaper = task_costing("1.00", "0.90")
    task_costing("0.60", "0.60")  # as quoted: not listed
    listed = section(clients["editor"].get(reverse("spend", args=[project.pk])).content.decode(), "charged-differently")
    row = listed[listed.index(f'id="charged-{dearer.pk}"') :].split("</tr>")[0]
    assert "$0.40" in row and "$0.80" in row and "+$0.40" in row
    row = listed[listed.index(f'id="charged-{cheaper.pk}"') :].split("</tr>")[0]
    assert "-$0.10" in row
    assert listed.count("<tr id=") == 2


# --- May have been billed, and settling by hand ----------------------------------------------


def test_an_uncertain_task_is_listed_as_may_have_been_billed_with_the_owners_forms(project, clients, task_costing):
    uncertain = task_costing("0.40", None, state=State.UNCERTAIN, error_message="No answer from the provider")
    owners = section(clients["owner"].get(reverse("spend", args=[project.pk])).content.decode(), "may-have-been-billed")
    assert f'id="uncertain-{uncertain.pk}"' in owners and "$0.40 held" in owners
    assert "Found: follow it" in owners and "Not there: not billed" in owners
    editors = section(
        clients["editor"].get(reverse("spend", args=[project.pk])).content.decode(), "may-have-been-billed"
    )
    assert f'id="uncertain-{uncertain.pk}"' in editors and "Found: follow it" not in editors


def test_found_at_the_provider_through_the_page_follows_it_under_that_id(project, owner_client, task_costing):
    uncertain = task_costing("0.40", None, state=State.UNCERTAIN)
    spend_url = reverse("spend", args=[project.pk]) + "?period=all"
    action, fields = page_form(owner_client.get(spend_url).content.decode(), "Found: follow it")
    assert action == reverse("task-settle", args=[uncertain.pk])
    answer = owner_client.post(action, {**fields, "provider_task_id": "op-4242"})
    assert answer.status_code == 302 and answer["Location"] == spend_url + "#may-have-been-billed"
    uncertain.refresh_from_db()
    assert (uncertain.state, uncertain.provider_task_id) == (State.QUEUED, "op-4242")
    page = owner_client.get(spend_url).content.decode()
    assert f'id="uncertain-{uncertain.pk}"' not in page


def test_not_there_through_the_page_is_not_billed_and_listed_so(project, owner_client, task_costing):
    uncertain = task_costing("0.40", None, state=State.UNCERTAIN)
    spend_url = reverse("spend", args=[project.pk])
    action, fields = page_form(owner_client.get(spend_url).content.decode(), "Not there: not billed")
    answer = owner_client.post(action, fields)
    assert answer.status_code == 302 and answer["Location"] == spend_url + "#not-billed"
    uncertain.refresh_from_db()
    assert (uncertain.state, uncertain.cost_charged) == (State.FAILED, Decimal("0.00"))
    page = owner_client.get(spend_url).content.decode()
    assert f'id="uncertain-{uncertain.pk}"' not in page
    assert f'id="not-billed-{uncertain.pk}"' in section(page, "not-billed")
    assert "1 task, $0.00 held" in section(page, "chart")


# --- CSV ----------------------------------------------------------------------------------


def read_csv(answer) -> list[dict[str, str]]:
    assert answer["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode())))


def test_the_csv_has_one_row_per_task_with_its_money(project, clients, task_costing):
    charged = task_costing("0.40", "0.80", by="editor")
    failed = task_costing("0.60", "0", state=State.FAILED)
    live = task_costing("1.20", None, state=State.RUNNING)
    answer = clients["editor"].get(reverse("spend-csv", args=[project.pk]))
    assert "attachment" in answer["Content-Disposition"]
    rows = read_csv(answer)
    assert list(rows[0]) == ledger.CSV_HEADER
    assert [row["task"] for row in rows] == [str(charged.pk), str(failed.pk), str(live.pk)]
    first = rows[0]
    assert first["member"] == "editor" and first["tier"] == "fast" and first["kind"] == "draft"
    assert (first["seconds"], first["resolution"], first["audio"]) == ("4", "720p", "no")
    assert (first["quoted"], first["charged"], first["difference"], first["billed"]) == (
        "0.40",
        "0.80",
        "0.40",
        "charged",
    )
    assert (rows[1]["charged"], rows[1]["difference"], rows[1]["billed"]) == ("0.00", "-0.60", "not billed")
    assert (rows[2]["charged"], rows[2]["difference"], rows[2]["state"]) == ("", "", "Rendering")


def test_the_csv_follows_the_pages_period(project, owner_client, task_costing):
    task_costing("0.40", at=at("2025-03-03"))
    task_costing("0.50", at=at("2025-04-03"))
    answer = owner_client.get(
        reverse("spend-csv", args=[project.pk]), {"period": "dates", "start": "2025-04-01", "end": "2025-04-30"}
    )
    assert [row["quoted"] for row in read_csv(answer)] == ["0.50"]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_made_inert(project, client_for, task_costing):
    sneaky = get_user_model().objects.create_user(username="@SUM(A1)", password="pw")
    Membership.objects.create(project=project, user=sneaky, role=Membership.Role.EDITOR)
    task = task_costing("0.40", "0.30", model='=HYPERLINK("http://evil")')
    Task.objects.filter(pk=task.pk).update(created_by=sneaky, route="+1+2", tier="-3")
    rows = read_csv(client_for(sneaky).get(reverse("spend-csv", args=[project.pk])))
    assert rows[0]["member"] == "'@SUM(A1)"
    assert rows[0]["model"] == '\'=HYPERLINK("http://evil")'
    assert (rows[0]["route"], rows[0]["tier"]) == ("'+1+2", "'-3")
    assert rows[0]["difference"] == "-0.10"  # our own amounts stay numbers
    assert ledger.safe_cell("plain") == "plain" and ledger.safe_cell("=1") == "'=1"
