"""The spend page in a real browser: the chart is drawn, the tables add up, and an owner settles a task by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from studio.money.models import Budget
from studio.providers.base import Tier
from studio.tasks.models import Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
State = Task.State


@pytest.fixture
def spending(make_people, make_project, pending_task):
    """A project with a budget and a fortnight of spend: charged, quoted only, dearer than quoted, failed, uncertain."""
    people = make_people()
    project = make_project(people, name="Harbour lights")
    Budget.objects.create(project=project, limit=Decimal("25.00"), member_cap=Decimal("10.00"))
    now = timezone.now()
    made = [
        # (days ago, who, tier, quote, charge, state)
        (0, "owner", Tier.FAST, "0.40", "0.40", State.DONE),
        (0, "editor", Tier.FAST, "0.40", "0.80", State.DONE),
        (1, "editor", Tier.LITE, "0.20", None, State.RUNNING),
        (2, "owner", Tier.QUALITY, "3.20", "3.20", State.DONE),
        (3, "editor", Tier.FAST, "0.80", "0", State.FAILED),
        (5, "owner", Tier.FAST, "1.60", "1.60", State.DONE),
        (6, "editor", Tier.LITE, "0.40", None, State.UNCERTAIN),
    ]
    tasks = []
    for days_ago, who, tier, quote, charge, state in made:
        task = pending_task(project, people[who], tier=tier)
        Task.objects.filter(pk=task.pk).update(
            created_at=now - timedelta(days=days_ago),
            cost_estimate=Decimal(quote),
            cost_charged=None if charge is None else Decimal(charge),
            state=state,
        )
        tasks.append(task)
    return project, tasks


@pytest.fixture
def owner_tab(browser, live_server, spending):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/login/")
    page.fill("input[name=username]", "owner")
    page.fill("input[name=password]", "pw-owner")
    page.click("button:has-text('Log in')")
    page.wait_for_url(lambda url: "/login/" not in url)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_owner_reads_the_spend_chart_and_settles_an_uncertain_task(owner_tab, spending, screenshots):
    project, tasks = spending
    page = owner_tab
    page.goto(f"/projects/{project.pk}/members/")
    page.click("a.button:has-text('Spend')")
    expect(page.locator("#standing")).to_contain_text("left of $25.00")
    page.select_option("#id_period", "all")
    page.click("button:has-text('Show')")
    expect(page.locator("#chart h2")).to_contain_text("all time")
    chart = page.locator("svg.spend-chart")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 100
    # Bars with real height: the charged part of today's and the quoted-only part of yesterday's.
    charged_heights = [
        float(h) for h in chart.locator("rect.charged").evaluate_all("rs => rs.map(r => r.getAttribute('height'))")
    ]
    assert charged_heights and all(h > 0 for h in charged_heights)
    expect(chart.locator("rect.quoted").first).to_be_visible()
    dearer = tasks[1]
    expect(page.locator(f"#charged-{dearer.pk}")).to_contain_text("+$0.40")
    expect(page.locator("table[data-by='member']")).to_contain_text("editor")
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "spend-page.png"), full_page=True)

    uncertain = tasks[-1]
    page.locator(f"#uncertain-{uncertain.pk}").get_by_role("button", name="Not there: not billed").click()
    expect(page.locator(f"#not-billed-{uncertain.pk}")).to_be_visible()
    expect(page.locator(f"#uncertain-{uncertain.pk}")).to_have_count(0)
    assert Task.objects.get(pk=uncertain.pk).cost_charged == Decimal("0.00")
    page.screenshot(path=str(screenshots / "spend-page-after-settling.png"), full_page=True)


def test_the_owner_sets_the_budget_and_a_bad_amount_is_marked(owner_tab, spending, screenshots):
    project, _tasks = spending
    page = owner_tab
    page.goto(f"/projects/{project.pk}/budget")
    page.fill("#id_limit", "-5")
    page.click("button:has-text('Save')")
    expect(page.locator("#id_limit_error")).to_contain_text("greater than or equal to 0")
    page.screenshot(path=str(screenshots / "budget-bad-amount.png"), full_page=True)
    page.fill("#id_limit", "40")
    page.click("button:has-text('Save')")
    expect(page.locator(".messages")).to_contain_text("set the budget to $40.00 each calendar month")
    expect(page.locator("#standing")).to_contain_text("left of $40.00")
    assert Budget.objects.get(project=project).limit == Decimal("40.00")
