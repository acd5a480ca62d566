from __future__ import annotations

import json
import math

from django import forms
from django.views.decorators.debug import sensitive_variables

from studio.forms import StorableText

from .models import ProviderAccount
from .registry import route_choices

MOST_SECONDS_BETWEEN_POLLS = 3600


# Python's json reads NaN, Infinity and 1e999 (as inf); PostgreSQL's jsonb takes none of them.
def _no_constant(word: str) -> float:
    raise ValueError(word)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


class ProviderAccountForm(StorableText, forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted, shown masked, never logged.",
    )
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
        if self.instance.pk:
            self.fields["options_text"].initial = json.dumps(self.instance.options) if self.instance.options else ""
            # Only an account that has a key can keep it.
            self.fields["api_key"].help_text += " Leave blank to keep the current key."
        else:
            self.fields["api_key"].required = True

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
        account.options = self.cleaned_data["options_text"]
        if self.cleaned_data.get("api_key"):
            account.set_api_key(self.cleaned_data["api_key"].strip())
        if commit:
            account.save()
        return account


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
