"""The polite HTTP client's policies without a network: backoff, the per-host pace (on a frozen
clock), validators, the redirect rule (a stand-in transport). Served requests: tests/integration/test_http_client.py."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from chalicelib.core.errors import SourceError
from chalicelib.core.http_client import HostRateLimiter, PoliteClient, Validators
from chalicelib.core.settings import Settings


def make_client(sleeps: list[float], retries: int = 3) -> PoliteClient:
    return PoliteClient("ops@example.org", retries=retries, requests_per_second=1000, sleep=sleeps.append)


def test_backoff_grows_exponentially_and_is_capped():
    client = PoliteClient("ops@example.org", backoff_base=1.0, backoff_max=5.0)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        assert all(0 <= client.backoff(attempt) <= cap for _ in range(50))
    assert client.backoff(1, "120") == 5.0  # Retry-After is honoured up to the cap


def test_rate_limiter_spaces_request_starts_per_host():
    # GIVEN a limiter of 4 requests per second, on a frozen clock
    waits: list[float] = []
    limiter = HostRateLimiter(4.0, clock=lambda: 0.0, sleep=waits.append)
    # WHEN four requests go to one host and one to another host
    for _ in range(4):
        limiter.wait("http://a.example/x")
    limiter.wait("https://b.example/y")
    # THEN the starts on the first host are 0.25 s apart, and the other host is not held up
    assert waits == [0.25, 0.5, 0.75]
    assert limiter.last_request_at == {"http://a.example": 0.75, "https://b.example": 0.0}


def test_the_default_pace_is_one_request_per_second_per_host_shared_by_all_threads():
    # GIVEN a client built from the default settings
    settings = Settings.from_env({}, bls_contact="ops@example.org")
    assert settings.http_requests_per_second == 1.0
    waits: list[float] = []
    limiter = PoliteClient.from_settings(settings).limiter
    limiter._clock, limiter._sleep = (lambda: 100.0), waits.append
    # WHEN 8 downloads of one run start at once on 4 threads
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: limiter.wait(f"https://download.bls.gov/pub/f{n}"), range(8)))
    # THEN they start one second apart
    assert sorted(waits) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]


def test_the_pace_holds_across_invocations_when_the_limiter_is_seeded():
    # GIVEN the last request of an earlier invocation to a host, 0.4 s ago
    settings = Settings.from_env({}, bls_contact="ops@example.org")
    client = PoliteClient.from_settings(settings, last_request_at={"https://download.bls.gov": 99.6})
    waits: list[float] = []
    client.limiter._clock, client.limiter._sleep = (lambda: 100.0), waits.append
    # WHEN the continuation's first request to that host starts
    client.limiter.wait("https://download.bls.gov/pub/time.series/pr/")
    # THEN it waits for the rest of the second, and the new time can be carried on again
    assert waits == [pytest.approx(0.6)]
    assert client.limiter.last_request_at == {"https://download.bls.gov": pytest.approx(100.6)}


def test_validators_confirm_a_304_only_when_it_carries_the_stored_ones():
    class Answer:
        def __init__(self, **headers: str) -> None:
            self.headers = headers

    lm = "Thu, 04 Sep 2025 08:30:00 GMT"
    tagged, dated = Validators('"abc"', lm), Validators(None, lm)
    assert tagged.conditional_headers() == {"If-None-Match": '"abc"', "If-Modified-Since": lm}
    assert tagged.confirmed_by(Answer(ETag='"abc"')) and tagged.confirmed_by(Answer(ETag='W/"abc"'))
    assert not tagged.confirmed_by(Answer(ETag='"abd"', **{"Last-Modified": lm}))
    assert not tagged.confirmed_by(Answer(**{"Last-Modified": lm}))  # the ETag is known: it must match
    assert dated.confirmed_by(Answer(**{"Last-Modified": "Thu, 04 Sep 2025 08:30:00 +0000"}))
    assert not dated.confirmed_by(Answer(**{"Last-Modified": "Thu, 04 Sep 2025 08:31:00 GMT"}))
    assert not dated.confirmed_by(Answer()) and not Validators().confirmed_by(Answer(ETag='"abc"'))


def test_https_is_never_downgraded_by_a_redirect():
    # GIVEN an https source whose answer redirects to plain http on the same host (a transport
    # stand-in: no TLS server in the tests; the client's own redirect policy is what is tested)
    class Redirecting(requests.adapters.BaseAdapter):
        def __init__(self) -> None:
            super().__init__()
            self.urls: list[str] = []

        def send(self, request, **kwargs):
            self.urls.append(request.url)
            response = requests.Response()
            response.status_code, response.url, response.request = 302, request.url, request
            response.headers["Location"] = "http://download.bls.gov/pub/time.series/pr/pr.class"
            response.raw = io.BytesIO(b"")
            return response

        def close(self) -> None:
            pass

    transport = Redirecting()
    with make_client([]) as client:
        client.session.mount("https://", transport)
        client.session.mount("http://", transport)
        # WHEN the file is fetched, THEN the redirect is refused and no http request is made
        with pytest.raises(SourceError, match="redirected to http://download.bls.gov/.*: not followed"):
            client.get("https://download.bls.gov/pub/time.series/pr/pr.class")
    assert transport.urls == ["https://download.bls.gov/pub/time.series/pr/pr.class"]
