"""What `make deploy-local` sends (workstation.emulator.deploy): the Scheduled Event."""

from __future__ import annotations

from chalice.app import CloudWatchEvent

from workstation.emulator import deploy

RULE_ARN = "arn:aws:events:us-east-1:000000000000:rule/BlsPipeline-local-IngestIngestEvent-ABC"


def test_scheduled_event_is_what_chalice_schedule_handlers_parse() -> None:
    # GIVEN the event deploy-local invokes the ingestion with
    event = deploy.scheduled_event("000000000000", "us-east-1", RULE_ARN)
    # WHEN Chalice's schedule wrapper parses it (a missing field would raise KeyError)
    parsed = CloudWatchEvent(event, None)
    # THEN it is an EventBridge Scheduled Event of the rule
    assert (parsed.detail_type, parsed.source, parsed.resources, parsed.detail) == (
        "Scheduled Event", "aws.events", [RULE_ARN], {})
    assert (parsed.account, parsed.region, parsed.version) == ("000000000000", "us-east-1", "0")
    assert parsed.time.endswith("Z") and len(parsed.event_id) == 36


