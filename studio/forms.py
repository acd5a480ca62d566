"""How forms render: through the project's own templates, every field through templates/forms/field.html."""

from __future__ import annotations

from django.forms.renderers import TemplatesSetting


class StudioFormRenderer(TemplatesSetting):
    # One source for a field's markup (label, input, errors, help) on every page.
    field_template_name = "forms/field.html"
