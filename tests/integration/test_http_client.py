"""The polite HTTP client: identification, retries with backoff, Retry-After, clear 403; per-host pace,
same-origin redirects, identity encoding and validators (issue 12)."""

from __future__ import annotations

import tracemalloc

import pytest

from chalicelib.core.errors import SourceError
from chalicelib.core.http_client import HTTPStatusError, PoliteClient, user_agent
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


# --------------------------------------------------------------------------- fault review (issue 12)


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
        own_https = server.base_url.replace("http:", "https:")
        target = other.base_url + PATH if elsewhere == "other host" else own_https + PATH
        server.redirect(PATH, target)
        # WHEN the file is fetched
        with pytest.raises(SourceError) as caught:
            client.get(server.base_url + PATH)
        # THEN the error names the target and the rule, and the other server saw nothing
        assert f"was redirected to {target}: not followed" in str(caught.value)
        assert other.requests == [] and client.requests_made == 1
