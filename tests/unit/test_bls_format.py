"""The BLS format helpers as values: periods, exact decimals, small tab-separated files."""

from __future__ import annotations

import io

import numpy as np
import pytest

from chalicelib.bls.decimals import decimal_number, decimal_text, exact_floats
from chalicelib.bls.mappings import mapping
from chalicelib.bls.periods import (
    ANNUAL,
    PERIOD_KINDS,
    QUARTERS,
    period_code,
    period_name,
)
from chalicelib.bls.series_file import (
    check_series_ids,
    four_digit_years,
    read_table,
    series_chunks,
)
from chalicelib.core.errors import SourceError


def test_period_kinds_and_their_annual_codes() -> None:
    assert (QUARTERS, ANNUAL) == (("Q01", "Q02", "Q03", "Q04"), "Q05")
    assert {k: kind.annual for k, kind in PERIOD_KINDS.items()} == {"M": "M13", "Q": "Q05", "S": "S03", "A": "A01"}
    assert len(PERIOD_KINDS["M"].periods) == 12 and PERIOD_KINDS["S"].periods == ("S01", "S02")
    assert period_name(period_code(" Q05 ")) == "Q05"


def test_exact_floats_are_the_decimals_shortest_text() -> None:
    scaled = np.array([57, -1200, 3, 10**15 - 1, 2**53 + 1], dtype=np.int64)
    floats = exact_floats(scaled, 1)
    assert floats == [decimal_number(int(v), 1) for v in scaled]
    assert [repr(f) for f in floats[:3]] == ["5.7", "-120.0", "0.3"]
    assert decimal_text(-0, 3) == "0" and decimal_text(1250, 3) == "1.25"


def test_small_tables_and_mapping_files() -> None:
    body = b"sector_code\tsector_text\tdisplay_level\r\n3000  \tManufacturing \t0\r\n\r\n9999\t\t1\r\n"
    assert read_table(body) == (["sector_code", "sector_text", "display_level"],
                                [["3000", "Manufacturing", "0"], ["9999", "", "1"]])
    assert mapping(body) == {"3000": "Manufacturing"}
    assert read_table(b"") == ([], [])


def test_series_file_chunks_are_trimmed_text_with_their_lines() -> None:
    body = b'series_id  \tbegin_year\tseries_title\r\nPRS1   \t1995\tA "quoted" title \r\nPRS2\t\tB\r\nPRS3\t2001\tC\r\n'
    chunks = list(series_chunks(io.BytesIO(body), "pr.series", chunk_rows=2))
    assert [line for _, line in chunks] == [1, 3]
    first = chunks[0][0]
    assert list(first.columns) == ["series_id", "begin_year", "series_title"]
    assert first["series_title"].tolist() == ['A "quoted" title', "B"]
    assert four_digit_years(first["begin_year"].where(first["begin_year"] != "", None), "s", 1).tolist()[0] == 1995
    with pytest.raises(SourceError, match="line 3: begin_year 'x' is not a four-digit year"):
        four_digit_years(first["begin_year"].replace("", "x"), "s", 1)
    with pytest.raises(SourceError, match="line 2: empty series_id"):
        check_series_ids(first["series_id"].where(first["series_id"] == "", None), "s", 1)
    with pytest.raises(SourceError, match="no series_id column"):
        list(series_chunks(io.BytesIO(b"id\tx\n1\t2\n"), "bad.series", chunk_rows=10))
