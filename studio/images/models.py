from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse

from studio.storage import delete_on_commit


def new_public_token() -> str:
    return secrets.token_urlsafe(24)


class InputImage(models.Model):
    """A picture a user uploaded to steer a render: a first or last frame, or a reference."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="input_images")
    file = models.FileField(upload_to="inputs/%Y/%m/")
    thumbnail = models.FileField(upload_to="inputs/thumbs/%Y/%m/")
    original_name = models.CharField(max_length=200, blank=True)
    mime_type = models.CharField(max_length=20)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # Routes that fetch images by URL get a link with this unguessable token,
    # served without a login (the token is the credential).
    public_token = models.CharField(max_length=40, unique=True, default=new_public_token)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name or 'image'} ({self.width}×{self.height})"

    @property
    def public_path(self) -> str:
        return reverse("image-public", args=[self.public_token])


def delete_images(images: models.QuerySet[InputImage]) -> int:
    """Delete these input images and, once that commits, their files and thumbnails from storage."""
    with transaction.atomic():
        doomed = list(images.select_for_update().only("file", "thumbnail"))
        count, _ = InputImage.objects.filter(pk__in=[image.pk for image in doomed]).delete()
        delete_on_commit(file for image in doomed for file in (image.file, image.thumbnail))
    return count
