"""`.chalice/deployed/<stage>.json` for a CDK stack (workstation.deployed_record): no emulator needed.

The record lets `chalice logs` / `chalice invoke` find the stack's functions; its guard
makes `chalice delete` stop before any AWS call. Here Chalice's CLI runs in a subprocess
against an endpoint where nothing listens: any call it made would fail differently.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from workstation import deployed_record
from workstation.emulator import chalice_cli

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/BlsPipeline-dev/0a1b2c"
OUTPUTS = {"IngestFunctionName": "bls-pipeline-dev-ingest", "AnalyzeFunctionName": "bls-pipeline-dev-analyze",
           "IngestContinueFunctionName": "bls-pipeline-dev-ingest_continue",
           "LakeFunctionName": "bls-pipeline-dev-lake", "APIHandlerFunctionName": "bls-pipeline-dev",
           "DataStore": "s3://bucket"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_record_names_every_function_with_its_arn_and_a_guard_first() -> None:
    # WHEN the record is made from the stack's outputs and ARN
    document = deployed_record.record("BlsPipeline-dev", STACK_ID, deployed_record.function_arns(OUTPUTS, STACK_ID))
    # THEN it is Chalice's schema 2.0: the guard, then one lambda_function per Chalice function
    assert document["schema_version"] == "2.0" and document["backend"] == "api"
    guard, *functions = document["resources"]
    assert guard["resource_type"] == deployed_record.GUARD_TYPE and guard["stack_name"] == "BlsPipeline-dev"
    assert {f["name"]: f["lambda_arn"] for f in functions} == {
        "api_handler": "arn:aws:lambda:eu-west-1:123456789012:function:bls-pipeline-dev",
        "ingest": "arn:aws:lambda:eu-west-1:123456789012:function:bls-pipeline-dev-ingest",
        "ingest_continue": "arn:aws:lambda:eu-west-1:123456789012:function:bls-pipeline-dev-ingest_continue",
        "analyze": "arn:aws:lambda:eu-west-1:123456789012:function:bls-pipeline-dev-analyze",
        "lake": "arn:aws:lambda:eu-west-1:123456789012:function:bls-pipeline-dev-lake",
    }
    assert {f["resource_type"] for f in functions} == {"lambda_function"}


def test_a_record_of_chalice_deploy_is_not_replaced_without_force(tmp_path: Path) -> None:
    # GIVEN a record written by `chalice deploy` (no guard)
    path = deployed_record.record_path(tmp_path, "dev")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"schema_version": "2.0", "resources": [
        {"name": "ingest", "resource_type": "lambda_function", "lambda_arn": "arn:aws:lambda:x"}]}))
    document = deployed_record.record("BlsPipeline-dev", STACK_ID, deployed_record.function_arns(OUTPUTS, STACK_ID))
    # THEN writing the stack's record over it is refused, unless forced; a stack record is replaced freely
    with pytest.raises(deployed_record.RecordError, match="chalice deploy"):
        deployed_record.write(tmp_path, "dev", document)
    deployed_record.write(tmp_path, "dev", document, force=True)
    deployed_record.write(tmp_path, "dev", document)
    assert deployed_record.is_stack_record(path)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = chalice_cli.project(tmp_path_factory.mktemp("chalice-project"))
    # A stage Chalice accepts (the repository's config has no role at the top level; Path 2 writes one)
    chalice_cli.update_config(directory, lambda config: config | {"stages": {"dev": {
        "api_gateway_stage": "api", "iam_role_arn": "arn:aws:iam::123456789012:role/bls-pipeline-dev"}}})
    document = deployed_record.record("BlsPipeline-dev", STACK_ID, deployed_record.function_arns(OUTPUTS, STACK_ID))
    deployed_record.write(directory, "dev", document)
    return directory


def test_chalice_delete_deletes_nothing_of_the_stack(project: Path) -> None:
    # GIVEN the record of a CDK stack, and an endpoint where nothing answers
    record_before = deployed_record.record_path(project, "dev").read_text()
    # WHEN `chalice delete --stage dev` runs
    done = chalice_cli.run(["delete", "--stage", "dev"], project, closed_port(), timeout=120)
    # THEN it stops on the guard while planning, before any call (a call would be a connection error),
    # and the record stays as it was
    assert done.returncode != 0
    assert "Sweeper encountered an unknown resource" in done.stderr and "cdk destroy BlsPipeline-dev" in done.stderr
    assert "Could not connect" not in done.stderr + done.stdout and "Deleting" not in done.stdout
    assert deployed_record.record_path(project, "dev").read_text() == record_before


def test_chalice_invoke_finds_the_function_in_the_record(project: Path) -> None:
    # WHEN `chalice invoke -n ingest --stage dev` runs against an endpoint where nothing answers
    done = chalice_cli.run(["invoke", "-n", "ingest", "--stage", "dev"], project, closed_port(), stdin="{}",
                           timeout=120, extra_env={"AWS_MAX_ATTEMPTS": "1"})
    # THEN it found the function (no "could not find a lambda function") and tried to call Lambda
    assert "could not find a lambda function" not in done.stderr
    assert "Could not connect to the endpoint URL" in done.stderr + done.stdout
    # ... and a name the stack has not is reported by Chalice as missing
    missing = chalice_cli.run(["invoke", "-n", "gold", "--stage", "dev"], project, closed_port(), stdin="{}",
                              timeout=120)
    assert missing.returncode == 2 and "could not find a lambda function named gold" in missing.stderr


def test_the_command_line_writes_the_record_from_the_stack(tmp_path: Path) -> None:
    # (argument handling only: the stack is read by tests/deploy/test_deployed_stack.py on the emulator)
    done = subprocess.run([sys.executable, "-m", "workstation.deployed_record", "--help"], check=False,
                          capture_output=True,
                          text=True)
    assert done.returncode == 0 and "--stack" in done.stdout
    assert deployed_record.default_stage("BlsPipeline-prod") == "prod"
