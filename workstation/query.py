"""`bls-pipeline query "SQL"`: DuckDB over the local store's silver layer (see docs/lake.md).

The tables are views with the names and columns of the Athena tables (`chalicelib.lake.tables`):
`bls_data`, `bls_series`, `population`, partition columns included. A table whose files are
not there yet is an empty view of the right shape, so a query never fails for that reason.
A bad query raises `QueryError` with DuckDB's one-line message (no traceback).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.core.errors import ConfigError, PipelineError
from chalicelib.lake import tables

_DUCKDB_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT"}
MAX_TABLE_ROWS = 1000  # rows shown by the readable table (JSON and CSV give them all)


class QueryError(PipelineError):
    """The SQL could not be run (syntax, unknown column, ...)."""


@dataclass
class QueryResult:
    """Column names and rows (Python values; DECIMAL columns as `decimal.Decimal`)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": [dict(zip(self.columns, map(_json_value, row))) for row in self.rows]}


def connect(store_root: str | Path) -> Any:
    """An in-memory DuckDB connection with the silver tables of the local store at `store_root` as views."""
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is in requirements-dev.txt
        raise ConfigError("`query` needs DuckDB: pip install -r requirements-dev.txt") from None
    root = Path(store_root)
    if str(store_root).startswith("s3://"):
        raise ConfigError("`query` reads a local store; in AWS use Athena (see docs/lake.md)")
    connection = duckdb.connect()
    for table in tables.TABLES:
        connection.execute(f"CREATE VIEW {table} AS {_view_sql(root, table)}")
    return connection


def _view_sql(root: Path, table: str) -> str:
    folder = root / tables.table_prefix(table)
    depth = len(tables.PARTITION_KEYS[table])
    pattern = folder.joinpath(*(["*"] * depth), tables.PART_NAME)
    columns = ", ".join(f'"{name}"' for name, _ in tables.COLUMNS[table])
    keys = ", ".join(f'"{key}"' for key in tables.PARTITION_KEYS[table])
    if any(folder.glob("/".join(["*"] * depth + [tables.PART_NAME]))):
        literal = str(pattern).replace("'", "''")
        types = ", ".join(f"'{key}': VARCHAR" for key in tables.PARTITION_KEYS[table])
        options = f", hive_partitioning = true, hive_types = {{{types}}}" if depth else ""
        return f"SELECT {columns}{', ' + keys if keys else ''} FROM read_parquet('{literal}'{options})"
    typed = [f'CAST(NULL AS {_duckdb_type(kind)}) AS "{name}"' for name, kind in tables.COLUMNS[table]]
    typed += [f'CAST(NULL AS VARCHAR) AS "{key}"' for key in tables.PARTITION_KEYS[table]]
    return f"SELECT {', '.join(typed)} WHERE false"


def _duckdb_type(hive_type: str) -> str:
    return _DUCKDB_TYPES.get(hive_type, hive_type.upper())


def run_query(store_root: str | Path, sql: str) -> QueryResult:
    """Run one SQL statement over the silver views; QueryError for a bad statement."""
    import duckdb

    connection = connect(store_root)
    try:
        relation = connection.sql(sql)
        if relation is None:
            return QueryResult([], [])
        return QueryResult(list(relation.columns), relation.fetchall())
    except duckdb.Error as error:
        raise QueryError(f"query failed: {str(error).strip()}") from None
    finally:
        connection.close()


def render_table(result: QueryResult) -> str:
    """A readable, aligned table (at most MAX_TABLE_ROWS rows) with the row count."""
    shown = result.rows[:MAX_TABLE_ROWS]
    cells = [[_text(v) for v in row] for row in shown]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]
    numeric = [any(row[i] is not None for row in shown)
               and all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in shown)
               for i in range(len(result.columns))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(result.columns), "  ".join("-" * w for w in widths)] + [line(row) for row in cells]
    more = f", first {MAX_TABLE_ROWS} shown (use --csv or --json for all)" if len(result.rows) > len(shown) else ""
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''}{more})")
    return "\n".join(out)


def render_csv(result: QueryResult) -> str:
    """CSV with a header line; NULL is an empty field, decimals exactly as stored."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([["" if v is None else _text(v) for v in row] for row in result.rows])
    return buffer.getvalue().rstrip("\n")


def render_json(result: QueryResult) -> str:
    """One JSON document: {"columns": [...], "rows": [{column: value}, ...]} (decimals as exact numbers)."""
    return json.dumps(result.to_dict(), indent=2, default=str)


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return _decimal_text(value)
    return str(value)


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        text = _decimal_text(value)
        # Up to 15 significant digits a JSON number reads back as exactly this decimal; beyond, text.
        return json.loads(text) if len(value.normalize().as_tuple().digits) <= 15 else text
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)
