"""One file from the source into the store, streamed: never whole in memory or in a temp folder.

The body goes into a streaming upload (`Store.upload`) while it is hashed and counted.
Reading stops as soon as more bytes arrive than `Content-Length` or the listing's size
allows, or when the file's deadline passes. At the end, content equal to the stored
copy (same SHA-256) is abandoned — no new object, version or S3 event — and anything
that went wrong abandons the upload too (no object, no open multipart upload).
The result is a value (`FileResult`); nothing is mutated on the way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import requests
import urllib3

from chalicelib.core.errors import PipelineError, SourceError
from chalicelib.core.http_client import PoliteClient, Validators
from chalicelib.core.log import log_event
from chalicelib.core.store import Store, Upload
from chalicelib.mirror.budget import Deadlines
from chalicelib.mirror.plan import Fetch
from chalicelib.mirror.state import FileRecord

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class FileResult:
    """What became of one planned fetch.

    `record` is the file's new state record (None: claim nothing new); `pending` means not
    started, or abandoned at the run's deadline (the next run does it); `error` means failed.
    """

    fetch: Fetch
    record: FileRecord | None = None
    uploaded: bool = False
    not_modified: bool = False
    pending: bool = False
    abandoned: bool = False  # pending because the run's end came mid-transfer (started, not finished)
    error: str | None = None


class _IncompleteBody(Exception):
    """The body did not match what the response (or listing) announced: worth another attempt."""


class _OutOfTime(Exception):
    """The run's deadline passed during the transfer: abandoned, pending."""


@dataclass(frozen=True)
class _Known:
    """The stored copy's content, when it is intact: equal content needs no upload."""

    sha256: str | None
    size: int | None = None
    etag: str | None = None


class Transfer:
    """Transfers files of one survey; `count_bytes(n)` is told of every byte received."""

    def __init__(self, store: Store, client: PoliteClient, deadlines: Deadlines,
                 previous: dict[str, FileRecord], count_bytes: Callable[[int], None]) -> None:
        self.store = store
        self.client = client
        self.deadlines = deadlines
        self.previous = previous
        self.count_bytes = count_bytes

    def run(self, fetch: Fetch) -> FileResult:
        """Fetch one file (unless the run's budget is used up); errors end up in the result."""
        if not self.deadlines.can_start():
            return FileResult(fetch, pending=True)
        try:
            return self._transfer(fetch, self._known(fetch))
        except _OutOfTime:
            return FileResult(fetch, pending=True, abandoned=True)
        except PipelineError as error:
            return FileResult(fetch, error=str(error))

    def _known(self, fetch: Fetch) -> _Known:
        if not fetch.probe_store:
            return _Known(fetch.known_sha256)
        head = self.store.head(fetch.key)  # the state was lost: trust the stored copy's own checksum
        return _Known(head.metadata.get("sha256"), head.size, head.etag)

    def _transfer(self, fetch: Fetch, known: _Known) -> FileResult:
        # One budget of `retries + 1` requests per file, shared with the client's own retries
        # (429, 5xx, connection errors): here only a body that did not add up is retried, and a
        # SourceError from `get` (it has retried already) ends the file at once.
        budget = self.client.retry_budget()
        deadline, is_run_end = self.deadlines.file_deadline(self.deadlines.transfer_now())
        validators = fetch.validators
        while True:
            headers = {"Accept-Encoding": "identity"}  # Content-Length must be the body's length
            if validators:
                headers.update(validators.conditional_headers())
            response = self.client.get(fetch.url, headers=headers, stream=True, budget=budget)
            try:
                if response.status_code == 304:
                    if self._confirmed(fetch, validators, response):
                        return FileResult(fetch, self._bookkeeping(fetch, None), not_modified=True)
                    validators = None  # an unconfirmed 304: ask again for the whole file, now
                    continue
                if response.status_code != 200:
                    raise SourceError(f"GET {fetch.url} answered {response.status_code} {response.reason}")
                try:
                    return self._stream(fetch, response, known, (deadline, is_run_end))
                except _IncompleteBody as error:
                    if not budget.can_retry:
                        raise SourceError(
                            f"GET {fetch.url}: incomplete download after {budget.attempts} attempts ({error})"
                        ) from None
            finally:
                response.close()
            self.client.wait_before_retry(budget.attempts)

    def _confirmed(self, fetch: Fetch, validators: Validators | None, response: requests.Response) -> bool:
        """True if a 304 carries the validators stored for the file (else it proves nothing)."""
        if fetch.known_sha256 is None or not validators:  # only intact files are asked conditionally
            raise SourceError(f"GET {fetch.url}: 304 Not Modified for a file that must be fetched")
        if validators.confirmed_by(response):
            return True
        log_event("unconfirmed_not_modified", file=fetch.name, url=fetch.url,
                  etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified"))
        return False

    def _stream(self, fetch: Fetch, response: requests.Response, known: _Known,
                deadline: tuple[float, bool]) -> FileResult:
        source = Validators.of(response)
        last_modified = source.last_modified
        metadata = {"source-url": response.url}  # after same-host redirects: where the bytes came from
        if last_modified:
            metadata["source-last-modified"] = last_modified
        with self.store.upload(fetch.key, metadata=metadata, content_type="text/plain") as upload:
            sha256, size = self._receive(fetch, response, upload, deadline)
            if known.sha256 == sha256 and known.size in (None, size):
                upload.abort()  # the same bytes: no new object, version or event
                return FileResult(fetch, self._bookkeeping(fetch, source, sha256, size, known.etag))
            etag = upload.commit(sha256)
        record = FileRecord(
            name=fetch.name, key=fetch.key, size=size, sha256=sha256, etag=etag,
            last_modified=last_modified, listing_size=fetch.size_text, listing_time=fetch.time_text,
            source_etag=source.etag,
        )
        return FileResult(fetch, record, uploaded=True)

    def _receive(self, fetch: Fetch, response: requests.Response, upload: Upload,
                 deadline: tuple[float, bool]) -> tuple[str, int]:
        """Stream the body into `upload`, hashing and counting, within the size and time allowed."""
        limit = allowed_size(response.headers.get("Content-Length"), fetch.expected_size)
        digest, size = hashlib.sha256(), 0
        while True:
            try:
                # read1: whatever has arrived (at most one socket read), so the deadline is
                # checked at least once per read timeout even when the source trickles.
                chunk = response.raw.read1(_CHUNK, decode_content=True)
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as error:
                raise _IncompleteBody(f"connection broke after {size} bytes: {type(error).__name__}") from None
            if not chunk:
                break
            size += len(chunk)
            self.count_bytes(len(chunk))
            if limit is not None and size > limit:
                raise _IncompleteBody(f"more than the {limit} bytes announced arrived; stopped reading")
            _check_deadline(fetch, size, deadline, self.deadlines.transfer_now())
            digest.update(chunk)
            upload.write(chunk)
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) != size:
            raise _IncompleteBody(f"received {size} bytes, Content-Length said {announced}")
        if fetch.expected_size is not None and fetch.expected_size != size:
            raise _IncompleteBody(f"received {size} bytes, the listing said {fetch.expected_size}")
        return digest.hexdigest(), size

    def _bookkeeping(self, fetch: Fetch, source: Validators | None, sha256: str | None = None,
                     size: int | None = None, etag: str | None = None) -> FileRecord:
        """The stored copy is right: remember the new listing text (and the validators of a 200)."""
        previous = self.previous.get(fetch.name)
        source = source or Validators()
        if previous is None:
            assert sha256 is not None and size is not None and etag is not None
            return FileRecord(fetch.name, fetch.key, size, sha256, etag, source.last_modified,
                              fetch.size_text, fetch.time_text, source.etag)
        if source:  # a full answer: its validators replace the remembered ones
            previous = replace(previous, last_modified=source.last_modified, source_etag=source.etag)
        return replace(previous, listing_size=fetch.size_text, listing_time=fetch.time_text)


def allowed_size(content_length: str | None, listed: int | None) -> int | None:
    """The most bytes a body may have: the smaller of Content-Length and the listing's size."""
    limits = [int(content_length)] if content_length and content_length.isdigit() else []
    if listed is not None:
        limits.append(listed)
    return min(limits) if limits else None


def _check_deadline(fetch: Fetch, size: int, deadline: tuple[float, bool], now: float) -> None:
    when, is_run_end = deadline
    if now <= when:
        return
    if is_run_end:
        raise _OutOfTime()
    raise SourceError(f"GET {fetch.url}: not complete within the per-file deadline ({size} bytes received)")


__all__ = ["FileResult", "Transfer", "allowed_size"]
