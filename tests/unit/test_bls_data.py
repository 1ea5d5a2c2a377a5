"""The BLS data-file parser: padding, CRLF, bad values, missing columns, block boundaries, real files."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from chalicelib.bls.data_file import BlsDataReader
from chalicelib.bls.periods import period_code, period_name
from chalicelib.core.errors import SourceError
from support.paths import FIXTURES

PR = FIXTURES / "bls" / "pr"
REAL_FILES = [PR / "2025-09-04" / "pr.data.0.Current", PR / "2026-08-06" / "pr.data.0.Current"]
HEADER = "series_id        \tyear\tperiod\t       value\tfootnote_codes\r\n"


def rows_of(text: str | bytes, block_size: int = 1 << 20) -> tuple[BlsDataReader, list[tuple]]:
    """Parse and flatten to (series_id, year, period, exact Decimal value or None) tuples."""
    body = text.encode() if isinstance(text, str) else text
    reader = BlsDataReader(io.BytesIO(body), source="test.data", block_size=block_size)
    rows = []
    for block in reader:
        for s, y, p, v, ok in zip(block.series, block.year, block.period, block.value, block.value_ok):
            value = Decimal(int(v)).scaleb(-block.scale) if ok else None
            rows.append((reader.series_names[s], int(y), period_name(p), value))
    return reader, rows


def test_padded_header_and_fields_crlf_are_trimmed() -> None:
    # GIVEN the exact BLS layout: padded names and fields, CRLF, an empty and an "R" footnote
    text = HEADER + "PRS30006011      \t1995\tQ01\t         2.6\t\r\nPRS30006011      \t1995\tQ02\t       -0.125\tR\r\n"
    # WHEN it is parsed
    reader, rows = rows_of(text)
    # THEN names and values are trimmed and exact
    assert reader.columns == ["series_id", "year", "period", "value", "footnote_codes"]
    assert rows == [("PRS30006011", 1995, "Q01", Decimal("2.6")), ("PRS30006011", 1995, "Q02", Decimal("-0.125"))]
    assert reader.stats.rows == 2 and reader.stats.invalid_values == 0 and reader.stats.malformed_lines == 0


def test_lf_only_no_final_newline_blank_lines_and_column_order() -> None:
    # GIVEN LF endings, a different column order, a blank line and no newline at the end
    text = " value \t period\tyear \t series_id\n  7\tQ03\t2001\tS1\n\n+1.50\tQ04\t2001\tS1  "
    reader, rows = rows_of(text)
    assert rows == [("S1", 2001, "Q03", Decimal("7")), ("S1", 2001, "Q04", Decimal("1.5"))]
    assert reader.stats.malformed_lines == 0


@pytest.mark.parametrize(
    "bad", ["-", "", "   ", "1.2.3", "1 2", "12-", "abc", "1e5", "--1", ".", "1234567890123456", "NaN"]
)
def test_values_that_are_not_numbers_are_counted_not_fatal(bad: str) -> None:
    # GIVEN one good row, then a row whose value is not a plain decimal number
    text = HEADER + "S1\t2000\tQ01\t1.5\t\r\n" + f"S1\t2000\tQ02\t{bad:>12}\t\r\n" + "S1\t2000\tQ03\t2\t\r\n"
    reader, rows = rows_of(text)
    # THEN the row is kept with no value, counted, and shown with its line number
    assert [r[3] for r in rows] == [Decimal("1.5"), None, Decimal("2")]
    assert reader.stats.invalid_values == 1
    assert reader.stats.invalid_value_samples == [
        {"line": 3, "series_id": "S1", "year": 2000, "period": "Q02", "value": bad.strip()}
    ]


def test_malformed_lines_are_counted_and_skipped() -> None:
    # GIVEN a line with too few fields and one whose year is not four digits
    text = HEADER + "S1\t2000\tQ01\t1\t\r\nS1\t2000\tQ02\r\nS1\t20x0\tQ03\t3\t\r\nS1\t2000\tQ04\t4\t\r\n"
    reader, rows = rows_of(text)
    assert [r[2] for r in rows] == ["Q01", "Q04"]
    assert reader.stats.malformed_lines == 2
    assert [s["line"] for s in reader.stats.malformed_line_samples] == [3, 4]
    assert "3 fields, expected 5" in reader.stats.malformed_line_samples[0]["reason"]


@pytest.mark.parametrize("missing", ["series_id", "year", "period", "value"])
def test_missing_required_column_is_a_clear_error(missing: str) -> None:
    names = [n for n in ("series_id", "year", "period", "value", "footnote_codes") if n != missing]
    text = "\t".join(f" {n} " for n in names) + "\r\n" + "\t".join("1" for _ in names) + "\r\n"
    with pytest.raises(SourceError, match=rf"test.data: required column\(s\) {missing} missing"):
        rows_of(text)


def test_empty_file_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="empty file"):
        rows_of(b"")


def test_period_codes_round_trip() -> None:
    assert period_name(period_code(" Q05 ")) == "Q05"
    assert period_code("Q01") != period_code("Q10")


@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.parent.name)
def test_real_file_parses_exactly_like_decimal_over_csv(path: Path) -> None:
    # GIVEN a real BLS file; WHEN parsed in small blocks (many boundaries) and as one block
    expected = []
    with open(path, newline="") as stream:
        table = csv.reader(stream, delimiter="\t")
        header = [h.strip() for h in next(table)]
        assert header == ["series_id", "year", "period", "value", "footnote_codes"]
        for series_id, year, period, value, _ in table:
            expected.append((series_id.strip(), int(year), period.strip(), Decimal(value.strip())))
    body = path.read_bytes()
    _, small_blocks = rows_of(body, block_size=5000)
    reader, one_block = rows_of(body, block_size=len(body) * 2)
    # THEN every row equals the Decimal reading, value for value
    assert small_blocks == expected
    assert one_block == expected
    assert reader.stats.rows == len(expected) and reader.stats.invalid_values == 0
    assert len(reader.series_names) == len({row[0] for row in expected}) == 282


def test_block_values_are_int64_at_one_scale() -> None:
    reader = BlsDataReader(io.BytesIO((HEADER + "S\t2000\tQ01\t1\t\r\nS\t2000\tQ02\t0.25\t\r\n").encode()))
    (block,) = list(reader)
    assert block.value.dtype == np.int64 and block.scale == 2
    assert block.value.tolist() == [100, 25]


def test_an_extra_tab_in_a_fixed_layout_file_makes_only_that_line_malformed() -> None:
    # GIVEN the fixed BLS layout where one footnote contains a tab
    text = HEADER + "S1               \t2000\tQ01\t         1.0\t\r\n"
    text += "S1               \t2000\tQ02\t         2.0\tR\tX\r\n"
    text += "S1               \t2000\tQ03\t         3.0\tR\r\n"
    reader, rows = rows_of(text)
    assert [r[3] for r in rows] == [Decimal("1.0"), Decimal("3.0")]
    assert reader.stats.malformed_lines == 1
    assert reader.stats.malformed_line_samples[0]["line"] == 3


def test_lines_with_different_padding_and_padded_periods() -> None:
    # GIVEN rows whose fields are padded differently from line to line (no fixed layout)
    text = HEADER + "S1\t2000\tQ01\t1.25\t\r\n" + "  S1   \t 2000 \t Q02 \t   -3\t\r\n" + "S2\t2001\tQ05  \t.5\t\r\n"
    reader, rows = rows_of(text)
    assert rows == [
        ("S1", 2000, "Q01", Decimal("1.25")),
        ("S1", 2000, "Q02", Decimal("-3")),
        ("S2", 2001, "Q05", Decimal("0.5")),
    ]
    assert reader.series_names == ["S1", "S2"]


@pytest.mark.parametrize("workers", [1, 2])
def test_blocks_and_threads_do_not_change_results_or_line_numbers(workers: int) -> None:
    # GIVEN a real file with two values spoiled at known lines (10 and 30000)
    lines = REAL_FILES[0].read_bytes().split(b"\r\n")
    for number in (10, 30000):
        fields = lines[number - 1].split(b"\t")
        fields[3] = b"   (NA)"
        lines[number - 1] = b"\t".join(fields)
    body = b"\r\n".join(lines)
    # WHEN it is parsed in many small blocks, in one or two threads
    reader, rows = rows_of_with(body, block_size=7_000, workers=workers)
    _, reference = rows_of_with(body, block_size=len(body) + 1, workers=1)
    # THEN the rows are the same and the bad values are reported at their real line numbers
    assert rows == reference
    assert reader.stats.invalid_values == 2
    assert [s["line"] for s in reader.stats.invalid_value_samples] == [10, 30000]
    assert [s["value"] for s in reader.stats.invalid_value_samples] == ["(NA)", "(NA)"]


def rows_of_with(body: bytes, *, block_size: int, workers: int) -> tuple[BlsDataReader, list[tuple]]:
    reader = BlsDataReader(io.BytesIO(body), block_size=block_size, workers=workers)
    rows = []
    for block in reader:
        assert block.first_line >= 2
        for s, y, p, v, ok in zip(block.series, block.year, block.period, block.value, block.value_ok):
            value = int(v) * 10 ** (3 - block.scale) if ok else None
            rows.append((reader.series_names[s], int(y), period_name(p), value))
    return reader, rows
