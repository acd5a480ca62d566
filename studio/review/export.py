"""Feedback on a list of clips, to take away: a CSV of every comment and review status, a printable
page, and the still of each timecoded comment's frame that the page shows.

Any list of clips will do: a playlist's (playlist_views) or a review link's selection. The CSV is
made safe for spreadsheets (a cell that would run as a formula starts with a quote). A frame's still
is decoded once with PyAV, the way `studio.clips.media` makes posters, and kept in storage beside
them under a name made of the clip and the frame, so every later request just streams it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import av
from django.core.files.base import ContentFile
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from studio.clips.media import NotAVideo, _first_video_stream, still_near
from studio.clips.models import Clip, stills_folder

from .comments import frame_count, threads
from .models import Comment

CSV_HEADER = [
    "clip",
    "kind",
    "prompt",
    "version",
    "seed",
    "review status",
    "reviewed by",
    "reviewed at",
    "review note",
    "comment author",
    "guest",
    "written at",
    "frame in",
    "frame out",
    "timecode in",
    "timecode out",
    "text",
    "resolved",
    "replies",
]
# A spreadsheet runs a cell that starts with one of these as a formula (studio/spend/ledger.py has
# the same rule for the spend CSV; review and spend are separate rooms that may not import each other).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# As wide as a poster: enough to see what a note is about on a printed page.
FRAME_MAX_WIDTH = 640


def safe_cell(value: object) -> object:
    """Text a spreadsheet would run as a formula, made inert with a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def timecode(frame: int, fps: float) -> str:
    """hh:mm:ss:ff, counting whole frames a second as editors do (29.97 fps counts 30)."""
    nominal = max(1, round(fps or 24))
    seconds, frames = divmod(frame, nominal)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


@dataclass
class ClipFeedback:
    """One clip with its comment threads (first comments by timecode, each with `.thread_replies`)."""

    clip: Clip
    threads: list[Comment] = field(default_factory=list)
    # The still of each timecoded thread's first frame, by comment id (filled by `feedback`).
    frame_urls: dict[int, str] = field(default_factory=dict)

    @property
    def comment_count(self) -> int:
        return sum(1 + len(getattr(head, "thread_replies", [])) for head in self.threads)


def feedback(clips: Iterable[Clip], *, frame_url: Callable[[Clip, int], str] | None = None) -> list[ClipFeedback]:
    """Each clip with its threads, in the order given; `frame_url(clip, frame)` names the still a
    printable page shows beside each timecoded comment (a member's view or a review link's)."""
    found = []
    for clip in clips:
        item = ClipFeedback(clip=clip, threads=threads(clip))
        fps = clip.frame_rate or 24
        for head in item.threads:
            if head.frame_in is not None and frame_url is not None:
                item.frame_urls[head.pk] = frame_url(clip, head.frame_in)
            # What the printable page shows beside each thread.
            setattr(head, "frame_url", item.frame_urls.get(head.pk, ""))  # noqa: B010
            setattr(head, "timecode_in", "" if head.frame_in is None else timecode(head.frame_in, fps))  # noqa: B010
            setattr(head, "timecode_out", "" if head.frame_out is None else timecode(head.frame_out, fps))  # noqa: B010
        found.append(item)
    return found


@dataclass(frozen=True)
class Sheet:
    """What a printable feedback page says of itself: its title, the way back, its CSV."""

    title: str
    back_url: str
    back_label: str
    csv_url: str


def frame_url(clip: Clip, frame: int) -> str:
    """Where a member's browser gets the still of a commented frame."""
    return reverse("clip-frame", args=[clip.pk, frame])


def feedback_rows(clips: Iterable[Clip], *, show_prompts: bool = True) -> list[list[object]]:
    """One row per comment thread (its replies in the last cell), and one row for a clip without
    comments so its review status is there too; cells are not yet made spreadsheet-safe
    (`csv_response` does that). `show_prompts=False` leaves the prompt's words out (a review link
    that hides them)."""
    rows: list[list[object]] = []
    for item in feedback(clips):
        clip, task = item.clip, item.clip.task
        fps = clip.frame_rate or 24
        about = [
            clip.pk,
            task.get_kind_display(),
            task.words if show_prompts else "",
            f"v{task.prompt_version.number}",
            "" if task.seed is None else task.seed,
            clip.get_review_status_display(),
            clip.reviewed_by.get_username() if clip.reviewed_by else ("someone who left" if clip.reviewed_at else ""),
            _when(clip.reviewed_at),
            clip.review_note,
        ]
        if not item.threads:
            rows.append(about + [""] * (len(CSV_HEADER) - len(about)))
            continue
        for head in item.threads:
            replies = getattr(head, "thread_replies", [])
            rows.append(
                [
                    *about,
                    head.by,
                    "yes" if head.is_guest else "no",
                    _when(head.created_at),
                    "" if head.frame_in is None else head.frame_in,
                    "" if head.frame_out is None else head.frame_out,
                    "" if head.frame_in is None else timecode(head.frame_in, fps),
                    "" if head.frame_out is None else timecode(head.frame_out, fps),
                    head.text,
                    f"yes, by {head.resolved_by_name or 'someone'} {_when(head.resolved_at)}"
                    if head.is_resolved
                    else "no",
                    "\n".join(f"{reply.by}{' (guest)' if reply.is_guest else ''}: {reply.text}" for reply in replies),
                ]
            )
    return rows


def csv_response(rows: Iterable[list[object]], *, filename: str) -> HttpResponse:
    """The rows under CSV_HEADER as a CSV download, every text cell spreadsheet-safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- A frame's still ---------------------------------------------------------------


def frame_name(clip: Clip, frame: int) -> str:
    # Clips never change once archived, so the clip and frame name the still for good.
    return f"{stills_folder(clip.pk)}/frame-{frame:06d}.jpg"


def frame_still(clip: Clip, frame: int) -> str:
    """The storage name of a JPEG of `frame` (counted from 0 at the clip's rate), made the first
    time it is asked for. Http404 for a frame the clip does not have; NotAVideo if it cannot be decoded."""
    if frame < 0 or frame >= frame_count(clip):
        raise Http404("This clip has no such frame.")
    storage, name = clip.file.storage, frame_name(clip, frame)
    if storage.exists(name):
        return name
    image = decode_frame(clip, frame)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85, optimize=True)
    saved = storage.save(name, ContentFile(buffer.getvalue()))
    if saved != name:
        # Someone made the same still a moment earlier and the storage kept both: keep theirs.
        storage.delete(saved)
    return name


def frame_response(clip: Clip, frame: int) -> HttpResponse:
    """The still of `frame` as a JPEG response (the caller has checked who may see the clip); 422
    with the reason when the clip cannot be decoded, Http404 for a frame it does not have."""
    try:
        name = frame_still(clip, frame)
    except NotAVideo as problem:
        return HttpResponse(f"This frame could not be shown: {problem}.", status=422, content_type="text/plain")
    with clip.file.storage.open(name, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="image/jpeg")
    # Private: a still is shown only to whoever may see its clip.
    response["Cache-Control"] = "private, max-age=86400"
    return response


def decode_frame(clip: Clip, frame: int) -> Image.Image:
    """The picture of one frame, at most FRAME_MAX_WIDTH wide."""
    fps = Fraction(clip.frame_rate or 24).limit_denominator(1001)
    try:
        with clip.file.open("rb") as handle, av.open(handle, mode="r") as container:
            stream = _first_video_stream(container)
            start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
            # A frame's picture starts at start + frame / fps: the first one at or after that is it.
            at = start + float(frame / fps)
            image = still_near(container, stream, target_s=at, max_width=FRAME_MAX_WIDTH)
    except av.error.FFmpegError as exc:
        raise NotAVideo(f"the clip could not be decoded ({exc})") from exc
    if image is None:
        raise NotAVideo("the clip could not be decoded (no picture at that frame)")
    return image
