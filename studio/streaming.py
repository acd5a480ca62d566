"""Serving a file with HTTP Range support.

Browsers need 206 answers to seek in a <video>, and a download cut halfway is
resumed with Range; Django's FileResponse answers whole files only. Media in
storage (`ranged_storage_response`) is read a range at a time, from the local
folder or from the object store; a local path (the simulator's renders) too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from studio.storage import read_range

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def ranged_storage_response(request: HttpRequest, file: FieldFile, *, content_type: str) -> HttpResponseBase:
    """A file in storage (a clip, a poster, an image), whole or the range asked for."""
    return _ranged_response(
        request,
        size=file.size,
        read=lambda start, length: read_range(file, start, length),
        content_type=content_type,
    )


def _ranged_response(
    request: HttpRequest, *, size: int, read: Callable[[int, int], Iterator[bytes]], content_type: str
) -> HttpResponseBase:
    header = request.headers.get("Range", "").strip()
    match = RANGE.match(header) if header else None
    if not match or (not match.group(1) and not match.group(2)):
        whole = StreamingHttpResponse(read(0, size), content_type=content_type)
        whole["Content-Length"] = str(size)
        whole["Accept-Ranges"] = "bytes"
        return whole

    first, last = match.groups()
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:  # "bytes=-N": the last N bytes
        start = max(0, size - int(last))
        end = size - 1
    if start >= size or start > end:
        unsatisfiable = HttpResponse(status=416)
        unsatisfiable["Content-Range"] = f"bytes */{size}"
        return unsatisfiable

    response = StreamingHttpResponse(read(start, end - start + 1), status=206, content_type=content_type)
    response["Content-Length"] = str(end - start + 1)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response
