"""Ingestion, analysis and the local run (chalicelib.pipeline.ingestion)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core import s3_events
from chalicelib.core.errors import ConfigError, SourceError
from chalicelib.core.layout import REPORT_KEYS
from chalicelib.core.settings import Settings
from chalicelib.core.store import LocalStore, S3Store
from chalicelib.mirror.results import MirrorResult, SurveyResult
from chalicelib.pipeline import analysis, events
from chalicelib.pipeline import ingestion as pipeline
from chalicelib.reports.inputs import ReportInput
from support.pipeline_sources import (
    changed_files,
    expected_population_stats,
    publish_population,
    publish_vintage,
    source_env,
    source_settings,
)
from workstation import cli, handoff, local_run, render, snapshot


@dataclass
class FakeResult:
    """Stands in for PopulationResult / ReportsResult in wiring tests."""

    ok: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.summary["changed"]

    @property
    def inputs(self) -> list[ReportInput]:
        return [ReportInput(i["key"], i["etag"], None, 0) for i in self.summary.get("inputs", [])]

    def failure(self) -> str:
        return "fake failure"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.summary)


def mirror_result(**files: list[str]) -> MirrorResult:
    """A real mirror result of survey pr, with the given files per kind of change (and errors)."""
    return MirrorResult([SurveyResult("pr", "https://download.bls.gov/pub/time.series/pr/", "bls/pr/", **files)])


class Recorder:
    """A step double that records its calls and returns or raises what it is given."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


SETTINGS = Settings.from_env({})


# --------------------------------------------------------------------------- ingestion wiring


def test_population_runs_when_the_mirror_raises(local_store: LocalStore) -> None:
    # GIVEN a mirror that fails outright and a population that works
    mirror = Recorder(SourceError("listing of https://download.bls.gov/pub/time.series/pr/ is not HTML"))
    population = Recorder(FakeResult(summary={"changed": True, "rows": 10}))
    # WHEN ingesting
    result = pipeline.ingest(SETTINGS, local_store, steps=[("mirror", mirror), ("population", population)])
    # THEN the population still ran, and the run is a failure naming the mirror's error
    assert (mirror.calls, population.calls) == (1, 1)
    assert result.ok is False
    assert result.to_dict() == {
        "ok": False,
        "mirror": None,
        "population": {"changed": True, "rows": 10},
        "errors": {"mirror": "listing of https://download.bls.gov/pub/time.series/pr/ is not HTML"},
    }


def test_a_failed_file_makes_the_mirror_step_fail_without_stopping_population(local_store: LocalStore) -> None:
    mirror = Recorder(mirror_result(added=["pr.class"], failed=["pr.series"]))
    population = Recorder(FakeResult(summary={"changed": False}))
    result = pipeline.ingest(SETTINGS, local_store, steps=[("mirror", mirror), ("population", population)])
    assert population.calls == 1
    assert result.ok is False
    assert result.to_dict()["errors"] == {"mirror": "mirror: 1 file(s) failed: pr.series"}
    assert result.to_dict()["mirror"] == mirror.outcome.to_dict()
    assert (result.to_dict()["mirror"]["added"], result.to_dict()["mirror"]["failed"]) == (["pr.class"], ["pr.series"])


def test_a_survey_level_mirror_error_is_named_in_the_step_error(local_store: LocalStore) -> None:
    # GIVEN a mirror whose survey failed before any file (e.g. the listing could not be fetched)
    mirror = Recorder(mirror_result(errors=["GET .../pr/ answered 503"]))
    population = Recorder(FakeResult(summary={"changed": False}))
    # WHEN ingesting
    result = pipeline.ingest(SETTINGS, local_store, steps=[("mirror", mirror), ("population", population)])
    # THEN the step's error says why, not just "see the logs"
    assert result.to_dict()["errors"] == {"mirror": "mirror: did not complete: pr: GET .../pr/ answered 503"}


def test_an_unexpected_crash_in_one_step_is_contained(local_store: LocalStore) -> None:
    mirror = Recorder(mirror_result())
    population = Recorder(KeyError("Population"))
    result = pipeline.ingest(SETTINGS, local_store, steps=[("mirror", mirror), ("population", population)])
    assert result.ok is False
    assert result.to_dict()["errors"] == {"population": "KeyError: 'Population'"}
    assert result.step("mirror").ok is True


def test_each_ingestion_records_its_outcome(local_store: LocalStore) -> None:
    # GIVEN a mirror that changed two files and a population that did not change
    mirror = Recorder(mirror_result(added=["pr.new"], updated=["pr.series"], deleted=[],
                                    unchanged=["pr.class", "pr.txt", "pr.period"], failed=[]))
    population = Recorder(FakeResult(summary={"changed": False}))
    # WHEN ingesting
    pipeline.ingest(SETTINGS, local_store, steps=[("mirror", mirror), ("population", population)])
    # THEN the outcome is kept for the dashboard, with counts per kind of change
    record = pipeline.last_ingestion(local_store).to_dict()
    assert {k: record[k] for k in ("ok", "errors", "mirror", "population")} == {
        "ok": True,
        "errors": {},
        "mirror": {"added": 1, "updated": 1, "deleted": 0, "unchanged": 3, "failed": 0, "pending": 0,
                   "not_reached": 0},
        "population": {"changed": False},
    }
    assert record["started_at"] <= record["finished_at"]

    # WHEN the next ingestion fails in the mirror
    failing = Recorder(SourceError("listing is not HTML"))
    pipeline.ingest(SETTINGS, local_store, steps=[("mirror", failing), ("population", population)])
    # THEN the record says so, and names the error
    record = pipeline.last_ingestion(local_store).to_dict()
    assert (record["ok"], record["errors"], record["mirror"]) == (False, {"mirror": "listing is not HTML"}, None)


def test_no_ingestion_record_reads_as_none(local_store: LocalStore) -> None:
    assert pipeline.last_ingestion(local_store) is None
    local_store.put(pipeline.INGESTION_RECORD_KEY, b"not json")
    assert pipeline.last_ingestion(local_store) is None


# --------------------------------------------------------------------------- analysis wiring


def _message(store: Any, key: str, etag: str = "e") -> str:
    bucket, prefix = s3_events.store_location(store)
    full = f"{prefix}/{key}" if prefix else key
    return events.build_message(bucket, full, etag=etag, size=1)


def _store_inputs(store: Any) -> None:
    store.put("population/population.json", b"{}")
    store.put("bls/pr/pr.data.0.Current", b"series_id\tyear\tperiod\tvalue\r\n")


def test_test_event_and_unrelated_keys_are_skipped(local_store: LocalStore) -> None:
    reports = Recorder(FakeResult(written=["reports/summary.json"]))
    _store_inputs(local_store)
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"})
    skipped = analysis.analyze(test_event, SETTINGS, local_store, reports=reports)
    assert (skipped.action, skipped.note) == ("skipped", "s3:TestEvent")
    other = analysis.analyze(_message(local_store, "bls/pr/pr.series"), SETTINGS, local_store, reports=reports)
    assert (other.action, other.note) == ("skipped", "no report input in the message")
    assert reports.calls == 0


def test_analysis_waits_while_an_input_is_missing(local_store: LocalStore) -> None:
    # GIVEN only the data file is stored (the population write will send its own event)
    local_store.put("bls/pr/pr.data.0.Current", b"x")
    reports = Recorder(FakeResult(written=["reports/summary.json"]))
    # WHEN its event arrives
    result = analysis.analyze(_message(local_store, "bls/pr/pr.data.0.Current"), SETTINGS, local_store,
                              reports=reports)
    # THEN nothing is computed, and the message succeeds (no retries, no dead letter)
    assert (result.action, result.missing, reports.calls) == ("waiting", ["population/population.json"], 0)


def test_analysis_reports_written_or_unchanged(local_store: LocalStore) -> None:
    _store_inputs(local_store)
    body = _message(local_store, "population/population.json")
    written = analysis.analyze(body, SETTINGS, local_store,
                               reports=Recorder(FakeResult(written=["reports/best_years.json"])))
    assert (written.action, written.written) == ("written", ["reports/best_years.json"])
    unchanged = analysis.analyze(body, SETTINGS, local_store, reports=Recorder(FakeResult(written=[])))
    assert (unchanged.action, unchanged.written) == ("unchanged", [])


def test_a_reports_failure_fails_the_message(local_store: LocalStore) -> None:
    _store_inputs(local_store)
    reports = Recorder(SourceError("population/population.json: no row for 2016"))
    with pytest.raises(analysis.AnalysisFailed,
                       match="reports failed for population/population.json: population/population.json: no row"):
        analysis.analyze(_message(local_store, "population/population.json"), SETTINGS, local_store,
                         reports=reports)


def test_a_message_that_is_not_an_s3_event_fails(local_store: LocalStore) -> None:
    with pytest.raises(s3_events.EventError, match="not an S3 event notification"):
        analysis.analyze('{"hello": "world"}', SETTINGS, local_store, reports=Recorder(FakeResult()))


# --------------------------------------------------------------------------- notifying store


def test_notifying_store_turns_input_writes_into_s3_messages(store: Any) -> None:
    # GIVEN a store (local folder, or S3 under a prefix) wrapped to notify
    sent: list[str] = []
    notifying = handoff.NotifyingStore.around(store, SETTINGS, sent.append)
    # WHEN ingestion writes an input and an unrelated file
    etag = notifying.put("population/population.json", b'{"data": []}', content_type="application/json")
    notifying.put("bls/pr/pr.series", b"series")
    # THEN exactly one message, which the analysis parser reads back as that write
    assert len(sent) == 1
    bucket, prefix = s3_events.store_location(store)
    filters = events.notification_filters(SETTINGS, prefix)
    (record,) = events.parse_message(sent[0], filters, bucket=bucket, store_prefix=prefix)
    assert (record.key, record.etag, record.size) == ("population/population.json", etag, 12)
    raw_key = json.loads(sent[0])["Records"][0]["s3"]["object"]["key"]
    if isinstance(store, S3Store):
        assert (bucket, raw_key) == ("bls-pipeline-test", "mirror/population/population.json")
    else:
        assert (bucket, raw_key) == ("local-store", "population/population.json")
    # and the write itself went through unchanged
    assert store.read("population/population.json").body == b'{"data": []}'


# --------------------------------------------------------------------------- local run, real steps


def test_local_run_hands_each_input_write_to_the_analysis(source_server: Any, tmp_path: Path) -> None:
    # GIVEN the 2025-09-04 vintage and the real population response at the sources
    publish_vintage(source_server, "2025-09-04")
    publish_population(source_server)
    settings = source_settings(source_server, str(tmp_path / "data"))
    store = LocalStore(tmp_path / "data")

    # WHEN the pipeline runs the first time
    first = local_run.run(settings)
    # THEN both inputs were written, each write became a message, and the reports are stored
    assert first.ok and first.mode == "local"
    assert [(m.analysis.keys, m.action) for m in first.messages] == [
        (["bls/pr/pr.data.0.Current"], "written"),
        (["population/population.json"], "unchanged"),  # the same inputs: a duplicate run writes nothing
    ]
    mean, std, pstd = expected_population_stats()
    stats = first.reports.population_stats
    assert (stats.mean, stats.std, stats.std_population) == pytest.approx((mean, std, pstd), rel=1e-12)
    summary = json.loads(store.read("reports/summary.json").body)
    assert {i["key"]: i["etag"] for i in summary["inputs"]} == {
        "bls/pr/pr.data.0.Current": store.head("bls/pr/pr.data.0.Current").etag,
        "population/population.json": store.head("population/population.json").etag,
    }

    # WHEN it runs again with nothing changed at the sources
    second = local_run.run(settings)
    # THEN no write, so no message and no report run
    assert second.ok and second.messages == []
    assert second.ingestion.to_dict()["population"]["changed"] is False
    assert json.loads(store.read("reports/summary.json").body) == summary

    # WHEN the source moves to the 2026-08-06 vintage
    publish_vintage(source_server, "2026-08-06")
    third = local_run.run(settings)
    # THEN only the data file is an input that changed: one message, reports rewritten
    assert changed_files("2025-09-04", "2026-08-06") == ["pr.data.0.Current", "pr.data.1.AllData", "pr.series"]
    assert [(m.analysis.keys, m.action) for m in third.messages] == [(["bls/pr/pr.data.0.Current"], "written")]
    new_summary = json.loads(store.read("reports/summary.json").body)
    assert {i["key"]: i["etag"] for i in new_summary["inputs"]}["bls/pr/pr.data.0.Current"] == store.head(
        "bls/pr/pr.data.0.Current").etag != {i["key"]: i["etag"] for i in summary["inputs"]}["bls/pr/pr.data.0.Current"]


def test_reports_missing_from_the_store_are_rebuilt_by_the_next_run(source_server: Any, tmp_path: Path) -> None:
    import shutil

    # GIVEN a store the pipeline filled, whose reports folder was then removed by hand (`rm -rf data/reports`)
    publish_vintage(source_server, "2025-09-04")
    publish_population(source_server)
    settings = source_settings(source_server, str(tmp_path / "data"))
    store = LocalStore(tmp_path / "data")
    assert local_run.run(settings).ok
    expected = {key: store.read(key).body for key in REPORT_KEYS}
    shutil.rmtree(tmp_path / "data" / "reports")
    # WHEN the pipeline runs again with nothing changed at the sources (no input written: no event)
    again = local_run.run(settings)
    # THEN the missing reports were rebuilt, the same bytes as before, and the run says why
    assert again.ok and [m.action for m in again.messages] == ["written"]
    assert "missing from the store" in again.messages[0].analysis.note
    assert {key: store.read(key).body for key in REPORT_KEYS} == expected
    assert again.reports is not None and again.reports.best_years is not None
    # AND a run after that has nothing to rebuild
    assert local_run.run(settings).messages == []


def test_cli_run_offline_uses_the_bundled_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no BLS_CONTACT and an empty store
    monkeypatch.delenv("BLS_CONTACT", raising=False)
    store_dir = tmp_path / "data"
    # WHEN `run --offline --json`
    status = cli.main(["run", "--offline", "--json", "--store", str(store_dir)])
    document = json.loads(capsys.readouterr().out)
    # THEN the snapshot was mirrored, the reports made, and the output says it was the snapshot
    assert status == 0 and document["ok"] is True and document["offline"] is True
    assert "bundled snapshot" in document["notes"][0]
    assert "placeholder offline-run@example.invalid" in document["notes"][0]
    assert sorted(document["ingestion"]["mirror"]["added"]) == sorted(
        p.name for p in snapshot.SNAPSHOT_DIR.iterdir())
    assert [m["action"] for m in document["messages"]] == ["written", "unchanged"]
    store = LocalStore(store_dir)
    snapshot_data = (snapshot.SNAPSHOT_DIR / "pr.data.0.Current").read_bytes()
    assert store.read("bls/pr/pr.data.0.Current").body == snapshot_data
    assert document["reports"]["population_stats"]["mean"] == pytest.approx(expected_population_stats()[0])

    # WHEN run again in text mode
    status = cli.main(["run", "--offline", "--store", str(store_dir)])
    text = capsys.readouterr().out
    # THEN nothing changed, and the text still shows the reports
    assert status == 0
    assert "Notifications: 0 message(s) (no report input changed" in text
    assert "mirror: 0 added, 0 updated, 0 deleted, 12 unchanged, 0 failed" in text
    assert "Population 2013-2018: mean 322,069,808" in text
    assert "PRS30006032 Q01 x population" in text


def test_cli_run_dry_run_writes_nothing(source_server: Any, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    publish_vintage(source_server, "2025-09-04")
    publish_population(source_server)
    for name, value in source_env(source_server, str(tmp_path / "data")).items():
        monkeypatch.setenv(name, value)
    status = cli.main(["run", "--dry-run", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["messages"] == [] and document["ingestion"]["population"] is None
    assert "dry run: population and reports skipped, nothing written" in document["notes"]
    assert list(LocalStore(tmp_path / "data").list()) == []


def test_cli_run_without_contact_is_a_configuration_error_before_any_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN live sources (not --offline) and no BLS_CONTACT
    monkeypatch.delenv("BLS_CONTACT", raising=False)
    # WHEN `run` starts
    status = cli.main(["run", "--store", str(tmp_path / "data")])
    # THEN it stops with exit 2, says how to set the contact once, and writes nothing
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert status == 2
    assert len(errors) == 1 and "export BLS_CONTACT=" in errors[0]
    assert not (tmp_path / "data").exists()


def test_cli_run_rejects_a_bad_queue_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANALYSIS_QUEUE_NAME", "no spaces allowed")
    assert cli.main(["run", "--store", str(tmp_path)]) == 2
    assert "ANALYSIS_QUEUE_NAME: 'no spaces allowed' is not an SQS queue name" in capsys.readouterr().err


def test_failed_ingestion_makes_the_run_fail(source_server: Any, tmp_path: Path) -> None:
    # GIVEN a population API that answers 404 and a working BLS directory
    publish_vintage(source_server, "2025-09-04")
    settings = source_settings(source_server, str(tmp_path / "data"))
    result = local_run.run(settings)
    # THEN the mirror still ran and the run failed because of the population
    assert result.ok is False
    assert len(result.ingestion.to_dict()["mirror"]["added"]) == 12
    assert "404" in result.ingestion.to_dict()["errors"]["population"]
    # the data file's event was handled: waiting for the population, nothing computed
    assert [(m.analysis.keys, m.action) for m in result.messages] == [(["bls/pr/pr.data.0.Current"], "waiting")]
    assert "waiting for population/population.json" in render.run_text(result)


def test_offline_needs_the_snapshot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(snapshot, "SNAPSHOT_DIR", tmp_path / "missing")
    with pytest.raises(ConfigError, match="--offline needs the bundled snapshot"):
        local_run.run(Settings.from_env({"DATA_STORE": str(tmp_path / "data")}), offline=True)


class ChangingInput:
    """A reports double whose first run sees the population replaced while it computes."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self.calls = 0

    def __call__(self, settings: Settings, store: Any) -> FakeResult:
        self.calls += 1
        inputs = [{"key": key, "etag": store.head(key).etag} for key in events.report_inputs(settings)]
        if self.calls == 1:
            store.put("population/population.json", b'{"newer": true}')  # a concurrent ingestion
        return FakeResult(summary={"inputs": inputs}, written=["reports/summary.json"])


def test_analysis_recomputes_when_an_input_changed_during_the_run(local_store: LocalStore) -> None:
    # GIVEN the population is replaced while the reports are being computed
    _store_inputs(local_store)
    reports = ChangingInput(local_store)
    # WHEN the message is analyzed
    result = analysis.analyze(_message(local_store, "bls/pr/pr.data.0.Current"), SETTINGS, local_store,
                              reports=reports)
    # THEN the reports were computed again from the new inputs (no stale reports left behind)
    assert reports.calls == 2
    assert result.reports.inputs[0] == ReportInput("population/population.json",
                                                   local_store.head("population/population.json").etag, None, 0)
    assert (result.action, result.written) == ("written", ["reports/summary.json"])


def test_analysis_gives_up_if_inputs_never_settle(local_store: LocalStore) -> None:
    # GIVEN an input that is replaced during every report run
    _store_inputs(local_store)
    runs: list[int] = []

    def always_changing(settings: Settings, store: Any) -> FakeResult:
        used = [{"key": "population/population.json", "etag": store.head("population/population.json").etag}]
        runs.append(len(runs) + 1)
        store.put("population/population.json", f"version {len(runs)}".encode())
        return FakeResult(summary={"inputs": used})

    # THEN the message fails after a bounded number of runs (SQS retries it later)
    with pytest.raises(analysis.AnalysisFailed, match="inputs kept changing during 3 report runs"):
        analysis.analyze(_message(local_store, "population/population.json"), SETTINGS, local_store,
                         reports=always_changing)
    assert runs == [1, 2, 3]


def test_queue_setup_adds_our_notifications_and_keeps_the_others() -> None:
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3, sqs, sns = (boto3.client(name, region_name="us-east-1") for name in ("s3", "sqs", "sns"))
        s3.create_bucket(Bucket="shared-bucket")
        topic = sns.create_topic(Name="someone-elses")["TopicArn"]
        other = {"Id": "someone-elses", "TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}
        s3.put_bucket_notification_configuration(Bucket="shared-bucket",
                                                 NotificationConfiguration={"TopicConfigurations": [other]})
        hand_off = handoff.QueueHandOff(s3, sqs, "shared-bucket", events.notification_filters(SETTINGS), "q")
        # WHEN set up twice
        assert hand_off.setup() is True
        assert hand_off.setup() is False  # already configured: no rewrite (and no new s3:TestEvent)
        config = s3.get_bucket_notification_configuration(Bucket="shared-bucket")
    # THEN the other notification is still there, beside ours
    assert [c["Id"] for c in config["TopicConfigurations"]] == ["someone-elses"]
    assert sorted(c["Id"] for c in config["QueueConfigurations"]) == [
        "report-input-bls-pr-pr-data-0-Current", "report-input-population-population-json"]
    assert {c["QueueArn"] for c in config["QueueConfigurations"]} == {hand_off.queue_arn}
