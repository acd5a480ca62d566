"""The shape of a drawing on a paused frame, checked before it is stored.

A drawing is a list of shapes in the frame's own coordinates, 0..1 across and down, so it scales
to any player size. Each shape is one of:

    {"type": "pen", "color": "#ff5050", "points": [[x, y], ...]}      at most MAX_POINTS points
    {"type": "arrow", "color": "#ff5050", "from": [x, y], "to": [x, y]}
    {"type": "rect", "color": "#ff5050", "from": [x, y], "to": [x, y]}  two opposite corners
    {"type": "text", "color": "#ff5050", "at": [x, y], "text": "…"}   at most MAX_TEXT characters

Anything else, or more than MAX_SHAPES shapes, or more than MAX_BYTES of JSON, is refused with a
message that says what is wrong; nothing of it is stored.
"""

from __future__ import annotations

import json
import re

from django.core.exceptions import ValidationError

MAX_BYTES = 32_000
MAX_SHAPES = 60
MAX_POINTS = 600
MAX_TEXT = 200
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def parse_drawing(raw: str) -> list[dict] | None:
    """The drawing in `raw` (JSON text) as clean shapes; None for no drawing."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if len(raw.encode()) > MAX_BYTES:
        raise ValidationError(f"That drawing is too large to keep (over {MAX_BYTES // 1000} KB): draw fewer strokes.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValidationError("That drawing could not be read: it is not a drawing this page made.") from None
    if not isinstance(data, list):
        raise ValidationError("That drawing could not be read: it should be a list of shapes.")
    if not data:
        return None
    if len(data) > MAX_SHAPES:
        raise ValidationError(f"A drawing holds at most {MAX_SHAPES} shapes; that one has {len(data)}.")
    return [_shape(index, shape) for index, shape in enumerate(data, start=1)]


def _point(value, where: str) -> list[float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in value)
    ):
        raise ValidationError(f"{where} is not a point on the frame.")
    x, y = (float(n) for n in value)
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise ValidationError(f"{where} lies outside the frame.")
    return [round(x, 4), round(y, 4)]


def _shape(index: int, shape) -> dict:
    where = f"Shape {index}"
    if not isinstance(shape, dict):
        raise ValidationError(f"{where} is not a shape.")
    kind = shape.get("type")
    color = shape.get("color", "#ff5050")
    if not isinstance(color, str) or not COLOR.match(color):
        raise ValidationError(f"{where} has a colour that is not #rrggbb.")
    clean: dict = {"type": kind, "color": color.lower()}
    if kind == "pen":
        points = shape.get("points")
        if not isinstance(points, list) or not 2 <= len(points) <= MAX_POINTS:
            raise ValidationError(f"{where}: a pen stroke has 2 to {MAX_POINTS} points.")
        clean["points"] = [_point(p, f"{where}, point {n}") for n, p in enumerate(points, start=1)]
        allowed = {"type", "color", "points"}
    elif kind in ("arrow", "rect"):
        clean["from"] = _point(shape.get("from"), f"{where}'s start")
        clean["to"] = _point(shape.get("to"), f"{where}'s end")
        allowed = {"type", "color", "from", "to"}
    elif kind == "text":
        clean["at"] = _point(shape.get("at"), f"{where}'s place")
        text = shape.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise ValidationError(f"{where}: a label has 1 to {MAX_TEXT} characters.")
        if "\x00" in text:
            raise ValidationError(f"{where}: a label cannot hold a NUL character.")
        clean["text"] = text
        allowed = {"type", "color", "at", "text"}
    else:
        raise ValidationError(f"{where} is a kind of shape this page does not draw (pen, arrow, rect or text).")
    extra = set(shape) - allowed
    if extra:
        raise ValidationError(f"{where} carries something a drawing does not hold: {', '.join(sorted(extra))}.")
    return clean
