"""What the project page shows: its editor's starting values and its list of tasks and batches.

The project page and the draft views that answer with its editor or a new
item build their context here, so a fragment matches the page it is swapped
into. (A single task card needs only its task: see `tasks.views._card`.)
"""

from __future__ import annotations

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


def project_page_context(project, membership, *, form: DraftForm | None = None, prompt=None) -> dict:
    prompt = prompt or project.prompts.first()
    tasks = list(
        project.tasks.select_related("prompt_version", "promoted_from", "clip")
        .prefetch_related("promotions")
        .order_by("-created_at")
    )
    batches = {batch.pk: batch for batch in Batch.objects.filter(project=project)}
    # Standalone tasks as cards; a batch's tasks as one group, where its first task stood.
    items, seen = [], set()
    for task in tasks:
        if task.batch_id is None:
            items.append({"task": task})
        elif task.batch_id not in seen:
            seen.add(task.batch_id)
            batch = batches[task.batch_id]
            members = sorted((t for t in tasks if t.batch_id == batch.pk), key=lambda t: (t.cell_row, t.cell_column))
            items.append({"batch": batch, "tasks": members})
    return {
        "project": project,
        "membership": membership,
        "prompt": prompt,
        "form": form,
        "items": items,
        "has_tasks": bool(tasks),
    }
