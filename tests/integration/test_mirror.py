"""The mirror end to end: a local BLS-like source (with faults) into both store backends.

Uses the two real vintages of the `pr` directory and the real listing page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chalicelib.core.errors import ConfigError, PreconditionFailed
from chalicelib.core.http_client import PoliteClient
from chalicelib.core.layout import mirror_state_key
from chalicelib.core.settings import Settings
from chalicelib.core.store import S3Store, Store
from chalicelib.mirror.state import load_state
from chalicelib.mirror.status import mirror_status
from chalicelib.mirror.sync import run_mirror
from support.faultserver import FaultServer
from support.paths import FIXTURES
from workstation.cli import cmd_mirror

DIR = "/pub/time.series/pr/"
OLD = FIXTURES / "bls" / "pr" / "2025-09-04"
NEW = FIXTURES / "bls" / "pr" / "2026-08-06"
REAL_LISTING = FIXTURES / "bls" / "listings" / "pr_listing_2025-09-04.html"
NAMES = sorted(p.name for p in OLD.iterdir())
CHANGED = ["pr.data.0.Current", "pr.data.1.AllData", "pr.series"]
CONTACT = "ops@example.org"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# The times BLS shows for the files (the server renders them as listing text).
OLD_TIMES = {name: utc(2025, 9, 4, 8, 30) for name in NAMES} | {
    "pr.contacts": utc(2022, 9, 13, 16, 52),
    "pr.period": utc(1994, 1, 7, 15, 53),
    "pr.seasonal": utc(2011, 11, 18, 16, 5),
    "pr.txt": utc(2011, 11, 17, 17, 11),
}
NEW_TIMES = OLD_TIMES | {
    name: utc(2026, 8, 6, 8, 30)
    for name in ("pr.class", "pr.data.0.Current", "pr.data.1.AllData", "pr.duration", "pr.footnote",
                 "pr.measure", "pr.sector", "pr.series")
}


@pytest.fixture
def server():
    with FaultServer(slow_seconds=1.5) as source:
        yield source


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps):
    with PoliteClient(CONTACT, requests_per_second=1000, retries=3, timeout=5, sleep=sleeps.append) as polite:
        yield polite


def settings_for(server: FaultServer, *directories: str, **overrides) -> Settings:
    urls = ",".join(server.base_url + d for d in (directories or (DIR,)))
    return Settings.from_env({}, bls_source_urls=urls, bls_contact=CONTACT, **overrides)


def publish(server: FaultServer, folder: Path, times: dict[str, datetime], directory: str = DIR) -> None:
    server.clear_directory(directory)
    server.publish_folder(directory, folder, times)


def stored_files(store: Store, prefix: str = "bls/pr/") -> dict[str, bytes]:
    result = {}
    for info in store.list(prefix):
        with store.open(info.key) as stream:
            result[info.key[len(prefix):]] = stream.read()
    return result


def folder_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def mirror(server, store, client, **kwargs):
    server.reset_counts()
    return run_mirror(settings_for(server), store, client=client, **kwargs).to_dict()


class CountingStore(Store):
    """A store proxy counting the calls made to it (the S3 requests are counted separately)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.calls: Counter[str] = Counter()

    def list(self, prefix="", *, start_after=""):
        self.calls["list"] += 1
        return self.inner.list(prefix, start_after=start_after)

    def head(self, key):
        self.calls["head"] += 1
        return self.inner.head(key)

    def open(self, key):
        self.calls["open"] += 1
        return self.inner.open(key)

    def read(self, key):
        self.calls["read"] += 1
        return self.inner.read(key)

    def put(self, key, body, **kwargs):
        self.calls["put"] += 1
        return self.inner.put(key, body, **kwargs)

    def delete_many(self, keys):
        self.calls["delete_many"] += 1
        return self.inner.delete_many(keys)

    def begin_upload(self, key, **kwargs):
        self.calls["upload"] += 1
        return self.inner.begin_upload(key, **kwargs)


# --------------------------------------------------------------------------- the normal cycle


def test_first_sync_is_byte_identical_with_metadata_and_state(server, store, client):
    # GIVEN the real 2025-09-04 vintage at the source and an empty store
    publish(server, OLD, OLD_TIMES)
    # WHEN the mirror runs
    result = mirror(server, store, client)
    # THEN every file is stored byte for byte, and the report says so
    assert result["ok"] is True
    assert result["added"] == NAMES
    assert (result["updated"], result["deleted"], result["unchanged"], result["failed"]) == ([], [], [], [])
    total = sum(len(b) for b in folder_files(OLD).values())
    assert result["bytes_downloaded"] == result["bytes_uploaded"] == total == 4788275
    assert result["source_requests"] == 13
    assert stored_files(store) == folder_files(OLD)
    # AND each object carries its source URL, Last-Modified and SHA-256, as text/plain
    head = store.head("bls/pr/pr.series")
    body = (OLD / "pr.series").read_bytes()
    assert head.metadata == {
        "source-url": server.base_url + DIR + "pr.series",
        "source-last-modified": "Thu, 04 Sep 2025 08:30:00 GMT",
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    assert head.content_type == "text/plain"
    # AND on S3 the upload carried that SHA-256 as its checksum (S3 verifies the body against it)
    if isinstance(store, S3Store):
        raw = store.client.head_object(Bucket=store.bucket, Key=store._full("bls/pr/pr.series"), ChecksumMode="ENABLED")
        assert raw["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    # AND the state records each file as stored
    state, _ = load_state(store, "pr")
    record = state.files["pr.series"]
    assert (record.key, record.size, record.sha256, record.etag) == (
        "bls/pr/pr.series", 15657, hashlib.sha256(body).hexdigest(), head.etag,
    )
    assert (record.last_modified, record.listing_size, record.listing_time) == (
        "Thu, 04 Sep 2025 08:30:00 GMT", "15657", "9/4/2025 8:30 AM",
    )
    assert state.last_sync == state.last_change and state.last_sync.endswith("Z")


def test_rerun_costs_one_source_request_and_constant_store_requests(server, store, client):
    # GIVEN a completed first sync
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    state_etag = store.head(mirror_state_key("pr")).etag
    counting = CountingStore(store)
    s3_calls: list[str] = []
    if hasattr(store, "client"):
        store.client.meta.events.register("before-call.s3.*", lambda event_name, **_: s3_calls.append(event_name))
    # WHEN it runs again with nothing changed at the source
    server.reset_counts()
    result = run_mirror(settings_for(server), counting, client=client).to_dict()
    # THEN exactly one source request (the listing) and one LIST (the in-sync marker matches), no writes
    assert result["source_requests"] == 1
    assert [(r.method, r.path) for r in server.requests] == [("GET", DIR)]
    assert counting.calls == Counter({"list": 1})
    if hasattr(store, "client"):
        assert s3_calls == ["before-call.s3.ListObjectsV2"]
    assert result["unchanged"] == NAMES
    assert result["added"] == result["updated"] == result["deleted"] == result["failed"] == []
    assert result["bytes_downloaded"] == result["bytes_uploaded"] == 0
    assert store.head(mirror_state_key("pr")).etag == state_etag  # the state was not rewritten


def markers(store: Store, survey: str = "pr") -> list[str]:
    return [i.key for i in store.list(f"bls/{survey}.mirror/") if "/in-sync-" in i.key]


def test_the_in_sync_marker_is_replaced_by_each_complete_run_and_never_hides_a_change(server, store, client):
    # GIVEN a first sync, which leaves one in-sync marker
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    (first,) = markers(store)
    # WHEN the source changes
    publish(server, NEW, NEW_TIMES)
    result = mirror(server, store, client)
    # THEN the change is applied, and a new marker replaces the old one
    assert result["updated"] == CHANGED and result["ok"]
    (second,) = markers(store)
    assert second != first
    # AND the next run is the 2-request no-op again
    counting = CountingStore(store)
    again = run_mirror(settings_for(server), counting, client=client).to_dict()
    assert again["unchanged"] == NAMES and again["source_requests"] == 1 and counting.calls == Counter({"list": 1})


@pytest.mark.parametrize("edit", ["state", "file", "listing time"])
def test_anything_the_marker_digests_changing_makes_the_run_plan_in_full(server, store, client, edit):
    # GIVEN a synced survey
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN the state, a stored file or a listing entry changes
    if edit == "state":
        current = store.read(mirror_state_key("pr"))
        store.put(mirror_state_key("pr"), current.body.replace(b'"version": 1', b'"version":1'), if_match=current.etag)
    elif edit == "file":
        store.put("bls/pr/pr.class", b"edited by hand\r\n")
    else:
        publish(server, OLD, OLD_TIMES | {"pr.class": utc(2025, 9, 4, 9, 30)})
    counting = CountingStore(store)
    result = run_mirror(settings_for(server), counting, client=client).to_dict()
    # THEN the run reads the state and plans: the edited file is repaired, the new time is a 304
    assert result["ok"] and counting.calls["read"] == 1
    assert result["updated"] == (["pr.class"] if edit == "file" else [])
    assert stored_files(store) == folder_files(OLD)
    assert len(markers(store)) == 1


def test_a_run_that_failed_a_file_leaves_no_marker(server, store, client):
    publish(server, OLD, OLD_TIMES)
    server.always(DIR + "pr.series", "truncate")
    assert mirror(server, store, client)["failed"] == ["pr.series"]
    assert markers(store) == []
    # AND the same listing and store next time still plan (and retry the file)
    assert mirror(server, store, client)["failed"] == ["pr.series"]


def test_a_survey_whose_name_extends_another_is_not_mixed_with_it(server, store, client):
    # GIVEN two surveys, `pr` and `prx`, in one store (keys of `prx` follow `bls/pr/` in a LIST of `bls/pr`)
    publish(server, OLD, OLD_TIMES)
    server.publish("/pub/time.series/prx/prx.series", b"prx\r\n", utc(2025, 1, 1))
    settings = settings_for(server, DIR, "/pub/time.series/prx/")
    assert run_mirror(settings, store, client=client).ok
    # WHEN both run again with nothing changed
    counting = CountingStore(store)
    result = run_mirror(settings, counting, client=client).to_dict()
    # THEN each is a no-op of one LIST, and neither deletes the other's files
    assert result["ok"] and result["deleted"] == [] and result["unchanged"] == NAMES + ["prx.series"]
    assert counting.calls == Counter({"list": 2})
    assert store.read("bls/prx/prx.series").body == b"prx\r\n"


def test_a_no_change_run_reads_no_page_of_a_sibling_survey(server, s3_store, client):
    # GIVEN `pr` synced, and 1,500 keys of a survey `pr-x`, which sort before `bls/pr.mirror/`
    publish(server, OLD, OLD_TIMES)
    assert mirror(server, s3_store, client)["ok"]
    keys = [f"bls/pr-x/f{i:04d}" for i in range(1500)]
    for key in keys:
        s3_store.put(key, b"x")
    calls: list[str] = []
    s3_store.client.meta.events.register("before-call.s3.*", lambda event_name, **_: calls.append(event_name))
    # WHEN `pr` runs with nothing changed
    result = mirror(server, s3_store, client)
    # THEN it is still one LIST page, and the sibling's keys are untouched
    assert result["unchanged"] == NAMES and calls == ["before-call.s3.ListObjectsV2"]
    assert len(list(s3_store.list("bls/pr-x/"))) == 1500


def test_an_s3_folder_object_under_the_survey_is_ignored(server, s3_store, client):
    # GIVEN `pr` synced, then a console "Create folder" object `bls/pr/` (a key ending in '/')
    publish(server, OLD, OLD_TIMES)
    assert mirror(server, s3_store, client)["ok"]
    s3_store.client.put_object(Bucket=s3_store.bucket, Key=f"{s3_store.prefix}/bls/pr/".lstrip("/"), Body=b"")
    # WHEN the mirror runs
    result = mirror(server, s3_store, client)
    # THEN the run is a clean no-op (before: a delete of the invalid key failed every run)
    assert result["ok"] and result["unchanged"] == NAMES and result["deleted"] == []


def test_a_survey_named_like_the_bookkeeping_folder_is_a_config_error(server, store, client):
    settings = Settings.from_env({}, bls_source_urls=f"{server.base_url}/a/pr.mirror/", bls_contact=CONTACT)
    with pytest.raises(ConfigError, match="bookkeeping of survey 'pr'"):
        run_mirror(settings, store, client=client)


def test_vintage_change_uploads_exactly_the_changed_files(server, store, client):
    # GIVEN the old vintage mirrored
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN the source publishes the 2026-08-06 vintage (new times on 8 files, new bytes in 3)
    publish(server, NEW, NEW_TIMES)
    result = mirror(server, store, client)
    # THEN exactly the 3 changed files are uploaded, including pr.series of the same size
    assert (OLD / "pr.series").stat().st_size == (NEW / "pr.series").stat().st_size
    assert result["updated"] == CHANGED
    assert result["added"] == result["deleted"] == result["failed"] == []
    assert result["unchanged"] == [n for n in NAMES if n not in CHANGED]
    assert result["bytes_uploaded"] == sum((NEW / n).stat().st_size for n in CHANGED)
    assert stored_files(store) == folder_files(NEW)
    # AND the files with the same size but a new time were asked for conditionally (pr.series among
    # them); the 5 whose bytes did not change were compared by SHA-256 and not uploaded
    assert result["source_requests"] == 1 + 8
    conditional = sorted(r.path.rsplit("/", 1)[1] for r in server.requests if "If-Modified-Since" in r.headers)
    assert conditional == ["pr.class", "pr.duration", "pr.footnote", "pr.measure", "pr.sector", "pr.series"]
    # AND the next run is a no-op again
    again = mirror(server, store, client)
    assert again["source_requests"] == 1 and again["bytes_uploaded"] == 0


def test_files_removed_at_the_source_are_deleted(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN two files disappear from the source
    server.unpublish(DIR + "pr.txt")
    server.unpublish(DIR + "pr.contacts")
    result = mirror(server, store, client)
    # THEN they are deleted from the store and forgotten by the state
    assert result["deleted"] == ["pr.contacts", "pr.txt"]
    assert result["ok"] and result["bytes_uploaded"] == 0 and result["source_requests"] == 1
    assert sorted(stored_files(store)) == [n for n in NAMES if n not in ("pr.contacts", "pr.txt")]
    state, _ = load_state(store, "pr")
    assert sorted(state.files) == sorted(stored_files(store))
    # AND a file published under a new name is added
    server.publish(DIR + "pr.new", b"new\r\n", utc(2026, 1, 1))
    assert mirror(server, store, client)["added"] == ["pr.new"]
    assert store.read("bls/pr/pr.new").body == b"new\r\n"


def test_mass_delete_stops_unless_allowed(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN the listing suddenly names only 5 of the 12 files
    for name in NAMES[5:]:
        server.unpublish(DIR + name)
    result = mirror(server, store, client)
    # THEN nothing is deleted and the error explains the way out
    assert result["ok"] is False and result["deleted"] == []
    assert "no longer names 7 of the 12 mirrored files" in result["errors"][0]
    assert "--allow-mass-delete" in result["errors"][0]
    assert sorted(stored_files(store)) == NAMES
    # AND with --allow-mass-delete the deletes happen
    allowed = mirror(server, store, client, allow_mass_delete=True)
    assert allowed["ok"] and allowed["deleted"] == NAMES[5:]
    assert sorted(stored_files(store)) == NAMES[:5]


def test_hour_shifted_real_listing_uploads_nothing(server, store, client):
    # GIVEN the old vintage mirrored from a listing whose times are the usual ones (8:30 AM ...)
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN the source serves the real saved page, whose times are all one hour earlier
    server.listings[DIR] = REAL_LISTING.read_text()
    result = mirror(server, store, client)
    # THEN every file is asked for conditionally, answered 304, and nothing is downloaded or uploaded
    assert result["ok"] and result["unchanged"] == NAMES
    assert result["not_modified"] == 12
    assert result["bytes_downloaded"] == result["bytes_uploaded"] == 0
    assert result["source_requests"] == 13
    assert sorted(r.status for r in server.requests if r.path != DIR) == [304] * 12
    # AND the new listing text is remembered: the next run is 1 request
    assert mirror(server, store, client)["source_requests"] == 1
    assert stored_files(store) == folder_files(OLD)


@pytest.mark.parametrize("fault", ["garbage", "500", "empty", "only-parent"])
def test_a_broken_listing_deletes_nothing(server, store, client, fault):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    state_before = store.read(mirror_state_key("pr")).body
    # WHEN the listing is broken
    if fault == "empty":
        server.listings[DIR] = ""
    elif fault == "only-parent":
        server.listings[DIR] = '<html><body><pre><A HREF="/pub/time.series/">[To Parent Directory]</A></pre></body></html>'
    else:
        server.always(DIR, fault)
    result = mirror(server, store, client)
    # THEN the run fails with a message, and the store and state are untouched
    assert result["ok"] is False
    assert result["deleted"] == [] and len(result["errors"]) == 1
    assert server.base_url + DIR in result["errors"][0]
    assert stored_files(store) == folder_files(OLD)
    assert store.read(mirror_state_key("pr")).body == state_before


def test_hostile_listing_entries_never_leave_the_survey_prefix(server, store, client):
    # GIVEN a listing mixing one real file with links that point elsewhere
    server.publish(DIR + "pr.class", (OLD / "pr.class").read_bytes(), utc(2025, 9, 4, 8, 30))
    server.publish("/pub/time.series/secret", b"secret", utc(2025, 1, 1))
    server.publish("/etc/passwd", b"root", utc(2025, 1, 1))
    hrefs = ["../secret", "/pub/time.series/secret", "/etc/passwd", "http://evil.example/pub/time.series/pr/x",
             "/pub/time.series/pr/pr.class?x=1", "/pub/time.series/pr/..%2Fsecret", "%2e%2e/secret",
             "/pub/time.series/pr/sub/", "pr.class"]
    rows = "".join(f'  1/1/2025  1:00 PM          102 <A HREF="{h}">x</A><br>' for h in hrefs)
    server.listings[DIR] = f"<html><body><pre>{rows}</pre></body></html>"
    # WHEN the mirror runs
    result = mirror(server, store, client)
    # THEN only the real file is stored, under bls/pr/, and nothing outside was requested
    assert result["added"] == ["pr.class"] and result["ok"]
    keys = [info.key for info in store.list("")]
    assert keys[1:] == ["bls/pr.mirror/state.json", "bls/pr/pr.class"]
    assert re.fullmatch(r"bls/pr\.mirror/in-sync-[0-9a-f]{32}", keys[0])
    assert sorted({r.path for r in server.requests}) == [DIR, DIR + "pr.class"]


# --------------------------------------------------------------------------- politeness and faults


def test_403_without_a_contact_names_bls_contact(server, store):
    publish(server, OLD, OLD_TIMES)
    # GIVEN a client whose User-Agent carries no contact
    with PoliteClient("nobody", requests_per_second=1000, retries=0) as anonymous:
        result = run_mirror(settings_for(server), store, client=anonymous).to_dict()
    assert result["ok"] is False
    assert "403" in result["errors"][0] and "BLS_CONTACT" in result["errors"][0]
    assert list(store.list("")) == []
    # AND without BLS_CONTACT no client is even built: a configuration error
    no_contact = Settings.from_env({}, bls_source_urls=server.base_url + DIR)
    with pytest.raises(ConfigError, match="BLS_CONTACT"):
        run_mirror(no_contact, store)


def test_user_agent_and_concurrency_are_polite(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    assert {r.headers["User-Agent"] for r in server.requests} == {f"bls-pipeline/0.1.0 (+{CONTACT})"}


def test_5xx_and_429_are_retried_honouring_retry_after(server, store, client, sleeps):
    publish(server, OLD, OLD_TIMES)
    server.inject(DIR + "pr.series", "503", "429", "502")
    server.inject(DIR, "500")
    result = mirror(server, store, client)
    assert result["ok"] and result["added"] == NAMES
    assert stored_files(store) == folder_files(OLD)
    assert result["source_requests"] == 13 + 4
    assert 1.0 in sleeps  # the Retry-After of the 429


@pytest.mark.parametrize("fault", ["truncate", "reset_mid", "reset", "overlong", "slow"])
def test_a_body_fault_once_is_retried_and_stored_correctly(server, store, sleeps, fault):
    publish(server, OLD, OLD_TIMES)
    server.inject(DIR + "pr.data.1.AllData", fault)
    with PoliteClient(CONTACT, requests_per_second=1000, retries=3, timeout=0.5, sleep=sleeps.append) as quick:
        result = run_mirror(settings_for(server), store, client=quick).to_dict()
    assert result["ok"] and result["added"] == NAMES and result["failed"] == []
    assert stored_files(store) == folder_files(OLD)
    assert server.count("GET", DIR + "pr.data.1.AllData") == 2


@pytest.mark.parametrize("fault", ["truncate", "overlong", "reset_mid"])
def test_a_body_that_never_arrives_whole_is_never_stored(server, store, client, fault):
    # GIVEN a source that always breaks one file's body
    publish(server, OLD, OLD_TIMES)
    server.always(DIR + "pr.data.1.AllData", fault)
    # WHEN the mirror runs
    result = mirror(server, store, client)
    # THEN that file is reported failed after the retries, and the others complete
    assert result["ok"] is False
    assert result["failed"] == ["pr.data.1.AllData"]
    assert result["added"] == [n for n in NAMES if n != "pr.data.1.AllData"]
    assert server.count("GET", DIR + "pr.data.1.AllData") == 4  # 1 + 3 retries
    assert "pr.data.1.AllData" not in stored_files(store)
    assert stored_files(store) == {n: b for n, b in folder_files(OLD).items() if n != "pr.data.1.AllData"}
    # AND the state does not claim it
    state, _ = load_state(store, "pr")
    assert sorted(state.files) == [n for n in NAMES if n != "pr.data.1.AllData"]
    # AND once the source is healthy, the next run fetches just that file
    server.always(DIR + "pr.data.1.AllData", None)
    healed = mirror(server, store, client)
    assert healed["ok"] and healed["added"] == ["pr.data.1.AllData"] and healed["source_requests"] == 2
    assert stored_files(store) == folder_files(OLD)


def test_a_failed_update_keeps_the_previous_copy_and_retries_next_run(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN the new vintage arrives but pr.series breaks every time
    publish(server, NEW, NEW_TIMES)
    server.always(DIR + "pr.series", "truncate")
    result = mirror(server, store, client)
    # THEN the old pr.series stays stored and claimed; the other two changes are in
    assert result["failed"] == ["pr.series"] and result["updated"] == CHANGED[:2]
    assert store.read("bls/pr/pr.series").body == (OLD / "pr.series").read_bytes()
    state, _ = load_state(store, "pr")
    assert state.files["pr.series"].sha256 == hashlib.sha256((OLD / "pr.series").read_bytes()).hexdigest()
    # AND the next healthy run updates it
    server.always(DIR + "pr.series", None)
    assert mirror(server, store, client)["updated"] == ["pr.series"]
    assert stored_files(store) == folder_files(NEW)


def test_a_full_store_disk_fails_the_files_without_retrying_or_storing(server, store, client):
    from chalicelib.core.errors import StoreError

    # GIVEN a store whose streaming writes fail (a full disk, say)
    publish(server, OLD, OLD_TIMES)

    class FullDisk(CountingStore):
        def begin_upload(self, key, **kwargs):
            upload = self.inner.begin_upload(key, **kwargs)

            def write(chunk):
                raise StoreError(f"cannot write {key!r}: No space left on device")

            upload.write = write
            return upload

    # WHEN the mirror runs
    result = run_mirror(settings_for(server), FullDisk(store), client=client).to_dict()
    # THEN every file fails, once each (the source is not at fault), and nothing is stored
    assert result["failed"] == NAMES and result["ok"] is False
    assert result["source_requests"] == 13
    assert list(store.list("")) == []


def test_a_source_failing_forever_is_asked_retries_plus_one_times_per_file(server, store, client, sleeps):
    # GIVEN a source that answers 503 to every request for one file
    publish(server, OLD, OLD_TIMES)
    server.always(DIR + "pr.series", "503")
    # WHEN the mirror runs (the client allows 3 retries)
    result = mirror(server, store, client)
    # THEN that file was asked for exactly 1 + 3 times (not once more per retry of the mirror)
    assert server.count("GET", DIR + "pr.series") == 4
    assert result["failed"] == ["pr.series"] and result["source_requests"] == 13 + 3
    assert result["added"] == [n for n in NAMES if n != "pr.series"]


def test_client_retries_and_broken_bodies_share_one_budget_per_file(server, store, client):
    # GIVEN a source that answers one file with a 503, a body cut short, a 503, a body cut short
    publish(server, OLD, OLD_TIMES)
    server.inject(DIR + "pr.series", "503", "truncate", "503", "truncate")
    # WHEN the mirror runs (3 retries)
    result = mirror(server, store, client)
    # THEN the client's retries (503) and the mirror's (broken body) draw on one budget: 1 + 3
    # requests, and the file fails (before, each retry of the mirror got 3 retries of its own)
    assert server.count("GET", DIR + "pr.series") == 4
    assert result["failed"] == ["pr.series"] and result["ok"] is False
    assert "pr.series" not in stored_files(store)
    # AND a 503 then a broken body then the whole file completes within the budget
    server.inject(DIR + "pr.series", "503", "truncate")
    healed = mirror(server, store, client)
    assert healed["added"] == ["pr.series"] and server.count("GET", DIR + "pr.series") == 3
    assert stored_files(store) == folder_files(OLD)


def test_a_listing_body_broken_in_one_survey_does_not_stop_the_others(server, store, client):
    # GIVEN two surveys, the first of which always sends its listing cut short
    publish(server, OLD, OLD_TIMES)
    server.publish("/pub/time.series/cu/cu.series", b"cu series\r\n", utc(2025, 1, 1))
    server.always("/pub/time.series/cu/", "truncate")
    settings = settings_for(server, "/pub/time.series/cu/", DIR)
    # WHEN the mirror runs
    result = run_mirror(settings, store, client=client).to_dict()
    # THEN the broken survey is reported failed (after the retries) and the other one completes
    assert [(s["survey"], s["ok"]) for s in result["surveys"]] == [("cu", False), ("pr", True)]
    assert server.base_url + "/pub/time.series/cu/" in result["surveys"][0]["errors"][0]
    assert server.count("GET", "/pub/time.series/cu/") == 4
    assert result["added"] == NAMES and stored_files(store) == folder_files(OLD)
    assert list(store.list("bls/cu/")) == []


def test_a_store_write_error_in_one_survey_does_not_stop_the_others(server, local_store, client):
    # GIVEN a local store where a file sits at bls/cu (so nothing can be written under bls/cu/)
    store = local_store
    store.put("bls/cu", b"in the way")
    publish(server, OLD, OLD_TIMES)
    server.publish("/pub/time.series/cu/cu.series", b"cu series\r\n", utc(2025, 1, 1))
    settings = settings_for(server, "/pub/time.series/cu/", DIR)
    # WHEN the mirror runs cu first, then pr
    result = run_mirror(settings, store, client=client).to_dict()
    # THEN cu's file fails with the store's error, and pr is mirrored completely
    assert [(s["survey"], s["ok"]) for s in result["surveys"]] == [("cu", False), ("pr", True)]
    assert result["failed"] == ["cu.series"]
    assert result["added"] == NAMES and stored_files(store) == folder_files(OLD)
    assert store.read("bls/cu").body == b"in the way"
    assert not any((store.root / ".store" / "tmp").iterdir())


def test_the_same_files_from_another_origin_write_nothing(server, store, client):
    # GIVEN the old vintage mirrored from one server (like `run --offline`, whose port changes every run)
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    state_before = store.read(mirror_state_key("pr"))
    # WHEN the same files, with the same listing, are mirrored from a server at another base URL
    with FaultServer() as other:
        publish(other, OLD, OLD_TIMES)
        assert other.base_url != server.base_url
        counting = CountingStore(store)
        result = run_mirror(settings_for(other), counting, client=client).to_dict()
    # THEN nothing is written to the store: no file, and not the state either
    assert result["ok"] and result["unchanged"] == NAMES and result["source_requests"] == 1
    assert counting.calls["put"] == 0 and counting.calls["delete_many"] == 0
    assert store.read(mirror_state_key("pr")).etag == state_before.etag
    # AND the new source URL is recorded with the next real change
    with FaultServer() as other:
        publish(other, OLD, OLD_TIMES)
        other.publish(DIR + "pr.new", b"new\r\n", utc(2026, 1, 1))
        changed = run_mirror(settings_for(other), store, client=client).to_dict()
        assert changed["added"] == ["pr.new"]
        state, _ = load_state(store, "pr")
        assert state.source_url == other.base_url + DIR


# --------------------------------------------------------------------------- drift, verify, state


def test_out_of_band_deletes_and_edits_are_repaired_from_the_inventory(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN someone deletes one object and overwrites another in the store
    store.delete_many(["bls/pr/pr.txt"])
    store.put("bls/pr/pr.class", b"tampered", content_type="text/plain")
    result = mirror(server, store, client)
    # THEN both are restored, with only those two files fetched
    assert sorted(result["repaired"]) == ["pr.class", "pr.txt"]
    assert result["added"] == [] and sorted(result["updated"]) == ["pr.class", "pr.txt"]
    assert result["source_requests"] == 3
    assert stored_files(store) == folder_files(OLD)
    assert mirror(server, store, client)["source_requests"] == 1


def test_verify_finds_a_change_the_listing_cannot_show(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    # WHEN pr.series changes bytes but keeps its size and time
    server.publish(DIR + "pr.series", (NEW / "pr.series").read_bytes(), OLD_TIMES["pr.series"])
    plain = mirror(server, store, client)
    assert plain["updated"] == [] and plain["source_requests"] == 1
    # THEN --verify re-fetches everything and uploads only that file
    verified = mirror(server, store, client, verify=True)
    assert verified["updated"] == ["pr.series"] and verified["verify"] is True
    assert verified["source_requests"] == 13 and verified["bytes_uploaded"] == 15657
    assert stored_files(store) == folder_files(OLD) | {"pr.series": (NEW / "pr.series").read_bytes()}


def test_dry_run_prints_the_plan_and_changes_nothing(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    publish(server, NEW, NEW_TIMES)
    server.unpublish(DIR + "pr.txt")
    result = mirror(server, store, client, dry_run=True)
    assert result["dry_run"] is True
    assert result["updated"] == ["pr.class", "pr.data.0.Current", "pr.data.1.AllData", "pr.duration",
                                 "pr.footnote", "pr.measure", "pr.sector", "pr.series"]
    assert result["deleted"] == ["pr.txt"] and result["source_requests"] == 1
    assert {"action": "delete", "name": "pr.txt", "reason": "not in the listing"} in result["surveys"][0]["plan"]
    assert stored_files(store) == folder_files(OLD)


def test_a_lost_state_is_rebuilt_without_uploading(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    store.delete_many([mirror_state_key("pr")])
    result = mirror(server, store, client)
    assert result["ok"] and result["bytes_uploaded"] == 0 and result["unchanged"] == NAMES
    state, _ = load_state(store, "pr")
    assert sorted(state.files) == NAMES
    assert mirror(server, store, client)["source_requests"] == 1


def test_a_concurrent_state_write_is_merged_not_lost(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    publish(server, NEW, NEW_TIMES)

    class RacingStore(CountingStore):
        """Another run writes the state just before this run's first state write."""

        raced = False

        def put(self, key, body, **kwargs):
            if key == mirror_state_key("pr") and not self.raced:
                self.raced = True
                current = self.inner.read(key)
                document = json.loads(current.body)
                document["last_sync"] = "2030-01-01T00:00:00Z"
                self.inner.put(key, json.dumps(document).encode(), if_match=current.etag)
            return super().put(key, body, **kwargs)

    racing = RacingStore(store)
    result = run_mirror(settings_for(server), racing, client=client).to_dict()
    assert result["ok"] and result["updated"] == CHANGED
    assert racing.calls["upload"] == 8  # the 8 files with a new time streamed; 5 abandoned as identical
    assert racing.calls["put"] == 2 + 1  # the lost state write and the merged one, the marker
    state, _ = load_state(store, "pr")
    assert {n: r.etag for n, r in state.files.items()} == {i.key[7:]: i.etag for i in store.list("bls/pr/")}
    assert mirror(server, store, client)["source_requests"] == 1


def test_two_runs_at_the_same_time_leave_a_consistent_state(server, local_store, client):
    # Local backend only: moto's in-process S3 is not thread-safe when two threads write the
    # same key (it closes the replaced object's buffer under the other request). The S3 path
    # of the state race is covered by test_a_concurrent_state_write_is_merged_not_lost.
    # GIVEN the new vintage at the source and two mirror runs started together
    from concurrent.futures import ThreadPoolExecutor

    store = local_store

    publish(server, NEW, NEW_TIMES)

    def one_run(_: int) -> dict:
        with PoliteClient(CONTACT, requests_per_second=1000, retries=3, sleep=lambda s: None) as own:
            return run_mirror(settings_for(server), store, client=own).to_dict()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one_run, range(2)))
    # THEN neither fails a file, and the state describes exactly what is stored
    assert [r["failed"] for r in results] == [[], []]
    assert all(r["ok"] or "another mirror run" in r["errors"][0] for r in results)
    assert stored_files(store) == folder_files(NEW)
    state, _ = load_state(store, "pr")
    assert {n: r.etag for n, r in state.files.items()} == {i.key[7:]: i.etag for i in store.list("bls/pr/")}
    assert mirror(server, store, client)["source_requests"] == 1


def test_a_run_that_keeps_losing_the_state_race_fails_cleanly(server, store, client):
    publish(server, OLD, OLD_TIMES)

    class AlwaysLosing(CountingStore):
        def put(self, key, body, **kwargs):
            if key == mirror_state_key("pr"):
                raise PreconditionFailed("lost")
            return super().put(key, body, **kwargs)

    result = run_mirror(settings_for(server), AlwaysLosing(store), client=client).to_dict()
    assert result["ok"] is False and "another mirror run" in result["errors"][0]
    assert stored_files(store) == folder_files(OLD)  # the files written are complete


# --------------------------------------------------------------------------- surveys, status, CLI


def test_several_surveys_and_one_failing_does_not_stop_the_others(server, store, client):
    publish(server, OLD, OLD_TIMES)
    server.publish("/pub/time.series/cu/cu.series", b"cu series\r\n", utc(2025, 1, 1))
    settings = settings_for(server, "/pub/time.series/xx/", DIR, "/pub/time.series/cu/")
    result = run_mirror(settings, store, client=client).to_dict()
    assert result["ok"] is False
    assert [(s["survey"], s["ok"]) for s in result["surveys"]] == [("xx", False), ("pr", True), ("cu", True)]
    assert "404" in result["surveys"][0]["errors"][0]
    assert result["added"] == NAMES + ["cu.series"]
    assert store.read("bls/cu/cu.series").body == b"cu series\r\n"
    assert [s.survey for s in mirror_status(store)] == ["cu", "pr"]


def test_two_urls_mirroring_to_the_same_prefix_is_a_config_error(server, store, client):
    settings = Settings.from_env(
        {}, bls_source_urls=f"{server.base_url}/a/pr/,{server.base_url}/b/pr/", bls_contact=CONTACT
    )
    with pytest.raises(ConfigError, match="bls/pr/"):
        run_mirror(settings, store, client=client)


def test_mirror_status_describes_each_survey(server, store, client):
    publish(server, OLD, OLD_TIMES)
    mirror(server, store, client)
    (status,) = [survey.to_dict() for survey in mirror_status(store)]
    assert status["survey"] == "pr" and status["source_url"] == server.base_url + DIR
    assert status["last_sync"] == status["last_change"]
    assert [f["name"] for f in status["files"]] == NAMES
    assert status["files"][0] == {
        "name": "pr.class",
        "key": "bls/pr/pr.class",
        "size": 102,
        "sha256": "ed5e7641b5b990460f02a3189b22b48535abcdf3eb505ebfe820ef4c7a288bc9",
        "last_modified": "Thu, 04 Sep 2025 08:30:00 GMT",
    }


def test_cli_json_output(server, tmp_path, capsys, monkeypatch):
    from workstation.cli import main

    publish(server, OLD, OLD_TIMES)
    monkeypatch.setenv("HTTP_REQUESTS_PER_SECOND", "1000")
    argv = ["mirror", "--store", str(tmp_path / "data"), "--contact", CONTACT,
            "--source", server.base_url + DIR, "--json"]
    assert main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert {"added", "updated", "deleted", "unchanged", "failed", "bytes_downloaded", "bytes_uploaded",
            "source_requests"} <= set(document)
    assert document["added"] == NAMES and document["source_requests"] == 13
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["unchanged"] == NAMES and again["source_requests"] == 1


def test_command_text_output_and_exit_status(server, tmp_path):
    publish(server, OLD, OLD_TIMES)
    server.always(DIR + "pr.txt", "truncate")

    class Args:
        dry_run = verify = allow_mass_delete = json = False

    settings = settings_for(server, data_store=str(tmp_path / "data"), http_requests_per_second=1000.0,
                            http_retries=0)
    result, text, ok = cmd_mirror(Args(), settings)
    assert ok is False and result["failed"] == ["pr.txt"]
    assert text.splitlines()[0].startswith(f"pr ({server.base_url}{DIR} -> bls/pr/): add 11, update 0, delete 0")
    assert "FAILED  pr.txt" in text


def test_progress_is_reported_per_file(server, local_store, client):
    publish(server, OLD, OLD_TIMES)
    messages: list[str] = []
    run_mirror(settings_for(server), local_store, client=client, progress=messages.append)
    assert messages[0] == "pr: reading the listing"
    assert [m.split(",")[0] for m in messages[1:]] == [f"pr: {n}/12 files" for n in range(1, 13)]
    assert messages[-1] == "pr: 12/12 files, 4.8 MB downloaded"


def test_a_file_larger_than_a_multipart_part_streams_through_intact(server, store, client):
    # GIVEN S3 parts of 5 MiB (S3's minimum) and a file bigger than one part (built from the real data file)
    part_size = 5 * 1024 * 1024
    if isinstance(store, S3Store):
        store.part_size = part_size
    big = ((OLD / "pr.data.1.AllData").read_bytes() * 4)[: part_size + 12345]
    server.publish(DIR + "pr.data.big", big, utc(2025, 9, 4, 8, 30))
    # WHEN it is mirrored
    result = mirror(server, store, client)
    # THEN it is stored byte for byte with its SHA-256
    assert result["added"] == ["pr.data.big"] and result["bytes_uploaded"] == len(big)
    assert store.read("bls/pr/pr.data.big").body == big
    # AND its SHA-256 is in the state; in the object's metadata only where it was written in one
    # request (an S3 multipart upload's metadata is fixed before the hash is known)
    assert load_state(store, "pr")[0].files["pr.data.big"].sha256 == hashlib.sha256(big).hexdigest()
    expected = {} if isinstance(store, S3Store) else {"sha256": hashlib.sha256(big).hexdigest()}
    assert {k: v for k, v in store.head("bls/pr/pr.data.big").metadata.items() if k == "sha256"} == expected
