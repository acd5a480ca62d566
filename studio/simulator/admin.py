from django.contrib import admin

from .models import SimulatedJob, SimulatorRequest


@admin.register(SimulatedJob)
class SimulatedJobAdmin(admin.ModelAdmin):
    list_display = ["id", "route", "model", "created_at", "render_seconds", "fail_reason"]


@admin.register(SimulatorRequest)
class SimulatorRequestAdmin(admin.ModelAdmin):
    list_display = ["at", "route", "method", "path", "status", "job_id"]
    list_filter = ["route", "method"]
