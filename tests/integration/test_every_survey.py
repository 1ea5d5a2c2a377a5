"""Every survey within Lambda's limits: streaming writes, bounded reads, root discovery, time budget.

Large-data behaviour with small thresholds: S3 parts of 5 MiB (S3's minimum, enforced by moto)
and bodies of a few parts; a "full" TMPDIR is one where creating a temp file fails.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from chalicelib.core.http_client import PoliteClient
from chalicelib.core.settings import Settings
from chalicelib.core.store import S3Store, Store
from chalicelib.mirror.budget import Deadlines
from chalicelib.mirror.state import load_state
from chalicelib.mirror.sync import run_mirror
from support.faultserver import FaultServer
from support.paths import BUCKET, FIXTURES

ROOT = "/pub/time.series/"
OLD = FIXTURES / "bls" / "pr" / "2025-09-04"
NAMES = sorted(p.name for p in OLD.iterdir())
CONTACT = "ops@example.org"
PART = 5 * 1024 * 1024
WHEN = datetime(2025, 9, 4, 8, 30, tzinfo=UTC)


def big_body(size: int, seed: bytes = b"a") -> bytes:
    """Deterministic, incompressible-looking bytes (hash chain)."""
    block = b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(32768))  # 1 MiB
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def small_parts(store: Store) -> Store:
    """The store, with S3 parts of 5 MiB (multipart from the second part on), 1 MiB of each in memory."""
    if isinstance(store, S3Store):
        store.part_size, store.spool_memory = PART, 1 << 20
    return store


@pytest.fixture
def server():
    with FaultServer() as source:
        yield source


@pytest.fixture
def client():
    with PoliteClient(CONTACT, requests_per_second=1000, retries=2, timeout=5, sleep=lambda s: None) as polite:
        yield polite


def settings_for(server: FaultServer, *paths: str, **overrides) -> Settings:
    urls = ",".join(server.base_url + p for p in (paths or (ROOT + "pr/",)))
    return Settings.from_env({}, bls_source_urls=urls, bls_contact=CONTACT, **overrides)


def publish_pr(server: FaultServer, directory: str = ROOT + "pr/") -> None:
    server.publish_folder(directory, OLD, {name: WHEN for name in NAMES})


def s3_versions(store: S3Store, key: str) -> int:
    response = store.client.list_object_versions(Bucket=store.bucket, Prefix=store._full(key))
    return len(response.get("Versions", []))


def open_uploads(store: S3Store) -> list:
    return store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])


# --------------------------------------------------------------------------- the store's streaming write


def test_a_streamed_write_of_several_parts_is_stored_intact(small_parts):
    # GIVEN a body of 2.5 parts, written in chunks of 1 MiB
    store, body = small_parts, big_body(int(2.5 * PART))
    # WHEN it is streamed and committed with its SHA-256
    with store.upload("bls/xx/big", metadata={"source-url": "u"}, content_type="text/plain") as upload:
        for start in range(0, len(body), 1 << 20):
            upload.write(body[start:start + (1 << 20)])
        etag = upload.commit(hashlib.sha256(body).hexdigest())
    # THEN the object is byte-identical, with its metadata and ETag
    assert store.read("bls/xx/big").body == body
    head = store.head("bls/xx/big")
    assert head.etag == etag and head.metadata["source-url"] == "u" and head.content_type == "text/plain"
    if isinstance(store, S3Store):
        assert etag.endswith("-3") and open_uploads(store) == []  # 3 parts, nothing left open
    else:
        assert etag == hashlib.md5(body).hexdigest()


def test_an_abandoned_streamed_write_leaves_no_object_and_no_open_upload(small_parts):
    # GIVEN a stored object, then a streamed write of 2 parts to the same key that fails midway
    store = small_parts
    store.put("bls/xx/big", b"old")
    with pytest.raises(RuntimeError), store.upload("bls/xx/big") as upload:
        upload.write(big_body(2 * PART + 1))
        raise RuntimeError("the source broke")
    # THEN the old object is untouched, and no multipart upload (or temp file) is left behind
    assert store.read("bls/xx/big").body == b"old"
    if isinstance(store, S3Store):
        assert open_uploads(store) == []
    else:
        assert os.listdir(store.root / ".store" / "tmp") == []


# --------------------------------------------------------------------------- the mirror, streamed


class TempQuota:
    """A TMPDIR with `free` bytes for the pipeline's temp files (moto, standing in for S3, keeps its own)."""

    def __init__(self, free: int) -> None:
        self.free, self.used, self.peak = free, 0, 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import tempfile

        original = tempfile.TemporaryFile
        quota = self

        class Counted:
            def __init__(self, inner) -> None:
                self.inner, self.size = inner, 0

            def write(self, data) -> int:
                if quota.used + len(data) > quota.free:
                    raise OSError(errno.ENOSPC, "No space left on device")
                quota.used += len(data)
                quota.peak = max(quota.peak, quota.used)
                self.size += len(data)
                return self.inner.write(data)

            def close(self) -> None:
                quota.used -= self.size
                self.size = 0
                self.inner.close()

            def __getattr__(self, name):
                return getattr(self.inner, name)

        def temporary_file(*args, **kwargs):
            return Counted(original(*args, **kwargs)) if _called_by_the_pipeline() else original(*args, **kwargs)

        monkeypatch.setattr(tempfile, "TemporaryFile", temporary_file)
        for name in ("NamedTemporaryFile", "mkstemp"):  # never used for TMPDIR by the pipeline
            real = getattr(tempfile, name)
            monkeypatch.setattr(tempfile, name, _refuse_for_the_pipeline(real))


def _called_by_the_pipeline() -> bool:
    """Whose temp file is it? The nearest caller that is the pipeline's code or moto's."""
    import sys

    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith(("chalicelib", "moto")):
            return module.startswith("chalicelib")
        frame = frame.f_back
    return False


def _refuse_for_the_pipeline(original):
    def create(*args, **kwargs):
        if kwargs.get("dir") is None and _called_by_the_pipeline():
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(*args, **kwargs)
    return create


def test_a_file_larger_than_the_free_temp_space_is_mirrored(server, small_parts, client, monkeypatch):
    # GIVEN a TMPDIR with room for 1.5 parts, and a file of 2.6 parts at the source
    quota = TempQuota(int(1.5 * PART))
    quota.install(monkeypatch)
    store, body = small_parts, big_body(int(2.6 * PART))
    server.publish(ROOT + "pr/pr.data.big", body, WHEN)
    # WHEN the mirror runs
    result = run_mirror(settings_for(server), store, client=client).to_dict()
    # THEN the file is stored byte for byte: S3 spooled one part at a time (before: the whole body),
    # the local store spooled in its own folder
    assert result["ok"] and result["added"] == ["pr.data.big"]
    assert store.read("bls/pr/pr.data.big").body == body
    if isinstance(store, S3Store):
        assert PART - store.spool_memory <= quota.peak <= PART + (1 << 20)
    else:
        assert quota.peak == 0


def test_identical_content_streams_but_writes_no_object_version_or_event(server, small_parts, client):
    # GIVEN a large file mirrored into a versioned bucket that notifies a queue of every write
    store, body = small_parts, big_body(int(2.2 * PART))
    queue_url = None
    if isinstance(store, S3Store):
        store.client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        queue_url = _notify_queue(store)
    server.publish(ROOT + "pr/pr.data.big", body, WHEN)
    assert run_mirror(settings_for(server), store, client=client).ok
    before = store.head("bls/pr/pr.data.big")
    events = _drain(store, queue_url)
    # WHEN the listing shows a new time, the conditional GET gets a 304 without validators (not
    # trusted), and the file comes again in full: the same bytes
    server.publish(ROOT + "pr/pr.data.big", body, datetime(2026, 1, 2, 8, 30, tzinfo=UTC))
    server.inject(ROOT + "pr/pr.data.big", "304_bare")
    result = run_mirror(settings_for(server), store, client=client).to_dict()
    # THEN the body was downloaded and compared, and nothing was written
    assert result["ok"] and result["unchanged"] == ["pr.data.big"] and result["bytes_downloaded"] == len(body)
    assert result["bytes_uploaded"] == 0
    assert store.head("bls/pr/pr.data.big").etag == before.etag
    if isinstance(store, S3Store):
        assert s3_versions(store, "bls/pr/pr.data.big") == 1
        assert open_uploads(store) == []
        assert events >= 1 and _drain(store, queue_url) == 0  # the first write notified; this run did not
    assert load_state(store, "pr")[0].files["pr.data.big"].listing_time == "1/2/2026 8:30 AM"


def _notify_queue(store: S3Store) -> str:
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    store.client.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return url


def _drain(store: Store, queue_url: str | None) -> int:
    """ObjectCreated records of the big file received (test events and other keys ignored)."""
    if queue_url is None:
        return 0
    import boto3

    sqs, count = boto3.client("sqs", region_name="us-east-1"), 0
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            records = json.loads(message["Body"]).get("Records", [])
            count += sum("pr.data.big" in r["s3"]["object"]["key"] for r in records)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return count


def test_a_body_failing_midway_leaves_no_object_and_no_open_upload(server, small_parts, client):
    # GIVEN a large file whose body always breaks after half of it (several parts already uploaded)
    store, body = small_parts, big_body(int(2.6 * PART))
    server.publish(ROOT + "pr/pr.data.big", body, WHEN)
    server.always(ROOT + "pr/pr.data.big", "truncate")
    # WHEN the mirror runs
    result = run_mirror(settings_for(server), store, client=client).to_dict()
    # THEN the file failed, nothing is stored, and no multipart upload is left open
    assert result["failed"] == ["pr.data.big"] and not result["ok"]
    assert list(store.list("bls/pr/")) == []
    if isinstance(store, S3Store):
        assert open_uploads(store) == []
    else:
        assert os.listdir(store.root / ".store" / "tmp") == []


# --------------------------------------------------------------------------- bounded downloads (issue 12, 3)


def test_an_endless_body_is_cut_at_the_listed_size(server, store, client):
    # GIVEN a file listed at 1,000 bytes whose body never ends (no Content-Length)
    server.publish(ROOT + "pr/pr.series", b"x" * 1000, WHEN)
    server.always(ROOT + "pr/pr.series", "endless")
    # WHEN the mirror runs (3 attempts allowed)
    result = run_mirror(settings_for(server), store, client=client).to_dict()
    # THEN each attempt stopped after at most one read past the limit, and nothing was stored
    assert result["failed"] == ["pr.series"]
    assert result["bytes_downloaded"] <= 3 * (1000 + (1 << 20))  # before: 400 MiB into the temp folder
    assert list(store.list("bls/pr/")) == []


SLOW = ROOT + "pr/pr.slow"


def publish_trickling(server: FaultServer) -> None:
    """The pr files, and pr.slow: 20 bytes (the smallest file, so fetched last), a byte every 0.2 s."""
    publish_pr(server)
    server.publish(SLOW, b"y" * 20, WHEN)
    server.always(SLOW, "trickle")


def late_clock(server: FaultServer) -> Callable[[], float]:
    """The monotonic clock, 1000 s late once pr.slow has been requested: every deadline has passed for
    it, and for no other file (one transfer at a time, the largest first: the others are done by then).
    No test waits for a real deadline, so a busy machine cannot fail one."""
    return lambda: time.monotonic() + (1000.0 if server.count("GET", SLOW) else 0.0)


def test_a_trickling_source_is_abandoned_at_the_per_file_deadline(server, store, client):
    # GIVEN one file that trickles a byte every 0.2 s, beside the real files
    publish_trickling(server)
    # WHEN the mirror runs (one transfer at a time) and pr.slow's per-file deadline passes while it trickles
    deadlines = Deadlines(per_file=60.0, clock=late_clock(server))
    result = run_mirror(settings_for(server, http_concurrency=1), store, client=client, deadlines=deadlines).to_dict()
    # THEN that file failed on its deadline (not retried), and every other file was mirrored
    assert result["failed"] == ["pr.slow"] and result["added"] == NAMES
    assert server.count("GET", SLOW) == 1
    assert server.sent[SLOW] < 20  # abandoned before the end


# --------------------------------------------------------------------------- root discovery


def publish_root(server: FaultServer) -> None:
    publish_pr(server)
    server.publish(ROOT + "la/la.series", b"la series\r\n", WHEN)
    server.publish(ROOT + "la/maps/map.pdf", b"%PDF", WHEN)  # a sub-directory inside a survey
    server.publish(ROOT + "compressed/pr.zip", b"PK", WHEN)  # not a survey
    server.publish(ROOT + "overview.txt", b"about\r\n", WHEN)  # a file in the root


def test_the_root_listing_names_the_surveys_and_other_directories_are_skipped(server, store, client):
    # GIVEN the time-series root with surveys la and pr, a compressed/ folder and la/maps/
    publish_root(server)
    # WHEN the mirror is pointed at the root
    result = run_mirror(settings_for(server, ROOT), store, client=client).to_dict()
    # THEN both surveys are mirrored; compressed/ and la/maps/ are skipped and reported
    assert result["ok"] and result["complete"]
    assert [s["survey"] for s in result["surveys"]] == ["la", "pr"]
    assert result["added"] == ["la.series", *NAMES]
    assert result["skipped"] == ["compressed/", "la/maps/"]
    assert sorted({i.key.split("/")[1] for i in store.list("bls/")}) == ["la", "la.mirror", "pr", "pr.mirror"]
    assert result["source_requests"] == 2 + 1 + 12  # the surveys' listings and files (the root's below)
    # AND a no-op run costs 1 + number of surveys source requests
    server.reset_counts()
    again = run_mirror(settings_for(server, ROOT), store, client=client).to_dict()
    assert again["ok"] and again["unchanged"] == ["la.series", *NAMES]
    assert [r.path for r in server.requests] == [ROOT, ROOT + "la/", ROOT + "pr/"]


def test_a_survey_that_disappears_from_the_root_is_a_mass_delete(server, store, client):
    publish_root(server)
    assert run_mirror(settings_for(server, ROOT), store, client=client).ok
    # WHEN la/ is gone from the root
    server.clear_directory(ROOT + "la/")
    server.unpublish(ROOT + "la/maps/map.pdf")
    result = run_mirror(settings_for(server, ROOT), store, client=client).to_dict()
    # THEN nothing is deleted and the error says why
    assert not result["ok"] and result["deleted"] == []
    assert "la: the root listing no longer names this survey" in result["errors"][0]
    assert store.read("bls/la/la.series").body == b"la series\r\n"
    # AND allowed, the survey's files are deleted
    allowed = run_mirror(settings_for(server, ROOT), store, client=client, allow_mass_delete=True).to_dict()
    assert allowed["ok"] and allowed["deleted"] == ["la.series"]
    assert list(store.list("bls/la/")) == [] and list(store.list("bls/la.mirror/")) == []
    # AND the next run no longer knows the survey
    again = run_mirror(settings_for(server, ROOT), store, client=client).to_dict()
    assert again["ok"] and [s["survey"] for s in again["surveys"]] == ["pr"]


def test_the_comma_separated_list_still_works_beside_the_root(server, store, client):
    publish_root(server)
    result = run_mirror(settings_for(server, ROOT + "pr/", ROOT + "la/"), store, client=client).to_dict()
    assert result["ok"] and [s["survey"] for s in result["surveys"]] == ["pr", "la"]
    assert result["skipped"] == ["la/maps/"]


# --------------------------------------------------------------------------- time budget and continuation


def counting_clock(starts: int) -> Deadlines:
    """Deadlines that allow exactly `starts` checks to pass (one per survey and one per file)."""
    checks = itertools.count()

    class Counting(Deadlines):
        def can_start(self) -> bool:
            return next(checks) < starts

    return Counting()


def test_a_budget_stop_is_clean_and_the_next_run_finishes_without_downloading_again(server, store, client):
    # GIVEN the pr survey, and a budget that lets 5 transfers start (1 check for the survey, 5 files)
    publish_pr(server)
    server.reset_counts()
    first = run_mirror(settings_for(server), store, client=client, deadlines=counting_clock(6)).to_dict()
    # THEN the run is ok but not complete: 5 files stored and recorded, 7 pending, no in-sync marker
    assert first["ok"] and not first["complete"] and first["pending"] == 7
    assert first["surveys"][0]["pending"] == 7 and len(first["added"]) == 5
    state, _ = load_state(store, "pr")
    assert sorted(state.files) == sorted(first["added"])
    assert sorted(i.key[7:] for i in store.list("bls/pr/")) == sorted(first["added"])
    assert not [i for i in store.list("bls/pr.mirror/") if "in-sync" in i.key]
    # WHEN the next run has no limit
    server.reset_counts()
    second = run_mirror(settings_for(server), store, client=client).to_dict()
    # THEN it fetches only the 7 pending files, completes, and leaves the marker
    assert second["ok"] and second["complete"] and second["pending"] == 0
    assert sorted(second["added"]) == sorted(first["surveys"][0]["pending_files"])
    assert server.count("GET") == 1 + 7
    assert [i for i in store.list("bls/pr.mirror/") if "in-sync" in i.key]


def test_surveys_after_the_budget_are_not_reached(server, store, client):
    publish_root(server)
    # 1 check for la, 1 for its file, then nothing: pr is not reached
    result = run_mirror(settings_for(server, ROOT), store, client=client, deadlines=counting_clock(2)).to_dict()
    assert result["ok"] and not result["complete"] and result["not_reached"] == ["pr"]
    assert result["surveys"][1]["pending"] is None and result["added"] == ["la.series"]


def test_cli_time_budget_zero_stops_cleanly_with_exit_zero(server, tmp_path, capsys):
    from workstation.cli import main

    publish_pr(server)
    status = main(["mirror", "--json", "--store", str(tmp_path / "d"), "--contact", CONTACT,
                   "--source", server.base_url + ROOT + "pr/", "--time-budget", "0"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0 and document["ok"] and document["complete"] is False
    assert document["not_reached"] == ["pr"] and document["pending"] == 0


# --------------------------------------------------------------------------- visibility


def test_the_status_of_65_surveys_stays_small_and_shows_pending_work(local_store):
    from chalicelib.mirror.state import FileRecord, SurveyState, save_state
    from chalicelib.pipeline.continuation import MirrorRun, write_run
    from chalicelib.web.status import store_status

    # GIVEN 65 mirrored surveys of 25 files each, and a mirror run still going (pending work in two)
    surveys = [a + b for a in "abcdefghi" for b in "abcdefgh"][:65]
    for survey in surveys:
        files = {f"{survey}.f{i}": FileRecord(f"{survey}.f{i}", f"bls/{survey}/{survey}.f{i}", 1000 + i, "0" * 64,
                                               "e" * 32) for i in range(25)}
        save_state(local_store, SurveyState(survey, f"https://x/{survey}/", files, "2026-12-01T00:00:00Z",
                                            "2026-12-01T00:00:00Z"), None)
    write_run(local_store, MirrorRun("r1", 0.0, time.time() + 60, pending=7, pending_by_survey={"aa": 7, "ab": None},
                                     invocations=2), None)
    # WHEN the status is read as /api/status serves it (no file lists unless asked)
    status = store_status(local_store, "none").to_dict()
    # THEN every survey is summarised, the response is small, and the pending work is shown
    assert [s["survey"] for s in status["surveys"]] == surveys
    assert status["surveys"][0] == {"survey": "aa", "source_url": "https://x/aa/", "last_sync": "2026-12-01T00:00:00Z",
                                    "last_change": "2026-12-01T00:00:00Z", "file_count": 25,
                                    "bytes": sum(1000 + i for i in range(25))}
    assert len(json.dumps(status)) < 20_000  # with every file list: ~20x more
    assert len(json.dumps(store_status(local_store, "all").to_dict())) > 10 * len(json.dumps(status))
    assert status["mirror_run"] == {"run_id": "r1", "complete": False, "pending": 7,
                                    "pending_by_survey": {"aa": 7, "ab": None}, "surveys_not_reached": 0,
                                    "invocations": 2, "abandoned": {}, "failed_surveys": {}, "stopped": None,
                                    "problems": []}
    assert [s.survey for s in store_status(local_store, "ab,ac").surveys if s.files is not None] == ["ab", "ac"]


def test_a_transfer_still_running_at_the_runs_deadline_is_abandoned_as_pending(server, store, client):
    # GIVEN a file that trickles (a byte every 0.2 s) beside the real files, and a run whose
    # in-flight transfers are abandoned at a deadline (as in Lambda, before the timeout)
    publish_trickling(server)
    clock = late_clock(server)
    deadlines = Deadlines(abandon_at=clock() + 600, clock=clock)
    # WHEN the mirror runs (one transfer at a time) and the run's deadline passes while pr.slow trickles
    result = run_mirror(settings_for(server, http_concurrency=1), store, client=client, deadlines=deadlines).to_dict()
    # THEN the trickling file is pending (not failed), nothing of it is stored, the rest is mirrored
    assert result["ok"] and not result["complete"] and result["surveys"][0]["pending_files"] == ["pr.slow"]
    assert result["added"] == NAMES and not store.exists("bls/pr/pr.slow")
    assert not [i for i in store.list("bls/pr.mirror/") if "in-sync" in i.key]


def test_a_root_and_one_of_its_surveys_together_is_an_error_naming_the_root(server, store, client):
    # issue 19 point 14: `mirror --source <root>,<root>pr/` names the root, not the survey URL twice
    from chalicelib.core.errors import ConfigError

    publish_root(server)
    root_url = server.base_url + ROOT
    with pytest.raises(ConfigError) as error:
        run_mirror(settings_for(server, ROOT, ROOT + "pr/"), store, client=client)
    message = str(error.value)
    assert f"{root_url!r} (whose listing names" in message and "would both mirror to bls/pr/" in message
    assert "give the root alone" in message
