"""Path 2 on the emulator: the data stack by CloudFormation, `infra/write_chalice_config.py`, `chalice deploy`.

`deploy_local(path=2)` (what `make deploy-local DEPLOY_PATH=2` runs) on the session's emulator,
environment `chalice` (Path 1's `local` is deployed beside it by test_deployed_stack.py): the
ingestion → analysis → reports and the silver layer from the functions `chalice deploy`
created; `chalice logs` / `chalice invoke` with Chalice's own record; a redeploy that
creates no second event source mapping. Chalice runs in `workstation.emulator.chalice_cli`
(the emulator's API Gateway quirks are worked around there, not in the product).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from workstation import deployed_record
from workstation.emulator import chalice_cli, deploy, ministack

STAGE = "chalice"
FUNCTIONS = {"ingest": f"bls-pipeline-{STAGE}-ingest", "ingest_continue": f"bls-pipeline-{STAGE}-ingest_continue",
             "analyze": f"bls-pipeline-{STAGE}-analyze", "lake": f"bls-pipeline-{STAGE}-lake",
             "api_handler": f"bls-pipeline-{STAGE}"}


class Path2:
    def __init__(self, emulator: Any, first: deploy.LocalDeployment) -> None:
        self.emulator, self.first = emulator, first
        assert first.chalice_project is not None
        self.project = first.chalice_project

    def client(self, service: str) -> Any:
        return ministack.client(service, self.emulator.port)

    def chalice(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return chalice_cli.run(args, self.project, self.emulator.port, stdin=stdin)

    def mappings(self) -> dict[str, list[str]]:
        lam = self.client("lambda")
        return {name: sorted(m["EventSourceArn"] for m in lam.list_event_source_mappings(
            FunctionName=FUNCTIONS[name])["EventSourceMappings"]) for name in deploy.QUEUE_FUNCTIONS}


@pytest.fixture(scope="module")
def path2(emulator: Any) -> Iterator[Path2]:
    project = emulator.state_dir / f"chalice-project-{STAGE}"
    yield Path2(emulator, deploy.deploy_local(emulator.state_dir, emulator.port, path=2, environment=STAGE,
                                              project_dir=project))


def test_chalice_deploy_creates_the_functions_and_the_run_produces_reports_and_silver(path2: Path2) -> None:
    # GIVEN the data stack (CloudFormation) and the functions `chalice deploy` created on it
    first = path2.first
    assert (first.stack, first.path) == (f"BlsPipelineData-{STAGE}", 2)
    assert "Creating lambda function: bls-pipeline-chalice-analyze" in first.chalice_output
    assert first.functions == FUNCTIONS
    record = json.loads(deployed_record.record_path(path2.project, STAGE).read_text())
    assert not deployed_record.is_stack_record(deployed_record.record_path(path2.project, STAGE))  # Chalice's own
    assert {r["resource_type"] for r in record["resources"]} >= {"lambda_function", "sqs_event", "rest_api"}
    # ... each function on the role the data stack made for it (manage_iam_role false)
    lam = path2.client("lambda")
    roles = {name: lam.get_function_configuration(FunctionName=f)["Role"] for name, f in FUNCTIONS.items()}
    assert roles["ingest"] == first.outputs["IngestRoleArn"] and roles["lake"] == first.outputs["LakeRoleArn"]
    assert roles["analyze"] == first.outputs["AnalyzeRoleArn"]
    # WHEN the ingestion was invoked once with a Scheduled Event (by deploy_local)
    # THEN the mirror completed, the report inputs went S3 → SQS → analyze, and the reports are there
    assert first.mirror_run["complete"] is True
    assert first.changed_inputs == ["population/population.json", "bls/pr/pr.data.0.Current"]
    assert "reports/summary.json" in first.report_keys and first.population_stats["mean"] == 322069808
    # ... and S3 → EventBridge → the lake queue → the lake function wrote the silver layer and its partitions
    assert {key.split("/")[1] for key in first.silver_keys} == {"bls_data", "bls_series", "population",
                                                                "bls_revisions"}
    assert len(first.gold_keys) == 4  # the lake function's gold step: pr's four gold tables
    assert first.partitions["bls_series"] == [["pr"]] and first.partitions["bls_data"]


def test_chalice_logs_and_invoke_work_natively(path2: Path2) -> None:
    # WHEN `chalice logs -n analyze --stage chalice` reads Chalice's own record
    done = path2.chalice("logs", "-n", "analyze", "--stage", STAGE)
    # THEN it shows the analysis run
    assert done.returncode == 0, done.stderr
    produced = [json.loads(line[line.index("{"):]) for line in done.stdout.splitlines() if '"report_produced"' in line]
    assert {p["report"] for p in produced} >= {"population_stats", "best_years", "series_population"}
    # WHEN `chalice invoke -n ingest` gets a Scheduled Event
    event = json.dumps(deploy.scheduled_event(ministack.ACCOUNT, ministack.REGION, deploy.MANUAL_RULE_ARN))
    invoked = path2.chalice("invoke", "-n", "ingest", "--stage", STAGE, stdin=event)
    # THEN the ingestion ran (nothing new at the source)
    assert invoked.returncode == 0, invoked.stderr
    result = json.loads(invoked.stdout)
    assert result["ok"] is True and result["mirror"]["added"] == [] and result["population"]["changed"] is False
    deploy.wait_until_settled(path2.client("s3"), path2.client("sqs"), path2.first.bucket, path2.first.queues,
                              FUNCTIONS, 120)


def test_a_redeploy_keeps_one_event_source_mapping_per_queue(path2: Path2) -> None:
    # GIVEN one mapping per queue-fed function after the first deploy
    before = path2.mappings()
    assert all(len(arns) == 1 for arns in before.values()), before
    # WHEN `chalice deploy` runs again on the same stage
    done = path2.chalice("deploy", "--stage", STAGE)
    # THEN it updated the functions and made no second mapping (nor a second schedule rule)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Updating lambda function: bls-pipeline-chalice-analyze" in done.stdout
    assert path2.mappings() == before
    events = path2.client("events")
    arn = path2.client("lambda").get_function_configuration(FunctionName=FUNCTIONS["ingest"])["FunctionArn"]
    assert len(events.list_rule_names_by_target(TargetArn=arn)["RuleNames"]) == 1
