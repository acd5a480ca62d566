"""A task's life: created → sent exactly once → followed at the route's cadence → archived.

Every step claims its task with a conditional UPDATE and checks the row count,
so any number of workers on any number of machines can run these functions at
once: the loser of a race does nothing. Submitting is never retried on its own
once the request may have left, because every provider bills each submit.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import httpx
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from studio.clips.models import Clip
from studio.forms import unstorable
from studio.images.models import InputImage
from studio.money.prices import price_of
from studio.prompts.models import PromptVersion
from studio.providers.base import (
    CREATES_NOTHING,
    PEOPLE,
    ClipInput,
    ErrorKind,
    ImageInput,
    ProviderError,
    Report,
    Status,
    Tier,
    VideoRequest,
    http_client,
)
from studio.providers.models import ProviderAccount
from studio.providers.registry import routes_that_extend

from . import budgets
from .models import Task

log = logging.getLogger(__name__)
State = Task.State

# A task still "sending" this long after its submit began had its worker die
# mid-request: longer than any submit can take (its read timeout plus a margin).
SUBMIT_GRACE_MARGIN_S = 60
# A poll in flight holds its task this long: longer than a poll may take (its
# timeout plus the time to record it), short enough that a tracker killed
# mid-poll delays its tasks by one lease at most, never strands them.
POLL_TIMEOUT = httpx.Timeout(8.0, connect=5.0)
POLL_CLAIM = timedelta(seconds=12)
FINAL_SETTINGS = {"resolution": "1080p", "duration_s": 8, "audio": True}
SEED_MAX = 2**32 - 1


def video_request(task: Task) -> VideoRequest:
    return build_request(
        account=task.account,
        model=task.model,
        prompt=task.continuation if task.is_extension else task.prompt_version.text,
        # An extension sends its continuation alone (its source's negative prompt is not shown with it).
        negative_prompt=""
        if task.is_extension
        else negative_prompt_sent(account=task.account, model=task.model, version=task.prompt_version),
        parameters=task.parameters,
        seed=task.seed,
        callback_url=callback_url(task),
        extend=clip_input(task.extended_from) if task.is_extension else None,
        samples=1 + task.other_samples.count(),
    )


def clip_input(source: Task | None) -> ClipInput:
    """The archived clip an extension continues, read from storage (the local folder or the object store)."""
    clip = Clip.objects.filter(task=source).first() if source else None
    if clip is None:
        raise ProviderError(ErrorKind.VALIDATION, "The clip to extend was deleted before this was sent")
    with clip.file.open("rb") as handle:
        return ClipInput(data=handle.read())


def negative_prompt_sent(*, account, model: str, version: PromptVersion) -> str:
    """The version's negative prompt as the route receives it.

    A route without negative prompts gets none rather than refusing the task
    (a promotion says so on the card, see `final_parameters`).
    """
    caps = account.capabilities_for(model)
    return version.negative_prompt if caps and caps.negative_prompt else ""


def build_request(
    *,
    account,
    model: str,
    prompt: str,
    negative_prompt: str,
    parameters: dict,
    seed: int | None = None,
    callback_url: str | None = None,
    extend: ClipInput | None = None,
    samples: int = 1,
) -> VideoRequest:
    """The route-neutral request for these settings; images are loaded from their ids."""
    images = {image.pk: image for image in InputImage.objects.filter(pk__in=image_ids(parameters))}

    def load(image_id):
        image = images.get(image_id)
        return image_input(image, account=account) if image else None

    return VideoRequest(
        model=model,
        prompt=prompt,
        negative_prompt=negative_prompt,
        duration_s=parameters["duration_s"],
        aspect_ratio=parameters["aspect_ratio"],
        resolution=parameters["resolution"],
        audio=parameters["audio"],
        seed=seed,
        first_frame=load(parameters.get("first_frame")),
        last_frame=load(parameters.get("last_frame")),
        references=tuple(filter(None, (load(i) for i in parameters.get("references", ())))),
        people=parameters.get("people", ""),
        enhance_prompt=parameters.get("enhance_prompt"),
        extend=extend,
        samples=samples,
        callback_url=callback_url,
    )


def image_ids(parameters: dict) -> list[int]:
    ids = [parameters.get("first_frame"), parameters.get("last_frame"), *parameters.get("references", ())]
    return [i for i in ids if i]


def image_input(image: InputImage, *, account) -> ImageInput:
    # Only a public address lets a provider on the internet fetch it; the
    # simulator runs beside us and can use our own address.
    base = settings.PUBLIC_URL or (settings.SITE_URL if account.is_simulator else "")
    with image.file.open("rb") as handle:  # from storage: the local folder or the object store
        data = handle.read()
    return ImageInput(
        data=data,
        mime_type=image.mime_type,
        url=base + image.public_path if base else None,
    )


def callback_url(task: Task) -> str | None:
    if not task.callback_token:
        return None
    base = settings.PUBLIC_URL or settings.SITE_URL
    return base + reverse("provider-callback", args=[task.callback_token])


def new_task(
    *,
    project,
    prompt_version,
    account: ProviderAccount,
    tier: Tier,
    kind: str,
    parameters: dict,
    seed: int | None,
    user,
    promoted_from: Task | None = None,
    extended_from: Task | None = None,
    form_token: str = "",
    reserved: bool = False,
) -> Task:
    """A pending task with its quote held against the budget. Callers validate first (see `problems_with`).

    A form token already used in this project returns the task it made, so a
    double click never pays twice: the database's one-task-per-form constraint
    decides between concurrent copies, and the budget lock makes a resent form
    find its task before it is counted again. Raises `budgets.OverBudget`
    before creating anything; `reserved=True` means the caller (a batch)
    already held the quote inside this transaction.
    """
    model = model_for(account, tier)
    if seed is None:
        # A drawn seed is recorded so the final can be rendered from the same one.
        seed = random.randint(0, SEED_MAX)
    cost = price_of(account=account, model=model, parameters=parameters)
    fields = {
        "project": project,
        "prompt_version": prompt_version,
        "account": account,
        "created_by": user,
        "promoted_from": promoted_from,
        "extended_from": extended_from,
        "route": account.route,
        "model": model,
        "kind": kind,
        "tier": tier,
        "parameters": parameters,
        "seed": seed,
        "cost_estimate": cost,
        "form_token": form_token,
        "callback_token": secrets.token_urlsafe(32) if _can_be_called_back(account) else "",
    }
    with transaction.atomic():
        budget = None if reserved else budgets.lock(project)
        if form_token and (earlier := Task.objects.filter(project=project, form_token=form_token).first()):
            return earlier
        if not reserved:
            budgets.reserve(budget, project=project, member=user, account=account, quotes=[cost])
        try:
            with transaction.atomic():
                return Task.objects.create(**fields)
        except IntegrityError:
            # A concurrent copy of this form won the one-task-per-form constraint.
            if form_token:
                return Task.objects.get(project=project, form_token=form_token)
            raise


class NoModelForTier(ValueError):
    """The account's route has no model on this tier; the message says so in plain words."""


def model_for(account: ProviderAccount, tier: Tier) -> str:
    """The account's model for this tier; `problems_with` reports a missing or gone one before anything is created."""
    model = account.model_for(tier)
    if model is None:
        raise NoModelForTier(f"{account.provider.name} has no {tier.value} model.")
    return model


def _can_be_called_back(account: ProviderAccount) -> bool:
    # A provider on the internet can only call back to a public address; without
    # one, polling alone follows the task.
    return account.provider.uses_callbacks(account) and bool(settings.PUBLIC_URL or account.is_simulator)


def problems_with(
    *, account: ProviderAccount, tier: Tier, parameters: dict, prompt: str, negative_prompt: str = ""
) -> dict[str, str]:
    """Field → message for anything the account's route would refuse; checked before any spend."""
    try:
        model = model_for(account, tier)
    except NoModelForTier as missing:
        return {"tier": str(missing)}
    if gone := account.model_gone(model):
        # Every task on it would fail at submit: say so here, where the user can still choose.
        return {"tier": f"{gone} A project owner can set another {tier.value} model on the account “{account.label}”."}
    caps = account.capabilities_for(model)
    if caps is None:
        return {"tier": f"{account.provider.name} does not know the model {model}."}
    request = build_request(
        account=account, model=model, prompt=prompt, negative_prompt=negative_prompt, parameters=parameters
    )
    return caps.problems(request)


def start_draft(
    *,
    project,
    version: PromptVersion,
    tier: Tier,
    parameters: dict,
    seed: int | None,
    user,
    form_token: str = "",
) -> Task:
    return new_task(
        project=project,
        prompt_version=version,
        account=project.draft_account,
        tier=tier,
        kind=Task.Kind.DRAFT,
        parameters=parameters,
        seed=seed,
        user=user,
        form_token=form_token,
    )


RESOLUTION_ORDER = ("720p", "1080p", "4k")


def final_parameters(draft: Task, account: ProviderAccount) -> tuple[dict, list[str]]:
    """The draft's framing at full quality with audio, fitted to the final route.

    Returns the parameters and, in plain words, what the route could not carry.
    """
    route = account.provider
    caps = account.capabilities_for(model_for(account, Tier.QUALITY))
    assert caps is not None, "promote() checks the final model first"
    wanted = {**draft.parameters, **FINAL_SETTINGS}
    notes = []
    if not caps.audio:
        wanted["audio"] = False
        notes.append(f"{route.name} renders no audio, so the final is silent.")
    if wanted["aspect_ratio"] not in caps.aspect_ratios:
        notes.append(f"{route.name} has no {wanted['aspect_ratio']}; the final is {caps.aspect_ratios[0]}.")
        wanted["aspect_ratio"] = caps.aspect_ratios[0]
    if wanted["resolution"] not in caps.resolutions:
        best = max(caps.resolutions, key=RESOLUTION_ORDER.index)
        notes.append(f"{route.name} has no {wanted['resolution']}; the final is {best}.")
        wanted["resolution"] = best
    durations = [
        d for d in caps.durations if all(d in allowed for res, allowed, _ in caps.rules if res == wanted["resolution"])
    ] or list(caps.durations)
    if wanted["duration_s"] not in durations:
        closest = min(durations, key=lambda d: (abs(d - wanted["duration_s"]), -d))
        notes.append(f"{route.name} renders {', '.join(f'{d} s' for d in durations)}; the final is {closest} s.")
        wanted["duration_s"] = closest
    for name, offered, label in (
        ("first_frame", caps.first_frame, "first frame"),
        ("last_frame", caps.last_frame, "last frame"),
        ("references", caps.max_references > 0, "reference images"),
    ):
        if wanted.get(name) and not offered:
            notes.append(f"{route.name} takes no {label}; it was left out.")
            wanted.pop(name)
    if wanted.get("people") and wanted["people"] not in caps.people:
        notes.append(f"{route.name} takes no “{PEOPLE[wanted.pop('people')].lower()}” setting; it decides who appears.")
    if wanted.get("enhance_prompt") is not None and not caps.enhance_prompt:
        notes.append(f"{route.name} does not switch prompt rewriting; it was left to the route.")
        wanted.pop("enhance_prompt")
    if wanted.get("references") and len(wanted["references"]) > caps.max_references:
        notes.append(f"{route.name} takes {caps.max_references} reference image(s); the rest were left out.")
        wanted["references"] = wanted["references"][: caps.max_references]
    if draft.prompt_version.negative_prompt and not caps.negative_prompt:
        notes.append(f"{route.name} takes no negative prompt; it was not sent.")
    return wanted, notes


class PromotionRefused(Exception):
    """Why a draft cannot be promoted, in words for the user; nothing was created or spent."""


def promote(*, draft: Task, user) -> tuple[Task, bool]:
    """The final render of a draft: same prompt version, seed and aspect ratio, where the route allows.

    Returns (final, created). A draft with a final already on its way or done
    returns that one, so a second click is not a second bill. Raises
    PromotionRefused, before anything is created, when the project has no final
    account or the final route would refuse the settings. The draft need not be
    done yet: the page offers Promote only then (`Task.can_be_promoted`), but
    a final may be queued behind its draft.
    """
    if draft.is_extension:
        raise PromotionRefused("An extension continues another clip, so it cannot be rendered again as a final.")
    account = draft.project.final_account
    if account is None:
        raise PromotionRefused("This project has no provider account for finals yet.")
    try:
        model = model_for(account, Tier.QUALITY)
    except NoModelForTier as missing:
        raise PromotionRefused(f"{missing} Finals need one.") from None
    parameters, notes = final_parameters(draft, account)
    version = draft.prompt_version
    problems = problems_with(
        account=account,
        tier=Tier.QUALITY,
        parameters=parameters,
        prompt=version.text,
        negative_prompt=negative_prompt_sent(account=account, model=model, version=version),
    )
    if problems:
        raise PromotionRefused("The final route cannot render this: " + " ".join(problems.values()))
    with transaction.atomic():
        # Serialises concurrent promotions of one draft (row lock on PostgreSQL,
        # the write lock on SQLite).
        Task.objects.select_for_update().filter(pk=draft.pk).update(lease_until=F("lease_until"))
        existing = draft.promotions.exclude(state__in=Task.ENDED_WITHOUT_CLIP).first()
        if existing:
            return existing, False
        final = new_task(
            project=draft.project,
            prompt_version=draft.prompt_version,
            account=account,
            tier=Tier.QUALITY,
            kind=Task.Kind.FINAL,
            parameters=parameters,
            seed=draft.seed,
            user=user,
            promoted_from=draft,
        )
        if draft.rides_along:
            notes.append(
                f"The draft was clip {draft.sample_index + 1} of one request: the request's seed renders its "
                "first clip again, not this one, so the final may differ from this draft."
            )
        if notes:
            Task.objects.filter(pk=final.pk).update(carry_notes=" ".join(notes))
            final.carry_notes = " ".join(notes)
        return final, True


# --- Extending: a clip continued -----------------------------------------------


class ExtendRefused(Exception):
    """Why a clip cannot be extended, in words for the user; nothing was created or spent."""


def extension_model(source: Task) -> str:
    """The model that would extend `source`: its account's current model for the source's tier.

    Raises ExtendRefused, in plain words, when none can: the clip, the route, the model or the
    clip's length, frame rate, resolution or framing do not allow it.
    """
    if not source.has_clip:
        raise ExtendRefused("Only a finished clip can be extended.")
    clip = source.clip
    account = source.account
    model = account.model_for(Tier(source.tier))
    caps = account.capabilities_for(model) if model else None
    if model is None or caps is None or caps.extend is None:
        if not account.provider.extends_clips:
            raise ExtendRefused(
                f"Dailies extends clips made through {' or '.join(routes_that_extend())}; this clip was made "
                f"through {account.provider.name}, where it does not."
            )
        raise ExtendRefused(f"{model or 'This tier'} on {account.provider.name} does not extend clips.")
    if gone := account.model_gone(model):
        raise ExtendRefused(f"{gone} A project owner can set another {source.tier} model on “{account.label}”.")
    why = caps.extend.refusal(
        duration_s=clip.duration_s,
        frame_rate=clip.frame_rate,
        resolution=source.resolution,
        aspect_ratio=source.aspect_ratio,
        size=clip.bytes,
    )
    if why:
        raise ExtendRefused(why)
    return model


def extension_parameters(source: Task, continuation: str) -> dict:
    """An extension's settings: the source's framing and sound, the seconds its route adds."""
    caps = source.account.capabilities_for(extension_model(source))
    assert caps is not None and caps.extend is not None, "extension_model checked it"
    parameters = {
        "duration_s": caps.extend.added_s,
        "aspect_ratio": source.aspect_ratio,
        "resolution": source.resolution,
        "audio": source.audio,
        "continuation": continuation,
    }
    for carried in ("people", "enhance_prompt"):
        if carried in source.parameters:
            parameters[carried] = source.parameters[carried]
    return parameters


def extension_quote(source: Task) -> Decimal | None:
    """What extending `source` costs: the seconds added, at its route's price (raises ExtendRefused)."""
    model = extension_model(source)
    return price_of(account=source.account, model=model, parameters=extension_parameters(source, "…"))


def extend(*, source: Task, continuation: str, user, form_token: str = "") -> Task:
    """A new task that continues `source`'s clip with `continuation`, on the source's account and tier.

    Checked before anything is created (ExtendRefused, or `budgets.OverBudget`); a form token makes a
    double click one extension. Extensions chain: the new clip can be extended in turn while its
    route allows its length.
    """
    continuation = continuation.strip()
    parameters = extension_parameters(source, continuation)
    model = extension_model(source)
    caps = source.account.capabilities_for(model)
    assert caps is not None
    request = build_request(
        account=source.account, model=model, prompt=continuation, negative_prompt="", parameters=parameters
    )
    if problems := caps.problems(replace(request, extend=ClipInput(b""))):
        raise ExtendRefused(" ".join(problems.values()))
    return new_task(
        project=source.project,
        prompt_version=source.prompt_version,
        account=source.account,
        tier=Tier(source.tier),
        kind=source.kind,
        parameters=parameters,
        seed=None,
        user=user,
        extended_from=source,
        form_token=form_token,
    )


# --- Submitting: exactly once -------------------------------------------------


def submit(task_id: int) -> bool:
    """Send a pending task to its provider. Returns whether this call sent it.

    A task whose clip rides on another's request is never sent itself: it takes that request's
    outcome (`samples_follow`) when its sender's submission settles.
    """
    sent = _submit(task_id)
    # Every time, not only when this call sent it: a worker that died after recording the receipt left
    # the others waiting, and the next copy of the message (or the sweep) hands it on.
    samples_follow(task_id)
    return sent


# What the other clips of a request take from its sender once its submission settles.
SUBMISSION_FIELDS = (
    "state",
    "provider_task_id",
    "submit_started_at",
    "request_sent_at",
    "submitted_at",
    "next_check_at",
    "finished_at",
    "error_code",
    "error_message",
    "settled_by",
    "settled_at",
)


def samples_follow(sender_id: int) -> int:
    """Give the other clips of this task's request its submission's outcome: followed under the same job
    (each then polls for its own video), uncertain with it, or ended unbilled with it. Nothing while the
    sender is still waiting to send or sending. Safe to repeat: only clips still waiting on the request
    move. Returns how many moved."""
    sender = Task.objects.filter(pk=sender_id).values(*SUBMISSION_FIELDS, "cost_charged").first()
    if sender is None or sender["state"] in (State.PENDING, State.SUBMITTING):
        return 0
    fields = {name: sender[name] for name in SUBMISSION_FIELDS}
    if sender["provider_task_id"] and sender["state"] != State.UNCERTAIN:
        # The job exists. A tracker may already have followed the sender further (to its video, its clip,
        # or its own failure): each other clip is followed from now and finds its own video.
        fields.update(
            state=State.QUEUED, next_check_at=timezone.now(), finished_at=None, error_code="", error_message=""
        )
    elif sender["state"] in Task.ENDED_WITHOUT_CLIP:
        # Refused at submit: no job, nothing billed.
        fields["cost_charged"] = sender["cost_charged"]
    return Task.objects.filter(
        sample_of=sender_id, state__in=[State.PENDING, State.SUBMITTING, State.UNCERTAIN]
    ).update(**fields)


@sensitive_variables()  # the task's account builds requests with its decrypted key
def _submit(task_id: int) -> bool:
    claimed_at = timezone.now()
    claimed = (
        Task.objects.filter(pk=task_id, state=State.PENDING, sample_of__isnull=True)
        .filter(Q(next_check_at__isnull=True) | Q(next_check_at__lte=claimed_at))
        .update(state=State.SUBMITTING, submit_started_at=claimed_at, next_check_at=None, request_sent_at=None)
    )
    if not claimed:
        return False
    task = Task.objects.select_related("account", "prompt_version").get(pk=task_id)
    route = task.account.provider

    def stamp_sent(request: httpx.Request) -> None:
        # Runs just before the request leaves. If a sweeper took the task back
        # meanwhile (this worker stalled past the submit grace), do not send.
        if request.extensions.get(CREATES_NOTHING):
            return  # a token on the way to the submit: nothing billable leaves with it
        if not Task.objects.filter(pk=task_id, state=State.SUBMITTING, submit_started_at=claimed_at).update(
            request_sent_at=timezone.now(), provider_requests=F("provider_requests") + 1
        ):
            raise ClaimLost(task_id)

    try:
        with http_client(httpx.Timeout(settings.SUBMIT_READ_TIMEOUT_S, connect=10.0)) as http:
            http.event_hooks = {"request": [stamp_sent], "response": []}
            receipt = route.submit(http, task.account, video_request(task))
    except ClaimLost:
        log.warning("task %s was taken back before its submit left; not sent", task_id)
        return False
    except ProviderError as error:
        if error.kind == ErrorKind.RATE_LIMIT:
            # A refused submit created no job, so waiting and sending again is safe.
            wait = error.retry_after or 30.0
            Task.objects.filter(pk=task_id, state=State.SUBMITTING).update(
                state=State.PENDING,
                next_check_at=timezone.now() + timedelta(seconds=wait),
                lease_until=None,
                error_code=error.kind,
                error_message=f"{error.message}. Sending again in {wait:.0f} s; nothing was billed.",
            )
        elif error.http_status in (502, 504):
            # A gateway timed out waiting for the provider: the job may exist.
            _mark_uncertain(task_id, f"The provider's gateway timed out (HTTP {error.http_status})")
        elif error.kind == ErrorKind.BAD_ANSWER:
            # The provider answered, but not in words we could read: it may have made (and billed) the job.
            _mark_uncertain(task_id, f"The provider's answer could not be read ({error.message})")
        else:
            # A safety refusal at submit (route 1's 451) is a block, as it is when a poll reports one.
            state = State.BLOCKED if error.kind == ErrorKind.SAFETY else State.FAILED
            finish_task(task_id, from_states=[State.SUBMITTING], state=state, error=error, billed=False)
            if error.kind == ErrorKind.RETIRED_MODEL:
                # The account page and the editor say so from now on, so no one drafts into it again.
                task.account.mark_model_gone(task.model, error.message)
        return True
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        # Refused, unresolvable (DNS) or unanswered connection: no request left.
        why = f"Not sent: could not reach the provider ({type(exc).__name__})"
        unreachable = ProviderError(ErrorKind.UNREACHABLE, why)
        finish_task(task_id, from_states=[State.SUBMITTING], state=State.FAILED, error=unreachable, billed=False)
        return True
    except Exception as exc:
        if not Task.objects.filter(pk=task_id, request_sent_at__isnull=False).exists():
            # It broke before the request left (reading an image, building the body).
            log.warning("submit of task %s failed before sending: %s", task_id, type(exc).__name__)
            why = f"Not sent: {type(exc).__name__} while preparing the request"
            not_sent = ProviderError(ErrorKind.UNREACHABLE, why)
            finish_task(task_id, from_states=[State.SUBMITTING], state=State.FAILED, error=not_sent, billed=False)
            return True
        # The request may have left: never guess, never resend.
        log.warning("submit of task %s ended without an answer: %s", task_id, type(exc).__name__)
        _mark_uncertain(task_id, f"No answer from the provider after sending ({type(exc).__name__})")
        return True

    now = timezone.now()
    delay = _poll_delay(task, elapsed_s=0.0)
    # Recorded even if a sweeper already called it uncertain: the receipt settles it.
    Task.objects.filter(pk=task_id, state__in=[State.SUBMITTING, State.UNCERTAIN]).update(
        state=State.QUEUED,
        provider_task_id=receipt.provider_task_id,
        submitted_at=now,
        next_check_at=now + timedelta(seconds=delay),
        error_code="",
        error_message="",
        cost_estimate=receipt.estimated_cost if receipt.estimated_cost is not None else F("cost_estimate"),
    )
    return True


def _mark_uncertain(task_id: int, why: str) -> None:
    Task.objects.filter(pk=task_id, state=State.SUBMITTING).update(
        state=State.UNCERTAIN,
        error_code="uncertain",
        error_message=(
            f"{why}. The provider may have started (and billed) this job, so Dailies will not send it "
            "again on its own. Its quote stays held against the budget. Look for it in the provider's "
            "dashboard: an owner settles it here (found: paste its id and Dailies follows it; not there: "
            "not billed), or uses “Send again” to pay for a new one."
        ),
    )


class ClaimLost(Exception):
    """This worker's claim on a task was taken back before its request left."""


def mark_stale_submissions_uncertain() -> int:
    """Tasks whose worker died while sending: uncertain if the request had left, else back to the queue.

    A task never stamped as sent provably never reached the provider (the
    stamp is written before the request leaves, and a stalled worker that
    wakes finds its claim gone and sends nothing), so it is simply sent again.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.SUBMIT_READ_TIMEOUT_S + SUBMIT_GRACE_MARGIN_S)
    stale = Task.objects.filter(state=State.SUBMITTING, submit_started_at__lt=cutoff)
    stale.filter(request_sent_at__isnull=True).update(
        state=State.PENDING, submit_started_at=None, next_check_at=None, lease_until=None
    )
    sent = list(stale.filter(request_sent_at__isnull=False).values_list("pk", flat=True))
    for task_id in sent:
        _mark_uncertain(task_id, "The worker stopped after sending this task")
        samples_follow(task_id)
    return len(sent)


# No route documented in PROVIDERS.md can list its jobs or find one by a
# reference of ours, so an uncertain submission is settled either by a late
# receipt or callback (route 3 calls back to the task's own token) or by an
# owner who looked in the provider's dashboard.


class SettleRefused(ValueError):
    """Why an uncertain task could not be settled, in words for the user; nothing changed."""


PROVIDER_TASK_ID_MAX = 200


def settle_found(task_id: int, *, provider_task_id: str, by) -> None:
    """An owner found the job at the provider: follow it under that id, as if its receipt had come back."""
    provider_task_id = provider_task_id.strip()
    if (
        not 0 < len(provider_task_id) <= PROVIDER_TASK_ID_MAX
        or any(c.isspace() for c in provider_task_id)
        or unstorable(provider_task_id)
    ):
        raise SettleRefused(
            f"Paste the job's id from the provider's dashboard: 1 to {PROVIDER_TASK_ID_MAX} characters, no spaces."
        )
    now = timezone.now()
    settled = Task.objects.filter(pk=task_id, state=State.UNCERTAIN).update(
        state=State.QUEUED,
        provider_task_id=provider_task_id,
        submitted_at=F("submit_started_at"),
        next_check_at=now,
        settled_by=by,
        settled_at=now,
        error_code="",
        error_message="",
    )
    if not settled:
        raise SettleRefused("This task is no longer uncertain; nothing changed.")
    samples_follow(task_id)


def settle_not_billed(task_id: int, *, by) -> None:
    """An owner checked the provider and the job is not there: nothing was billed, the quote is released."""
    name = by.get_username() if by else "an owner"
    error = ProviderError(ErrorKind.UNREACHABLE, f"Settled by {name}: the provider has no such job")
    if not finish_task(task_id, from_states=[State.UNCERTAIN], state=State.FAILED, error=error, billed=False):
        raise SettleRefused("This task is no longer uncertain; nothing changed.")
    Task.objects.filter(pk=task_id).update(settled_by=by, settled_at=timezone.now())
    samples_follow(task_id)


# --- Following: polls at the route's cadence ---------------------------------


def claim_due_checks(*, limit: int = 32) -> list[Task]:
    """Claim up to `limit` tracked tasks whose poll is due, oldest first, in one statement.

    Claiming moves a task's check time a poll lease ahead, so any number of
    trackers can claim at once and none polls a task another holds. On
    PostgreSQL the batch is picked `FOR UPDATE SKIP LOCKED`: concurrent
    trackers take disjoint batches instead of queueing on each other's rows
    (and a row another committed meanwhile is checked again, so a task just
    claimed elsewhere is not due any more). SQLite has one writer at a time,
    so its plain conditional UPDATE is already exclusive.

    Each task comes back with `claimed_until`, the check time its claim wrote:
    its answer is recorded only while that claim still holds (`apply_reports`),
    so a loop that fell behind its lease never overwrites the loop that took
    the task over.
    """
    if limit <= 0:
        return []
    now = timezone.now()
    until = now + POLL_CLAIM
    vendor = connection.vendor  # PostgreSQL or SQLite: settings refuse any other database
    ops, table = connection.ops, connection.ops.quote_name(Task._meta.db_table)
    due = f"SELECT id FROM {table} WHERE state IN (%s, %s) AND next_check_at <= %s ORDER BY next_check_at LIMIT %s"
    # Only what a poll and its record need: the rest (the prompt, parameters, texts) is not read.
    columns = ", ".join(f"{table}.{ops.quote_name(name)}" for name in CLAIMED_COLUMNS)
    if vendor == "postgresql":
        # A CTE runs once: as an IN (…) subquery PostgreSQL may run it again and claim past the limit.
        sql = (
            f"WITH due AS ({due} FOR UPDATE SKIP LOCKED) "
            f"UPDATE {table} SET next_check_at = %s FROM due WHERE {table}.id = due.id RETURNING {columns}"
        )
    else:
        sql = f"UPDATE {table} SET next_check_at = %s WHERE id IN ({due}) RETURNING {columns}"
    at, held = ops.adapt_datetimefield_value(now), ops.adapt_datetimefield_value(until)
    tracked = [str(state) for state in Task.TRACKED_STATES]
    params = [*tracked, at, limit, held] if vendor == "postgresql" else [held, *tracked, at, limit]
    # Through raw() the database's own converters read each column (SQLite's datetimes too). Listed at
    # once: a RawQuerySet runs its SQL each time it is iterated, and this SQL claims.
    claimed = list(Task.objects.raw(sql, params))
    return _claimed(claimed, until) if claimed else []


# What a claim returns of each task: only what a poll and its record need (not the prompt,
# parameters or texts). `account_id` is the account's column; the accounts come in one query.
CLAIMED_COLUMNS = [
    field.attname
    for field in Task._meta.concrete_fields
    if field.attname in {"id", "state", "model", "provider_task_id", "submitted_at", "account_id", "sample_index"}
]


def _claimed(tasks: list[Task], until) -> list[Task]:
    """The claimed tasks with their accounts (one query for all), each knowing its claim's check time."""
    accounts = ProviderAccount.objects.in_bulk({task.account_id for task in tasks})
    for task in tasks:
        task.account = accounts[task.account_id]
        task.claimed_until = until
    return tasks


@sensitive_variables()
def fetch_report(task: Task, http: httpx.Client) -> Report | ProviderError:
    """One poll over HTTP, with no database access (it runs on a thread pool)."""
    try:
        return task.account.provider.poll(http, task.account, task.provider_task_id)
    except ProviderError as error:
        return error
    except httpx.HTTPError as exc:
        return ProviderError(ErrorKind.OUTAGE, f"No answer from the provider ({type(exc).__name__})")


# A route's poll asks for this many requests at most before it is given up on.
POLL_REQUESTS_MAX = 4


@sensitive_variables()
async def fetch_report_async(task: Task, http: httpx.AsyncClient) -> Report | ProviderError:
    """`fetch_report` on an asynchronous client, so hundreds of polls can wait on a slow provider at once.

    Routes are written against a synchronous client. Each poll is run against a
    stand-in that answers the requests already made and stops at the first new
    one; that request is made here, without blocking, and the poll is run again
    with its answer. Parsing is cheap and routes are deterministic, so this
    costs a re-parse, not a request. No database access (it runs on the
    tracker's event loop).
    """
    answers: list[httpx.Response] = []
    route, account = task.account.provider, task.account
    for _ in range(POLL_REQUESTS_MAX + 1):
        try:
            return route.poll(_Answered(answers), account, task.provider_task_id)  # type: ignore[arg-type]
        except ProviderError as error:
            return error
        except _Unanswered as ask:
            if len(answers) >= POLL_REQUESTS_MAX:
                break
            try:
                answers.append(await http.request(ask.method, ask.url, **ask.options))
            except httpx.HTTPError as exc:
                return ProviderError(ErrorKind.OUTAGE, f"No answer from the provider ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return ProviderError(ErrorKind.OUTAGE, f"No answer from the provider ({type(exc).__name__})")
    return ProviderError(ErrorKind.BAD_ANSWER, "The provider's status took too many requests to read")


class _Unanswered(Exception):
    def __init__(self, method: str, url, options: dict) -> None:
        super().__init__(method)
        self.method, self.url, self.options = method, url, options


class _Answered:
    """What a route's `poll` sees as its httpx.Client: the answers so far, in order, then `_Unanswered`."""

    def __init__(self, answers: list[httpx.Response]) -> None:
        self.answers, self.asked = answers, 0

    def request(self, method: str, url, **options) -> httpx.Response:
        if self.asked < len(self.answers):
            self.asked += 1
            return self.answers[self.asked - 1]
        raise _Unanswered(method, url, options)

    def get(self, url, **options) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url, **options) -> httpx.Response:
        return self.request("POST", url, **options)


def apply_reports(results: list[tuple[Task, Report | ProviderError]]) -> list[int]:
    """Record a batch of polls; returns the ids of tasks now to be archived.

    Most polls say "still rendering": those are written in one statement, each
    row with its own state, progress and next check, and only on rows still
    tracked and still under the claim that polled them (`Task.claimed_until`).
    A loop that fell behind its lease, whose task another loop has claimed
    meanwhile, leaves that loop's claim alone. The rest (done, failed, errors)
    are rare and go through `apply_report`.
    """
    now = timezone.now()
    running: list[tuple[Task, Report, float]] = []
    others = []
    for task, report in results:
        elapsed = (now - (task.submitted_at or now)).total_seconds()
        if (
            isinstance(report, Report)
            and report.status in (Status.QUEUED, Status.RUNNING)
            and elapsed <= task.account.provider.deadline_s
        ):
            running.append((task, report, elapsed))
        else:
            others.append((task, report))
    if running:
        rows = [
            (
                task.pk,
                str(State.QUEUED if report.status == Status.QUEUED else State.RUNNING),
                report.progress,
                report.provider_status,
                now + timedelta(seconds=_poll_delay(task, elapsed_s=elapsed)),
                task.claimed_until,
            )
            for task, report, elapsed in running
        ]
        written = _record_still_rendering(rows)
        if missed := [row[0] for row in rows if row[0] not in written]:
            # Ended meanwhile (a callback, a settle) or claimed by another loop: the request still counts.
            Task.objects.filter(pk__in=missed).update(provider_requests=F("provider_requests") + 1)
    return [task.pk for task, report in others if apply_report(task, report) == State.ARCHIVING]


def _record_still_rendering(rows: list[tuple]) -> set[int]:
    """One UPDATE … FROM (VALUES …) for (id, state, progress, provider status, next check, claimed until) rows.

    Returns the ids written. Django's `Case(When(…))` for the same costs a
    millisecond of expression building per row, which at a thousand polls
    every ten seconds is most of a tracker's CPU.
    """
    vendor, ops = connection.vendor, connection.ops
    table = ops.quote_name(Task._meta.db_table)
    if vendor == "postgresql":
        one = "(%s::bigint, %s::varchar, %s::integer, %s::varchar, %s::timestamptz, %s::timestamptz)"
    else:
        one = "(%s, %s, %s, %s, %s, %s)"
    sql = (
        "WITH answered(task_id, new_state, new_progress, said, next_at, claimed) "
        f"AS (VALUES {', '.join([one] * len(rows))}) "
        f"UPDATE {table} SET state = answered.new_state, "
        f"progress = COALESCE(answered.new_progress, {table}.progress), provider_status = answered.said, "
        f"next_check_at = answered.next_at, provider_requests = {table}.provider_requests + 1, "
        "error_code = '', error_message = '' "
        f"FROM answered WHERE {table}.id = answered.task_id AND {table}.state IN (%s, %s) "
        f"AND (answered.claimed IS NULL OR {table}.next_check_at = answered.claimed) RETURNING {table}.id"
    )
    params: list = []
    for task_id, state, progress, said, next_at, claimed in rows:
        at = ops.adapt_datetimefield_value(next_at)
        held = ops.adapt_datetimefield_value(claimed) if claimed is not None else None
        params += [task_id, state, progress, said, at, held]
    params += [str(state) for state in Task.TRACKED_STATES]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def release_claims(tasks: list[Task]) -> None:
    """Make tasks due again at once whose polls were never sent (their claim was about to lapse)."""
    now = timezone.now()
    for until in {task.claimed_until for task in tasks}:
        under_claim([task.pk for task in tasks if task.claimed_until == until], until).update(next_check_at=now)


def under_claim(task_ids: list[int], claimed_until: datetime | None) -> QuerySet[Task]:
    """The tasks still tracked and still under the claim that wrote `claimed_until` (None: under any).

    A loop that fell behind its lease writes only through this, so it never
    moves the next check of the loop that took its task over (the same rule,
    for a whole batch at once, is the last line of `_record_still_rendering`).
    """
    tracked = Task.objects.filter(pk__in=task_ids, state__in=Task.TRACKED_STATES)
    return tracked if claimed_until is None else tracked.filter(next_check_at=claimed_until)


def apply_report(task: Task, report: Report | ProviderError) -> str:
    """Record one poll's outcome. Returns the task's new state."""
    count_request(task.pk)
    now = timezone.now()
    # "Try again later" is written only under the claim that polled; an end (done, failed, gone)
    # is the provider's last word and is recorded whoever heard it.
    held = under_claim([task.pk], task.claimed_until)
    elapsed = (now - (task.submitted_at or now)).total_seconds()
    route = task.account.provider

    if isinstance(report, ProviderError):
        if report.kind in (ErrorKind.NOT_FOUND, ErrorKind.RETIRED_MODEL):
            finish_task(task.pk, from_states=Task.TRACKED_STATES, state=State.FAILED, error=report, billed=False)
            return State.FAILED
        # Polls are free and safe to repeat: back off and try again, until the deadline.
        if elapsed > route.deadline_s:
            return _time_out(task.pk, route.deadline_s)
        wait = max(report.retry_after or 0, _poll_delay(task, elapsed_s=elapsed) * 2)
        held.update(
            next_check_at=now + timedelta(seconds=wait),
            error_code=report.kind,
            error_message=f"Could not check on this task: {report.message}. Trying again in {wait:.0f} s.",
        )
        return task.state

    if report.status in (Status.QUEUED, Status.RUNNING):
        if elapsed > route.deadline_s:
            return _time_out(task.pk, route.deadline_s)
        state = State.QUEUED if report.status == Status.QUEUED else State.RUNNING
        held.update(
            state=state,
            progress=report.progress if report.progress is not None else F("progress"),
            provider_status=report.provider_status,
            next_check_at=now + timedelta(seconds=_poll_delay(task, elapsed_s=elapsed)),
            error_code="",
            error_message="",
        )
        return state

    if report.status == Status.SUCCEEDED:
        # Several clips from one request: each task takes its own video, in the provider's order.
        videos = report.videos
        if task.sample_index >= len(videos):
            if report.error is not None and report.error.kind == ErrorKind.SAFETY:
                # The provider's filter removed this clip's video (and says so): not billed.
                finish_task(
                    task.pk, from_states=Task.TRACKED_STATES, state=State.BLOCKED, error=report.error, billed=False
                )
                return State.BLOCKED
            error = ProviderError(ErrorKind.EMPTY_RESULT, "The provider reported success but returned no video")
            finish_task(task.pk, from_states=Task.TRACKED_STATES, state=State.FAILED, error=error, billed=None)
            return State.FAILED
        won = under_claim([task.pk], None).update(
            state=State.ARCHIVING,
            progress=100,
            provider_status=report.provider_status,
            video_url=videos[task.sample_index],
            audio_url=report.audio_url or "",
            video_url_expires_at=now + timedelta(seconds=route.result_ttl_s),
            # Only a charge the provider reports is recorded as charged; otherwise the card keeps the quote.
            cost_charged=report.charged if report.charged is not None else F("cost_charged"),
            # The archive job is queued now: a sweep queues it again only if it is still
            # waiting after this long (see `tracker.sweep`).
            next_check_at=now + lost_message_after(),
            lease_until=None,
            error_code="",
            error_message="",
        )
        return State.ARCHIVING if won else task.state

    state = State.BLOCKED if report.status == Status.BLOCKED else State.FAILED
    error = report.error or ProviderError(ErrorKind.FAILED, "The provider reported a failure without a reason")
    finish_task(task.pk, from_states=Task.TRACKED_STATES, state=state, error=error, billed=False)
    return state


def receive_callback(*, token: str, body: bytes) -> tuple[int, str]:
    """A provider's callback: (HTTP status to answer, the task's state or a reason).

    Deliveries repeat (route 3 retries up to 3 times), so a task that is no
    longer being tracked answers 200 and changes nothing. A delivery for a
    task whose submission was uncertain records the provider's task id.
    """
    task = Task.objects.select_related("account").filter(callback_token=token).first() if token else None
    if task is None:
        return 404, "unknown callback"
    try:
        provider_task_id, report = task.account.provider.parse_callback(body)
    except ProviderError as error:
        return 400, error.message
    if task.state in (State.PENDING, State.SUBMITTING):
        # The callback beat our own record of the receipt: ask the provider to retry.
        return 409, "not ready"
    if task.state == State.UNCERTAIN and not task.provider_task_id and provider_task_id:
        # The receipt was lost, but this delivery (to this task's own token)
        # proves the job exists: it settles the submission as a late receipt would.
        Task.objects.filter(pk=task.pk, state=State.UNCERTAIN, provider_task_id="").update(
            state=State.QUEUED,
            provider_task_id=provider_task_id,
            submitted_at=task.submit_started_at or timezone.now(),
            error_code="",
            error_message="",
        )
        task.refresh_from_db()
    if provider_task_id != task.provider_task_id:
        return 400, "task id does not match this callback"
    if task.state not in Task.TRACKED_STATES:
        # A repeated delivery: "already …" so the caller does not queue the archive again.
        return 200, f"already {task.state}"
    return 200, apply_report(task, report)


def _time_out(task_id: int, deadline_s: float) -> str:
    error = ProviderError(ErrorKind.TIMED_OUT, f"The provider did not finish within {deadline_s / 60:.0f} minutes")
    finish_task(task_id, from_states=Task.TRACKED_STATES, state=State.FAILED, error=error, billed=None)
    return State.FAILED


def _poll_delay(task: Task, *, elapsed_s: float) -> float:
    route = task.account.provider
    wanted = task.account.poll_interval_s or route.poll_delay(
        model=task.model, elapsed_s=elapsed_s, account=task.account
    )
    return max(route.min_poll_interval_s, wanted)


def finish_task(task_id: int, *, from_states, state: str, error: ProviderError, billed: bool | None) -> bool:
    """End a task with a plain-words error. billed=False records a zero charge."""
    fields = {
        "state": state,
        "finished_at": timezone.now(),
        "next_check_at": None,
        "error_code": error.kind,
        "error_message": error.for_user,
    }
    if billed is False:
        fields["cost_charged"] = Decimal("0")
    return bool(Task.objects.filter(pk=task_id, state__in=from_states).update(**fields))


def lost_message_after() -> timedelta:
    """How long a queued submit or archive message may wait before it is taken as lost."""
    return timedelta(seconds=settings.LOST_MESSAGE_AFTER_S)


def count_request(task_id: int) -> None:
    Task.objects.filter(pk=task_id).update(provider_requests=F("provider_requests") + 1)
