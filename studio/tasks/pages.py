"""What the project page shows: its editor's starting values, its list of tasks and batches, and
what each spend button would cost against the budget.

The project page and the draft views that answer with its editor or a new
item build their context here, so a fragment matches the page it is swapped
into. A card needs its task and what its buttons would spend (`quote_cards`),
wherever it is rendered: the page, the grid, the live refresh, a single card.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from studio.money.prices import price_of
from studio.prompts.models import PromptVersion
from studio.providers.base import PEOPLE, Tier

from . import budgets, lifecycle
from .budgets import Standing
from .forms import DraftForm, kept_image_values, whole_number
from .models import Batch, Task


@dataclass(frozen=True)
class Quote:
    """What one button would spend, beside what the budget has left: "≈ $0.40 · $9.60 left of $10.00 this month".

    `refusal` says in plain words why the server would refuse it (the button is
    then disabled); with no budget set only the price is shown.
    """

    amount: Decimal | None
    standing: Standing
    # The account lets tasks with no price card spend under a budget (see `budgets.reserve`).
    unpriced_allowed: bool = False

    @property
    def refusal(self) -> str:
        if not self.standing.is_limited:
            return ""
        if self.amount is None:
            if self.unpriced_allowed:
                return ""
            return "No price card, so the budget cannot hold it: an owner can allow this in the account's settings"
        if self.standing.fits(self.amount):
            return ""
        return f"Over budget: ${self.amount} needed, ${self.standing.left_for_member} left"

    @property
    def budget_words(self) -> str:
        """What goes after the price: the refusal, else what is left ("" with no budget)."""
        return self.refusal or self.standing.words

    @property
    def words(self) -> str:
        """The whole line beside a card's button."""
        if self.refusal:
            return self.refusal
        price = "no price card" if self.amount is None else f"≈ ${self.amount}"
        return " · ".join(filter(None, (price, self.standing.words)))


def quote_for(amount: Decimal | None, *, standing: Standing, account) -> Quote:
    """`amount` against the standing. Only an unpriced amount under a budget asks `account`
    whether it allows that, so callers may pass None when the question cannot arise."""
    unpriced_allowed = amount is None and standing.is_limited and account is not None and account.allow_unpriced
    return Quote(amount, standing, unpriced_allowed)


@dataclass(frozen=True)
class CardQuotes:
    """What a card's Promote and Send again buttons would spend; None where it offers no such button."""

    promote: Quote | None = None
    again: Quote | None = None
    # Extend: what it would spend, or why this clip cannot be (None: its route extends no clip).
    extend: Quote | None = None
    extend_refusal: str = ""


def quote_cards(tasks: Iterable[Task], *, project, membership) -> Standing | None:
    """Give each card what its buttons would spend, as `task.quotes`; returns the member's standing.

    The standing is added up once and each distinct price looked up once, so a
    page of many cards costs the queries of a page of one. Only members who may
    spend see those buttons: for anyone else nothing is quoted (None).

    A promotion is priced as `lifecycle.promote` will create it: the final's
    settings on the project's final account. Sending again is quoted at the
    task's own quote.
    """
    if not membership.can_edit:
        return None
    standing = budgets.standing(project, membership.user_id)
    final_account = project.final_account
    prices: dict[tuple, Decimal | None] = {}

    def promotion(task: Task) -> Quote | None:
        if final_account is None or not task.can_promote_again:
            return None
        try:
            model = lifecycle.model_for(final_account, Tier.QUALITY)
        except lifecycle.NoModelForTier:
            return None  # promote says so; there is nothing to price
        parameters, _notes = lifecycle.final_parameters(task, final_account)
        key = (parameters["resolution"], bool(parameters["audio"]), parameters["duration_s"])
        if key not in prices:
            prices[key] = price_of(account=final_account, model=model, parameters=parameters)
        return quote_for(prices[key], standing=standing, account=final_account)

    def again(task: Task) -> Quote | None:
        if not task.can_send_again:
            return None
        # Only an unpriced task under a budget asks its account, which a card may not have loaded.
        asks = task.cost_estimate is None and standing.is_limited
        return quote_for(task.cost_estimate, standing=standing, account=task.account if asks else None)

    # The project's accounts, read once: each card's Extend asks its task's account what it can extend.
    accounts = {account.pk: account for account in project.provider_accounts.all()}

    def extension(task: Task) -> tuple[Quote | None, str]:
        account = accounts.get(task.account_id)
        if account is None or not account.provider.extends_clips or not task.has_clip:
            return None, ""
        task.account = account
        try:
            amount = lifecycle.extension_quote(task)
        except lifecycle.ExtendRefused as why:
            return None, str(why)
        return quote_for(amount, standing=standing, account=account), ""

    for task in tasks:
        extend, extend_refusal = extension(task)
        quotes = CardQuotes(promote=promotion(task), again=again(task), extend=extend, extend_refusal=extend_refusal)
        # Like annotate(): a value this page computed, carried on the instance its card reads.
        setattr(task, "quotes", quotes)  # noqa: B010
    return standing


def editor_initial(project, prompt, recalled: Task | None, *, user=None, fresh: bool = False) -> dict:
    """What the editor starts from. Every setting it did not start with at its default comes from a
    task it names (`settings_from`), so the editor can say so and offer a reset.

    - "Use these settings" (`recalled`): that task's exact words, seed, settings and images.
    - `fresh` (the reset): the prompt's newest words, every setting at its default, no images.
    - Otherwise: the prompt's newest words and the framing of your own latest draft; images are
      never carried into a page you open: they come only with a recall or right after a draft.
    """
    version: PromptVersion | None = recalled.prompt_version if recalled else None
    if version is None and prompt:
        version = prompt.latest_version()
    initial: dict = {"prompt_id": prompt.pk if prompt else None}
    if version:
        initial.update(prompt=version.text, negative_prompt=version.negative_prompt, version_id=version.pk)
    source = recalled
    if source is None and not fresh and user is not None:
        # An extension is framed by its source (7 s added), not by the editor: it is no starting point.
        source = (
            project.tasks.filter(kind=Task.Kind.DRAFT, created_by=user)
            .exclude(parameters__has_key="continuation")
            .first()
        )
    if source:
        parameters = source.parameters
        initial.update(
            settings_from=source.pk,
            aspect_ratio=parameters.get("aspect_ratio"),
            duration_s=parameters.get("duration_s"),
            resolution=parameters.get("resolution"),
            audio=parameters.get("audio", False),
            people=parameters.get("people", ""),
            enhance_prompt={True: "on", False: "off"}.get(parameters.get("enhance_prompt"), ""),
        )
        if source.kind == Task.Kind.DRAFT:
            initial["tier"] = source.tier
        if recalled:
            initial.update(seed=recalled.seed, **kept_image_values(parameters))
    return initial


def new_prompt_initial() -> dict:
    """The editor on "New prompt": no words, no prompt, every setting at its default."""
    return {"new_prompt": True}


@dataclass(frozen=True)
class Inherited:
    """The task the editor's settings came from, and what it gave, for the note above the editor."""

    task: Task
    items: list[str]


@dataclass(frozen=True)
class EditorState:
    """Which prompt and version the editor is on, and what it inherited: the header and the note."""

    prompt: object | None
    version: PromptVersion | None
    newest: PromptVersion | None
    inherited: Inherited | None
    new_prompt: bool

    @property
    def next_number(self) -> int:
        return (self.newest.number + 1) if self.newest else 1

    @property
    def on_newest(self) -> bool:
        return self.version is None or self.newest is None or self.version.pk == self.newest.pk


def editor_state(project, form: DraftForm | None, prompt) -> EditorState | None:
    """What the editor's header says, read from the form itself so it always matches the words shown."""
    if form is None:
        return None
    new_prompt = form.starts_new_prompt
    prompt = None if new_prompt else prompt
    newest = prompt.latest_version() if prompt else None
    version = newest
    wanted = whole_number(str(form.value("version_id") or ""))
    if prompt and wanted is not None and (newest is None or wanted != newest.pk):
        version = prompt.versions.filter(pk=wanted).first() or newest
    inherited = None
    source_id = whole_number(str(form.value("settings_from") or ""))
    if source_id is not None:
        source = project.tasks.filter(pk=source_id).select_related("prompt_version").first()
        if source:
            inherited = Inherited(task=source, items=_inherited_items(form, source))
    return EditorState(prompt=prompt, version=version, newest=newest, inherited=inherited, new_prompt=new_prompt)


def _inherited_items(form: DraftForm, task: Task) -> list[str]:
    parameters = task.parameters
    # A recall carries the task's words and seed too; a latest-draft start only its framing.
    recalled = str(form.value("seed") or "") == str(task.seed)
    items = [f"v{task.prompt_version.number} words", f"seed {task.seed}"] if recalled else []
    items += [
        str(parameters.get("aspect_ratio", "")),
        f"{parameters.get('duration_s')} s",
        str(parameters.get("resolution", "")),
        "audio" if parameters.get("audio") else "silent",
        PEOPLE.get(parameters.get("people", ""), "").lower(),
        {True: "prompt rewritten", False: "exact words"}.get(parameters.get("enhance_prompt"), ""),
    ]
    if task.kind == Task.Kind.DRAFT:
        items.append(task.tier.title())
    kept = form.kept_images()
    if kept["first_frame"]:
        items.append("first frame kept")
    if kept["last_frame"]:
        items.append("last frame kept")
    if kept["references"]:
        items.append(f"{len(kept['references'])} reference image{'s' if len(kept['references']) > 1 else ''} kept")
    return [item for item in items if item]


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
        .select_related("prompt_version", "promoted_from__clip", "clip", "extended_from__clip")
        .prefetch_related("promotions__clip")
    )
    return [(task, seen[task.pk]) for task in tasks if task.card_fingerprint != seen[task.pk].fingerprint]


# The project page shows the newest work only (the gallery holds the rest), so it
# costs the same for a project of ten clips as for one of ten thousand.
RECENT_TASKS = 24


def project_page_context(project, membership, *, form: DraftForm | None = None, prompt=None) -> dict:
    prompt = prompt or project.prompts.first()
    cards = project.tasks.select_related(
        "prompt_version", "promoted_from", "clip", "extended_from__clip"
    ).prefetch_related("promotions__clip")
    recent = list(cards.order_by("-created_at", "-pk")[:RECENT_TASKS])
    batch_ids = {task.batch_id for task in recent if task.batch_id}
    # A group shows all its cells, even those older than the newest few (at most batches.MAX_CELLS each).
    grouped = list(cards.filter(batch_id__in=batch_ids)) if batch_ids else []
    batches = {batch.pk: batch for batch in Batch.objects.filter(pk__in=batch_ids)}
    # Standalone tasks as cards; a batch's tasks as one group, where its newest task stood.
    standing = quote_cards([*recent, *grouped], project=project, membership=membership)
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
        "editor": editor_state(project, form, prompt),
        "items": items,
        "has_tasks": bool(recent),
        "more_in_gallery": len(recent) == RECENT_TASKS,
        "standing": standing,
    }
