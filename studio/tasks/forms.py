from __future__ import annotations

import secrets

from django import forms

from studio.providers.base import DRAFT_TIERS, Tier

from .lifecycle import SEED_MAX, problems_with


class DraftForm(forms.Form):
    """The prompt editor. Choices come from what the project's draft route can render."""

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
    aspect_ratio = forms.ChoiceField()
    duration_s = forms.IntegerField(label="Duration", widget=forms.Select)
    seed = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=SEED_MAX,
        help_text="Blank draws one; it is kept so the final can reuse it.",
        error_messages={
            "min_value": "A seed is a whole number from 0 to 4294967295.",
            "max_value": "A seed is a whole number from 0 to 4294967295.",
        },
    )
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        route = account.provider
        tiers = [t for t in DRAFT_TIERS if route.model_for(t)]
        self.fields["tier"].choices = [(t.value, f"{t.value.title()} · {route.model_for(t)}") for t in tiers]
        self.fields["tier"].initial = Tier.FAST.value if Tier.FAST in tiers else (tiers[0].value if tiers else "")
        # The form offers the cheapest tier's options; the server checks the chosen one.
        caps = route.capabilities[route.model_for(tiers[0])] if tiers else None
        if caps:
            self.fields["aspect_ratio"].choices = [(a, a) for a in caps.aspect_ratios]
            self.fields["duration_s"].widget.choices = [(d, f"{d} s") for d in caps.durations]
            self.fields["duration_s"].initial = min(caps.durations)
            self.resolution = caps.resolutions[0]
        self.fields["form_token"].initial = secrets.token_urlsafe(16)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        tier = Tier(data["tier"])
        found = problems_with(
            account=self.account,
            tier=tier,
            parameters=self.parameters(data),
            prompt=data["prompt"],
            negative_prompt=data.get("negative_prompt", ""),
        )
        for field, message in found.items():
            self.add_error(field if field in self.fields else None, message)
        return data

    def parameters(self, data: dict | None = None) -> dict:
        data = data or self.cleaned_data
        return {
            "duration_s": data["duration_s"],
            "aspect_ratio": data["aspect_ratio"],
            "resolution": self.resolution,
            "audio": False,
        }
