"""The polite HTTP client: identification, retries with backoff, Retry-After, clear 403; per-host pace,
same-origin redirects, identity encoding and validators (issue 12)."""

from __future__ import annotations

import io
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from chalicelib.core.errors import SourceError
from chalicelib.core.http_client import HostRateLimiter, HTTPStatusError, PoliteClient, Validators, user_agent
from chalicelib.core.settings import Settings
from support.faultserver import FaultServer
from workstation.sourceserver import SourceServer

PATH = "/pub/time.series/pr/pr.class"


class ScriptedServer(SourceServer):
    """Answers the first requests with scripted statuses, then normally."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        super().__init__()
        self.script = list(script)

    def fault(self, record, handler) -> bool:
        if record.path == PATH and self.script:
            status, headers = self.script.pop(0)
            record.status = status
            handler.send_body(status, b"busy", headers)
            return True
        return False


def make_client(sleeps: list[float], retries: int = 3) -> PoliteClient:
    return PoliteClient("ops@example.org", retries=retries, requests_per_second=1000, sleep=sleeps.append)


def test_user_agent_names_the_app_and_the_contact(source_server):
    source_server.publish(PATH, b"x")
    with make_client([]) as client:
        client.get(source_server.base_url + PATH)
    assert source_server.requests[0].headers["User-Agent"] == "bls-pipeline/0.1.0 (+ops@example.org)"
    assert user_agent("https://example.org/contact") == "bls-pipeline/0.1.0 (+https://example.org/contact)"


def test_retries_5xx_and_429_then_succeeds_honouring_retry_after():
    # GIVEN a source that answers 503, then 429 with Retry-After: 7, then the file
    server = ScriptedServer([(503, {}), (429, {"Retry-After": "7"})])
    server.publish(PATH, b"class\r\n")
    sleeps: list[float] = []
    with server, make_client(sleeps) as client:
        # WHEN the file is fetched
        response = client.get(server.base_url + PATH)
        # THEN it arrives after two retries, the second waiting exactly as asked
        assert response.content == b"class\r\n"
        assert client.requests_made == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and sleeps[1] == 7


def test_gives_up_after_the_retries_with_the_status_in_the_message():
    server = ScriptedServer([(502, {})] * 10)
    sleeps: list[float] = []
    with server, make_client(sleeps, retries=2) as client, pytest.raises(HTTPStatusError) as error:
        client.get(server.base_url + PATH)
    assert error.value.status == 502
    assert "502" in str(error.value) and "after 3 attempts" in str(error.value)
    assert len(sleeps) == 2


def test_backoff_grows_exponentially_and_is_capped():
    client = PoliteClient("ops@example.org", backoff_base=1.0, backoff_max=5.0)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        assert all(0 <= client.backoff(attempt) <= cap for _ in range(50))
    assert client.backoff(1, "120") == 5.0  # Retry-After is honoured up to the cap


def test_403_explains_the_contact_requirement(source_server):
    # GIVEN the source refuses this User-Agent (like BLS without a contact)
    source_server.publish(PATH, b"x")
    client = PoliteClient("ops@example.org", requests_per_second=1000)
    client.session.headers["User-Agent"] = "python-requests/2"
    with pytest.raises(HTTPStatusError) as error:
        client.get(source_server.base_url + PATH)
    assert error.value.status == 403
    assert "BLS_CONTACT" in str(error.value) and "403" in str(error.value)
    assert source_server.count("GET") == 1  # a 403 is not retried


def test_connection_refused_is_retried_then_a_source_error():
    sleeps: list[float] = []
    with make_client(sleeps, retries=1) as client, pytest.raises(SourceError, match="failed after 2 attempts"):
        client.get("http://127.0.0.1:9/nothing")
    assert len(sleeps) == 1


def test_a_redirect_loop_is_a_source_error_and_not_retried():
    # GIVEN a source that redirects a file to itself forever
    server = ScriptedServer([(302, {"Location": PATH})] * 100)
    sleeps: list[float] = []
    with server, make_client(sleeps) as client:
        # WHEN the file is fetched
        # THEN the failure is a SourceError naming the URL and the cause, and it is not retried
        with pytest.raises(SourceError, match=r"GET http://.*pr\.class failed: more than 3 redirects"):
            client.get(server.base_url + PATH)
        assert client.requests_made == 4  # the first request and 3 redirects, no retry
    assert sleeps == []


@pytest.mark.parametrize("url", ["http:///no-host", "ftp://example.org/pub/", "not a url"])
def test_an_unusable_url_is_a_source_error(url):
    # GIVEN a URL requests cannot even send (no host, a scheme it has no adapter for, no scheme)
    sleeps: list[float] = []
    with make_client(sleeps) as client:
        # WHEN it is fetched, THEN a SourceError names it, at once
        with pytest.raises(SourceError, match="GET .* failed: (InvalidURL|InvalidSchema|MissingSchema)"):
            client.get(url)
    assert sleeps == []


def test_a_body_broken_mid_way_is_retried_when_the_client_reads_it():
    # GIVEN a source that cuts the body short once (Content-Length says more)
    sleeps: list[float] = []
    with FaultServer() as server, make_client(sleeps) as client:
        server.publish(PATH, b"class\r\n" * 1000)
        server.inject(PATH, "truncate")
        # WHEN the file is fetched whole (not streamed)
        response = client.get(server.base_url + PATH)
        # THEN the broken body was retried like a connection error, and the whole file arrives
        assert response.content == b"class\r\n" * 1000
        assert client.requests_made == 2 and len(sleeps) == 1
        # AND a body that always breaks ends as a SourceError after the retries
        server.always(PATH, "truncate")
        with pytest.raises(SourceError, match="failed after 4 attempts"):
            client.get(server.base_url + PATH)


def test_a_shared_retry_budget_caps_the_requests_of_one_resource():
    # GIVEN a source answering 503 three times, then normally, and a budget of 1 + 3 attempts
    server = ScriptedServer([(503, {})] * 3)
    server.publish(PATH, b"class\r\n")
    sleeps: list[float] = []
    with server, make_client(sleeps, retries=3) as client:
        budget = client.retry_budget()
        # WHEN a caller spends two attempts of its own first (as the mirror does for broken bodies)
        budget.start()
        budget.start()
        # THEN get may only use the two left: 503, 503, and gives up
        with pytest.raises(HTTPStatusError, match="503"):
            client.get(server.base_url + PATH, budget=budget)
        assert client.requests_made == 2 and budget.attempts == 4 and not budget.can_retry


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


# --------------------------------------------------------------------------- fault review (issue 12)


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


def test_identity_is_asked_and_a_compressed_bomb_is_refused_with_bounded_memory():
    # GIVEN a source that answers gzip (64 MiB of zeros) whatever was asked
    with FaultServer() as server, make_client([]) as client:
        server.publish(PATH, b"class\r\n")
        server.always(PATH, "gzip_bomb")
        tracemalloc.start()
        try:
            # WHEN the file is fetched (read whole, as listings and the population are)
            with pytest.raises(SourceError) as caught:
                client.get(server.base_url + PATH)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # THEN the request asked for identity, the answer is refused unread, and memory stayed small
        assert server.requests[0].headers["Accept-Encoding"] == "identity"
        assert "Content-Encoding 'gzip' although 'identity' was asked" in str(caught.value)
        assert peak < 8 * 1024 * 1024
        assert client.requests_made == 1  # not retried


def test_a_body_read_whole_is_capped():
    with FaultServer() as server, PoliteClient("ops@example.org", requests_per_second=1000,
                                               max_body_bytes=1000) as client:
        server.publish(PATH, b"x" * 1001)
        with pytest.raises(SourceError, match="larger than 1000 bytes"):
            client.get(server.base_url + PATH)
        server.publish(PATH, b"x" * 1000)
        assert client.get(server.base_url + PATH).content == b"x" * 1000


def test_a_redirect_within_the_host_is_followed_and_the_response_says_where_the_bytes_came_from():
    with FaultServer() as server, make_client([]) as client:
        server.publish("/moved/pr.class", b"class\r\n")
        server.redirect(PATH, "/moved/pr.class")
        response = client.get(server.base_url + PATH)
        assert response.content == b"class\r\n"
        assert response.url == server.base_url + "/moved/pr.class"


@pytest.mark.parametrize("elsewhere", ["other host", "other scheme"])
def test_a_redirect_to_another_host_or_scheme_is_not_followed_and_the_contact_goes_nowhere_else(elsewhere):
    # GIVEN a source redirecting a file to another server (or to https on its own port)
    with FaultServer() as server, FaultServer() as other, make_client([]) as client:
        other.publish(PATH, b"class\r\n")
        target = other.base_url + PATH if elsewhere == "other host" else server.base_url.replace("http:", "https:") + PATH
        server.redirect(PATH, target)
        # WHEN the file is fetched
        with pytest.raises(SourceError) as caught:
            client.get(server.base_url + PATH)
        # THEN the error names the target and the rule, and the other server saw nothing
        assert f"was redirected to {target}: not followed" in str(caught.value)
        assert other.requests == [] and client.requests_made == 1


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

        def send(self, request, **kwargs):  # noqa: ANN001, ANN003 - requests' adapter signature
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
