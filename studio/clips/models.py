from __future__ import annotations

from django.conf import settings
from django.db import models, transaction

from studio.storage import delete_folders_on_commit, delete_on_commit


class Clip(models.Model):
    """A finished video, archived in our own storage (provider links expire)."""

    class Review(models.TextChoices):
        NEEDS_REVIEW = "needs_review", "Needs review"
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes", "Changes requested"

    task = models.OneToOneField("tasks.Task", on_delete=models.PROTECT, related_name="clip")
    file = models.FileField(upload_to="clips/%Y/%m/")
    poster = models.FileField(upload_to="posters/%Y/%m/", blank=True)
    # The separate audio track some routes deliver beside the video (route 2).
    audio_file = models.FileField(upload_to="audio/%Y/%m/", blank=True)
    duration_s = models.FloatField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # As the file declares it: the players step one frame at a time. Clips archived before it was
    # recorded are Veo's (and the simulator's) 24 fps.
    frame_rate = models.FloatField(default=24.0)
    has_audio = models.BooleanField()
    bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    # A team pick: starred for the whole project, by whom and when.
    starred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    starred_at = models.DateTimeField(null=True, blank=True)
    # Where the team stands on it, and who said so when.
    review_status = models.CharField(max_length=14, choices=Review.choices, default=Review.NEEDS_REVIEW)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # The gallery's date-range filter reads clips by when they were archived.
        indexes = [models.Index(fields=["created_at", "id"], name="clips_by_time")]

    def __str__(self) -> str:
        return f"Clip of task {self.task_id} ({self.width}×{self.height}, {self.duration_s:.1f}s)"

    @property
    def is_reviewed(self) -> bool:
        """Someone approved it or asked for changes (it is no longer waiting for review)."""
        return self.review_status != self.Review.NEEDS_REVIEW


def stills_folder(clip_id: int) -> str:
    """Where stills of a clip's frames are kept (made on demand for printed feedback)."""
    return f"frames/clip-{clip_id}"


def delete_clips(clips: models.QuerySet[Clip]) -> int:
    """Delete these clips and, once that commits, their video, poster, audio track and frame stills
    from storage."""
    with transaction.atomic():
        doomed = list(clips.select_for_update().only("file", "poster", "audio_file"))
        count, _ = Clip.objects.filter(pk__in=[clip.pk for clip in doomed]).delete()
        delete_on_commit(file for clip in doomed for file in (clip.file, clip.poster, clip.audio_file))
        delete_folders_on_commit([stills_folder(clip.pk) for clip in doomed])
    return count
