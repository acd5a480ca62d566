"""Media through Django's storage API, whichever backend holds it: the local folder or S3-compatible object storage.

Only what the storage API leaves out lives here. Reading part of a file: django-storages' S3 file
downloads the whole object before the first byte, so a byte range is asked of the object store
itself. Storing a local file: `storage.save` with the open file, which boto3 uploads in parts (a
multipart upload past 8 MiB, a bounded number of parts in memory at once). Removing files: only
once the rows that named them are gone for good.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile

log = logging.getLogger(__name__)

CHUNK = 256 * 1024


def storage_errors() -> tuple[type[BaseException], ...]:
    """What a storage call raises when the store is unreachable or refuses: worth a retry, not a crash.

    boto3 (17 MiB) is imported only by a process that uses object storage, not by every process
    that loads the app; a botocore error can only be raised where botocore was imported.
    """
    if (botocore := sys.modules.get("botocore.exceptions")) is None:
        return (OSError,)
    return (OSError, botocore.BotoCoreError, botocore.ClientError)


def is_object_storage(storage) -> bool:
    """Whether `storage` is django-storages' S3 backend (whose module is loaded only when one is used)."""
    backend = storage.__class__  # loads a lazy storage (`default_storage`), and with it its module
    s3 = sys.modules.get("storages.backends.s3")
    return s3 is not None and issubclass(backend, s3.S3Storage)


def read_range(file: FieldFile, start: int = 0, length: int | None = None) -> Iterator[bytes]:
    """The bytes of `file` from `start`, `length` of them (to the end if None), in chunks as they are read."""
    name, storage = file.name, file.storage
    if not name:
        raise ValueError("read_range needs a stored file")
    if length is not None and length <= 0:
        return
    if is_object_storage(storage):
        last = "" if length is None else str(start + length - 1)
        # The whole object without a Range header: "bytes=0-" is unsatisfiable on an empty one.
        ranged = {"Range": f"bytes={start}-{last}"} if start or length is not None else {}
        handle = storage.open(name, "rb")  # a HEAD request; nothing is downloaded yet
        try:
            body = handle.obj.get(**ranged)["Body"]  # type: ignore[attr-defined]  # an S3 file: its boto3 object
            try:
                yield from body.iter_chunks(CHUNK)
            finally:
                body.close()
        finally:
            handle.close()
        return
    with storage.open(name, "rb") as handle:
        handle.seek(start)
        while length is None or length > 0:
            chunk = handle.read(CHUNK if length is None else min(CHUNK, length))
            if not chunk:
                return
            if length is not None:
                length -= len(chunk)
            yield chunk


def save_local_file(file: FieldFile, name: str, path: Path) -> None:
    """Store the local file at `path` as `file` (its field's upload_to applies), streamed from disk."""
    with path.open("rb") as handle:
        file.save(name, File(handle, name=name), save=False)


def delete_on_commit(files: Iterable[FieldFile]) -> None:
    """Remove these files from storage once the transaction that deleted their rows commits (a
    rollback keeps both). A store that fails then leaves an orphan, logged, never a row without its file."""
    doomed = [(file.storage, file.name) for file in files if file.name]

    def delete() -> None:
        for storage, name in doomed:
            try:
                storage.delete(name)
            except storage_errors() as exc:
                log.warning("could not delete %s from storage: %s", name, exc)

    transaction.on_commit(delete)


def delete_folders_on_commit(folders: list[str]) -> None:
    """Remove every file in these folders of the default storage once the transaction commits."""

    def delete() -> None:
        for folder in folders:
            try:
                _dirs, names = default_storage.listdir(folder)
            except storage_errors():
                continue  # nothing was ever made there
            for name in names:
                try:
                    default_storage.delete(f"{folder}/{name}")
                except storage_errors() as exc:
                    log.warning("could not delete %s/%s from storage: %s", folder, name, exc)

    transaction.on_commit(delete)
