from __future__ import annotations

from django import forms

from studio.forms import StorableText

from .models import TITLE_MAX_LENGTH


class PromptNameForm(StorableText, forms.Form):
    """A prompt's name, as the library's rename box takes it."""

    title = forms.CharField(
        max_length=TITLE_MAX_LENGTH,
        label="Name",
        error_messages={"required": "A prompt needs a name: write a few words."},
    )

    def clean_title(self) -> str:
        # Spaces and line breaks folded, so a name reads on one line wherever it is shown.
        return " ".join(self.cleaned_data["title"].split())
