"""Input images' public `/i/<token>` links: open while a task needs the image, closed a margin after,
and served so that a browser opening one runs nothing (inline, nosniff, CSP sandbox)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from studio.images.checks import store_upload
from studio.images.models import InputImage
from studio.tasks.models import Task

pytestmark = pytest.mark.django_db


def picture(name="frame.png", kind="PNG", color=(200, 80, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 180), color).save(buffer, kind)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{kind.lower()}")


@pytest.fixture
def upload(project, people):
    """`upload(name, kind, color)`: an image stored for the project, used by no task yet."""

    def store(name="frame.png", kind="PNG", color=(200, 80, 40)) -> InputImage:
        return store_upload(picture(name, kind, color), project=project, user=people["owner"])

    return store


@pytest.fixture
def drafted(owner_client, project, draft_form):
    """An image uploaded with a draft through the form, and that draft's task (pending: live)."""
    answer = owner_client.post(
        f"/projects/{project.pk}/draft", {**draft_form(), "first_frame": picture()}, HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == 200
    (task,) = Task.objects.all()
    image = InputImage.objects.get()
    assert task.parameters["first_frame"] == image.pk
    return image, task


def status(client, image) -> int:
    return client.get(f"/i/{image.public_token}").status_code


def ended(task, ago: timedelta, state=Task.State.DONE) -> None:
    Task.objects.filter(pk=task.pk).update(state=state, finished_at=timezone.now() - ago)


def uploaded_ago(image, ago: timedelta) -> None:
    InputImage.objects.filter(pk=image.pk).update(created_at=timezone.now() - ago)
    image.refresh_from_db()


# --- How long a link is open -----------------------------------------------------------------------


def test_a_link_is_open_while_a_task_using_it_is_live(client, drafted):
    image, task = drafted
    assert status(client, image) == 200
    # However old the image and the task: a task not yet ended may still be sent.
    uploaded_ago(image, timedelta(days=5))
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(days=5))
    for state in Task.LIVE_STATES:
        Task.objects.filter(pk=task.pk).update(state=state)
        assert status(client, image) == 200, state


def test_a_link_stays_open_within_the_margin_after_its_task_ended(client, drafted):
    image, task = drafted
    uploaded_ago(image, timedelta(days=3))
    ended(task, timedelta(minutes=55))
    assert status(client, image) == 200
    ended(task, timedelta(minutes=55), state=Task.State.FAILED)
    assert status(client, image) == 200


def test_a_link_answers_404_after_the_margin_exactly_like_an_unknown_one(client, drafted):
    image, task = drafted
    ended(task, timedelta(minutes=61))
    expired = client.get(f"/i/{image.public_token}")
    unknown = client.get("/i/no-such-token-at-all")
    assert expired.status_code == unknown.status_code == 404
    assert expired.content == unknown.content
    assert "Content-Disposition" not in expired


def test_the_margin_is_the_image_link_margin_setting(client, drafted, settings):
    image, task = drafted
    settings.IMAGE_LINK_MARGIN = timedelta(minutes=10)
    ended(task, timedelta(minutes=20))
    assert status(client, image) == 404
    settings.IMAGE_LINK_MARGIN = timedelta(minutes=30)
    assert status(client, image) == 200


def test_the_last_task_using_the_image_decides(client, drafted, project, people, pending_task):
    image, first = drafted
    uploaded_ago(image, timedelta(days=2))
    ended(first, timedelta(days=1))
    assert status(client, image) == 404
    # Reused later, here as a reference of a later draft: open again while that one is live ...
    later = pending_task(project, people["owner"], references=[image.pk])
    assert status(client, image) == 200
    ended(later, timedelta(minutes=30))
    assert status(client, image) == 200
    # ... and closed a margin after it ended.
    ended(later, timedelta(hours=2))
    assert status(client, image) == 404


def test_a_last_frame_counts_too(client, upload, project, people, pending_task):
    image = upload()
    uploaded_ago(image, timedelta(days=2))
    assert status(client, image) == 404
    pending_task(project, people["owner"], last_frame=image.pk)
    assert status(client, image) == 200


def test_a_task_using_other_images_keeps_no_link_open(client, upload, project, people, pending_task):
    image, other = upload(color=(1, 2, 3)), upload(color=(4, 5, 6))
    uploaded_ago(image, timedelta(days=2))
    pending_task(project, people["owner"], first_frame=other.pk)
    assert status(client, image) == 404 and status(client, other) == 200


def test_a_task_ended_without_a_finish_time_counts_from_its_creation(client, drafted):
    """An uncertain submission is not live, but the provider may still be rendering it."""
    image, task = drafted
    uploaded_ago(image, timedelta(days=3))
    Task.objects.filter(pk=task.pk).update(state=Task.State.UNCERTAIN, finished_at=None)
    assert status(client, image) == 200
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert status(client, image) == 404


def test_a_fresh_upload_is_open_until_its_unused_window_ends(client, upload):
    image = upload()
    assert status(client, image) == 200
    uploaded_ago(image, timedelta(hours=23))
    assert status(client, image) == 200
    uploaded_ago(image, timedelta(hours=24, minutes=1))
    assert status(client, image) == 404


def test_a_fresh_upload_used_by_a_task_that_ended_closes_with_that_task(client, drafted):
    # The unused window is for an image no task used yet: it does not keep a used one open.
    image, task = drafted
    uploaded_ago(image, timedelta(hours=3))
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(hours=3))
    ended(task, timedelta(hours=2))
    assert status(client, image) == 404


def test_another_projects_tasks_keep_no_link_open(client, upload, people, make_project, pending_task):
    image = upload()
    uploaded_ago(image, timedelta(days=2))
    elsewhere = make_project(people, name="Elsewhere")
    pending_task(elsewhere, people["owner"], first_frame=image.pk)
    assert status(client, image) == 404


# --- How it is served --------------------------------------------------------------------------------


def test_a_link_is_served_inline_sniff_free_and_sandboxed(client, upload):
    image = upload(name="Frâme à l'aube (1).png")
    with image.file.open("rb") as handle:
        original = handle.read()
    whole = client.get(f"/i/{image.public_token}")
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == original
    part = client.get(f"/i/{image.public_token}", HTTP_RANGE="bytes=0-9")
    assert part.status_code == 206 and b"".join(part.streaming_content) == original[:10]
    for response in (whole, part):
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"] == 'inline; filename="Frame-a-l-aube-1.png"'
        assert response["X-Content-Type-Options"] == "nosniff"
        # The app's own policy (django-csp's middleware) did not replace or extend it.
        assert response["Content-Security-Policy"] == "sandbox"
        assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("kind", "mime", "extension"), [("JPEG", "image/jpeg", "jpg"), ("WEBP", "image/webp", "webp")])
def test_the_content_type_is_the_stored_one(client, upload, kind, mime, extension):
    image = upload(name="still", kind=kind)
    response = client.get(f"/i/{image.public_token}")
    assert response["Content-Type"] == mime
    assert response["Content-Disposition"] == f'inline; filename="still.{extension}"'


def test_a_name_with_nothing_ascii_left_is_called_image(client, upload):
    image = upload(name="日本.png")
    assert client.get(f"/i/{image.public_token}")["Content-Disposition"] == 'inline; filename="image.png"'


def test_a_stored_type_outside_jpg_png_webp_is_never_served(client, upload):
    image = upload()
    InputImage.objects.filter(pk=image.pk).update(mime_type="image/svg+xml")
    assert status(client, image) == 404


def test_the_app_pages_keep_their_own_policy(owner_client, project):
    # The sandbox policy is the image links' own, not the site's.
    policy = owner_client.get(f"/projects/{project.pk}/")["Content-Security-Policy"]
    assert "default-src 'self'" in policy and policy != "sandbox"


# --- Thumbnails -----------------------------------------------------------------------------------------


def test_thumbnails_stay_for_members_only_whatever_the_link(client, clients, drafted):
    image, task = drafted
    ended(task, timedelta(days=1))
    assert status(client, image) == 404
    thumb = clients["viewer"].get(f"/images/{image.pk}/thumbnail")
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    with image.thumbnail.open("rb") as handle:
        assert b"".join(thumb.streaming_content) == handle.read()
    assert clients["outsider"].get(f"/images/{image.pk}/thumbnail").status_code == 404
    anonymous = client.get(f"/images/{image.pk}/thumbnail")
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
