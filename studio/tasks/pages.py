"""What the project page shows: its editor's starting values and its list of tasks and batches.

The project page and the draft views that answer with its editor or a new
item build their context here, so a fragment matches the page it is swapped
into. (A single task card needs only its task: see `tasks.views._card`.)
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.prompts.models import PromptVersion

from .forms import DraftForm, kept_image_values
from .models import Batch, Task


def editor_initial(project, prompt, recalled: Task | None) -> dict:
    """What the editor shows: a recalled clip's exact settings, else the prompt's newest words
    and the last draft's framing."""
    source: Task | None
    version: PromptVersion | None
    if recalled:
        source, version = recalled, recalled.prompt_version
    else:
        version = prompt.latest_version() if prompt else None
        source = project.tasks.filter(kind=Task.Kind.DRAFT).first()
    initial = {"prompt_id": prompt.pk if prompt else None}
    if version:
        initial.update(prompt=version.text, negative_prompt=version.negative_prompt)
    if source:
        parameters = source.parameters
        initial.update(
            aspect_ratio=parameters.get("aspect_ratio"),
            duration_s=parameters.get("duration_s"),
            resolution=parameters.get("resolution"),
            audio=parameters.get("audio", False),
            **kept_image_values(parameters),
        )
        if source.kind == Task.Kind.DRAFT:
            initial["tier"] = source.tier
        if recalled:
            initial["seed"] = recalled.seed
    return initial


@dataclass(frozen=True)
class LiveCard:
    """One card a page still follows, as the page last saw it."""

    task_id: int
    fingerprint: str
    compact: bool
    on_grid: bool


# More than any page shows at once; a longer list is cut, never an error.
MAX_LIVE_CARDS = 200


def live_cards_seen(values: list[str]) -> dict[int, LiveCard]:
    """The page's `card` values ("<task id>:<digest>:<c if compact><g if on the grid>"); malformed ones are skipped."""
    seen: dict[int, LiveCard] = {}
    for value in values[:MAX_LIVE_CARDS]:
        task_id, _, rest = value.partition(":")
        fingerprint, _, flags = rest.partition(":")
        if task_id.isdigit() and fingerprint:
            seen[int(task_id)] = LiveCard(int(task_id), fingerprint, "c" in flags, "g" in flags)
    return seen


def changed_cards(project, seen: dict[int, LiveCard]) -> list[tuple[Task, LiveCard]]:
    """The followed cards whose task changed since the page last saw them."""
    tasks = (
        project.tasks.filter(pk__in=seen)
        .select_related("prompt_version", "promoted_from__clip", "clip")
        .prefetch_related("promotions__clip")
    )
    return [(task, seen[task.pk]) for task in tasks if task.card_fingerprint != seen[task.pk].fingerprint]


# The project page shows the newest work only (the gallery holds the rest), so it
# costs the same for a project of ten clips as for one of ten thousand.
RECENT_TASKS = 24


def project_page_context(project, membership, *, form: DraftForm | None = None, prompt=None) -> dict:
    prompt = prompt or project.prompts.first()
    cards = project.tasks.select_related("prompt_version", "promoted_from", "clip").prefetch_related("promotions__clip")
    recent = list(cards.order_by("-created_at", "-pk")[:RECENT_TASKS])
    batch_ids = {task.batch_id for task in recent if task.batch_id}
    # A group shows all its cells, even those older than the newest few (at most batches.MAX_CELLS each).
    grouped = list(cards.filter(batch_id__in=batch_ids)) if batch_ids else []
    batches = {batch.pk: batch for batch in Batch.objects.filter(pk__in=batch_ids)}
    # Standalone tasks as cards; a batch's tasks as one group, where its newest task stood.
    items, seen = [], set()
    for task in recent:
        if task.batch_id is None:
            items.append({"task": task})
        elif task.batch_id not in seen:
            seen.add(task.batch_id)
            members = sorted(
                (t for t in grouped if t.batch_id == task.batch_id), key=lambda t: (t.cell_row, t.cell_column)
            )
            items.append({"batch": batches[task.batch_id], "tasks": members})
    return {
        "project": project,
        "membership": membership,
        "prompt": prompt,
        "form": form,
        "items": items,
        "has_tasks": bool(recent),
        "more_in_gallery": len(recent) == RECENT_TASKS,
    }
