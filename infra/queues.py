"""A work queue with its dead-letter queue and the alarm on its dead letters (made three times:
analysis, mirror continuation, lake)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import Alarms, queue_depth
from infra.config import VISIBILITY_FACTOR


@dataclass(frozen=True)
class QueueIds:
    """Construct ids: the queue, its dead-letter queue, and the alarm (made in the alarms' scope)."""

    queue: str
    dead_letters: str
    alarm: str


@dataclass(frozen=True)
class AlarmedQueue:
    """A queue whose messages go to `dead_letters` after `max_receive_count` failed receives."""

    queue: sqs.Queue
    dead_letters: sqs.Queue
    alarm: cloudwatch.Alarm


def queue_with_dead_letters(scope: Construct, ids: QueueIds, *, consumer_timeout: int, max_receive_count: int,
                            alarms: Alarms, alarm_description: str) -> AlarmedQueue:
    """Encrypted, TLS-only queue + dead-letter queue; the alarm is raised when a message is dead-lettered.

    The visibility timeout is `VISIBILITY_FACTOR` x the consuming function's timeout (AWS's advice).
    """
    dead_letters = sqs.Queue(
        scope, ids.dead_letters,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    queue = sqs.Queue(
        scope, ids.queue,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(VISIBILITY_FACTOR * consumer_timeout),
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=max_receive_count),
    )
    alarm = alarms.alarm(ids.alarm, alarm_description, queue_depth(dead_letters))
    return AlarmedQueue(queue, dead_letters, alarm)
