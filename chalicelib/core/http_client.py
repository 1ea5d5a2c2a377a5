"""The polite HTTP client shared by the mirror and the population fetch.

- User-Agent `<app>/<version> (+<contact>)`: BLS answers 403 without a contact.
- A request rate limit shared by all threads, and a connection pool sized to
  the concurrency the caller uses.
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
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from chalicelib import APP_NAME, __version__
from chalicelib.core.errors import SourceError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


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


class RateLimiter:
    """At most `rate` request starts per second, across threads."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        """Block until the next request may start."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class PoliteClient:
    """A requests session with identification, rate limit, timeouts and retries."""

    def __init__(
        self,
        contact: str,
        *,
        concurrency: int = 4,
        requests_per_second: float = 5.0,
        timeout: float = 60.0,
        retries: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.user_agent = user_agent(contact)
        self.timeout = timeout
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._limiter = RateLimiter(requests_per_second)  # real time: `sleep` is for backoff only
        self._count_lock = threading.Lock()
        self.requests_made = 0
        self.session = requests.Session()
        self.session.headers["User-Agent"] = self.user_agent
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(concurrency, 1), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @classmethod
    def from_settings(cls, settings: Any) -> PoliteClient:
        """A client configured from `Settings` (BLS_CONTACT is required)."""
        return cls(
            settings.require_contact(),
            concurrency=settings.http_concurrency,
            requests_per_second=settings.http_requests_per_second,
            timeout=settings.http_timeout,
            retries=settings.http_retries,
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __enter__(self) -> PoliteClient:
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
        """GET with retries. Returns responses below 400 (incl. 304); raises HTTPStatusError otherwise.

        Connection errors, timeouts, a body broken mid-way (read here unless `stream`), 429 and 5xx
        are retried while `budget` (default: a fresh one of `retries + 1` attempts) allows; any
        other failure of the request is a SourceError at once. With `stream=True` the caller must
        close the response.
        """
        budget = budget if budget is not None else self.retry_budget()
        while True:
            attempt = budget.start()
            self._limiter.wait()
            with self._count_lock:
                self.requests_made += 1
            try:
                response = self.session.get(url, headers=headers, stream=stream, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                # ChunkedEncodingError: the connection broke while the body was read (not streamed).
                if not budget.can_retry:
                    raise SourceError(f"GET {url} failed after {attempt} attempts: {error}") from None
                self._sleep(self.backoff(attempt))
                continue
            except requests.RequestException as error:  # bad URL, redirect loop, undecodable body, ...
                raise SourceError(f"GET {url} failed: {type(error).__name__}: {error}") from None
            if response.status_code < 400:
                return response
            response.close()
            if response.status_code in RETRY_STATUSES and budget.can_retry:
                self._sleep(self.backoff(attempt, response.headers.get("Retry-After")))
                continue
            raise _status_error(url, response, attempt, self.user_agent)


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
