"""Mirror faults from the fault review (issue 12): untrustworthy 304s, listings cut short,
compressed answers and redirects, against the raw-socket fault server, on both store backends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.core.http_client import PoliteClient
from chalicelib.core.settings import Settings
from chalicelib.mirror.state import load_state
from chalicelib.mirror.sync import run_mirror
from support.faultserver import FaultServer
from workstation.sourceserver import entity_tag

DIR = "/pub/time.series/pr/"
CONTACT = "ops@example.org"
T0 = datetime(2025, 9, 4, 12, 30, 5, tzinfo=UTC)
NAMES = [f"pr.file{n:02d}" for n in range(10)]


@pytest.fixture
def server():
    with FaultServer() as source:
        for name in NAMES:
            source.publish(DIR + name, f"{name}\tvalue 1\r\n".encode(), T0)
        yield source


@pytest.fixture
def client():
    with PoliteClient(CONTACT, requests_per_second=1000, retries=2, timeout=5, sleep=lambda s: None) as polite:
        yield polite


def mirror(server, store, client, **overrides):
    settings = Settings.from_env({}, bls_source_urls=server.base_url + DIR, bls_contact=CONTACT, **overrides)
    server.reset_counts()
    return run_mirror(settings, store, client=client).to_dict()


def stored(store) -> dict[str, bytes]:
    return {info.key.removeprefix("bls/pr/"): store.read(info.key).body for info in store.list("bls/pr/")}


def test_a_304_without_the_stored_validators_is_not_trusted(server, store, client):
    # GIVEN a mirrored directory; the source remembered each file's ETag and Last-Modified
    mirror(server, store, client)
    remembered = load_state(store, "pr")[0].to_json()
    etag = entity_tag(server.resources[DIR + "pr.file03"])  # the source's, as remembered
    # WHEN a file is replaced by other bytes of the same size a minute later (the listing time
    # changes, the size does not) and a stale cache answers the conditional request 304 without validators
    server.publish(DIR + "pr.file03", b"pr.file03\tvalue 2\r\n", datetime(2025, 9, 4, 12, 31, tzinfo=UTC))
    server.inject(DIR + "pr.file03", "304_bare")
    result = mirror(server, store, client)
    # THEN the conditional request carried If-None-Match, the bare 304 was not believed, and the
    # file was fetched in full in the same run: the store holds the new bytes
    asked = [r for r in server.requests if r.path == DIR + "pr.file03"]
    assert [r.status for r in asked] == [304, 200]
    assert f'"source_etag": "{etag.replace(chr(34), chr(92) + chr(34))}"' in remembered.decode()
    assert asked[0].headers["If-None-Match"] == etag
    assert "If-None-Match" not in asked[1].headers and "If-Modified-Since" not in asked[1].headers
    assert result["ok"] and result["updated"] == ["pr.file03"] and result["not_modified"] == 0
    assert stored(store)["pr.file03"] == b"pr.file03\tvalue 2\r\n"
    # AND a 304 that does carry the stored validators is believed (the listing times alone changed)
    server.listings[DIR] = server.listing_html(DIR).replace(" PM ", " AM ")
    again = mirror(server, store, client)
    assert again["ok"] and again["not_modified"] == 10 and again["bytes_downloaded"] == 0


@pytest.mark.parametrize("fault", ["cut", "no closing tags", "gzip_bomb"])
def test_a_listing_cut_short_or_compressed_deletes_nothing_and_fails_the_run(server, store, client, fault):
    # GIVEN ten mirrored files
    mirror(server, store, client)
    before = stored(store)
    # WHEN the listing arrives cut short (no Content-Length, connection closed half-way; or a
    # page that stops without its closing tags), or compressed although identity was asked
    if fault == "no closing tags":
        page = server.listing_html(DIR)
        server.listings[DIR] = page[: page.index("pr.file06")] + "pr.file06</A><br>"
    else:
        server.inject(DIR, fault)
    result = mirror(server, store, client)
    # THEN nothing is deleted, the run fails, and the message says why
    assert result["ok"] is False and result["deleted"] == []
    expected = "Content-Encoding 'gzip'" if fault == "gzip_bomb" else "the listing page was cut short"
    assert len(result["errors"]) == 1 and expected in result["errors"][0]
    assert stored(store) == before


def test_the_stored_source_url_is_where_the_bytes_came_from(server, store, client):
    # GIVEN a file the source serves through a redirect within its own host
    server.publish("/mirror-b/pr.file00", b"pr.file00\tvalue 1\r\n", T0)
    server.redirect(DIR + "pr.file00", "/mirror-b/pr.file00")
    # WHEN it is mirrored
    assert mirror(server, store, client)["ok"]
    # THEN its metadata names the URL the bytes came from
    assert store.head("bls/pr/pr.file00").metadata["source-url"] == server.base_url + "/mirror-b/pr.file00"
    assert store.head("bls/pr/pr.file01").metadata["source-url"] == server.base_url + DIR + "pr.file01"
