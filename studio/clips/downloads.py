"""What a downloaded clip is called: project, prompt name, version, seed and tier.

A producer's downloads folder fills with clips from many projects; the name says
which is which without opening them. The plain name is ASCII (every browser and
file system takes it); a name with letters beyond ASCII also goes out as RFC 6266's
``filename*`` so browsers that read it keep them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from django.utils.text import slugify

if TYPE_CHECKING:
    from .models import Clip

# Long prompt names are cut so the whole name stays well under file systems' 255 bytes.
PROJECT_CHARS = 40
PROMPT_CHARS = 60


def download_name(clip: Clip, *, ascii_only: bool = True) -> str:
    """E.g. ``harbour-lights_lighthouse-at-dusk_v3_seed-1234_fast.mp4``."""
    task = clip.task
    version = task.prompt_version
    parts = [
        _slug(task.project.name, PROJECT_CHARS, fallback="project", ascii_only=ascii_only),
        _slug(version.prompt.title, PROMPT_CHARS, fallback="prompt", ascii_only=ascii_only),
        f"v{version.number}",
    ]
    # No seed: the provider chose one and did not say which.
    if task.seed is not None:
        parts.append(f"seed-{task.seed}")
    parts.append(slugify(task.tier) or "clip")
    return "_".join(parts) + ".mp4"


def content_disposition(clip: Clip) -> str:
    """The Content-Disposition that saves the clip under its download name."""
    plain = download_name(clip)
    header = f'attachment; filename="{plain}"'
    full = download_name(clip, ascii_only=False)
    if full != plain:
        header += f"; filename*=UTF-8''{quote(full, safe='')}"
    return header


def _slug(words: str, limit: int, *, fallback: str, ascii_only: bool) -> str:
    slug = slugify(words, allow_unicode=not ascii_only)[:limit].strip("-_")
    return slug or fallback
