"""SQL over the silver layer: the report queries against the pandas reports, and `bls-pipeline query`.

The report SQL (`chalicelib/lake/queries/*.sql`) is the text Athena's named queries hold; here it
runs on DuckDB over the silver layer that `bls-pipeline run --offline` leaves from the real `pr`
snapshot, and must give exactly what the pandas reports computed from the same files.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from chalicelib.core.settings import Settings
from chalicelib.lake.queries import report_queries
from workstation.cli import main
from workstation.query import run_query


@pytest.fixture(scope="module")
def offline_store(tmp_path_factory):
    """A store after two offline runs of the whole pipeline on the real snapshot; (path, both results)."""
    from workstation.local_run import run

    root = tmp_path_factory.mktemp("offline") / "data"
    settings = Settings(data_store=str(root))
    first = run(settings, offline=True)
    second = run(settings, offline=True)
    return root, first, second


def test_run_leaves_a_silver_layer_and_a_second_run_converts_nothing(offline_store):
    root, first, second = offline_store
    assert first.ok and second.ok
    written = sorted(r["source"] for e in first.lake for r in e.get("results", [e]) if r["action"] == "written")
    assert written == ["bls/pr/pr.data.0.Current", "bls/pr/pr.data.1.AllData", "bls/pr/pr.series",
                       "population/population.json"]
    assert second.lake == []  # nothing changed: no message, and the catch-up pass found nothing to do
    assert run_query(root, "SELECT count(*) FROM bls_data").rows == [(38412 + 77069,)]


def test_best_year_query_equals_the_pandas_report_for_every_series(offline_store):
    root, _, _ = offline_store
    report = json.loads((root / "reports" / "best_years.json").read_text())
    result = run_query(root, report_queries(Settings())["best_years"])
    sql = [(series, year, value) for series, year, value in result.rows]
    # The report's values are floats whose shortest text is the exact decimal sum.
    pandas = [(row["series_id"], row["year"], Decimal(repr(row["value"]))) for row in report["series"]]
    assert len(sql) == len(pandas) > 200
    assert sql == pandas  # same series, same best year (ties: the earliest), same exact value


def test_best_year_query_breaks_ties_with_the_earliest_year(tmp_path):
    from chalicelib.lake.sync import sync_source
    from chalicelib.core.store import LocalStore

    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/pr.data.0.Current", (
        "series_id\tyear\tperiod\tvalue\tfootnote_codes\n"
        "PRS1\t2001\tQ01\t0.1\t\nPRS1\t2001\tQ02\t0.2\t\nPRS1\t2000\tQ01\t0.3\t\nPRS1\t2002\tQ05\t9\t\n"
    ).encode())
    sync_source(store, "bls/pr/pr.data.0.Current")
    # 0.1 + 0.2 == 0.3 exactly in DECIMAL: a tie, so 2000 wins; Q05 is not a quarter
    assert run_query(tmp_path / "data", report_queries(Settings())["best_years"]).rows == [
        ("PRS1", 2000, Decimal("0.3"))]


def test_population_query_equals_the_pandas_statistics_to_the_last_digit(offline_store):
    root, _, _ = offline_store
    report = json.loads((root / "reports" / "population_stats.json").read_text())
    result = run_query(root, report_queries(Settings())["population_stats"])
    row = dict(zip(result.columns, result.rows[0]))
    assert (row["start_year"], row["end_year"], row["years"]) == (2013, 2018, 6)
    assert (row["mean"], row["std"], row["std_population"]) == (report["mean"], report["std"], report["std_population"])


def test_series_population_query_equals_the_pandas_join(offline_store):
    root, _, _ = offline_store
    report = json.loads((root / "reports" / "series_population.json").read_text())
    result = run_query(root, report_queries(Settings())["series_population"])
    sql = [dict(zip(result.columns, row)) for row in result.rows]
    assert [(r["series_id"], r["year"], r["period"], r["value"], r["population"]) for r in sql] == [
        (r["series_id"], r["year"], r["period"], Decimal(repr(r["value"])), r["population"]) for r in report["rows"]]
    assert any(r["population"] is None for r in sql) and any(r["population"] for r in sql)


# --------------------------------------------------------------------------- bls-pipeline query


def test_query_prints_a_table_json_or_csv(offline_store, capsys):
    root, _, _ = offline_store
    sql = "SELECT survey, file, count(*) AS n FROM bls_data GROUP BY ALL ORDER BY file"
    assert main(["query", "--store", str(root), sql]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "survey  file                   n",
        "------  -----------------  -----",
        "pr      pr.data.0.Current  38412",
        "pr      pr.data.1.AllData  77069",
        "(2 rows)",
    ]
    value_sql = "SELECT series_id, \"year\", period, value FROM bls_data WHERE value = 0.5 ORDER BY ALL LIMIT 1"
    assert main(["query", "--store", str(root), "--json", value_sql]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "columns": ["series_id", "year", "period", "value"],
        "rows": [{"series_id": "PRS30006011", "year": 1994, "period": "Q01", "value": 0.5}],
    }
    assert main(["query", "--store", str(root), "--csv", value_sql]) == 0
    assert capsys.readouterr().out == "series_id,year,period,value\nPRS30006011,1994,Q01,0.5\n"


def test_bad_sql_is_a_clear_error_without_a_traceback(offline_store, capsys):
    root, _, _ = offline_store
    assert main(["query", "--store", str(root), "SELECT nope FROM bls_data"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: query failed: Binder Error: Referenced column \"nope\" not found" in captured.err
    assert "Traceback" not in captured.err


def test_tables_exist_before_anything_was_converted(tmp_path, capsys):
    for table in ("bls_data", "bls_series", "population"):
        assert run_query(tmp_path / "empty", f"SELECT count(*) FROM {table}").rows == [(0,)]
    assert main(["query", "--store", str(tmp_path / "empty"), "--json", "SELECT * FROM bls_data"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "columns": ["series_id", "year", "period", "value", "footnote_codes", "survey", "file"], "rows": []}


def test_lake_command_reconciles_and_reports_nothing_to_do_after_a_run(offline_store, capsys):
    root, _, _ = offline_store
    assert main(["lake", "--store", str(root), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert {r["source"]: r["action"] for r in document["results"]} == {
        "bls/pr/pr.data.0.Current": "unchanged", "bls/pr/pr.data.1.AllData": "unchanged",
        "bls/pr/pr.series": "unchanged", "population/population.json": "unchanged"}
