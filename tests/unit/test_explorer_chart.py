"""The explorer's chart geometry and exact-decimal formatting (pure functions)."""

from __future__ import annotations

from chalicelib.gold import tables
from chalicelib.gold.read import BestYear, Observation, query_words
from chalicelib.web.explorer_chart import charted, explorer_chart
from chalicelib.web.format import format_decimal


def obs(year: int, period: str, value: str) -> Observation:
    return Observation(year, period, value, None)


def test_monthly_values_are_charted_without_the_annual_average_and_broken_at_a_gap():
    observations = [obs(2020, f"M{m:02d}", str(m)) for m in range(1, 13) if m != 5] + [obs(2020, "M13", "6.5")]
    chart = explorer_chart("XXU1", observations, BestYear(2020, "73", "sub-annual sum"))
    assert chart is not None and chart.kind == "monthly" and chart.count == 11
    assert [len(line.split()) for line in chart.lines] == [4, 7]
    assert chart.best is not None and chart.best.year == 2020 and float(chart.best.width) > 0


def test_annual_only_series_prefer_a01_and_nothing_to_chart_is_none():
    kind, chosen = charted([obs(2019, "A01", "1"), obs(2020, "A01", "2")])
    assert kind == "annual" and [o.year for _, o in chosen] == [2019, 2020]
    assert explorer_chart("XXU1", [], None) is None


def test_format_decimal_keeps_every_digit():
    assert format_decimal("1234567.000125") == "1,234,567.000125"
    assert format_decimal("-1200.5") == "-1,200.5"
    assert format_decimal("3", signed=True) == "+3" and format_decimal("0", signed=True) == "0"
    assert format_decimal(None) == "—"


def test_query_words_and_partition_keys():
    assert query_words("u.s. City-average (SA)") == ["U", "S", "CITY", "AVERAGE", "SA"]
    key = tables.partition_key(tables.SERIES_CATALOG, "cu")
    assert key == "gold/series_catalog/survey=cu/data.parquet"
    assert tables.survey_of_key(tables.SERIES_CATALOG, key) == "cu"
    assert tables.survey_of_key(tables.SERIES_LATEST, key) is None
