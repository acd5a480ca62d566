"""Render a real, playable MP4 for a simulated Veo job.

The simulator has to hand back actual media so that the player, posters,
downloads and side-by-side comparison all work without network access. The
picture shows the job's title lines over a seed-coloured background, plus a
timecode, frame counter, flash and moving marker; the audio carries a
seed-pitched tone with a beep on every whole second. Together they make it
obvious whether two players are in sync, and whether picture and sound are.

This runs in a worker (never in a web request), often on a small machine, so
the static part of the picture is drawn once and each frame only repaints the
few regions that change.
"""

from __future__ import annotations

import colorsys
import io
import math
import os
import secrets
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

__all__ = ["extract_audio", "render_clip"]

AUDIO_RATE = 48_000
# The AAC encoder consumes exactly this many samples per frame (only the very
# last frame may be shorter).
AAC_FRAME_SAMPLES = 1024

WHITE = (255, 255, 255)
OUTLINE = (0, 0, 0)
FLASH = (255, 236, 64)

Box = tuple[int, int, int, int]


def render_clip(
    path: Path,
    *,
    width: int,
    height: int,
    duration_s: float,
    audio: bool,
    title_lines: list[str],
    seed: int,
    fps: int = 24,
) -> None:
    """Write an H.264/AAC MP4 of exactly ``width``x``height`` to ``path``.

    The file appears at ``path`` atomically: it is written to a temporary
    sibling first and renamed into place once complete.
    """
    _check_arguments(width=width, height=height, duration_s=duration_s, fps=fps)
    path = Path(path)
    frame_count = max(1, round(duration_s * fps))
    layout = _Layout.for_size(width=width, height=height)
    background = _draw_static(
        layout=layout,
        title_lines=title_lines,
        seed=seed,
        duration_s=duration_s,
    )

    path.parent.mkdir(parents=True, exist_ok=True)
    # Same directory, so os.replace is an atomic rename on the same filesystem.
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    try:
        _encode(
            temp,
            layout=layout,
            background=background,
            frame_count=frame_count,
            fps=fps,
            duration_s=duration_s,
            audio=audio,
            seed=seed,
        )
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _check_arguments(*, width: int, height: int, duration_s: float, fps: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive whole number of pixels, got {value!r}")
        if value % 2:
            # yuv420p stores colour at half resolution, so both sides must halve cleanly.
            raise ValueError(f"{name} must be an even number of pixels for H.264 (yuv420p), got {value}")
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s!r}")
    if not isinstance(fps, int) or fps <= 0:
        raise ValueError(f"fps must be a positive whole number, got {fps!r}")


# --- picture -----------------------------------------------------------------


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled font is the only one guaranteed to exist on every host.
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class _Layout:
    """Pixel geometry, derived from the short side so every aspect ratio and
    resolution keeps the same proportions."""

    width: int
    height: int
    margin: int
    bar: Box
    marker_width: int
    marker_overhang: int
    timecode_size: int
    frame_label_size: int
    timecode_origin: tuple[int, int]
    frame_label_origin: tuple[int, int]
    flash_box: Box
    dynamic_box: Box
    title_box: Box

    @classmethod
    def for_size(cls, *, width: int, height: int) -> _Layout:
        unit = min(width, height)
        margin = max(4, round(unit * 0.05))
        bar_height = max(4, round(unit * 0.025))
        marker_overhang = max(2, round(bar_height * 0.8))
        bar_bottom = height - margin - marker_overhang
        bar = (margin, bar_bottom - bar_height, width - margin, bar_bottom)

        timecode_size = max(12, round(unit * 0.2))
        frame_label_size = max(10, round(unit * 0.085))
        gap = max(2, round(unit * 0.02))
        timecode_width = _monospaced_width("00:00", size=timecode_size)
        label_bottom = bar[1] - marker_overhang - gap
        label_top = label_bottom - _line_height(frame_label_size)
        timecode_top = label_top - _line_height(timecode_size)
        timecode_left = width - margin - timecode_width
        flash_side = max(6, round(timecode_size * 0.45))
        flash_left = timecode_left - gap - flash_side
        flash_top = timecode_top + (_line_height(timecode_size) - flash_side) // 2
        flash_box = (flash_left, flash_top, flash_left + flash_side, flash_top + flash_side)

        # Everything that changes per frame lives inside this one rectangle,
        # which is restored from the static background before repainting.
        dynamic_box = (
            max(0, min(flash_left, margin) - gap),
            max(0, timecode_top - gap),
            width,
            height,
        )
        title_box = (margin, margin, width - margin, dynamic_box[1] - gap)
        return cls(
            width=width,
            height=height,
            margin=margin,
            bar=bar,
            marker_width=max(3, round(unit * 0.012)),
            marker_overhang=marker_overhang,
            timecode_size=timecode_size,
            frame_label_size=frame_label_size,
            timecode_origin=(timecode_left, timecode_top),
            frame_label_origin=(width - margin, label_top),
            flash_box=flash_box,
            dynamic_box=dynamic_box,
            title_box=title_box,
        )


def _line_height(size: int) -> int:
    return round(size * 1.2)


def _stroke(size: int) -> int:
    # A dark outline keeps white text legible over any background hue.
    return max(1, round(size / 18))


def _digit_cell(size: int) -> int:
    font = _font(size)
    return math.ceil(max(font.getlength(d) for d in "0123456789"))


def _monospaced_width(text: str, *, size: int) -> int:
    font = _font(size)
    cell = _digit_cell(size)
    return sum(cell if ch.isdigit() else math.ceil(font.getlength(ch)) for ch in text)


def _draw_monospaced(draw: ImageDraw.ImageDraw, origin: tuple[int, int], text: str, *, size: int) -> None:
    # The bundled font has proportional digits; fixed cells stop the timecode
    # from jittering sideways as it counts, which would make it hard to read.
    font = _font(size)
    cell = _digit_cell(size)
    x, y = origin
    for ch in text:
        advance = cell if ch.isdigit() else math.ceil(font.getlength(ch))
        offset = (advance - font.getlength(ch)) / 2
        draw.text(
            (x + offset, y),
            ch,
            font=font,
            fill=WHITE,
            stroke_width=_stroke(size),
            stroke_fill=OUTLINE,
        )
        x += advance


def _seed_hue(seed: int) -> float:
    # Fibonacci hashing: consecutive seeds land far apart on the colour wheel,
    # so takes rendered with neighbouring seeds are easy to tell apart.
    return (seed * 40503 % 65536) / 65536


def _seed_colour(seed: int, *, value: float, saturation: float = 0.6) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(_seed_hue(seed), saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def _draw_static(*, layout: _Layout, title_lines: list[str], seed: int, duration_s: float) -> Image.Image:
    image = Image.new("RGB", (layout.width, layout.height))
    draw = ImageDraw.Draw(image)

    top = _seed_colour(seed, value=0.55)
    bottom = _seed_colour(seed, value=0.22)
    last_row = max(1, layout.height - 1)
    for y in range(layout.height):
        t = y / last_row
        draw.line(
            [(0, y), (layout.width, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )

    _draw_title(draw, layout=layout, lines=title_lines)

    # Track with a tick on every whole second, so the marker can be read like a ruler.
    x0, y0, x1, _ = layout.bar
    draw.rectangle(layout.bar, fill=(0, 0, 0))
    for second in range(1, math.ceil(duration_s)):
        x = round(x0 + (x1 - x0) * second / duration_s)
        draw.line(
            [(x, y0 - layout.marker_overhang), (x, y0)],
            fill=WHITE,
            width=max(1, layout.marker_width // 3),
        )
    draw.rectangle(layout.flash_box, outline=WHITE, width=max(1, layout.marker_width // 3))
    return image


def _draw_title(draw: ImageDraw.ImageDraw, *, layout: _Layout, lines: list[str]) -> None:
    lines = [str(raw).strip() for raw in lines]
    if not any(lines):
        return
    left, top, right, bottom = layout.title_box
    available_w = max(1, right - left)
    available_h = max(1, bottom - top)
    unit = min(layout.width, layout.height)
    preferred = max(10, round(unit * 0.065))
    smallest = max(10, round(unit * 0.03))

    # The caller wraps the prompt for us, but a long unbroken word or many
    # lines must still never spill off the frame: shrink first, then clip.
    widest = max(_font(preferred).getlength(line) for line in lines) or 1
    fit_w = preferred * (available_w - 2 * _stroke(preferred)) / widest
    fit_h = available_h / (len(lines) * 1.2)
    size = max(smallest, min(preferred, math.floor(fit_w), math.floor(fit_h)))
    font = _font(size)

    room = max(1, available_h // _line_height(size))
    if len(lines) > room:
        lines = [*lines[: room - 1], "…"] if room > 1 else ["…"]
    y = top
    for line in lines:
        text = _ellipsize(line, font=font, max_width=available_w - 2 * _stroke(size))
        draw.text(
            (left, y),
            text,
            font=font,
            fill=WHITE,
            stroke_width=_stroke(size),
            stroke_fill=OUTLINE,
        )
        y += _line_height(size)


def _ellipsize(text: str, *, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: int) -> str:
    if font.getlength(text) <= max_width:
        return text
    while text and font.getlength(text + "…") > max_width:
        text = text[:-1]
    return text + "…"


def _draw_dynamic(
    draw: ImageDraw.ImageDraw,
    *,
    layout: _Layout,
    index: int,
    fps: int,
    duration_s: float,
) -> None:
    seconds, frame_in_second = divmod(index, fps)
    _draw_monospaced(
        draw,
        layout.timecode_origin,
        f"{seconds:02d}:{frame_in_second:02d}",
        size=layout.timecode_size,
    )
    draw.text(
        layout.frame_label_origin,
        f"frame {index}",
        font=_font(layout.frame_label_size),
        fill=WHITE,
        anchor="ra",
        stroke_width=_stroke(layout.frame_label_size),
        stroke_fill=OUTLINE,
    )

    # Lit for the same ~80 ms as the audio beep, so lip-sync is checkable by eye and ear.
    if frame_in_second < max(1, round(fps * 0.08)):
        inset = max(1, layout.marker_width // 3)
        fx0, fy0, fx1, fy1 = layout.flash_box
        draw.rectangle((fx0 + inset, fy0 + inset, fx1 - inset, fy1 - inset), fill=FLASH)

    x0, y0, x1, y1 = layout.bar
    progress = min(1.0, index / fps / duration_s)
    x = round(x0 + (x1 - x0) * progress)
    draw.rectangle((x0, y0, x, y1), fill=(235, 235, 235))
    half = layout.marker_width // 2
    draw.rectangle(
        (x - half, y0 - layout.marker_overhang, x + half, y1 + layout.marker_overhang),
        fill=FLASH,
        outline=OUTLINE,
    )


def _video_frames(
    *, layout: _Layout, background: Image.Image, frame_count: int, fps: int, duration_s: float
) -> Iterator[Image.Image]:
    canvas = background.copy()
    draw = ImageDraw.Draw(canvas)
    clean = background.crop(layout.dynamic_box)
    for index in range(frame_count):
        canvas.paste(clean, layout.dynamic_box[:2])
        _draw_dynamic(draw, layout=layout, index=index, fps=fps, duration_s=duration_s)
        yield canvas


# --- sound -------------------------------------------------------------------


def _tone_hz(seed: int) -> int:
    # Whole-Hz pitches make one second of samples loop seamlessly.
    semitone = seed % 18
    return round(220 * 2 ** (semitone / 12))


def _one_second_of_audio(seed: int) -> bytes:
    tone_hz = _tone_hz(seed)
    beep_hz = 1000
    beep_samples = round(AUDIO_RATE * 0.08)
    ramp = round(AUDIO_RATE * 0.004)  # short fades so the beep itself does not pop
    samples = array("f", bytes(4 * AUDIO_RATE))
    for n in range(AUDIO_RATE):
        value = 0.06 * math.sin(2 * math.pi * tone_hz * n / AUDIO_RATE)
        if n < beep_samples:
            envelope = min(1.0, n / ramp, (beep_samples - n) / ramp)
            value += 0.3 * envelope * math.sin(2 * math.pi * beep_hz * n / AUDIO_RATE)
        samples[n] = value
    return samples.tobytes()


class _AudioSource:
    """Hands out planar-float stereo AAC frames in 1024-sample steps."""

    def __init__(self, *, seed: int, duration_s: float) -> None:
        self.total = round(duration_s * AUDIO_RATE)
        second = _one_second_of_audio(seed)
        self.pcm = (second * math.ceil(self.total / AUDIO_RATE + 1))[: 4 * self.total]
        self.position = 0

    def frames_until(self, sample: int) -> Iterator[av.AudioFrame]:
        # Called as video advances so audio and video packets reach the
        # muxer interleaved rather than all video first.
        while self.position < min(sample, self.total):
            count = min(AAC_FRAME_SAMPLES, self.total - self.position)
            chunk = self.pcm[4 * self.position : 4 * (self.position + count)]
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=count)
            for plane in frame.planes:
                plane.update(chunk)
            frame.sample_rate = AUDIO_RATE
            frame.time_base = Fraction(1, AUDIO_RATE)
            frame.pts = self.position
            self.position += count
            yield frame


# --- muxing ------------------------------------------------------------------


def _encode(
    target: Path,
    *,
    layout: _Layout,
    background: Image.Image,
    frame_count: int,
    fps: int,
    duration_s: float,
    audio: bool,
    seed: int,
) -> None:
    # faststart moves the index to the front so browsers can start playing
    # (and seeking) before the whole file has arrived.
    options = {"movflags": "+faststart"}
    with av.open(str(target), mode="w", format="mp4", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = layout.width
        video.height = layout.height
        video.pix_fmt = "yuv420p"
        video.time_base = Fraction(1, fps)
        # A keyframe every second keeps scrubbing snappy in the comparison view.
        video.codec_context.gop_size = fps
        video.options = {"preset": "ultrafast"}

        sound = None
        source = None
        if audio:
            sound = container.add_stream("aac", rate=AUDIO_RATE)
            sound.layout = "stereo"
            sound.format = "fltp"
            sound.time_base = Fraction(1, AUDIO_RATE)
            source = _AudioSource(seed=seed, duration_s=duration_s)

        images = _video_frames(
            layout=layout,
            background=background,
            frame_count=frame_count,
            fps=fps,
            duration_s=duration_s,
        )
        for index, image in enumerate(images):
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
            if sound is not None and source is not None:
                for audio_frame in source.frames_until((index + 1) * AUDIO_RATE // fps):
                    container.mux(sound.encode(audio_frame))

        if sound is not None and source is not None:
            for audio_frame in source.frames_until(source.total):
                container.mux(sound.encode(audio_frame))
            container.mux(sound.encode(None))
        container.mux(video.encode(None))


def extract_audio(video: Path, track: Path) -> None:
    """Write the sound of ``video`` alone to ``track`` (an .m4a), remuxed, not re-encoded.

    Like ``render_clip``, the file appears at ``track`` only once complete.
    """
    temp = track.with_name(f".{track.name}.{secrets.token_hex(6)}.part")
    try:
        with av.open(str(video)) as source, av.open(str(temp), mode="w", format="ipod") as target:
            incoming = source.streams.audio[0]
            outgoing = target.add_stream_from_template(incoming)
            for packet in source.demux(incoming):
                if packet.dts is None:  # the demuxer's empty flush packet
                    continue
                packet.stream = outgoing
                target.mux(packet)
        os.replace(temp, track)
    finally:
        temp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Shape:
    """What a simulator checks of a video it is sent (route 6's extensions): its length and frame rate."""

    duration_s: float
    frame_rate: float


def shape_of(data: bytes) -> Shape | None:
    """The length and frame rate an MP4's header declares, or None when it is no video."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            video = container.streams.video[0]
            rate = video.average_rate or video.guessed_rate
            duration = container.duration / av.time_base if container.duration else None
    except (av.error.FFmpegError, IndexError):
        return None
    if not duration or not rate:
        return None
    return Shape(duration_s=float(duration), frame_rate=float(rate))
