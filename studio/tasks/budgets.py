"""Budgets, reserved at submit time so no burst of clicks can overrun them.

A task holds what it may cost from the moment it is created: its quote until
the provider reports a charge, then that charge; a task that ended not billed
holds a recorded $0. What a period has spent is therefore the sum over its
tasks, with no second counter to drift from them.

`reserve` runs inside the transaction that creates the tasks. It locks the
project's budget row (SELECT … FOR UPDATE on PostgreSQL; on SQLite every
transaction already takes the one write lock up front), adds up what the
period holds and refuses before anything is created if the new quotes do not
fit. Concurrent submits on any number of web and worker processes queue on
that lock, so each one sees every task committed before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from studio.money.models import Budget

from .models import Task

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# What a task counts against its budget: the reported charge, else its quote.
HELD = Coalesce(
    "cost_charged", "cost_estimate", Value(ZERO), output_field=DecimalField(max_digits=12, decimal_places=2)
)


class OverBudget(Exception):
    """Why a spend was refused, in words for the user; nothing was created or sent."""


def budget_of(project) -> Budget | None:
    return Budget.objects.filter(project=project).first()


def held(project, *, since: datetime | None = None, member=None) -> Decimal:
    """What the project's tasks hold (charged or quoted) since that moment, for one member or everyone."""
    tasks = Task.objects.filter(project=project)
    if since is not None:
        tasks = tasks.filter(created_at__gte=since)
    if member is not None:
        tasks = tasks.filter(created_by=member)
    total = tasks.aggregate(total=Sum(HELD))["total"] or ZERO
    # SQLite sums decimals as floats ("2.40000000000000"): back to cents.
    return Decimal(total).quantize(CENT)


@dataclass(frozen=True)
class Standing:
    """Where a member stands against the project's budget right now."""

    budget: Budget | None
    spent: Decimal
    member_spent: Decimal

    @property
    def is_limited(self) -> bool:
        return bool(self.budget and self.budget.is_limited)

    @property
    def left(self) -> Decimal | None:
        """What the project may still spend this period; None when it has no limit."""
        if self.budget is None or self.budget.limit is None:
            return None
        return max(ZERO, self.budget.limit - self.spent)

    @property
    def member_left(self) -> Decimal | None:
        if self.budget is None or self.budget.member_cap is None:
            return None
        return max(ZERO, self.budget.member_cap - self.member_spent)

    @property
    def left_for_member(self) -> Decimal | None:
        """The most this member may spend now: the smaller of the project's and their own room."""
        known = [amount for amount in (self.left, self.member_left) if amount is not None]
        return min(known) if known else None

    @property
    def used_percent(self) -> int:
        """How full the project budget is, for its meter."""
        if self.budget is None or not self.budget.limit:
            return 0
        return min(100, int(self.spent * 100 / self.budget.limit))

    @property
    def words(self) -> str:
        """ "$4.20 left of $10.00 this month; your cap: $1.00 left of $5.00", or "" with no budget."""
        if not self.is_limited or self.budget is None:
            return ""
        parts = []
        if self.budget.limit is not None:
            parts.append(f"${self.left} left of ${self.budget.limit} {self.budget.period_words}")
        if self.budget.member_cap is not None:
            parts.append(f"your cap: ${self.member_left} left of ${self.budget.member_cap}")
        return "; ".join(parts)

    def fits(self, amount: Decimal | None) -> bool:
        room = self.left_for_member
        return room is None or (amount is not None and amount <= room)


def standing(project, member, *, budget: Budget | None = None, now: datetime | None = None) -> Standing:
    budget = budget if budget is not None else budget_of(project)
    if budget is None or not budget.is_limited:
        return Standing(budget=budget, spent=ZERO, member_spent=ZERO)
    since = budget.period_start(now or timezone.now())
    return Standing(
        budget=budget,
        spent=held(project, since=since) if budget.limit is not None else ZERO,
        member_spent=held(project, since=since, member=member) if budget.member_cap is not None else ZERO,
    )


def lock(project) -> Budget | None:
    """The project's budget, locked until the caller's transaction ends; None (no lock) without one.

    Taken before a form's earlier task or batch is looked up, so a resent form
    finds what its first copy made rather than being counted twice.
    """
    return Budget.objects.select_for_update().filter(project=project).first()


def reserve(budget: Budget | None, *, project, member, account, quotes: Iterable[Decimal | None]) -> None:
    """Refuse, before anything is created, quotes that do not fit `budget` (as returned by `lock`).

    Run inside the transaction that creates the tasks, after `lock`: the tasks
    this transaction creates hold their quotes from the moment it commits, and
    every other submit in the project waits for that. Raises OverBudget.
    """
    if budget is None or not budget.is_limited:
        return
    amounts = list(quotes)
    if any(amount is None for amount in amounts) and not account.allow_unpriced:
        raise OverBudget(
            f"No price card covers this on {account.label}, so its cost cannot be held against the budget. "
            "Nothing was sent. An owner can allow tasks with no price card in the account's settings."
        )
    amount = sum((a for a in amounts if a is not None), ZERO)
    now = standing(project, member, budget=budget)
    count = f"These {len(amounts)} drafts would cost" if len(amounts) > 1 else "This would cost"
    if now.left is not None and amount > now.left:
        raise OverBudget(
            f"{count} ${amount}, and the project has ${now.left} left of its ${budget.limit} budget "
            f"{budget.period_words}. Nothing was sent. Ask an owner to raise the budget, or draft shorter or "
            "on a cheaper tier."
        )
    if now.member_left is not None and amount > now.member_left:
        raise OverBudget(
            f"{count} ${amount}, and you have ${now.member_left} left of your ${budget.member_cap} cap "
            f"{budget.period_words}. Nothing was sent. Ask an owner to raise your cap."
        )
