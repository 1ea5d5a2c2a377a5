"""End to end on a moto server (S3 + SQS) and the local source server.

ingestion → S3 notification (configured from chalicelib.pipeline.events) → SQS queue → analysis → reports
in the bucket; then a second ingestion with no source change sends no message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto.server import ThreadedMotoServer

from chalicelib.core.settings import Settings
from chalicelib.pipeline import events
from support.chalice_project import project_with, scheduled_event
from support.pipeline_sources import expected_population_stats, publish_population, publish_vintage, source_env
from workstation import cli, handoff

REPORT_KEYS = [
    "reports/best_years.csv", "reports/best_years.json", "reports/population_stats.json",
    "reports/series_population.csv", "reports/series_population.json", "reports/summary.json",
]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def endpoint(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3 (and so the store and the pipeline) talks to the moto server for S3 and SQS."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    return moto_server


def receive_all(sqs: Any, queue_url: str, wait: int = 1) -> list[dict[str, Any]]:
    """Receive until an empty (long-polled) answer."""
    received = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                       VisibilityTimeout=60).get("Messages", [])
        if not messages:
            return received
        received.extend(messages)


def report_objects(s3: Any, bucket: str, prefix: str = "") -> dict[str, str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}reports/").get("Contents", [])
    return {o["Key"][len(prefix):]: o["ETag"] for o in listing}


def test_lambda_handlers_end_to_end_through_s3_notifications_and_sqs(
    endpoint: str, source_server: Any, tmp_path: Path
) -> None:
    # GIVEN a bucket whose notifications are configured from the shared definitions onto a queue
    bucket = "bls-pipeline-e2e-handlers"
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket=bucket)
    settings = Settings.from_env({})
    hand_off = handoff.QueueHandOff(s3, sqs, bucket, events.notification_filters(settings), "e2e-handlers")
    assert hand_off.setup() is True
    config = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert sorted(c["Id"] for c in config) == sorted(f.name for f in events.notification_filters(settings))
    # ... and the sources publish the 2025-09-04 vintage and the population
    publish_vintage(source_server, "2025-09-04")
    publish_population(source_server)
    from app import app

    project = project_with(tmp_path, source_env(source_server, f"s3://{bucket}"))
    with Client(app, stage_name="dev", project_dir=str(project)) as client:
        # WHEN the scheduled ingestion runs
        assert client.lambda_.invoke("ingest", scheduled_event(client)).payload["ok"] is True
        # THEN S3 put one message per report input on the queue (after the configuration's test event)
        messages = receive_all(sqs, hand_off.queue_url)
        bodies = [json.loads(m["Body"]) for m in messages]
        assert [b.get("Event") for b in bodies if "Event" in b] == ["s3:TestEvent"]
        assert sorted(events.parse_message(b, hand_off.filters)[0].key for b in bodies if "Records" in b) == [
            "bls/pr/pr.data.0.Current", "population/population.json",
        ]
        # WHEN each message is delivered to the analysis handler (as Lambda's SQS event source does)
        for message in messages:
            client.lambda_.invoke("analyze", client.events.generate_sqs_event([message["Body"]]))
            sqs.delete_message(QueueUrl=hand_off.queue_url, ReceiptHandle=message["ReceiptHandle"])
        # THEN the reports are in the bucket, with the statistics of the real population data
        reports = report_objects(s3, bucket)
        assert sorted(reports) == REPORT_KEYS
        stats = json.loads(s3.get_object(Bucket=bucket, Key="reports/population_stats.json")["Body"].read())
        assert (stats["mean"], stats["std"]) == pytest.approx(expected_population_stats()[:2], rel=1e-12)

        # WHEN the schedule fires again with no change at the sources
        payload = client.lambda_.invoke("ingest", scheduled_event(client)).payload
        # THEN nothing was written, so no message reaches the queue, and the reports stay as they are
        assert payload["mirror"]["added"] == [] and payload["mirror"]["updated"] == []
        assert payload["population"]["changed"] is False
        assert receive_all(sqs, hand_off.queue_url) == []
        assert report_objects(s3, bucket) == reports


def test_cli_run_on_an_s3_emulator_uses_the_real_queue(
    endpoint: str, source_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN DATA_STORE on the moto server (under a prefix) and a queue name of our choosing
    bucket, queue = "bls-pipeline-e2e-cli", "e2e-cli-analysis"
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket=bucket)
    publish_vintage(source_server, "2025-09-04")
    publish_population(source_server)
    for name, value in source_env(source_server, f"s3://{bucket}/data").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ANALYSIS_QUEUE_NAME", queue)

    # WHEN `run --json` runs the first time
    assert cli.main(["run", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # THEN it created the queue, configured the notifications (prefixed keys) and drained the queue
    queue_url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert first["mode"] == "queue" and first["queue"] == queue_arn
    rules = {
        c["Id"]: {r["Name"].lower(): r["Value"] for r in c["Filter"]["Key"]["FilterRules"]}
        for c in s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    }
    assert rules == {
        "report-input-population-population-json": {"prefix": "data/population/population.json",
                                                    "suffix": "population.json"},
        "report-input-bls-pr-pr-data-0-Current": {"prefix": "data/bls/pr/pr.data.0.Current",
                                                  "suffix": "pr.data.0.Current"},
    }
    assert [(m["keys"], m["action"], m["note"]) for m in first["messages"]] == [
        ([], "skipped", "s3:TestEvent"),  # sent when the notification was configured
        (["bls/pr/pr.data.0.Current"], "written", ""),
        (["population/population.json"], "unchanged", ""),
    ]
    assert sorted(report_objects(s3, bucket, "data/")) == REPORT_KEYS
    assert receive_all(sqs, queue_url, wait=0) == []  # every handled message was deleted

    # WHEN it runs again with nothing changed
    assert cli.main(["run"]) == 0
    text = capsys.readouterr().out
    # THEN the configuration is left alone (no new test event) and there is no message
    assert "Notifications: 0 message(s)" in text
    assert "S3 notifications → SQS " + queue_arn in text
    assert "Population 2013-2018: mean 322,069,808" in text

    # WHEN the sources move to the next vintage
    publish_vintage(source_server, "2026-08-06")
    assert cli.main(["run", "--json"]) == 0
    third = json.loads(capsys.readouterr().out)
    # THEN exactly the data file's notification came through the queue and rewrote the reports
    assert [(m["keys"], m["action"]) for m in third["messages"]] == [(["bls/pr/pr.data.0.Current"], "written")]
    assert sorted(third["ingestion"]["mirror"]["updated"]) == ["pr.data.0.Current", "pr.data.1.AllData",
                                                                "pr.series"]
