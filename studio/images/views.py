from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from studio.projects.access import get_project_for_user
from studio.streaming import ranged_file_response

from .models import InputImage


@require_GET
def public_image(request, token: str):
    """For providers that fetch inputs by URL: the unguessable token is the only credential."""
    image = get_object_or_404(InputImage, public_token=token)
    return ranged_file_response(request, Path(image.file.path), content_type=image.mime_type)


@login_required
@require_GET
def thumbnail(request, image_id: int):
    image = get_object_or_404(InputImage, pk=image_id)
    get_project_for_user(request.user, image.project_id)
    response = ranged_file_response(request, Path(image.thumbnail.path), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response
