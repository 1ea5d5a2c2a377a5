"""The three reports: hand-made inputs with hand-computed answers, the real pr files, the store, the CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import statistics
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.bls.data_file import BlsDataReader
from chalicelib.core.errors import PipelineError, SourceError
from chalicelib.core.layout import BEST_YEARS_JSON_KEY, REPORT_KEYS, SERIES_POPULATION_JSON_KEY, SUMMARY_KEY
from chalicelib.core.settings import Settings
from chalicelib.core.store import LocalStore
from chalicelib.population.update import PopulationRecord
from chalicelib.reports import run as reports
from chalicelib.reports.definitions import population_stats
from chalicelib.reports.documents import BestYear
from chalicelib.reports.run import run_reports
from chalicelib.reports.scan import DataScan, scan_data
from chalicelib.reports.stored import read_stored_reports
from chalicelib.web.series_source import series_population_for
from support.paths import FIXTURES, REPO
from workstation.cli import main

PR = FIXTURES / "bls" / "pr"
CURRENT = {v: PR / v / "pr.data.0.Current" for v in ("2025-09-04", "2026-08-06")}
QUARTERS = ("Q01", "Q02", "Q03", "Q04")
TESSERACT = FIXTURES / "datausa" / "population_acs1_nation_newapi_tejalk14_2025-10.json"
RETIRED = FIXTURES / "datausa" / "population_acs5_nation_oldapi_ashwinsahay_2025-05.json"
HEADER = "series_id        \tyear\tperiod\t       value\tfootnote_codes\r\n"


def bls(rows: list[tuple[str, int, str, str]]) -> bytes:
    """A file in the exact BLS layout (padded, CRLF) from (series, year, period, value) rows."""
    lines = [f"{s:<17}\t{y}\t{p}\t{v:>12}\t\r\n" for s, y, p, v in rows]
    return (HEADER + "".join(lines)).encode()


def scan(body: bytes, **options) -> DataScan:
    return scan_data(BlsDataReader(io.BytesIO(body), source="test.data", block_size=64), **options)


# ---------------------------------------------------------------------- 1. population statistics


def test_population_stats_by_hand() -> None:
    # GIVEN populations 10, 20, 30 for 2013-2015 (and a year outside the range)
    records = [PopulationRecord(2012, 999), PopulationRecord(2013, 10), PopulationRecord(2014, 20)]
    records.append(PopulationRecord(2015, 30))
    stats = population_stats(records, 2013, 2015).to_dict()
    # THEN mean 20, sample std sqrt(200/2) = 10, population std sqrt(200/3)
    assert stats["years"] == [2013, 2014, 2015]
    assert stats["mean"] == 20.0
    assert stats["std"] == 10.0
    assert stats["std_population"] == pytest.approx((200 / 3) ** 0.5, rel=1e-15)
    assert stats["population"] == [
        {"year": 2013, "population": 10},
        {"year": 2014, "population": 20},
        {"year": 2015, "population": 30},
    ]


def test_population_stats_missing_years_are_named() -> None:
    records = [PopulationRecord(y, 1) for y in (2013, 2014, 2016, 2019)]
    with pytest.raises(SourceError, match=r"no value for year\(s\) 2015, 2017, 2018 of the range 2013–2018"):
        population_stats(records, 2013, 2018)


@pytest.mark.parametrize("fixture", [TESSERACT, RETIRED], ids=["tesseract", "retired"])
def test_population_stats_real_responses(fixture: Path) -> None:
    # GIVEN a real DataUSA response; the expected numbers come from the statistics module
    from chalicelib.population.update import parse_population

    rows = json.loads(fixture.read_bytes())["data"]
    by_year = {int(r["Year"]): int(r["Population"]) for r in rows}
    values = [by_year[y] for y in range(2013, 2019)]
    stats = population_stats(parse_population(fixture.read_bytes()), 2013, 2018).to_dict()
    assert stats["years"] == [2013, 2014, 2015, 2016, 2017, 2018]
    assert stats["mean"] == pytest.approx(statistics.mean(values), rel=1e-15)
    assert stats["std"] == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert stats["std_population"] == pytest.approx(statistics.pstdev(values), rel=1e-12)
    assert stats["std"] > stats["std_population"]


# ---------------------------------------------------------------------- 2. best year per series

HAND_MADE = bls(
    [
        # TIE: 2000 sums 1+1+1+1 = 4, 2001 sums 2+2+0+0 = 4 -> earliest, 2000
        *[("TIE", 2000, f"Q0{q}", "1") for q in range(1, 5)],
        ("TIE", 2001, "Q01", "2"), ("TIE", 2001, "Q02", "2"), ("TIE", 2001, "Q03", "0"), ("TIE", 2001, "Q04", "0"),
        # FLOAT: 2000 = 0.3; 2001 = 0.1 + 0.2 = 0.3 exactly (0.30000000000000004 in floats) -> 2000
        ("FLOAT", 2000, "Q01", "0.3"), ("FLOAT", 2001, "Q01", "0.1"), ("FLOAT", 2001, "Q02", "0.2"),
        # ANNUAL: only Q05 rows -> no quarterly rows
        ("ANNUAL", 2000, "Q05", "50.0"), ("ANNUAL", 2001, "Q05", "60.0"),
        # BAD: 2000 has a non-numeric value (skipped, counted) -> 2001 wins with 5
        ("BAD", 2000, "Q01", "-"), ("BAD", 2000, "Q02", "1"), ("BAD", 2001, "Q01", "5"),
        # Q05: quarters 2000 = 4, 2001 = 4.5; with the annual average 2000 = 4 + 10 = 14, 2001 = 4.5 + 1 = 5.5
        *[("Q5", 2000, f"Q0{q}", "1") for q in range(1, 5)], ("Q5", 2000, "Q05", "10"),
        ("Q5", 2001, "Q01", "4.5"), ("Q5", 2001, "Q05", "1"),
        # NEG: all negative; the largest sum is the least negative: 2002 = -0.125
        ("NEG", 2001, "Q01", "-1.5"), ("NEG", 2002, "Q01", "-0.125"), ("NEG", 2003, "Q04", "-0.126"),
    ]
)


def test_best_years_by_hand() -> None:
    result = scan(HAND_MADE)
    assert result.best_years == [
        BestYear("BAD", 2001, 5.0),
        BestYear("FLOAT", 2000, 0.3),
        BestYear("NEG", 2002, -0.125),
        BestYear("Q5", 2001, 4.5),
        BestYear("TIE", 2000, 4.0),
    ]
    assert result.no_quarterly_series == ["ANNUAL"]
    assert result.stats.invalid_values == 1
    assert result.stats.invalid_value_samples[0]["series_id"] == "BAD"


def test_best_years_include_annual() -> None:
    result = scan(HAND_MADE, include_annual=True)
    best = {row.series_id: (row.year, row.value) for row in result.best_years}
    assert best["Q5"] == (2000, 14.0)
    assert best["ANNUAL"] == (2001, 60.0)
    assert result.no_quarterly_series == []


def test_a_series_whose_quarterly_values_are_all_invalid_is_listed() -> None:
    result = scan(bls([("X", 2000, "Q01", "n/a"), ("Y", 2000, "Q02", "1")]))
    assert result.best_years == [BestYear("Y", 2000, 1.0)]
    assert result.no_quarterly_series == ["X"]


def expected_best_years(path: Path, periods: tuple[str, ...]) -> tuple[list[BestYear], list[str]]:
    """The definition, computed the simple way: csv rows, Decimal sums, max by (sum, -year)."""
    sums: dict[str, dict[int, Decimal]] = {}
    seen: set[str] = set()
    with open(path, newline="") as stream:
        table = csv.reader(stream, delimiter="\t")
        next(table)
        for series_id, year, period, value, _ in table:
            series_id = series_id.strip()
            seen.add(series_id)
            if period.strip() in periods:
                by_year = sums.setdefault(series_id, {})
                by_year[int(year)] = by_year.get(int(year), Decimal(0)) + Decimal(value.strip())
    best = []
    for series_id in sorted(sums):
        year, total = max(sums[series_id].items(), key=lambda item: (item[1], -item[0]))
        best.append(BestYear(series_id, year, float(total)))
    return best, sorted(seen - set(sums))


@pytest.mark.parametrize("vintage", sorted(CURRENT))
@pytest.mark.parametrize("include_annual", [False, True])
def test_best_years_real_files_match_decimal_computation(vintage: str, include_annual: bool) -> None:
    path = CURRENT[vintage]
    periods = ("Q01", "Q02", "Q03", "Q04") + (("Q05",) if include_annual else ())
    best, no_quarterly = expected_best_years(path, periods)
    with open(path, "rb") as stream:
        result = scan_data(BlsDataReader(stream, block_size=100_000), include_annual=include_annual)
    assert result.best_years == best
    assert result.no_quarterly_series == no_quarterly
    assert len(best) + len(no_quarterly) == 282
    if not include_annual:
        assert len(no_quarterly) == 45  # the annual-only series of pr (Q05 rows only)


# ---------------------------------------------------------------------- 3. series x population


def expected_series_population(path: Path, series_id: str, period: str, population: Path) -> list[dict]:
    people = {int(r["Year"]): int(r["Population"]) for r in json.loads(population.read_bytes())["data"]}
    rows = []
    with open(path, newline="") as stream:
        table = csv.reader(stream, delimiter="\t")
        next(table)
        for s, year, p, value, _ in table:
            if s.strip() == series_id and p.strip() == period:
                rows.append({"series_id": series_id, "year": int(year), "period": period,
                             "value": float(Decimal(value.strip())), "population": people.get(int(year))})
    return sorted(rows, key=lambda r: r["year"])


def put_inputs(store, data: Path = CURRENT["2025-09-04"], population: Path = TESSERACT) -> None:
    body = data.read_bytes()
    store.put("bls/pr/pr.data.0.Current", body, metadata={"sha256": hashlib.sha256(body).hexdigest()})
    store.put("population/population.json", population.read_bytes(), content_type="application/json")


def test_series_population_for_real_data(store) -> None:
    put_inputs(store)
    rows = [row.to_dict() for row in series_population_for(store, Settings(), "prs30006032 ", "q01")]
    expected = expected_series_population(CURRENT["2025-09-04"], "PRS30006032", "Q01", TESSERACT)
    assert rows == expected
    by_year = {row["year"]: row["population"] for row in rows}
    assert by_year[1995] is None and by_year[2020] is None  # not in the population data
    assert by_year[2013] == 316128839
    assert {r["year"] for r in rows} == set(range(1995, 2026))


# ---------------------------------------------------------------------- run_reports + store


def test_run_reports_writes_the_reports_once_and_deterministically(store, monkeypatch: pytest.MonkeyPatch) -> None:
    logged: list[tuple[str, dict]] = []
    monkeypatch.setattr(reports, "log_event", lambda event, **fields: logged.append((event, fields)))
    put_inputs(store)
    settings = Settings()
    # WHEN the reports run for the first time
    first = run_reports(settings, store)
    # THEN every report and the summary are written, in the documented shapes
    assert first.ok and first.written == [*REPORT_KEYS, SUMMARY_KEY]
    stats = json.loads(store.read("reports/population_stats.json").body)
    assert list(stats) == ["start_year", "end_year", "years", "mean", "std", "std_population", "population"]
    assert stats["years"] == list(range(2013, 2019))
    best = json.loads(store.read("reports/best_years.json").body)
    assert best["include_annual"] is False and best["invalid_values"] == 0
    assert best["series"] == [row.to_dict() for row in expected_best_years(CURRENT["2025-09-04"], QUARTERS)[0]]
    assert len(best["no_quarterly_series"]) == 45
    joined = json.loads(store.read("reports/series_population.json").body)
    assert joined["series_id"] == "PRS30006032" and joined["period"] == "Q01"
    assert joined["rows"] == expected_series_population(CURRENT["2025-09-04"], "PRS30006032", "Q01", TESSERACT)
    csv_rows = list(csv.DictReader(io.StringIO(store.read("reports/series_population.csv").body.decode())))
    assert csv_rows[0] == {
        "series_id": "PRS30006032", "year": "1995", "period": "Q01", "value": "0.0", "population": ""
    }
    assert [r for r in csv_rows if r["year"] == "2013"][0]["population"] == "316128839"
    best_csv = store.read("reports/best_years.csv").body.decode().splitlines()
    assert best_csv[0] == "series_id,year,value" and len(best_csv) == 1 + len(best["series"])
    summary = json.loads(store.read(SUMMARY_KEY).body)
    data_head = store.head("bls/pr/pr.data.0.Current")
    assert summary["inputs"][0] == {
        "key": "bls/pr/pr.data.0.Current", "etag": data_head.etag,
        "sha256": "787d23e97197cdb36ce3756dbbe1762c038f5a9e68c4b8e84ca2cd302d3baddf", "size": 1564284,
    }
    assert summary["inputs"][1]["key"] == "population/population.json"
    assert summary["reports"] == list(REPORT_KEYS) and summary["generated_at"].endswith("Z")
    # AND one structured log line per report
    produced = [fields for event, fields in logged if event == "report_produced"]
    assert [f["report"] for f in produced] == ["population_stats", "best_years", "series_population"]
    assert produced[0]["mean"] == stats["mean"] and produced[0]["std_population"] == stats["std_population"]
    assert produced[1]["rows"] == len(best["series"]) and produced[1]["first_rows"] == best["series"][:5]
    assert produced[2]["rows"] == len(joined["rows"]) and produced[2]["first_rows"] == joined["rows"][:5]

    # WHEN the same inputs come again (a duplicate event) THEN nothing is written
    bodies = {key: store.read(key).body for key in REPORT_KEYS}
    scan_data_function = reports.scan_data
    monkeypatch.setattr(reports, "scan_data", lambda *a, **k: pytest.fail("the data file was read again"))
    again = run_reports(settings, store)
    monkeypatch.setattr(reports, "scan_data", scan_data_function)
    assert again.written == [] and again.unchanged is True
    assert ("reports_unchanged", {"inputs": [item.to_dict() for item in first.inputs], "options": json.loads(
        store.read(SUMMARY_KEY).body)["options"]}) in logged
    assert again.to_dict()["best_years"] == first.to_dict()["best_years"]

    # WHEN the summary is lost, the recomputed files are byte-identical
    store.delete_many([SUMMARY_KEY])
    assert run_reports(settings, store).written == [*REPORT_KEYS, SUMMARY_KEY]
    assert {key: store.read(key).body for key in REPORT_KEYS} == bodies

    # WHEN the data file changes, the reports are rewritten from the new input
    put_inputs(store, data=CURRENT["2026-08-06"])
    changed = run_reports(settings, store)
    assert changed.written == [*REPORT_KEYS, SUMMARY_KEY]
    assert json.loads(store.read(SUMMARY_KEY).body)["inputs"][0]["size"] == 1613575
    assert json.loads(store.read("reports/best_years.json").body)["series"] == [
        row.to_dict() for row in expected_best_years(CURRENT["2026-08-06"], QUARTERS)[0]]


def test_changed_options_rewrite_the_reports(local_store: LocalStore) -> None:
    # GIVEN reports computed without the annual averages
    put_inputs(local_store)
    assert run_reports(Settings(), local_store).written
    # WHEN the same inputs are analysed with --include-annual, then with another series
    with_annual = run_reports(Settings(), local_store, include_annual=True)
    other_series = run_reports(Settings(report_series_id="PRS30006011"), local_store, include_annual=True)
    # THEN both runs write (the options are part of what "unchanged" means)
    assert BEST_YEARS_JSON_KEY in with_annual.written and SERIES_POPULATION_JSON_KEY in other_series.written
    assert json.loads(local_store.read(BEST_YEARS_JSON_KEY).body)["include_annual"] is True
    assert json.loads(local_store.read(SUMMARY_KEY).body)["options"] == {
        "start_year": 2013, "end_year": 2018, "series_id": "PRS30006011", "period": "Q01", "include_annual": True
    }
    assert run_reports(Settings(report_series_id="PRS30006011"), local_store, include_annual=True).written == []


def test_run_reports_without_inputs_says_what_to_run(local_store: LocalStore) -> None:
    with pytest.raises(PipelineError, match="bls/pr/pr.data.0.Current.*bls-pipeline mirror"):
        run_reports(Settings(), local_store)
    local_store.put("bls/pr/pr.data.0.Current", CURRENT["2025-09-04"].read_bytes())
    with pytest.raises(PipelineError, match="population/population.json.*bls-pipeline population"):
        run_reports(Settings(), local_store)
    assert list(local_store.list("reports/")) == []


def test_missing_required_column_in_the_stored_file_fails_cleanly(local_store: LocalStore) -> None:
    put_inputs(local_store)
    local_store.put("bls/pr/pr.data.0.Current", b"series_id\tyear\tperiod\r\nX\t2000\tQ01\r\n")
    with pytest.raises(SourceError, match="bls/pr/pr.data.0.Current: required column\\(s\\) value missing"):
        run_reports(Settings(), local_store)
    assert list(local_store.list("reports/")) == []


# ---------------------------------------------------------------------- CLI


def test_cli_json_prints_one_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_inputs(LocalStore(tmp_path / "data"))
    status = main(
        ["analyze", "--store", str(tmp_path / "data"), "--json", "--series", "PRS30006011", "--years", "2014-2016"]
    )
    out = capsys.readouterr().out
    assert status == 0
    document = json.loads(out)
    assert list(document)[:3] == ["population_stats", "best_years", "series_population"]
    assert list(document["population_stats"]) == ["start_year", "end_year", "years", "mean", "std", "std_population"]
    assert document["population_stats"]["years"] == [2014, 2015, 2016]
    assert set(document["best_years"][0]) == {"series_id", "year", "value"}
    assert document["series_population"][0] == {
        "series_id": "PRS30006011", "year": 1995, "period": "Q01", "value": 2.6, "population": None}
    assert document["written"] == [*REPORT_KEYS, SUMMARY_KEY]


def test_cli_text_shows_tables_and_include_annual(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_inputs(LocalStore(tmp_path / "data"))
    status = main(["analyze", "--store", str(tmp_path / "data"), "--include-annual"])
    out = capsys.readouterr().out
    assert status == 0
    assert "Population statistics, 2013–2018" in out
    assert "std (sample, ddof=1)" in out and "std (population, ddof=0)" in out
    assert "Best year per series (largest sum of Q01–Q05 (incl. annual average)" in out
    assert "Series × population: PRS30006032 Q01 (31 years)" in out
    assert re.search(r"\n  PRS30006032  2013  Q01 +-?[0-9.]+  316,128,839\n", out)
    assert re.search(r"\n  PRS30006032  2020  Q01 +-?[0-9.]+\n", out)  # no population for 2020
    best = json.loads((tmp_path / "data" / "reports" / "best_years.json").read_text())
    assert best["include_annual"] is True and best["no_quarterly_series"] == []


def test_cli_missing_years_exit_1_naming_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_inputs(LocalStore(tmp_path / "data"))
    status = main(["analyze", "--store", str(tmp_path / "data"), "--years", "2018-2021"])
    captured = capsys.readouterr()
    assert status == 1
    assert "year(s) 2020 of the range 2018–2021" in captured.err


# ---------------------------------------------------------------------- lazy pandas


def test_importing_the_package_paths_does_not_import_pandas() -> None:
    code = (
        "import sys, workstation.cli, chalicelib.reports.run, chalicelib.bls.data_file, chalicelib.web.series_source, chalicelib.population.update, app\n"
        "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_stored_reports_are_parsed_back_into_the_typed_reports(store, tmp_path) -> None:
    # GIVEN the reports computed once
    put_inputs(store)
    first = run_reports(Settings(), store)
    # WHEN they are read back from the store
    stored = read_stored_reports(store)
    # THEN they are the same typed reports
    assert (stored.population_stats, stored.best_years, stored.series_population) == (
        first.population_stats, first.best_years, first.series_population)
    assert not stored.empty and stored.unreadable == ()
    # WHEN one of them is damaged THEN it is named as unreadable, the others still read
    store.put(BEST_YEARS_JSON_KEY, b'{"series": "not a list"}')
    damaged = read_stored_reports(store)
    assert damaged.best_years is None and damaged.unreadable == (BEST_YEARS_JSON_KEY,)
    assert damaged.population_stats == first.population_stats
    assert damaged.to_dict()["best_years"] == {"error": "reports/best_years.json is not valid JSON"}
    # AND an empty store has none
    empty = read_stored_reports(LocalStore(tmp_path / "empty"))
    assert empty.empty and empty.to_dict() is None
