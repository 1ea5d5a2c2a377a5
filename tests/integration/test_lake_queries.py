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
    written = sorted(r["source"] for e in first.lake if e.get("layer") != "gold"  # gold: tests/integration/test_gold.py
                     for r in e.get("results", [e]) if r["action"] == "written")
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
    from chalicelib.core.store import LocalStore
    from chalicelib.lake.sync import sync_source

    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/pr.data.0.Current", (
        b"series_id\tyear\tperiod\tvalue\tfootnote_codes\n"
        b"PRS1\t2001\tQ01\t0.1\t\nPRS1\t2001\tQ02\t0.2\t\nPRS1\t2000\tQ01\t0.3\t\nPRS1\t2002\tQ05\t9\t\n"
    ))
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
    (tmp_path / "empty" / "silver").mkdir(parents=True)  # a silver layer with no table in it yet
    for table in ("bls_data", "bls_series", "population"):
        assert run_query(tmp_path / "empty", f"SELECT count(*) FROM {table}").rows == [(0,)]
    assert main(["query", "--store", str(tmp_path / "empty"), "--json", "SELECT * FROM bls_data"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "columns": ["series_id", "year", "period", "value", "footnote_codes", "vintage", "survey", "file"], "rows": []}


def test_query_on_a_store_folder_that_does_not_exist_says_so_and_how_to_fill_it(tmp_path, capsys):
    missing = tmp_path / "no-such-store"
    assert main(["query", "--store", str(missing), "SELECT count(*) FROM bls_data"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert f"the store folder {missing} does not exist" in line and "`bls-pipeline run`" in line
    assert not missing.exists()  # the query created nothing


def test_query_on_a_store_without_a_silver_layer_says_so_and_how_to_fill_it(tmp_path, capsys):
    store = tmp_path / "data"
    (store / "bls" / "pr").mkdir(parents=True)  # a mirror, never converted
    assert main(["query", "--store", str(store), "SELECT count(*) FROM bls_data"]) == 1
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "has no silver layer (silver/ is missing)" in line
    assert "`bls-pipeline run`" in line and "`bls-pipeline lake`" in line
    assert sorted(p.name for p in store.iterdir()) == ["bls"]


# --------------------------------------------------------------------------- the query tool only reads


@pytest.fixture
def attacked_store(tmp_path):
    """A small store: a mirrored data file converted to silver, and a stored report."""
    from chalicelib.core.store import LocalStore
    from chalicelib.lake.sync import sync_source

    store = LocalStore(tmp_path / "data")
    store.put("bls/pr/pr.data.0.Current", (
        b"series_id\tyear\tperiod\tvalue\tfootnote_codes\n"
        b"PRS1\t2001\tQ01\t0.1\t\nPRS1\t2001\tQ02\t0.2\t\n"))
    store.put("reports/best_years.csv", b"series_id,year,value\nPRS1,2001,0.3\n")
    sync_source(store, "bls/pr/pr.data.0.Current")
    root = tmp_path / "data"
    files = {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}
    return root, files


def _refused(capsys, root, sql):
    status = main(["query", "--store", str(root), sql])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert status == 1 and captured.out == "" and len(errors) == 1, captured
    return errors[0]


def _unchanged(root, files):
    assert {path: path.read_bytes() for path in root.rglob("*") if path.is_file()} == files


def test_copy_cannot_forge_a_report(attacked_store, capsys):
    root, files = attacked_store
    line = _refused(capsys, root, f"COPY (SELECT 'PRS1' AS series_id, 1999 AS year, 666 AS value) "
                                  f"TO '{root}/reports/best_years.csv' (HEADER)")
    assert line.startswith("error: refused: COPY is not a query")
    _unchanged(root, files)


def test_copy_cannot_overwrite_a_mirrored_file(attacked_store, capsys):
    root, files = attacked_store
    line = _refused(capsys, root, f"COPY (SELECT 'forged') TO '{root}/bls/pr/pr.data.0.Current' (FORMAT csv)")
    assert line.startswith("error: refused: COPY is not a query")
    _unchanged(root, files)


def test_explain_analyze_cannot_write_into_silver(attacked_store, capsys):
    root, files = attacked_store
    line = _refused(capsys, root, f"EXPLAIN ANALYZE COPY (SELECT 666 AS value) TO '{root}/silver/forged.parquet'")
    assert line.startswith("error: refused: EXPLAIN of a statement that is not a query")
    _unchanged(root, files)


@pytest.mark.parametrize("reader", ["read_csv('/etc/passwd')", "read_text('/etc/passwd')",
                                    "read_csv('{root}/silver/../reports/best_years.csv')",
                                    "read_csv('{root}/reports/best_years.csv')", "glob('{root}/*')"])
def test_files_outside_silver_cannot_be_read(attacked_store, capsys, reader):
    root, files = attacked_store
    line = _refused(capsys, root, "SELECT * FROM " + reader.format(root=root))
    assert "Permission Error" in line and "disabled by configuration" in line
    _unchanged(root, files)


def test_attach_is_refused(attacked_store, capsys):
    root, files = attacked_store
    line = _refused(capsys, root, f"ATTACH '{root}/reports/forged.db' AS forged")
    assert line.startswith("error: refused: ATTACH is not a query")
    _unchanged(root, files)


def test_two_statements_are_refused_and_neither_runs(attacked_store, capsys):
    root, files = attacked_store
    line = _refused(capsys, root, f"SELECT 1; COPY (SELECT 666) TO '{root}/reports/best_years.csv'")
    assert line.startswith("error: refused: 2 statements")
    _unchanged(root, files)


def test_install_is_refused_without_a_network_attempt(attacked_store, capsys, monkeypatch):
    # Today's DuckDB would download the extension itself (C++, not Python's sockets): what keeps it off
    # the network is the refusal before any connection exists, and autoinstall/external access off behind it.
    import socket

    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network used")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    root, files = attacked_store
    for sql in ("INSTALL httpfs", "LOAD httpfs", "SELECT * FROM read_parquet('https://example.com/x.parquet')"):
        line = _refused(capsys, root, sql)
        assert "refused" in line or "Permission Error" in line
    assert attempts == []
    _unchanged(root, files)


@pytest.mark.parametrize("sql", ["SET enable_external_access = true", "SET lock_configuration = false",
                                 "RESET enable_external_access", "PRAGMA enable_external_access",
                                 "SET allowed_directories = ['/']", "SET autoinstall_known_extensions = true"])
def test_set_and_pragma_cannot_unlock(attacked_store, capsys, sql):
    root, files = attacked_store
    assert _refused(capsys, root, sql).startswith("error: refused:")
    _unchanged(root, files)


def test_the_connection_itself_is_locked_down(attacked_store):
    # Behind the statement check, DuckDB's own settings: even a statement that got through could not
    # write outside silver/, read outside silver/ and gold/, load an extension or change a setting.
    import duckdb

    from workstation.query import connect

    root, files = attacked_store
    with connect(root) as connection:
        assert connection.sql("SELECT count(*) FROM bls_data").fetchall() == [(2,)]
        for sql in (f"COPY (SELECT 666) TO '{root}/reports/best_years.csv'",
                    "SELECT * FROM read_csv('/etc/passwd')", "LOAD httpfs", "INSTALL httpfs",
                    "SET enable_external_access = true", "SET lock_configuration = false",
                    f"ATTACH '{root}/forged.db'"):
            with pytest.raises(duckdb.Error, match="disabled|locked"):
                connection.execute(sql)
        settings = dict(connection.sql(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'autoinstall_known_extensions', 'autoload_known_extensions', 'lock_configuration')").fetchall())
        assert settings == {"enable_external_access": "false", "autoinstall_known_extensions": "false",
                            "autoload_known_extensions": "false", "lock_configuration": "true"}
    _unchanged(root, files)


@pytest.mark.parametrize("sql", ["WITH v AS (SELECT value FROM bls_data) SELECT sum(value) FROM v",
                                 "DESCRIBE bls_data", "SHOW TABLES", "EXPLAIN ANALYZE SELECT * FROM bls_data",
                                 "VALUES (1)", "SUMMARIZE bls_data",
                                 "SELECT count(*) FROM read_parquet('{root}/silver/*/*/*/*.parquet')"])
def test_read_only_statements_still_run(attacked_store, sql):
    root, files = attacked_store
    assert run_query(root, sql.format(root=root)).rows
    _unchanged(root, files)


def test_lake_command_reconciles_and_reports_nothing_to_do_after_a_run(offline_store, capsys):
    root, _, _ = offline_store
    assert main(["lake", "--store", str(root), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert {r["source"]: r["action"] for r in document["results"]} == {
        "bls/pr/pr.data.0.Current": "unchanged", "bls/pr/pr.data.1.AllData": "unchanged",
        "bls/pr/pr.series": "unchanged", "population/population.json": "unchanged"}


def test_the_documented_sql_examples_run(offline_store, capsys):
    import re
    import shlex

    from tests.support.paths import REPO

    doc = (REPO / "docs" / "lake.md").read_text()
    block = doc.split("## SQL", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [shlex.split(c) for c in re.findall(r'^bls-pipeline query ".*?"(?: --\w+)?$', block, re.MULTILINE | re.DOTALL)]
    assert len(commands) == 3
    root, _, _ = offline_store
    for argv in commands:
        assert main([*argv[1:], "--store", str(root)]) == 0, capsys.readouterr().err
        assert capsys.readouterr().out.strip()
