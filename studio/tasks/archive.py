"""Bringing a finished video home: streamed download, checks, poster, Clip.

Provider links expire (24 h to 15 days), and the clip was paid for, so a task
stays "saving the clip" and is retried until the file is ours; it is never
marked done on a partial or unplayable file.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from studio.clips.media import NotAVideo, has_audio_stream, make_poster, probe, sha256_of
from studio.clips.models import Clip
from studio.providers.base import ErrorKind, ProviderError, error_for_status, http_client

from .lifecycle import count_request, finish_task
from .models import Task

log = logging.getLogger(__name__)
State = Task.State

# One worker holds a download this long, renewed while bytes keep coming; a
# worker killed mid-download delays the clip by at most this much.
ARCHIVE_LEASE = timedelta(minutes=2)
RENEW_EVERY_S = 30.0
RETRY_AFTER = timedelta(seconds=20)


class DownloadIncomplete(Exception):
    pass


def archive(task_id: int) -> bool:
    """Download, check and store the clip of a task the provider finished. Returns whether it is done."""
    now = timezone.now()
    claimed = (
        Task.objects.filter(pk=task_id, state=State.ARCHIVING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + ARCHIVE_LEASE)
    )
    if not claimed:
        return False
    task = Task.objects.select_related("account").get(pk=task_id)
    route = task.account.provider
    incoming = Path(settings.MEDIA_ROOT) / "incoming" / f"task-{task_id}.part"
    incoming_audio = incoming.with_name(f"task-{task_id}-audio.part") if task.audio_url else None
    incoming.parent.mkdir(parents=True, exist_ok=True)
    try:
        with http_client(httpx.Timeout(settings.DOWNLOAD_READ_TIMEOUT_S, connect=10.0)) as http:
            url, headers = route.download_request(task.account, task.provider_task_id, task.video_url)
            renew = _lease_renewer(task_id)
            download(http, url, headers, incoming, on_request=lambda: count_request(task_id), keep_alive=renew)
            if incoming_audio:
                url, headers = route.download_request(task.account, task.provider_task_id, task.audio_url)
                download(
                    http, url, headers, incoming_audio, on_request=lambda: count_request(task_id), keep_alive=renew
                )
        info = probe(incoming)
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

    clip = _store(task, incoming, info, audio=incoming_audio)
    return clip is not None


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
                if response.status_code == 416 and have and expected == have:
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


def _lease_renewer(task_id: int):
    """A callable that extends this worker's hold on the download, at most every RENEW_EVERY_S."""
    last = time.monotonic()

    def renew() -> None:
        nonlocal last
        if time.monotonic() - last >= RENEW_EVERY_S:
            last = time.monotonic()
            Task.objects.filter(pk=task_id, state=State.ARCHIVING).update(lease_until=timezone.now() + ARCHIVE_LEASE)

    return renew


def _store(task: Task, incoming: Path, info, *, audio: Path | None) -> Clip | None:
    digest = sha256_of(incoming)
    stamp = timezone.now()
    name = f"task-{task.pk}-{digest[:12]}"
    relative = Path("clips") / stamp.strftime("%Y/%m") / f"{name}.mp4"
    poster_relative = Path("posters") / stamp.strftime("%Y/%m") / f"{name}.jpg"
    audio_relative = Path("audio") / stamp.strftime("%Y/%m") / f"{name}.m4a" if audio else None
    media_root = Path(settings.MEDIA_ROOT)
    for part in (relative, poster_relative, audio_relative):
        if part:
            (media_root / part).parent.mkdir(parents=True, exist_ok=True)
    os.replace(incoming, media_root / relative)
    if audio and audio_relative:
        os.replace(audio, media_root / audio_relative)
    try:
        make_poster(media_root / relative, media_root / poster_relative)
        poster = str(poster_relative)
    except NotAVideo:
        poster = ""
    try:
        with transaction.atomic():
            clip = Clip.objects.create(
                task=task,
                file=str(relative),
                poster=poster,
                audio_file=str(audio_relative) if audio_relative else "",
                duration_s=info.duration_s,
                width=info.width,
                height=info.height,
                has_audio=info.has_audio,
                bytes=(media_root / relative).stat().st_size,
                sha256=digest,
            )
            Task.objects.filter(pk=task.pk, state=State.ARCHIVING).update(
                state=State.DONE, finished_at=timezone.now(), lease_until=None, error_code="", error_message=""
            )
    except IntegrityError:
        # Another worker stored it first (its lease ran out while we downloaded).
        return None
    return clip


def _retry_later(task_id: int, why: str) -> None:
    log.info("archive of task %s will be retried: %s", task_id, why)
    Task.objects.filter(pk=task_id, state=State.ARCHIVING).update(
        lease_until=timezone.now() + RETRY_AFTER,
        error_message=f"Saving the clip is taking longer: {why}. Retrying on its own; the clip is not lost.",
    )
