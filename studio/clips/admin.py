from django.contrib import admin

from .models import Clip


@admin.register(Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = ["pk", "task", "width", "height", "duration_s", "has_audio", "bytes", "created_at"]
    readonly_fields = ["task", "file", "poster", "duration_s", "width", "height", "has_audio", "bytes", "sha256"]
