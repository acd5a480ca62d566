"""Many drafts from one action: variations (one axis: seed) and grids (up to two axes).

A batch is planned first — every cell's settings, quote and problems — so the
user sees the cell count and the total before anything is spent, and nothing
is created unless every cell is valid.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction

from studio.money.prices import price_of
from studio.prompts.models import PromptVersion
from studio.providers.base import Tier
from studio.providers.models import ProviderAccount

from . import budgets
from .lifecycle import SEED_MAX, new_task, problems_with
from .models import Batch, Task

# A hard cap so a mistyped axis cannot queue a hundred paid renders.
MAX_CELLS = 16
AXES = {
    "version": "Prompt version",
    "seed": "Seed",
    "tier": "Tier",
    "aspect_ratio": "Aspect ratio",
    "duration_s": "Duration",
}


@dataclass
class Cell:
    column: int
    row: int
    version: PromptVersion
    tier: Tier
    parameters: dict
    seed: int | None
    quote: Decimal | None = None
    problems: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple
    labels: tuple[str, ...]

    def as_json(self) -> dict:
        # Versions are stored by id: the batch keeps what it varied, not the objects.
        values = [getattr(v, "pk", v) for v in self.values]
        label = AXES.get(self.name) or OTHER_AXES[self.name]
        return {"name": self.name, "label": label, "values": values, "labels": list(self.labels)}


# Axes a batch may have that a grid does not offer.
OTHER_AXES = {"sample": "Clip"}


def distinct_seeds(count: int) -> list[int]:
    seeds: set[int] = set()
    while len(seeds) < count:
        seeds.add(random.randint(0, SEED_MAX))
    return sorted(seeds)


def seed_axis(count: int) -> Axis:
    seeds = distinct_seeds(count)
    return Axis("seed", tuple(seeds), tuple(f"seed {s}" for s in seeds))


def sample_axis(count: int, *, per_request: int) -> Axis:
    """Variations drawn several to a request: one column per clip, named by its request and place in it."""
    requests = -(-count // per_request)
    labels = [
        f"request {n // per_request + 1} · clip {n % per_request + 1}" if requests > 1 else f"clip {n + 1}"
        for n in range(count)
    ]
    return Axis("sample", tuple(range(count)), tuple(labels))


def plan(
    *,
    account: ProviderAccount,
    version: PromptVersion,
    tier: Tier,
    parameters: dict,
    seed: int | None,
    axes: list[Axis],
) -> list[Cell]:
    """Every cell's settings, quote and problems, columns along the first axis, rows along the second."""
    columns = axes[0] if axes else Axis("", (None,), ("",))
    rows = axes[1] if len(axes) > 1 else Axis("", (None,), ("",))
    cells = []
    for r, row_value in enumerate(rows.values):
        for c, column_value in enumerate(columns.values):
            cell = Cell(column=c, row=r, version=version, tier=tier, parameters=dict(parameters), seed=seed)
            for axis, value in ((columns, column_value), (rows, row_value)):
                _apply(cell, axis.name, value)
            model = account.model_for(cell.tier)
            cell.problems = problems_with(
                account=account,
                tier=cell.tier,
                parameters=cell.parameters,
                prompt=cell.version.text,
                negative_prompt=cell.version.negative_prompt,
            )
            if model and not cell.problems:
                cell.quote = price_of(account=account, model=model, parameters=cell.parameters)
            cells.append(cell)
    return cells


def _apply(cell: Cell, name: str, value) -> None:
    if name == "version":
        cell.version = value
    elif name == "seed":
        cell.seed = value
    elif name == "tier":
        cell.tier = Tier(value)
    elif name in ("aspect_ratio", "duration_s"):
        cell.parameters[name] = value


def start(
    *,
    project,
    kind: str,
    account: ProviderAccount,
    cells: list[Cell],
    axes: list[Axis],
    user,
    form_token: str = "",
    per_request: int = 1,
) -> Batch:
    """Create the batch and one pending task per cell, all or nothing, its total held against the budget.

    With `per_request` > 1 the cells go to the provider that many to a request: the first of each
    group sends it (asking for as many clips), the others ride on it with its seed (`Task.sample_of`).

    Concurrent copies of one form make one batch: the budget lock (or, with no
    budget, the one-batch-per-form constraint) decides, and the others answer
    with the batch the first one made. Raises `budgets.OverBudget` or
    ValueError before anything is created.
    """
    if not cells or len(cells) > MAX_CELLS:
        raise ValueError(f"A batch has 1 to {MAX_CELLS} cells.")
    if any(cell.problems for cell in cells):
        raise ValueError("Every cell must be valid before anything is sent.")
    with transaction.atomic():
        budget = budgets.lock(project)
        if form_token and (earlier := Batch.objects.filter(project=project, form_token=form_token).first()):
            return earlier
        budgets.reserve(budget, project=project, member=user, account=account, quotes=[c.quote for c in cells])
        try:
            with transaction.atomic():
                batch = Batch.objects.create(
                    project=project,
                    kind=kind,
                    axes=[axis.as_json() for axis in axes],
                    created_by=user,
                    form_token=form_token,
                )
        except IntegrityError:
            # A concurrent copy of this form made its batch first (and committed
            # its tasks with it, in the same transaction).
            return Batch.objects.get(project=project, form_token=form_token)
        sender: Task | None = None
        for number, cell in enumerate(cells):
            index = number % per_request
            task = new_task(
                project=project,
                prompt_version=cell.version,
                account=account,
                tier=cell.tier,
                kind=Task.Kind.DRAFT,
                parameters=cell.parameters,
                seed=sender.seed if index and sender else cell.seed,
                user=user,
                reserved=True,
            )
            placed = {"batch": batch, "cell_column": cell.column, "cell_row": cell.row}
            if index and sender:
                placed.update(sample_of=sender, sample_index=index)
            else:
                sender = task
            Task.objects.filter(pk=task.pk).update(**placed)
    return batch


def grid_of(batch: Batch) -> list[tuple[str, list[Task | None]]]:
    """The batch's tasks laid out as rows of columns, each row with its label."""
    width = len(batch.columns["values"])
    height = len(batch.rows["values"])
    layout: list[list[Task | None]] = [[None] * width for _ in range(height)]
    for task in batch.tasks.select_related(
        "prompt_version", "clip", "promoted_from", "extended_from__clip"
    ).prefetch_related("promotions"):
        row, column = task.cell_row, task.cell_column
        if row is not None and column is not None and row < height and column < width:
            layout[row][column] = task
    return list(zip(batch.rows["labels"], layout, strict=True))
