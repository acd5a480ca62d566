from django import forms
from django.contrib import admin
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from studio.forms import StorableText

from .models import ProviderAccount


class ProviderAccountForm(StorableText, forms.ModelForm):
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted.",
    )

    class Meta:
        model = ProviderAccount
        fields = ["project", "label", "route", "base_url", "poll_interval_s", "options"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only an account that exists has a current key to keep.
        if self.instance.pk:
            self.fields["api_key"].help_text += " Leave blank to keep the current key."

    @sensitive_variables()
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

    # A new key arrives in the POST: error reports never show it.
    @method_decorator(sensitive_post_parameters("api_key"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)
