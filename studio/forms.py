"""How forms render, and what every form refuses.

Rendering: through the project's own templates, every field through templates/forms/field.html.

Refusing: every form of ours is a `StorableText`, so text no database here can store is named on its
field instead of failing as a server error when saved: NUL (PostgreSQL's text and jsonb cannot hold
it) and lone surrogates (half of a character; no UTF-8 encoder takes one). Form posts cannot carry a
lone surrogate (Django decodes them with replacement characters), but JSON can spell either one
("\\u0000", "\\ud800"), so decoded values are checked too, however deep.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.renderers import TemplatesSetting


class StudioFormRenderer(TemplatesSetting):
    # One source for a field's markup (label, input, errors, help) on every page.
    field_template_name = "forms/field.html"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(value: object) -> str:
    """Why `value` (text, or lists and dicts of it as JSON decodes them) cannot be stored, in plain words;
    "" when it can. Walks nested values with a list, not recursion, so no depth breaks it."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found is None:
                continue
            if found.group() == "\x00":
                return "Remove the NUL character (\\0) from this: it cannot be stored."
            return (
                f"Remove the broken character (a lone surrogate, U+{ord(found.group()):04X}) from this: "
                "it cannot be stored."
            )
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return ""


def storable_text(value: str) -> None:
    """A text field's validator (in place of Django's NUL check, so both kinds get one message)."""
    if problem := unstorable(value):
        raise ValidationError(problem, code="unstorable")


class StorableText(forms.BaseForm):
    """Every form's first base: refuses unstorable text with a message on its field.

    Text fields check what was typed, before any clean_<field> method sees it; `clean` then checks
    every cleaned value, which catches what a field decoded itself (the provider account's options JSON).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                kept = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]
                field.validators = [*kept, storable_text]

    def clean(self) -> dict[str, Any]:
        super().clean()
        for name, value in list(self.cleaned_data.items()):
            if problem := unstorable(value):
                self.add_error(name, problem)
        return self.cleaned_data
