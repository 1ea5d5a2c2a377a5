"""The packaged app, deployed: the Path 1 stack on ministack, driven as AWS would drive it.

`workstation.emulator.deploy.deploy_local` (what `make deploy-local` runs) once, on the
session's emulator (tests/deploy/conftest.py: `path1`, shared with test_deployed_stack_sign_in.py),
with the CDK context value `ingest_time_budget` giving the daily function no time to mirror: the
mirror goes on in continuations through their queue. The emulator's environment (`.venv-emulator/`, made by
`make emulator-venv`, which `make test` runs) must exist. The tests run in file order on
that one deployment: the first ingestion (continuations, reports, silver layer), where
pandas comes from, `chalice logs` / `invoke` / `delete` with the stack's record, a second
deployment with nothing changed, and the dead-letter path.
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
from chalicelib.gold import tables as gold_tables
from workstation import deployed_record, local_run, snapshot
from workstation.emulator import chalice_cli, deploy, ministack, processes

REPORT_KEYS = [
    "reports/best_years.csv", "reports/best_years.json", "reports/population_stats.json",
    "reports/series_population.csv", "reports/series_population.json", "reports/summary.json",
]
FUNCTIONS = {"ingest": "bls-pipeline-local-ingest", "ingest_continue": "bls-pipeline-local-ingest_continue",
             "analyze": "bls-pipeline-local-analyze", "lake": "bls-pipeline-local-lake",
             "api_handler": "bls-pipeline-local"}


class Deployed:
    """A running local deployment and clients of its emulator."""

    def __init__(self, emulator: Any, project: Path, first: deploy.LocalDeployment, time_budget: float) -> None:
        self.emulator, self.project, self.first, self.time_budget = emulator, project, first, time_budget
        self.state_dir, self.port = emulator.state_dir, emulator.port

    def client(self, service: str) -> Any:
        return ministack.client(service, self.port)

    def running(self) -> dict[str, processes.Background]:
        return processes.StateFile(self.state_dir).load()

    def chalice(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return chalice_cli.run(args, self.project, self.port, stdin=stdin)


@pytest.fixture(scope="module")
def deployed(emulator: Any, path1: Any) -> Iterator[Deployed]:
    """The session's Path 1 deployment (conftest.py)."""
    yield Deployed(emulator, path1.project, path1.first, path1.time_budget)


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


def source_requests(deployed: Deployed) -> list[str]:
    """The snapshot server's requests so far (`GET /path` ...), from its log."""
    log = Path(deployed.running()["sources"].log).read_text()
    return [line.removeprefix("request ") for line in log.splitlines() if line.startswith("request ")]


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
    # THEN the mirror run completed and both report inputs were written, which went S3 → SQS → analyze
    assert first.mirror_run["complete"] is True
    assert first.ingestion["population"]["changed"] is True
    assert first.changed_inputs == ["population/population.json", "bls/pr/pr.data.0.Current"]
    s3 = deployed.client("s3")
    bronze = [o["Key"] for o in s3.list_objects_v2(Bucket=first.bucket, Prefix="bls/pr/")["Contents"]]
    assert {key.removeprefix("bls/pr/") for key in bronze} >= {p.name for p in snapshot.SNAPSHOT_DIR.iterdir()}
    # ... and the bucket holds the reports, with the population mean of the snapshot
    assert first.report_keys == REPORT_KEYS
    rows = json.loads(snapshot.SNAPSHOT_POPULATION.read_bytes())["data"]
    expected_mean = statistics.mean(int(r["Population"]) for r in rows if 2013 <= int(r["Year"]) <= 2018)
    assert expected_mean == 322069808
    assert first.population_stats["mean"] == expected_mean
    # ... identical to the reports of a local run on the same snapshot
    local = local_run.run(Settings.from_env({"DATA_STORE": str(tmp_path / "data")}), offline=True)
    assert local.ok
    for key in ("reports/population_stats.json", "reports/best_years.json", "reports/series_population.json"):
        assert report(s3, first.bucket, key) == json.loads((tmp_path / "data" / key).read_bytes()), key


def test_the_time_budget_hands_the_mirror_to_continuations_and_each_file_is_fetched_once(
        deployed: Deployed) -> None:
    # GIVEN the daily function deployed with no time to mirror (CDK context ingest_time_budget), the others without
    lam = deployed.client("lambda")
    variables = {name: lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
                 for name, function in FUNCTIONS.items()}
    assert variables["ingest"]["MIRROR_TIME_BUDGET"] == str(deployed.time_budget)
    assert not any("MIRROR_TIME_BUDGET" in v for name, v in variables.items() if name != "ingest")
    # WHEN the daily invocation ran out of its budget
    first = deployed.first
    mirror = first.ingestion["mirror"]
    assert mirror["complete"] is False and mirror["added"] == []
    # THEN the continuation function (from its queue) carried the run to completion ...
    assert first.mirror_run["complete"] is True and first.mirror_run["invocations"] >= 2
    assert invocations(deployed.client("logs"), FUNCTIONS["ingest_continue"]) == first.mirror_run["invocations"] - 1
    # ... and the source saw each file fetched exactly once over all the invocations
    fetched = [r.removeprefix("GET ") for r in source_requests(deployed) if r.startswith("GET ")]
    files = [path for path in fetched if path.startswith(snapshot.SNAPSHOT_BLS_PATH) and not path.endswith("/")]
    assert sorted(files) == sorted(snapshot.SNAPSHOT_BLS_PATH + p.name for p in snapshot.SNAPSHOT_DIR.iterdir())
    # ... each stored once (the bucket is versioned: a second write would be a second version)
    versions = deployed.client("s3").list_object_versions(Bucket=first.bucket, Prefix="bls/pr/")["Versions"]
    keys = [v["Key"] for v in versions if not v["Key"].endswith(".mirror") and "/.mirror/" not in v["Key"]]
    assert len(keys) == len(set(keys))


def test_the_lake_function_writes_the_silver_layer_from_eventbridge_messages(deployed: Deployed) -> None:
    # GIVEN the ingestion's writes, which S3 → EventBridge → the lake queue delivered to the lake function
    first = deployed.first
    logs = deployed.client("logs")
    assert invocations(logs, FUNCTIONS["lake"]) >= 1
    # THEN the silver layer holds Parquet for the BLS data, the series and the population ...
    assert first.silver_keys and all(key.endswith(".parquet") for key in first.silver_keys)
    # (and bls_revisions: the first version of each data file records its vintage, no rows)
    assert {key.split("/")[1] for key in first.silver_keys} == {"bls_data", "bls_series", "population",
                                                                "bls_revisions"}
    # ... the gold step of the same function wrote pr's four gold tables (issue 20) ...
    assert sorted(first.gold_keys) == sorted(f"gold/{table}/survey=pr/data.parquet" for table in gold_tables.TABLES)
    assert all(first.partitions[table] == [["pr"]] for table in gold_tables.TABLES)
    # ... and the partitioned tables' partitions are registered in the Glue catalog (population has none)
    assert first.partitions["bls_data"] == [["pr", key.rsplit("=", 1)[1].split("/")[0]] for key in
                                            first.silver_keys if key.startswith("silver/bls_data/")]
    assert first.partitions["bls_series"] == [["pr"]] and first.partitions["population"] == []
    glue = deployed.client("glue")
    (partition, *_) = glue.get_partitions(DatabaseName=first.outputs["LakeDatabase"],
                                          TableName="bls_data")["Partitions"]
    location = partition["StorageDescriptor"]["Location"]
    assert location.startswith(f"s3://{first.bucket}/silver/bls_data/")
    assert any(f"s3://{first.bucket}/{key}".startswith(location.rstrip("/") + "/") for key in first.silver_keys)


def test_chalice_logs_shows_the_analysis_run_from_the_stacks_record(deployed: Deployed) -> None:
    # GIVEN the record deploy_local wrote from the stack's outputs
    assert deployed.first.record == deployed_record.record_path(deployed.project, "local")
    # WHEN `chalice logs -n analyze --stage local` runs against the emulator
    done = deployed.chalice("logs", "-n", "analyze", "--stage", "local")
    # THEN it prints the analysis run's report_produced lines, one per report
    assert done.returncode == 0, done.stderr
    produced = [line for line in done.stdout.splitlines() if '"report_produced"' in line]
    assert {json.loads(line[line.index("{"):])["report"] for line in produced} >= {
        "population_stats", "best_years", "series_population"}
    # ... and every function of the stack has its log under its Chalice name
    for name in ("ingest", "ingest_continue", "lake"):
        assert deployed.chalice("logs", "-n", name, "--stage", "local").stdout.strip(), name


def test_chalice_invoke_runs_the_ingestion(deployed: Deployed) -> None:
    # WHEN `chalice invoke -n ingest --stage local` gets a Scheduled Event on stdin
    event = json.dumps(deploy.scheduled_event(ministack.ACCOUNT, ministack.REGION, deploy.MANUAL_RULE_ARN))
    done = deployed.chalice("invoke", "-n", "ingest", "--stage", "local", stdin=event)
    # THEN the deployed function ran the ingestion and printed its result
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] is True and result["population"]["changed"] is False
    deploy.wait_until_settled(deployed.client("s3"), deployed.client("sqs"), deployed.first.bucket,
                              deployed.first.queues, FUNCTIONS, 120)


def test_chalice_delete_leaves_the_stacks_functions(deployed: Deployed) -> None:
    # WHEN `chalice delete --stage local` runs on the stack's record (the stage configured as Path 2 would)
    chalice_cli.update_config(deployed.project, lambda config: config | {"stages": {"local": {
        "api_gateway_stage": "api", "iam_role_arn": f"arn:aws:iam::{ministack.ACCOUNT}:role/bls-pipeline-local"}}})
    done = deployed.chalice("delete", "--stage", "local")
    # THEN it stops on the record's guard, and every function of the stack is still there
    assert done.returncode != 0 and "Sweeper encountered an unknown resource" in done.stderr
    lam = deployed.client("lambda")
    for function in FUNCTIONS.values():
        assert lam.get_function(FunctionName=function)["Configuration"]["FunctionName"] == function
    status = deployed.client("cloudformation").describe_stacks(StackName="BlsPipeline-local")["Stacks"][0]
    assert status["StackStatus"] == "CREATE_COMPLETE"


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
    probe = subprocess.run([str(emulator_python), "-c", "import pandas"], check=False, capture_output=True, text=True)
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
    again = deploy.deploy_local(deployed.state_dir, deployed.port, project_dir=deployed.project,
                                ingest_time_budget=deployed.time_budget)
    # THEN it reused the running processes, left the stack as it was and ingested again ...
    assert (again.stack_action, again.started) == ("unchanged", [])
    assert again.test_user == deployed.first.test_user  # the same sign-in (its password kept in the state folder)
    mirror = again.ingestion["mirror"]
    assert (mirror["added"], mirror["updated"], mirror["deleted"]) == ([], [], [])
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
    template = json.loads((deployed.state_dir / "synth-local" / "cdk.out" / "BlsPipeline-local.template.json").read_text())
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
    counts = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
