from __future__ import annotations

import json
import math
import re

from django import forms
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_variables

from studio.forms import StorableText

from .base import Tier
from .google_cloud.adapter import LOCATION, PROJECT_ID
from .google_cloud.auth import KeyFileProblem, read_key_file
from .models import ProviderAccount
from .registry import ROUTES, get_route, route_choices

MOST_SECONDS_BETWEEN_POLLS = 3600
MODEL_FIELDS = {Tier.LITE: "model_lite", Tier.FAST: "model_fast", Tier.QUALITY: "model_quality"}
# Gateways name models their own way ("google/veo-3.1", "veo3.1-fast"); no spaces, nothing that breaks a URL path.
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}")
# Route 6 keeps its project and location in the account's options, edited in fields of their own.
GOOGLE_CLOUD = "google-cloud"
GOOGLE_CLOUD_FIELDS = {"google_project_id": "project_id", "google_location": "location"}


# Python's json reads NaN, Infinity and 1e999 (as inf); PostgreSQL's jsonb takes none of them.
def _no_constant(word: str) -> float:
    raise ValueError(word)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


class SuggestingInput(forms.TextInput):
    """A text box suggesting the ids a route knows (a `<datalist>`, each with a word on it); any id may be typed."""

    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.suggestions: list[tuple[str, str]] = []

    def render(self, name, value, attrs=None, renderer=None):
        box = super().render(name, value, attrs, renderer)
        options = format_html_join("", '<option value="{}">{}</option>', self.suggestions)
        return format_html('{}<datalist id="{}-ids">{}</datalist>', box, name, options)


class SecretTextarea(forms.Textarea):
    """A textarea that never shows its value again, like a password field (a key file holds a private key)."""

    def format_value(self, value):
        return None


class ProviderAccountForm(StorableText, forms.ModelForm):
    # Required for every route but Google Cloud's, on a new account (see `clean`): not marked required, so
    # the browser lets a Google Cloud account through without one.
    api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted, shown masked, never logged.",
    )
    google_project_id = forms.CharField(
        required=False,
        max_length=30,
        label="Google Cloud project ID",
        help_text="Google Cloud route only: the project Veo runs and bills in, e.g. my-studio-123.",
    )
    google_location = forms.CharField(
        required=False,
        max_length=40,
        label="Google Cloud location",
        help_text="Google Cloud route only: where Veo runs, e.g. us-central1, europe-west4 or global.",
    )
    service_account_key = forms.CharField(
        required=False,
        label="Service-account key (JSON)",
        widget=SecretTextarea(
            attrs={
                "rows": 4,
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": '{"type": "service_account", …}',
            }
        ),
        help_text=(
            "Google Cloud route only: paste the key file (IAM → Service accounts → Keys → Add key → JSON). "
            "Blank: this machine's own Google Cloud credentials. Stored encrypted, shown masked, never logged."
        ),
    )
    use_default_credentials = forms.BooleanField(
        required=False,
        label="Use this machine's Google Cloud credentials instead of a key file",
        help_text="Google Cloud route only: forgets the key on file.",
    )
    # One per tier (`MODEL_FIELDS`): which model id the tier sends. Blank: the route's default.
    model_lite = forms.CharField(required=False, max_length=100, label="Lite model id", widget=SuggestingInput)
    model_fast = forms.CharField(required=False, max_length=100, label="Fast model id", widget=SuggestingInput)
    model_quality = forms.CharField(required=False, max_length=100, label="Quality model id", widget=SuggestingInput)
    options_text = forms.CharField(
        required=False,
        label="Route options (JSON)",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": '{"provider": "auto"}'}),
        help_text="Per-route settings, e.g. the aggregator's provider or request_type, person_generation.",
    )

    class Meta:
        model = ProviderAccount
        fields = ["label", "route", "base_url", "poll_interval_s"]
        labels = {"base_url": "Base URL", "poll_interval_s": "Poll every (s)"}
        help_texts = {
            "base_url": (
                "Blank for the route's public address; a self-hosted gateway's URL; "
                "/simulator/<route> for the simulator."
            ),
            "poll_interval_s": "Blank for the route's documented cadence; faster than its minimum is not allowed.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["route"].choices = route_choices()
        self._offer_models()
        if self.instance.pk:
            options = dict(self.instance.options)
            if self.instance.route == GOOGLE_CLOUD:
                for field, option in GOOGLE_CLOUD_FIELDS.items():
                    self.fields[field].initial = options.pop(option, "")
            self.fields["options_text"].initial = json.dumps(options) if options else ""
            # Only an account that has a key can keep it.
            self.fields["api_key"].help_text += " Leave blank to keep the current key."
            self.fields["service_account_key"].help_text = (
                "Google Cloud route only: paste a new key file to replace the one on file; blank keeps it. "
                "Stored encrypted, shown masked, never logged."
            )

    def _offer_models(self) -> None:
        """Each tier's model field: the route's default as its placeholder, and every id the route knows as a
        suggestion, retired ones saying so (a new account's route is not chosen yet: every route's)."""
        account = self.instance
        routes = [account.provider] if account.pk else [get_route(slug) for slug in ROUTES]
        for tier, name in MODEL_FIELDS.items():
            field = self.fields[name]
            defaults = sorted({model for route in routes if (model := route.model_for(tier))})
            known = {model: "" for route in routes for model in route.capabilities}
            known |= {model: f"retired: {note}" for route in routes for model, note in route.retired_models.items()}
            # A new account's route is not chosen yet: its placeholder names no one route's id.
            shown = (defaults[0] if defaults else "not offered") if account.pk else "the route's default"
            field.widget.attrs.update({"list": f"{name}-ids", "placeholder": shown, "spellcheck": "false"})
            assert isinstance(field.widget, SuggestingInput)
            field.widget.suggestions = sorted(known.items())
            field.help_text = "Blank: the route's default" + (f" ({defaults[0]})." if len(defaults) == 1 else ".")
            if account.pk:
                field.initial = account.model_ids.get(tier.value, "")
        if account.pk and account.gone_models:
            self.fields["model_quality"].help_text += (
                " Saving forgets the provider's word that a model is gone: do so once a tier names a live id "
                "(or the provider brought the old one back)."
            )

    def _clean_models(self, data: dict) -> dict[str, str]:
        """Tier → the owner's model id, for the tiers the chosen route offers; errors marked on their fields."""
        slug = data.get("route")
        if not slug:
            return {}
        route = get_route(slug)
        chosen = {}
        for tier, name in MODEL_FIELDS.items():
            model = data.get(name, "").strip()
            if not model:
                continue
            if route.model_for(tier) is None:
                self.add_error(name, f"{route.name} has no {tier.value} tier: leave this blank.")
            elif not MODEL_ID.fullmatch(model) or ".." in model:  # it goes into the provider's URL path
                self.add_error(name, "A model id is letters, digits and . - _ : / @, no spaces (veo-3.1-generate-001).")
            elif route.model_id_shape and not route.model_id_shape.fullmatch(model):
                self.add_error(name, f"{route.name} model ids look like {route.model_id_example} (lower case).")
            elif model != route.model_for(tier):
                chosen[tier.value] = model
        return chosen

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip().rstrip("/")
        if url and not url.startswith(("http://", "https://", "/simulator/")):
            raise forms.ValidationError("Use an http(s):// address, or /simulator/<route> for the built-in simulator.")
        return url

    def clean_options_text(self):
        raw = self.cleaned_data["options_text"].strip()
        if not raw:
            return {}
        try:
            options = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"Not valid JSON ({error.msg}).") from None
        except ValueError:  # NaN, Infinity, 1e999, or a number of more digits than Python reads
            raise forms.ValidationError("Not JSON we can store (NaN, Infinity or a number too large).") from None
        except RecursionError:
            raise forms.ValidationError("Not JSON we can store (nested too deeply).") from None
        if not isinstance(options, dict):
            raise forms.ValidationError('Options are a JSON object, e.g. {"provider": "auto"}.')
        return options

    @sensitive_variables()
    def clean(self):
        data = super().clean()
        data["model_ids"] = self._clean_models(data)
        if data.get("route") == GOOGLE_CLOUD:
            self._clean_google_cloud(data)
        elif not self.instance.pk and not data.get("api_key"):
            self.add_error("api_key", forms.ValidationError(self.fields["api_key"].error_messages["required"]))
        elif self.instance.route == GOOGLE_CLOUD and not data.get("api_key"):
            # The key on file is a service-account key file: never send it to another route as its key.
            self.add_error("api_key", "The key on file is a Google Cloud key file: give this route its own API key.")
        return data

    @sensitive_variables()
    def _clean_google_cloud(self, data: dict) -> None:
        project = data["google_project_id"] = data.get("google_project_id", "").strip()
        location = data["google_location"] = data.get("google_location", "").strip().lower()
        if not project:
            self.add_error("google_project_id", "Name the Google Cloud project id, e.g. my-studio-123.")
        elif not PROJECT_ID.fullmatch(project):
            self.add_error(
                "google_project_id",
                "A project id is 6–30 lower-case letters, digits or hyphens, starting with a letter: "
                "the project's id, not its name or number.",
            )
        if not location:
            self.add_error("google_location", "Name the location Veo runs in, e.g. us-central1 (or global).")
        elif not LOCATION.fullmatch(location):
            self.add_error("google_location", "A location looks like us-central1, europe-west4 or global.")
        if data.get("api_key"):
            self.add_error("api_key", "The Google Cloud route takes a key file: paste it in the key file box.")
        key = data["service_account_key"] = data.get("service_account_key", "").strip()
        default = data.get("use_default_credentials")
        if self.instance.pk and self.instance.route != GOOGLE_CLOUD and not key and not default:
            self.add_error(
                "service_account_key",
                "The key on file is another route's: paste a key file, or use this machine's credentials.",
            )
        if key and default:
            self.add_error("use_default_credentials", "Paste a key file or use this machine's credentials, not both.")
        elif key:
            try:
                read_key_file(key)
            except KeyFileProblem as problem:
                self.add_error("service_account_key", str(problem))
        options = data.get("options_text")
        if isinstance(options, dict) and (unusable := _google_cloud_options_problem(options)):
            self.add_error("options_text", unusable)

    def clean_poll_interval_s(self):
        value = self.cleaned_data["poll_interval_s"]
        # At most an hour: the tracker adds it to the time of day, and no provider wants longer.
        if value is not None and not 0 < value <= MOST_SECONDS_BETWEEN_POLLS:
            raise forms.ValidationError(
                f"Poll interval is a number of seconds above zero, at most {MOST_SECONDS_BETWEEN_POLLS}."
            )
        return value

    @sensitive_variables()
    def save(self, commit=True):
        account = super().save(commit=False)
        data = self.cleaned_data
        account.options = data["options_text"]
        account.model_ids = data["model_ids"]
        # The owner has seen what was gone (this page says so) and chosen again.
        account.gone_models = {}
        if account.route == GOOGLE_CLOUD:
            account.options = {
                **account.options,
                **{option: data[field] for field, option in GOOGLE_CLOUD_FIELDS.items()},
            }
            if data["service_account_key"]:
                account.set_api_key(data["service_account_key"])
            elif data["use_default_credentials"] or not account.api_key_encrypted:
                # No key: the machine's own credentials (`google.auth.default()`).
                account.set_api_key("")
        elif data.get("api_key"):
            account.set_api_key(data["api_key"].strip())
        if commit:
            account.save()
        return account


def _google_cloud_options_problem(options: dict) -> str:
    """What route 6 could not use in the account's options, in plain words; "" when all is well."""
    if options.get("person_generation", "allow_adult") not in ("allow_all", "allow_adult", "dont_allow", "disallow"):
        return 'Options "person_generation" is one of "allow_adult", "dont_allow" or "allow_all".'
    if not isinstance(options.get("enhance_prompt", True), bool):
        return 'Options "enhance_prompt" is true or false.'
    if not str(options.get("storage_base_url", "https://")).startswith(("http://", "https://")):
        return 'Options "storage_base_url" is an http(s):// address.'
    storage = options.get("storage_uri", "gs://")
    if not isinstance(storage, str) or not storage.startswith("gs://"):
        return 'Options "storage_uri" is a Cloud Storage address, gs://bucket/prefix/.'
    return ""


class RoutingForm(StorableText, forms.Form):
    """Which account drafts and which renders finals."""

    # Narrowed to the project's own accounts in __init__.
    draft_account = forms.ModelChoiceField(ProviderAccount.objects.none(), required=False, label="Drafts on")
    final_account = forms.ModelChoiceField(ProviderAccount.objects.none(), required=False, label="Finals on")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("draft_account", "final_account"):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = project.provider_accounts.all()
