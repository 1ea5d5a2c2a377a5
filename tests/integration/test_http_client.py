"""The polite HTTP client: identification, retries with backoff, Retry-After, clear 403."""

from __future__ import annotations

import pytest

from support.faultserver import FaultServer

from chalicelib.core.errors import SourceError
from chalicelib.core.http_client import HTTPStatusError, PoliteClient, RateLimiter, user_agent
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
    with server, make_client(sleeps, retries=2) as client:
        with pytest.raises(HTTPStatusError) as error:
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
    with make_client(sleeps, retries=1) as client:
        with pytest.raises(SourceError, match="failed after 2 attempts"):
            client.get("http://127.0.0.1:9/nothing")
    assert len(sleeps) == 1


def test_a_redirect_loop_is_a_source_error_and_not_retried():
    # GIVEN a source that redirects a file to itself forever
    server = ScriptedServer([(302, {"Location": PATH})] * 100)
    sleeps: list[float] = []
    with server, make_client(sleeps) as client:
        # WHEN the file is fetched
        # THEN the failure is a SourceError naming the URL and the cause, and it is not retried
        with pytest.raises(SourceError, match=r"GET http://.*pr\.class failed: TooManyRedirects"):
            client.get(server.base_url + PATH)
        assert client.requests_made == 1
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


def test_rate_limiter_spaces_request_starts():
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = RateLimiter(4.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.wait()
    assert waits == [0.25, 0.5, 0.75]
