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
    MAX_FIELD,
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
    body = b'series_id  \tbegin_year\tseries_title\r\nPRS1   \t1995\tA "quoted" title \r\n\r\nPRS2\t\tB\r\nPRS3\t2001\tC\r\n'
    chunks = list(series_chunks(io.BytesIO(body), "pr.series", chunk_rows=2))
    assert [chunk.lines for chunk in chunks] == [[2, 4], [5]]  # the blank line 3 is skipped
    first = chunks[0]
    assert first.columns == ("series_id", "begin_year", "series_title")
    assert [row[2] for row in first.rows] == ['A "quoted" title', "B"]
    assert four_digit_years(["1995", None], "begin_year", [2, 4], "s") == [1995, None]
    with pytest.raises(SourceError, match="line 4: begin_year 'x' is not a four-digit year"):
        four_digit_years(["1995", "x"], "begin_year", [2, 4], "s")
    with pytest.raises(SourceError, match="no series_id column"):
        list(series_chunks(io.BytesIO(b"id\tx\n1\t2\n"), "bad.series", chunk_rows=10))


HEADER = b"series_id\tseasonal\tseries_title\r\n"


@pytest.mark.parametrize(("body", "message"), [
    # issue 19.2: a trailing extra field on every line must not shift the columns
    (HEADER + b"S1\tS\tT\t\r\nS2\tU\tT\t\r\n", r"line 2: 4 fields, expected 3"),
    (HEADER + b"S1\tS\tT\r\nS2\tU\r\n", r"line 3: 2 fields, expected 3"),  # short rows are not padded
    (b"series_id\tseasonal\tseries_id\r\nS1\tS\tS2\r\n", r"line 1: column series_id appears twice"),
    (b"series_id\t \tseries_title\r\nS1\tS\tT\r\n", r"line 1: header cell 2 is blank"),
    (HEADER + b"\tS\tT\r\n", r"line 2: empty series_id"),
    # issue 19.1: a long field is refused, naming line and field
    (HEADER + b"S1\tS\t" + b"x" * (MAX_FIELD + 1) + b"\r\n", rf"line 2: field series_title is {MAX_FIELD + 1} bytes"),
    (HEADER + b"S1\tS\t" + b"x" * 200_000 + b"\r\n", r"line 2 is longer than 65536 bytes"),
    # issue 19.5: text is never altered
    (HEADER + b"ZZ\xff1\tS\tT\r\n", r"line 2: not UTF-8 \(byte 0xff at column 3\)"),
    (HEADER + b"S1\tS\tT\r\nZZ\x001\tS\tT\r\n", r"line 3: NUL byte at column 3"),
])
def test_series_files_are_read_strictly(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        list(series_chunks(io.BytesIO(body), "xx.series", chunk_rows=10))
