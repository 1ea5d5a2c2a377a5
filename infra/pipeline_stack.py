"""The pipeline's AWS resources, for both deploy paths.

- `PipelineData`: bucket (+ access-log bucket), analysis queue + dead-letter queue, the
  mirror's continuation queue + dead-letter queue (docs/every-survey.md),
  the S3 → SQS notifications (from `chalicelib.pipeline.events`, the same definitions as the
  local run), one least-privilege IAM role per Lambda function, their log groups,
  the alarm topic and the alarms (dead letters, ingestion errors, the analysis queue's
  oldest message, analysis errors and throttles); the silver layer's resources
  (`infra/lake_resources.py`).
- `PipelineStack` (Path 1, `cdk deploy`): PipelineData + the Chalice app through
  `chalice.cdk.Chalice`, wired to those roles and that queue, with the API stage throttled.
  The functions' reserved concurrency (ingest 1: never two runs at once; the API 5: it cannot
  use up the account's concurrency) is in `.chalice/config.json`, so both paths get it.
- `DataStack` (Path 2, `cdk deploy -c data_only=true`, then `chalice deploy`):
  PipelineData alone, with outputs that `write_chalice_config.py` copies into
  `.chalice/config.json`.

The Lambda function names are fixed (`bls-pipeline-<env>-ingest`, ...; the names
`chalice deploy` gives for stage `<env>`), so the log groups, the alarm and the
IAM statements are the same on both paths. Deploy an environment with one path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import (
    Aws,
    CfnOutput,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    Tags,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from chalicelib import APP_NAME
from chalicelib.pipeline import events, handlers
from chalicelib.core.layout import INGESTION_PREFIXES, READABLE_PREFIXES, REPORTS_PREFIX
from chalicelib.core.settings import Settings
from lake_resources import LakeResources

REPO_ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"

# Chalice's function names in app.py and the logical ids `chalice package` gives them.
INGEST, INGEST_CONTINUE, ANALYZE, API_HANDLER, LAKE = "ingest", "ingest_continue", "analyze", "api_handler", "lake"
LOGICAL_IDS = {INGEST: "Ingest", INGEST_CONTINUE: "IngestContinue", ANALYZE: "Analyze", API_HANDLER: "APIHandler",
               LAKE: "Lake"}
SQS_EVENT_ID = "AnalyzeSqsEventSource"
CONTINUATION_EVENT_ID = "IngestContinueSqsEventSource"
CONTINUATION_MAX_RECEIVE_COUNT = 5  # a throttled receive (reserved concurrency 1) counts too
CONTINUATION_MAX_AGE = 3600  # seconds a continuation may wait before its alarm (one is picked up in seconds)
LAKE_SQS_EVENT_ID = "LakeSqsEventSource"
LAKE_EPHEMERAL_STORAGE_MB = 10240  # Path 1: /tmp holds one Parquet file while it is written

VISIBILITY_FACTOR = 6  # AWS: queue visibility timeout >= 6 x the function timeout
MAX_RECEIVE_COUNT = 4  # a message that failed 4 times goes to the dead-letter queue
OLDEST_MESSAGE_ALARM_SECONDS = 3600  # an analysis message waiting an hour: the analysis is stuck
API_RATE_LIMIT = 10  # requests per second, steady, for the whole API stage (Path 1)
API_BURST_LIMIT = 20

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
# What both buckets share: encrypted, private, TLS only, no ACLs.
_PRIVATE_BUCKET: dict[str, Any] = {
    "encryption": s3.BucketEncryption.S3_MANAGED,
    "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
    "enforce_ssl": True,
    "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
}


@dataclass(frozen=True)
class PipelineConfig:
    """What varies per deployment (from CDK context: `-c environment=prod -c alarm_email=...`)."""

    environment: str = "dev"
    alarm_email: str | None = None
    bls_contact: str | None = None
    report_data_key: str = Settings.report_data_key
    log_level: str = "INFO"
    athena_bytes_scanned_cutoff: int = 10 * 1024**3
    athena_named_queries: bool = True  # off only where the target has no such resource type (ministack)
    # Other sources than BLS and DataUSA (a mirror; the local snapshot server of `make deploy-local`).
    bls_source_url: str | None = None
    population_api_url: str | None = None
    ingest_time_budget: str | None = None  # MIRROR_TIME_BUDGET of the daily function only (tests: continuations)
    http_requests_per_second: str | None = None  # a local source server needs no pace (`make deploy-local`)

    def __post_init__(self) -> None:
        if not _ENVIRONMENT.match(self.environment):
            raise ValueError(
                f"context 'environment': {self.environment!r} must be 1-15 lower-case letters, digits or '-', "
                "starting with a letter (it becomes part of bucket and function names)"
            )
        if self.alarm_email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.alarm_email):
            raise ValueError(f"context 'alarm_email': {self.alarm_email!r} is not an e-mail address")
        # Same validation as the Lambda will apply at run time, but at synth time.
        Settings.from_env(self.source_variables() | {"REPORT_DATA_KEY": self.report_data_key})

    @classmethod
    def from_context(cls, scope: Construct) -> PipelineConfig:
        """Read the context values (missing ones keep their defaults)."""
        values: dict[str, Any] = {}
        for name in ("environment", "alarm_email", "bls_contact", "report_data_key", "log_level",
                     "bls_source_url", "population_api_url", "ingest_time_budget",
                     "http_requests_per_second"):
            value = scope.node.try_get_context(name)
            if value not in (None, ""):
                values[name] = str(value)
        if (cutoff := scope.node.try_get_context("athena_bytes_scanned_cutoff")) not in (None, ""):
            values["athena_bytes_scanned_cutoff"] = int(cutoff)
        if str(scope.node.try_get_context("athena_named_queries")).lower() in ("false", "0", "no"):
            values["athena_named_queries"] = False
        return cls(**values)

    def source_variables(self) -> dict[str, str]:
        """The environment variables naming the sources and the contact (only those set)."""
        values = {"BLS_CONTACT": self.bls_contact, "BLS_SOURCE_URL": self.bls_source_url,
                  "POPULATION_API_URL": self.population_api_url,
                  "HTTP_REQUESTS_PER_SECOND": self.http_requests_per_second}
        return {name: value for name, value in values.items() if value}

    def function_name(self, function: str) -> str:
        """The Lambda function name, as `chalice deploy --stage <environment>` names it."""
        if function == API_HANDLER:
            return f"{APP_NAME}-{self.environment}"
        return f"{APP_NAME}-{self.environment}-{function}"

    def settings(self) -> Settings:
        """The run-time settings these values give (for the notification definitions)."""
        return Settings.from_env({"REPORT_DATA_KEY": self.report_data_key})


def chalice_function_config(function: str, config_path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    """Top-level `lambda_functions.<function>` of `.chalice/config.json` (timeouts, memory)."""
    config = json.loads(config_path.read_text())
    return dict(config.get("lambda_functions", {}).get(function, {}))


def analysis_timeout_seconds(config_path: Path = CHALICE_CONFIG) -> int:
    """The analysis function's timeout, from `.chalice/config.json` (Chalice's default: 60 s)."""
    return int(chalice_function_config(ANALYZE, config_path).get("lambda_timeout", 60))


# --------------------------------------------------------------------------- shared resources


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
        self.bucket_arn = self.arn()
        self.access_logs = self._access_log_bucket()
        self.bucket = self._data_bucket(self.access_logs)
        self.analysis_timeout = analysis_timeout_seconds()
        self.dead_letter_queue, self.queue = self._queues(self.analysis_timeout)
        self.continuation_dead_letters, self.continuation_queue = self._continuation_queues()
        self.filters = events.notification_filters(settings)
        self._notify_queue(self.filters)
        self.lake = self._lake()
        self.log_groups = self._log_groups()
        self.roles = {
            INGEST: self._role(INGEST, "Daily ingestion: mirror + population", self._ingest_statements()),
            INGEST_CONTINUE: self._role(INGEST_CONTINUE, "Mirror continuation: the rest of a run cut short",
                                        [*self._ingest_statements(), self._consume_continuations()]),
            ANALYZE: self._role(ANALYZE, "Analysis: S3 event from the queue -> reports",
                                self._analyze_statements(settings)),
            API_HANDLER: self._role(API_HANDLER, "Reports API and dashboard (read-only)", self._api_statements()),
            LAKE: self._role(LAKE, "Silver layer: S3 event from the lake queue -> Parquet + Glue partition",
                             [self._list_statement(), *self.lake.function_statements()]),
        }
        self.topic = self._alarm_topic()
        self.dead_letter_alarm, self.ingestion_alarm = self._alarms(self.topic)
        self.analysis_alarms = self._analysis_alarms(self.topic)
        self.continuation_alarms = self._continuation_alarms(self.topic)
        self.lake_dead_letter_alarm = self._alarm(
            "LakeDeadLettersAlarm",
            "A lake input could not be converted after retries: it is in the lake dead-letter queue.",
            _queue_depth(self.lake.dead_letter_queue),
            self.topic,
        )

    # ----------------------------------------------------------------------- buckets

    def _access_log_bucket(self) -> s3.Bucket:
        bucket = s3.Bucket(
            self, "AccessLogs",
            **_PRIVATE_BUCKET,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        NagSuppressions.add_resource_suppressions(bucket, [{
            "id": "AwsSolutions-S1",
            "reason": "This is the access-log bucket of the data bucket; logging it into itself would loop.",
        }])
        return bucket

    def _data_bucket(self, access_logs: s3.Bucket) -> s3.Bucket:
        return s3.Bucket(
            self, "Data",
            bucket_name=self.bucket_name,
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

    # ----------------------------------------------------------------------- queue and notifications

    def _queues(self, analysis_timeout: int) -> tuple[sqs.Queue, sqs.Queue]:
        """(dead-letter queue, analysis queue); the analysis queue accepts the data bucket's events."""
        dead_letters = sqs.Queue(
            self, "AnalysisDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        queue = sqs.Queue(
            self, "Analysis",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(VISIBILITY_FACTOR * analysis_timeout),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=MAX_RECEIVE_COUNT),
        )
        queue.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowReportInputNotificationsFromTheDataBucket",
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
            conditions={
                "ArnEquals": {"aws:SourceArn": self.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        ))
        return dead_letters, queue

    def _continuation_queues(self) -> tuple[sqs.Queue, sqs.Queue]:
        """(dead-letter queue, continuation queue): a mirror run carried over to its next invocation."""
        dead_letters = sqs.Queue(
            self, "ContinuationDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        timeout = int(chalice_function_config(INGEST_CONTINUE).get("lambda_timeout", 900))
        queue = sqs.Queue(
            self, "ContinuationQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(VISIBILITY_FACTOR * timeout),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=CONTINUATION_MAX_RECEIVE_COUNT),
        )
        return dead_letters, queue

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
            self, "Lake", data=self, visibility_factor=VISIBILITY_FACTOR, max_receive_count=MAX_RECEIVE_COUNT,
            timeout_seconds=int(chalice_function_config(LAKE).get("lambda_timeout", 60)),
            bytes_scanned_cutoff=self.config.athena_bytes_scanned_cutoff,
            named_queries=self.config.athena_named_queries,
        )

    # ----------------------------------------------------------------------- logs and alarms

    def _log_groups(self) -> dict[str, logs.LogGroup]:
        return {
            function: logs.LogGroup(
                self, f"{LOGICAL_IDS[function]}Logs",
                log_group_name=f"/aws/lambda/{self.config.function_name(function)}",
                retention=logs.RetentionDays.THREE_MONTHS,
                removal_policy=RemovalPolicy.DESTROY,
            )
            for function in LOGICAL_IDS
        }

    def _alarm_topic(self) -> sns.Topic:
        topic = sns.Topic(self, "Alarms", display_name=f"{APP_NAME} {self.config.environment} alarms",
                          enforce_ssl=True)
        NagSuppressions.add_resource_suppressions(topic, [{
            "id": "AwsSolutions-SNS2",
            "reason": "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key; "
                      "the notifications carry only alarm names and states, not data, so no customer key is kept.",
        }])
        if self.config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(self.config.alarm_email))
        return topic

    def _alarms(self, topic: sns.Topic) -> tuple[cloudwatch.Alarm, cloudwatch.Alarm]:
        """(dead letters waiting, ingestion errors): both notify the topic when raised and cleared."""
        dead_letters = self._alarm(
            "DeadLettersAlarm",
            "An S3 event could not be analyzed after retries: it is in the dead-letter queue.",
            _queue_depth(self.dead_letter_queue),
            topic,
        )
        ingestion_errors = self._alarm(
            "IngestionErrorsAlarm",
            "The daily ingestion (mirror and/or population) failed; see its logs.",
            _lambda_metric("Errors", self.config.function_name(INGEST)),
            topic,
        )
        return dead_letters, ingestion_errors

    def _continuation_alarms(self, topic: sns.Topic) -> tuple[cloudwatch.Alarm, cloudwatch.Alarm]:
        """(a continuation dead-lettered: the run stopped short, a continuation waiting far too long)."""
        dead_letters = self._alarm(
            "ContinuationDeadLettersAlarm",
            "A mirror continuation failed repeatedly: the run stopped short; see the ingest_continue logs. "
            "The next daily run starts afresh once the lease expires.",
            _queue_depth(self.continuation_dead_letters),
            topic,
        )
        waiting = self._alarm(
            "ContinuationAgeAlarm",
            "A mirror continuation has waited over an hour (throttled or failing consumer).",
            _queue_age(self.continuation_queue),
            topic,
            threshold=CONTINUATION_MAX_AGE,
        )
        return dead_letters, waiting

    def _alarm(self, alarm_id: str, description: str, metric: cloudwatch.IMetric, topic: sns.Topic,
               threshold: float = 1) -> cloudwatch.Alarm:
        """An alarm raised when the metric reaches `threshold` in five minutes (no data: not raised)."""
        alarm = cloudwatch.Alarm(
            self, alarm_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = cloudwatch_actions.SnsAction(topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm

    def _analysis_alarms(self, topic: sns.Topic) -> list[cloudwatch.Alarm]:
        """The analysis queue's oldest message, and the analysis function's errors and throttles."""
        oldest = self._alarm(
            "AnalysisQueueAgeAlarm",
            f"An analysis message has waited over {OLDEST_MESSAGE_ALARM_SECONDS} s: the analysis is failing, "
            "throttled or not subscribed to the queue.",
            _queue_age(self.queue),
            topic,
            threshold=OLDEST_MESSAGE_ALARM_SECONDS,
        )
        return [oldest, *(
            self._alarm(
                f"Analysis{metric}Alarm",
                f"The analysis function reported {metric.lower()} (see its logs; SQS retries the message, "
                "then dead-letters it).",
                _lambda_metric(metric, self.config.function_name(ANALYZE)),
                topic,
            )
            for metric in ("Errors", "Throttles")
        )]

    # ----------------------------------------------------------------------- IAM

    def arn(self, path: str = "") -> str:
        """The ARN of the bucket (`path` empty) or of objects in it (`/key`, `/prefix/*`)."""
        return Fn.sub(f"arn:${{AWS::Partition}}:s3:::{self.bucket_name_pattern}{path}")

    def objects(self, prefix_or_key: str) -> str:
        """The ARN of one object key, or of every object under a prefix (ending in '/')."""
        suffix = "*" if prefix_or_key.endswith("/") else ""
        return self.arn(f"/{prefix_or_key}{suffix}")

    def _list_statement(self) -> iam.PolicyStatement:
        # Without s3:ListBucket, HEAD/GET of a missing key answers 403 instead of 404, and the
        # store could not tell "not there yet" from "forbidden". No s3:prefix condition: it
        # does not apply to HEAD/GET, so it would bring the 403s back. Keys only, no content.
        return iam.PolicyStatement(sid="ListKeys", actions=["s3:ListBucket"], resources=[self.bucket_arn])

    def _ingest_statements(self) -> list[iam.PolicyStatement]:
        return [
            self._list_statement(),
            iam.PolicyStatement(
                sid="ReadWriteDeleteIngestedData",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[self.objects(p) for p in INGESTION_PREFIXES],
            ),
            iam.PolicyStatement(
                sid="SendContinuation",
                actions=["sqs:SendMessage"],
                resources=[self.continuation_queue.queue_arn],
            ),
        ]

    def _consume_continuations(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid="ConsumeContinuationQueue",
            actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            resources=[self.continuation_queue.queue_arn],
        )

    def _analyze_statements(self, settings: Settings) -> list[iam.PolicyStatement]:
        return [
            self._list_statement(),
            iam.PolicyStatement(
                sid="ReadReportInputs",
                actions=["s3:GetObject"],
                resources=[self.objects(key) for key in events.report_inputs(settings)],
            ),
            iam.PolicyStatement(
                sid="ReadWriteReports",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[self.objects(REPORTS_PREFIX)],
            ),
            iam.PolicyStatement(
                sid="ConsumeAnalysisQueue",
                actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                resources=[self.queue.queue_arn],
            ),
        ]

    def _api_statements(self) -> list[iam.PolicyStatement]:
        return [
            self._list_statement(),
            iam.PolicyStatement(
                sid="ReadOnly",
                actions=["s3:GetObject"],
                resources=[self.objects(p) for p in READABLE_PREFIXES],
            ),
        ]

    def _role(self, function: str, purpose: str, statements: list[iam.PolicyStatement]) -> iam.Role:
        log_group = self.log_groups[function]
        statements = [
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            ),
            *statements,
        ]
        role = iam.Role(
            self, f"{LOGICAL_IDS[function]}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{APP_NAME} {self.config.environment}: {purpose}",
            inline_policies={"least-privilege": iam.PolicyDocument(statements=statements)},
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

    def environment_variables(self) -> dict[str, str]:
        """The Lambda environment for this deployment."""
        env = {
            "DATA_STORE": self.data_store,
            "REPORT_DATA_KEY": self.config.report_data_key,
            "LOG_LEVEL": self.config.log_level,
            "CONTINUATION_QUEUE_URL": self.continuation_queue.queue_url,
            handlers.LAKE_DATABASE_VARIABLE: self.lake.database_name,
        }
        return env | self.config.source_variables()


def tag(scope: Construct, config: PipelineConfig) -> None:
    """Tags Project and Environment on every taggable resource under `scope`."""
    Tags.of(scope).add("Project", APP_NAME)
    Tags.of(scope).add("Environment", config.environment)


# --------------------------------------------------------------------------- Path 2: data only


class DataStack(Stack):
    """Path 2: the data resources alone; `chalice deploy` adds the functions."""

    def __init__(self, scope: Construct, construct_id: str, config: PipelineConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.data = PipelineData(self, "Pipeline", config)
        tag(self, config)
        outputs = {
            "Environment": config.environment,
            "DataStore": self.data.data_store,
            "BucketName": self.data.bucket.bucket_name,
            "QueueArn": self.data.queue.queue_arn,
            "QueueUrl": self.data.queue.queue_url,
            "DeadLetterQueueUrl": self.data.dead_letter_queue.queue_url,
            "AlarmTopicArn": self.data.topic.topic_arn,
            "IngestRoleArn": self.data.roles[INGEST].role_arn,
            "IngestContinueRoleArn": self.data.roles[INGEST_CONTINUE].role_arn,
            "ContinuationQueueArn": self.data.continuation_queue.queue_arn,
            "ContinuationQueueUrl": self.data.continuation_queue.queue_url,
            "AnalyzeRoleArn": self.data.roles[ANALYZE].role_arn,
            "ApiHandlerRoleArn": self.data.roles[API_HANDLER].role_arn,
            "ReportDataKey": config.report_data_key,
            "LakeQueueArn": self.data.lake.queue.queue_arn,
            "LakeDeadLetterQueueUrl": self.data.lake.dead_letter_queue.queue_url,
            "LakeRoleArn": self.data.roles[LAKE].role_arn,
            "LakeDatabase": self.data.lake.database_name,
            "AthenaWorkGroup": self.data.lake.workgroup.ref,
            "AnalystPolicyArn": self.data.lake.analyst_policy.managed_policy_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


# --------------------------------------------------------------------------- Path 1: everything


class PipelineStack(Stack):
    """Path 1: data resources and the Chalice app in one stack (`cdk deploy`)."""

    def __init__(self, scope: Construct, construct_id: str, config: PipelineConfig,
                 source_dir: Path = REPO_ROOT, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        from chalice.cdk import Chalice

        self.data = PipelineData(self, "Pipeline", config)
        self.chalice = Chalice(
            self, "App",
            source_dir=str(source_dir),
            stage_config={
                "environment_variables": self.data.environment_variables(),
                "manage_iam_role": False,
                "autogen_policy": False,
                # Default role of every function; ingest and analyze get their own below.
                "iam_role_arn": self.data.roles[API_HANDLER].role_arn,
            },
        )
        self.functions: dict[str, Any] = {}
        for function, logical_id in LOGICAL_IDS.items():
            try:
                cfn_function = self.chalice.get_resource(logical_id)
            except RuntimeError:  # jsii: no such logical id in the packaged template
                if function == API_HANDLER:
                    continue  # an app without HTTP routes has no API handler
                raise
            self.functions[function] = cfn_function
            cfn_function.add_property_override("FunctionName", config.function_name(function))
            cfn_function.add_property_override("Role", self.data.roles[function].role_arn)
            cfn_function.add_property_override("PropagateTags", True)
            cfn_function.add_resource_dependency(self.data.log_groups[function].node.default_child)
        if API_HANDLER in self.functions:
            api = self.chalice.get_resource("RestAPI")
            api.add_property_override("PropagateTags", True)
            api.add_property_override("MethodSettings", [{
                "ResourcePath": "/*", "HttpMethod": "*",
                "ThrottlingRateLimit": API_RATE_LIMIT, "ThrottlingBurstLimit": API_BURST_LIMIT,
            }])
        # The env-var route to the queue ARN silently keeps the placeholder when app.py was
        # already imported; overriding the generated SAM event always works.
        self.functions[ANALYZE].add_property_override(
            f"Events.{SQS_EVENT_ID}.Properties.Queue", self.data.queue.queue_arn
        )
        self.functions[INGEST_CONTINUE].add_property_override(
            f"Events.{CONTINUATION_EVENT_ID}.Properties.Queue", self.data.continuation_queue.queue_arn
        )
        self.functions[LAKE].add_property_override(
            f"Events.{LAKE_SQS_EVENT_ID}.Properties.Queue", self.data.lake.queue.queue_arn)
        self.functions[LAKE].add_property_override("EphemeralStorage", {"Size": LAKE_EPHEMERAL_STORAGE_MB})
        if config.ingest_time_budget is not None:
            self.functions[INGEST].add_property_override("Environment.Variables.MIRROR_TIME_BUDGET",
                                                         config.ingest_time_budget)
        tag(self, config)
        CfnOutput(self, "DataStore", value=self.data.data_store)
        CfnOutput(self, "QueueUrl", value=self.data.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.data.dead_letter_queue.queue_url)
        CfnOutput(self, "AlarmTopicArn", value=self.data.topic.topic_arn)
        CfnOutput(self, "LakeDatabase", value=self.data.lake.database_name)
        CfnOutput(self, "AthenaWorkGroup", value=self.data.lake.workgroup.ref)
        CfnOutput(self, "AnalystPolicyArn", value=self.data.lake.analyst_policy.managed_policy_arn)
        for function in self.functions:
            CfnOutput(self, f"{LOGICAL_IDS[function]}FunctionName", value=config.function_name(function))


def _queue_depth(queue: sqs.IQueue) -> cloudwatch.IMetric:
    """Messages visible in `queue` (maximum over five minutes)."""
    return queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum")


def _queue_age(queue: sqs.IQueue) -> cloudwatch.IMetric:
    """Age of the oldest message in `queue` (maximum over five minutes)."""
    return queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum")


def _lambda_metric(name: str, function_name: str) -> cloudwatch.IMetric:
    """A Lambda function's metric (`Errors`, `Throttles`), summed over five minutes."""
    return cloudwatch.Metric(namespace="AWS/Lambda", metric_name=name, statistic="Sum",
                             period=Duration.minutes(5), dimensions_map={"FunctionName": function_name})
