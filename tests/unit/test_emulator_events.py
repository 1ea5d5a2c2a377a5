"""What `make deploy-local` sends and reads (workstation.emulator.deploy): the Scheduled Event, changed inputs."""

from __future__ import annotations

from chalice.app import CloudWatchEvent

from chalicelib.core.settings import Settings
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


def test_changed_inputs_are_the_report_inputs_the_ingestion_wrote() -> None:
    settings = Settings.from_env({})
    # GIVEN an ingestion that updated the data file (and other files) and left the population alone
    ingestion = {
        "mirror": {"surveys": [{"prefix": "bls/pr/", "added": ["pr.series"], "updated": ["pr.data.0.Current"]}]},
        "population": {"changed": False, "key": "population/population.json"},
    }
    # THEN only the data file is a changed report input
    assert deploy.changed_inputs(ingestion, settings) == ["bls/pr/pr.data.0.Current"]
    # ... both, in the order of the report inputs, when the population changed too
    ingestion["population"]["changed"] = True
    assert deploy.changed_inputs(ingestion, settings) == ["population/population.json", "bls/pr/pr.data.0.Current"]
    # ... none after a run that wrote nothing, or failed before either step
    assert deploy.changed_inputs({"mirror": {"surveys": [{"prefix": "bls/pr/", "added": [], "updated": []}]},
                                  "population": {"changed": False}}, settings) == []
    assert deploy.changed_inputs({"mirror": None, "population": None}, settings) == []
