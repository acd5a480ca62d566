from django import forms
from django.contrib import admin

from .models import ProviderAccount


class ProviderAccountForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave blank to keep the current key.",
    )

    class Meta:
        model = ProviderAccount
        fields = ["project", "label", "route", "base_url", "poll_interval_s", "options"]

    def save(self, commit=True):
        account = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            account.set_api_key(self.cleaned_data["api_key"])
        if commit:
            account.save()
        return account


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["label", "project", "route", "base_url", "masked_key"]
    list_filter = ["route"]
