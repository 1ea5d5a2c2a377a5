"""Least privilege: one IAM role per Lambda function, each with only the statements it needs.

The key prefixes come from `chalicelib.core.layout` (who may touch what), so the roles follow
the store layout the code uses. Only wildcards: at the end of a key prefix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from chalicelib import APP_NAME
from chalicelib.core.layout import INGESTION_PREFIXES, READABLE_PREFIXES, REPORTS_PREFIX
from chalicelib.core.settings import Settings
from chalicelib.pipeline import events
from infra.config import (
    ANALYZE,
    API_HANDLER,
    INGEST,
    INGEST_CONTINUE,
    LAKE,
    LOGICAL_IDS,
    PipelineConfig,
)

QUEUE_CONSUMER_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]


@dataclass(frozen=True)
class BucketArns:
    """ARNs in the data bucket, whose name is a `Fn::Sub` pattern (no dependency on the bucket)."""

    name_pattern: str

    def arn(self, path: str = "") -> str:
        """The ARN of the bucket (`path` empty) or of objects in it (`/key`, `/prefix/*`)."""
        return Fn.sub(f"arn:${{AWS::Partition}}:s3:::{self.name_pattern}{path}")

    def objects(self, prefix_or_key: str) -> str:
        """The ARN of one object key, or of every object under a prefix (ending in '/')."""
        suffix = "*" if prefix_or_key.endswith("/") else ""
        return self.arn(f"/{prefix_or_key}{suffix}")


def list_statement(bucket: BucketArns) -> iam.PolicyStatement:
    # Without s3:ListBucket, HEAD/GET of a missing key answers 403 instead of 404, and the
    # store could not tell "not there yet" from "forbidden". No s3:prefix condition: it
    # does not apply to HEAD/GET, so it would bring the 403s back. Keys only, no content.
    return iam.PolicyStatement(sid="ListKeys", actions=["s3:ListBucket"], resources=[bucket.arn()])


def consume_statement(sid: str, queue: sqs.IQueue) -> iam.PolicyStatement:
    """Receive and delete the messages of `queue` (what a Lambda SQS event source needs)."""
    return iam.PolicyStatement(sid=sid, actions=QUEUE_CONSUMER_ACTIONS, resources=[queue.queue_arn])


def ingest_statements(bucket: BucketArns, continuation_queue: sqs.IQueue) -> list[iam.PolicyStatement]:
    """The mirror and the population: the ingested prefixes, and sending a continuation."""
    return [
        list_statement(bucket),
        iam.PolicyStatement(
            sid="ReadWriteDeleteIngestedData",
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[bucket.objects(p) for p in INGESTION_PREFIXES],
        ),
        iam.PolicyStatement(sid="SendContinuation", actions=["sqs:SendMessage"],
                            resources=[continuation_queue.queue_arn]),
    ]


def analyze_statements(bucket: BucketArns, settings: Settings, queue: sqs.IQueue) -> list[iam.PolicyStatement]:
    """The reports: read their inputs, read and write the reports, consume the analysis queue."""
    return [
        list_statement(bucket),
        iam.PolicyStatement(sid="ReadReportInputs", actions=["s3:GetObject"],
                            resources=[bucket.objects(key) for key in events.report_inputs(settings)]),
        iam.PolicyStatement(sid="ReadWriteReports", actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                            resources=[bucket.objects(REPORTS_PREFIX)]),
        consume_statement("ConsumeAnalysisQueue", queue),
    ]


def api_statements(bucket: BucketArns) -> list[iam.PolicyStatement]:
    """The reports API and the dashboard: read-only."""
    return [
        list_statement(bucket),
        iam.PolicyStatement(sid="ReadOnly", actions=["s3:GetObject"],
                            resources=[bucket.objects(p) for p in READABLE_PREFIXES]),
    ]


@dataclass(frozen=True)
class RoleInputs:
    """What the roles point at: the bucket, the queues, the log groups, the lake's own statements."""

    bucket: BucketArns
    settings: Settings
    analysis_queue: sqs.IQueue
    continuation_queue: sqs.IQueue
    log_groups: Mapping[str, logs.ILogGroup]
    lake_statements: Sequence[iam.PolicyStatement]


def function_roles(scope: Construct, config: PipelineConfig, inputs: RoleInputs) -> dict[str, iam.Role]:
    """One role per function (construct id `<LogicalId>Role`)."""
    bucket = inputs.bucket
    purposes = {
        INGEST: ("Daily ingestion: mirror + population", ingest_statements(bucket, inputs.continuation_queue)),
        INGEST_CONTINUE: ("Mirror continuation: the rest of a run cut short", [
            *ingest_statements(bucket, inputs.continuation_queue),
            consume_statement("ConsumeContinuationQueue", inputs.continuation_queue)]),
        ANALYZE: ("Analysis: S3 event from the queue -> reports",
                  analyze_statements(bucket, inputs.settings, inputs.analysis_queue)),
        API_HANDLER: ("Reports API and dashboard (read-only)", api_statements(bucket)),
        LAKE: ("Silver layer: S3 event from the lake queue -> Parquet + Glue partition",
               [list_statement(bucket), *inputs.lake_statements]),
    }
    return {function: function_role(scope, config, function, purpose, inputs.log_groups[function], statements)
            for function, (purpose, statements) in purposes.items()}


def function_role(scope: Construct, config: PipelineConfig, function: str, purpose: str, log_group: logs.ILogGroup,
                  statements: Sequence[iam.PolicyStatement]) -> iam.Role:
    """A role for `function`: write its own log group, then `statements`; nothing managed, no wildcard action."""
    write_logs = iam.PolicyStatement(sid="WriteOwnLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                     resources=[log_group.log_group_arn])
    role = iam.Role(
        scope, f"{LOGICAL_IDS[function]}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{APP_NAME} {config.environment}: {purpose}",
        inline_policies={"least-privilege": iam.PolicyDocument(statements=[write_logs, *statements])},
    )
    NagSuppressions.add_resource_suppressions(role, [{
        "id": "AwsSolutions-IAM5",
        "reason": "The only wildcards are at the end of a key prefix of the data bucket (bls/*, reports/*, "
                  "...): the object names under a prefix are not known in advance. No action wildcard, "
                  "no bucket-wide or account-wide resource.",
        # Only object ARNs of the form <bucket>/<prefix>/* are covered by this suppression.
        "appliesTo": [{"regex": r"/^Resource::arn:<AWS::Partition>:s3:::[^*]+\/[a-z_]+\/\*$/g"}],
    }])
    return role
