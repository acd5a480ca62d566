"""Checking and storing an uploaded image before any provider sees it.

Providers take JPG, PNG and WebP up to 10 MB (seed 003). We open every upload
with Pillow as a real image, refuse decompression bombs and absurd sizes, and
keep a thumbnail for the editor and the cards.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, UnidentifiedImageError

from .models import InputImage

MAX_BYTES = 10 * 1024 * 1024
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MIN_SIDE = 64
MAX_SIDE = 8192
# Far above any real frame (8192² is 67 MP) yet far below what a bomb expands to.
MAX_PIXELS = 80_000_000
THUMB_SIZE = (320, 320)


def check_upload(upload) -> tuple[bytes, str, int, int]:
    """(bytes, MIME type, width, height) of a usable image, or a ValidationError in plain words."""
    if upload.size > MAX_BYTES:
        raise ValidationError(f"{upload.name} is {upload.size / 1e6:.1f} MB; images can be at most 10 MB.")
    data = upload.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                image.verify()
            # verify() leaves the image unusable; decode it fully once to catch truncation.
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(f"{upload.name} expands to too many pixels to be a real frame; it was refused.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(f"{upload.name} is not a readable JPG, PNG or WebP image.") from None
    if kind not in FORMATS:
        raise ValidationError(f"{upload.name} is a {kind} image; use JPG, PNG or WebP.")
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE:
        raise ValidationError(
            f"{upload.name} is {width}×{height}; images must be {MIN_SIDE} to {MAX_SIDE} pixels on each side."
        )
    return data, FORMATS[kind], width, height


def store_upload(upload, *, project, user) -> InputImage:
    data, mime_type, width, height = check_upload(upload)
    digest = hashlib.sha256(data).hexdigest()
    existing = InputImage.objects.filter(project=project, sha256=digest).first()
    if existing:
        return existing
    extension = mime_type.split("/")[1].replace("jpeg", "jpg")
    with Image.open(io.BytesIO(data)) as picture:
        thumb = picture.convert("RGB")
        thumb.thumbnail(THUMB_SIZE)
        buffer = io.BytesIO()
        thumb.save(buffer, "JPEG", quality=85)
    image = InputImage(
        project=project,
        original_name=upload.name[:200],
        mime_type=mime_type,
        width=width,
        height=height,
        bytes=len(data),
        sha256=digest,
        uploaded_by=user,
    )
    image.file.save(f"{digest[:16]}.{extension}", ContentFile(data), save=False)
    image.thumbnail.save(f"{digest[:16]}.jpg", ContentFile(buffer.getvalue()), save=False)
    image.save()
    return image
