"""The gold layer (issue 20): the four tables per survey, built once per change from silver.

- the real `pr` snapshot: the best years equal the pandas best-year report computed from the
  same observations (the report's own input alone, and the whole directory);
- a generated monthly survey in the real LABSTAT shape (series file with `series_title`, `area`
  and `item` mapping files, M01–M13 data) plus a quarterly-only, an annual-only series and a
  series with a missing month, whose expected gold values are computed here independently
  (plain Python `Decimal`s, no code of the project);
- once per change, a failed build keeps the previous partitions, a removed survey loses its
  gold, the passes over series ranges give the same tables; both store backends.
"""

from __future__ import annotations

import hashlib
import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import duckdb
import pytest

from chalicelib.bls.data_file import BlsDataReader
from chalicelib.core.errors import NotFound
from chalicelib.gold import sync as gold
from chalicelib.gold import tables
from chalicelib.gold.queries import gold_queries
from chalicelib.gold.values import GoldFailed, cell_ints
from chalicelib.lake.sync import reconcile
from chalicelib.reports.scan import scan_data
from support.paths import FIXTURES

PR = FIXTURES / "bls" / "pr" / "2026-08-06"


def mirror_put(store, key: str, body: bytes) -> str:
    return store.put(key, body, metadata={"sha256": hashlib.sha256(body).hexdigest()}, content_type="text/plain")


def read_table(store, table: str, survey: str, tmp_path: Path) -> list[dict]:
    """A gold partition's rows (DuckDB over a copy of the object), sorted as stored."""
    path = tmp_path / f"{table}-{survey}-{hashlib.md5(str(tmp_path).encode()).hexdigest()}.parquet"
    path.write_bytes(store.read(tables.GoldPartition(table, survey).key).body)
    relation = duckdb.connect().sql(f"SELECT * FROM read_parquet('{path}')")
    return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


def build(store, survey: str, **options):
    reconcile(store)
    return gold.sync_survey(store, survey, **options)


# --------------------------------------------------------------------------- real pr


def report_best_years(path: Path) -> dict[str, tuple[int, Decimal]]:
    with open(path, "rb") as stream:
        scan = scan_data(BlsDataReader(stream, source=str(path)))
    return {r.series_id: (r.year, Decimal(repr(r.value))) for r in scan.best_years}


def gold_best_years(rows: list[dict]) -> dict[str, tuple[int, Decimal]]:
    return {r["series_id"]: (r["year"], r["value"].normalize()) for r in rows if r["basis"] == "sub-annual sum"}


def normalized(best: dict[str, tuple[int, Decimal]]) -> dict[str, tuple[int, Decimal]]:
    return {k: (y, v.normalize()) for k, (y, v) in best.items()}


def test_pr_best_years_equal_the_report_on_the_reports_input(local_store, tmp_path):
    """The report's own input (pr.data.0.Current) with the series and mapping files: same series, years, values."""
    for path in PR.iterdir():
        if path.name != "pr.data.1.AllData":
            mirror_put(local_store, f"bls/pr/{path.name}", path.read_bytes())
    assert build(local_store, "pr").action == "written"
    best = read_table(local_store, tables.SERIES_BEST_YEAR, "pr", tmp_path)
    expected = normalized(report_best_years(PR / "pr.data.0.Current"))
    assert len(expected) > 200
    assert gold_best_years(best) == expected
    annual_only = [r for r in best if r["basis"] == "annual"]
    assert {r["series_id"] for r in annual_only}.isdisjoint(expected)  # only series the report leaves out


def test_pr_best_years_over_the_whole_directory_equal_the_report_over_all_data(store, tmp_path):
    """Both data files: an observation counts once (Current is a subset of AllData with equal values),
    so the best years are the report's over pr.data.1.AllData, i.e. over the series' whole history."""
    for path in PR.iterdir():
        mirror_put(store, f"bls/pr/{path.name}", path.read_bytes())
    result = build(store, "pr")
    assert result.action == "written" and result.rows[tables.SERIES_CATALOG] == 282
    best = read_table(store, tables.SERIES_BEST_YEAR, "pr", tmp_path)
    assert gold_best_years(best) == normalized(report_best_years(PR / "pr.data.1.AllData"))
    catalog = {r["series_id"]: r for r in read_table(store, tables.SERIES_CATALOG, "pr", tmp_path)}
    entry = catalog["PRS30006013"]
    assert entry["title"] == "Manufacturing · All workers · Employment · Index (2017=100) · Seasonal Adjusted"
    assert entry["periodicity"] == "quarterly" and entry["seasonal"] == "S"
    assert json.loads(entry["codes"])["sector_code"] == {"code": "3000", "name": "Manufacturing"}
    assert json.loads(entry["codes"])["base_year"] == {"code": "2017", "name": "2017"}  # no mapping file


# --------------------------------------------------------------------------- a generated LABSTAT-shaped survey

SURVEY = "zz"
MONTHS = [f"M{m:02d}" for m in range(1, 13)]


def generated_survey() -> dict[str, object]:
    """Files of survey `zz` in the shape of `cu` (series file with series_title, area/item mapping files)
    and the observations as (series, year, period) -> Decimal text."""
    obs: dict[tuple[str, int, str], str] = {}
    # monthly with M13, two years, one tie on the sums (2019 and 2020 both sum to 78.0), a negative value
    for year in (2019, 2020):
        for m, period in enumerate(MONTHS, 1):
            obs[("ZZUR0000SA0", year, period)] = f"{m}.5" if year == 2019 else f"{m + 0.5:.1f}"
        obs[("ZZUR0000SA0", year, "M13")] = "6.500"
    obs[("ZZUR0000SA0", 2021, "M01")] = "-3.25"
    # a missing month (M07) in 2020, values with six decimals
    for year in (2020, 2021):
        for m, period in enumerate(MONTHS, 1):
            if (year, period) != (2020, "M07"):
                obs[("ZZUS0100SAF", year, period)] = f"{100 + m}.123456" if year == 2021 else f"{200 + m}.000001"
    # quarterly only, with Q05; the latest quarter a year ago is zero (pct_change NULL)
    for year, values in ((2020, ["0", "1.1", "2.2", "3.3", "1.65"]), (2021, ["0", "5", "6", "7", "4.5"])):
        for q, value in enumerate(values, 1):
            obs[("ZZQ0000000Q", year, f"Q0{q}")] = value
    obs[("ZZQ0000000Q", 2022, "Q01")] = "8.8"
    # annual only (A01): the largest value twice -> the earliest year
    for year, value in ((2017, "10"), (2018, "12.5"), (2019, "12.5"), (2020, "11")):
        obs[("ZZA0000000A", year, "A01")] = value
    # monthly with published annual averages only
    obs[("ZZM13ONLY000", 2020, "M13")] = "7"
    obs[("ZZM13ONLY000", 2021, "M13")] = "9"
    lines = ["series_id        \tyear\tperiod\t       value\tfootnote_codes"]
    for (series, year, period), value in sorted(obs.items()):
        lines.append(f"{series:<17}\t{year}\t{period}\t{value:>12}\t")
    data = ("\r\n".join(lines) + "\r\n").encode()
    series_header = ["series_id", "area_code", "item_code", "seasonal", "periodicity_code", "series_title",
                     "footnote_codes", "begin_year", "begin_period", "end_year", "end_period"]
    series_rows = [
        ["ZZUR0000SA0", "0000", "SA0", "U", "R", "All items in U.S. city average, all urban consumers", "", "2019", "M01",
         "2021", "M01"],
        ["ZZUS0100SAF", "0100", "SAF", "S", "R", "", "", "2020", "M01", "2021", "M12"],  # title from the mappings
        ["ZZQ0000000Q", "0000", "QQQ", "U", "Q", "", "", "2020", "Q01", "2022", "Q01"],  # QQQ: no item entry
        ["ZZA0000000A", "0000", "SA0", "U", "A", "Annual series", "", "2017", "A01", "2020", "A01"],
        ["ZZM13ONLY000", "0000", "SA0", "U", "R", "Annual averages only", "", "2020", "M13", "2021", "M13"],
        ["ZZNODATA0000", "0100", "SA0", "S", "R", "", "", "2020", "S01", "2020", "S02"],  # described, no data
    ]
    series = "\r\n".join("\t".join(f"{c:<17}" if i == 0 else c for i, c in enumerate(row))
                         for row in [series_header, *series_rows]) + "\r\n"
    area = ("area_code\tarea_name\tdisplay_level\tselectable\tsort_sequence\r\n"
            "0000\tU.S. city average\t0\tT\t1\r\n0100\tNortheast\t0\tT\t5\r\n")
    item = ("item_code\titem_name\tdisplay_level\tselectable\tsort_sequence\r\n"
            "SA0\tAll items\t0\tT\t2\r\nSAF\tFood and beverages\t1\tT\t3\r\n")
    seasonal = "seasonal_code\tseasonal_text\r\nS\tSeasonally Adjusted\r\nU\tNot Seasonally Adjusted\r\n"
    return {"files": {f"{SURVEY}.data.0.Current": data, f"{SURVEY}.series": series.encode(),
                      f"{SURVEY}.area": area.encode(), f"{SURVEY}.item": item.encode(),
                      f"{SURVEY}.seasonal": seasonal.encode(), f"{SURVEY}.txt": b"about this survey\r\n"},
            "obs": {k: Decimal(v) for k, v in obs.items()}}


KINDS = {"M": (MONTHS, "M13"), "Q": (["Q01", "Q02", "Q03", "Q04"], "Q05"), "S": (["S01", "S02"], "S03"),
         "A": ([], "A01")}


def expected_tables(obs: dict[tuple[str, int, str], Decimal]) -> dict[str, dict]:
    """The gold values, computed from the observations with Decimal arithmetic, independently."""
    by_series: dict[str, dict[tuple[int, str], Decimal]] = {}
    for (series, year, period), value in obs.items():
        by_series.setdefault(series, {})[(year, period)] = value
    annual, best, latest = {}, {}, {}
    for series, values in by_series.items():
        letter = next(k for k in "MQSA" if any(p.startswith(k) for _, p in values))
        regular, annual_code = KINDS[letter]
        years = sorted({y for y, _ in values})
        for year in years:
            present = [values[(year, p)] for p in regular if (year, p) in values]
            published = values.get((year, annual_code))
            total = sum(present, Decimal(0)) if present else None
            mean = (total / len(present)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN) if present else None
            annual[(series, year)] = (len(present), total, mean, published,
                                      len(present) == len(regular) if regular else published is not None)
        sums = [(annual[(series, y)][1], y) for y in years if annual[(series, y)][0]]
        if sums:
            top = max(s for s, _ in sums)
            best[series] = (min(y for s, y in sums if s == top), top, "sub-annual sum")
        else:
            tops = [(annual[(series, y)][3], y) for y in years]
            top = max(v for v, _ in tops)
            best[series] = (min(y for v, y in tops if v == top), top, "annual")
        observed = sorted(k for k in values if k[1] in regular) or sorted(k for k in values if k[1] == annual_code)
        year, period = observed[-1]
        ago = values.get((year - 1, period))
        change = values[(year, period)] - ago if ago is not None else None
        pct = float(change / ago * 100) if ago not in (None, Decimal(0)) else None
        latest[series] = (year, period, values[(year, period)], ago, change, pct)
    return {"annual": annual, "best": best, "latest": latest}


def put_survey(store, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        mirror_put(store, f"bls/{SURVEY}/{name}", body)


def d(value) -> Decimal | None:
    return None if value is None else Decimal(value).normalize()


def test_generated_survey_gold_values_equal_an_independent_computation(store, tmp_path):
    survey = generated_survey()
    put_survey(store, survey["files"])
    assert build(store, SURVEY).action == "written"
    expected = expected_tables(survey["obs"])
    annual = {(r["series_id"], r["year"]): (r["periods"], d(r["value_sum"]), d(r["value_mean"]),
                                            d(r["published_annual"]), r["complete"])
              for r in read_table(store, tables.SERIES_ANNUAL, SURVEY, tmp_path)}
    assert annual == {k: (n, d(t), d(m), d(p), c) for k, (n, t, m, p, c) in expected["annual"].items()}
    assert annual[("ZZUS0100SAF", 2020)][0] == 11 and annual[("ZZUS0100SAF", 2020)][4] is False  # M07 missing
    best = {r["series_id"]: (r["year"], d(r["value"]), r["basis"])
            for r in read_table(store, tables.SERIES_BEST_YEAR, SURVEY, tmp_path)}
    assert best == {k: (y, d(v), b) for k, (y, v, b) in expected["best"].items()}
    assert best["ZZUR0000SA0"][0] == 2019 and best["ZZA0000000A"] == (2018, Decimal("12.5"), "annual")
    latest = {r["series_id"]: (r["year"], r["period"], d(r["value"]), d(r["year_ago_value"]), d(r["change"]),
                               r["pct_change"])
              for r in read_table(store, tables.SERIES_LATEST, SURVEY, tmp_path)}
    want = {k: (y, p, d(v), d(a), d(c), pct) for k, (y, p, v, a, c, pct) in expected["latest"].items()}
    assert {k: v[:5] for k, v in latest.items()} == {k: v[:5] for k, v in want.items()}
    for series, row in latest.items():
        assert row[5] == pytest.approx(want[series][5]) if want[series][5] is not None else row[5] is None
    assert latest["ZZQ0000000Q"][5] is None  # a year ago the value was zero
    assert latest["ZZM13ONLY000"][:2] == (2021, "M13")  # annual averages only: the latest annual value


def test_generated_survey_catalog_titles_codes_and_periodicity(store, tmp_path):
    put_survey(store, generated_survey()["files"])
    build(store, SURVEY)
    catalog = {r["series_id"]: r for r in read_table(store, tables.SERIES_CATALOG, SURVEY, tmp_path)}
    assert list(catalog) == sorted(catalog)
    assert catalog["ZZUR0000SA0"]["title"] == "All items in U.S. city average, all urban consumers"
    assert catalog["ZZUS0100SAF"]["title"] == "Northeast · Food and beverages · Seasonally Adjusted"
    assert catalog["ZZQ0000000Q"]["title"] == "U.S. city average · QQQ · Not Seasonally Adjusted"  # raw code kept
    assert json.loads(catalog["ZZQ0000000Q"]["codes"])["item_code"] == {"code": "QQQ", "name": "QQQ"}
    assert json.loads(catalog["ZZUS0100SAF"]["codes"])["area_code"] == {"code": "0100", "name": "Northeast"}
    assert {k: v["periodicity"] for k, v in catalog.items()} == {
        "ZZA0000000A": "annual", "ZZM13ONLY000": "annual", "ZZNODATA0000": "semiannual",
        "ZZQ0000000Q": "quarterly", "ZZUR0000SA0": "monthly", "ZZUS0100SAF": "monthly"}
    assert (catalog["ZZUS0100SAF"]["begin_year"], catalog["ZZUS0100SAF"]["end_period"]) == (2020, "M12")
    assert all(row["title"] for row in catalog.values())


@pytest.mark.parametrize("pass_rows", [7, 40])
def test_passes_over_series_ranges_give_the_same_tables(local_store, tmp_path, pass_rows, monkeypatch):
    from chalicelib.lake import convert

    # silver in row groups of 10 rows, as a big file has row groups of 1 million
    original = convert.data_row_groups

    def small_groups(stream, source, **options):
        for frame in original(stream, source, **options):
            for start in range(0, len(frame), 10):
                yield frame.iloc[start:start + 10].reset_index(drop=True)

    monkeypatch.setattr(convert, "data_row_groups", small_groups)
    put_survey(local_store, generated_survey()["files"])
    build(local_store, SURVEY)
    one_pass = {t: read_table(local_store, t, SURVEY, tmp_path / "one") for t in tables.TABLES
                if (tmp_path / "one").mkdir(exist_ok=True) is None}
    for partition in tables.partitions(SURVEY):
        local_store.delete_many([partition.key])
    result = gold.sync_survey(local_store, SURVEY, pass_rows=pass_rows)
    assert result.passes > 1
    (tmp_path / "many").mkdir()
    for table in tables.TABLES:
        rows = read_table(local_store, table, SURVEY, tmp_path / "many")
        assert sorted(rows, key=row_key) == sorted(one_pass[table], key=row_key)


def row_key(row: dict) -> tuple:
    return row["series_id"], row.get("year")


def test_hash_passes_when_the_silver_files_have_no_statistics(local_store, tmp_path, monkeypatch):
    from chalicelib.gold import passes

    put_survey(local_store, generated_survey()["files"])
    build(local_store, SURVEY)
    before = read_table(local_store, tables.SERIES_ANNUAL, SURVEY, tmp_path)
    monkeypatch.setattr(passes, "series_bounds", lambda parquet: None)
    for partition in tables.partitions(SURVEY):
        local_store.delete_many([partition.key])
    assert gold.sync_survey(local_store, SURVEY, pass_rows=10).passes > 1
    (tmp_path / "hash").mkdir()
    after = read_table(local_store, tables.SERIES_ANNUAL, SURVEY, tmp_path / "hash")
    assert sorted(after, key=lambda r: (r["series_id"], r["year"])) == before


# --------------------------------------------------------------------------- once per change, failure, removal


def test_once_per_change_and_a_mapping_file_change_rebuilds(store, tmp_path):
    put_survey(store, generated_survey()["files"])
    assert build(store, SURVEY).action == "written"
    etags = [store.head(p.key).etag for p in tables.partitions(SURVEY)]
    assert gold.sync_survey(store, SURVEY).action == "unchanged"
    assert gold.reconcile(store)[0].action == "unchanged"
    assert [store.head(p.key).etag for p in tables.partitions(SURVEY)] == etags
    mirror_put(store, f"bls/{SURVEY}/{SURVEY}.area", b"area_code\tarea_name\r\n0100\tNew England\r\n")
    assert gold.sync_survey(store, SURVEY).action == "written"
    catalog = {r["series_id"]: r for r in read_table(store, tables.SERIES_CATALOG, SURVEY, tmp_path)}
    assert catalog["ZZUS0100SAF"]["title"] == "New England · Food and beverages · Seasonally Adjusted"
    assert catalog["ZZQ0000000Q"]["title"] == "0000 · QQQ · Not Seasonally Adjusted"


def test_a_failed_build_keeps_the_previous_partitions(store, monkeypatch):
    from chalicelib.gold import build as gold_build

    put_survey(store, generated_survey()["files"])
    build(store, SURVEY)
    before = {p.key: store.read(p.key).body for p in tables.partitions(SURVEY)}
    mirror_put(store, f"bls/{SURVEY}/{SURVEY}.item", b"item_code\titem_name\r\nSA0\tEverything\r\n")

    def broken(*args, **kwargs):
        raise GoldFailed("series ZZ: value_sum does not fit")

    monkeypatch.setattr(gold_build, "_one_pass", broken)
    with pytest.raises(GoldFailed, match="previous partitions stay"):
        gold.sync_survey(store, SURVEY)
    assert {p.key: store.read(p.key).body for p in tables.partitions(SURVEY)} == before
    assert gold.reconcile(store)[0].action == "failed"


def test_a_removed_survey_loses_its_gold(store):
    put_survey(store, generated_survey()["files"])
    build(store, SURVEY)
    store.delete_many([f"bls/{SURVEY}/{name}" for name in generated_survey()["files"]])
    reconcile(store)  # the lake removes the silver partitions
    assert [r.action for r in gold.reconcile(store)] == ["deleted"]
    for partition in tables.partitions(SURVEY):
        with pytest.raises(NotFound):
            store.head(partition.key)
    assert gold.reconcile(store) == []


def test_the_lake_handler_builds_gold_for_the_surveys_a_message_names(local_store, monkeypatch):
    from chalicelib.pipeline import events, handlers

    put_survey(local_store, generated_survey()["files"])
    reconcile(local_store)
    monkeypatch.setenv("DATA_STORE", str(local_store.root))
    from chalicelib.core.s3_events import LOCAL_BUCKET

    body = events.build_message(LOCAL_BUCKET, f"bls/{SURVEY}/{SURVEY}.item", etag="x", size=1)
    outcome = handlers.handle_lake_message(body)
    assert outcome["action"] == "skipped"  # a mapping file feeds no silver table ...
    assert [g["action"] for g in outcome["gold"]] == ["written"]  # ... but the survey's gold
    assert [g["action"] for g in handlers.handle_lake_message(body)["gold"]] == ["unchanged"]


def test_glue_partitions_follow_the_gold_partitions(s3_store):
    import boto3

    from chalicelib.lake.catalog import GlueCatalog

    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "lake"})
    for table in tables.TABLES:
        glue.create_table(DatabaseName="lake", TableInput={
            "Name": table, "PartitionKeys": [{"Name": "survey", "Type": "string"}],
            "StorageDescriptor": {"Columns": [{"Name": "series_id", "Type": "string"}],
                                  "Location": f"s3://bls-pipeline-test/mirror/gold/{table}/"}})
    catalog = GlueCatalog("lake", s3_store.bucket, s3_store.prefix, client=glue)
    put_survey(s3_store, generated_survey()["files"])
    reconcile(s3_store)
    gold.sync_survey(s3_store, SURVEY, catalog=catalog)
    for table in tables.TABLES:
        partitions = glue.get_partitions(DatabaseName="lake", TableName=table)["Partitions"]
        assert [(p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions] == [
            ([SURVEY], f"s3://bls-pipeline-test/mirror/gold/{table}/survey={SURVEY}/")]
    s3_store.delete_many([f"bls/{SURVEY}/{name}" for name in generated_survey()["files"]])
    reconcile(s3_store)
    gold.sync_survey(s3_store, SURVEY, catalog=catalog)
    assert all(glue.get_partitions(DatabaseName="lake", TableName=t)["Partitions"] == [] for t in tables.TABLES)


# --------------------------------------------------------------------------- local run, query, named queries


@pytest.fixture(scope="module")
def offline_store(tmp_path_factory):
    from chalicelib.core.settings import Settings
    from workstation.local_run import run

    root = tmp_path_factory.mktemp("gold-offline") / "data"
    settings = Settings(data_store=str(root))
    first = run(settings, offline=True)
    second = run(settings, offline=True)
    return root, first, second


def test_run_builds_gold_once_and_query_sees_the_tables(offline_store):
    from workstation.query import run_query

    root, first, second = offline_store
    assert first.ok and second.ok
    assert [(e["survey"], e["action"]) for e in first.lake if e.get("layer") == "gold"] == [("pr", "written")]
    assert second.lake == []
    counts = run_query(root, "SELECT (SELECT count(*) FROM series_catalog), (SELECT count(*) FROM series_best_year),"
                             " (SELECT count(*) FROM series_latest), (SELECT count(DISTINCT survey) FROM series_annual)")
    assert counts.rows == [(282, 282, 282, 1)]


def test_named_queries_run_on_duckdb(offline_store):
    from workstation.query import run_query

    root, _, _ = offline_store
    queries = gold_queries(series_id="PRS30006013", survey="pr", limit=5)
    history = run_query(root, queries["series_history"])
    assert history.rows[0][:4] == ("pr", "PRS30006013", "Manufacturing · All workers · Employment · Index (2017=100) "
                                   "· Seasonal Adjusted", 1947 if history.rows[0][3] == 1947 else history.rows[0][3])
    assert [r[3] for r in history.rows] == sorted(r[3] for r in history.rows)
    best = run_query(root, queries["best_years"])
    assert len(best.rows) == 282 and {r[5] for r in best.rows} <= {"sub-annual sum", "annual"}
    changes = run_query(root, queries["latest_changes"])
    assert len(changes.rows) == 5
    assert [abs(r[8]) for r in changes.rows] == sorted((abs(r[8]) for r in changes.rows), reverse=True)
    with pytest.raises(ValueError):
        gold_queries(series_id="x'; DROP TABLE y")


def test_cli_lake_builds_gold_and_then_has_nothing_to_do(offline_store, capsys):
    from workstation.cli import main

    root, _, _ = offline_store
    assert main(["lake", "--store", str(root)]) == 0
    out = capsys.readouterr().out
    assert "Gold layer: 0 survey(s) built or removed, 0 failed" in out


def test_wide_decimal_cells_read_back_exactly():
    import numpy as np

    values = [0, 1, -1, 123456789012345678, -(10**23) + 7, 10**20]
    cells = np.array([v.to_bytes(11, "big", signed=True) for v in values], dtype="S11")
    assert cell_ints(cells).tolist() == values
    small = np.array([v.to_bytes(11, "big", signed=True) for v in values[:4]], dtype="S11")
    assert cell_ints(small).dtype == np.int64 and cell_ints(small).tolist() == values[:4]
