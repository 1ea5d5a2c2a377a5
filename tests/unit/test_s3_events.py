"""The S3-event vocabulary (chalicelib.core.s3_events), and what the continuation record reads of a mirror run."""

from __future__ import annotations

import json

import pytest

from chalicelib.core import s3_events
from chalicelib.core.store import StoreLocation
from chalicelib.mirror.results import MirrorResult, SurveyResult
from chalicelib.pipeline import events


def eventbridge(detail_type: str = "Object Created", key: str = "p/bls/pr/pr.data.0.Current") -> dict:
    return {"version": "0", "source": "aws.s3", "detail-type": detail_type,
            "detail": {"bucket": {"name": "b"}, "object": {"key": key, "size": 5, "etag": "e", "sequencer": "01"}}}


def test_an_eventbridge_event_is_one_record_when_asked_for() -> None:
    (record,) = s3_events.parse_event(eventbridge(), eventbridge=True)
    assert (record.bucket, record.key, record.size, record.etag) == ("b", "p/bls/pr/pr.data.0.Current", 5, "e")
    assert record.created and not record.removed
    (deleted,) = s3_events.parse_event(eventbridge("Object Deleted"), eventbridge=True)
    assert deleted.removed and not deleted.created
    (restored,) = s3_events.parse_event(eventbridge("Object Restore Completed"), eventbridge=True)
    assert not restored.created and not restored.removed
    # the analysis queue accepts S3 notifications only
    with pytest.raises(s3_events.EventError, match="not an S3 event notification"):
        s3_events.parse_event(eventbridge())
    with pytest.raises(s3_events.EventError, match="neither an S3 event notification nor an EventBridge"):
        s3_events.parse_event({"hello": 1}, eventbridge=True)


def test_notification_and_eventbridge_name_the_same_store_key() -> None:
    notification = events.build_message("b", "p/bls/pr/pr data.0.Current", etag="e", size=1,
                                        event_name="ObjectRemoved:Delete")
    for body in (notification, eventbridge("Object Deleted", "p/bls/pr/pr+data.0.Current")):
        (record,) = s3_events.in_store(s3_events.parse_event(body, eventbridge=True), bucket="b", store_prefix="p")
        assert record.key == "bls/pr/pr data.0.Current" and record.removed


def test_in_store_keeps_this_bucket_and_prefix_only() -> None:
    records = [s3_events.S3Record(bucket, key, "ObjectCreated:Put", "", 0, "")
               for bucket, key in (("b", "p/x"), ("other", "p/x"), ("b", "q/x"), ("b", "px"))]
    assert [r.key for r in s3_events.in_store(records, bucket="b", store_prefix="/p/")] == ["x"]
    assert [r.bucket for r in s3_events.in_store(records, bucket=None, store_prefix="p")] == ["b", "other"]
    assert len(s3_events.in_store(records, bucket="b")) == 3


def test_the_test_event_and_bodies_that_are_not_events() -> None:
    assert s3_events.parse_event(json.dumps({"Event": "s3:TestEvent"}), eventbridge=True) == []
    assert s3_events.is_test_event('{"Event": "s3:TestEvent"}') and not s3_events.is_test_event("not json")
    with pytest.raises(s3_events.EventError, match="not JSON"):
        s3_events.parse_event("not json")


def test_a_local_folder_appears_as_the_local_bucket() -> None:
    class Folder:
        location = StoreLocation(None, "")

    class Bucketed:
        location = StoreLocation("b", "p")

    assert s3_events.store_location(Folder()) == (s3_events.LOCAL_BUCKET, "")  # type: ignore[arg-type]
    assert s3_events.store_location(Bucketed()) == ("b", "p")  # type: ignore[arg-type]


def test_what_a_continuation_reads_of_a_mirror_run() -> None:
    # GIVEN a run that finished pr, left two files of la, and did not reach ce
    result = MirrorResult([
        SurveyResult("pr", "u", "bls/pr/", unchanged=["a"]),
        SurveyResult("la", "u", "bls/la/", pending=["x", "y"]),
        SurveyResult("ce", "u", "bls/ce/", reached=False),
    ])
    # THEN the typed summary says the same as the JSON document
    document = result.to_dict()
    assert not result.complete and result.pending_files() == document["pending"] == 2
    assert result.not_reached() == document["not_reached"] == ["ce"]
    assert result.pending_by_survey() == {"la": 2, "ce": None} == {
        s["survey"]: s["pending"] for s in document["surveys"] if not s["complete"]}
