"""BLS series ids and periods: one parser each, one hint each (settings and the web use them)."""

from __future__ import annotations

import pytest

from chalicelib.core.series_ids import PERIOD_HINT, SERIES_ID_HINT, InvalidCode, parse_period, parse_series_id


@pytest.mark.parametrize(("value", "expected"), [("PRS30006032", "PRS30006032"), (" prs85006092 ", "PRS85006092"),
                                                 ("CUUR0000SA0", "CUUR0000SA0"), ("ab1", "AB1")])
def test_series_ids_are_stripped_and_upper_cased(value, expected):
    assert parse_series_id(value) == expected


@pytest.mark.parametrize("value", ["", "12", "P", "PRS-3000", "1PRS", "A" * 31, "PRS3000\n6032"])
def test_what_is_not_a_series_id_is_explained_with_the_hint(value):
    with pytest.raises(InvalidCode) as error:
        parse_series_id(value)
    assert error.value.message.endswith("is not a BLS series id")
    assert error.value.hint == SERIES_ID_HINT
    assert str(error.value) == f"{error.value.message}; {SERIES_ID_HINT}"


@pytest.mark.parametrize("value", ["M01", "m13", "Q01", " q05 ", "S03", "A01"])
def test_periods_are_months_quarters_halves_or_the_year(value):
    assert parse_period(value) == value.strip().upper()


@pytest.mark.parametrize("value", ["M00", "M14", "Q06", "Q9", "S04", "A02", "Quarter1", ""])
def test_what_is_not_a_period_is_explained_with_the_hint(value):
    with pytest.raises(InvalidCode) as error:
        parse_period(value)
    assert error.value.message == f"{value.strip().upper()[:20]!r} is not a BLS period"
    assert error.value.hint == PERIOD_HINT


def test_a_long_value_is_shortened_in_the_message():
    with pytest.raises(InvalidCode) as error:
        parse_series_id("X" * 500 + "-")
    assert len(error.value.message) < 80
