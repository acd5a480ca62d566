from django.contrib import admin

from .models import SimulatedJob, SimulatorKey, SimulatorRequest, SimulatorServiceAccountKey


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


@admin.register(SimulatorServiceAccountKey)
class SimulatorServiceAccountKeyAdmin(admin.ModelAdmin):
    # Only the public half is kept; deleting a key revokes it (its token requests are refused).
    list_display = ["client_email", "key_id", "project_id", "created_at"]
    readonly_fields = ["key_id", "client_email", "project_id", "public_key", "created_at"]
