"""The simulator's one piece of background work: rendering each accepted job's video, in a worker.

A web request never renders (a render takes seconds of CPU, and anyone who
can reach the simulator could ask for one). Accepting a job fixes what its
video shows (`Picture`); once the job's end is near, `engine` asks the queue
for its render, and a django-q2 worker runs `render_video`, which claims the
job with a conditional UPDATE, renders into a temporary folder and keeps the
result in Django's default storage (the local media folder or object storage).
Until then the job reports that it is still running, as a provider does while
its file is being made.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from .models import SimulatedJob

log = logging.getLogger(__name__)

# A render taken on this long ago and still unfinished was lost with its worker (django-q2's
# timeout is 15 minutes): another worker may take it over.
RENDER_LEASE = timedelta(minutes=16)

SIZES = {
    ("720p", "16:9"): (1280, 720),
    ("720p", "9:16"): (720, 1280),
    ("720p", "1:1"): (720, 720),
    ("1080p", "16:9"): (1920, 1080),
    ("1080p", "9:16"): (1080, 1920),
    ("1080p", "1:1"): (1080, 1080),
    ("4k", "16:9"): (3840, 2160),
    ("4k", "9:16"): (2160, 3840),
}


@dataclass(frozen=True)
class Picture:
    """What a job's video shows, fixed when the job is accepted so that a worker can render it later."""

    resolution: str
    aspect_ratio: str
    duration_s: float
    audio: bool
    tier_label: str
    prompt: str
    seed: int | None
    # Its sound as a separate .m4a too (route 2 hands the audio out on a link of its own).
    audio_track: bool = False

    def as_json(self) -> dict:
        return dataclasses.asdict(self)

    def title_lines(self, *, model: str, width: int) -> list[str]:
        lines = textwrap.wrap(self.prompt, max(24, width // 28))[:5] or ["(no prompt)"]
        return [
            *lines,
            f"{self.tier_label} · {model}",
            f"seed {self.seed if self.seed is not None else 'random'} · {self.resolution} {self.aspect_ratio} · "
            f"{self.duration_s:g}s · {'audio' if self.audio else 'silent'}",
        ]


def queue_render(job_id: str) -> None:
    """Ask a worker for the job's render. A lost message is asked again by a later poll (`engine.polled`)."""
    try:
        async_task("studio.simulator.worker.render_video", job_id, group="simulator-render")
    except Exception as exc:  # the broker is down: the job's next poll asks again
        log.warning("could not queue the render of simulated job %s: %s", job_id, type(exc).__name__)


def nobody_rendering(now) -> Q:
    """Jobs no live worker is rendering: none took them on, or the one that did is presumed lost."""
    return Q(render_started_at__isnull=True) | Q(render_started_at__lt=now - RENDER_LEASE)


def queued_renders() -> list[str]:
    """The jobs whose render was asked of the queue and that no worker has taken on, oldest first."""
    waiting = SimulatedJob.objects.filter(
        nobody_rendering(timezone.now()),
        render_queued_at__isnull=False,
        video="",
        fail_reason="",
        picture__isnull=False,
    )
    return list(waiting.order_by("render_queued_at").values_list("id", flat=True))


def render_video(job_id: str) -> bool:
    """Render the job's video into storage, unless another worker has it or it is done.

    Returns whether this call took the render on (a second copy of the message does nothing). A
    render that fails ends the job failed, each route saying so in its own words, so that no job
    stays running forever.
    """
    started = timezone.now()
    claimed = SimulatedJob.objects.filter(
        nobody_rendering(started), pk=job_id, video="", fail_reason="", picture__isnull=False
    ).update(render_started_at=started)
    if not claimed:
        return False
    # Here, not at the top: PyAV and Pillow's drawing are 25 MiB of every process that loads the
    # app (the tracker, web servers), and only a worker rendering a simulated video needs them.
    from .render import extract_audio, render_clip

    job = SimulatedJob.objects.get(pk=job_id)
    assert job.picture is not None  # claimed above only with one
    picture = Picture(**job.picture)
    try:
        with tempfile.TemporaryDirectory(prefix="simulator-render-") as folder:
            video = Path(folder) / f"{job.id}.mp4"
            width, height = SIZES[(picture.resolution, picture.aspect_ratio)]
            render_clip(
                video,
                width=width,
                height=height,
                duration_s=picture.duration_s,
                audio=picture.audio,
                title_lines=picture.title_lines(model=job.model, width=width),
                seed=picture.seed if picture.seed is not None else 0,
            )
            _store(job.video, video)
            if picture.audio_track:
                track = video.with_suffix(".m4a")
                extract_audio(video, track)
                _store(job.audio, track)
    except Exception:
        log.exception("the simulator could not render job %s", job_id)
        _forget(job)
        SimulatedJob.objects.filter(pk=job_id, render_started_at=started).update(
            fail_reason="The simulator could not render this video"
        )
        return True
    kept = SimulatedJob.objects.filter(pk=job_id, render_started_at=started, video="").update(
        video=job.video.name, audio=job.audio.name
    )
    if not kept:  # taken over after the lease ran out and finished first (or gone): ours is a spare
        _forget(job)
    return True


def _forget(job: SimulatedJob) -> None:
    """Remove what this call stored for the job; its row never named it."""
    for file in (job.video, job.audio):
        if file.name:
            file.storage.delete(file.name)


def _store(file, path: Path) -> None:
    # Streamed from disk: object storage uploads it in parts, never whole in memory.
    with path.open("rb") as handle:
        file.save(path.name, File(handle, name=path.name), save=False)
