"""Every release remembered: bls_revisions and `query --as-of` (chalicelib/lake/revisions.py, docs/lake.md).

The reference is computed here, independently: both vintages of the real `pr` files parsed by plain
string splitting into {(series_id, year, period): (Decimal value, footnote)} and compared key by key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from chalicelib.core.errors import StoreError
from chalicelib.core.store import LocalStore
from chalicelib.lake import revision_diff, revisions
from chalicelib.lake.sync import LakeFailed, sync_source
from support.paths import FIXTURES
from support.pipeline_sources import VINTAGES, publish_population, publish_vintage, source_settings
from workstation import local_run
from workstation.query import run_query

PR = FIXTURES / "bls" / "pr"
DATA_FILES = ("pr.data.0.Current", "pr.data.1.AllData")
OLD, NEW = "2025-09-04", "2026-08-06"
CLOCK = datetime(2026, 8, 7, 6, 0, tzinfo=UTC)
HEADER = b"series_id\tyear\tperiod\tvalue\tfootnote_codes\r\n"
XX_KEY = "bls/xx/xx.data.0.Current"  # three small versions of a file: v1 -> v2 (M01 revised) -> v3
XX_V1 = HEADER + b"A\t2020\tM01\t1.0\t\r\nA\t2020\tM02\t2.0\t\r\n"
XX_V2 = HEADER + b"A\t2020\tM01\t1.5\t\r\nA\t2020\tM02\t2.0\t\r\n"
XX_V3 = HEADER + b"A\t2020\tM01\t1.0\t\r\nA\t2020\tM03\t3.0\t\r\n"


def observations(body: bytes) -> dict[tuple[str, int, str], tuple[Decimal, str | None]]:
    lines = body.decode().replace("\r\n", "\n").strip("\n").split("\n")[1:]
    found = {}
    for line in lines:
        series, year, period, value, footnote = (f.strip() for f in line.split("\t"))
        found[(series, int(year), period)] = (Decimal(value), footnote or None)
    return found


def expected_revisions(old: bytes, new: bytes) -> set[tuple[Any, ...]]:
    """(series_id, year, period, previous_value, value, change, footnote, previous_footnote) per differing key."""
    a, b = observations(old), observations(new)
    rows = set()
    for key in a.keys() | b.keys():
        if key not in b:
            rows.add((*key, a[key][0], None, "removed", None, a[key][1]))
        elif key not in a:
            rows.add((*key, None, b[key][0], "added", b[key][1], None))
        elif a[key] != b[key]:
            rows.add((*key, a[key][0], b[key][0], "revised", b[key][1], a[key][1]))
    return rows


def recorded(root: Path, file: str) -> list[tuple[Any, ...]]:
    return duckdb.sql(
        "SELECT series_id, year, period, previous_value, value, change, footnote_codes, previous_footnote_codes "
        f"FROM read_parquet('{root}/silver/bls_revisions/*/*/*/*.parquet', hive_partitioning = true) "
        f"WHERE file = '{file}'").fetchall()


def mirror_put(store: Any, key: str, body: bytes, last_modified: str | None = None) -> None:
    metadata = {"sha256": hashlib.sha256(body).hexdigest()}
    if last_modified:
        metadata["source-last-modified"] = last_modified
    store.put(key, body, metadata=metadata, content_type="text/plain")


def published_count(root: Path) -> int:
    return run_query(root, "SELECT count(*) FROM bls_revisions_published").rows[0][0]


def revision_keys(store: Any) -> list[str]:
    return sorted(info.key for info in store.list("silver/bls_revisions/"))


# --------------------------------------------------------------------------- real data, through the pipeline


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime, datetime]:
    """The pipeline run on the 2025-09-04 vintage, then on 2026-08-06 (local sources); (store, run window)."""
    from workstation.sourceserver import SourceServer

    root = tmp_path_factory.mktemp("revisions") / "data"
    server = SourceServer()
    server.start()
    try:
        publish_vintage(server, OLD)
        publish_population(server)
        settings = source_settings(server, str(root))
        assert local_run.run(settings).ok
        publish_vintage(server, NEW)
        started = datetime.now(UTC).replace(microsecond=0)
        assert local_run.run(settings).ok
        ended = datetime.now(UTC)
        assert local_run.run(settings).ok  # nothing changed: nothing recorded twice
    finally:
        server.stop()
    return root, started, ended


@pytest.mark.parametrize("name", DATA_FILES)
def test_recorded_revisions_are_exactly_the_differences_between_the_two_files(two_runs, name):
    root, _, _ = two_runs
    expected = expected_revisions((PR / OLD / name).read_bytes(), (PR / NEW / name).read_bytes())
    rows = recorded(root, name)
    assert len(rows) == len(set(rows)) == len(expected) > 1000  # each difference once
    assert set(rows) == expected


def test_vintages_are_the_sources_last_modified_and_the_first_version_records_none(two_runs):
    root, started, ended = two_runs
    meta = duckdb.sql(
        "SELECT file, release, count(*), min(vintage), min(previous_vintage), min(recorded_at), max(recorded_at) "
        f"FROM read_parquet('{root}/silver/bls_revisions/*/*/*/*.parquet', hive_partitioning = true) "
        "GROUP BY ALL ORDER BY file").fetchall()
    new, old = (VINTAGES[v].replace(tzinfo=None) for v in (NEW, OLD))
    assert [m[:5] for m in meta] == [(f, "20260806T123000Z", len(recorded(root, f)), new, old) for f in DATA_FILES]
    assert all(started.replace(tzinfo=None) <= m[5] <= m[6] <= ended.replace(tzinfo=None) for m in meta)
    store = LocalStore(root)
    keys = revision_keys(store)
    firsts = [k for k in keys if k.endswith(".from-none.parquet")]
    assert len(keys) == 4 and len(firsts) == 2 and all("release=20250904T123000Z" in k for k in firsts)
    assert all(store.head(k).metadata["rows"] == "0" for k in firsts)  # the first version: the vintage only


def test_each_partition_row_carries_its_versions_vintage(two_runs):
    root, _, _ = two_runs
    rows = run_query(root, "SELECT file, vintage, count(*) FROM bls_data GROUP BY ALL ORDER BY file").rows
    new = VINTAGES[NEW].replace(tzinfo=None)
    assert rows == [(f, new, len(observations((PR / NEW / f).read_bytes()))) for f in DATA_FILES]
    as_of = run_query(root, "SELECT DISTINCT file, vintage FROM bls_data ORDER BY file", as_of="2026-01-01").rows
    assert as_of == [(f, VINTAGES[OLD].replace(tzinfo=None)) for f in DATA_FILES]  # the version current then


def test_as_of_a_date_between_the_vintages_answers_the_older_values(two_runs):
    root, _, _ = two_runs
    sql = "SELECT file, series_id, year, period, value, footnote_codes FROM bls_data"
    between = run_query(root, sql, as_of="2026-01-01")
    after = run_query(root, sql, as_of="2026-08-06")
    before = run_query(root, sql, as_of="2024-01-01")
    for result, vintage in ((between, OLD), (after, NEW), (before, OLD)):
        want = {(f, *k, *v) for f in DATA_FILES for k, v in observations((PR / vintage / f).read_bytes()).items()}
        assert len(result.rows) == len(want) and set(result.rows) == want
    assert between.notes == [] and after.notes == []
    assert before.notes == [f"pr/{f}: the first release recorded is 2025-09-04T12:30:00Z, after the date asked; "
                            "its oldest recorded version is shown" for f in DATA_FILES]


def test_release_summaries_count_the_changes(two_runs):
    root, _, _ = two_runs
    store = LocalStore(root)
    summaries = revisions.release_summaries(store, "pr")
    assert [s["release"] for s in summaries] == ["20260806T123000Z"] * 2 + ["20250904T123000Z"] * 2
    for summary in summaries[:2]:
        expected = expected_revisions((PR / OLD / summary["file"]).read_bytes(),
                                      (PR / NEW / summary["file"]).read_bytes())
        counts = {c: sum(1 for r in expected if r[5] == c) for c in ("revised", "added", "removed")}
        assert {c: summary[c] for c in counts} == counts
        biggest = max(abs(r[4] - r[3]) for r in expected if r[5] == "revised")
        assert Decimal(summary["largest"][0]["difference"]).copy_abs() == biggest
    recent = revisions.release_summaries(store, "pr", since=datetime(2026, 1, 1, tzinfo=UTC))
    assert len(recent) == 2


def test_series_revisions_first_published_against_latest(two_runs):
    root, _, _ = two_runs
    name = "pr.data.0.Current"
    old, new = (observations((PR / v / name).read_bytes()) for v in (OLD, NEW))
    series = "PRS85006092"
    got = revisions.series_revisions(LocalStore(root), "pr", name, series)
    want = [{"year": k[1], "period": k[2], "first": old[k][0] if k in old else None,
             "latest": new[k][0] if k in new else None}
            for k in sorted(old.keys() | new.keys()) if k[0] == series and old.get(k) != new.get(k)]
    assert got and [{**g, "first": g["first"] and Decimal(g["first"]), "latest": g["latest"] and Decimal(g["latest"])}
                    for g in [{k: v for k, v in x.items() if k != "revisions"} for x in got]] == want


# --------------------------------------------------------------------------- exactly once, crash-safe


def test_a_crash_between_the_two_writes_is_finished_by_the_retry_without_duplicates(local_store, monkeypatch):
    # GIVEN a converted first version and a new version in the mirror
    key = "bls/pr/pr.data.0.Current"
    mirror_put(local_store, key, (PR / OLD / "pr.data.0.Current").read_bytes(), "Thu, 04 Sep 2025 12:30:00 GMT")
    sync_source(local_store, key, clock=lambda: CLOCK)
    mirror_put(local_store, key, (PR / NEW / "pr.data.0.Current").read_bytes(), "Thu, 06 Aug 2026 12:30:00 GMT")
    partition = "silver/bls_data/survey=pr/file=pr.data.0.Current/data.parquet"
    before = local_store.head(partition)
    # WHEN the function dies after writing the revisions object, before the partition
    real_put = local_store.put

    def crash(name: str, *args: Any, **kwargs: Any) -> str:
        if name == partition:
            raise StoreError("the function was stopped here")
        return real_put(name, *args, **kwargs)

    monkeypatch.setattr(local_store, "put", crash)
    with pytest.raises(StoreError):
        sync_source(local_store, key, clock=lambda: CLOCK)
    monkeypatch.setattr(local_store, "put", real_put)
    # THEN the partition is the old one, and the revisions object is there
    assert local_store.head(partition).etag == before.etag
    written = revision_keys(local_store)
    assert len(written) == 2
    etag = local_store.head(written[1]).etag
    # AND nothing of it is published: not in the published view, the as-of answers, the API's summaries
    assert len(recorded(local_store.root, "pr.data.0.Current")) > 1000  # the raw table holds the rows
    assert published_count(local_store.root) == 0
    old_values = run_query(local_store.root, "SELECT series_id, year, period, value FROM bls_data").rows
    assert run_query(local_store.root, "SELECT series_id, year, period, value FROM bls_data",
                     as_of="2025-12-01").rows == old_values
    assert [s["release"] for s in revisions.release_summaries(local_store, "pr")] == ["20250904T123000Z"]
    assert [s["release"] for s in revisions.latest_summaries(local_store)] == ["20250904T123000Z"]
    assert revisions.series_revisions(local_store, "pr", "pr.data.0.Current", "PRS85006092") == []
    # WHEN the message is redelivered
    result = sync_source(local_store, key, clock=lambda: datetime(2026, 8, 8, tzinfo=UTC))
    # THEN the same object is reused (not rewritten), the partition names it, nothing is duplicated
    assert result.action == "written" and revision_keys(local_store) == written
    assert local_store.head(written[1]).etag == etag
    assert local_store.head(partition).metadata["revisions"] == written[1]
    rows = recorded(local_store.root, "pr.data.0.Current")
    assert set(rows) == expected_revisions((PR / OLD / "pr.data.0.Current").read_bytes(),
                                           (PR / NEW / "pr.data.0.Current").read_bytes())
    assert len(rows) == len(set(rows)) == published_count(local_store.root)  # published with the partition
    assert [s["release"] for s in revisions.latest_summaries(local_store)] == ["20260806T123000Z", "20250904T123000Z"]
    # AND another delivery changes nothing
    assert sync_source(local_store, key).action == "unchanged" and revision_keys(local_store) == written


def crash_before_the_partition_of_v2(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """XX v1 converted, then v2's revisions object written by an invocation that dies before the partition."""
    mirror_put(store, XX_KEY, XX_V1, "Wed, 01 Jan 2025 00:00:00 GMT")
    sync_source(store, XX_KEY)
    mirror_put(store, XX_KEY, XX_V2, "Thu, 02 Jan 2025 00:00:00 GMT")
    real_put = store.put
    monkeypatch.setattr(store, "put", lambda name, *a, **k: (_ for _ in ()).throw(StoreError("stopped"))
                        if name.startswith("silver/bls_data/") else real_put(name, *a, **k))
    with pytest.raises(StoreError):
        sync_source(store, XX_KEY)
    monkeypatch.setattr(store, "put", real_put)


def test_a_revisions_object_left_by_a_crash_goes_when_the_source_changed_again(local_store, monkeypatch):
    crash_before_the_partition_of_v2(local_store, monkeypatch)
    assert len(revision_keys(local_store)) == 2  # the first version's, and the orphan v1 -> v2
    # WHEN the source changes again before the retry
    mirror_put(local_store, XX_KEY, XX_V3, "Fri, 03 Jan 2025 00:00:00 GMT")
    sync_source(local_store, XX_KEY)
    # THEN only the chain v1 -> v3 remains: the orphan is deleted, its rows are not in the table
    keys = revision_keys(local_store)
    assert len(keys) == 2 and "release=20250103T000000Z" in keys[1]
    assert sorted(recorded(local_store.root, "xx.data.0.Current")) == [
        ("A", 2020, "M02", Decimal("2"), None, "removed", None, None),
        ("A", 2020, "M03", None, Decimal("3"), "added", None, None),
    ]


def test_an_object_left_by_a_crash_is_never_published_even_before_it_is_deleted(local_store, monkeypatch):
    # GIVEN v1 converted, then v2's revisions object written by an invocation that died before the partition
    crash_before_the_partition_of_v2(local_store, monkeypatch)
    real_delete = local_store.delete_many
    # WHEN v3 is published and converted by an invocation that dies before it deletes the orphan
    monkeypatch.setattr(local_store, "delete_many", lambda keys: None)
    mirror_put(local_store, XX_KEY, XX_V3, "Fri, 03 Jan 2025 00:00:00 GMT")
    sync_source(local_store, XX_KEY)
    monkeypatch.setattr(local_store, "delete_many", real_delete)
    # THEN the orphan (v1 -> v2) is still stored, but only the chain v1 -> v3 is published
    assert len(revision_keys(local_store)) == 3 and len(recorded(local_store.root, "xx.data.0.Current")) == 3
    published = run_query(local_store.root, "SELECT year, period, previous_value, value, change "
                          "FROM bls_revisions_published ORDER BY period").rows
    assert published == [(2020, "M02", Decimal("2"), None, "removed"), (2020, "M03", None, Decimal("3"), "added")]
    assert [s["release"] for s in revisions.release_summaries(local_store, "xx")] == [
        "20250103T000000Z", "20250101T000000Z"]
    # AND as of Jan 2 the values are v1's (the orphan's v2 was never published)
    assert run_query(local_store.root, "SELECT period, value FROM bls_data ORDER BY period",
                     as_of="2025-01-02").rows == [("M01", Decimal("1")), ("M02", Decimal("2"))]


def test_a_version_whose_last_modified_goes_back_gets_a_vintage_after_the_previous_one(local_store):
    # GIVEN a first version of Jan 2, then a new version whose Last-Modified says Jan 1
    key = "bls/yy/yy.data.0.Current"
    mirror_put(local_store, key, HEADER + b"A\t2020\tM01\t1\t\r\n", "Thu, 02 Jan 2025 00:00:00 GMT")
    sync_source(local_store, key)
    mirror_put(local_store, key, HEADER + b"A\t2020\tM01\t2\t\r\n", "Wed, 01 Jan 2025 00:00:00 GMT")
    sync_source(local_store, key)
    # THEN its vintage is one second after the previous one, in the partition's rows and in bls_revisions
    assert run_query(local_store.root, "SELECT DISTINCT vintage FROM bls_data").rows == [(datetime(2025, 1, 2, 0, 0, 1),)]
    assert run_query(local_store.root, "SELECT vintage, previous_vintage FROM bls_revisions_published").rows == [
        (datetime(2025, 1, 2, 0, 0, 1), datetime(2025, 1, 2))]
    # AND the as-of answers keep the order in which the versions were published
    for moment, value in (("2025-01-02T00:00:00Z", "1"), ("2025-01-02T00:00:01Z", "2")):
        assert run_query(local_store.root, "SELECT value FROM bls_data", as_of=moment).rows == [(Decimal(value),)]


def test_footnote_only_changes_are_revisions_and_unsorted_files_give_the_same_rows(local_store):
    old = HEADER + b"B\t2021\tQ01\t5\t\r\nA\t2020\tM01\t1.0\tP\r\nA\t2020\tM02\t2.0\t\r\n"
    new = HEADER + b"A\t2020\tM02\t2.25\t\r\nA\t2020\tM01\t1.0\t\r\nB\t2021\tQ01\t5\t\r\nC\t1999\tM13\t-7\t\r\n"
    key = "bls/yy/yy.data.0.Current"
    mirror_put(local_store, key, old)
    sync_source(local_store, key)
    mirror_put(local_store, key, new)
    sync_source(local_store, key)
    assert sorted(recorded(local_store.root, "yy.data.0.Current")) == [
        ("A", 2020, "M01", Decimal("1"), Decimal("1"), "revised", None, "P"),
        ("A", 2020, "M02", Decimal("2"), Decimal("2.25"), "revised", None, None),
        ("C", 1999, "M13", None, Decimal("-7"), "added", None, None),
    ]


def test_merge_across_many_small_row_groups_equals_the_reference(tmp_path, monkeypatch):
    # GIVEN the real AllData vintages converted with tiny row groups, and tiny merge buffers
    from chalicelib.lake.convert import DATA_DECIMALS, data_row_groups
    from chalicelib.lake.parquet import write_parquet

    paths = {}
    for vintage in (OLD, NEW):
        paths[vintage] = tmp_path / f"{vintage}.parquet"
        with open(PR / vintage / "pr.data.1.AllData", "rb") as stream, open(paths[vintage], "wb") as out:
            write_parquet(out, data_row_groups(stream, "t", row_group_rows=3_000, block_size=32 * 1024), DATA_DECIMALS)
    monkeypatch.setattr(revision_diff, "MIN_BUFFER_ROWS", 1_000)
    context = {"vintage": CLOCK, "previous_vintage": None, "recorded_at": CLOCK}
    out = tmp_path / "revisions.parquet"
    # WHEN they are diffed
    rows, summary = revisions.write_revisions(out, paths[OLD], paths[NEW], context)
    # THEN the rows are the reference, in key order
    got = duckdb.sql("SELECT series_id, year, period, previous_value, value, change, footnote_codes, "
                     f"previous_footnote_codes FROM read_parquet('{out}')").fetchall()
    expected = expected_revisions((PR / OLD / "pr.data.1.AllData").read_bytes(),
                                  (PR / NEW / "pr.data.1.AllData").read_bytes())
    assert set(got) == expected and len(got) == rows == len(expected)
    assert [r[:3] for r in got] == sorted(r[:3] for r in got)
    assert summary.revised + summary.added + summary.removed == rows


def test_a_failed_conversion_records_no_revisions(local_store):
    key = "bls/zz/zz.data.0.Current"
    mirror_put(local_store, key, b"series_id\tyear\tperiod\tvalue\tfootnote_codes\r\nA\t2020\tM01\t1\t\r\n")
    sync_source(local_store, key)
    mirror_put(local_store, key, b"series_id\tyear\tperiod\tvalue\tfootnote_codes\r\nA\t20x0\tM01\t1\t\r\n")
    with pytest.raises(LakeFailed):
        sync_source(local_store, key)
    assert len(revision_keys(local_store)) == 1


# --------------------------------------------------------------------------- the web API and dashboard


@pytest.fixture
def web_client(two_runs, monkeypatch):
    import sys

    from support.paths import REPO
    from support.web import STAGE

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from chalice.test import Client

    from app import app

    monkeypatch.setenv("DATA_STORE", str(two_runs[0]))
    with Client(app, stage_name=STAGE, project_dir=str(REPO)) as client:
        yield client


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")
def test_revisions_api_lists_release_summaries_and_rejects_bad_parameters(web_client):
    import json

    answer = web_client.http.get("/api/revisions?survey=pr&since=2026-01-01")
    body = json.loads(answer.body)
    assert answer.status_code == 200 and [r["file"] for r in body["releases"]] == sorted(DATA_FILES, reverse=True)
    assert all(r["vintage"] == "2026-08-06T12:30:00Z" and r["revised"] > 0 for r in body["releases"])
    assert len(json.loads(web_client.http.get("/api/revisions?survey=pr&limit=1").body)["releases"]) == 1
    for bad in ("", "?survey=PR%2F..", "?survey=pr&since=yesterday", "?survey=pr&limit=0", "?survey=pr&x=1",
                "?survey=pr&limit=100000"):
        response = web_client.http.get("/api/revisions" + bad)
        assert response.status_code == 400, bad
    status = json.loads(web_client.http.get("/api/status").body)
    assert status["releases"][0]["release"] == "20260806T123000Z"


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")
def test_dashboard_shows_the_last_release_and_the_series_revisions(web_client):
    old, new = (observations((PR / v / "pr.data.0.Current").read_bytes()) for v in (OLD, NEW))
    changed = sorted(k for k in old.keys() | new.keys()
                     if k[0] == "PRS85006092" and k[2] == "Q01" and old.get(k) != new.get(k))
    page = web_client.http.get("/?series=PRS85006092&period=Q01").body.decode()
    assert "Last release" in page and 'id="series-revisions"' in page
    assert f"Revisions: {len(changed)} value(s) changed since first published" in page


def test_values_are_compared_and_stored_to_the_last_digit(local_store):
    # GIVEN values of 15 significant digits (the parser's limit) that differ in the last one
    key = "bls/ww/ww.data.0.Current"
    mirror_put(local_store, key, HEADER + b"A\t2020\tM01\t999999999.123456\t\r\nA\t2020\tM02\t-0.000001\t\r\n")
    sync_source(local_store, key)
    mirror_put(local_store, key, HEADER + b"A\t2020\tM01\t999999999.123457\t\r\nA\t2020\tM02\t-0.000001\t\r\n")
    sync_source(local_store, key)
    # THEN exactly the one revision, with both values to the last digit
    assert recorded(local_store.root, "ww.data.0.Current") == [
        ("A", 2020, "M01", Decimal("999999999.123456"), Decimal("999999999.123457"), "revised", None, None)]
    (summary,) = [s for s in revisions.release_summaries(local_store, "ww") if not s["first_version"]]
    assert summary["largest"][0]["difference"] == "0.000001"
    assert revisions.value_text(-1) == "-0.000001" and revisions.value_text(12_500_000) == "12.5"


def test_values_in_cells_of_another_width_are_compared_as_numbers(tmp_path):
    # GIVEN a previous partition of 8-byte value cells (DECIMAL(18,6), before the value type widened) and a
    # new one of today's cells, where one value is revised to a number wider than int64
    import numpy as np
    import pandas as pd

    from chalicelib.lake.convert import VALUE_DECIMAL
    from chalicelib.lake.parquet import Decimal as DecimalType
    from chalicelib.lake.parquet import decimal_bytes, write_parquet

    def partition(name: str, values: list[tuple[int, int]], decimal: DecimalType) -> Path:
        path = tmp_path / name
        frame = pd.DataFrame({
            "series_id": pd.Categorical(["A", "A", "B"]), "year": np.array([2020, 2020, 2020], np.int32),
            "period": pd.Categorical(["M01", "M02", "M01"]),
            "value": decimal_bytes(np.array([w for w, _ in values]), np.array([f for _, f in values]), decimal),
            "footnote_codes": pd.Categorical([None, None, None], categories=["P"])})
        with open(path, "wb") as out:
            write_parquet(out, [frame], {"value": decimal})
        return path

    old = partition("old.parquet", [(1, 500_000), (2, 0), (7, 250_000)], DecimalType(18, 6))
    new = partition("new.parquet", [(1, 500_000), (12_345_678_901_234, 500_000), (7, 250_000)], VALUE_DECIMAL)
    out = tmp_path / "revisions.parquet"
    # WHEN they are diffed
    rows, summary = revisions.write_revisions(out, old, new, {"vintage": CLOCK, "previous_vintage": None,
                                                               "recorded_at": CLOCK})
    # THEN equal numbers in cells of different widths are equal, and the wide revision is exact
    assert duckdb.sql("SELECT series_id, year, period, previous_value, value, change "
                      f"FROM read_parquet('{out}')").fetchall() == [
        ("A", 2020, "M02", Decimal("2"), Decimal("12345678901234.5"), "revised")]
    assert rows == summary.revised == 1 and summary.added == summary.removed == 0
    assert summary.to_dict()["largest"][0]["difference"] == "12345678901232.5"


def test_the_documented_athena_query_answers_as_the_as_of_option(two_runs):
    import re

    from chalicelib.lake.queries import AS_OF_EXAMPLE, revision_queries
    from support.paths import REPO

    root, _, _ = two_runs
    text = (REPO / "docs" / "lake.md").read_text()
    documented = re.search(r"```sql\n(WITH bls_data_as_of AS \(\n.*?)```", text, re.S).group(1)
    saved = revision_queries()["bls_data_as_of"]  # the Athena saved query (test_infra: the stack's text)
    assert AS_OF_EXAMPLE == "2026-01-01 23:59:59.999999" and saved.count(f"TIMESTAMP '{AS_OF_EXAMPLE}'") == 2
    query = re.sub(r"    -- the saved query .*\n", lambda _: saved + "\n", documented)
    same = ("SELECT year, value FROM bls_data WHERE survey = 'pr' AND file = 'pr.data.0.Current' "
            "AND series_id = 'PRS85006092' AND period = 'Q01' ORDER BY year")
    assert run_query(root, query).rows == run_query(root, same, as_of="2026-01-01").rows
    assert run_query(root, query).rows != run_query(root, same).rows


def test_a_file_that_goes_back_and_forth_keeps_every_release(local_store):
    # GIVEN versions A, B, A, B of a file (each with its own Last-Modified)
    key = "bls/vv/vv.data.0.Current"
    a, b = HEADER + b"A\t2020\tM01\t1\t\r\n", HEADER + b"A\t2020\tM01\t2\t\r\n"
    for day, body in enumerate((a, b, a, b), start=1):
        mirror_put(local_store, key, body, f"Wed, 0{day} Jan 2025 00:00:00 GMT")
        sync_source(local_store, key)
        sync_source(local_store, key)  # a redelivery tidies: it must not take history for stale objects
    # THEN every release is kept: the first version and three revisions
    keys = revision_keys(local_store)
    assert [k.split("/")[4] for k in keys] == [f"release=2025010{d}T000000Z" for d in (1, 2, 3, 4)]
    assert sorted(r[3:6] for r in recorded(local_store.root, "vv.data.0.Current")) == [
        (Decimal("1"), Decimal("2"), "revised"), (Decimal("1"), Decimal("2"), "revised"),
        (Decimal("2"), Decimal("1"), "revised")]
    result = run_query(local_store.root, "SELECT value FROM bls_data WHERE survey = 'vv'", as_of="2025-01-03")
    assert result.rows == [(Decimal("1"),)]
