from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.forms import BoundField
from django.urls import reverse

from studio.forms import StorableText
from studio.images.checks import store_upload
from studio.images.models import InputImage
from studio.money.prices import price_of, total
from studio.projects.models import Project
from studio.prompts.models import TITLE_MAX_LENGTH, PromptVersion
from studio.providers.base import DRAFT_TIERS, PEOPLE, Capabilities, Tier
from studio.providers.models import ProviderAccount

from .batches import AXES, MAX_CELLS, Axis, Cell, plan
from .lifecycle import SEED_MAX, NoModelForTier, problems_with

MAX_VARIATIONS = 8
SEED_RANGE = "A seed is a whole number from 0 to 4294967295."
# Longer than any seed (10 digits) or version number: a longer run of digits names nothing here.
MAX_DIGITS = 12
# An axis's text, at most: far more than MAX_CELLS values of any axis take, so anything longer is refused
# unread, and a mistyped long value still gets its own "is not a value here".
MAX_AXIS_CHARS = 10_000


def whole_number(text: str) -> int | None:
    """`text` as a whole number when it is one of at most MAX_DIGITS plain digits, else None."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS else None


def seconds_words(durations) -> str:
    return ", ".join(str(d) for d in durations)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


FieldT = TypeVar("FieldT", bound=forms.Field)


def declared(form: forms.BaseForm, name: str, kind: type[FieldT]) -> FieldT:
    """The form's own copy of a declared field, as its class, to set its choices or queryset.

    `form.fields` is typed as plain Fields; checking the class narrows it and
    catches a field declared as something else.
    """
    field = form.fields[name]
    if not isinstance(field, kind):
        raise TypeError(f"{type(form).__name__}.{name} is a {type(field).__name__}, not a {kind.__name__}.")
    return field


# Each image input of the editor, and the hidden field with the ids of the images it already holds.
KEPT_IN = {"first_frame": "first_frame_id", "last_frame": "last_frame_id", "references": "reference_ids"}


def kept_image_values(parameters: dict) -> dict[str, str]:
    """A task's images as the editor's hidden fields hold them: one id each, references comma-separated."""
    values = {}
    for name, field in KEPT_IN.items():
        given = parameters.get(name)
        ids = given if isinstance(given, list) else [given] if given else []
        values[field] = ",".join(str(i) for i in ids)
    return values


class ImageSlot(BoundField):
    """An image input shown with thumbnails of the images it already holds."""

    template_name = "projects/_image_field.html"

    @property
    def kept_images(self) -> list[InputImage]:
        if not isinstance(self.form, DraftForm):
            raise TypeError(f"An image slot shows the images a DraftForm holds, not a {type(self.form).__name__}'s.")
        return self.form.kept_images()[self.name]

    @property
    def kept_in(self) -> str:
        return KEPT_IN[self.name]


class ImageUploadField(forms.FileField):
    """An image input of the editor, rendered as an ImageSlot.

    Django 5.2's `bound_field_class=` argument would say the same, but django-stubs
    does not list it for FileField; overriding `get_bound_field` is the documented
    alternative, and it is typed.
    """

    def get_bound_field(self, form: forms.BaseForm, field_name: str) -> BoundField:
        return ImageSlot(form, self, field_name)


class MultipleImageField(ImageUploadField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(f, initial) for f in files]


def aspect_value(aspect: str) -> float | None:
    """16:9 as 1.777…; None for anything that is not two whole numbers."""
    width, _, height = aspect.partition(":")
    if not (width.isdigit() and height.isdigit()) or int(height) == 0:
        return None
    return int(width) / int(height)


def shape_word(ratio: float) -> str:
    return "landscape" if ratio > 1.1 else "portrait" if ratio < 0.9 else "square"


def shapes_disagree(image: float, frame: float) -> bool:
    """A picture that would lose or gain over a fifth of itself to fit the frame."""
    return max(image, frame) / min(image, frame) > 1.25


@dataclass(frozen=True)
class EditorSection:
    """A folded part of the editor: its fields and, for the closed state, what it holds."""

    key: str
    title: str
    fields: list[BoundField]
    has_errors: bool
    summary: str


@dataclass(frozen=True)
class DraftQuote:
    """What the editor's draft (or variations) would cost, or in plain words why it cannot be priced."""

    each: Decimal | None = None
    count: int = 1
    problem: str = ""

    @property
    def total(self) -> Decimal | None:
        return None if self.problem else total([self.each] * self.count)


def _ticked(value) -> bool:
    """A checkbox's value as the browser sends it (or as a stored initial value is)."""
    return str(value).lower() in {"on", "true", "1"}


class DraftForm(StorableText, forms.Form):
    """The prompt editor. Its options are what the project's draft route can render on the chosen tier.

    Its `tier` field is added in `__init__`, in its place after the prompt: the
    name `tier` on the form is the chosen Tier (see the property).
    """

    prompt_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # "New prompt": the words start a prompt of their own instead of a version of the one open.
    new_prompt = forms.BooleanField(widget=forms.HiddenInput, required=False)
    # The version whose words the editor was filled with: unchanged words draft that very version.
    version_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # The task whose settings the editor started from, so its note survives a re-render.
    settings_from = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # "Revise": the clip whose notes this draft answers (its open comments sit beside the words).
    revise_clip = forms.IntegerField(widget=forms.HiddenInput, required=False)
    prompt_name = forms.CharField(
        required=False,
        max_length=TITLE_MAX_LENGTH,
        label="Name",
        widget=forms.TextInput(attrs={"placeholder": "Named after its first words if left blank"}),
    )
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A drone shot tracking along a river at dusk…"}),
        max_length=4000,
        error_messages={"required": "Write a prompt first: it is what the model renders."},
    )
    negative_prompt = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "What to avoid, e.g. text overlays, blur"}),
    )
    tier = forms.ChoiceField(label="Draft tier")
    resolution = forms.ChoiceField()
    aspect_ratio = forms.ChoiceField(label="Aspect ratio")
    duration_s = forms.IntegerField(label="Duration", widget=forms.Select)
    audio = forms.BooleanField(required=False, label="Generate audio")
    # Offered only where the chosen model lets the user choose (`Capabilities.people`, `.enhance_prompt`).
    people = forms.ChoiceField(required=False, label="People in the clip")
    # Three ways, not a checkbox: the providers' own defaults differ, and "not said" must stay possible.
    enhance_prompt = forms.TypedChoiceField(
        required=False,
        label="Prompt rewriting",
        choices=[("", "The provider's default"), ("on", "Let the model rewrite it"), ("off", "Keep my exact words")],
        coerce=lambda value: value == "on",
        empty_value=None,
        help_text="The provider's prompt enhancement: more detail, less control over the exact words.",
    )
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=SEED_MAX,
        help_text="Blank draws one; it is kept so the final can reuse it.",
        error_messages={"min_value": SEED_RANGE, "max_value": SEED_RANGE, "invalid": SEED_RANGE},
    )
    variations = forms.IntegerField(
        min_value=1,
        max_value=MAX_VARIATIONS,
        initial=1,
        label="Variations",
        help_text=f"1–{MAX_VARIATIONS} drafts of this version, each with its own seed.",
        error_messages={
            "min_value": f"Draft 1 to {MAX_VARIATIONS} variations.",
            "max_value": f"Draft 1 to {MAX_VARIATIONS} variations at a time.",
            "invalid": f"Variations: a whole number from 1 to {MAX_VARIATIONS}.",
        },
    )
    # Where the route renders several clips from one request (Google's sampleCount).
    one_request = forms.BooleanField(
        required=False,
        label="Draw them together",
        # Its help names the route's limit (set in __init__).
    )
    first_frame = ImageUploadField(
        required=False,
        label="First frame",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    last_frame = ImageUploadField(
        required=False,
        label="Last frame",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    references = MultipleImageField(
        required=False,
        label="Reference images",
        widget=MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )
    # Images already uploaded (kept across edits, or recalled from a clip).
    first_frame_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    last_frame_id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    reference_ids = forms.CharField(widget=forms.HiddenInput, required=False)
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(
        self,
        *args: Any,
        account: ProviderAccount,
        project: Project | None = None,
        user: AbstractBaseUser | AnonymousUser | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        tier_field = declared(self, "tier", forms.ChoiceField)
        self.account, self.project, self.user = account, project, user
        tiers = [t for t in DRAFT_TIERS if account.model_for(t)]
        self.tiers = tiers
        # A tier whose model the provider said is gone stays listed, saying so: its choice is refused
        # with what to do (`lifecycle.problems_with`), not silently missing.
        gone = account.gone_tiers()
        tier_field.choices = [
            (t.value, f"{t.value.title()} · {account.model_for(t)}" + (" (gone)" if t in gone else "")) for t in tiers
        ]
        default_tier = Tier.FAST if Tier.FAST in tiers else (tiers[0] if tiers else None)
        tier_field.initial = default_tier.value if default_tier else ""
        chosen = self.value("tier") or tier_field.initial
        self._tier = Tier(chosen) if chosen in {t.value for t in tiers} else default_tier
        self.model = account.model_for(self._tier) if self._tier else None
        self.caps: Capabilities | None = account.capabilities_for(self.model) if self.model else None
        warning = (account.model_gone(self.model) or account.retired_note(self.model)) if self.model else ""
        if warning:
            # Said before anyone drafts (the tier's help, beside the select), not only as a failed card.
            tier_field.help_text = f"{warning} A project owner can set another model on “{account.label}”."
        caps = self.caps
        if caps:
            declared(self, "aspect_ratio", forms.ChoiceField).choices = [(a, a) for a in caps.aspect_ratios]
            self.fields["aspect_ratio"].initial = caps.aspect_ratios[0]
            declared(self, "resolution", forms.ChoiceField).choices = [(r, r) for r in caps.resolutions]
            self.fields["resolution"].initial = caps.resolutions[0]
            self.fields["duration_s"].widget.choices = [(d, f"{d} s") for d in caps.durations]
            self.fields["duration_s"].initial = min(caps.durations)
            # Options a route lacks are not offered at all.
            for name, offered in (
                ("audio", caps.audio),
                ("negative_prompt", caps.negative_prompt),
                ("seed", caps.seed),
                ("first_frame", caps.first_frame),
                ("last_frame", caps.last_frame),
                ("references", caps.max_references > 0),
                ("people", bool(caps.people)),
                ("enhance_prompt", caps.enhance_prompt),
                ("one_request", caps.max_samples > 1),
            ):
                if not offered:
                    del self.fields[name]
            if caps.people:
                declared(self, "people", forms.ChoiceField).choices = [
                    ("", "The provider's default"),
                    *((value, PEOPLE[value]) for value in caps.people),
                ]
            if "one_request" in self.fields:
                self.fields["one_request"].help_text = (
                    f"Up to {caps.max_samples} variations from one request: one send, one seed; each clip is "
                    "still kept and billed on its own."
                )
            if "references" in self.fields:
                self.fields["references"].help_text = f"Up to {caps.max_references}; JPG, PNG or WebP, 10 MB each."
        if project is not None:
            # Changing tier re-renders the editor, so only that model's options are offered.
            self.fields["tier"].widget.attrs.update(
                {
                    "hx-get": reverse("draft-form", args=[project.pk]),
                    "hx-target": "#draft-panel",
                    "hx-swap": "outerHTML",
                    "hx-include": "closest form",
                    "hx-trigger": "change",
                }
            )
        if not self.starts_new_prompt:
            del self.fields["prompt_name"]
        self.fields["form_token"].initial = secrets.token_urlsafe(16)
        self._kept_images: dict[str, list[InputImage]] | None = None

    @property
    def starts_new_prompt(self) -> bool:
        """The editor is on "New prompt": its words will start a prompt of their own."""
        return str(self.value("new_prompt") or "").lower() in {"true", "on", "1"}

    # Always in view: the words and the framing. The rest fold into labelled sections that say
    # what they hold while closed, so nothing in them is ever sent unseen.
    MAIN_FIELDS = ("prompt_name", "prompt", "tier", "resolution", "aspect_ratio", "duration_s", "audio")
    SECTIONS = (
        ("negative", "Negative prompt", ("negative_prompt",)),
        ("seed", "Seed and variations", ("seed", "variations", "one_request")),
        ("images", "Images", ("first_frame", "last_frame", "references")),
        ("model", "People and prompt rewriting", ("people", "enhance_prompt")),
    )

    def main_fields(self) -> list[BoundField]:
        return [self[name] for name in self.MAIN_FIELDS if name in self.fields]

    def sections(self) -> list[EditorSection]:
        """The folded sections this route offers, each with a one-line summary of what it holds."""
        found = []
        for key, title, names in self.SECTIONS:
            fields = [self[name] for name in names if name in self.fields]
            if fields:
                found.append(
                    EditorSection(
                        key=key,
                        title=title,
                        fields=fields,
                        has_errors=any(field.errors for field in fields),
                        summary=self._summary(key),
                    )
                )
        return found

    def _summary(self, key: str) -> str:
        if key == "negative":
            words = str(self.value("negative_prompt") or "").strip()
            return f"“{words[:40]}{'…' if len(words) > 40 else ''}”" if words else "none"
        if key == "seed":
            seed = str(self.value("seed") or "").strip()
            count = whole_number(str(self.value("variations") or "1")) or 1
            parts = [f"seed {seed}" if seed else "seed drawn"]
            if count > 1:
                parts.append(f"{count} variations")
                if "one_request" in self.fields and _ticked(self.value("one_request")):
                    parts.append("drawn together")
            return " · ".join(parts)
        if key == "model":
            people = PEOPLE.get(str(self.value("people") or ""), "")
            rewrite = {"on": "prompt rewritten", "off": "exact words"}.get(str(self.value("enhance_prompt") or ""), "")
            return " · ".join(part for part in (people.lower(), rewrite) if part) or "provider's defaults"
        kept = self.kept_images()
        parts = []
        if kept["first_frame"]:
            parts.append("first frame")
        if kept["last_frame"]:
            parts.append("last frame")
        if kept["references"]:
            count = len(kept["references"])
            parts.append(f"{count} reference{'s' if count > 1 else ''}")
        return ", ".join(parts) + " kept" if parts else "none"

    def image_warnings(self) -> list[str]:
        """Kept images whose shape disagrees with the chosen aspect ratio, in plain words.

        Veo fits a first or last frame to the draft's frame by cropping or padding,
        so a landscape photo on a 9:16 draft loses most of itself: said before the quote.
        """
        aspect = str(self.value("aspect_ratio") or self.fields["aspect_ratio"].initial or "")
        frame = aspect_value(aspect)
        if frame is None:
            return []
        warnings = []
        labels = {"first_frame": "The first frame", "last_frame": "The last frame", "references": "A reference image"}
        for name, images in self.kept_images().items():
            if name == "references" or name not in self.fields:
                continue  # references guide the look, they are not the frame itself
            for image in images:
                if image.width and image.height and shapes_disagree(image.width / image.height, frame):
                    warnings.append(
                        f"{labels[name]} is {image.width}×{image.height} ({shape_word(image.width / image.height)}) "
                        f"but this draft is {aspect} ({shape_word(frame)}): the model will crop or pad it. "
                        f"Choose an aspect ratio that matches, or another image."
                    )
        return warnings

    @property
    def chosen_tier(self) -> Tier:
        """The chosen draft tier. Only an account with no draft model has none, and `clean` refuses that form."""
        if self._tier is None:
            raise NoModelForTier(f"{self.account.provider.name} has no draft model.")
        return self._tier

    def value(self, name: str):
        """What the editor holds for `name`: the bound data, else the initial value."""
        if self.is_bound:
            return self.data.get(name)
        return self.initial.get(name)

    def kept_images(self) -> dict[str, list[InputImage]]:
        """Images already attached (by id), for thumbnails in the editor."""
        if self._kept_images is not None:
            return self._kept_images
        found = {}
        for name, field in KEPT_IN.items():
            wanted = [n for v in str(self.value(field) or "").split(",") if (n := whole_number(v)) is not None]
            images = InputImage.objects.filter(pk__in=wanted, project=self.project) if self.project else []
            found[name] = sorted(images, key=lambda i: wanted.index(i.pk))
        # Asked once per image input when the editor renders; the ids cannot change after binding.
        self._kept_images = found
        return found

    def clean(self):
        data = super().clean()
        if self.errors or not self.caps:
            if not self.caps:
                raise ValidationError("This provider account has no draft model.")
            return data
        self._attach_images(data)
        if self.errors:
            return data
        found = problems_with(
            account=self.account,
            tier=self.chosen_tier,
            parameters=self.parameters(data),
            prompt=data["prompt"],
            negative_prompt=data.get("negative_prompt", ""),
        )
        for field, message in found.items():
            self.add_error(field if field in self.fields else None, message)
        return data

    def _attach_images(self, data: dict) -> None:
        """Store new uploads (checked with Pillow) and resolve ids, keeping the user's choice of slot."""
        kept = self.kept_images()
        for name in ("first_frame", "last_frame"):
            data[f"{name}_image"] = kept[name][0] if kept[name] else None
            if name in self.fields and data.get(name):
                try:
                    data[f"{name}_image"] = store_upload(data[name], project=self.project, user=self.user)
                except ValidationError as error:
                    self.add_error(name, error)
        references = list(kept["references"])
        for upload in data.get("references") or []:
            try:
                references.append(store_upload(upload, project=self.project, user=self.user))
            except ValidationError as error:
                self.add_error("references", error)
        data["reference_images"] = references

    def parameters(self, data: dict | None = None) -> dict:
        data = data if data is not None else self.cleaned_data
        parameters = {
            "duration_s": data["duration_s"],
            "aspect_ratio": data["aspect_ratio"],
            "resolution": data["resolution"],
            "audio": bool(data.get("audio")),
        }
        if data.get("first_frame_image"):
            parameters["first_frame"] = data["first_frame_image"].pk
        if data.get("last_frame_image"):
            parameters["last_frame"] = data["last_frame_image"].pk
        if data.get("reference_images"):
            parameters["references"] = [image.pk for image in data["reference_images"]]
        if data.get("people"):
            parameters["people"] = data["people"]
        if data.get("enhance_prompt") is not None:
            parameters["enhance_prompt"] = data["enhance_prompt"]
        return parameters

    def quote(self) -> DraftQuote:
        """What the editor's values would cost, or why they cannot be priced.

        Only values this form would accept are priced: a duration of -99999999999999 s,
        a million variations or an unknown tier is named instead of quoted. A value
        not sent at all is the editor's default.
        """
        caps, model = self.caps, self.model
        if not caps or not model:
            return DraftQuote(problem="This provider account has no draft model.")
        tier = self.value("tier")
        if tier and tier not in {t.value for t in self.tiers}:
            return DraftQuote(problem=f"Tier must be one of {', '.join(t.value for t in self.tiers)}.")
        resolution = self.value("resolution") or self.fields["resolution"].initial
        if resolution not in caps.resolutions:
            return DraftQuote(problem=f"Resolution must be one of {', '.join(caps.resolutions)}.")
        try:
            seconds = self.fields["duration_s"].clean(self.value("duration_s") or self.fields["duration_s"].initial)
        except ValidationError:
            seconds = None
        if seconds not in caps.durations:
            return DraftQuote(problem=f"Duration must be one of {seconds_words(caps.durations)} s.")
        for rule_resolution, allowed, reason in caps.rules:
            if resolution == rule_resolution and seconds not in allowed:
                return DraftQuote(problem=reason)
        try:
            count = self.fields["variations"].clean(self.value("variations") or 1)
        except ValidationError as refused:
            return DraftQuote(problem=" ".join(refused.messages))
        parameters = {
            "resolution": resolution,
            "audio": "audio" in self.fields and _ticked(self.value("audio")),
            "duration_s": seconds,
        }
        return DraftQuote(each=price_of(account=self.account, model=model, parameters=parameters), count=count)


class VersionChoiceField(forms.ModelChoiceField):
    """A prompt version, labelled with its prompt's title and number."""

    def label_from_instance(self, obj: PromptVersion) -> str:
        return f"{obj.prompt.title} · v{obj.number}"


class GridForm(StorableText, forms.Form):
    """A grid: base settings plus up to two axes; every cell is planned and quoted before anything is sent."""

    # The project's versions are set per form in __init__.
    version = VersionChoiceField(queryset=None, label="Prompt version", empty_label=None)
    tier = forms.ChoiceField()
    resolution = forms.ChoiceField()
    aspect_ratio = forms.ChoiceField(label="Aspect ratio")
    duration_s = forms.IntegerField(label="Duration", widget=forms.Select)
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=SEED_MAX,
        help_text="Blank draws one per cell.",
        error_messages={"min_value": SEED_RANGE, "max_value": SEED_RANGE},
    )
    columns = forms.ChoiceField(label="Across (columns)")
    column_values = forms.CharField(
        required=False, label="Values", widget=forms.TextInput(attrs={"placeholder": "e.g. 11, 22, 33"})
    )
    rows = forms.ChoiceField(label="Down (rows)", required=False)
    row_values = forms.CharField(
        required=False, label="Values", widget=forms.TextInput(attrs={"placeholder": "e.g. 16:9, 9:16"})
    )
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, account: ProviderAccount, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account, self.project = account, project
        models = {t: model for t in Tier if (model := account.model_for(t))}
        self.tiers = list(models)
        declared(self, "version", VersionChoiceField).queryset = (
            PromptVersion.objects.filter(prompt__project=project).select_related("prompt").order_by("-created_at")
        )
        declared(self, "tier", forms.ChoiceField).choices = [
            (t.value, f"{t.value.title()} · {model}") for t, model in models.items()
        ]
        caps = [c for model in models.values() if (c := account.capabilities_for(model))]
        self.aspects = sorted({a for c in caps for a in c.aspect_ratios}, key=lambda a: (a != "16:9", a))
        self.durations = sorted({d for c in caps for d in c.durations})
        self.resolutions = [r for r in ("720p", "1080p", "4k") if any(r in c.resolutions for c in caps)]
        declared(self, "aspect_ratio", forms.ChoiceField).choices = [(a, a) for a in self.aspects]
        declared(self, "resolution", forms.ChoiceField).choices = [(r, r) for r in self.resolutions]
        self.fields["duration_s"].widget.choices = [(d, f"{d} s") for d in self.durations]
        # A seed the route takes for none of its models would shape nothing: no seed field, no seed axis.
        self.takes_seed = any(c.seed for c in caps)
        if not self.takes_seed:
            del self.fields["seed"]
            if self.initial.get("columns") == "seed":
                self.initial["columns"] = "aspect_ratio"
        axis_choices = [(name, label) for name, label in AXES.items() if name != "seed" or self.takes_seed]
        declared(self, "columns", forms.ChoiceField).choices = axis_choices
        declared(self, "rows", forms.ChoiceField).choices = [("", "— none —"), *axis_choices]
        self.fields["form_token"].initial = secrets.token_urlsafe(16)
        self.axes: list = []
        self.cells: list = []

    AXIS_FIELDS = ("columns", "column_values", "rows", "row_values")

    def clean_duration_s(self) -> int:
        seconds = self.cleaned_data["duration_s"]
        if seconds not in self.durations:
            raise ValidationError(f"Duration must be one of {seconds_words(self.durations)} s.")
        return seconds

    def cell_fields(self) -> list[BoundField]:
        """What every cell starts from: all but the axes."""
        return [field for field in self.visible_fields() if field.name not in self.AXIS_FIELDS]

    def axis_fields(self) -> list[BoundField]:
        """What varies across the columns and down the rows."""
        return [self[name] for name in self.AXIS_FIELDS]

    def hint(self, axis: str) -> str:
        return {
            "version": "version numbers of the chosen prompt, e.g. 1, 3",
            "seed": "whole numbers, e.g. 11, 22, 33",
            "tier": ", ".join(t.value for t in self.tiers),
            "aspect_ratio": ", ".join(self.aspects),
            "duration_s": ", ".join(str(d) for d in self.durations),
        }.get(axis, "")

    def _axis(self, name: str, raw: str, field: str):
        # Counted before any value is read (a version is a query each), and the text bounded before
        # it is even split: a 40,000-seed axis is refused at once.
        if len(raw) > MAX_AXIS_CHARS:
            self.add_error(field, f"That is far more than {MAX_CELLS} values; a grid has at most {MAX_CELLS} cells.")
            return None
        words = [w.strip() for w in raw.replace(";", ",").split(",") if w.strip()]
        if not words:
            self.add_error(field, f"List the values, e.g. {self.hint(name)}.")
            return None
        if len(words) > MAX_CELLS:
            self.add_error(field, f"That is {len(words)} values; a grid has at most {MAX_CELLS} cells.")
            return None
        values, labels, seen = [], [], set()
        for word in words:
            value = self._parse(name, word)
            if value is None:
                self.add_error(field, f"“{word}” is not a value here; use {self.hint(name)}.")
                return None
            if value in seen:
                self.add_error(field, f"“{word}” is listed twice.")
                return None
            seen.add(value)
            values.append(value)
            labels.append(self._label(name, value))
        return Axis(name, tuple(values), tuple(labels))

    def _parse(self, name: str, word: str):
        if name == "version":
            number = whole_number(word.lower().lstrip("v"))
            base = self.cleaned_data.get("version")
            if number is not None and base:
                return base.prompt.versions.filter(number=number).first()
            return None
        if name in ("seed", "duration_s"):
            number = whole_number(word)
            if number is None:
                return None
            if name == "seed":
                return number if number <= SEED_MAX else None
            return number if number in self.durations else None
        if name == "tier":
            return word.lower() if word.lower() in {t.value for t in self.tiers} else None
        if name == "aspect_ratio":
            return word if word in self.aspects else None
        return None

    @staticmethod
    def _label(name: str, value) -> str:
        labels: dict[str, Callable[[Any], str]] = {
            "version": lambda v: f"v{v.number}",
            "seed": lambda v: f"seed {v}",
            "tier": lambda v: str(v).title(),
            "aspect_ratio": str,
            "duration_s": lambda v: f"{v} s",
        }
        return labels[name](value)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        columns = self._axis(data["columns"], data.get("column_values", ""), "column_values")
        rows = None
        if data.get("rows"):
            if data["rows"] == data["columns"]:
                self.add_error("rows", "Pick a different setting for the rows.")
            else:
                rows = self._axis(data["rows"], data.get("row_values", ""), "row_values")
        if self.errors:
            return data
        self.axes = [a for a in (columns, rows) if a]
        count = len(columns.values) * (len(rows.values) if rows else 1)
        if count > MAX_CELLS:
            raise ValidationError(f"That is {count} cells; a grid has at most {MAX_CELLS}.")
        self.cells = plan(
            account=self.account,
            version=data["version"],
            tier=Tier(data["tier"]),
            parameters={
                "duration_s": data["duration_s"],
                "aspect_ratio": data["aspect_ratio"],
                "resolution": data["resolution"],
                "audio": False,
            },
            seed=data.get("seed"),
            axes=self.axes,
        )
        for cell in self.cells:
            if cell.problems:
                raise ValidationError(f"Cell {self.cell_label(cell)}: {' '.join(cell.problems.values())}")
        return data

    def cell_label(self, cell: Cell) -> str:
        """Where a cell sits, in the axes' words: "seed 11 · 9:16"."""
        labels = [axis.labels[index] for axis, index in zip(self.axes, (cell.column, cell.row), strict=False)]
        return " · ".join(filter(None, labels))

    def cell_quotes(self) -> list[tuple[str, Decimal | None]]:
        """Each planned cell's place and quote, for the preview before anything is sent."""
        return [(self.cell_label(cell), cell.quote) for cell in self.cells]


class ExtendForm(StorableText, forms.Form):
    """Extend: what happens next in a finished clip, sent with the clip to its route."""

    continuation = forms.CharField(
        label="What happens next",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "The camera keeps rising as the lights come on…"}),
        max_length=4000,
        help_text="The model continues the clip from its last frame; describe the next seconds.",
        error_messages={"required": "Say what happens next: the model continues the clip from its last frame."},
    )
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["form_token"].initial = secrets.token_urlsafe(16)
