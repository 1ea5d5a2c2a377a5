"""`PipelineData`: everything of the pipeline but the functions, for both deploy paths.

The data bucket (+ access-log bucket), the analysis queue (report inputs' S3 notifications,
from `chalicelib.pipeline.events`, the same definitions as the local run), the mirror's
continuation queue (docs/every-survey.md), the silver layer (`infra/lake_resources.py`), one
log group and one least-privilege role per function (`infra/permissions.py`), the alarm topic
and the alarms (`infra/alarms.py`; each queue's dead letters raise one, `infra/queues.py`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from chalicelib import APP_NAME
from chalicelib.core.settings import CONTINUATION_QUEUE_VARIABLE, LAKE_DATABASE_VARIABLE
from chalicelib.pipeline import events
from infra.alarms import Alarms, alarm_topic, function_alarms
from infra.config import (
    ANALYZE,
    CONTINUATION_MAX_RECEIVE_COUNT,
    INGEST_CONTINUE,
    LAKE,
    LOGICAL_IDS,
    MAX_RECEIVE_COUNT,
    PipelineConfig,
    function_timeout,
)
from infra.lake_resources import LakeResources
from infra.permissions import BucketArns, RoleInputs, function_roles
from infra.queues import AlarmedQueue, QueueIds, queue_with_dead_letters

# What both buckets share: encrypted, private, TLS only, no ACLs.
_PRIVATE_BUCKET: dict[str, Any] = {
    "encryption": s3.BucketEncryption.S3_MANAGED,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "enforce_ssl": True,
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
}


class PipelineData(Construct):
    """Storage, queueing, permissions, logs and alarms; everything but the functions."""

    def __init__(self, scope: Construct, construct_id: str, config: PipelineConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        settings = config.settings()
        # A predictable name: the queue policy can name the bucket without a dependency cycle,
        # so the notification is set on the bucket itself (no custom resource, no wildcard role).
        self.bucket_name_pattern = f"{APP_NAME}-{config.environment}-${{AWS::AccountId}}-${{AWS::Region}}"
        self.bucket_name = Fn.sub(self.bucket_name_pattern)
        self.data_store = Fn.sub(f"s3://{self.bucket_name_pattern}")  # DATA_STORE of the handlers
        self.arns = BucketArns(self.bucket_name_pattern)
        self.bucket_arn = self.arns.arn()
        self.access_logs = _access_log_bucket(self)
        self.bucket = _data_bucket(self, self.bucket_name, self.access_logs)
        self.topic = alarm_topic(self, config)
        self.alarms = Alarms(self, self.topic)
        self.analysis = self._analysis_queue()
        self.continuation = self._continuation_queue()
        self.filters = events.notification_filters(settings)
        self._notify_queue(self.filters)
        self.lake = self._lake()
        self.log_groups = _log_groups(self, config)
        self.roles = function_roles(self, config, RoleInputs(
            bucket=self.arns, settings=settings, analysis_queue=self.queue,
            continuation_queue=self.continuation_queue, log_groups=self.log_groups,
            lake_statements=self.lake.function_statements(),
        ))
        self.function_alarms = function_alarms(self.alarms, config, self.queue, self.continuation_queue)

    # The queues by the names the stacks and LakeResources use.
    @property
    def queue(self) -> sqs.Queue:
        return self.analysis.queue

    @property
    def dead_letter_queue(self) -> sqs.Queue:
        return self.analysis.dead_letters

    @property
    def continuation_queue(self) -> sqs.Queue:
        return self.continuation.queue

    def objects(self, prefix_or_key: str) -> str:
        """The ARN of one object key, or of every object under a prefix (ending in '/')."""
        return self.arns.objects(prefix_or_key)

    # ----------------------------------------------------------------------- queues and notifications

    def _analysis_queue(self) -> AlarmedQueue:
        """The analysis queue; it accepts the data bucket's events (policy statement below)."""
        analysis = queue_with_dead_letters(
            self, QueueIds("Analysis", "AnalysisDeadLetters", "DeadLettersAlarm"),
            consumer_timeout=function_timeout(ANALYZE), max_receive_count=MAX_RECEIVE_COUNT, alarms=self.alarms,
            alarm_description="An S3 event could not be analyzed after retries: it is in the dead-letter queue.",
        )
        analysis.queue.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowReportInputNotificationsFromTheDataBucket",
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[analysis.queue.queue_arn],
            conditions={
                "ArnEquals": {"aws:SourceArn": self.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        ))
        return analysis

    def _continuation_queue(self) -> AlarmedQueue:
        """A mirror run carried over to its next invocation."""
        return queue_with_dead_letters(
            self, QueueIds("ContinuationQueue", "ContinuationDeadLetters", "ContinuationDeadLettersAlarm"),
            consumer_timeout=function_timeout(INGEST_CONTINUE, default=900),
            max_receive_count=CONTINUATION_MAX_RECEIVE_COUNT, alarms=self.alarms,
            alarm_description="A mirror continuation failed repeatedly: the run stopped short; see the "
                              "ingest_continue logs. The next daily run starts afresh once the lease expires.",
        )

    def _notify_queue(self, filters: tuple[events.NotificationFilter, ...]) -> None:
        """The data bucket sends the report inputs' ObjectCreated events to the analysis queue."""
        cfn_bucket: s3.CfnBucket = self.bucket.node.default_child  # type: ignore[assignment]
        cfn_bucket.add_property_override(
            "NotificationConfiguration.QueueConfigurations",
            events.cloudformation_queue_configurations(filters, self.queue.queue_arn),
        )
        # S3 checks that it may send to the queue when the configuration is set.
        queue_policy = self.queue.node.find_child("Policy")  # made by add_to_resource_policy
        cfn_bucket.add_resource_dependency(queue_policy.node.default_child)  # type: ignore[arg-type]

    def _lake(self) -> LakeResources:
        """The silver layer's resources; it hears of its inputs through EventBridge (infra/lake_resources.py)."""
        cfn_bucket: s3.CfnBucket = self.bucket.node.default_child  # type: ignore[assignment]
        cfn_bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        return LakeResources(
            self, "Lake", data=self, alarms=self.alarms, max_receive_count=MAX_RECEIVE_COUNT,
            timeout_seconds=function_timeout(LAKE),
            bytes_scanned_cutoff=self.config.athena_bytes_scanned_cutoff,
            named_queries=self.config.athena_named_queries,
        )

    def environment_variables(self) -> dict[str, str]:
        """The Lambda environment for this deployment."""
        env = {
            "DATA_STORE": self.data_store,
            "REPORT_DATA_KEY": self.config.report_data_key,
            "LOG_LEVEL": self.config.log_level,
            CONTINUATION_QUEUE_VARIABLE: self.continuation_queue.queue_url,
            LAKE_DATABASE_VARIABLE: self.lake.database_name,
        }
        return env | self.config.source_variables()


def _access_log_bucket(scope: Construct) -> s3.Bucket:
    bucket = s3.Bucket(
        scope, "AccessLogs",
        **_PRIVATE_BUCKET,
        lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(90))],
        removal_policy=RemovalPolicy.RETAIN,
    )
    NagSuppressions.add_resource_suppressions(bucket, [{
        "id": "AwsSolutions-S1",
        "reason": "This is the access-log bucket of the data bucket; logging it into itself would loop.",
    }])
    return bucket


def _data_bucket(scope: Construct, bucket_name: str, access_logs: s3.Bucket) -> s3.Bucket:
    return s3.Bucket(
        scope, "Data",
        bucket_name=bucket_name,
        **_PRIVATE_BUCKET,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="data/",
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=Duration.days(30),
                # A streamed upload cut short by a crash (normally aborted by the mirror itself).
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )


def _log_groups(scope: Construct, config: PipelineConfig) -> dict[str, logs.LogGroup]:
    """One log group per function, named as Lambda names it (so it exists before the function)."""
    return {
        function: logs.LogGroup(
            scope, f"{LOGICAL_IDS[function]}Logs",
            log_group_name=f"/aws/lambda/{config.function_name(function)}",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        for function in LOGICAL_IDS
    }
