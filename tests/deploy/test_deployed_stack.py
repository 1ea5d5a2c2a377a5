"""The packaged app, deployed: the Path 1 stack on ministack, driven as AWS would drive it.

`workstation.emulator.deploy.deploy_local` (what `make deploy-local` runs) once, on free
ports with its own state folder; the emulator's environment (`.venv-emulator/`, made by
`make emulator-venv`, which `make test` runs) must exist. The tests run in file order on
that one deployment: the first ingestion, where pandas comes from, a second deployment
with nothing changed, the dead-letter path, and the stop.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.settings import Settings
from workstation import local_run, snapshot
from workstation.emulator import deploy, ministack, processes

REPORT_KEYS = [
    "reports/best_years.csv", "reports/best_years.json", "reports/population_stats.json",
    "reports/series_population.csv", "reports/series_population.json", "reports/summary.json",
]
FUNCTIONS = {"ingest": "bls-pipeline-local-ingest", "ingest_continue": "bls-pipeline-local-ingest_continue",
             "analyze": "bls-pipeline-local-analyze", "lake": "bls-pipeline-local-lake",
             "api": "bls-pipeline-local"}


class Deployed:
    """A running local deployment and clients of its emulator."""

    def __init__(self, state_dir: Path, port: int, first: deploy.LocalDeployment) -> None:
        self.state_dir, self.port, self.first = state_dir, port, first

    def client(self, service: str) -> Any:
        return ministack.client(service, self.port)

    def running(self) -> dict[str, processes.Background]:
        return processes.StateFile(self.state_dir).load()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """`deploy_local` once (emulator, source server, stack, one ingestion); everything stopped after."""
    state_dir = tmp_path_factory.mktemp("deploy-local")
    port = processes.free_port()
    try:
        yield Deployed(state_dir, port, deploy.deploy_local(state_dir, port))
    finally:
        deploy.stop_local(state_dir)


def report(s3: Any, bucket: str, key: str) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def invocations(logs: Any, function: str) -> int:
    """How often the function was invoked (its START lines in CloudWatch Logs)."""
    group = f"/aws/lambda/{function}"
    count = 0
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        count += sum(1 for e in events if e["message"].startswith("START RequestId"))
    return count


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(messages waiting, messages received and not yet deleted) in a queue."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_first_ingestion_writes_the_reports_of_the_bundled_snapshot(deployed: Deployed, tmp_path: Path) -> None:
    # GIVEN the stack deployed on a fresh emulator, with the ingestion pointed at the snapshot server
    first = deployed.first
    assert (first.stack, first.stack_action, sorted(first.started)) == ("BlsPipeline-local", "created",
                                                                        ["ministack", "sources"])
    assert first.functions == FUNCTIONS
    status = deployed.client("cloudformation").describe_stacks(StackName=first.stack)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"
    # WHEN the ingestion function was invoked once with a Scheduled Event (by deploy_local)
    # THEN it mirrored every snapshot file and wrote both report inputs, which went S3 → SQS → analyze
    mirror = first.ingestion["mirror"]
    assert sorted(mirror["added"]) == sorted(p.name for p in snapshot.SNAPSHOT_DIR.iterdir())
    assert first.ingestion["population"]["changed"] is True
    assert first.changed_inputs == ["population/population.json", "bls/pr/pr.data.0.Current"]
    # ... and the bucket holds the reports, with the population mean of the snapshot
    assert first.report_keys == REPORT_KEYS
    rows = json.loads(snapshot.SNAPSHOT_POPULATION.read_bytes())["data"]
    expected_mean = statistics.mean(int(r["Population"]) for r in rows if 2013 <= int(r["Year"]) <= 2018)
    assert expected_mean == 322069808
    assert first.population_stats["mean"] == expected_mean
    # ... identical to the reports of a local run on the same snapshot
    local = local_run.run(Settings.from_env({"DATA_STORE": str(tmp_path / "data")}), offline=True)
    assert local.ok
    s3 = deployed.client("s3")
    for key in ("reports/population_stats.json", "reports/best_years.json", "reports/series_population.json"):
        assert report(s3, first.bucket, key) == json.loads((tmp_path / "data" / key).read_bytes()), key


def test_the_deployed_analysis_imports_pandas_from_the_layer(deployed: Deployed) -> None:
    # GIVEN the analysis function's worker, still warm after computing the reports
    tmpdir = deployed.state_dir / ministack.LAMBDA_TMP
    workers = {}
    for pid in processes.group_members(deployed.running()["ministack"].pid):
        cwd = Path(f"/proc/{pid}/cwd").resolve()
        maps = Path(f"/proc/{pid}/maps").read_text()
        if cwd.parent.name.startswith(f"ministack-lambda-{FUNCTIONS['analyze']}-") and "pandas" in maps:
            workers[pid] = (cwd.parent, maps)
    assert workers, f"no analysis worker with pandas loaded under {tmpdir}"
    for pid, (function_dir, maps) in workers.items():
        # THEN every pandas and numpy file it has mapped comes from the function's unpacked layer
        loaded = {line.split()[-1] for line in maps.splitlines() if "/pandas/" in line or "/numpy" in line}
        layer = function_dir / "layer_0" / "python" / "lib"
        assert any("/pandas/_libs/" in path for path in loaded)
        assert {path for path in loaded if not Path(path).is_relative_to(layer)} == set(), pid
    # ... the layer is the stack's (the function has no other), and the emulator's own environment has no pandas
    (layer_ref,) = deployed.client("lambda").get_function_configuration(FunctionName=FUNCTIONS["analyze"])["Layers"]
    assert ":layer:bls-pipeline-BlsPipeline-local-managed-layer:" in layer_ref["Arn"]
    emulator_python = ministack.EMULATOR_VENV / "bin" / "python"
    probe = subprocess.run([str(emulator_python), "-c", "import pandas"], capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'pandas'" in probe.stderr


def test_second_deployment_with_nothing_changed_sends_no_message(deployed: Deployed) -> None:
    # GIVEN the deployment with its reports, and the analysis function's invocations so far
    s3, logs = deployed.client("s3"), deployed.client("logs")
    bucket = deployed.first.bucket
    etags = {key: s3.head_object(Bucket=bucket, Key=key)["ETag"] for key in REPORT_KEYS}
    analyses = invocations(logs, FUNCTIONS["analyze"])

    def inputs_as_stored() -> dict[str, tuple[str, Any]]:  # a rewrite changes LastModified, even with the same bytes
        heads = {key: s3.head_object(Bucket=bucket, Key=key) for key in deployed.first.changed_inputs}
        return {key: (head["ETag"], head["LastModified"]) for key, head in heads.items()}

    inputs = inputs_as_stored()
    # WHEN `make deploy-local` runs again (same state folder and port)
    again = deploy.deploy_local(deployed.state_dir, deployed.port)
    # THEN it reused the running processes, left the stack as it was and ingested again ...
    assert (again.stack_action, again.started) == ("unchanged", [])
    mirror = again.ingestion["mirror"]
    assert (mirror["added"], mirror["updated"], mirror["deleted"]) == ([], [], [])
    assert len(mirror["unchanged"]) == len(deployed.first.ingestion["mirror"]["added"])
    assert again.ingestion["population"]["changed"] is False
    # ... which wrote no report input: no message, no analysis, the reports untouched
    assert again.changed_inputs == []
    # (read from the store and the queue, not waited for: no input object was rewritten, so S3 had no
    # ObjectCreated event to send, and the analysis queue holds nothing)
    assert inputs_as_stored() == inputs
    assert queue_counts(deployed.client("sqs"), deployed.first.outputs["QueueUrl"]) == (0, 0)
    assert invocations(logs, FUNCTIONS["analyze"]) == analyses
    assert {key: s3.head_object(Bucket=bucket, Key=key)["ETag"] for key in REPORT_KEYS} == etags
    assert again.population_stats["mean"] == 322069808


def test_poison_message_ends_in_the_dead_letter_queue_after_the_configured_receives(deployed: Deployed) -> None:
    # GIVEN the analysis queue as deployed, with the redrive policy of the synthesized template
    sqs, logs = deployed.client("sqs"), deployed.client("logs")
    outputs = deployed.first.outputs
    template = json.loads((deployed.state_dir / "synth" / "cdk.out" / "BlsPipeline-local.template.json").read_text())
    (configured,) = [r["Properties"]["RedrivePolicy"]["maxReceiveCount"] for k, r in template["Resources"].items()
                     if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
                     and k.startswith("PipelineAnalysis")]  # not the lake's or the mirror continuation's
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == configured == 4
    # ... and a visibility timeout of 1 s instead of the deployed 1800 s (six times the function's
    # timeout), so that four receives take seconds, not two hours
    assert attributes["VisibilityTimeout"] == "1800"
    sqs.set_queue_attributes(QueueUrl=outputs["QueueUrl"], Attributes={"VisibilityTimeout": "1"})
    analyses = invocations(logs, FUNCTIONS["analyze"])
    # WHEN a message that is not an S3 event arrives on the analysis queue
    body = "this is not an S3 event notification"
    sqs.send_message(QueueUrl=outputs["QueueUrl"], MessageBody=body)
    # THEN the analysis fails on each of the configured receives, and the message lands in the dead-letter queue
    dead: list[dict[str, Any]] = []

    def dead_lettered() -> bool:
        dead.extend(sqs.receive_message(QueueUrl=outputs["DeadLetterQueueUrl"], WaitTimeSeconds=1,
                                        AttributeNames=["All"]).get("Messages", []))
        return bool(dead)

    processes.wait_until(dead_lettered, 90, "the message in the dead-letter queue")
    assert [m["Body"] for m in dead] == [body]
    # ... and the analysis queue is empty: with the message dead-lettered, no further receive can happen
    assert queue_counts(sqs, outputs["QueueUrl"]) == (0, 0)
    # (a failed worker is replaced, so the last invocations can still be running: wait for their logs)
    processes.wait_until(lambda: invocations(logs, FUNCTIONS["analyze"]) - analyses >= configured, 90,
                         f"{configured} invocations of the analysis")
    assert invocations(logs, FUNCTIONS["analyze"]) - analyses == configured


def test_stop_ends_every_process_it_started(deployed: Deployed) -> None:
    # GIVEN the running deployment: emulator (with its Lambda workers) and source server
    running = deployed.running()
    assert set(running) == {"ministack", "sources"}
    assert len(processes.group_members(running["ministack"].pid)) > 1  # workers of the functions
    # WHEN `make deploy-local-stop`
    stopped = deploy.stop_local(deployed.state_dir)
    # THEN no process of either group is left, the ports are closed, the state is gone
    assert sorted(b.name for b in stopped) == ["ministack", "sources"]
    for background in running.values():
        assert processes.group_members(background.pid) == [], background
        assert not processes.port_open(background.port), background
    assert deployed.running() == {}
    assert deploy.stop_local(deployed.state_dir) == []  # a second stop has nothing to do
