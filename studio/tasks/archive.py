"""Bringing a finished video home: streamed download, checks, poster, Clip.

Provider links expire (24 h to 15 days), and the clip was paid for, so a task
stays "saving the clip" and is retried until the file is ours; it is never
marked done on a partial or unplayable file.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from datetime import timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from studio.clips.media import NotAVideo, has_audio_stream, make_poster, probe, sha256_of
from studio.clips.models import Clip
from studio.providers.base import ErrorKind, ProviderError, error_for_status, http_client
from studio.storage import save_local_file, storage_errors

from .lifecycle import count_request, finish_task
from .models import Task
from .signals import announce_final_archived

log = logging.getLogger(__name__)
State = Task.State

# One worker holds a download this long, renewed while bytes keep coming; a
# worker killed mid-download delays the clip by at most this much.
ARCHIVE_LEASE = timedelta(minutes=2)
RENEW_EVERY_S = 30.0
RETRY_AFTER = timedelta(seconds=20)


class DownloadIncomplete(Exception):
    pass


@sensitive_variables()  # the download's headers (or URL) carry the account's key
def archive(task_id: int) -> bool:
    """Download, check and store the clip of a task the provider finished. Returns whether it is done."""
    now = timezone.now()
    claimed = (
        Task.objects.filter(pk=task_id, state=State.ARCHIVING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        # Taken up: from now on only a lapsed lease (this worker died) makes the sweep queue it again.
        .update(lease_until=now + ARCHIVE_LEASE, next_check_at=now + ARCHIVE_LEASE)
    )
    if not claimed:
        return False
    task = Task.objects.select_related("account").get(pk=task_id)
    route = task.account.provider
    # This machine's own disk, whatever the storage: PyAV probes a local file, and a cut
    # download resumes from what is here.
    incoming = Path(settings.MEDIA_ROOT) / "incoming" / f"task-{task_id}.part"
    incoming_audio = incoming.with_name(f"task-{task_id}-audio.part") if task.audio_url else None
    incoming.parent.mkdir(parents=True, exist_ok=True)
    timings = Timings()
    try:
        with http_client(httpx.Timeout(settings.DOWNLOAD_READ_TIMEOUT_S, connect=10.0)) as http:
            renew = _lease_renewer(task_id)
            if task.video_url.startswith("data:"):
                # The provider answered with the video itself (route 5's `encodedVideo`): no request.
                write_inline(task.video_url, incoming)
            else:
                url, headers = route.download_request(task.account, task.provider_task_id, task.video_url)
                download(http, url, headers, incoming, on_request=lambda: count_request(task_id), keep_alive=renew)
            if incoming_audio:
                url, headers = route.download_request(task.account, task.provider_task_id, task.audio_url)
                download(
                    http, url, headers, incoming_audio, on_request=lambda: count_request(task_id), keep_alive=renew
                )
        timings.lap("download")
        info = probe(incoming)
        timings.lap("probe")
        if incoming_audio and not has_audio_stream(incoming_audio):
            raise NotAVideo("the separate audio track is not playable audio")
    except NotAVideo as exc:
        incoming.unlink(missing_ok=True)
        if incoming_audio:
            incoming_audio.unlink(missing_ok=True)
        error = ProviderError(ErrorKind.EMPTY_RESULT, f"The provider's file is not a playable video ({exc})")
        finish_task(task_id, from_states=[State.ARCHIVING], state=State.FAILED, error=error, billed=None)
        return False
    except ProviderError as error:
        if error.kind == ErrorKind.AUTH and route.download_refusal_passes(task.account, task.video_url):
            _retry_later(
                task_id, f"{error.message.rstrip('.')} (check the account's key; the clip waits at the provider)"
            )
            return False
        if error.kind in (ErrorKind.AUTH, ErrorKind.NOT_FOUND):
            # Expired or refused link: asking again will not change the answer.
            incoming.unlink(missing_ok=True)
            refused = ProviderError(
                ErrorKind.LINK_REFUSED,
                f"The finished video could not be downloaded: the link was refused or has expired "
                f"(HTTP {error.http_status})",
            )
            finish_task(task_id, from_states=[State.ARCHIVING], state=State.FAILED, error=refused, billed=None)
            return False
        _retry_later(task_id, error.message)
        return False
    except (httpx.HTTPError, DownloadIncomplete, OSError) as exc:
        _retry_later(task_id, f"the download broke off ({type(exc).__name__})")
        return False

    clip = _store(task, incoming, info, audio=incoming_audio, timings=timings)
    if clip is not None:
        # The bench reads these: what probing and the poster cost per second of video.
        log.info("archived task %s: %.1f s of video, %d bytes; %s", task_id, info.duration_s, clip.bytes, timings)
    return clip is not None


class Timings:
    """Seconds spent on each step of one archive, in order."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.steps[step] = now - self._last
        self._last = now

    def __str__(self) -> str:
        return ", ".join(f"{step} {seconds:.3f} s" for step, seconds in self.steps.items())


@sensitive_variables()
def download(
    http: httpx.Client,
    url: str,
    headers: dict[str, str],
    dest: Path,
    *,
    on_request,
    keep_alive=None,
    attempts: int = 4,
) -> int:
    """Stream `url` into `dest`, resuming with Range after a cut. Never holds the file in memory."""
    expected: int | None = None
    for attempt in range(attempts):
        have = dest.stat().st_size if dest.exists() else 0
        request_headers = dict(headers)
        if have:
            request_headers["Range"] = f"bytes={have}-"
        try:
            on_request()
            with http.stream("GET", url, headers=request_headers) as response:
                if response.status_code == 416 and have:
                    # Nothing past what we have: a complete file kept from an earlier try.
                    total = response.headers.get("content-range", "").rpartition("/")[2]
                    if have in (expected, int(total) if total.isdigit() else None):
                        return have
                if response.status_code >= 400:
                    response.read()
                    raise error_for_status(response, "the video could not be downloaded")
                if response.status_code == 206:
                    mode = "ab"
                    total = response.headers.get("content-range", "").rpartition("/")[2]
                    expected = int(total) if total.isdigit() else None
                else:  # 200: the whole file from the start
                    mode = "wb"
                    length = response.headers.get("content-length")
                    expected = int(length) if length and length.isdigit() else None
                with dest.open(mode) as handle:
                    # As the bytes arrive: a chunk size would hold back a partial
                    # chunk that a cut connection then loses.
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                        if keep_alive:
                            keep_alive()
        except httpx.TransportError:
            if attempt == attempts - 1:
                raise
            time.sleep(min(2**attempt, 8))
            continue
        size = dest.stat().st_size
        if expected is None or size >= expected:
            if size == 0:
                raise NotAVideo("the provider sent an empty file")
            return size
        time.sleep(min(2**attempt, 8))
    raise DownloadIncomplete(f"got {dest.stat().st_size} of {expected} bytes")


def write_inline(url: str, dest: Path) -> int:
    """A video the provider sent inline, as a base64 `data:` URL, written to `dest` for the usual checks."""
    head, _, data = url.partition(",")
    try:
        if not head.endswith(";base64"):
            raise ValueError(head)
        video = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        raise NotAVideo("the provider's inline video is not base64 data") from None
    if not video:
        raise NotAVideo("the provider sent an empty file")
    dest.write_bytes(video)
    return len(video)


def _lease_renewer(task_id: int):
    """A callable that extends this worker's hold on the download, at most every RENEW_EVERY_S."""
    last = time.monotonic()

    def renew() -> None:
        nonlocal last
        if time.monotonic() - last >= RENEW_EVERY_S:
            last = time.monotonic()
            until = timezone.now() + ARCHIVE_LEASE
            Task.objects.filter(pk=task_id, state=State.ARCHIVING).update(lease_until=until, next_check_at=until)

    return renew


def _store(task: Task, incoming: Path, info, *, audio: Path | None, timings: Timings | None = None) -> Clip | None:
    """Put the checked download, its poster and audio track into storage, then record the Clip.

    The files are uploaded from disk (in parts, to an object store) before the row exists, so no
    one ever sees a Clip whose file is missing; a storage that fails leaves the download here for
    the next try.
    """
    timings = timings or Timings()
    digest = sha256_of(incoming)
    timings.lap("hash")
    name = f"task-{task.pk}-{digest[:12]}"
    poster_local = incoming.with_name(f"task-{task.pk}-poster.jpg")
    try:
        make_poster(incoming, poster_local)
    except NotAVideo:
        poster_local.unlink(missing_ok=True)
    timings.lap("poster")
    clip = Clip(
        task=task,
        duration_s=info.duration_s,
        width=info.width,
        height=info.height,
        has_audio=info.has_audio,
        frame_rate=info.frame_rate,
        bytes=incoming.stat().st_size,
        sha256=digest,
    )
    try:
        save_local_file(clip.file, f"{name}.mp4", incoming)
        if poster_local.exists():
            save_local_file(clip.poster, f"{name}.jpg", poster_local)
        if audio:
            save_local_file(clip.audio_file, f"{name}.m4a", audio)
    except storage_errors() as exc:
        # The download stays for the next try (it resumes at its end); what did get stored goes.
        _discard(clip)
        poster_local.unlink(missing_ok=True)
        _retry_later(task.pk, f"the clip could not be put in storage ({type(exc).__name__})")
        return None
    timings.lap("store")
    stored: Clip | None = clip
    try:
        with transaction.atomic():
            clip.save()
            done = Task.objects.filter(pk=task.pk, state=State.ARCHIVING).update(
                state=State.DONE, finished_at=timezone.now(), lease_until=None, error_code="", error_message=""
            )
            if done and task.kind == Task.Kind.FINAL:
                # Its draft's author and its promoter are told, in this transaction (review's notifications).
                announce_final_archived(task, clip)
    except IntegrityError:
        # Another worker stored it first (its lease ran out while we downloaded): ours are spare
        # copies, unless both uploads landed under one name.
        winner = Clip.objects.filter(task_id=task.pk).first()
        _discard(clip, keep=_names(winner) if winner else set())
        stored = None
    for local in (incoming, poster_local, audio):
        if local:
            local.unlink(missing_ok=True)
    return stored


def _names(clip: Clip) -> set[str]:
    return {file.name for file in (clip.file, clip.poster, clip.audio_file) if file.name}


def _discard(clip: Clip, *, keep: set[str] | None = None) -> None:
    for file in (clip.file, clip.poster, clip.audio_file):
        if file.name and file.name not in (keep or set()):
            try:
                file.storage.delete(file.name)
            except storage_errors() as exc:
                log.warning("could not remove the spare %s from storage: %s", file.name, exc)


def _retry_later(task_id: int, why: str) -> None:
    log.info("archive of task %s will be retried: %s", task_id, why)
    again = timezone.now() + RETRY_AFTER
    Task.objects.filter(pk=task_id, state=State.ARCHIVING).update(
        lease_until=again,
        next_check_at=again,
        error_message=f"Saving the clip is taking longer: {why}. Retrying on its own; the clip is not lost.",
    )
