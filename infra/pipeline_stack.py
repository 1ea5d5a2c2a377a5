"""The two stacks, one per deploy path, both built on `PipelineData` (infra/resources.py).

- `PipelineStack` (Path 1, `cdk deploy`): PipelineData + the Chalice app through
  `chalice.cdk.Chalice`, wired to those roles and queues, with the API stage throttled.
  The functions' reserved concurrency (ingest 1: never two runs at once; the API 5: it cannot
  use up the account's concurrency) is in `.chalice/config.json`, so both paths get it.
- `DataStack` (Path 2, `cdk deploy -c data_only=true`, then `chalice deploy`):
  PipelineData alone, with outputs that `write_chalice_config.py` copies into
  `.chalice/config.json`.

The Lambda function names are fixed (`bls-pipeline-<env>-ingest`, ...; the names
`chalice deploy` gives for stage `<env>`), so the log groups, the alarms and the
IAM statements are the same on both paths. Deploy an environment with one path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib import APP_NAME
from infra import (
    people,  # issue 22: sign-in, operations dashboard, VPC option
    quicksight,  # issue 20: opt-in QuickSight over the gold tables
)
from infra.config import (
    ANALYZE,
    API_BURST_LIMIT,
    API_HANDLER,
    API_RATE_LIMIT,
    INGEST,
    INGEST_CONTINUE,
    LAKE,
    LAKE_EPHEMERAL_STORAGE_MB,
    LOGICAL_IDS,
    REPO_ROOT,
    SQS_EVENT_IDS,
    PipelineConfig,
)
from infra.resources import PipelineData


def tag(scope: Construct, config: PipelineConfig) -> None:
    """Tags Project and Environment on every taggable resource under `scope`."""
    Tags.of(scope).add("Project", APP_NAME)
    Tags.of(scope).add("Environment", config.environment)


def outputs(scope: Construct, values: dict[str, str]) -> None:
    """One stack output per entry."""
    for name, value in values.items():
        CfnOutput(scope, name, value=value)


# --------------------------------------------------------------------------- Path 2: data only


class DataStack(Stack):
    """Path 2: the data resources alone; `chalice deploy` adds the functions."""

    def __init__(self, scope: Construct, construct_id: str, config: PipelineConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.data = data = PipelineData(self, "Pipeline", config)
        tag(self, config)
        outputs(self, {
            "Environment": config.environment,
            "DataStore": data.data_store,
            "BucketName": data.bucket.bucket_name,
            "QueueArn": data.queue.queue_arn,
            "QueueUrl": data.queue.queue_url,
            "DeadLetterQueueUrl": data.dead_letter_queue.queue_url,
            "AlarmTopicArn": data.topic.topic_arn,
            "IngestRoleArn": data.roles[INGEST].role_arn,
            "IngestContinueRoleArn": data.roles[INGEST_CONTINUE].role_arn,
            "ContinuationQueueArn": data.continuation_queue.queue_arn,
            "ContinuationQueueUrl": data.continuation_queue.queue_url,
            "AnalyzeRoleArn": data.roles[ANALYZE].role_arn,
            "ApiHandlerRoleArn": data.roles[API_HANDLER].role_arn,
            "ReportDataKey": config.report_data_key,
            "LakeQueueArn": data.lake.queue.queue_arn,
            "LakeDeadLetterQueueUrl": data.lake.dead_letter_queue.queue_url,
            "LakeRoleArn": data.roles[LAKE].role_arn,
            "LakeDatabase": data.lake.database_name,
            "AthenaWorkGroup": data.lake.workgroup.ref,
            "AnalystPolicyArn": data.lake.analyst_policy.managed_policy_arn,
        })
        people.add_to_data_stack(self)  # issue 22
        quicksight.add_if_asked(self, data)  # issue 20: only with -c quicksight_principal=…


# --------------------------------------------------------------------------- Path 1: everything


class PipelineStack(Stack):
    """Path 1: data resources and the Chalice app in one stack (`cdk deploy`)."""

    def __init__(self, scope: Construct, construct_id: str, config: PipelineConfig,
                 source_dir: Path = REPO_ROOT, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.data = data = PipelineData(self, "Pipeline", config)
        self.chalice = Chalice(
            self, "App",
            source_dir=str(source_dir),
            stage_config={
                "environment_variables": data.environment_variables(),
                "manage_iam_role": False,
                "autogen_policy": False,
                # Default role of every function; each gets its own below.
                "iam_role_arn": data.roles[API_HANDLER].role_arn,
            },
        )
        self.functions = self._functions(config)
        if API_HANDLER in self.functions:
            self._throttle_api()
        self._subscribe_queues()
        self.functions[LAKE].add_property_override("EphemeralStorage", {"Size": LAKE_EPHEMERAL_STORAGE_MB})
        if config.ingest_time_budget is not None:
            self.functions[INGEST].add_property_override("Environment.Variables.MIRROR_TIME_BUDGET",
                                                         config.ingest_time_budget)
        tag(self, config)
        outputs(self, {
            "DataStore": data.data_store,
            "QueueUrl": data.queue.queue_url,
            "DeadLetterQueueUrl": data.dead_letter_queue.queue_url,
            "AlarmTopicArn": data.topic.topic_arn,
            "LakeDatabase": data.lake.database_name,
            "AthenaWorkGroup": data.lake.workgroup.ref,
            "AnalystPolicyArn": data.lake.analyst_policy.managed_policy_arn,
        } | {f"{LOGICAL_IDS[function]}FunctionName": config.function_name(function) for function in self.functions})
        people.add_to_pipeline_stack(self)  # issue 22: API_AUTH=cognito by default, -c vpc=true, dashboard
        quicksight.add_if_asked(self, data)  # issue 20: only with -c quicksight_principal=…

    def _functions(self, config: PipelineConfig) -> dict[str, Any]:
        """The packaged functions, each with its fixed name, its role and its log group made first."""
        functions: dict[str, Any] = {}
        for function, logical_id in LOGICAL_IDS.items():
            try:
                cfn_function = self.chalice.get_resource(logical_id)
            except RuntimeError:  # jsii: no such logical id in the packaged template
                if function == API_HANDLER:
                    continue  # an app without HTTP routes has no API handler
                raise
            functions[function] = cfn_function
            cfn_function.add_property_override("FunctionName", config.function_name(function))
            cfn_function.add_property_override("Role", self.data.roles[function].role_arn)
            cfn_function.add_property_override("PropagateTags", True)
            cfn_function.add_resource_dependency(self.data.log_groups[function].node.default_child)
        return functions

    def _throttle_api(self) -> None:
        api = self.chalice.get_resource("RestAPI")
        api.add_property_override("PropagateTags", True)
        api.add_property_override("MethodSettings", [{
            "ResourcePath": "/*", "HttpMethod": "*",
            "ThrottlingRateLimit": API_RATE_LIMIT, "ThrottlingBurstLimit": API_BURST_LIMIT,
        }])

    def _subscribe_queues(self) -> None:
        """Each queue-fed function to its queue.

        The env-var route to the queue ARN silently keeps the placeholder when app.py was
        already imported; overriding the generated SAM event always works.
        """
        queues = {ANALYZE: self.data.queue, INGEST_CONTINUE: self.data.continuation_queue, LAKE: self.data.lake.queue}
        for function, queue in queues.items():
            self.functions[function].add_property_override(
                f"Events.{SQS_EVENT_IDS[function]}.Properties.Queue", queue.queue_arn)
