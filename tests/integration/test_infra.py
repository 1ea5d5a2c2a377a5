"""The CDK app (infra/): template assertions, cdk-nag, both deploy paths, the Lambda package size.

Synthesis is slow (jsii + `chalice package`), so each stack is synthesized once per test
session and the templates are shared. Synthesis runs in a temporary directory (the
Chalice construct writes `chalice.out/` into the working directory). Needs `node`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.errors import ConfigError
from chalicelib.core.settings import Settings
from chalicelib.gold import tables as gold_tables
from chalicelib.gold.queries import gold_queries
from chalicelib.pipeline import events
from infra import write_chalice_config
from infra.cognito import emulator_gateway
from infra.config import PipelineConfig
from infra.main import build_app
from support.paths import REPO

ALARM_EMAIL = "ops@example.org"
# Not part of a clone (or rebuilt by tools): left out of the project copy.
PROJECT_COPY_SKIPS = (".git", ".venv", "__pycache__", ".pytest_cache", "*.egg-info", "data", "cdk.out",
                      "chalice.out", "deployments", "deployed", "artifacts", "node_modules")
# The function code zip, unzipped (app.py, chalicelib/, Chalice's runtime): about 358 KiB before the
# workstation code left chalicelib/ (commit 1f57e9d), 326 KiB after; 374 KiB with chalicelib/lake/
# (the silver layer, ~48 KiB), ~17 KiB more with the fault handling of issue 12 (validators,
# redirect policy, per-host pace, population plausibility, report tags), ~41 KiB more with the
# every-survey mirror (streamed transfers, time budget, continuation, progress), ~9 KiB more when
# core.store became a package and settings took over the environment reads (issue 18), ~34 KiB
# more with the sign-in (chalicelib/web/auth) and metrics (issue 22), ~55 KiB more with issue 19 (the
# lake's checks: DECIMAL(24,6) cells, strict series files, duplicate keys, the private read cache,
# bounded answers; the run record's validation and bounds, the local store's no-follow walk), ~90 KiB
# more with the gold layer and its explorer (issue 20), ~35 KiB more with the revisions (issue 21), 700 KiB when the revisions' diff got its own
# module; 760 KiB leaves room for the rest of issues 20 and 21 and no more: it must not grow
# past that by more than a little.
CODE_ZIP_BUDGET = 760 * 1024
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
UNTAGGABLE = {
    "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription",
    "AWS::Serverless::LayerVersion", "AWS::Lambda::Permission",
    # CloudFormation has no Tags property for these:
    "AWS::Glue::Database", "AWS::Glue::Table", "AWS::Athena::NamedQuery", "AWS::IAM::ManagedPolicy",
    "AWS::Cognito::UserPoolDomain", "AWS::Cognito::UserPoolClient",  # issue 22
}
# Other sources than BLS/DataUSA (as `make deploy-local` points the stack at its snapshot server).
SOURCES = {"bls_source_url": "http://mirror.example.org/pr/", "population_api_url": "http://mirror.example.org/pop"}
SYNTH_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}


class Synthesized:
    """One stack's template, annotations (cdk-nag findings) and synthesis time."""

    def __init__(self, stack: Any, seconds: float, workdir: Path) -> None:
        from aws_cdk.assertions import Annotations, Template

        self.template = Template.from_stack(stack)
        self.annotations = Annotations.from_stack(stack)
        self.json: dict[str, Any] = self.template.to_json()
        self.seconds = seconds
        self.workdir = workdir

    def resources(self, kind: str | None = None) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if kind is None or v["Type"] == kind}

    def one(self, kind: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
        found = [(k, v) for k, v in self.resources(kind).items() if k.startswith(prefix)]
        assert len(found) == 1, f"{kind} {prefix}: {[k for k, _ in found]}"
        return found[0]


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working directory for synthesis, with the environment synthesis needs; restores both after."""
    workdir = tmp_path_factory.mktemp("synth")
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(SYNTH_ENV)
    os.chdir(workdir)
    try:
        yield workdir
    finally:
        os.chdir(saved_cwd)
        # The Chalice construct puts the app's config variables into os.environ: drop them.
        os.environ.clear()
        os.environ.update(saved_env)


@pytest.fixture(scope="session")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the whole project (workstation/, tests/, bench/, infra/ included, as in a clone):
    packaging writes its cache (.chalice/deployments) there, not in the repo."""
    project = tmp_path_factory.mktemp("project") / "bls-pipeline"
    shutil.copytree(REPO, project, ignore=shutil.ignore_patterns(*PROJECT_COPY_SKIPS))
    return project


def _synth(workdir: Path, context: dict[str, Any], source_dir: Path | None = None) -> Synthesized:
    os.environ.update(SYNTH_ENV)  # a later synth: the previous test's monkeypatch undo may have removed them
    started = time.monotonic()
    _, stack = build_app(context, outdir=str(workdir / f"cdk.out.{len(list(workdir.iterdir()))}"),
                         source_dir=source_dir)
    synthesized = Synthesized(stack, 0.0, workdir)  # Template.from_stack synthesizes
    synthesized.seconds = time.monotonic() - started
    return synthesized


@pytest.fixture(scope="session")
def pipeline_stack(synth_dir: Path, project_copy: Path) -> Synthesized:
    """Path 1 (everything, Chalice app included), with an alarm e-mail and a contact."""
    synthesized = _synth(synth_dir, {"environment": "dev", "alarm_email": ALARM_EMAIL,
                                     "bls_contact": "data-team@example.org", **SOURCES}, source_dir=project_copy)
    print(f"\nPath 1 synth (Chalice package included): {synthesized.seconds:.1f} s")
    return synthesized


@pytest.fixture(scope="session")
def data_stack(synth_dir: Path) -> Synthesized:
    """Path 2's CDK part: the data resources alone, no e-mail."""
    synthesized = _synth(synth_dir, {"environment": "dev", "data_only": "true"})
    print(f"\nPath 2 data stack synth: {synthesized.seconds:.1f} s")
    return synthesized


@pytest.fixture(scope="session")
def vpc_stack(synth_dir: Path, project_copy: Path) -> Synthesized:
    """Path 1 with a new VPC (-c vpc=true) and IAM authorization (-c api_auth=iam) (issue 22)."""
    synthesized = _synth(synth_dir, {"environment": "dev", "vpc": "true", "api_auth": "iam"}, source_dir=project_copy)
    print(f"\nPath 1 synth, new VPC: {synthesized.seconds:.1f} s")
    return synthesized


@pytest.fixture(scope="session")
def existing_vpc_stack(synth_dir: Path, project_copy: Path) -> Synthesized:
    """Path 1 in an existing VPC (-c vpc_id=… -c subnet_ids=…) (issue 22)."""
    synthesized = _synth(synth_dir, {"environment": "dev", "vpc_id": "vpc-0123456789abcdef0",
                                     "subnet_ids": "subnet-0aaa1111,subnet-0bbb2222"}, source_dir=project_copy)
    print(f"\nPath 1 synth, existing VPC: {synthesized.seconds:.1f} s")
    return synthesized


QUICKSIGHT_USER = "arn:aws:quicksight:us-east-1:123456789012:user/default/analyst"


@pytest.fixture(scope="session")
def quicksight_stack(synth_dir: Path) -> Synthesized:
    """Path 2's data stack with QuickSight (-c quicksight_principal=…, issue 20): the same PipelineData as Path 1."""
    synthesized = _synth(synth_dir, {"environment": "dev", "data_only": "true", "quicksight_principal": QUICKSIGHT_USER})
    print(f"\nData stack synth with QuickSight: {synthesized.seconds:.1f} s")
    return synthesized


@pytest.fixture(params=["pipeline", "data"])
def stack(request: pytest.FixtureRequest) -> Synthesized:
    return request.getfixturevalue(f"{request.param}_stack")


def sub(path: str = "") -> dict[str, str]:
    """The ARN (as `Fn::Sub`) of the data bucket of environment dev, or of objects in it."""
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::bls-pipeline-dev-${{AWS::AccountId}}-${{AWS::Region}}{path}"}


def statements(role: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (policy,) = role["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- storage


def test_bucket_is_private_encrypted_versioned_and_ssl_only(stack: Synthesized) -> None:
    bucket_id, bucket = stack.one("AWS::S3::Bucket", "PipelineData")
    props = bucket["Properties"]
    assert props["BucketName"] == {"Fn::Sub": "bls-pipeline-dev-${AWS::AccountId}-${AWS::Region}"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30} and rule["Status"] == "Enabled"
    # a streamed upload cut short by a crash is removed after a day
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": stack.one("AWS::S3::Bucket",
                                                                                        "PipelineAccessLogs")[0]}
    assert bucket["DeletionPolicy"] == "Retain"
    # SSL only: the bucket policy denies every request without TLS
    policies = [p for p in stack.resources("AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": bucket_id}]
    (policy,) = policies
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == "s3:*" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] == {"AWS": "*"}


def test_notifications_are_the_shared_definitions_to_the_queue(stack: Synthesized) -> None:
    # GIVEN the definitions the local run uses
    filters = events.notification_filters(Settings.from_env({}))
    queue_id, _ = stack.one("AWS::SQS::Queue", "PipelineAnalysis5")
    _, bucket = stack.one("AWS::S3::Bucket", "PipelineData")
    # THEN the bucket sends ObjectCreated of exactly those keys to the analysis queue
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "QueueConfigurations": events.cloudformation_queue_configurations(filters, {"Fn::GetAtt": [queue_id, "Arn"]}),
        "EventBridgeConfiguration": {"EventBridgeEnabled": True},  # the silver layer's inputs (see below)
    }
    assert [r["Value"] for c in bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
            for r in c["Filter"]["S3Key"]["Rules"]] == [
        "population/population.json", "population.json", "bls/pr/pr.data.0.Current", "pr.data.0.Current"]
    # and S3 may send to the queue (only from this bucket and account) before the bucket is configured
    policy_id, policy = [(k, p) for k, p in stack.resources("AWS::SQS::QueuePolicy").items()
                         if p["Properties"]["Queues"] == [{"Ref": queue_id}]][0]
    assert bucket["DependsOn"] == [policy_id]
    (allow,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": sub()},
                                  "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_notification_filters_follow_the_report_data_key(synth_dir: Path) -> None:
    other = _synth(synth_dir, {"environment": "cu", "data_only": "true", "report_data_key": "bls/cu/cu.data.0.Current"})
    _, bucket = other.one("AWS::S3::Bucket", "PipelineData")
    rules = [r["Value"] for c in bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
             for r in c["Filter"]["S3Key"]["Rules"]]
    assert rules == ["population/population.json", "population.json", "bls/cu/cu.data.0.Current", "cu.data.0.Current"]
    analyze = statements(other.one("AWS::IAM::Role", "PipelineAnalyzeRole")[1])["ReadReportInputs"]
    assert analyze["Resource"][1] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::bls-pipeline-cu-${AWS::AccountId}"
                                                  "-${AWS::Region}/bls/cu/cu.data.0.Current"}


# --------------------------------------------------------------------------- queueing


def test_queue_is_encrypted_with_redrive_and_a_long_enough_visibility_timeout(pipeline_stack: Synthesized) -> None:
    queue_id, queue = pipeline_stack.one("AWS::SQS::Queue", "PipelineAnalysis5")
    dlq_id, dlq = pipeline_stack.one("AWS::SQS::Queue", "PipelineAnalysisDeadLetters")
    analyze_timeout = pipeline_stack.resources()["Analyze"]["Properties"]["Timeout"]
    assert analyze_timeout == 300
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * analyze_timeout
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert 3 <= redrive["maxReceiveCount"] <= 5
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    for queue_name in (queue_id, dlq_id):  # SSL only
        (policy,) = [p for p in pipeline_stack.resources("AWS::SQS::QueuePolicy").values()
                     if p["Properties"]["Queues"] == [{"Ref": queue_name}]]
        (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_data_stack_visibility_timeout_follows_the_chalice_config(data_stack: Synthesized) -> None:
    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    timeout = config["lambda_functions"]["analyze"]["lambda_timeout"]
    _, queue = data_stack.one("AWS::SQS::Queue", "PipelineAnalysis5")
    assert queue["Properties"]["VisibilityTimeout"] == 6 * timeout


# --------------------------------------------------------------------------- alarms


def test_alarms_notify_the_topic(stack: Synthesized) -> None:
    topic_id, _ = stack.one("AWS::SNS::Topic")
    dlq_id, _ = stack.one("AWS::SQS::Queue", "PipelineAnalysisDeadLetters")
    alarms = {k: v["Properties"] for k, v in stack.resources("AWS::CloudWatch::Alarm").items()}
    dead = next(a for k, a in alarms.items() if k.startswith("PipelineDeadLettersAlarm"))
    assert (dead["Namespace"], dead["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    ingestion = next(a for k, a in alarms.items() if k.startswith("PipelineIngestionErrorsAlarm"))
    # the daily ingestion's errors and the mirror continuation's (issue 19: a run stopped at its bounds raises there)
    continued = next(a for k, a in alarms.items() if k.startswith("PipelineIngestContinueErrorsAlarm"))
    for alarm, function in ((ingestion, "bls-pipeline-dev-ingest"), (continued, "bls-pipeline-dev-ingest_continue")):
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
    for alarm in (dead, ingestion, continued):
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}] and alarm["OKActions"] == [{"Ref": topic_id}]
    (topic_policy,) = stack.resources("AWS::SNS::TopicPolicy").values()
    (deny,) = [s for s in topic_policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_analysis_alarms_notify_the_topic(stack: Synthesized) -> None:
    # the analysis queue's oldest message, and the analysis function's errors and throttles (issue 12)
    topic_id, _ = stack.one("AWS::SNS::Topic")
    queue_id, _ = stack.one("AWS::SQS::Queue", "PipelineAnalysis5")
    alarms = {k: v["Properties"] for k, v in stack.resources("AWS::CloudWatch::Alarm").items()}
    age = next(a for k, a in alarms.items() if k.startswith("PipelineAnalysisQueueAgeAlarm"))
    assert (age["Namespace"], age["MetricName"], age["Statistic"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage",
                                                                      "Maximum")
    assert age["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert age["Threshold"] == 3600
    for metric in ("Errors", "Throttles"):
        alarm = next(a for k, a in alarms.items() if k.startswith(f"PipelineAnalysis{metric}Alarm"))
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == (
            "AWS/Lambda", metric, "Sum", 1)
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "bls-pipeline-dev-analyze"}]
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}] and alarm["OKActions"] == [{"Ref": topic_id}]


def test_email_subscription_only_when_the_context_gives_an_address(
    pipeline_stack: Synthesized, data_stack: Synthesized
) -> None:
    topic_id, _ = pipeline_stack.one("AWS::SNS::Topic")
    (subscription,) = pipeline_stack.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {"Protocol": "email", "TopicArn": {"Ref": topic_id}, "Endpoint": ALARM_EMAIL}
    assert data_stack.resources("AWS::SNS::Subscription") == {}


# --------------------------------------------------------------------------- tags


def test_every_taggable_resource_has_project_and_environment(stack: Synthesized) -> None:
    checked = 0
    for logical_id, resource in stack.resources().items():
        if resource["Type"] in UNTAGGABLE:
            continue
        tags = resource["Properties"].get("Tags", resource["Properties"].get("UserPoolTags"))
        pairs = tags if isinstance(tags, dict) else {t["Key"]: t["Value"] for t in tags or []}
        assert (pairs.get("Project"), pairs.get("Environment")) == ("bls-pipeline", "dev"), logical_id
        checked += 1
    assert checked >= 19  # buckets 2, queues 4, log groups 4, roles 4, topic, alarms 4 (+ functions, API)


# --------------------------------------------------------------------------- IAM


@pytest.mark.parametrize("role", ["PipelineIngestRole", "PipelineIngestContinueRole"])
def test_ingestion_roles_read_write_delete_only_their_prefixes(stack: Synthesized, role: str) -> None:
    continuation_id, _ = stack.one("AWS::SQS::Queue", "PipelineContinuationQueue")
    found = statements(stack.one("AWS::IAM::Role", role)[1])
    consume = {"ConsumeContinuationQueue"} if "Continue" in role else set()
    assert set(found) == {"WriteOwnLogs", "ListKeys", "ReadWriteDeleteIngestedData", "SendContinuation"} | consume
    data = found["ReadWriteDeleteIngestedData"]
    assert data["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    assert data["Resource"] == [sub("/bls/*"), sub("/population/*"), sub("/_state/*")]
    assert (found["ListKeys"]["Action"], found["ListKeys"]["Resource"]) == ("s3:ListBucket", sub())
    assert found["SendContinuation"]["Action"] == "sqs:SendMessage"
    assert found["SendContinuation"]["Resource"] == {"Fn::GetAtt": [continuation_id, "Arn"]}
    if consume:
        assert found["ConsumeContinuationQueue"]["Resource"] == {"Fn::GetAtt": [continuation_id, "Arn"]}


def test_continuation_queue_has_a_dead_letter_queue_and_alarms(stack: Synthesized) -> None:
    queue_id, queue = stack.one("AWS::SQS::Queue", "PipelineContinuationQueue")
    dlq_id, _ = stack.one("AWS::SQS::Queue", "PipelineContinuationDeadLetters")
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    assert queue["Properties"]["VisibilityTimeout"] == 6 * 900
    alarms = {k: v["Properties"] for k, v in stack.resources("AWS::CloudWatch::Alarm").items()}
    dead = next(a for k, a in alarms.items() if k.startswith("PipelineContinuationDeadLettersAlarm"))
    assert dead["MetricName"] == "ApproximateNumberOfMessagesVisible" and dead["Threshold"] == 1
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    age = next(a for k, a in alarms.items() if k.startswith("PipelineContinuationAgeAlarm"))
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage" and age["Threshold"] == 3600
    assert age["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    topic_id, _ = stack.one("AWS::SNS::Topic")
    assert dead["AlarmActions"] == age["AlarmActions"] == [{"Ref": topic_id}]


def test_analysis_role_reads_inputs_writes_reports_and_consumes_the_queue(stack: Synthesized) -> None:
    queue_id, _ = stack.one("AWS::SQS::Queue", "PipelineAnalysis5")
    found = statements(stack.one("AWS::IAM::Role", "PipelineAnalyzeRole")[1])
    assert set(found) == {"WriteOwnLogs", "ListKeys", "ReadReportInputs", "ReadWriteReports", "ConsumeAnalysisQueue"}
    assert found["ReadReportInputs"]["Action"] == "s3:GetObject"
    assert found["ReadReportInputs"]["Resource"] == [sub("/population/population.json"),
                                                     sub("/bls/pr/pr.data.0.Current")]
    assert found["ReadWriteReports"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    assert found["ReadWriteReports"]["Resource"] == sub("/reports/*")
    assert found["ConsumeAnalysisQueue"]["Action"] == ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                                       "sqs:GetQueueAttributes"]
    assert found["ConsumeAnalysisQueue"]["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_api_role_is_read_only(stack: Synthesized) -> None:
    found = statements(stack.one("AWS::IAM::Role", "PipelineAPIHandlerRole")[1])
    assert set(found) == {"WriteOwnLogs", "ListKeys", "ReadOnly"}
    assert found["ReadOnly"]["Action"] == "s3:GetObject"
    assert found["ReadOnly"]["Resource"] == [sub("/bls/*"), sub("/population/*"), sub("/reports/*"),
                                             sub("/_state/*"), sub("/silver/*"), sub("/gold/*")]  # gold: explorer


def test_roles_write_only_their_own_log_group_and_no_statement_is_unbounded(stack: Synthesized) -> None:
    roles = stack.resources("AWS::IAM::Role")
    assert len(roles) == 5  # ours only: Chalice creates no role, no automatic policy
    assert stack.resources("AWS::IAM::Policy") == {}
    assert [k for k in stack.resources("AWS::IAM::ManagedPolicy")] == [stack.one("AWS::IAM::ManagedPolicy")[0]]
    log_groups = {v["Properties"]["LogGroupName"]: k for k, v in stack.resources("AWS::Logs::LogGroup").items()}
    own_log_group = {
        "PipelineIngestRole": "/aws/lambda/bls-pipeline-dev-ingest",
        "PipelineIngestContinueRole": "/aws/lambda/bls-pipeline-dev-ingest_continue",
        "PipelineAnalyzeRole": "/aws/lambda/bls-pipeline-dev-analyze",
        "PipelineAPIHandlerRole": "/aws/lambda/bls-pipeline-dev",
        "PipelineLakeRole": "/aws/lambda/bls-pipeline-dev-lake",
    }
    assert set(log_groups) == set(own_log_group.values())
    for logical_id, role in roles.items():
        assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]
        assert "ManagedPolicyArns" not in role["Properties"]
        found = statements(role)
        assert found["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        (group,) = [name for prefix, name in own_log_group.items() if logical_id.startswith(prefix)]
        assert found["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": [log_groups[group], "Arn"]}
        for statement in found.values():
            assert statement["Effect"] == "Allow"
            assert "*" not in as_list(statement["Resource"]), (logical_id, statement)
            assert not any("*" in action for action in as_list(statement["Action"])), (logical_id, statement)


# --------------------------------------------------------------------------- Path 1: the Chalice app


def test_path1_functions_use_the_scoped_roles_names_and_queue(pipeline_stack: Synthesized) -> None:
    resources = pipeline_stack.resources()
    queue_id, _ = pipeline_stack.one("AWS::SQS::Queue", "PipelineAnalysis5")
    expected = {
        "Ingest": ("bls-pipeline-dev-ingest", "PipelineIngestRole", "app.ingest", 900),
        "IngestContinue": ("bls-pipeline-dev-ingest_continue", "PipelineIngestContinueRole", "app.ingest_continue",
                           900),
        "Analyze": ("bls-pipeline-dev-analyze", "PipelineAnalyzeRole", "app.analyze", 300),
        "APIHandler": ("bls-pipeline-dev", "PipelineAPIHandlerRole", "app.api_entry", 30),  # issue 22: authorizer dispatch (API_AUTH=cognito)
        "Lake": ("bls-pipeline-dev-lake", "PipelineLakeRole", "app.lake", 900),
    }
    for logical_id, (name, role_prefix, handler, timeout) in expected.items():
        props = resources[logical_id]["Properties"]
        role_id, _ = pipeline_stack.one("AWS::IAM::Role", role_prefix)
        assert (props["FunctionName"], props["Role"], props["Handler"], props["Timeout"]) == (
            name, {"Fn::GetAtt": [role_id, "Arn"]}, handler, timeout)
        assert props["Runtime"] == "python3.12"
        assert props["Environment"]["Variables"]["DATA_STORE"] == {
            "Fn::Sub": "s3://bls-pipeline-dev-${AWS::AccountId}-${AWS::Region}"}
        assert props["Environment"]["Variables"]["BLS_CONTACT"] == "data-team@example.org"
        assert props["Environment"]["Variables"]["BLS_SOURCE_URL"] == SOURCES["bls_source_url"]
        assert props["Environment"]["Variables"]["POPULATION_API_URL"] == SOURCES["population_api_url"]
        assert props["Layers"] == [{"Ref": "ManagedLayer"}]
    # the schedule and the queue (the placeholder ARN of app.py is overridden)
    assert resources["Ingest"]["Properties"]["Events"] == {
        "IngestEvent": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)"}}}
    sqs_event = resources["Analyze"]["Properties"]["Events"]["AnalyzeSqsEventSource"]
    assert sqs_event["Type"] == "SQS"
    assert sqs_event["Properties"]["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert sqs_event["Properties"]["BatchSize"] == 1
    continuation_id, _ = pipeline_stack.one("AWS::SQS::Queue", "PipelineContinuationQueue")
    continuation_event = resources["IngestContinue"]["Properties"]["Events"]["IngestContinueSqsEventSource"]
    assert continuation_event["Properties"]["Queue"] == {"Fn::GetAtt": [continuation_id, "Arn"]}
    assert continuation_event["Properties"]["BatchSize"] == 1
    assert "placeholder" not in json.dumps(pipeline_stack.json)


def test_path1_ingestion_runs_alone_and_the_api_is_throttled_and_capped(pipeline_stack: Synthesized) -> None:
    resources = pipeline_stack.resources()
    # one ingestion at a time; the API cannot take the account's whole Lambda concurrency
    assert resources["Ingest"]["Properties"]["ReservedConcurrentExecutions"] == 1
    assert resources["APIHandler"]["Properties"]["ReservedConcurrentExecutions"] == 5
    assert "ReservedConcurrentExecutions" not in resources["Analyze"]["Properties"]
    assert resources["RestAPI"]["Properties"]["MethodSettings"] == [{
        "ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}]
def test_path1_never_two_ingestions_at_once(pipeline_stack: Synthesized) -> None:
    # The daily run and the continuation each run one at a time; between them the lease decides
    # (tests/test_continuation.py exercises it).
    resources = pipeline_stack.resources()
    for function in ("Ingest", "IngestContinue"):
        assert resources[function]["Properties"]["ReservedConcurrentExecutions"] == 1
        assert resources[function]["Properties"]["MemorySize"] == 1024
    variables = resources["IngestContinue"]["Properties"]["Environment"]["Variables"]
    assert variables["CONTINUATION_QUEUE_URL"] == {"Ref": pipeline_stack.one("AWS::SQS::Queue", "PipelineContinuationQueue")[0]}


def test_path1_api_requires_iam_authorization_with_api_auth_iam(vpc_stack: Synthesized) -> None:
    # issue 22: `cdk deploy` defaults to cognito (tests below); -c api_auth=iam keeps SigV4 on every route
    api = vpc_stack.resources()["RestAPI"]["Properties"]["DefinitionBody"]
    operations = [op for path in api["paths"].values() for op in path.values() if isinstance(op, dict)]
    assert operations and all(op.get("security") == [{"sigv4": []}] for op in operations)
    assert vpc_stack.resources("AWS::Cognito::UserPool") == {}


# --------------------------------------------------------------------------- cdk-nag


def test_cdk_nag_finds_no_unsuppressed_error(stack: Synthesized) -> None:
    from aws_cdk.assertions import Match

    errors = stack.annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_every_nag_suppression_has_a_reason(stack: Synthesized) -> None:
    suppressions = [
        (logical_id, rule)
        for logical_id, resource in stack.resources().items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    # COG2/COG3/COG8: MFA optional and no paid threat protection by default (infra/cognito.py, issue 22)
    expected = {"AwsSolutions-S1", "AwsSolutions-SNS2", "AwsSolutions-IAM5"}
    if stack.resources("AWS::Cognito::UserPool"):
        expected |= {"AwsSolutions-COG2", "AwsSolutions-COG3", "AwsSolutions-COG8"}
    assert {rule["id"] for _, rule in suppressions} == expected
    for logical_id, rule in suppressions:
        assert len(rule["reason"]) >= 40, (logical_id, rule)


# --------------------------------------------------------------------------- Path 2 and packaging


def test_data_stack_outputs_everything_the_chalice_config_needs(data_stack: Synthesized) -> None:
    outputs = data_stack.json["Outputs"]
    assert set(write_chalice_config.REQUIRED_OUTPUTS) <= set(outputs)
    assert outputs["DataStore"]["Value"] == {"Fn::Sub": "s3://bls-pipeline-dev-${AWS::AccountId}-${AWS::Region}"}
    queue_id, _ = data_stack.one("AWS::SQS::Queue", "PipelineAnalysis5")
    assert outputs["QueueArn"]["Value"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert data_stack.resources("AWS::Serverless::Function") == {}


FAKE_OUTPUTS = {
    "Environment": "dev",
    "DataStore": "s3://bls-pipeline-dev-123456789012-us-east-1",
    "BucketName": "bls-pipeline-dev-123456789012-us-east-1",
    "QueueArn": "arn:aws:sqs:us-east-1:123456789012:BlsPipelineData-dev-PipelineAnalysis-abc",
    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/BlsPipelineData-dev-PipelineAnalysis-abc",
    "ReportDataKey": "bls/pr/pr.data.0.Current",
    "IngestRoleArn": "arn:aws:iam::123456789012:role/ingest-role",
    "IngestContinueRoleArn": "arn:aws:iam::123456789012:role/ingest-continue-role",
    "ContinuationQueueArn": "arn:aws:sqs:us-east-1:123456789012:BlsPipelineData-dev-PipelineContinuation-abc",
    "ContinuationQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/BlsPipelineData-dev-PipelineContinuation-abc",
    "AnalyzeRoleArn": "arn:aws:iam::123456789012:role/analyze-role",
    "ApiHandlerRoleArn": "arn:aws:iam::123456789012:role/api-role",
    "LakeQueueArn": "arn:aws:sqs:us-east-1:123456789012:BlsPipelineData-dev-PipelineLakeLakeQueue-abc",
    "LakeRoleArn": "arn:aws:iam::123456789012:role/lake-role",
    "LakeDatabase": "bls_pipeline_dev",
}


def test_writer_puts_the_outputs_into_the_stage_and_keeps_the_rest(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the repository's config and a `cdk deploy --outputs-file` document
    config = tmp_path / "config.json"
    shutil.copy(REPO / ".chalice" / "config.json", config)
    original = json.loads(config.read_text())
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps({"BlsPipelineData-dev": FAKE_OUTPUTS}))
    # WHEN the writer runs
    assert write_chalice_config.main(["--outputs-file", str(outputs_file), "--config", str(config),
                                      "--contact", "data-team@example.org"]) == 0
    # THEN stage dev is wired to the stack's resources, with one pre-created role per function
    written = json.loads(config.read_text())
    stage = written["stages"]["dev"]
    assert stage["environment_variables"] == {
        "DATA_STORE": FAKE_OUTPUTS["DataStore"], "ANALYSIS_QUEUE_ARN": FAKE_OUTPUTS["QueueArn"],
        "CONTINUATION_QUEUE_ARN": FAKE_OUTPUTS["ContinuationQueueArn"],
        "CONTINUATION_QUEUE_URL": FAKE_OUTPUTS["ContinuationQueueUrl"],
        "REPORT_DATA_KEY": "bls/pr/pr.data.0.Current", "BLS_CONTACT": "data-team@example.org",
        "LAKE_QUEUE_ARN": FAKE_OUTPUTS["LakeQueueArn"], "LAKE_GLUE_DATABASE": "bls_pipeline_dev",
    }
    assert (stage["manage_iam_role"], stage["autogen_policy"], stage["iam_role_arn"]) == (
        False, False, FAKE_OUTPUTS["ApiHandlerRoleArn"])
    assert {f: c["iam_role_arn"] for f, c in stage["lambda_functions"].items()} == {
        "ingest": FAKE_OUTPUTS["IngestRoleArn"], "ingest_continue": FAKE_OUTPUTS["IngestContinueRoleArn"],
        "analyze": FAKE_OUTPUTS["AnalyzeRoleArn"],
        "api_handler": FAKE_OUTPUTS["ApiHandlerRoleArn"], "lake": FAKE_OUTPUTS["LakeRoleArn"],
    }
    # and everything else is as it was
    assert {k: v for k, v in written.items() if k != "stages"} == {k: v for k, v in original.items() if k != "stages"}
    assert stage["api_gateway_stage"] == original["stages"]["dev"]["api_gateway_stage"]
    assert "next: chalice deploy --stage dev" in capsys.readouterr().out


def test_writer_refuses_outputs_of_the_wrong_stack(tmp_path: Path) -> None:
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps({"BlsPipeline-dev": {"DataStore": "s3://x"}}))
    with pytest.raises(SystemExit, match="has no outputs of stack 'BlsPipelineData-dev'"):
        write_chalice_config.main(["--outputs-file", str(outputs_file), "--config", str(tmp_path / "c.json")])
    outputs_file.write_text(json.dumps({"BlsPipelineData-dev": {"DataStore": "s3://x"}}))
    with pytest.raises(SystemExit, match="lack QueueArn, ReportDataKey, IngestRoleArn"):
        write_chalice_config.main(["--outputs-file", str(outputs_file), "--config", str(tmp_path / "c.json")])


def _unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


@pytest.fixture(scope="session")
def path2_package(project_copy: Path) -> Path:
    """`chalice package --stage dev` of the project copy, its config filled in by the writer."""
    project = project_copy
    outputs_file = project.parent / "outputs.json"
    outputs_file.write_text(json.dumps({"BlsPipelineData-dev": FAKE_OUTPUTS}))
    write_chalice_config.main(["--outputs-file", str(outputs_file), "--contact", "data-team@example.org",
                               "--config", str(project / ".chalice" / "config.json")])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANALYSIS_QUEUE"))}
    env.update(SYNTH_ENV)
    chalice = Path(sys.executable).parent / "chalice"
    done = subprocess.run([str(chalice), "package", "--stage", "dev", str(project / "out")], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Could not install dependencies" not in done.stdout + done.stderr
    return project / "out"


def test_path2_chalice_package_uses_the_stack_resources(path2_package: Path) -> None:
    template = json.loads((path2_package / "sam.json").read_text())
    resources = template["Resources"]
    # no role made by Chalice: each function runs with the data stack's role for it
    assert [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"] == []
    assert resources["Ingest"]["Properties"]["Role"] == FAKE_OUTPUTS["IngestRoleArn"]
    assert resources["Analyze"]["Properties"]["Role"] == FAKE_OUTPUTS["AnalyzeRoleArn"]
    assert resources["APIHandler"]["Properties"]["Role"] == FAKE_OUTPUTS["ApiHandlerRoleArn"]
    # the SQS handler subscribes to the stack's queue (ANALYSIS_QUEUE_ARN read when Chalice loads app.py)
    sqs_event = resources["Analyze"]["Properties"]["Events"]["AnalyzeSqsEventSource"]["Properties"]
    assert sqs_event["Queue"] == FAKE_OUTPUTS["QueueArn"] and sqs_event["BatchSize"] == 1
    lake_event = resources["Lake"]["Properties"]["Events"]["LakeSqsEventSource"]["Properties"]
    assert lake_event["Queue"] == FAKE_OUTPUTS["LakeQueueArn"] and lake_event["BatchSize"] == 1
    assert resources["Lake"]["Properties"]["Role"] == FAKE_OUTPUTS["LakeRoleArn"]
    assert resources["Lake"]["Properties"]["Environment"]["Variables"]["LAKE_GLUE_DATABASE"] == "bls_pipeline_dev"
    assert resources["Ingest"]["Properties"]["Environment"]["Variables"]["DATA_STORE"] == FAKE_OUTPUTS["DataStore"]
    # the same reserved concurrency as Path 1 (from .chalice/config.json)
    assert resources["Ingest"]["Properties"]["ReservedConcurrentExecutions"] == 1
    assert resources["APIHandler"]["Properties"]["ReservedConcurrentExecutions"] == 5


def test_lambda_package_ships_the_dashboard_assets(path2_package: Path) -> None:
    # GIVEN the dashboard's CSS, JavaScript and HTML templates kept as files next to chalicelib/web/dashboard.py
    web = REPO / "chalicelib" / "web"
    assets = [web / "static" / "dashboard.css", web / "static" / "dashboard.js", *(web / "templates").glob("*.html")]
    assert len(assets) > 3
    # THEN `chalice package` puts them, unchanged, in the function code, and Jinja2 in the layer
    with zipfile.ZipFile(path2_package / "deployment.zip") as archive:
        for path in assets:
            assert archive.read(path.relative_to(REPO).as_posix()) == path.read_bytes()
    with zipfile.ZipFile(path2_package / "layer-deployment.zip") as archive:
        assert "python/lib/python3.12/site-packages/jinja2/__init__.py" in archive.namelist()


def test_lambda_package_is_under_the_250_mb_limit(path2_package: Path, pipeline_stack: Synthesized,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Path 2's zips, and the ones the Chalice construct made for Path 1
    path1_dirs = [d for d in (pipeline_stack.workdir / "chalice.out").iterdir() if d.is_dir()]
    for label, folder in [("chalice package (Path 2)", path2_package)] + [("CDK construct (Path 1)", path1_dirs[0])]:
        code = _unzipped_size(folder / "deployment.zip")
        layer = _unzipped_size(folder / "layer-deployment.zip")
        with capsys.disabled():
            print(f"\n{label}: code {code / 2**20:.1f} MiB + layer {layer / 2**20:.1f} MiB = "
                  f"{(code + layer) / 2**20:.1f} MiB unzipped (limit 250 MiB)")
        assert code + layer < LAMBDA_UNZIPPED_LIMIT
        assert code < 5 * 2**20  # the dependencies are in the layer, not in every function's zip
        with zipfile.ZipFile(folder / "layer-deployment.zip") as archive:
            names = archive.namelist()
        assert any(n.startswith("python/lib/python3.12/site-packages/pandas/") for n in names)
        assert any(n.startswith("python/lib/python3.12/site-packages/numpy/") for n in names)


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_the_layer_holds_exactly_the_locked_versions(path2_package: Path, pipeline_stack: Synthesized) -> None:
    # GIVEN the lock file: every Lambda dependency pinned with its hashes (`make lock`)
    lines = (REPO / "requirements.txt").read_text().splitlines()
    pins = dict(line.split(" ")[0].split("==") for line in lines if "==" in line and not line.startswith(" "))
    assert all(f"{name}=={version} \\" in lines for name, version in pins.items())  # each one with --hash lines
    assert {"pandas", "numpy", "fastparquet", "boto3"} <= pins.keys()
    # THEN the layer of both paths holds those distributions at those versions, and nothing else
    path1_dirs = [d for d in (pipeline_stack.workdir / "chalice.out").iterdir() if d.is_dir()]
    for folder in (path2_package, path1_dirs[0]):
        with zipfile.ZipFile(folder / "layer-deployment.zip") as archive:
            installed = {n.split("/")[4].removesuffix(".dist-info") for n in archive.namelist()
                         if n.split("/")[4:5] and n.split("/")[4].endswith(".dist-info")}
        assert {_normalized(d.rsplit("-", 1)[0]): d.rsplit("-", 1)[1] for d in installed} == {
            _normalized(name): version for name, version in pins.items()}, folder


def test_lambda_package_holds_app_and_chalicelib_only(path2_package: Path, project_copy: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a project copy that holds the workstation-only code, the tests, the benchmarks and the CDK app
    assert all((project_copy / folder / "__init__.py").exists() or (project_copy / folder).is_dir()
               for folder in ("workstation", "tests", "bench", "infra"))
    # WHEN `chalice package` built it (path2_package)
    with zipfile.ZipFile(path2_package / "deployment.zip") as archive:
        names = {info.filename for info in archive.infolist() if not info.is_dir()}
        sources = {name: archive.read(name).decode("utf-8") for name in names if name.endswith(".py")}
        size = sum(info.file_size for info in archive.infolist())
    # THEN the function code is exactly app.py and chalicelib/** (plus Chalice's own runtime module)
    shipped = {"app.py", "chalice/__init__.py", "chalice/app.py"} | {path.relative_to(project_copy).as_posix()
                            for path in (project_copy / "chalicelib").rglob("*") if path.is_file()}
    assert names == shipped
    assert not [n for n in names if n.startswith(("workstation/", "tests/", "bench/", "infra/"))]
    # AND no shipped module is command-line or workstation code, or reaches into tests/
    for name, text in sources.items():
        if name.startswith("chalice/"):
            continue
        for forbidden in ("import argparse", "from workstation", "import workstation", "tests/"):
            assert forbidden not in text, f"{name} holds {forbidden!r}"
    # AND the code zip does not grow (the dependencies are in the layer)
    with capsys.disabled():
        print(f"\nchalice package: function code {len(names)} files, {size / 2**10:.0f} KiB unzipped")
    assert size < CODE_ZIP_BUDGET


def test_context_values_are_validated() -> None:
    with pytest.raises(ValueError, match="context 'environment': 'Prod' must be 1-15 lower-case"):
        PipelineConfig(environment="Prod")
    with pytest.raises(ValueError, match="context 'alarm_email': 'ops' is not an e-mail address"):
        PipelineConfig(alarm_email="ops")
    with pytest.raises(ConfigError, match="BLS_SOURCE_URL: 'ftp://mirror.example.org/pr/' is not a directory URL"):
        PipelineConfig(bls_source_url="ftp://mirror.example.org/pr/")
    assert PipelineConfig().source_variables() == {}
    assert PipelineConfig(environment="prod").function_name("api_handler") == "bls-pipeline-prod"


def test_the_emulator_switch_of_the_sign_in_takes_only_a_localhost_gateway() -> None:
    # `-c sign_in_emulator=…` (make deploy-local only; the deploy tier checks what it changes in the stack)
    assert emulator_gateway(None) is None and emulator_gateway("") is None
    assert emulator_gateway("http://localhost:4566/") == "http://localhost:4566"
    for bad in ("https://example.org", "http://127.0.0.1:4566", "http://localhost:4566/path", "localhost:4566"):
        with pytest.raises(ValueError, match="context 'sign_in_emulator'"):
            emulator_gateway(bad)


def test_the_cdk_app_without_a_region_says_so_in_one_line(tmp_path: Path) -> None:
    # GIVEN the command `cdk synth` runs (infra/cdk.json's "app", from infra/) and no AWS_DEFAULT_REGION
    command = json.loads((REPO / "infra" / "cdk.json").read_text())["app"]
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    env |= {"CDK_OUTDIR": str(tmp_path / "cdk.out"), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])}
    # WHEN it synthesizes Path 1
    done = subprocess.run(command, shell=True, cwd=REPO / "infra", env=env, capture_output=True, text=True,
                          timeout=300)
    # THEN it fails with one line naming the variable, not a traceback
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "error: AWS_DEFAULT_REGION is not set; packaging the Chalice app needs it "
        "(e.g. AWS_DEFAULT_REGION=us-east-1; AWS_REGION alone is not enough)"]


def test_templates_pass_cfn_lint(stack: Synthesized, tmp_path: Path) -> None:
    # CloudFormation's own resource schemas (value ranges, required properties, references).
    # SAM resources (AWS::Serverless::*) are checked by the assertions above, not by cfn-lint.
    template = tmp_path / "template.json"
    template.write_text(json.dumps(stack.json))
    done = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(template), "--regions", "us-east-1"],
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "")


# --------------------------------------------------------------------------- the silver layer (infra/lake_resources.py)


def test_lake_queue_hears_of_lake_inputs_through_eventbridge(stack: Synthesized) -> None:
    queue_id, queue = stack.one("AWS::SQS::Queue", "PipelineLakeQueue")
    dlq_id, _ = stack.one("AWS::SQS::Queue", "PipelineLakeDeadLetters")
    _, rule = stack.one("AWS::Events::Rule")
    bucket = next(v for v in stack.resources("AWS::S3::Bucket").values() if "NotificationConfiguration" in v["Properties"])
    # S3 sends every event to EventBridge; the rule picks created/deleted lake inputs of this bucket
    assert bucket["Properties"]["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": [{"Fn::Sub": "bls-pipeline-dev-${AWS::AccountId}-${AWS::Region}"}]},
                   "object": {"key": [{"prefix": f.prefix} for f in events.lake_filters()]}},
    }
    assert [t["Arn"] for t in rule["Properties"]["Targets"]] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    # the queue: encrypted, redriven to its own dead-letter queue, which raises an alarm
    props = queue["Properties"]
    assert props["SqsManagedSseEnabled"] is True and props["VisibilityTimeout"] == 6 * 900
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 4}
    (alarm,) = [a for a in stack.resources("AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("Dimensions") == [{"Name": "QueueName",
                                                          "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]]
    assert alarm["Properties"]["Threshold"] == 1 and alarm["Properties"]["AlarmActions"]


def test_glue_tables_describe_the_silver_layout_without_a_crawler(stack: Synthesized) -> None:
    from chalicelib.lake import tables

    _, database = stack.one("AWS::Glue::Database")
    assert database["Properties"]["DatabaseInput"]["Name"] == "bls_pipeline_dev"
    glue_tables = {t["Properties"]["TableInput"]["Name"]: t["Properties"]
                   for t in stack.resources("AWS::Glue::Table").values()}
    assert set(glue_tables) == {"bls_data", "bls_series", "population", "bls_revisions", *gold_tables.TABLES}
    for name, props in glue_tables.items():
        if name in gold_tables.TABLES:
            continue  # test_glue_tables_describe_the_gold_layout
        table = props["TableInput"]
        descriptor = table["StorageDescriptor"]
        assert props["DatabaseName"] == "bls_pipeline_dev"
        assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == list(tables.COLUMNS[name])
        assert [k["Name"] for k in table.get("PartitionKeys", [])] == list(tables.PARTITION_KEYS[name])
        assert descriptor["Location"] == {
            "Fn::Sub": f"s3://bls-pipeline-dev-${{AWS::AccountId}}-${{AWS::Region}}/silver/{name}/"}
        assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert dict(tables.COLUMNS["bls_data"])["value"] == "decimal(24,6)"
    assert stack.resources("AWS::Glue::Crawler") == {}


def test_glue_tables_describe_the_gold_layout(stack: Synthesized) -> None:
    glue_tables = {t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
                   for t in stack.resources("AWS::Glue::Table").values()}
    for name in gold_tables.TABLES:
        table = glue_tables[name]
        assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == list(gold_tables.COLUMNS[name])
        assert [k["Name"] for k in table["PartitionKeys"]] == ["survey"]
        assert table["StorageDescriptor"]["Location"] == {
            "Fn::Sub": f"s3://bls-pipeline-dev-${{AWS::AccountId}}-${{AWS::Region}}/gold/{name}/"}


def test_athena_workgroup_is_enforced_encrypted_and_capped(stack: Synthesized) -> None:
    _, workgroup = stack.one("AWS::Athena::WorkGroup")
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert workgroup["Properties"]["Name"] == "bls-pipeline-dev"
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert config["ResultConfiguration"] == {
        "OutputLocation": {"Fn::Sub": "s3://bls-pipeline-dev-${AWS::AccountId}-${AWS::Region}/athena-results/"},
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }


def test_named_queries_are_the_report_sql(stack: Synthesized) -> None:
    from chalicelib.lake.queries import report_queries, revision_queries

    workgroup_id, _ = stack.one("AWS::Athena::WorkGroup")
    queries = {q["Properties"]["Name"]: q["Properties"] for q in stack.resources("AWS::Athena::NamedQuery").values()}
    expected = report_queries(Settings()) | {f"gold_{name}": sql for name, sql in gold_queries().items()}
    expected |= revision_queries()
    assert set(queries) == {f"bls-pipeline-dev-{name.replace('_', '-')}" for name in expected}
    for name, sql in expected.items():
        query = queries[f"bls-pipeline-dev-{name.replace('_', '-')}"]
        assert query["QueryString"] == sql  # the text the DuckDB tests run
        assert (query["Database"], query["WorkGroup"]) == ("bls_pipeline_dev", {"Ref": workgroup_id})


def test_analyst_policy_is_read_only_sql_on_the_silver_layer(stack: Synthesized) -> None:
    _, policy = stack.one("AWS::IAM::ManagedPolicy")
    found = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(found) == {"QueryInTheWorkgroup", "ReadTheCatalog", "ListSilverAndResults", "ReadSilver", "ReadGold",
                          "WriteOwnQueryResults"}
    assert all(a.startswith("athena:") for a in found["QueryInTheWorkgroup"]["Action"])
    assert found["QueryInTheWorkgroup"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/bls-pipeline-dev"}
    assert all(a.startswith("glue:Get") or a == "glue:BatchGetPartition" for a in found["ReadTheCatalog"]["Action"])
    assert found["ReadSilver"]["Action"] == "s3:GetObject" and found["ReadSilver"]["Resource"] == sub("/silver/*")
    assert found["WriteOwnQueryResults"]["Resource"] == sub("/athena-results/*")
    assert found["ReadGold"]["Action"] == "s3:GetObject" and found["ReadGold"]["Resource"] == sub("/gold/*")
    assert found["ListSilverAndResults"]["Condition"] == {"StringLike": {"s3:prefix": [
        "silver/*", "gold/*", "athena-results/*"]}}
    everything = json.dumps(policy)
    assert "/bls/" not in everything and "/reports/" not in everything and "s3:DeleteObject" not in everything
    for statement in found.values():
        assert statement["Effect"] == "Allow" and "*" not in as_list(statement["Resource"])


def test_lake_role_reads_inputs_writes_silver_and_keeps_glue_partitions(stack: Synthesized) -> None:
    queue_id, _ = stack.one("AWS::SQS::Queue", "PipelineLakeQueue")
    found = statements(stack.one("AWS::IAM::Role", "PipelineLakeRole")[1])
    assert set(found) == {"WriteOwnLogs", "ListKeys", "ReadLakeInputs", "ReadWriteDeleteSilver", "ReadWriteDeleteGold",
                          "KeepGluePartitions", "ConsumeLakeQueue"}
    assert found["ReadWriteDeleteGold"]["Resource"] == sub("/gold/*")
    assert found["ReadLakeInputs"]["Resource"] == [sub("/bls/*"), sub("/population/population.json")]
    assert found["ReadWriteDeleteSilver"]["Resource"] == sub("/silver/*")
    assert found["KeepGluePartitions"]["Action"] == ["glue:GetTable", "glue:CreatePartition", "glue:DeletePartition"]
    glue = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
    assert found["KeepGluePartitions"]["Resource"] == [{"Fn::Sub": glue + "catalog"},
                                                      {"Fn::Sub": glue + "database/bls_pipeline_dev"}] + [
        {"Fn::Sub": glue + f"table/bls_pipeline_dev/{t}"}
        for t in ("bls_data", "bls_series", "population", "bls_revisions", *gold_tables.TABLES)]
    assert found["ConsumeLakeQueue"]["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_path1_lake_function_has_its_queue_disk_and_database(pipeline_stack: Synthesized) -> None:
    queue_id, _ = pipeline_stack.one("AWS::SQS::Queue", "PipelineLakeQueue")
    props = pipeline_stack.resources()["Lake"]["Properties"]
    assert props["Events"]["LakeSqsEventSource"]["Properties"]["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert props["Events"]["LakeSqsEventSource"]["Properties"]["BatchSize"] == 1
    assert props["EphemeralStorage"] == {"Size": 10240}
    assert props["Environment"]["Variables"]["LAKE_GLUE_DATABASE"] == "bls_pipeline_dev"


# --------------------------------------------------------------------------- issue 22: sign-in, dashboard, VPC

DATA_ROUTES = {"/api/status", "/api/reports/population", "/api/reports/best-years",
               "/api/reports/series/{series_id}", "/reports/{name}", "/api/revisions",
               "/api/surveys", "/api/surveys/{survey}/series", "/api/series/{series_id}"}
OPEN_ROUTES = {"/", "/auth/login", "/auth/callback", "/auth/logout"}


def test_user_pool_is_admin_only_with_a_strong_password_and_optional_totp(pipeline_stack: Synthesized) -> None:
    _, pool = pipeline_stack.one("AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert props["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 14, "RequireLowercase": True, "RequireUppercase": True, "RequireNumbers": True,
        "RequireSymbols": True, "TemporaryPasswordValidityDays": 3}
    assert props["MfaConfiguration"] == "OPTIONAL" and props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert props["UsernameAttributes"] == ["email"]
    assert props["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert pool["DeletionPolicy"] == "Retain" and props["DeletionProtection"] == "ACTIVE"


def test_app_client_is_public_with_the_code_flow_only(pipeline_stack: Synthesized) -> None:
    pool_id, _ = pipeline_stack.one("AWS::Cognito::UserPool")
    _, client = pipeline_stack.one("AWS::Cognito::UserPoolClient")
    props = client["Properties"]
    assert props["UserPoolId"] == {"Ref": pool_id}
    assert props["GenerateSecret"] is False  # nothing secret for a page, nothing to leak
    assert props["AllowedOAuthFlows"] == ["code"] and props["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(props["AllowedOAuthScopes"]) == ["email", "openid"]
    assert props["SupportedIdentityProviders"] == ["COGNITO"]
    assert props["PreventUserExistenceErrors"] == "ENABLED" and props["EnableTokenRevocation"] is True
    assert (props["IdTokenValidity"], props["TokenValidityUnits"]["IdToken"]) == (60, "minutes")
    api_url = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}
    assert props["CallbackURLs"] == [{"Fn::Join": ["", [api_url, "/auth/callback"]]}]
    assert props["LogoutURLs"] == [{"Fn::Join": ["", [api_url, "/"]]}]
    _, domain = pipeline_stack.one("AWS::Cognito::UserPoolDomain")
    assert domain["Properties"]["UserPoolId"] == {"Ref": pool_id}
    assert domain["Properties"]["Domain"] == {"Fn::Join": ["-", ["bls-pipeline-dev", {"Ref": "AWS::AccountId"}]]}


def test_every_data_route_has_the_session_authorizer_and_only_the_page_and_sign_in_are_open(
        pipeline_stack: Synthesized) -> None:
    api = pipeline_stack.resources()["RestAPI"]["Properties"]["DefinitionBody"]
    handler_arn = ("arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:bls-pipeline-dev")
    invoke = {"Fn::Sub": f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/"
                         f"{handler_arn}/invocations"}
    assert api["securityDefinitions"] == {"session": {
        "type": "apiKey", "name": "Cookie", "in": "header", "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": invoke, "authorizerResultTtlInSeconds": 300,
                                           "identitySource": "method.request.header.Cookie"}}}
    assert set(api["paths"]) == DATA_ROUTES | OPEN_ROUTES
    for path, operations in api["paths"].items():
        for operation in operations.values():
            expected = None if path in OPEN_ROUTES else [{"session": []}]
            assert operation.get("security") == expected, path
            assert operation["x-amazon-apigateway-integration"]["uri"] == invoke
    # no reference from the API to the handler's ARN: the handler's environment names the client, whose
    # callback names the API (a cycle otherwise)
    assert "APIHandler" not in json.dumps(pipeline_stack.resources()["RestAPI"])


def test_api_handler_enters_through_the_authorizer_dispatch_with_the_pool_settings(
        pipeline_stack: Synthesized) -> None:
    handler = pipeline_stack.resources()["APIHandler"]["Properties"]
    assert handler["Handler"] == "app.api_entry"
    variables = handler["Environment"]["Variables"]
    pool_id, _ = pipeline_stack.one("AWS::Cognito::UserPool")
    client_id, _ = pipeline_stack.one("AWS::Cognito::UserPoolClient")
    assert variables["API_AUTH"] == "cognito"
    assert variables["COGNITO_USER_POOL_ID"] == {"Ref": pool_id}
    assert variables["COGNITO_CLIENT_ID"] == {"Ref": client_id}
    assert variables["COGNITO_REGION"] == {"Ref": "AWS::Region"}
    assert "amazoncognito.com" in json.dumps(variables["COGNITO_DOMAIN"])
    assert "COGNITO_JWKS_URL" not in variables and "COGNITO_ISSUER" not in variables  # AWS's: from the issuer
    _, client = pipeline_stack.one("AWS::Cognito::UserPoolClient")
    assert "localhost" not in json.dumps(client)  # the emulator's callback only with -c sign_in_emulator
    outputs = pipeline_stack.json["Outputs"]
    assert {"UserPoolId", "UserPoolClientId", "SignInDomain", "DashboardURL", "OperationsDashboard"} <= set(outputs)


def _dashboard_body(stack: Synthesized) -> dict[str, Any]:
    _, dashboard = stack.one("AWS::CloudWatch::Dashboard")
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    return json.loads(text)


def test_operations_dashboard_draws_every_pipeline_metric_alarm_queue_and_function(stack: Synthesized) -> None:
    from chalicelib.core.metrics import CATALOG

    body = _dashboard_body(stack)
    widgets = body["widgets"]
    assert body["start"] == "-P14D"
    drawn = [metric for w in widgets if w["type"] == "metric" for metric in w["properties"]["metrics"]]
    pipeline = {m[1]: m for m in drawn if m[0] == "BlsPipeline"}
    # each catalog metric, per day, with the dimension the functions' EMF lines carry
    assert set(pipeline) == {spec.name for spec in CATALOG}
    for spec in CATALOG:
        assert pipeline[spec.name][2:4] == ["service", "bls-pipeline"]
        assert pipeline[spec.name][4] == {"label": spec.label, "period": 86400, "stat": spec.statistic}
    # every alarm's state
    [alarms] = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarms["properties"]["alarms"]) == len(stack.resources("AWS::CloudWatch::Alarm"))
    # queue depth and age for every queue
    queues = len(stack.resources("AWS::SQS::Queue"))
    for metric_name in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
        assert len([m for m in drawn if m[0] == "AWS/SQS" and m[1] == metric_name]) == queues
    # errors, throttles and duration of each function (fixed names: both paths)
    functions = {f"bls-pipeline-dev{suffix}" for suffix in ("", "-ingest", "-ingest_continue", "-analyze", "-lake")}
    for metric_name in ("Errors", "Throttles", "Duration"):
        assert {m[3] for m in drawn if m[0] == "AWS/Lambda" and m[1] == metric_name} == functions


def test_no_vpc_resource_by_default(stack: Synthesized) -> None:
    assert not [t for t in (r["Type"] for r in stack.resources().values()) if t.startswith("AWS::EC2::")]
    assert all("VpcConfig" not in f["Properties"] for f in stack.resources("AWS::Serverless::Function").values())


def test_vpc_true_puts_the_functions_in_private_subnets_behind_one_nat(vpc_stack: Synthesized) -> None:
    assert len(vpc_stack.resources("AWS::EC2::VPC")) == 1
    assert len(vpc_stack.resources("AWS::EC2::NatGateway")) == 1
    [(_, endpoint)] = vpc_stack.resources("AWS::EC2::VPCEndpoint").items()
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert "s3" in json.dumps(endpoint["Properties"]["ServiceName"])
    [(_, flow_log)] = vpc_stack.resources("AWS::EC2::FlowLog").items()
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert flow_log["Properties"]["LogDestinationType"] == "cloud-watch-logs"
    private = {k for k, v in vpc_stack.resources("AWS::EC2::Subnet").items()
               if v["Properties"]["MapPublicIpOnLaunch"] is False}
    assert len(private) == 2
    sg_id, group = vpc_stack.one("AWS::EC2::SecurityGroup", "NetworkFunctions")
    assert "SecurityGroupIngress" not in group["Properties"]
    assert {rule["ToPort"] for rule in group["Properties"]["SecurityGroupEgress"]} == {80, 443}
    functions = vpc_stack.resources("AWS::Serverless::Function")
    assert len(functions) == 5
    for function in functions.values():
        config = function["Properties"]["VpcConfig"]
        assert config["SecurityGroupIds"] == [{"Fn::GetAtt": [sg_id, "GroupId"]}]
        assert {ref["Ref"] for ref in config["SubnetIds"]} == private
    # each role may manage the functions' network interfaces (and nothing more with '*')
    policies = {k: v for k, v in vpc_stack.resources("AWS::IAM::Policy").items() if k.startswith("Pipeline")}
    assert len(policies) == 5  # one per function role (the flow logs' role has its own)
    for policy in policies.values():
        [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Sid"] == "LambdaNetworkInterfaces" and statement["Resource"] == "*"
        assert all(action.startswith("ec2:") and "NetworkInterface" in action or "PrivateIp" in action
                   for action in statement["Action"])


def test_vpc_id_uses_the_existing_vpc_and_its_subnets(existing_vpc_stack: Synthesized) -> None:
    types = {r["Type"] for r in existing_vpc_stack.resources().values()}
    assert not {"AWS::EC2::VPC", "AWS::EC2::NatGateway", "AWS::EC2::Subnet"} & types
    _, group = existing_vpc_stack.one("AWS::EC2::SecurityGroup")
    assert group["Properties"]["VpcId"] == "vpc-0123456789abcdef0"
    for function in existing_vpc_stack.resources("AWS::Serverless::Function").values():
        assert function["Properties"]["VpcConfig"]["SubnetIds"] == ["subnet-0aaa1111", "subnet-0bbb2222"]


@pytest.mark.parametrize("variant", ["vpc_stack", "existing_vpc_stack"])
def test_vpc_variants_are_nag_clean(request: pytest.FixtureRequest, variant: str) -> None:
    from aws_cdk.assertions import Match

    synthesized = request.getfixturevalue(variant)
    errors = synthesized.annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_vpc_context_is_validated() -> None:
    from infra.vpc import NetworkOptions

    class Scope:
        def __init__(self, context: dict[str, str]) -> None:
            self.node = type("Node", (), {"try_get_context": staticmethod(context.get)})()

    assert not NetworkOptions.from_context(Scope({})).enabled
    with pytest.raises(ValueError, match="not both"):
        NetworkOptions.from_context(Scope({"vpc": "true", "vpc_id": "vpc-1", "subnet_ids": "subnet-1"}))
    with pytest.raises(ValueError, match="needs 'subnet_ids'"):
        NetworkOptions.from_context(Scope({"vpc_id": "vpc-1"}))


# --------------------------------------------------------------------------- QuickSight (issue 20, opt-in)


def test_no_quicksight_resource_without_the_context_value(stack: Synthesized) -> None:
    assert [r["Type"] for r in stack.resources().values() if r["Type"].startswith("AWS::QuickSight::")] == []
    assert "quicksight" not in json.dumps(stack.json).lower()


def test_quicksight_data_source_datasets_and_dashboard(quicksight_stack: Synthesized) -> None:
    from infra.quicksight import DATASET_TABLES, dataset_columns

    workgroup_id, _ = quicksight_stack.one("AWS::Athena::WorkGroup")
    source_id, source = quicksight_stack.one("AWS::QuickSight::DataSource")
    role_id, _ = quicksight_stack.one("AWS::IAM::Role", "QuickSightAthenaRole")
    props = source["Properties"]
    assert props["Type"] == "ATHENA"
    assert props["DataSourceParameters"]["AthenaParameters"] == {"WorkGroup": "bls-pipeline-dev",
                                                                 "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}}
    assert props["Permissions"][0]["Principal"] == QUICKSIGHT_USER
    datasets = {d["Properties"]["PhysicalTableMap"][next(iter(d["Properties"]["PhysicalTableMap"]))][
        "RelationalTable"]["Name"]: (k, d["Properties"]) for k, d in quicksight_stack.resources("AWS::QuickSight::DataSet").items()}
    assert set(datasets) == set(DATASET_TABLES) == {*gold_tables.TABLES, "population"}
    for table, (_, dataset) in datasets.items():
        relational = dataset["PhysicalTableMap"][table]["RelationalTable"]
        assert relational["DataSourceArn"] == {"Fn::GetAtt": [source_id, "Arn"]}
        assert (relational["Catalog"], relational["Schema"]) == ("AwsDataCatalog", "bls_pipeline_dev")
        assert [{"name": c["Name"], "type": c["Type"]} for c in relational["InputColumns"]] == dataset_columns(table)
        assert dataset["ImportMode"] == "DIRECT_QUERY" and dataset["Permissions"][0]["Principal"] == QUICKSIGHT_USER
    _, dashboard = quicksight_stack.one("AWS::QuickSight::Dashboard")
    definition = dashboard["Properties"]["Definition"]
    declared = {d["Identifier"]: d["DataSetArn"] for d in definition["DataSetIdentifierDeclarations"]}
    assert declared == {"best": {"Fn::GetAtt": [datasets["series_best_year"][0], "Arn"]},
                        "annual": {"Fn::GetAtt": [datasets["series_annual"][0], "Arn"]}}
    visuals = [next(iter(v)) for sheet in definition["Sheets"] for v in sheet["Visuals"]]
    assert visuals == ["TableVisual", "LineChartVisual"]
    assert dashboard["Properties"]["Permissions"][0]["Principal"] == QUICKSIGHT_USER
    assert workgroup_id in json.dumps(source.get("DependsOn", []))


def test_quicksight_role_reads_exactly_the_tables_catalog_and_results(quicksight_stack: Synthesized) -> None:
    _, role = quicksight_stack.one("AWS::IAM::Role", "QuickSightAthenaRole")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "quicksight.amazonaws.com"}
    found = statements(role)
    assert set(found) == {"QueryInTheWorkgroup", "ListWorkgroups", "ReadTheCatalog", "ListTheTablesAndResults",
                          "ReadTheTables", "WriteQueryResults"}
    assert found["QueryInTheWorkgroup"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/bls-pipeline-dev"}
    assert found["ReadTheTables"]["Resource"] == [sub("/gold/*"), sub("/silver/*")]
    assert found["ReadTheTables"]["Action"] == "s3:GetObject"
    assert found["WriteQueryResults"]["Resource"] == sub("/athena-results/*")
    assert all(a.startswith("glue:Get") or a == "glue:BatchGetPartition" for a in found["ReadTheCatalog"]["Action"])
    everything = json.dumps(role)
    assert "/bls/" not in everything and "/reports/" not in everything and "s3:DeleteObject" not in everything


def test_quicksight_stack_is_nag_clean(quicksight_stack: Synthesized) -> None:
    from aws_cdk.assertions import Match

    errors = quicksight_stack.annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


def test_quicksight_principal_is_validated() -> None:
    with pytest.raises(ValueError, match="context 'quicksight_principal'"):
        PipelineConfig(quicksight_principal="analyst@example.org")
