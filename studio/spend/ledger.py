"""What a project spent, read from its tasks: totals per day or week and per member, route, tier and model,
the tasks whose charge differs from their quote, and one CSV row per task.

A task's own columns are the only record: its quote (`cost_estimate`) and
the charge its provider reported (`cost_charged`, 0 when provably not
billed). What it holds against the budget is `budgets.HELD`, the charge else
the quote, so these pages add up exactly what the budget does. The database
does the adding (Sum and Count, grouped by TruncDay/TruncWeek); Python only
fills in the empty days and lays out the chart.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone

from studio.providers.registry import route_choices
from studio.tasks.budgets import HELD
from studio.tasks.models import Task

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
State = Task.State
# The longest list of single tasks a page shows; the CSV has them all.
LIST_LENGTH = 100
# More bars than this and the chart draws only the stretch that has spend, then weeks.
MOST_BARS = 120
SOMEONE_WHO_LEFT = "someone who left"


# --- Which tasks: the period asked for ------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The tasks created in [start, end), in local time; None leaves that side open."""

    start: datetime | None
    end: datetime | None
    words: str  # "this month", "1 Mar – 9 Mar 2026"
    group: str  # "day" or "week"

    def tasks(self, project) -> QuerySet[Task]:
        tasks = Task.objects.filter(project=project)
        if self.start is not None:
            tasks = tasks.filter(created_at__gte=self.start)
        if self.end is not None:
            tasks = tasks.filter(created_at__lt=self.end)
        return tasks


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def month_start(now: datetime) -> datetime:
    """Local midnight on the 1st of `now`'s month (the same moment a monthly budget starts counting)."""
    return _midnight(timezone.localtime(now).date().replace(day=1))


def window(*, period: str, start: date | None, end: date | None, group: str, now: datetime) -> Window:
    this_month = month_start(now)
    if period == "last-month":
        last_month = month_start(this_month - timedelta(days=1))
        return Window(last_month, this_month, f"last month ({last_month:%B %Y})", group)
    if period == "all":
        return Window(None, None, "all time", group)
    if period == "dates" and start is not None and end is not None:
        words = f"{start:%-d %b %Y} – {end:%-d %b %Y}" if start != end else f"{start:%-d %b %Y}"
        return Window(_midnight(start), _midnight(end + timedelta(days=1)), words, group)
    return Window(this_month, None, f"this month ({this_month:%B %Y})", group)


# --- Adding up ---------------------------------------------------------------------------

_MONEY = DecimalField(max_digits=12, decimal_places=2)
# Charge minus quote, over the tasks whose provider reported a charge (a refund or discount is negative).
_DIFFERENCE = ExpressionWrapper(F("cost_charged") - F("cost_estimate"), output_field=_MONEY)


def _sums() -> dict:
    return {
        "count": Count("id"),
        "quoted": Sum("cost_estimate"),
        "charged": Sum("cost_charged"),
        "charged_quotes": Sum("cost_estimate", filter=Q(cost_charged__isnull=False)),
        "held": Sum(HELD),
        "quoted_only": Sum("cost_estimate", filter=Q(cost_charged__isnull=True)),
    }


@dataclass(frozen=True)
class Totals:
    """Tasks and money over one slice: quoted (every quote), charged (every reported charge) and held
    (what counts against the budget: the charge, else the quote)."""

    label: str
    count: int
    quoted: Decimal
    charged: Decimal
    charged_quotes: Decimal  # the quotes of the tasks that have a reported charge
    held: Decimal
    quoted_only: Decimal  # what is held on a quote alone, no charge reported yet

    @classmethod
    def of(cls, label: str, row: Mapping[str, Any]) -> Totals:
        return cls(
            label=label,
            count=row["count"],
            # Quantized here: SQLite hands sums back as floats (0.4 + 0.8 = 1.2000000000000002).
            **{name: cents(row[name]) for name in ("quoted", "charged", "charged_quotes", "held", "quoted_only")},
        )

    @property
    def difference(self) -> Decimal:
        """What the providers charged beyond (or below) what they were quoted for."""
        return self.charged - self.charged_quotes

    @property
    def difference_words(self) -> str:
        return signed(self.difference)


def cents(amount: Decimal | None) -> Decimal:
    return ZERO if amount is None else Decimal(amount).quantize(CENT)


def signed(amount: Decimal | None) -> str:
    """ "+$0.40", "-$0.10", "$0.00"; "—" when there is nothing to compare."""
    if amount is None:
        return "—"
    if amount == 0:
        return "$0.00"
    return f"{'+' if amount > 0 else '-'}${abs(amount):.2f}"


def totals(tasks: QuerySet[Task]) -> Totals:
    return Totals.of("All", tasks.aggregate(**_sums()))


BREAKDOWNS = {
    "member": ("Member", "created_by__username"),
    "route": ("Route", "route"),
    "tier": ("Tier", "tier"),
    "model": ("Model", "model"),
}


def breakdown(tasks: QuerySet[Task], by: str) -> list[Totals]:
    """Totals per member, route, tier or model, biggest spender first."""
    _heading, field = BREAKDOWNS[by]
    names = dict(route_choices()) if by == "route" else {}
    rows = tasks.values(field).annotate(**_sums()).order_by("-held", field)
    return [Totals.of(_label(by, row[field], names), row) for row in rows]


def _label(by: str, value: str | None, names: dict[str, str]) -> str:
    if by == "member":
        return value or SOMEONE_WHO_LEFT
    if by == "route":
        return names.get(value or "", value or "")
    if by == "tier":
        return (value or "").title()
    return value or ""


# --- The chart: held spend per day or week ---------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One day's (or week's) held spend: the charged part below, the part held on quotes alone above it."""

    start: date
    label: str
    totals: Totals
    x: float
    width: float
    charged_y: float
    charged_height: float
    quoted_y: float
    quoted_height: float
    show_label: bool

    @property
    def title(self) -> str:
        t = self.totals
        return (
            f"{self.label}: ${t.held} held, ${t.charged} charged, ${t.quoted_only} quoted and not yet charged; "
            f"{t.count} task{'s' if t.count != 1 else ''}"
        )


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    group: str
    note: str  # why it groups or spans other than asked, or ""
    top: Decimal  # the value at the top of the y axis
    ticks: list[tuple[float, str]]  # (y, "$1.00")
    width: int = 960
    height: int = 240
    left: int = 64  # room for the y axis labels
    bottom: int = 28  # room for the x axis labels

    @property
    def plot_height(self) -> int:
        return self.height - self.bottom - 8

    @property
    def baseline(self) -> int:
        return self.height - self.bottom

    @property
    def is_empty(self) -> bool:
        return not any(bar.totals.count for bar in self.bars)


def _bucket_start(day: date, group: str) -> date:
    return day - timedelta(days=day.weekday()) if group == "week" else day


def _bucket_step(group: str) -> timedelta:
    return timedelta(days=7 if group == "week" else 1)


def _per_bucket(tasks: QuerySet[Task], group: str) -> dict[date, Totals]:
    trunc = TruncWeek if group == "week" else TruncDay
    rows = tasks.annotate(bucket=trunc("created_at")).values("bucket").annotate(**_sums()).order_by("bucket")
    found: dict[date, Totals] = {}
    for row in rows:
        day = timezone.localtime(row["bucket"]).date()
        found[day] = Totals.of(day.isoformat(), row)
    return found


def _span(first: date, last: date, group: str) -> list[date]:
    step, day, days = _bucket_step(group), _bucket_start(first, group), []
    while day <= last:
        days.append(day)
        day += step
    return days


def chart(tasks: QuerySet[Task], win: Window, *, now: datetime) -> Chart:
    group, note = win.group, ""
    per_bucket = _per_bucket(tasks, group)
    today = timezone.localtime(now).date()
    first = timezone.localtime(win.start).date() if win.start else min(per_bucket, default=today)
    last = timezone.localtime(win.end - timedelta(microseconds=1)).date() if win.end else today
    last = min(last, max(today, max(per_bucket, default=today)))
    days = _span(first, last, group)
    if len(days) > MOST_BARS:
        # Long and mostly empty: draw from the first spend to the last.
        days = _span(min(per_bucket), max(per_bucket), group) if per_bucket else []
    if len(days) > MOST_BARS and group == "day":
        group, note = "week", "Grouped by week: too many days to draw one bar each."
        per_bucket = _per_bucket(tasks, group)
        days = _span(min(per_bucket), max(per_bucket), group)
    if len(days) > MOST_BARS:
        note = "Only the weeks with spend are drawn: too many to draw them all."
        days = sorted(per_bucket)
    return _lay_out(days, per_bucket, group, note)


def _nice_top(amount: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5 or 5 times a power of ten at or above `amount` (at least $1)."""
    if amount <= 1:
        return Decimal(1)
    power = Decimal(10) ** (len(str(int(amount))) - 1)
    for step in (1, 2, Decimal("2.5"), 5, 10):
        if amount <= step * power:
            return step * power
    return 10 * power


def _lay_out(days: list[date], per_bucket: dict[date, Totals], group: str, note: str) -> Chart:
    empty = Totals("", 0, ZERO, ZERO, ZERO, ZERO, ZERO)
    top = _nice_top(max((per_bucket.get(day, empty).held for day in days), default=ZERO))
    shape = Chart(bars=[], group=group, note=note, top=top, ticks=[])
    plot_width = shape.width - shape.left - 8
    slot = plot_width / max(1, len(days))
    scale = shape.plot_height / float(top)
    every = max(1, round(len(days) / 12))  # about a dozen labels along the bottom
    bars = []
    for index, day in enumerate(days):
        totals_ = per_bucket.get(day, empty)
        charged = float(totals_.charged) * scale
        quoted = float(totals_.quoted_only) * scale
        label = f"{day:%-d %b}" if group == "day" else f"week of {day:%-d %b}"
        bars.append(
            Bar(
                start=day,
                label=label,
                totals=totals_,
                x=round(shape.left + index * slot + slot * 0.1, 2),
                width=round(max(1.0, slot * 0.8), 2),
                charged_y=round(shape.baseline - charged, 2),
                charged_height=round(charged, 2),
                quoted_y=round(shape.baseline - charged - quoted, 2),
                quoted_height=round(quoted, 2),
                show_label=index % every == 0,
            )
        )
    ticks = [(round(shape.baseline - shape.plot_height * f, 2), f"${top * Decimal(f):.2f}") for f in (0, 0.5, 1)]
    return Chart(bars=bars, group=group, note=note, top=top, ticks=ticks)


# --- Single tasks ------------------------------------------------------------------------


def charged_differently(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Tasks whose provider charged something other than the quote (a zero charge is "not billed", listed apart)."""
    return (
        tasks.filter(cost_charged__gt=0)
        .exclude(cost_estimate=F("cost_charged"))
        .annotate(difference=_DIFFERENCE)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )


def not_billed(tasks: QuerySet[Task]) -> QuerySet[Task]:
    """Ended with a recorded charge of $0: failed, blocked or never sent, so nothing was billed."""
    return tasks.filter(cost_charged=0).select_related("created_by").order_by("-created_at", "-pk")


def may_have_been_billed(project) -> QuerySet[Task]:
    """Sent with no answer, of any date: until an owner settles one, its quote stays held."""
    return (
        Task.objects.filter(project=project, state=State.UNCERTAIN)
        .select_related("created_by")
        .order_by("created_at", "pk")
    )


def billed_words(task: Task) -> str:
    """Where the task's money stands, in words."""
    if task.state == State.UNCERTAIN:
        return "may have been billed: an owner settles it"
    if task.cost_charged is not None:
        return "not billed" if task.cost_charged == 0 else "charged"
    if task.cost_estimate is None:
        return "no price card; no charge reported"
    if task.state in Task.LIVE_STATES:
        return "quote held until the provider reports a charge"
    if task.state in Task.ENDED_WITHOUT_CLIP:
        return "ended with no word on billing: quote held"
    return "no charge reported: quote held"


# --- CSV: one row per task ------------------------------------------------------------------

CSV_HEADER = [
    "task",
    "created_at",
    "member",
    "route",
    "model",
    "tier",
    "kind",
    "state",
    "seconds",
    "resolution",
    "audio",
    "quoted",
    "charged",
    "difference",
    "billed",
]
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula, made inert with a leading '.

    Only text is touched: amounts are ours and stay numbers (a refund's
    "-0.40" is a number to a spreadsheet, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(task: Task) -> list[object]:
    difference = (
        task.cost_charged - task.cost_estimate
        if task.cost_charged is not None and task.cost_estimate is not None
        else None
    )
    cells: list[object] = [
        task.pk,
        timezone.localtime(task.created_at).isoformat(timespec="seconds"),
        task.created_by.get_username() if task.created_by else SOMEONE_WHO_LEFT,
        task.route,
        task.model,
        task.tier,
        task.kind,
        task.get_state_display(),
        task.duration_s,
        task.resolution,
        "yes" if task.audio else "no",
        task.cost_estimate if task.cost_estimate is not None else "",
        task.cost_charged if task.cost_charged is not None else "",
        difference if difference is not None else "",
        billed_words(task),
    ]
    return [safe_cell(cell) for cell in cells]


class _Line:
    """csv.writer's file: each row it writes is handed straight back, so nothing piles up."""

    def write(self, text: str) -> str:
        return text


def csv_lines(tasks: QuerySet[Task]) -> Iterator[str]:
    """The header, then one line per task, oldest first, read from the database in chunks."""
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_HEADER)
    rows: Iterable[Task] = tasks.select_related("created_by").order_by("created_at", "pk").iterator(chunk_size=500)
    for task in rows:
        yield writer.writerow(csv_row(task))
