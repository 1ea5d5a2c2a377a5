"""Write one Parquet file from a stream of pandas row groups, with fastparquet (see docs/lake.md).

fastparquet (+ cramjam for the codecs) is the writer because it fits the Lambda package
beside pandas and numpy (~13 MiB; pyarrow is ~164 MiB and does not). It writes flat
schemas only; the types used here are the ones Athena/Hive, DuckDB and pyarrow all read:
string (UTF8 BYTE_ARRAY, dictionary-encoded from pandas categoricals), int32, int64, and
exact decimals as INT64 with the DECIMAL(precision, scale) annotation — fastparquet has no
decimal writer of its own (its "decimal" is a double), so the schema element of such a
column is annotated here and the column is given as int64 already scaled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

COMPRESSION = "ZSTD"


@dataclass(frozen=True)
class Decimal:
    """An int64 column holding value * 10**scale, declared DECIMAL(precision, scale)."""

    precision: int
    scale: int


def write_parquet(out: IO[bytes], groups: Iterable[pd.DataFrame], decimals: dict[str, Decimal] | None = None) -> int:
    """Write the row groups (equal columns and dtypes) to `out` as one Parquet file; return the row count.

    The first group fixes the schema; at least one group (possibly empty) must come.
    """
    from fastparquet import writer

    groups = iter(groups)
    first = next(groups)
    metadata = writer.make_metadata(first, object_encoding="utf8")
    for name, decimal in (decimals or {}).items():
        _annotate_decimal(metadata, name, decimal)
    writer.write_simple(out, _non_empty(first, groups), metadata, compression=COMPRESSION)
    return int(metadata.num_rows)


def _non_empty(first: pd.DataFrame, rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    if len(first):
        yield first
    for group in rest:
        if len(group):
            yield group


def _annotate_decimal(metadata: object, name: str, decimal: Decimal) -> None:
    from fastparquet import parquet_thrift as thrift

    schema = metadata.schema  # type: ignore[attr-defined]
    index = next(i for i, e in enumerate(schema) if e.name == name)
    element = schema[index]
    if element.type != thrift.Type.INT64 or not 0 < decimal.precision <= 18:
        raise ValueError(f"column {name}: an int64 column and a precision of 1-18 digits are needed for DECIMAL")
    schema[index] = thrift.SchemaElement(
        name=element.name, type=element.type, repetition_type=element.repetition_type,
        converted_type=thrift.ConvertedType.DECIMAL, scale=decimal.scale, precision=decimal.precision,
        i32=True,
    )
    metadata.schema = schema  # type: ignore[attr-defined]
