"""An owner sets the project's budget: the limit, its period, the cap per member, and which accounts may send
tasks no price card covers. One save, one line in the activity feed saying what changed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.urls import reverse

from studio.money.models import Budget
from studio.projects import activity
from studio.providers.models import ProviderAccount
from studio.tasks import budgets

from .ledger import cents


def money(amount: Decimal) -> str:
    return f"${cents(amount)}"


def change_budget(
    *,
    project,
    limit: Decimal | None,
    period: str,
    member_cap: Decimal | None,
    allow_unpriced: Iterable[ProviderAccount],
    by,
) -> str:
    """Save it all and record it in the feed; the words of what changed ("" when nothing did).

    Taken under the budget's lock, so a submit adding up its room waits for
    the new limit rather than reserving against the old one.
    """
    allowed = {account.pk for account in allow_unpriced}
    with transaction.atomic():
        before = budgets.lock(project) or Budget(project=project)
        changes = _budget_changes(before, limit=limit, period=period, member_cap=member_cap)
        Budget.objects.update_or_create(
            project=project, defaults={"limit": limit, "period": period, "member_cap": member_cap, "updated_by": by}
        )
        for account in project.provider_accounts.order_by("label"):
            if account.allow_unpriced != (account.pk in allowed):
                turned_on = account.pk in allowed
                ProviderAccount.objects.filter(pk=account.pk).update(allow_unpriced=turned_on)
                changes.append(f"{'allowed' if turned_on else 'stopped'} tasks with no price card on {account.label}")
        words = "; ".join(changes)
        if words:
            activity.record(project, by, activity.Verb.BUDGET, words, link=reverse("project-budget", args=[project.pk]))
    return words


def _budget_changes(before: Budget, *, limit: Decimal | None, period: str, member_cap: Decimal | None) -> list[str]:
    each = Budget.Period(period).label.lower()  # "each calendar month", "in total"
    changes = []
    if limit != before.limit or (limit is not None and period != before.period):
        changes.append(
            f"set the budget to {money(limit)} {each}" if limit is not None else "removed the project budget"
        )
    if member_cap != before.member_cap or (member_cap is not None and period != before.period):
        changes.append(
            f"set a cap of {money(member_cap)} per member {each}"
            if member_cap is not None
            else "removed the cap per member"
        )
    if not changes and before.pk and period != before.period:
        changes.append(f"set budgets to count {each}")
    return changes
