"""The periodic deep check (issue 12, point 1): a change the listing cannot show is caught
within DEEP_CHECK_DAYS, by the default ingestion alone (the daily schedule in AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.layout import INGESTION_RECORD_KEY
from chalicelib.pipeline.ingestion import deep_check_due, ingest, last_ingestion
from support.faultserver import FaultServer
from support.pipeline_sources import publish_population, source_settings

DIR = "/pub/time.series/pr/"
NAMES = ["pr.class", "pr.series", "pr.txt"]


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@pytest.fixture
def server():
    with FaultServer() as source:
        publish_population(source)
        for name in NAMES:
            source.publish(DIR + name, f"{name} version A\r\n".encode(), datetime(2026, 3, 2, 12, 30, 5, tzinfo=UTC))
        yield source


def age_last_deep_check(store, days: float) -> None:
    """Pretend the recorded deep check happened `days` ago."""
    record = last_ingestion(store).to_dict()
    record["last_deep_check"] = iso(datetime.now(UTC) - timedelta(days=days))
    store.put(INGESTION_RECORD_KEY, json.dumps(record).encode(), content_type="application/json")


def test_a_file_replaced_twice_within_one_listing_minute_is_caught_by_the_deep_check(server, store):
    settings = source_settings(server, "unused")
    # GIVEN a first ingestion: it fetches everything, which counts as a deep check
    first = ingest(settings, store)
    assert first.ok and last_ingestion(store).last_deep_check is not None
    # WHEN pr.series is replaced by other bytes of the same size within the same listing minute
    server.publish(DIR + "pr.series", b"pr.series version B\r\n", datetime(2026, 3, 2, 12, 30, 50, tzinfo=UTC))
    age_last_deep_check(store, 3)
    # THEN a daily run cannot see it (the listing reads the same) ...
    daily = ingest(settings, store).to_dict()["mirror"]
    assert daily["unchanged"] == NAMES and daily["source_requests"] == 1
    assert store.read("bls/pr/pr.series").body == b"pr.series version A\r\n"
    # ... but the first run once DEEP_CHECK_DAYS (7) have passed re-reads every file and repairs it
    age_last_deep_check(store, 7)
    weekly = ingest(settings, store)
    mirror = weekly.to_dict()["mirror"]
    assert weekly.ok and mirror["verify"] is True
    assert mirror["updated"] == ["pr.series"] and mirror["source_requests"] == 1 + len(NAMES)
    assert store.read("bls/pr/pr.series").body == b"pr.series version B\r\n"
    # AND the deep check is recorded: the next day is an ordinary run again
    assert deep_check_due(last_ingestion(store).last_deep_check, 7, iso(datetime.now(UTC))) is False
    assert ingest(settings, store).to_dict()["mirror"]["verify"] is False


def test_a_failed_deep_check_is_not_recorded_and_runs_again(server, store):
    settings = source_settings(server, "unused")
    ingest(settings, store)
    age_last_deep_check(store, 8)
    before = last_ingestion(store).last_deep_check
    # WHEN the deep check cannot complete (a file keeps failing)
    server.always(DIR + "pr.txt", "503")
    assert ingest(settings, store).to_dict()["mirror"]["verify"] is True
    # THEN the old time stays, so the next run is a deep check again
    assert last_ingestion(store).last_deep_check == before
    server.always(DIR + "pr.txt", None)
    assert ingest(settings, store).to_dict()["mirror"]["verify"] is True


@pytest.mark.parametrize(("last", "due"), [
    (None, True), ("garbage", True), ("2026-03-01T06:00:00Z", False),
    ("2026-02-23T06:00:00Z", False), ("2026-02-22T06:30:00Z", True), ("2026-02-22T07:00:00Z", True),
])
def test_deep_check_due_after_the_configured_days(last, due):
    # a week after the last check, with an hour's slack for the schedule's drift
    assert deep_check_due(last, 7, "2026-03-01T06:10:00Z") is due
