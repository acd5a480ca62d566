"""Inspect downloaded clips: what they contain, a poster frame, a checksum.

The worker calls these right after a provider's clip lands in our storage,
before the clip is shown to anyone. Anything that cannot actually be played
(an HTML error page saved as .mp4, a download cut short, an empty file) is
reported as ``NotAVideo`` with a message fit to show to a person, so the job
can fail cleanly instead of publishing a broken player.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av
    from PIL import Image

# PyAV (22 MiB of every process that loads it) is imported by the functions that decode, not here:
# this module is reached from the task queue's, which every worker and the tracker load, and only
# an archive worker or a web server making a still ever decodes.

__all__ = ["MediaInfo", "NotAVideo", "has_audio_stream", "make_poster", "probe", "sha256_of"]

CHUNK_BYTES = 1024 * 1024

# How far the packets actually present may fall short of the duration the
# header promises before we call the file truncated. Generous on purpose:
# edit lists and encoder delay legitimately shave a few frames off, and
# rejecting a good clip is worse than missing a nearly complete one (a cut
# mid-packet is caught separately via the corrupt flag).
TRUNCATION_TOLERANCE_S = 0.5

# Veo 3.1 renders at 24 frames per second.
DEFAULT_FRAME_RATE = 24.0


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    width: int
    height: int
    has_audio: bool
    # Frames per second as the stream declares it (Veo 3.1 renders at 24); players step by one frame.
    frame_rate: float
    video_codec: str
    audio_codec: str | None


class NotAVideo(Exception):
    """The file cannot be played as a video; the message says why in plain words."""


def probe(path: Path) -> MediaInfo:
    """Describe the clip at ``path``, or raise ``NotAVideo`` if it is unplayable.

    Besides reading the header this demuxes every video packet (cheap: no
    decoding) and decodes the first frame, because a download cut short can
    still have a perfectly valid header when the index sits at the front.
    """
    import av

    try:
        with av.open(str(path), mode="r") as container:
            video = _first_video_stream(container)
            width = video.codec_context.width
            height = video.codec_context.height
            if width <= 0 or height <= 0:
                raise NotAVideo("the file is not a playable video (the picture has no size)")
            audio = container.streams.audio[0] if container.streams.audio else None
            video_codec = video.codec_context.name
            frame_rate = _frame_rate(video)
            audio_codec = audio.codec_context.name if audio is not None else None
            header_duration = _header_duration(container, video)
            promised_video = _stream_duration(video)
            packets_end = _check_packets(container, video, promised_s=promised_video)
    except av.error.FFmpegError as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            # A missing file is our bug, not a bad upload; keep it loud.
            raise
        raise NotAVideo(f"the file is not a playable video ({_describe(exc)})") from exc

    duration = header_duration if header_duration is not None else packets_end
    if duration is None or duration <= 0:
        raise NotAVideo("the file is not a playable video (it has no duration)")
    return MediaInfo(
        duration_s=duration,
        width=width,
        height=height,
        has_audio=audio is not None,
        frame_rate=frame_rate,
        video_codec=video_codec,
        audio_codec=audio_codec,
    )


def make_poster(video: Path, poster: Path, *, max_width: int = 640) -> None:
    """Save a JPEG still from about 1 s in (the middle of very short clips).

    Early frames are often black or a fade-in; one second in is usually
    representative. The JPEG appears at ``poster`` atomically.
    """
    import av

    if max_width <= 0:
        raise ValueError(f"max_width must be positive, got {max_width!r}")
    try:
        with av.open(str(video), mode="r") as container:
            stream = _first_video_stream(container)
            duration = _header_duration(container, stream) or 0.0
            target = 1.0 if duration >= 2.0 else duration / 2
            image = still_near(container, stream, target_s=target, max_width=max_width)
            if image is None:
                raise NotAVideo("the file is not a playable video (no picture could be decoded)")
    except av.error.FFmpegError as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise NotAVideo(f"the file is not a playable video ({_describe(exc)})") from exc
    _save_jpeg_atomically(image, poster)


def has_audio_stream(path: Path) -> bool:
    """Whether ``path`` opens as media with at least one audio stream (a separate audio track)."""
    import av

    try:
        with av.open(str(path), mode="r") as container:
            return bool(container.streams.audio)
    except av.error.FFmpegError:
        return False


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file, read in 1 MiB chunks so big clips never sit in memory."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    with open(path, "rb") as handle:
        while read := handle.readinto(buffer):
            digest.update(view[:read])
    return digest.hexdigest()


def _first_video_stream(container: av.container.InputContainer) -> av.VideoStream:
    import av

    for stream in container.streams.video:
        # Cover art in audio files shows up as a one-picture "video" stream.
        if not (stream.disposition & av.stream.Disposition.attached_pic):
            return stream
    raise NotAVideo("the file is not a playable video (it contains no video stream)")


def _header_duration(container: av.container.InputContainer, video: av.VideoStream) -> float | None:
    import av

    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    return _stream_duration(video)


def _frame_rate(video: av.VideoStream) -> float:
    # The rate the container declares; a stream that declares none is taken to be Veo's 24 fps.
    rate = video.average_rate or video.guessed_rate
    return float(rate) if rate and rate > 0 else DEFAULT_FRAME_RATE


def _stream_duration(stream: av.VideoStream) -> float | None:
    if stream.duration is None or stream.duration <= 0 or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _check_packets(
    container: av.container.InputContainer,
    video: av.VideoStream,
    *,
    promised_s: float | None,
) -> float | None:
    """Walk the video packets; raise NotAVideo if the file stops early or no
    frame decodes. Returns where the video packets end, in seconds."""
    first_pts: int | None = None
    end_pts: int | None = None
    count = 0
    decoded = False
    for packet in container.demux(video):
        if packet.size == 0:
            continue  # the flush packet demux() appends at the end
        if packet.is_corrupt:
            raise NotAVideo("the file is not a playable video (it is truncated or damaged)")
        count += 1
        if packet.pts is not None:
            first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
            end = packet.pts + (packet.duration or 0)
            end_pts = end if end_pts is None else max(end_pts, end)
        if not decoded:
            # One decoded picture proves the codec is supported and the data is real.
            decoded = bool(video.codec_context.decode(packet))
    if not decoded:
        # Some decoders hold the first picture back until they are flushed.
        decoded = bool(video.codec_context.decode(None)) if count else False
    if not decoded:
        raise NotAVideo("the file is not a playable video (no picture could be decoded)")

    if video.frames and count < video.frames:
        raise NotAVideo(f"the file is not a playable video (it is truncated: {count} of {video.frames} frames present)")
    if first_pts is None or end_pts is None or video.time_base is None:
        return None
    present = float((end_pts - first_pts) * video.time_base)
    if promised_s is not None and present < promised_s - TRUNCATION_TOLERANCE_S:
        raise NotAVideo(
            f"the file is not a playable video (it is truncated: {present:.1f} s of {promised_s:.1f} s present)"
        )
    return present


def still_near(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    *,
    target_s: float,
    max_width: int,
) -> Image.Image | None:
    """The picture of the first frame at or after ``target_s`` (else the last), at most ``max_width`` wide."""
    frame = _frame_near(container, stream, target_s=target_s)
    if frame is None:
        return None
    if frame.width <= max_width:
        return frame.to_image()
    # Scaled by libswscale while converting to RGB, area-averaged (as sharp as Lanczos when shrinking):
    # a quarter of the CPU of converting the full frame and resizing it in Pillow, which an archive
    # worker pays for every clip.
    height = max(1, round(frame.height * max_width / frame.width))
    return frame.to_image(width=max_width, height=height, interpolation="AREA")


def _frame_near(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    *,
    target_s: float,
) -> av.VideoFrame | None:
    """First frame at or after ``target_s``, else the last frame there is."""
    import av

    if target_s > 0 and stream.time_base is not None:
        try:
            # Lands on the keyframe at or before the target; decode forward from there.
            container.seek(int(target_s / stream.time_base), stream=stream, backward=True)
        except av.error.FFmpegError:
            pass  # unseekable: decoding from the start still reaches the target
    last = None
    try:
        for frame in container.decode(stream):
            last = frame
            if frame.pts is None or frame.time_base is None:
                break
            if frame.pts * frame.time_base >= Fraction(target_s) - Fraction(1, 1000):
                break
    except av.error.FFmpegError:
        # A damaged tail should not cost us a poster we already have a frame for.
        if last is None:
            raise
    return last


def _save_jpeg_atomically(image: Image.Image, poster: Path) -> None:
    poster = Path(poster)
    poster.parent.mkdir(parents=True, exist_ok=True)
    # Same directory so os.replace is a rename; "x" mode uses the normal
    # umask, unlike mkstemp's 0600, so the web server can still read it.
    temp = poster.with_name(f".{poster.name}.{secrets.token_hex(6)}.part")
    try:
        with open(temp, "xb") as handle:
            image.convert("RGB").save(handle, format="JPEG", quality=85, optimize=True)
        os.replace(temp, poster)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _describe(exc: av.error.FFmpegError) -> str:
    # FFmpeg messages carry the file name and errno; the strerror alone reads better.
    message = getattr(exc, "strerror", None) or str(exc)
    return str(message).rstrip(".").lower() or "unreadable data"
