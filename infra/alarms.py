"""The alarm topic, the alarms that notify it, and the metrics they watch.

Every alarm is raised when its metric reaches the threshold within five minutes (no data: not
raised) and notifies the topic both when raised and when cleared. The dead-letter queues'
alarms are made with their queues (`infra/queues.py`); the functions' alarms are here.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from chalicelib import APP_NAME
from infra.config import (
    ANALYZE,
    CONTINUATION_MAX_AGE,
    INGEST,
    INGEST_CONTINUE,
    OLDEST_MESSAGE_ALARM_SECONDS,
    PipelineConfig,
)


def alarm_topic(scope: Construct, config: PipelineConfig) -> sns.Topic:
    """The topic every alarm notifies (with an e-mail subscription when `alarm_email` is set)."""
    topic = sns.Topic(scope, "Alarms", display_name=f"{APP_NAME} {config.environment} alarms", enforce_ssl=True)
    NagSuppressions.add_resource_suppressions(topic, [{
        "id": "AwsSolutions-SNS2",
        "reason": "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key; "
                  "the notifications carry only alarm names and states, not data, so no customer key is kept.",
    }])
    if config.alarm_email:
        topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
    return topic


class Alarms:
    """Makes alarms in one scope that notify one topic."""

    def __init__(self, scope: Construct, topic: sns.ITopic) -> None:
        self.scope = scope
        self.topic = topic

    def alarm(self, alarm_id: str, description: str, metric: cloudwatch.IMetric,
              threshold: float = 1) -> cloudwatch.Alarm:
        """An alarm raised when `metric` reaches `threshold` in five minutes (no data: not raised)."""
        alarm = cloudwatch.Alarm(
            self.scope, alarm_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        return alarm


def function_alarms(alarms: Alarms, config: PipelineConfig, analysis_queue: sqs.IQueue,
                    continuation_queue: sqs.IQueue) -> list[cloudwatch.Alarm]:
    """Ingestion errors; the analysis queue's oldest message, the analysis function's errors and
    throttles; a mirror continuation waiting far too long."""
    return [
        alarms.alarm("IngestionErrorsAlarm", "The daily ingestion (mirror and/or population) failed; see its logs.",
                     lambda_metric("Errors", config.function_name(INGEST))),
        # Two plain alarms rather than one over a metric-math sum: the same signal, and every
        # CloudFormation target (the local emulator too) provisions them.
        alarms.alarm("IngestContinueErrorsAlarm",
                     "A mirror continuation failed (incl. a run stopped at its bounds: a file abandoned 3 times, "
                     "the invocation cap); see the ingest_continue logs.",
                     lambda_metric("Errors", config.function_name(INGEST_CONTINUE))),
        alarms.alarm(
            "AnalysisQueueAgeAlarm",
            f"An analysis message has waited over {OLDEST_MESSAGE_ALARM_SECONDS} s: the analysis is failing, "
            "throttled or not subscribed to the queue.",
            queue_age(analysis_queue),
            threshold=OLDEST_MESSAGE_ALARM_SECONDS,
        ),
        *(alarms.alarm(
            f"Analysis{metric}Alarm",
            f"The analysis function reported {metric.lower()} (see its logs; SQS retries the message, "
            "then dead-letters it).",
            lambda_metric(metric, config.function_name(ANALYZE)),
        ) for metric in ("Errors", "Throttles")),
        alarms.alarm("ContinuationAgeAlarm",
                     "A mirror continuation has waited over an hour (throttled or failing consumer).",
                     queue_age(continuation_queue), threshold=CONTINUATION_MAX_AGE),
    ]


def queue_depth(queue: sqs.IQueue) -> cloudwatch.IMetric:
    """Messages visible in `queue` (maximum over five minutes)."""
    return queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum")


def queue_age(queue: sqs.IQueue) -> cloudwatch.IMetric:
    """Age of the oldest message in `queue` (maximum over five minutes)."""
    return queue.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum")


def lambda_metric(name: str, function_name: str) -> cloudwatch.IMetric:
    """A Lambda function's metric (`Errors`, `Throttles`), summed over five minutes."""
    return cloudwatch.Metric(namespace="AWS/Lambda", metric_name=name, statistic="Sum",
                             period=Duration.minutes(5), dimensions_map={"FunctionName": function_name})
