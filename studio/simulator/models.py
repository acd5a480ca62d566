from __future__ import annotations

from django.db import models
from django.utils import timezone


class SimulatedJob(models.Model):
    """A job the simulator accepted. Its state is a function of time, so no worker drives it."""

    id = models.CharField(max_length=60, primary_key=True)
    route = models.CharField(max_length=40)
    model = models.CharField(max_length=80)
    request = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    render_seconds = models.FloatField()
    # "" for success, else why it ends in failure (a safety block, say).
    fail_reason = models.CharField(max_length=300, blank=True)
    # Fault markers found in the prompt (see engine.FAULTS), space-separated.
    faults = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.id} ({self.model})"

    def has(self, fault: str) -> bool:
        return fault in self.faults.split()


class SimulatorRequest(models.Model):
    """Every request the simulator received, so tests can check bodies, headers and cadence."""

    route = models.CharField(max_length=40)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    headers = models.JSONField()
    body = models.TextField(blank=True)
    status = models.PositiveSmallIntegerField(default=0)
    job_id = models.CharField(max_length=60, blank=True, db_index=True)
    # A file download rather than a status poll: the faults count each apart.
    download = models.BooleanField(default=False)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"
