"""The notification definitions and S3-event messages (chalicelib.pipeline.events)."""

from __future__ import annotations

import json

import pytest

from chalicelib.core import s3_events
from chalicelib.core.settings import Settings
from chalicelib.pipeline import events

# A real S3 → SQS message body (shape as S3 sends it; key URL-encoded with '+' for spaces).
REAL_S3_MESSAGE = {
    "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-08-07T06:00:12.345Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:bls-pipeline-dev-ingest"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "report-input-population-population-json",
            "bucket": {"name": "bls-pipeline-dev-123456789012-us-east-1",
                       "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                       "arn": "arn:aws:s3:::bls-pipeline-dev-123456789012-us-east-1"},
            "object": {"key": "population/population.json", "size": 1129,
                       "eTag": "0f343b0931126a20f133d67c2b018a3b", "sequencer": "0055AED6DCD90281E5"},
        },
    }]
}
TEST_EVENT = {
    "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-08-07T06:00:00.000Z",
    "Bucket": "bls-pipeline-dev-123456789012-us-east-1", "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


def filters(prefix: str = "", **env: str) -> tuple[events.NotificationFilter, ...]:
    return events.notification_filters(Settings.from_env(env), prefix)


def test_definitions_cover_exactly_the_two_report_inputs() -> None:
    # GIVEN default settings WHEN the filters are built THEN one per report input, prefix = key
    found = filters()
    assert [(f.prefix, f.suffix) for f in found] == [
        ("population/population.json", "population.json"),
        ("bls/pr/pr.data.0.Current", "pr.data.0.Current"),
    ]
    assert [f.name for f in found] == [
        "report-input-population-population-json",
        "report-input-bls-pr-pr-data-0-Current",
    ]


def test_definitions_follow_the_configured_data_key_and_store_prefix() -> None:
    # GIVEN another survey's data file and a store under a prefix
    found = filters("mirror/", REPORT_DATA_KEY="bls/cu/cu.data.0.Current")
    # THEN the filters name the bucket-level keys
    assert [(f.prefix, f.suffix) for f in found] == [
        ("mirror/population/population.json", "population.json"),
        ("mirror/bls/cu/cu.data.0.Current", "cu.data.0.Current"),
    ]


@pytest.mark.parametrize("key, expected", [
    ("population/population.json", True),
    ("bls/pr/pr.data.0.Current", True),
    ("population/population.json.bak", False),
    ("population/population.json.old/population.json", False),  # passes S3's filter, not ours
    ("bls/pr/pr.data.1.AllData", False),
    ("bls/pr/pr.series", False),
    ("reports/summary.json", False),
    ("_state/ingestion.json", False),
    ("bls/pr.mirror/state.json", False),
])
def test_filter_matches_only_the_exact_input_key(key: str, expected: bool) -> None:
    assert any(f.matches(key) for f in filters()) is expected


def test_cloudformation_and_api_shapes_carry_the_same_filters() -> None:
    found = filters()
    cfn = events.cloudformation_queue_configurations(found, "arn:aws:sqs:us-east-1:1:q")
    api = events.api_queue_configurations(found, "arn:aws:sqs:us-east-1:1:q")
    assert cfn[0] == {
        "Event": "s3:ObjectCreated:*",
        "Queue": "arn:aws:sqs:us-east-1:1:q",
        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "population/population.json"},
                                       {"Name": "suffix", "Value": "population.json"}]}},
    }
    assert api[1] == {
        "Id": "report-input-bls-pr-pr-data-0-Current",
        "QueueArn": "arn:aws:sqs:us-east-1:1:q",
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "bls/pr/pr.data.0.Current"},
                                           {"Name": "suffix", "Value": "pr.data.0.Current"}]}},
    }


def test_parse_real_s3_message() -> None:
    # GIVEN the message S3 sends for a population write
    records = events.parse_message(json.dumps(REAL_S3_MESSAGE), filters(),
                                   bucket="bls-pipeline-dev-123456789012-us-east-1")
    # THEN one record with the store key, ETag and size
    assert records == [s3_events.S3Record(
        bucket="bls-pipeline-dev-123456789012-us-east-1", key="population/population.json",
        event_name="ObjectCreated:Put", etag="0f343b0931126a20f133d67c2b018a3b", size=1129,
        sequencer="0055AED6DCD90281E5",
    )]


def test_test_event_gives_no_records() -> None:
    assert events.parse_message(json.dumps(TEST_EVENT), filters()) == []


def test_keys_are_url_decoded_with_unquote_plus() -> None:
    # GIVEN a key encoded the way moto does it (slashes too) and a data key with a space
    message = json.loads(json.dumps(REAL_S3_MESSAGE))
    message["Records"][0]["s3"]["object"]["key"] = "bls%2Fpr%2Fpr+data.0.Current"
    found = filters(REPORT_DATA_KEY="bls/pr/pr data.0.Current")
    # THEN the record names the decoded key
    assert [r.key for r in events.parse_message(message, found)] == ["bls/pr/pr data.0.Current"]


def test_other_keys_buckets_and_event_types_are_ignored() -> None:
    def variant(**changes: object) -> dict:
        message = json.loads(json.dumps(REAL_S3_MESSAGE))
        record = message["Records"][0]
        for path, value in changes.items():
            target = record
            *parents, last = path.split("__")
            for part in parents:
                target = target[part]
            target[last] = value
        return message

    assert events.parse_message(variant(s3__object__key="bls/pr/pr.series"), filters()) == []
    assert events.parse_message(variant(eventName="ObjectRemoved:Delete"), filters()) == []
    assert events.parse_message(variant(eventSource="aws:sns"), filters()) == []
    assert events.parse_message(REAL_S3_MESSAGE, filters(), bucket="another-bucket") == []


def test_store_prefix_is_removed_and_required() -> None:
    message = json.loads(json.dumps(REAL_S3_MESSAGE))
    message["Records"][0]["s3"]["object"]["key"] = "mirror/population/population.json"
    assert [r.key for r in events.parse_message(message, filters("mirror"), store_prefix="mirror")] == [
        "population/population.json"
    ]
    # the unprefixed key is not this store's input
    assert events.parse_message(REAL_S3_MESSAGE, filters("mirror"), store_prefix="mirror") == []


@pytest.mark.parametrize("body, message", [
    ("not json", "message body is not JSON"),
    ("[1, 2]", "message body is JSON but not an object: list"),
    ('{"Type": "Notification"}', "not an S3 event notification: no 'Records' list"),
    ('{"Records": [{"eventSource": "aws:s3"}]}', "malformed S3 event record: missing 'eventName'"),
    ('{"Records": ["not a record"]}', "malformed S3 event record"),
    ('{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}',
     "malformed S3 event record: missing 'object'"),
])
def test_unusable_messages_raise(body: str, message: str) -> None:
    # A message that cannot be processed must fail (and end in the dead-letter queue), not vanish.
    with pytest.raises(s3_events.EventError, match=message):
        events.parse_message(body, filters())


def test_built_message_round_trips_through_the_parser() -> None:
    # GIVEN the message the local hand-off builds for a write
    body = events.build_message("local-store", "bls/pr/pr.data.0.Current", etag="abc", size=1613575,
                                configuration_id="report-input-bls-pr-pr-data-0-Current")
    document = json.loads(body)
    record = document["Records"][0]
    # THEN it has S3's shape (event 2.1, key encoded as S3 does) ...
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "bls/pr/pr.data.0.Current"
    assert record["s3"]["configurationId"] == "report-input-bls-pr-pr-data-0-Current"
    # ... and parses back to the same key, ETag and size
    (parsed,) = events.parse_message(body, filters(), bucket="local-store")
    assert (parsed.key, parsed.etag, parsed.size) == ("bls/pr/pr.data.0.Current", "abc", 1613575)


def test_built_message_encodes_special_characters_like_s3() -> None:
    body = events.build_message("b", "bls/pr/pr data+1", etag="e", size=1)
    assert json.loads(body)["Records"][0]["s3"]["object"]["key"] == "bls/pr/pr+data%2B1"
