from django.contrib import admin

from .models import SimulatedJob, SimulatorKey, SimulatorRequest


@admin.register(SimulatedJob)
class SimulatedJobAdmin(admin.ModelAdmin):
    list_display = ["id", "route", "model", "created_at", "render_seconds", "video", "fail_reason"]


@admin.register(SimulatorRequest)
class SimulatorRequestAdmin(admin.ModelAdmin):
    list_display = ["at", "route", "method", "path", "status", "job_id"]
    list_filter = ["route", "method"]


@admin.register(SimulatorKey)
class SimulatorKeyAdmin(admin.ModelAdmin):
    # Only digests are kept: a key is issued by `manage.py simulator_key`, never shown again.
    list_display = ["digest", "created_at"]
    readonly_fields = ["digest", "created_at"]
