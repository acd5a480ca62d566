"""Clips as one zip, streamed: each file goes out as it is read, with a manifest.json that says what each one is.

Nothing is built whole in memory or on disk: the archive is written to a sink
that hands its bytes on as they come, and each clip is read from storage (the
local folder or the object store) in chunks. The zip is stored, not compressed: MP4s do not shrink.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Iterator

from studio.storage import read_range

from .models import Clip


class _Sink(io.RawIOBase):
    """A write-only stream whose bytes are taken away as they arrive (zipfile then writes data descriptors)."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # zipfile writes bytes and memoryviews
        self._pending.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._pending)
        self._pending.clear()
        return data


def file_name(index: int, clip: Clip) -> str:
    task = clip.task
    return f"{index:03d}-{task.kind}-{task.tier}-task{task.pk}-seed{task.seed}.mp4"


def manifest_entry(name: str, clip: Clip) -> dict:
    """Everything needed to know, or make again, what this clip is."""
    task = clip.task
    version = task.prompt_version
    return {
        "file": name,
        "clip": clip.pk,
        "task": task.pk,
        "kind": task.kind,
        "prompt": version.text,
        "negative_prompt": version.negative_prompt,
        "prompt_id": version.prompt_id,
        "version": version.number,
        "seed": task.seed,
        "parameters": task.parameters,
        "route": task.route,
        "model": task.model,
        "tier": task.tier,
        "cost_usd": str(task.cost_charged if task.cost_charged is not None else task.cost_estimate)
        if (task.cost_charged is not None or task.cost_estimate is not None)
        else None,
        "cost_is_charged": task.cost_charged is not None,
        "promoted_from_task": task.promoted_from_id,
        "finals": sorted(final.pk for final in task.promotions.all()),
        "made_by": task.created_by.get_username() if task.created_by else None,
        "created_at": clip.created_at.isoformat(),
        "duration_s": clip.duration_s,
        "width": clip.width,
        "height": clip.height,
        "has_audio": clip.has_audio,
        "bytes": clip.bytes,
        "sha256": clip.sha256,
    }


def zip_stream(clips: Iterable[Clip]) -> Iterator[bytes]:
    sink = _Sink()
    manifest = []
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for index, clip in enumerate(clips, start=1):
            name = file_name(index, clip)
            with archive.open(name, "w", force_zip64=True) as target:
                for chunk in read_range(clip.file):
                    target.write(chunk)
                    yield sink.take()
            manifest.append(manifest_entry(name, clip))
            yield sink.take()
        archive.writestr("manifest.json", json.dumps({"clips": manifest}, indent=2, ensure_ascii=False))
    yield sink.take()
