from django.contrib import admin

from .models import Prompt, PromptVersion


class PromptVersionInline(admin.TabularInline):
    # Versions are immutable: the admin shows them, never edits them.
    model = PromptVersion
    extra = 0
    can_delete = False
    readonly_fields = ["number", "text", "negative_prompt", "author", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "created_at"]
    inlines = [PromptVersionInline]


@admin.register(PromptVersion)
class PromptVersionAdmin(admin.ModelAdmin):
    list_display = ["prompt", "number", "author", "created_at"]
    readonly_fields = ["prompt", "number", "text", "negative_prompt", "author", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
