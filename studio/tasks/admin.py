from django.contrib import admin

from .models import Task, WorkerLease


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "project",
        "kind",
        "model",
        "state",
        "progress",
        "cost_estimate",
        "cost_charged",
        "created_at",
    ]
    list_filter = ["state", "kind", "route"]
    search_fields = ["provider_task_id"]
    # The worker owns a task's state; hand edits would race it.
    readonly_fields = [f.name for f in Task._meta.fields]


@admin.register(WorkerLease)
class WorkerLeaseAdmin(admin.ModelAdmin):
    list_display = ["name", "holder", "expires_at"]
