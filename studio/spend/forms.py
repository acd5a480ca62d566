from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.core.validators import DecimalValidator, MaxValueValidator

from studio.forms import StorableText
from studio.money.models import Budget
from studio.providers.models import ProviderAccount

# Far above any real project, low enough that a slipped finger (an extra row of zeros) is caught.
MOST_A_BUDGET_MAY_BE = Decimal("10000000")
_AT_MOST = MaxValueValidator(MOST_A_BUDGET_MAY_BE, "At most $10000000: check for an extra zero.")


class BudgetForm(StorableText, forms.ModelForm):
    """The project's budget and cap, and which of its accounts may send tasks no price card covers."""

    allow_unpriced = forms.ModelMultipleChoiceField(
        queryset=ProviderAccount.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="No price card: allow",
        help_text="Under a budget, ticked accounts send tasks no price card covers (they count as $0 until charged).",
    )

    class Meta:
        model = Budget
        fields = ["limit", "period", "member_cap"]
        widgets = {"period": forms.RadioSelect}
        labels = {"period": "Counted"}

    def __init__(self, *args, project, **kwargs):
        budget = Budget.objects.filter(project=project).first() or Budget(project=project)
        accounts = project.provider_accounts.all()
        kwargs.setdefault("initial", {})["allow_unpriced"] = [a.pk for a in accounts if a.allow_unpriced]
        super().__init__(*args, instance=budget, **kwargs)
        self.fields["allow_unpriced"].queryset = accounts
        for name in ("limit", "member_cap"):
            # Our own ceiling instead of the column's digit count, so a huge amount gets one plain message.
            field = self.fields[name]
            field.validators = [
                DecimalValidator(None, 2) if isinstance(v, DecimalValidator) else v for v in field.validators
            ]
            field.validators.append(_AT_MOST)
            self.fields[name].widget.attrs.update(placeholder="no limit", inputmode="decimal")


class SpendFilterForm(StorableText, forms.Form):
    """Which tasks the spend page adds up, and how its chart groups them. Read from the URL."""

    PERIODS = [("month", "This month"), ("last-month", "Last month"), ("all", "All time"), ("dates", "Between dates")]

    period = forms.ChoiceField(choices=PERIODS, required=False)
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ChoiceField(choices=[("day", "By day"), ("week", "By week")], required=False, label="Chart")

    def clean(self):
        data = super().clean()
        if data.get("period") == "dates":
            start, end = data.get("start"), data.get("end")
            if start is None or end is None:
                raise forms.ValidationError("Pick both dates, or another period.")
            if start > end:
                raise forms.ValidationError("The first date comes after the second.")
        return data

    def asked(self) -> tuple[str, date | None, date | None, str]:
        """(period, start, end, group): what was asked for, or this month by day when the URL made no sense."""
        data = self.cleaned_data if self.is_valid() else {}
        period = data.get("period") or "month"
        group = data.get("group") or "day"
        if period != "dates":
            return period, None, None, group
        return period, data["start"], data["end"], group
