from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm

from studio.forms import StorableText

from .models import Membership, Project


class ProjectForm(StorableText, forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"description": "Optional: what the project is for, for the people you invite."}
        error_messages = {"name": {"required": "Give the project a name."}}


class InviteForm(StorableText, forms.Form):
    who = forms.CharField(
        label="Username or e-mail address",
        max_length=254,
        help_text="Someone with an account joins at once; an address without one gets a link to sign up.",
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.EDITOR)


class RoleForm(StorableText, forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class DeleteProjectForm(StorableText, forms.Form):
    confirm = forms.CharField(label="Type the project's name to confirm")

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_confirm(self) -> str:
        typed = self.cleaned_data["confirm"].strip()
        if typed != self.project.name:
            raise forms.ValidationError(f"Type {self.project.name!r} exactly to delete it.")
        return typed


class SignUpForm(StorableText, UserCreationForm):
    """A new account made through an invitation: its e-mail is the address that was invited."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)
