"""Money: budgets are held at submit time, released when nothing was billed, settled to the reported charge."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from studio.money.models import Budget, PriceCard
from studio.money.prices import price_of
from studio.prompts.models import Prompt, PromptVersion
from studio.providers.base import Tier
from studio.tasks import batches, budgets, lifecycle
from studio.tasks.models import Batch, Task

# A 4 s 720p fast draft on the simulated gateway, as the draft_form fixture posts it.
DRAFT = {"duration_s": 4, "aspect_ratio": "16:9", "resolution": "720p", "audio": False}


def quote_of_a_draft(project) -> Decimal:
    account = project.draft_account
    amount = price_of(account=account, model=account.model_for(Tier.FAST), parameters=DRAFT)
    assert amount is not None and amount > 0
    return amount


def budget_for(project, drafts: int | None = None, *, cap_drafts: int | None = None, period="month") -> Budget:
    each = quote_of_a_draft(project)
    return Budget.objects.create(
        project=project,
        limit=each * drafts if drafts is not None else None,
        member_cap=each * cap_drafts if cap_drafts is not None else None,
        period=period,
    )


def post_draft(client, project, draft_form, **fields):
    return client.post(f"/projects/{project.pk}/draft", draft_form(**fields), HTTP_HX_REQUEST="true")


@pytest.mark.django_db
def test_a_draft_that_would_overrun_is_refused_in_plain_words_and_changes_nothing(owner_client, project, draft_form):
    budget_for(project, drafts=2)
    for token in ("a", "b"):
        assert post_draft(owner_client, project, draft_form, form_token=token).status_code == 200
    versions = PromptVersion.objects.count()
    answer = post_draft(owner_client, project, draft_form, form_token="c", prompt="A new idea entirely")
    text = answer.content.decode()
    assert "and the project has $0.00 left of its" in text and "Nothing was sent" in text
    assert Task.objects.filter(project=project).count() == 2
    # The refused words did not become a prompt version either.
    assert PromptVersion.objects.count() == versions


@pytest.mark.django_db
def test_a_resent_form_finds_its_task_even_when_the_budget_is_used_up(owner_client, project, draft_form):
    budget_for(project, drafts=1)
    post_draft(owner_client, project, draft_form, form_token="once")
    answer = post_draft(owner_client, project, draft_form, form_token="once")
    assert "Nothing was sent" not in answer.content.decode()
    assert Task.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_variations_are_held_all_or_nothing(owner_client, project, draft_form):
    budget_for(project, drafts=5)
    answer = post_draft(owner_client, project, draft_form, variations="8", form_token="v")
    assert "These 8 drafts would cost" in answer.content.decode()
    assert Task.objects.count() == 0 and Batch.objects.count() == 0
    post_draft(owner_client, project, draft_form, variations="5", form_token="w")
    assert Task.objects.count() == 5


@pytest.mark.django_db
def test_a_member_cap_refuses_that_member_only(clients, project, draft_form):
    budget_for(project, drafts=10, cap_drafts=1)
    post_draft(clients["editor"], project, draft_form, form_token="e1")
    refused = post_draft(clients["editor"], project, draft_form, form_token="e2").content.decode()
    assert "you have $0.00 left of your" in refused and "cap" in refused
    post_draft(clients["owner"], project, draft_form, form_token="o1")
    assert Task.objects.filter(created_by__username="editor").count() == 1
    assert Task.objects.filter(created_by__username="owner").count() == 1


@pytest.mark.django_db
def test_a_monthly_budget_does_not_count_last_months_tasks(project, people, pending_task):
    budget_for(project, drafts=1)
    old = pending_task(project, people["owner"])
    Task.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    pending_task(project, people["owner"])  # fits: last month's draft is not this month's spend
    with pytest.raises(budgets.OverBudget):
        pending_task(project, people["owner"])
    Budget.objects.filter(project=project).update(period=Budget.Period.TOTAL, limit=quote_of_a_draft(project) * 2)
    with pytest.raises(budgets.OverBudget, match="in total"):
        pending_task(project, people["owner"])


@pytest.mark.django_db
def test_a_task_ended_not_billed_releases_its_hold_and_a_charge_replaces_the_quote(project, people, pending_task):
    each = quote_of_a_draft(project)
    budget_for(project, drafts=1)
    failed = pending_task(project, people["owner"])
    standing = budgets.standing(project, people["owner"])
    assert standing.spent == each and standing.left == 0
    error = lifecycle.ProviderError(lifecycle.ErrorKind.VALIDATION, "Bad prompt")
    lifecycle.finish_task(
        failed.pk, from_states=[Task.State.PENDING], state=Task.State.FAILED, error=error, billed=False
    )
    assert budgets.standing(project, people["owner"]).spent == 0
    charged = pending_task(project, people["owner"])
    Task.objects.filter(pk=charged.pk).update(cost_charged=each / 2)
    assert budgets.standing(project, people["owner"]).spent == each / 2


@pytest.mark.django_db
def test_no_price_card_is_refused_under_a_budget_unless_an_owner_allows_it(project, people, pending_task):
    budget_for(project, drafts=10)
    PriceCard.objects.update(withdrawn=True)
    with pytest.raises(budgets.OverBudget, match="No price card covers this"):
        pending_task(project, people["owner"])
    project.draft_account.allow_unpriced = True
    project.draft_account.save()
    project.refresh_from_db()
    task = pending_task(project, people["owner"])
    assert task.cost_estimate is None


@pytest.mark.django_db
def test_without_a_budget_nothing_is_refused(project, people, pending_task):
    PriceCard.objects.update(withdrawn=True)
    assert pending_task(project, people["owner"]).cost_estimate is None


@pytest.mark.django_db
def test_a_promotion_and_a_send_again_are_held_too(project, people, pending_task, archived_clip, owner_client):
    budget_for(project, drafts=1)
    draft = pending_task(project, people["owner"])
    archived_clip(draft)
    answer = owner_client.post(f"/tasks/{draft.pk}/promote", follow=True)
    assert "left of its" in answer.content.decode()
    assert not Task.objects.filter(kind=Task.Kind.FINAL).exists()
    Task.objects.filter(pk=draft.pk).update(state=Task.State.UNCERTAIN)
    answer = owner_client.post(f"/tasks/{draft.pk}/send-again", follow=True)
    assert "left of its" in answer.content.decode()
    assert Task.objects.count() == 1


# --- Concurrency, in one process: threads with their own connections -----------


def in_threads(count: int, work) -> list:
    barrier = threading.Barrier(count)
    results: list = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcome = work(i)
        except Exception as exc:  # collected, so the test names what went wrong
            outcome = exc
        finally:
            close_old_connections()
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_drafts_never_overrun_the_budget(project, people):
    budget_for(project, drafts=3)
    version = Prompt.objects.create(project=project, title="t").record_version(
        text="Waves", negative_prompt="", author=people["owner"]
    )

    def draft(i: int):
        return lifecycle.start_draft(
            project=project, version=version, tier=Tier.FAST, parameters=DRAFT, seed=i, user=people["owner"]
        )

    results = in_threads(12, draft)
    made = [r for r in results if isinstance(r, Task)]
    refused = [r for r in results if isinstance(r, budgets.OverBudget)]
    assert len(made) == 3 and len(refused) == 9, results
    assert budgets.standing(project, people["owner"]).spent == quote_of_a_draft(project) * 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_one_variations_form_make_one_batch(project, people):
    version = Prompt.objects.create(project=project, title="t").record_version(
        text="Waves", negative_prompt="", author=people["owner"]
    )
    axes = [batches.seed_axis(8)]
    cells = batches.plan(
        account=project.draft_account, version=version, tier=Tier.FAST, parameters=DRAFT, seed=None, axes=axes
    )

    def submit_copy(i: int):
        return batches.start(
            project=project,
            kind=Batch.Kind.VARIATIONS,
            account=project.draft_account,
            cells=cells,
            axes=axes,
            user=people["owner"],
            form_token="one-form",
        ).pk

    results = in_threads(8, submit_copy)
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert Batch.objects.count() == 1 and Task.objects.count() == 8


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_of_one_prompt_number_their_versions_without_errors(project, people):
    prompt = Prompt.objects.create(project=project, title="t")

    def edit(i: int):
        return prompt.record_version(text=f"Take {i}", negative_prompt="", author=people["owner"]).number

    results = in_threads(10, edit)
    assert sorted(results) == list(range(1, 11)), results
