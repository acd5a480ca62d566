from __future__ import annotations

from django.db import models
from django.utils import timezone


class SimulatorKey(models.Model):
    """A key this simulator issued; no other key is accepted.

    Only the key's digest is kept here, as a provider keeps its keys: the
    account that holds the key stores it encrypted, as every account key.
    """

    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"key {self.digest[:8]}… ({self.created_at:%Y-%m-%d})"


class SimulatedJob(models.Model):
    """A job the simulator accepted. Its state is a function of time and of its render, done by a worker."""

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
    # What its video shows (engine.Picture), fixed when it was accepted; null: it never has a video.
    picture = models.JSONField(null=True, blank=True)
    # The rendered video (and route 2's separate sound track), in storage once a worker made them.
    video = models.FileField(upload_to="simulator/", blank=True)
    audio = models.FileField(upload_to="simulator/", blank=True)
    # When its render was last asked of the queue, and when a worker took it on.
    render_queued_at = models.DateTimeField(null=True, blank=True)
    render_started_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.id} ({self.model})"

    def has(self, fault: str) -> bool:
        return fault in self.faults.split()

    @property
    def awaits_video(self) -> bool:
        """It will have a video, and no worker has finished rendering it yet."""
        return self.picture is not None and not self.video and not self.fail_reason


class SimulatorRequest(models.Model):
    """The simulator's last `SIMULATOR_LOG_ROWS` requests, so tests can check bodies, headers and cadence."""

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


class SimulatorServiceAccountKey(models.Model):
    """A Google service-account key the simulator issued (route 6): its id, account and public half.

    The private half went into the key file handed out and is not kept; the public half checks the
    signed requests for access tokens, as Google keeps it. Deleting the row revokes the key.
    """

    key_id = models.CharField(max_length=64, unique=True)
    client_email = models.CharField(max_length=200)
    project_id = models.CharField(max_length=100)
    public_key = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.client_email} key {self.key_id[:8]}…"
