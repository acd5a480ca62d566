from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.utils import timezone

from studio.providers.base import Tier
from studio.providers.registry import get_route, route_name
from studio.simulator.engine import FAULTS, faults_in


class Batch(models.Model):
    """Tasks made by one action: variations of a version, or a grid over up to two axes."""

    class Kind(models.TextChoices):
        VARIATIONS = "variations", "Variations"
        GRID = "grid", "Grid"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="batches")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # [{"name": "seed", "label": "Seed", "values": [...], "labels": [...]}], at most two:
    # the first runs across the columns, the second down the rows.
    axes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    # One per rendered form: concurrent copies of one POST make one batch (the
    # constraint, not a read-then-insert, decides which).
    form_token = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "form_token"], condition=~models.Q(form_token=""), name="one_batch_per_form"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    @property
    def columns(self) -> dict:
        return self.axes[0] if self.axes else {"name": "", "label": "", "values": [None], "labels": [""]}

    @property
    def rows(self) -> dict:
        return self.axes[1] if len(self.axes) > 1 else {"name": "", "label": "", "values": [None], "labels": [""]}


class Task(models.Model):
    """One job at one provider: exactly one submit, then polls, then one archived clip."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to send"
        SUBMITTING = "submitting", "Sending"
        UNCERTAIN = "uncertain", "Submission uncertain"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Rendering"
        ARCHIVING = "archiving", "Saving the clip"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        BLOCKED = "blocked", "Blocked"

    LIVE_STATES = (State.PENDING, State.SUBMITTING, State.QUEUED, State.RUNNING, State.ARCHIVING)
    # Ended without a clip and followed no further: only the user may choose to pay again.
    SEND_AGAIN_STATES = (State.UNCERTAIN, State.FAILED, State.BLOCKED)
    # A final in one of these made nothing, so its draft may be promoted again.
    ENDED_WITHOUT_CLIP = (State.FAILED, State.BLOCKED)
    # States in which the provider holds a job of ours that we must follow.
    TRACKED_STATES = (State.QUEUED, State.RUNNING)
    # Not a column: the check time a tracker's claim wrote (`lifecycle.claim_due_checks`); its
    # answer is recorded only while the row still holds it.
    claimed_until: datetime | None = None

    class Kind(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINAL = "final", "Final"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="tasks")
    prompt_version = models.ForeignKey("prompts.PromptVersion", on_delete=models.PROTECT, related_name="tasks")
    account = models.ForeignKey("providers.ProviderAccount", on_delete=models.PROTECT, related_name="tasks")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    promoted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="promotions"
    )
    # The task whose clip this one continues (Extend): its clip is sent with a continuation prompt.
    extended_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="extensions"
    )
    # Several clips from one request (variations drawn together): the task that sends the request. Its
    # other clips never submit; they take its submission's outcome and each follows its own video
    # (`sample_index` in the order the provider lists them).
    sample_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="other_samples"
    )
    sample_index = models.PositiveSmallIntegerField(default=0)
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    # Where this task sits in its batch's grid (column, row).
    cell_column = models.PositiveSmallIntegerField(null=True, blank=True)
    cell_row = models.PositiveSmallIntegerField(null=True, blank=True)
    # What a promotion could not carry to the final's route, in plain words.
    carry_notes = models.TextField(blank=True)

    # What was asked, frozen at creation: route and model are copied so a
    # later change to the account cannot rewrite history.
    route = models.CharField(max_length=40)
    model = models.CharField(max_length=80)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DRAFT)
    tier = models.CharField(max_length=10, choices=[(t.value, t.value.title()) for t in Tier])
    parameters = models.JSONField(default=dict)
    seed = models.BigIntegerField(null=True, blank=True)
    # One per rendered form: a double click or a resent POST finds the task it
    # already made instead of paying for a second one.
    form_token = models.CharField(max_length=64, blank=True)

    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING, db_index=True)
    provider_task_id = models.CharField(max_length=200, blank=True)
    provider_status = models.CharField(max_length=40, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    provider_requests = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=30, blank=True)
    error_message = models.TextField(blank=True)
    video_url = models.TextField(blank=True)
    audio_url = models.TextField(blank=True)
    # Provider links expire (24 h to 15 days); recorded so a late archive is visible.
    video_url_expires_at = models.DateTimeField(null=True, blank=True)
    # The unguessable part of this task's callback URL, for routes that call back.
    callback_token = models.CharField(max_length=64, blank=True, db_index=True)

    cost_estimate = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    cost_charged = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    submit_started_at = models.DateTimeField(null=True, blank=True)
    # Stamped just before the submit request leaves. A worker that died with
    # this unset never sent anything, so its task can be sent safely; only a
    # stamped one may have reached (and been billed by) the provider.
    request_sent_at = models.DateTimeField(null=True, blank=True)
    # Who settled an uncertain submission by hand, and when.
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The worker's schedule: when this task next needs a look, and until when
    # a worker holds it. Both are only ever moved by conditional UPDATEs.
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_check_at"]),
            # The project page lists a project's newest tasks.
            models.Index(fields=["project", "-created_at", "-id"], name="tasks_newest_in_project"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "form_token"], condition=~models.Q(form_token=""), name="one_task_per_form"
            )
        ]

    def __str__(self) -> str:
        return f"Task {self.pk} · {self.model} · {self.state}"

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def final(self) -> Task | None:
        """The final promoted from this draft (newest), if any."""
        promotions = sorted(self.promotions.all(), key=lambda t: t.created_at, reverse=True)
        return promotions[0] if promotions else None

    @property
    def is_uncertain(self) -> bool:
        """Sent, but no answer came back: the provider may hold (and bill) this job already."""
        return self.state == self.State.UNCERTAIN

    @property
    def can_send_again(self) -> bool:
        return self.state in self.SEND_AGAIN_STATES

    @property
    def send_again_label(self) -> str:
        # "Try again" after a clear failure; "Send again" when the first may still be running.
        return "Send again" if self.is_uncertain else "Try again"

    @property
    def has_clip(self) -> bool:
        """Done with its clip archived: something to play and compare."""
        if self.state != self.State.DONE:
            return False
        try:
            return self.clip is not None
        except ObjectDoesNotExist:
            return False

    @property
    def can_be_promoted(self) -> bool:
        """A finished draft: the only task the user may promote to a final. An extension is not one: its
        clip continues another, which a final rendered from the prompt version alone could not."""
        return self.kind == self.Kind.DRAFT and self.state == self.State.DONE and not self.is_extension

    @property
    def can_promote_again(self) -> bool:
        """A finished draft with no final on its way or done: none yet, or it failed or was blocked."""
        final = self.final
        return self.can_be_promoted and (final is None or final.state in self.ENDED_WITHOUT_CLIP)

    @property
    def can_compare_with_draft(self) -> bool:
        """A final with its clip, promoted from a draft that has one too."""
        return (
            self.kind == self.Kind.FINAL
            and self.has_clip
            and self.promoted_from is not None
            and self.promoted_from.has_clip
        )

    @property
    def rides_along(self) -> bool:
        """One of several clips from a request another task sends (it is never sent itself)."""
        return self.sample_of_id is not None

    @property
    def is_extension(self) -> bool:
        """It continues another task's clip (Extend), rather than rendering its prompt version."""
        return "continuation" in self.parameters

    @property
    def words(self) -> str:
        """What the model was asked to render: the prompt version's words, or an extension's continuation."""
        return self.continuation if self.is_extension else self.prompt_version.text

    @property
    def continuation(self) -> str:
        """What an extension asked to happen next (its prompt); "" for any other task."""
        return str(self.parameters.get("continuation", ""))

    @property
    def can_compare_with_source(self) -> bool:
        """An extension with its clip, whose source clip is still there."""
        return self.has_clip and self.extended_from is not None and self.extended_from.has_clip

    @property
    def cost_label(self) -> str:
        """What this task costs as far as anyone knows; "charged" only if the provider said so."""
        if self.cost_charged is not None:
            return f"charged ${self.cost_charged}" if self.cost_charged else "not billed"
        if self.cost_estimate is None:
            return "no price card"
        if self.state in self.ENDED_WITHOUT_CLIP:
            # Ended with no word on billing (a clear refusal records a zero charge):
            # the quote is what it may have cost, not a running price.
            return f"quoted ${self.cost_estimate}"
        return f"≈ ${self.cost_estimate} list price"

    @property
    def needs_refresh(self) -> bool:
        """Whether its card should keep polling: it, or the final it was promoted to, is still in flight."""
        final = self.final if self.can_be_promoted else None
        return self.is_live or bool(final and final.is_live)

    @property
    def card_fingerprint(self) -> str:
        """A short digest of everything its card shows that the worker changes.

        The page sends it back with each refresh; only cards whose digest
        moved are sent again, so an unchanged refresh costs no card HTML.
        """
        final = self.final if self.kind == self.Kind.DRAFT else None
        seen = [
            self.state,
            self.progress,
            self.error_message,
            self.cost_charged,
            self.cost_estimate,
            self.carry_notes,
            self.has_clip,
            final and (final.pk, final.state, final.has_clip),
        ]
        return hashlib.blake2s(repr(seen).encode(), digest_size=6).hexdigest()

    @property
    def elapsed_s(self) -> float:
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.created_at).total_seconds())

    @property
    def duration_s(self) -> int:
        return int(self.parameters.get("duration_s", 0))

    @property
    def aspect_ratio(self) -> str:
        return self.parameters.get("aspect_ratio", "16:9")

    @property
    def resolution(self) -> str:
        return self.parameters.get("resolution", "720p")

    @property
    def seed_sent(self) -> bool:
        """Whether its route takes a seed for its model. A seed is drawn and kept either way (a promotion
        reuses it), but where the route takes none the pages must not suggest it shaped the clip."""
        try:
            capabilities = get_route(self.route).capabilities.get(self.model)
        except LookupError:
            return True
        return capabilities is None or capabilities.seed

    @property
    def route_name(self) -> str:
        """The route in plain words, as the accounts page names it."""
        return route_name(self.route)

    @property
    def input_images(self) -> list[tuple[str, int]]:
        """The images the model was given, as (what for, image id), for the card's thumbnails."""
        found = []
        for name, label in (("first_frame", "First frame"), ("last_frame", "Last frame")):
            if isinstance(self.parameters.get(name), int):
                found.append((label, self.parameters[name]))
        references = self.parameters.get("references") or []
        for number, image_id in enumerate(references if isinstance(references, list) else [], start=1):
            if isinstance(image_id, int):
                found.append((f"Reference {number}", image_id))
        return found

    @property
    def simulator_markers(self) -> list[str]:
        """Marker words in its prompt that steer the built-in simulator, with what each does ("#slow: the
        job takes twenty times as long"): a promotion keeps the words, so its final would carry them too,
        and the card says so before anyone promotes."""
        return [f"{marker}: {FAULTS[marker]}" for marker in sorted(faults_in(self.prompt_version.text))]

    @property
    def audio(self) -> bool:
        return bool(self.parameters.get("audio", False))


class WorkerLease(models.Model):
    """A named job that only one worker in the whole deployment should run at a time."""

    name = models.CharField(max_length=40, primary_key=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at:%H:%M:%S}"
