"""A survey's series file (`<survey>.series`) and other BLS tab-separated files: a header line,
CRLF, cells padded with spaces, quotes that are text (never quoted fields); columns differ by
survey, `series_id` is always there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from chalicelib.core.errors import SourceError

if TYPE_CHECKING:
    import pandas as pd


def read_table(body: bytes) -> tuple[list[str], list[list[str]]]:
    """Header (lower-cased) and rows of a small BLS tab-separated file (CRLF, space padding stripped)."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    if not lines:
        return [], []
    header = [name.strip().lower() for name in lines[0].split("\t")]
    return header, [[cell.strip() for cell in line.split("\t")] for line in lines[1:] if line.strip()]


def series_chunks(stream: IO[bytes], source: str, *, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, int]]:
    """The series file as chunks of trimmed text (all columns), each with the line number before its
    first row; at least one (maybe empty) chunk; SourceError if unreadable or without `series_id`."""
    import pandas as pd

    try:
        chunks = pd.read_csv(stream, sep="\t", dtype=str, keep_default_na=False, na_filter=False,
                             quoting=3,  # csv.QUOTE_NONE: quotes are text
                             chunksize=chunk_rows, encoding="utf-8", encoding_errors="replace")
        header_line = 1
        produced = False
        for chunk in chunks:
            yield _trimmed(chunk, source), header_line
            produced = True
            header_line += len(chunk)
    except (ValueError, pd.errors.ParserError) as error:
        raise SourceError(f"{source}: {error}") from None
    if not produced:
        yield _trimmed(pd.DataFrame({"series_id": []}, dtype=object), source), 1


def _trimmed(chunk: pd.DataFrame, source: str) -> pd.DataFrame:
    chunk.columns = [str(c).strip() for c in chunk.columns]
    if "series_id" not in chunk.columns:
        raise SourceError(f"{source}: no series_id column in the header {list(chunk.columns)}")
    trimmed: pd.DataFrame = chunk.apply(lambda column: column.str.strip())
    return trimmed


def check_series_ids(series_ids: pd.Series, source: str, header_line: int) -> None:
    """SourceError naming the first line whose series_id is empty (null)."""
    blank = series_ids.isna()
    if blank.any():
        line = header_line + 1 + int(blank.to_numpy().nonzero()[0][0])
        raise SourceError(f"{source}: line {line}: empty series_id")


def four_digit_years(column: pd.Series, source: str, header_line: int) -> pd.Series:
    """Four-digit years as nullable int32; anything else is a SourceError naming its line."""
    import pandas as pd

    bad = column.notna() & ~column.fillna("").str.fullmatch(r"\d{4}")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise SourceError(f"{source}: line {header_line + 1 + row}: {column.name} {column.iloc[row]!r} "
                          "is not a four-digit year")
    return pd.to_numeric(column, errors="raise").astype("Int32")
