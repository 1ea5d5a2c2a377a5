"""A survey's series file (`<survey>.series`) and other BLS tab-separated files: a header line,
CRLF, cells padded with spaces, quotes that are text (never quoted fields); columns differ by
survey, `series_id` is always there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from chalicelib.core.errors import SourceError


def read_table(body: bytes) -> tuple[list[str], list[list[str]]]:
    """Header (lower-cased) and rows of a small BLS tab-separated file (CRLF, space padding stripped)."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    if not lines:
        return [], []
    header = [name.strip().lower() for name in lines[0].split("\t")]
    return header, [[cell.strip() for cell in line.split("\t")] for line in lines[1:] if line.strip()]


MAX_FIELD = 4096  # bytes of one cell: as in data files (`data_file.MAX_FIELD`)
MAX_LINE = 64 * 1024  # bytes of one line: a series line is well under 1 KiB
REQUIRED_COLUMNS = ("series_id",)


@dataclass(frozen=True)
class SeriesChunk:
    """Consecutive lines of a series file: the header's columns, each line's trimmed cells, its line number."""

    columns: tuple[str, ...]
    rows: list[list[str]]
    lines: list[int]


def series_chunks(stream: IO[bytes], source: str, *, chunk_rows: int) -> Iterator[SeriesChunk]:
    """The series file in chunks of at most `chunk_rows` lines (at least one chunk, maybe empty).

    Strict like the data files: the header's cells are non-empty and unique and hold `series_id`;
    every line has exactly the header's number of fields, is UTF-8 without NUL bytes, at most
    MAX_LINE bytes with cells of at most MAX_FIELD bytes, and has a series_id. Anything else is
    a SourceError naming the line (and field): nothing is guessed, shifted or padded. Blank
    lines are skipped; CRLF or LF; cells are trimmed; quotes are text.
    """
    header = _line(stream, source, 1)
    if header is None or not header.strip():
        raise SourceError(f"{source}: empty file (no header line); expected a series_id column")
    columns = tuple(cell.strip() for cell in _text(header, source, 1).removeprefix("\ufeff").split("\t"))
    for position, name in enumerate(columns, 1):
        if not name:
            raise SourceError(f"{source}: line 1: header cell {position} is blank in {list(columns)}")
    lowered = [name.lower() for name in columns]
    for name in lowered:
        if lowered.count(name) > 1:
            raise SourceError(f"{source}: line 1: column {name} appears twice in the header {list(columns)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in lowered]
    if missing:
        raise SourceError(f"{source}: no {', '.join(missing)} column in the header {list(columns)}")
    id_position = lowered.index("series_id")
    rows: list[list[str]] = []
    lines: list[int] = []
    number = 1
    produced = False
    while (raw := _line(stream, source, number + 1)) is not None:
        number += 1
        if not raw.strip():
            continue
        cells = _text(raw, source, number).split("\t")
        if len(cells) != len(columns):
            raise SourceError(f"{source}: line {number}: {len(cells)} fields, expected {len(columns)} "
                              f"(the header's): {raw[:200]!r}")
        for name, cell in zip(columns, cells):
            if len(cell) > MAX_FIELD and len(cell.encode("utf-8")) > MAX_FIELD:
                raise SourceError(f"{source}: line {number}: field {name} is {len(cell.encode('utf-8'))} bytes "
                                  f"long; at most {MAX_FIELD}")
        cells = [cell.strip() for cell in cells]
        if not cells[id_position]:
            raise SourceError(f"{source}: line {number}: empty series_id")
        rows.append(cells)
        lines.append(number)
        if len(rows) >= chunk_rows:
            yield SeriesChunk(columns, rows, lines)
            produced, rows, lines = True, [], []
    if rows or not produced:
        yield SeriesChunk(columns, rows, lines)


def _line(stream: IO[bytes], source: str, number: int) -> bytes | None:
    """The next line without its line end; None at the end; SourceError if longer than MAX_LINE."""
    raw = stream.readline(MAX_LINE + 2)
    if not raw:
        return None
    if not raw.endswith(b"\n") and len(raw) > MAX_LINE:
        raise SourceError(f"{source}: line {number} is longer than {MAX_LINE} bytes: not a BLS series file")
    return raw.rstrip(b"\n").removesuffix(b"\r")


def _text(raw: bytes, source: str, number: int) -> str:
    if b"\0" in raw:
        raise SourceError(f"{source}: line {number}: NUL byte at column {raw.index(b'\0') + 1}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(f"{source}: line {number}: not UTF-8 (byte {raw[error.start]:#04x} at column "
                          f"{error.start + 1})") from None


def four_digit_years(cells: list[str | None], name: str, lines: list[int], source: str) -> list[int | None]:
    """Four-digit years (None where blank); anything else is a SourceError naming its line."""
    years: list[int | None] = []
    for cell, line in zip(cells, lines):
        if cell is None:
            years.append(None)
        elif len(cell) == 4 and cell.isascii() and cell.isdigit():
            years.append(int(cell))
        else:
            raise SourceError(f"{source}: line {line}: {name} {cell!r} is not a four-digit year")
    return years
