"""Tests for the simulator's MP4 renderer and the clip media helpers.

These encode and decode real files with PyAV, so they exercise the same code
paths the worker uses; they need no Django settings.
"""

from __future__ import annotations

import hashlib
import math
import random
from array import array
from pathlib import Path

import av
import pytest
from PIL import Image, ImageStat

from studio.clips.media import MediaInfo, NotAVideo, make_poster, probe, sha256_of
from studio.simulator.render import extract_audio, render_clip

TITLE = [
    "a red kite over a windy beach, golden hour",
    "model: veo-3.1-fast",
    "tier: fast",
    "seed: 7",
]


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("landscape") / "clip.mp4"
    render_clip(path, width=640, height=360, duration_s=1.0, audio=True, title_lines=TITLE, seed=7)
    return path


@pytest.fixture(scope="module")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("portrait") / "clip.mp4"
    # An unbreakable over-long line and more lines than fit must be shrunk or
    # clipped, never crash the render.
    lines = ["x" * 300, *TITLE * 8]
    render_clip(path, width=360, height=640, duration_s=1.0, audio=False, title_lines=lines, seed=8)
    return path


def first_frame_mean(path: Path) -> tuple[float, ...]:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return tuple(ImageStat.Stat(frame.to_image()).mean)


# --- render_clip ---------------------------------------------------------------


def test_landscape_with_audio_probes_as_rendered(landscape: Path) -> None:
    info = probe(landscape)

    assert isinstance(info, MediaInfo)
    assert (info.width, info.height) == (640, 360)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.has_audio is True
    # The players step one frame at this rate.
    assert info.frame_rate == 24
    assert info.video_codec == "h264"
    assert info.audio_codec == "aac"


def test_portrait_without_audio_probes_as_rendered(portrait: Path) -> None:
    info = probe(portrait)

    assert (info.width, info.height) == (360, 640)
    assert info.duration_s == pytest.approx(1.0, abs=0.1)
    assert info.has_audio is False
    assert info.video_codec == "h264"
    assert info.audio_codec is None


def test_streams_have_expected_format_and_frame_count(landscape: Path) -> None:
    with av.open(str(landscape)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert video.codec_context.pix_fmt == "yuv420p"
        assert audio.codec_context.sample_rate == 48_000
        assert audio.codec_context.channels == 2
        assert sum(1 for _ in container.decode(video=0)) == 24


def test_index_is_at_the_front_for_progressive_playback(landscape: Path) -> None:
    head = landscape.read_bytes()
    assert 0 <= head.find(b"moov") < head.find(b"mdat")


def test_render_leaves_no_temporary_files(landscape: Path) -> None:
    assert [p.name for p in landscape.parent.iterdir()] == ["clip.mp4"]


def test_different_seeds_give_visibly_different_pictures(landscape: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    render_clip(other, width=640, height=360, duration_s=0.25, audio=False, title_lines=TITLE, seed=8)

    distance = math.dist(first_frame_mean(landscape), first_frame_mean(other))
    assert distance > 20, f"seeds 7 and 8 look alike (mean colour distance {distance:.1f})"


def test_audio_beeps_on_the_second(landscape: Path) -> None:
    samples = array("f")
    with av.open(str(landscape)) as container:
        for frame in container.decode(audio=0):
            samples.frombytes(bytes(frame.planes[0])[: 4 * frame.samples])

    def rms(start_s: float, end_s: float) -> float:
        window = samples[int(start_s * 48_000) : int(end_s * 48_000)]
        return math.sqrt(sum(v * v for v in window) / len(window))

    quiet = rms(0.3, 0.9)
    assert 0.01 < quiet < 0.1, "the background tone should be present but quiet"
    assert rms(0.0, 0.07) > 2.5 * quiet, "no audible beep at 0 s"


@pytest.mark.parametrize(
    ("width", "height"),
    [(641, 360), (640, 361), (0, 360), (640, -2)],
)
def test_bad_sizes_are_rejected(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(ValueError, match=r"width|height"):
        render_clip(
            tmp_path / "x.mp4",
            width=width,
            height=height,
            duration_s=1.0,
            audio=False,
            title_lines=[],
            seed=1,
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("duration_s", [0.0, -1.0, float("nan")])
def test_bad_durations_are_rejected(tmp_path: Path, duration_s: float) -> None:
    with pytest.raises(ValueError, match="duration"):
        render_clip(
            tmp_path / "x.mp4",
            width=64,
            height=64,
            duration_s=duration_s,
            audio=True,
            title_lines=[],
            seed=1,
        )


# --- extract_audio -------------------------------------------------------------


def test_the_audio_track_is_the_clips_sound_alone_and_leaves_no_temporary_files(
    landscape: Path, tmp_path: Path
) -> None:
    track = tmp_path / "clip.m4a"
    extract_audio(landscape, track)

    with av.open(str(track)) as container:
        assert not container.streams.video and container.streams.audio[0].codec_context.name == "aac"
        assert container.duration is not None and container.duration / av.time_base == pytest.approx(1.0, abs=0.1)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.m4a"]


# --- make_poster ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("clip", "max_width", "expected"),
    [
        ("landscape", 320, (320, 180)),
        ("portrait", 640, (360, 640)),  # never upscaled
        ("portrait", 90, (90, 160)),
    ],
)
def test_poster_is_a_scaled_jpeg(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clip: str,
    max_width: int,
    expected: tuple[int, int],
) -> None:
    video: Path = request.getfixturevalue(clip)
    poster = tmp_path / "poster.jpg"

    make_poster(video, poster, max_width=max_width)

    with Image.open(poster) as image:
        assert image.format == "JPEG"
        assert image.width <= max_width
        assert image.size == expected
    assert [p.name for p in tmp_path.iterdir()] == ["poster.jpg"]


def test_poster_of_garbage_raises(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(random.Random(3).randbytes(20_000))

    with pytest.raises(NotAVideo):
        make_poster(junk, tmp_path / "poster.jpg")
    assert not (tmp_path / "poster.jpg").exists()


# --- probe on bad input ----------------------------------------------------------


@pytest.mark.parametrize("kept", [0.3, 0.97])
def test_truncated_download_is_not_a_video(landscape: Path, tmp_path: Path, kept: float) -> None:
    # The index sits at the front (faststart), so even a short prefix still
    # has a valid header; probe must notice the missing media data.
    data = landscape.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * kept)])

    with pytest.raises(NotAVideo, match="not a playable video"):
        probe(cut)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        random.Random(1).randbytes(50_000),
        b"<!doctype html><title>403 Forbidden</title>" * 50,
    ],
    ids=["empty", "random", "html"],
)
def test_non_video_bytes_are_not_a_video(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)

    with pytest.raises(NotAVideo, match="not a playable video"):
        probe(path)


def test_missing_file_is_not_disguised_as_bad_media(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "nowhere.mp4")


# --- sha256_of -------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 5, 1024 * 1024, 2 * 1024 * 1024 + 17])
def test_sha256_matches_hashlib(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "blob"
    path.write_bytes(data)

    assert sha256_of(path) == hashlib.sha256(data).hexdigest()


def test_sha256_of_rendered_clip(landscape: Path) -> None:
    assert sha256_of(landscape) == hashlib.sha256(landscape.read_bytes()).hexdigest()
