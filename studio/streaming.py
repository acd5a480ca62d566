"""Serving a file with HTTP Range support.

Browsers need 206 answers to seek in a <video>, and a download cut halfway is
resumed with Range; Django's FileResponse answers whole files only.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def ranged_file_response(request: HttpRequest, path: Path, *, content_type: str | None = None) -> HttpResponseBase:
    size = path.stat().st_size
    content_type = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    header = request.headers.get("Range", "").strip()
    match = RANGE.match(header) if header else None
    if not match or (not match.group(1) and not match.group(2)):
        whole = FileResponse(path.open("rb"), content_type=content_type)
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

    response = StreamingHttpResponse(_read(path, start, end - start + 1), status=206, content_type=content_type)
    response["Content-Length"] = str(end - start + 1)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response


def _read(path: Path, start: int, length: int):
    with path.open("rb") as handle:
        handle.seek(start)
        while length > 0:
            chunk = handle.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
