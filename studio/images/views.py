from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET

from studio.projects.access import get_project_for_user
from studio.streaming import ranged_storage_response
from studio.tasks.lifecycle import image_ids
from studio.tasks.models import Task

from .models import InputImage

# The only types a public link serves, each with the extension its download name gets.
SERVED_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
# An image no task has used yet (uploaded, its draft not yet sent) keeps its link this long.
UNUSED_WINDOW = timedelta(hours=24)
# A task that ended without a finished_at (an uncertain submission, which the provider may
# still be running) needs its images this long after it was created: far past any route's
# deadline (30 min at most) and the margin.
UNTIMED_END_BOUND = timedelta(hours=24)
# Clocks of two web machines may differ: a task is never taken to predate its image by more.
CLOCK_SLACK = timedelta(minutes=10)


def link_is_open(image: InputImage, *, now: datetime | None = None) -> bool:
    """Whether `/i/<token>` still serves this image to a provider.

    Open while a task that uses it has not ended, until IMAGE_LINK_MARGIN after the last
    such task ended (providers fetch at submit or shortly after), and, for an image no task
    has used yet, for UNUSED_WINDOW after upload.

    Asked of the tasks at the moment a provider fetches, rather than kept in a field on the
    image: the answer is then exact by construction, with nothing to keep in step on each
    of the paths where a task starts or ends (created, failed, archived, uncertain, settled,
    sent again) and no race between one task ending and another starting. It costs one
    indexed query on the project's tasks that are live or recently ended (a handful), and,
    only in an image's first day, one over the tasks made since its upload. Task.parameters
    is JSON, so which task uses the image is read from the few rows returned. This is the
    public view's access rule, so it lives here: views sit above the domain and may import
    studio.tasks (pyproject.toml's layers contract), which studio.images.models may not.
    """
    now = now or timezone.now()
    tasks = Task.objects.filter(project_id=image.project_id)

    def used_by_any(candidates) -> bool:
        return any(image.pk in image_ids(p) for p in candidates.values_list("parameters", flat=True))

    needing = tasks.filter(
        Q(state__in=Task.LIVE_STATES)
        | Q(finished_at__gte=now - settings.IMAGE_LINK_MARGIN)
        | Q(finished_at__isnull=True, created_at__gte=now - UNTIMED_END_BOUND)
    )
    if used_by_any(needing):
        return True
    if now - image.created_at >= UNUSED_WINDOW:
        return False
    # Young: open unless a task (necessarily made after the upload) used it and is done with it.
    return not used_by_any(tasks.filter(created_at__gte=image.created_at - CLOCK_SLACK))


def download_name(image: InputImage) -> str:
    """A safe ASCII file name for the header: the upload's name without accents or odd characters."""
    stem = unicodedata.normalize("NFKD", PurePath(image.original_name).stem).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_")[:80] or "image"
    return f"{stem}.{SERVED_TYPES[image.mime_type]}"


@require_GET
def public_image(request, token: str):
    """For providers that fetch inputs by URL: the unguessable token is the only credential.

    An unknown token, a link past its time and an unexpected stored type all answer the same
    404: no one learns that a link existed.
    """
    image = InputImage.objects.filter(public_token=token).first()
    if image is None or image.mime_type not in SERVED_TYPES or not link_is_open(image):
        raise Http404()
    response = ranged_storage_response(request, image.file, content_type=image.mime_type)
    response["Content-Disposition"] = f'inline; filename="{download_name(image)}"'
    response["X-Content-Type-Options"] = "nosniff"
    # Opened in a browser, the picture runs nothing and reaches nothing of ours. django-csp's
    # middleware sets its policy only on responses without one, so this header stands
    # (tests/test_image_links.py checks it through the whole middleware stack).
    response["Content-Security-Policy"] = "sandbox"
    # No shared cache may go on serving it after the link closes.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def thumbnail(request, image_id: int):
    image = get_object_or_404(InputImage, pk=image_id)
    get_project_for_user(request.user, image.project_id)
    # Streamed from storage through this check, like clips (studio/clips/views.py says why).
    response = ranged_storage_response(request, image.thumbnail, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=86400"
    return response
