"""Money under a burst of clicks on the real deployment (issue 11, "Done when").

`manage.py serve` runs as in production (gunicorn with several workers of 8 threads, and a django-q2
cluster of several workers) on the test database; threads log in through the login page, read the CSRF
and form tokens from the editor and post at once. What counts is what the database holds and what
reached the provider: the simulator's own record of the jobs it accepted.

The deployment and the bursts are `bench/submit_burst.py`'s, so the figures printed here (run with -s,
or see them inline) are those the bench prints.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import global_settings
from django.db import connection

from studio.money.models import Budget
from studio.projects.models import Activity
from studio.prompts.models import Prompt, PromptVersion
from studio.simulator.models import SimulatedJob
from studio.tasks.models import Batch, Task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from submit_burst import (  # the bench beside the tests
    Burst,
    copies_of_one_form,
    database_url,
    distinct_drafts,
    ledger,
    ledger_once_sent,
    logged_in,
    quote_of_one_draft,
    serve,
)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a burst of clicks"
DRAFTS, ALLOWED = 50, 10
# The drafts go two to a prompt: edits of one prompt queue on its row, so across the 25 prompts only the
# budget's lock keeps concurrent drafts from overrunning it together (without it, 12 to 16 tasks are made).
PROMPTS = 25
COPIES, VARIATIONS = 20, 8
# A known bug the copies can hit once their batch is made (see the end of the variations test); any other
# server error fails the test.


@pytest.fixture(scope="module")
def deployment(django_db_setup, tmp_path_factory):
    """`manage.py serve` on the test database: its URL. Killed, with every process it started, at the end."""
    with serve(database_url=database_url(connection.settings_dict), folder=tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.fixture
def session(deployment, people, settings):
    """The owner's cookies, logged in to the deployment through its login page (CSRF and all)."""
    # The deployment checks passwords with its own (default) hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    people["owner"].set_password(PASSWORD)
    people["owner"].save()
    return logged_in(deployment, "owner", PASSWORD)


def show(burst: Burst, capsys) -> None:
    with capsys.disabled():
        print("\n" + burst.report())


def test_fifty_concurrent_drafts_at_a_budget_for_ten_make_ten_tasks_and_send_ten(
    deployment, session, people, make_project, draft_form, capsys
):
    project = make_project(people, name="Budget for ten", poll_interval_s=5.0)
    prompts = [Prompt.objects.create(project=project, title=f"Prompt {n}") for n in range(PROMPTS)]
    for prompt in prompts:
        prompt.record_version(text=f"{prompt.title}: harbour lights", negative_prompt="", author=people["owner"])
    limit = ALLOWED * quote_of_one_draft(project.draft_account)
    Budget.objects.create(project=project, limit=limit, period=Budget.Period.TOTAL)
    forms = [
        draft_form(prompt=f"Take {n}: a lighthouse at dusk, slow push in", prompt_id=str(prompts[n % PROMPTS].pk))
        for n in range(DRAFTS)
    ]
    before = ledger(project.pk)

    answers = distinct_drafts(deployment, cookies=session, project_id=project.pk, forms=forms)
    burst = Burst(f"{DRAFTS} distinct drafts at a budget for {ALLOWED}", answers, before, ledger_once_sent(project.pk))
    show(burst, capsys)

    # Every click was answered: the ten drafts with their card, the forty refused in words.
    assert answers.statuses == Counter({200: DRAFTS}), answers.errors
    tasks = Task.objects.filter(project=project)
    assert burst.after.tasks == ALLOWED and sorted(answers.cards) == sorted(t.pk for t in tasks)
    assert len(answers.refusals) == DRAFTS - ALLOWED
    assert all("left of its" in words and "Nothing was sent" in words for words in answers.refusals)
    # The budget holds exactly the ten quotes: not overrun.
    assert (before.limit, before.held) == (limit, 0)
    assert burst.after.held == limit
    # The cluster sent each of the ten once: the simulator accepted ten jobs, one per task.
    assert burst.after.still_sending == 0
    assert burst.submitted == ALLOWED and burst.after.submit_requests == ALLOWED
    assert sorted(t.provider_task_id for t in tasks) == sorted(SimulatedJob.objects.values_list("id", flat=True))
    # Concurrent edits of one prompt numbered themselves one after another.
    for prompt in prompts:
        numbers = list(PromptVersion.objects.filter(prompt=prompt).order_by("number").values_list("number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1))


def test_twenty_concurrent_copies_of_one_variations_form_make_one_batch_of_eight(
    deployment, session, people, make_project, draft_form, capsys
):
    # No prompt yet, no budget: only the form token can join the copies.
    project = make_project(people, name="No budget", poll_interval_s=5.0)
    form = draft_form(prompt="Gulls over a breakwater, handheld", variations=str(VARIATIONS), prompt_id="")
    before = ledger(project.pk)

    answers = copies_of_one_form(deployment, cookies=session, project_id=project.pk, form=form, copies=COPIES)
    burst = Burst(
        f"{COPIES} copies of one variations={VARIATIONS} form, no budget", answers, before, ledger_once_sent(project.pk)
    )
    show(burst, capsys)

    batch = Batch.objects.get(project=project)
    assert burst.after.tasks == VARIATIONS == batch.tasks.count()
    assert burst.after.still_sending == 0
    assert burst.submitted == VARIATIONS and burst.after.submit_requests == VARIATIONS
    assert burst.after.held == VARIATIONS * quote_of_one_draft(project.draft_account)
    # Every copy answers with what the first one made.
    assert answers.refusals == [] and all(b == batch.pk for b in answers.batches)
    assert answers.statuses == Counter({200: COPIES}), answers.errors
    assert len(answers.batches) == COPIES
    # The copies that lost kept nothing of their own: one prompt, one version, one line in the feed.
    assert project.prompts.count() == 1 and PromptVersion.objects.filter(prompt__project=project).count() == 1
    assert Activity.objects.filter(project=project, verb=Activity.Verb.DRAFTED).count() == 1
