"""The pure plan: listing x store inventory x saved state -> fetches, deletes, unchanged. No I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.core.http_client import Validators
from chalicelib.core.store import ObjectInfo
from chalicelib.mirror.listing import ListingEntry
from chalicelib.mirror.plan import (
    ALTERED,
    MISSING,
    NEW,
    NOT_IN_STATE,
    SIZE_CHANGED,
    TIME_CHANGED,
    VERIFY,
    make_plan,
)
from chalicelib.mirror.state import FileRecord, sync_fingerprint

PREFIX = "bls/pr/"
URL = "http://src/pub/time.series/pr/"
LM = "Thu, 04 Sep 2025 08:30:00 GMT"


def entry(name: str, size: str = "100", time: str = "9/4/2025 8:30 AM") -> ListingEntry:
    return ListingEntry(name, URL + name, size, time)


def record(name: str, size: int = 100, etag: str = "e", time: str = "9/4/2025 8:30 AM") -> FileRecord:
    return FileRecord(name, PREFIX + name, size, "sha-" + name, etag, LM, str(size), time)


def info(name: str, size: int = 100, etag: str = "e") -> ObjectInfo:
    return ObjectInfo(PREFIX + name, size, etag)


def summary(plan) -> dict:
    """The plan as plain values: reason per fetched name, plus conditional/known-hash flags."""
    return {
        "fetch": {f.name: f.reason for f in plan.fetches},
        "conditional": sorted(f.name for f in plan.fetches if f.validators),
        "known": sorted(f.name for f in plan.fetches if f.known_sha256),
        "probe": sorted(f.name for f in plan.fetches if f.probe_store),
        "deletes": list(plan.deletes),
        "delete_keys": list(plan.delete_keys),
        "unchanged": list(plan.unchanged),
        "mass_delete": plan.mass_delete,
    }


def expect(fetch=None, conditional=(), known=(), probe=(), deletes=(), delete_keys=(), unchanged=(), mass=False):
    return {
        "fetch": fetch or {},
        "conditional": sorted(conditional),
        "known": sorted(known),
        "probe": sorted(probe),
        "deletes": list(deletes),
        "delete_keys": list(delete_keys),
        "unchanged": list(unchanged),
        "mass_delete": mass,
    }


CASES = [
    # id, listing, inventory, state, kwargs, expected
    ("first-run", [entry("a"), entry("b")], [], [], {}, expect({"a": NEW, "b": NEW})),
    ("nothing-changed", [entry("a")], [info("a")], [record("a")], {}, expect(unchanged=["a"])),
    (
        "size-changed-unconditional-get",
        [entry("a", size="120")], [info("a")], [record("a")], {},
        expect({"a": SIZE_CHANGED}, known=["a"]),
    ),
    (
        "time-changed-conditional-get",
        [entry("a", time="9/4/2025 7:30 AM")], [info("a")], [record("a")], {},
        expect({"a": TIME_CHANGED}, conditional=["a"], known=["a"]),
    ),
    (
        "object-deleted-out-of-band",
        [entry("a")], [], [record("a")], {},
        expect({"a": MISSING}),
    ),
    (
        "object-altered-out-of-band-etag",
        [entry("a")], [info("a", etag="other")], [record("a")], {},
        expect({"a": ALTERED}),
    ),
    (
        "object-altered-out-of-band-size",
        [entry("a")], [info("a", size=5)], [record("a")], {},
        expect({"a": ALTERED}),
    ),
    (
        "stored-without-state",
        [entry("a")], [info("a")], [], {},
        expect({"a": NOT_IN_STATE}, probe=["a"]),
    ),
    ("verify-refetches-intact-files", [entry("a")], [info("a")], [record("a")], {"verify": True},
     expect({"a": VERIFY}, known=["a"])),
    (
        "deleted-at-source",
        [entry("a"), entry("b")], [info("a"), info("b"), info("c")], [record("a"), record("b"), record("c")], {},
        expect(deletes=["c"], delete_keys=["bls/pr/c"], unchanged=["a", "b"]),
    ),
    (
        "deleted-at-source-and-already-gone-from-store",
        [entry("a"), entry("b")], [info("a"), info("b")], [record("a"), record("b"), record("c")], {},
        expect(deletes=["c"], delete_keys=[], unchanged=["a", "b"]),
    ),
    (
        "stray-objects-under-the-prefix-are-deleted",
        [entry("a"), entry("b"), entry("c")], [info("a"), info("b"), info("c"), info("sub/x")],
        [record("a"), record("b"), record("c")], {},
        expect(deletes=["sub/x"], delete_keys=["bls/pr/sub/x"], unchanged=["a", "b", "c"]),
    ),
    (
        "half-deleted-is-allowed",
        [entry("a"), entry("b")], [info(n) for n in "abcd"], [record(n) for n in "abcd"], {},
        expect(deletes=["c", "d"], delete_keys=["bls/pr/c", "bls/pr/d"], unchanged=["a", "b"]),
    ),
    (
        "more-than-half-is-a-mass-delete",
        [entry("a")], [info(n) for n in "abcd"], [record(n) for n in "abcd"], {},
        expect(deletes=["b", "c", "d"], delete_keys=["bls/pr/b", "bls/pr/c", "bls/pr/d"], unchanged=["a"], mass=True),
    ),
    (
        "mass-delete-allowed",
        [entry("a")], [info(n) for n in "abcd"], [record(n) for n in "abcd"], {"allow_mass_delete": True},
        expect(deletes=["b", "c", "d"], delete_keys=["bls/pr/b", "bls/pr/c", "bls/pr/d"], unchanged=["a"]),
    ),
    (
        "threshold-is-configurable",
        [entry("a"), entry("b"), entry("c")], [info(n) for n in "abcd"], [record(n) for n in "abcd"],
        {"mass_delete_fraction": 0.2},
        expect(deletes=["d"], delete_keys=["bls/pr/d"], unchanged=["a", "b", "c"], mass=True),
    ),
    (
        "objects-of-other-prefixes-are-not-ours",
        [entry("a")], [info("a"), ObjectInfo("bls/cu/cu.series", 1, "x"), ObjectInfo("bls/prx", 1, "y")],
        [record("a")], {},
        expect(unchanged=["a"]),
    ),
    (
        "mixed",
        [entry("a"), entry("b", size="7"), entry("d"), entry("e", time="1/1/2026 1:00 PM")],
        [info("a"), info("b"), info("c"), info("e")],
        [record("a"), record("b"), record("c"), record("e")], {},
        expect(
            {"b": SIZE_CHANGED, "d": NEW, "e": TIME_CHANGED}, conditional=["e"], known=["b", "e"],
            deletes=["c"], delete_keys=["bls/pr/c"], unchanged=["a"],
        ),
    ),
]


@pytest.mark.parametrize(("listing", "inventory", "state", "kwargs", "expected"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_plan(listing, inventory, state, kwargs, expected):
    plan = make_plan(listing, inventory, {r.name: r for r in state}, PREFIX, **kwargs)
    assert summary(plan) == expected


def test_conditional_get_uses_the_stored_validators_and_fetches_carry_the_listing_text():
    plan = make_plan([entry("a", time="9/4/2025 7:30 AM")], [info("a")], {"a": record("a")}, PREFIX)
    (fetch,) = plan.fetches
    assert fetch.validators == Validators(None, LM)
    assert fetch.validators.conditional_headers() == {"If-Modified-Since": LM}
    # AND with the source's ETag remembered, If-None-Match is sent too
    tagged = replace(record("a"), source_etag='"abc"')
    (fetch,) = make_plan([entry("a", time="9/4/2025 7:30 AM")], [info("a")], {"a": tagged}, PREFIX).fetches
    assert fetch.validators.conditional_headers() == {"If-None-Match": '"abc"', "If-Modified-Since": LM}
    assert fetch.known_sha256 == "sha-a"
    assert (fetch.url, fetch.key, fetch.size_text, fetch.time_text, fetch.expected_size) == (
        URL + "a", "bls/pr/a", "100", "9/4/2025 7:30 AM", 100,
    )


def test_adds_and_updates_split_the_fetches_and_an_idle_plan_changes_nothing():
    plan = make_plan([entry("a"), entry("b", size="1")], [info("b")], {"b": record("b")}, PREFIX)
    assert [f.name for f in plan.adds] == ["a"] and [f.name for f in plan.updates] == ["b"]
    assert plan.changes_anything and plan.mirrored == 1
    idle = make_plan([entry("b")], [info("b")], {"b": record("b")}, PREFIX)
    assert not idle.changes_anything


# --------------------------------------------------------------------------- the in-sync fingerprint

BASE = ([entry("a"), entry("b")], [info("a"), info("b")], "state-etag")


@pytest.mark.parametrize("label, entries, stored, state_etag", [
    ("listed size", [entry("a", size="101"), entry("b")], BASE[1], BASE[2]),
    ("listed time", [entry("a", time="9/4/2025 9:30 AM"), entry("b")], BASE[1], BASE[2]),
    ("listed name", [entry("a"), entry("c")], BASE[1], BASE[2]),
    ("file added at the source", [*BASE[0], entry("c")], BASE[1], BASE[2]),
    ("stored size", BASE[0], [info("a", size=99), info("b")], BASE[2]),
    ("stored etag", BASE[0], [info("a", etag="other"), info("b")], BASE[2]),
    ("stored file gone", BASE[0], [info("a")], BASE[2]),
    ("extra stored file", BASE[0], [*BASE[1], info("c")], BASE[2]),
    ("state rewritten", *BASE[:2], "new-etag"),
    ("state gone", *BASE[:2], None),
])
def test_the_fingerprint_changes_with_anything_a_run_compares(label, entries, stored, state_etag):
    assert sync_fingerprint(entries, stored, state_etag) != sync_fingerprint(*BASE), label


def test_the_fingerprint_ignores_the_order_of_entries_and_files():
    reordered = sync_fingerprint(BASE[0][::-1], BASE[1][::-1], BASE[2])
    assert reordered == sync_fingerprint(*BASE)
    assert len(reordered) == 32 and int(reordered, 16) >= 0
