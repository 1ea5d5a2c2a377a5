"""Which revisions objects are published (chalicelib/lake/revisions.py `published_keys`, docs/lake.md).

Writing the bls_data partition is the commit: an object counts when its release is no later than the
partition's vintage and it is the latest of the objects diffed against the same previous version.
"""

from __future__ import annotations

from chalicelib.core.store import ObjectHead
from chalicelib.lake.revisions import published_keys

FOLDER = "silver/bls_revisions/survey=pr/file=pr.data.0.Current/"


def key(release: str, new: str, previous: str) -> str:
    return f"{FOLDER}release={release}/{new}.from-{previous}.parquet"


def partition(vintage: str | None) -> ObjectHead:
    metadata = {"vintage": vintage} if vintage else {}
    return ObjectHead(key="silver/bls_data/survey=pr/file=pr.data.0.Current/data.parquet", size=1, etag="e",
                      metadata=metadata)


FIRST = key("20250101T000000Z", "aaaa", "none")
SECOND = key("20250201T000000Z", "bbbb", "aaaa")
THIRD = key("20250301T000000Z", "cccc", "bbbb")


def test_every_release_up_to_the_partitions_vintage_is_published():
    # GIVEN a chain of three releases and a partition holding the third
    # THEN all three are published
    assert published_keys([FIRST, SECOND, THIRD], partition("2025-03-01T00:00:00Z")) == {FIRST, SECOND, THIRD}


def test_a_release_newer_than_the_partition_is_not_published_yet():
    # GIVEN the third release written, the partition still holding the second (a crash between the writes)
    # THEN the third is not published
    assert published_keys([FIRST, SECOND, THIRD], partition("2025-02-01T00:00:00Z")) == {FIRST, SECOND}


def test_of_objects_diffed_against_the_same_version_only_the_latest_counts():
    # GIVEN an object left by a crash (second -> an abandoned version) and the one the partition names
    orphan = key("20250215T000000Z", "dddd", "bbbb")
    # THEN only the one of the partition's version counts
    assert published_keys([FIRST, SECOND, orphan, THIRD], partition("2025-03-01T00:00:00Z")) == {FIRST, SECOND, THIRD}
    # AND while the partition still holds the second version, neither does
    assert published_keys([FIRST, SECOND, orphan, THIRD], partition("2025-02-01T00:00:00Z")) == {FIRST, SECOND}


def test_without_a_partition_nothing_is_published_and_without_a_vintage_there_is_no_bound():
    assert published_keys([FIRST, SECOND], None) == set()
    assert published_keys([FIRST, SECOND, THIRD], partition(None)) == {FIRST, SECOND, THIRD}


def test_keys_of_other_shapes_are_ignored():
    assert published_keys([f"{FOLDER}notes.txt", FIRST], partition("2025-01-01T00:00:00Z")) == {FIRST}
