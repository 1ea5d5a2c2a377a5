"""The polite HTTP client shared by the mirror and the population fetch.

- User-Agent `<app>/<version> (+<contact>)`: BLS answers 403 without a contact.
- At most `requests_per_second` new requests per source host (default 1), shared by all
  threads (`HostRateLimiter`; its `last_request_at` can be saved and seeded, so the pace
  holds across invocations), and a connection pool sized to the caller's concurrency.
- Redirects are followed only within the scheme and host asked for (never https -> http,
  never to another host, so the contact User-Agent goes nowhere else); `response.url` is
  where the bytes came from.
- `Accept-Encoding: identity` on every request; a compressed answer is refused before its
  body is read (no decompression bomb), and a body read whole is capped at `max_body_bytes`.
- `Validators` (the source's ETag / Last-Modified): conditional request headers, and whether
  a 304 really confirms the stored version.
- Timeouts on every request; retries with exponential backoff and full jitter
  on 429, 5xx and connection errors, honouring `Retry-After`.
- Every other failure of `requests` (bad URL, redirect loop, ...) is a
  `SourceError`, so callers only ever see the pipeline's own errors.
- A caller with retries of its own (the mirror re-fetches a body that broke
  mid-way) passes a `RetryBudget`: both draw on it, so one resource is never
  asked more than `retries + 1` times in all.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from chalicelib import APP_NAME, __version__
from chalicelib.core.errors import SourceError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
MAX_BODY_BYTES = 32 * 1024 * 1024  # a listing page or an API answer read whole (files are streamed)


class HTTPStatusError(SourceError):
    """The source answered with an error status (after retries where they apply)."""

    def __init__(self, message: str, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class RetryBudget:
    """The attempts one resource may take, shared by `PoliteClient.get` and a caller's own retries."""

    def __init__(self, retries: int) -> None:
        self.retries = retries
        self.attempts = 0

    def start(self) -> int:
        """Count one more attempt; return its number (1-based)."""
        self.attempts += 1
        return self.attempts

    @property
    def can_retry(self) -> bool:
        """True while another attempt is allowed after the ones made."""
        return self.attempts <= self.retries


def user_agent(contact: str) -> str:
    """The User-Agent every request carries."""
    return f"{APP_NAME}/{__version__} (+{contact})"


def host_of(url: str) -> str:
    """`scheme://host[:port]` of a URL: the unit of politeness."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class HostRateLimiter:
    """At most `requests_per_second` request starts per host, across threads.

    Times are wall-clock seconds (`time.time`), so `last_request_at` (host -> time of the
    latest start granted) can be saved at the end of one invocation and passed to the next:
    a continuation does not start faster than the pace allows.
    """

    def __init__(self, requests_per_second: float, *, last_request_at: Mapping[str, float] | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / requests_per_second
        self._last = dict(last_request_at or {})
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    @property
    def last_request_at(self) -> dict[str, float]:
        """Per host, the start time of the latest request (to seed the next invocation's limiter)."""
        with self._lock:
            return dict(self._last)

    def wait(self, url: str) -> None:
        """Block until a new request to `url`'s host may start."""
        host = host_of(url)
        with self._lock:
            now = self._clock()
            previous = self._last.get(host)
            start = now if previous is None else max(now, previous + self.interval)
            self._last[host] = start
        if start > now:
            self._sleep(start - now)


@dataclass(frozen=True)
class Validators:
    """How the source identifies a version of a file: its `ETag` and `Last-Modified` headers."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def of(cls, response: requests.Response) -> Validators:
        """The validators a response carries."""
        return cls(response.headers.get("ETag"), response.headers.get("Last-Modified"))

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)

    def conditional_headers(self) -> dict[str, str]:
        """`If-None-Match` (when there is an ETag) and `If-Modified-Since` for a conditional GET."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def confirmed_by(self, response: requests.Response) -> bool:
        """True if a 304 carries these validators: the same ETag when one is known, else the
        same Last-Modified. A 304 without them (a stale cache, a replica) confirms nothing."""
        if self.etag:
            return _opaque(response.headers.get("ETag")) == _opaque(self.etag)
        if self.last_modified:
            stored = _http_date(self.last_modified)
            return stored is not None and _http_date(response.headers.get("Last-Modified")) == stored
        return False


class PoliteClient:
    """A requests session with identification, per-host pace, redirect policy, timeouts and retries."""

    def __init__(
        self,
        contact: str,
        *,
        concurrency: int = 4,
        requests_per_second: float = 1.0,
        timeout: float = 60.0,
        retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_body_bytes: int = MAX_BODY_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        limiter: HostRateLimiter | None = None,
    ) -> None:
        self.user_agent = user_agent(contact)
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_body_bytes = max_body_bytes
        self._sleep = sleep
        # Real time by default: `sleep` is for backoff only. Pass a seeded limiter to continue a pace.
        self.limiter = limiter or HostRateLimiter(requests_per_second)
        self._count_lock = threading.Lock()
        self.requests_made = 0
        self.session = requests.Session()
        self.session.headers["User-Agent"] = self.user_agent
        self.session.headers["Accept-Encoding"] = "identity"
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(concurrency, 1), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def from_settings(cls, settings: Any, *, last_request_at: Mapping[str, float] | None = None) -> PoliteClient:
        """A client configured from `Settings` (BLS_CONTACT is required); `last_request_at`
        seeds the pace with the request times of an earlier invocation."""
        return cls(
            settings.require_contact(),
            concurrency=settings.http_concurrency,
            timeout=settings.http_timeout,
            retries=settings.http_retries,
            limiter=HostRateLimiter(settings.http_requests_per_second, last_request_at=last_request_at),
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backoff(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based): Retry-After, or jittered backoff."""
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return min(seconds, self.backoff_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1)))

    def wait_before_retry(self, attempt: int, retry_after: str | None = None) -> None:
        """Sleep `backoff(attempt, retry_after)` with the injected sleep (for callers' own retries)."""
        self._sleep(self.backoff(attempt, retry_after))

    def retry_budget(self) -> RetryBudget:
        """A fresh budget of `retries + 1` attempts, for a caller that retries on its own too."""
        return RetryBudget(self.retries)

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        budget: RetryBudget | None = None,
    ) -> requests.Response:
        """GET with retries and same-origin redirects. Returns responses below 400 (incl. 304);
        raises HTTPStatusError for an error status and SourceError for any other failure.

        Connection errors, timeouts, a body broken mid-way (read here unless `stream`), 429 and 5xx
        are retried while `budget` (default: a fresh one of `retries + 1` attempts) allows. A
        redirect to another scheme or host, a compressed answer, or a body over `max_body_bytes`
        is a SourceError at once. With `stream=True` the caller must close the response.
        """
        budget = budget if budget is not None else self.retry_budget()
        origin = host_of(url)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._get_retrying(url, headers, stream, budget)
            if response.status_code not in REDIRECT_STATUSES:
                return response
            response.close()
            target = urljoin(url, response.headers.get("Location", ""))
            if host_of(target) != origin or urlsplit(target).scheme not in ("http", "https"):
                raise SourceError(
                    f"GET {url} was redirected to {target}: not followed, redirects are followed only "
                    f"within {origin} (never to another host, never from https to http)"
                )
            url = target
        raise SourceError(f"GET {url} failed: more than {MAX_REDIRECTS} redirects")

    def _get_retrying(
        self, url: str, headers: dict[str, str] | None, stream: bool, budget: RetryBudget
    ) -> requests.Response:
        """One resource, retried; redirects are returned (not followed) to `get`."""
        while True:
            attempt = budget.start()
            self.limiter.wait(url)
            with self._count_lock:
                self.requests_made += 1
            try:
                response = self.session.get(url, headers=headers, stream=True, timeout=self.timeout,
                                            allow_redirects=False)
                if response.status_code < 400:
                    _refuse_compressed(url, response)
                    if not stream and response.status_code not in REDIRECT_STATUSES:
                        self._read_body(url, response)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                # ChunkedEncodingError: the connection broke while the body was read (not streamed).
                if not budget.can_retry:
                    raise SourceError(f"GET {url} failed after {attempt} attempts: {error}") from None
                self._sleep(self.backoff(attempt))
                continue
            except requests.RequestException as error:  # bad URL, undecodable body, ...
                raise SourceError(f"GET {url} failed: {type(error).__name__}: {error}") from None
            if response.status_code < 400:
                return response
            response.close()
            if response.status_code in RETRY_STATUSES and budget.can_retry:
                self._sleep(self.backoff(attempt, response.headers.get("Retry-After")))
                continue
            raise _status_error(url, response, attempt, self.user_agent)

    def _read_body(self, url: str, response: requests.Response) -> None:
        """Read the body into `response.content`, refusing more than `max_body_bytes`."""
        chunks, size = [], 0
        try:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise SourceError(f"GET {url}: the answer is larger than {self.max_body_bytes} bytes; refused")
                chunks.append(chunk)
        finally:
            response.close()
        response._content = b"".join(chunks)  # what requests does when it reads the body itself


def _refuse_compressed(url: str, response: requests.Response) -> None:
    """Identity was asked for: a compressed body is refused unread (it could be a decompression bomb)."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        response.close()
        raise SourceError(
            f"GET {url} answered with Content-Encoding {encoding!r} although 'identity' was asked; "
            "compressed answers are refused (their decompressed size is unknown)"
        )


def _opaque(etag: str | None) -> str | None:
    """An ETag without its weakness prefix (If-None-Match compares weakly)."""
    return etag.strip().removeprefix("W/") if etag else None


def _http_date(value: str | None) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def _status_error(url: str, response: requests.Response, attempts: int, agent: str) -> HTTPStatusError:
    status = response.status_code
    if status == 403:
        return HTTPStatusError(
            f"GET {url} was refused (403 Forbidden). BLS blocks requests whose User-Agent has no "
            f"contact address; set BLS_CONTACT to your e-mail or URL (the User-Agent sent was {agent!r}).",
            status,
            url,
        )
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return HTTPStatusError(f"GET {url} answered {status} {response.reason}{tries}", status, url)


def _parse_retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
