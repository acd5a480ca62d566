from django.contrib import admin

from .models import InputImage


@admin.register(InputImage)
class InputImageAdmin(admin.ModelAdmin):
    list_display = ["pk", "project", "original_name", "width", "height", "mime_type", "created_at"]
    readonly_fields = ["public_token", "sha256", "bytes", "width", "height", "mime_type"]
