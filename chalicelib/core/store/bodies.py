"""Moving a caller's body into an upload, and OS errors told in words (both backends use them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from chalicelib.core.store.base import Upload

CHUNK = 1024 * 1024


class BodyReadError(Exception):
    """Carries an OSError raised while reading the caller's body (not the store's fault)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def copy_into(upload: Upload, body: bytes | IO[bytes]) -> None:
    """Write the whole body; an error reading the caller's stream is raised as it was."""
    try:
        for chunk in body_chunks(body):
            upload.write(chunk)
    except BodyReadError as failed:
        raise failed.error from None


def body_chunks(body: bytes | IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """The body in chunks; its own read errors are told apart from the store's write errors."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        yield bytes(body)
        return
    while True:
        try:
            chunk = body.read(size)
        except OSError as error:
            raise BodyReadError(error) from error
        if not chunk:
            return
        yield chunk


def os_reason(error: OSError) -> str:
    """An OSError's reason without the temp-file paths it may name."""
    if isinstance(error, FileExistsError | NotADirectoryError):
        return f"{error.strerror} (a part of the key's path is already an object)"
    if isinstance(error, IsADirectoryError):
        return f"{error.strerror} (the key is a folder holding other objects)"
    return error.strerror or str(error)
