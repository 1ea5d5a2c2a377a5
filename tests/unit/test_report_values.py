"""The reports' compute step and files as values: no store, no files, no network."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from chalicelib.bls.data_file import BlsDataReader
from chalicelib.core.errors import SourceError
from chalicelib.core.layout import BEST_YEARS_JSON_KEY, REPORT_KEYS
from chalicelib.core.settings import Settings
from chalicelib.population.update import PopulationRecord
from chalicelib.reports import run as reports
from chalicelib.reports.documents import BestYear, BestYears, SeriesPopulationRow


def test_compute_reports_from_values_alone() -> None:
    # GIVEN a population for 2013-2014 and a data file in memory (no store)
    population = [PopulationRecord(2013, 100), PopulationRecord(2014, 300)]
    body = (
        b"series_id        \tyear\tperiod\t       value\tfootnote_codes\r\n"
        b"PRS30006011      \t2014\tQ05\t           9\t\r\n"
        b"PRS30006032      \t2013\tQ01\t         1.5\t\r\n"
        b"PRS30006032      \t2013\tQ02\t           2\t\r\n"
        b"PRS30006032      \t2014\tQ01\t           4\t\r\n"
    )
    settings = Settings(report_start_year=2013, report_end_year=2014)
    opened: list[str] = []

    @contextlib.contextmanager
    def open_data():
        opened.append("data")
        yield BlsDataReader(io.BytesIO(body), source="test.data", block_size=64)

    # WHEN the reports are computed
    computed = reports.compute_reports(settings, population, open_data)
    # THEN they are the hand-computed values
    assert opened == ["data"]
    assert (computed.population_stats.mean, computed.population_stats.std) == (200.0, 2 ** 0.5 * 100)
    assert computed.best_years.series == [BestYear("PRS30006032", 2014, 4.0)]
    assert computed.best_years.no_quarterly_series == ["PRS30006011"]
    assert computed.series_population.rows == [
        SeriesPopulationRow("PRS30006032", 2013, "Q01", 1.5, 100),
        SeriesPopulationRow("PRS30006032", 2014, "Q01", 4.0, 300),
    ]
    assert computed.best_years.rows_read == 4
    # AND the files are the bytes of those values, one per report key
    files = reports.report_files(computed)
    assert list(files) == list(REPORT_KEYS)
    assert json.loads(files[BEST_YEARS_JSON_KEY]) == computed.best_years.to_dict()
    assert json.loads(files[BEST_YEARS_JSON_KEY])["series"] == [{"series_id": "PRS30006032", "year": 2014, "value": 4.0}]
    assert files["reports/series_population.csv"].decode().splitlines() == [
        "series_id,year,period,value,population",
        "PRS30006032,2013,Q01,1.5,100",
        "PRS30006032,2014,Q01,4.0,300",
    ]


def test_compute_reports_checks_the_years_before_opening_the_data_file() -> None:
    # GIVEN a population without 2014 and a data file that must not be read
    def open_data():
        pytest.fail("the data file was opened although the year range cannot be computed")

    settings = Settings(report_start_year=2013, report_end_year=2014)
    # THEN the missing year is the error
    with pytest.raises(SourceError, match=r"no value for year\(s\) 2014"):
        reports.compute_reports(settings, [PopulationRecord(2013, 1)], open_data)


@pytest.mark.parametrize("values", [[], [4.0, -0.125, 1e16, 3, 0.30000000000000004], [float("nan")]])
def test_best_years_file_is_the_json_of_the_document(values) -> None:
    # GIVEN best years with odd ids and values, and skipped-input samples after them
    rows = [BestYear(f'PR"é\\{i}\t', 2000 + i, value) for i, value in enumerate(values)]
    best = BestYears(False, rows, ["X"], 1, [{"line": 2, "series": [], "value": "-"}], 3, 9)
    # WHEN the file is written THEN it is exactly what json.dumps makes of the document
    try:
        expected = reports._json_bytes(best.to_dict())
    except ValueError:
        with pytest.raises(ValueError):
            reports._best_years_json(best)
        return
    assert reports._best_years_json(best) == expected
