"""The Lambda handlers of app.py, through chalice.test.Client, on moto S3/SQS and the local sources."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.core import s3_events
from chalicelib.core.settings import Settings
from chalicelib.pipeline import events
from chalicelib.pipeline import ingestion as pipeline
from support.chalice_project import project_with, scheduled_event
from support.paths import REPO
from support.pipeline_sources import publish_population, publish_vintage, source_env

BUCKET = "bls-pipeline-app-test"
QUEUE = "analysis"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """moto S3 + SQS in process: a bucket whose report-input notifications go to a queue."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        filters = events.notification_filters(Settings.from_env({}))
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET,
            NotificationConfiguration={"QueueConfigurations": events.api_queue_configurations(filters, arn)},
        )
        yield {"s3": s3, "sqs": sqs, "queue_url": url}


@pytest.fixture
def client(tmp_path: Path, source_server: Any, aws: dict[str, Any]) -> Iterator[Client]:
    publish_vintage(source_server, "2025-09-04")
    publish_population(source_server)
    from app import app

    project = project_with(tmp_path, source_env(source_server, f"s3://{BUCKET}"))
    with Client(app, stage_name="dev", project_dir=str(project)) as test_client:
        yield test_client


def drain(aws: dict[str, Any]) -> list[str]:
    """Every message body S3 has sent to the queue so far."""
    bodies = []
    while True:
        messages = aws["sqs"].receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            aws["sqs"].delete_message(QueueUrl=aws["queue_url"], ReceiptHandle=message["ReceiptHandle"])


def bucket_state(aws: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """key -> (ETag, LastModified) of every object."""
    listing = aws["s3"].list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {o["Key"]: (o["ETag"], o["LastModified"]) for o in listing}


def test_scheduled_event_mirrors_and_fetches_population(client: Client, aws: dict[str, Any]) -> None:
    # WHEN the daily schedule fires
    response = client.lambda_.invoke("ingest", scheduled_event(client))
    # THEN the mirror and the population are in S3, byte for byte
    fixtures = REPO / "tests" / "fixtures"
    keys = set(bucket_state(aws))
    mirrored = {f"bls/pr/{p.name}" for p in (fixtures / "bls" / "pr" / "2025-09-04").iterdir()}
    assert mirrored | {"population/population.json"} <= keys
    bookkeeping = {k for k in keys if k.startswith(("_state/", "bls/pr.mirror/"))}
    assert keys - bookkeeping == mirrored | {"population/population.json"}
    body = aws["s3"].get_object(Bucket=BUCKET, Key="bls/pr/pr.data.0.Current")["Body"].read()
    assert body == (fixtures / "bls" / "pr" / "2025-09-04" / "pr.data.0.Current").read_bytes()
    population = aws["s3"].get_object(Bucket=BUCKET, Key="population/population.json")["Body"].read()
    assert population == (fixtures / "datausa" / "population_acs1_nation_newapi_tejalk14_2025-10.json").read_bytes()
    assert response.payload["ok"] is True
    assert len(response.payload["mirror"]["added"]) == 12
    assert response.payload["population"]["changed"] is True


def test_sqs_events_with_real_s3_notifications_write_the_reports(client: Client, aws: dict[str, Any]) -> None:
    # GIVEN an ingestion whose writes made S3 send its notifications to the queue
    client.lambda_.invoke("ingest", scheduled_event(client))
    bodies = drain(aws)
    test_events = [b for b in bodies if json.loads(b).get("Event") == "s3:TestEvent"]
    notifications = [b for b in bodies if "Records" in json.loads(b)]
    assert len(test_events) == 1  # sent when the notification was configured
    keys = [events.parse_message(b, events.notification_filters(Settings.from_env({})))[0].key
            for b in notifications]
    assert keys == ["bls/pr/pr.data.0.Current", "population/population.json"]

    # WHEN the analysis handler gets the test event
    client.lambda_.invoke("analyze", client.events.generate_sqs_event(message_bodies=test_events))
    # THEN nothing is written
    assert not any(k.startswith("reports/") for k in bucket_state(aws))

    # WHEN it gets the first notification
    client.lambda_.invoke("analyze", client.events.generate_sqs_event(message_bodies=notifications[:1]))
    # THEN the reports are in the bucket, naming the stored inputs
    state = bucket_state(aws)
    assert sorted(k for k in state if k.startswith("reports/")) == [
        "reports/best_years.csv", "reports/best_years.json", "reports/population_stats.json",
        "reports/series_population.csv", "reports/series_population.json", "reports/summary.json",
    ]
    summary = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key="reports/summary.json")["Body"].read())
    assert {i["key"]: i["etag"] for i in summary["inputs"]} == {
        "bls/pr/pr.data.0.Current": state["bls/pr/pr.data.0.Current"][0].strip('"'),
        "population/population.json": state["population/population.json"][0].strip('"'),
    }

    # WHEN the other notification and then a duplicate of the first arrive
    client.lambda_.invoke("analyze", client.events.generate_sqs_event(message_bodies=notifications[1:]))
    client.lambda_.invoke("analyze", client.events.generate_sqs_event(message_bodies=notifications[:1]))
    # THEN nothing changed in the bucket, and S3 sent no new notification
    assert bucket_state(aws) == state
    assert drain(aws) == []


def test_ingestion_failure_fails_the_invocation_after_both_steps(
    tmp_path: Path, source_server: Any, aws: dict[str, Any]
) -> None:
    # GIVEN no BLS_CONTACT in the function's environment
    from app import app

    env = source_env(source_server, f"s3://{BUCKET}")
    del env["BLS_CONTACT"]
    with Client(app, stage_name="dev", project_dir=str(project_with(tmp_path, env))) as test_client:
        # WHEN the schedule fires THEN the invocation fails (Lambda's Errors metric, the alarm)
        with pytest.raises(pipeline.IngestionFailed) as raised:
            test_client.lambda_.invoke("ingest", scheduled_event(test_client))
    # and the message names both steps' errors: the population ran although the mirror failed
    message = str(raised.value)
    assert message.startswith("ingestion failed: ")
    assert message.count("BLS_CONTACT is not set") == 2
    # nothing was mirrored or fetched; only the failed run's record was kept (for the dashboard)
    assert set(bucket_state(aws)) == {pipeline.INGESTION_RECORD_KEY, "_state/mirror-run.json"}
    record = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=pipeline.INGESTION_RECORD_KEY)["Body"].read())
    assert record["ok"] is False and sorted(record["errors"]) == ["mirror", "population"]


def test_a_message_that_is_not_an_s3_event_fails_the_invocation(client: Client) -> None:
    event = client.events.generate_sqs_event(message_bodies=["<html>not json</html>"])
    with pytest.raises(s3_events.EventError, match="message body is not JSON"):
        client.lambda_.invoke("analyze", event)


def test_ingestion_path_does_not_import_pandas(tmp_path: Path) -> None:
    # GIVEN a fresh interpreter WHEN it imports the app and runs the scheduled handler
    script = f"""
import sys
sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(REPO / 'tests')!r})
import boto3
from moto import mock_aws
from chalice.test import Client
from workstation.sourceserver import SourceServer
from support.pipeline_sources import publish_population, publish_vintage, source_env
import json, os, tempfile
with SourceServer() as server, mock_aws():
    publish_vintage(server, "2025-09-04"); publish_population(server)
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="bls-pipeline-subprocess")
    config = json.loads(open({str(REPO / ".chalice" / "config.json")!r}).read())
    config["stages"]["dev"]["environment_variables"] = source_env(server, "s3://bls-pipeline-subprocess")
    project = tempfile.mkdtemp()
    os.mkdir(os.path.join(project, ".chalice"))
    with open(os.path.join(project, ".chalice", "config.json"), "w") as out:
        json.dump(config, out)
    import chalice.test
    class Context(chalice.test.LambdaContext):  # the function's timeout, not chalice.test's 3 s
        def __init__(self, *args, **kwargs):
            super().__init__(*args, max_runtime_ms=900_000, **kwargs)
    chalice.test.LambdaContext = Context
    from app import app
    with Client(app, project_dir=project) as client:
        payload = client.lambda_.invoke("ingest", client.events.generate_cw_event(
            "aws.events", "Scheduled Event", {{}}, ["arn:aws:events:us-east-1:1:rule/r"])).payload
print(payload["ok"], len(payload["mirror"]["added"]), "pandas" in sys.modules)
"""
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env,
                          cwd=str(REPO))
    # THEN the ingestion worked and pandas was never loaded
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "12", "False"]


def test_importing_the_app_keeps_structured_info_logs(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the app imported (Chalice's own logging setup would silence INFO on the shared logger)
    import app  # noqa: F401
    from chalicelib.core.log import log_event

    # WHEN an INFO event is logged
    log_event("ingestion_start", store="s3://bucket")
    captured = capsys.readouterr()
    # THEN it is one JSON line on stderr, nothing on stdout
    (line,) = captured.err.splitlines()
    assert json.loads(line)["event"] == "ingestion_start" and json.loads(line)["level"] == "INFO"
    assert captured.out == ""
