from __future__ import annotations

import json

from django import forms

from .models import ProviderAccount
from .registry import route_choices


class ProviderAccountForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted, shown masked, never logged. Leave blank to keep the current key.",
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
            options = json.loads(raw)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(f"Not valid JSON ({error.msg}).") from None
        if not isinstance(options, dict):
            raise forms.ValidationError('Options are a JSON object, e.g. {"provider": "auto"}.')
        return options

    def clean_poll_interval_s(self):
        value = self.cleaned_data["poll_interval_s"]
        if value is not None and value <= 0:
            raise forms.ValidationError("Poll interval is a number of seconds above zero.")
        return value

    def save(self, commit=True):
        account = super().save(commit=False)
        account.options = self.cleaned_data["options_text"]
        if self.cleaned_data.get("api_key"):
            account.set_api_key(self.cleaned_data["api_key"].strip())
        if commit:
            account.save()
        return account


class RoutingForm(forms.Form):
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
