"""`bls-pipeline query "SQL"`: DuckDB over the local store's silver and gold layers (see docs/lake.md, docs/gold.md).

The tables are views with the names and columns of the Athena tables (`chalicelib.lake.tables`,
`chalicelib.gold.tables`): `bls_data`, `bls_series`, `population`, and the gold tables
`series_catalog`, `series_annual`, `series_best_year`, `series_latest`, partition columns included. A table whose files are
not there yet is an empty view of the right shape, so a query never fails for that reason.
A bad query raises `QueryError` with DuckDB's one-line message (no traceback).

The tool only reads: exactly one read-only statement is run (its type, as DuckDB's own parser
sees it, is SELECT — which covers WITH, VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE, PIVOT
with an IN list — or EXPLAIN [ANALYZE] of such a statement); anything else is refused before
it runs. Once the views exist the connection is locked down: files may be read only under the
store's `silver/` and `gold/` folders, no extension is installed or loaded, and the
configuration is locked so no statement can undo this.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from chalicelib.core.errors import ConfigError, PipelineError
from chalicelib.core.layout import GOLD_PREFIX, SILVER_PREFIX
from chalicelib.gold import tables as gold_tables
from chalicelib.lake import revisions, tables
from chalicelib.lake.queries import PUBLISHED_REVISIONS, as_of_query, published_revisions_query

_DUCKDB_TYPES = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT"}
MAX_TABLE_ROWS = 1000  # rows shown by the readable table (JSON and CSV give them all)
READABLE_PREFIXES = (SILVER_PREFIX, GOLD_PREFIX)  # the only folders a query may read files from
FILL_HINT = "run `bls-pipeline run` (or `bls-pipeline lake` on a store that already holds the mirror) first"


class QueryError(PipelineError):
    """The SQL could not be run (syntax, unknown column, ...), or was refused (not one read-only statement)."""


@dataclass
class QueryResult:
    """Column names and rows (Python values; DECIMAL columns as `decimal.Decimal`)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    notes: list[str] = field(default_factory=list)  # what an --as-of answer could not know

    def to_dict(self) -> dict[str, Any]:
        document = {"columns": self.columns,
                    "rows": [dict(zip(self.columns, map(_json_value, row))) for row in self.rows]}
        if self.notes:
            document["notes"] = list(self.notes)
        return document


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is in requirements-dev.txt
        raise ConfigError("`query` needs DuckDB: pip install -r requirements-dev.txt") from None
    return duckdb


def check_store(store_root: str | Path) -> Path:
    """The store folder, absolute; ConfigError/QueryError saying what is missing and how to fill it."""
    if str(store_root).startswith("s3://"):
        raise ConfigError("`query` reads a local store folder; in AWS use Athena (see docs/lake.md)")
    root = Path(store_root).absolute()
    if not root.is_dir():
        raise ConfigError(f"the store folder {root} does not exist: check --store / DATA_STORE, or {FILL_HINT}")
    if not (root / SILVER_PREFIX).is_dir():
        raise QueryError(f"{root} has no silver layer ({SILVER_PREFIX} is missing): {FILL_HINT}")
    return root


def check_statement(sql: str) -> str:
    """`sql` if it is exactly one read-only statement; QueryError (one line) otherwise.

    The decision is DuckDB's parser's: the statement type must be SELECT, or EXPLAIN of a SELECT
    (EXPLAIN ANALYZE runs its statement, so what it explains is checked the same way).
    """
    duckdb = _duckdb()
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as error:
        raise QueryError(f"query failed: {str(error).strip()}") from None
    if len(statements) != 1:
        raise QueryError(f"refused: {len(statements) or 'no'} statements; {_ONLY_READS}")
    statement = statements[0]
    kind = statement.type
    if kind == duckdb.StatementType.EXPLAIN:
        explained = _explained(duckdb, statement.query)
        if explained is None or explained.type != duckdb.StatementType.SELECT:
            raise QueryError(f"refused: EXPLAIN of a statement that is not a query; {_ONLY_READS}")
    elif kind != duckdb.StatementType.SELECT:
        raise QueryError(f"refused: {_first_word(duckdb, sql)} is not a query ({kind.name} statement); {_ONLY_READS}")
    return sql


_ONLY_READS = ("`query` runs exactly one read-only statement "
                "(SELECT, WITH, VALUES, DESCRIBE, SHOW, SUMMARIZE, or EXPLAIN [ANALYZE] of one of them)")


def _first_word(duckdb: Any, text: str) -> str:
    starts = [start for start, kind in duckdb.tokenize(text) if kind != duckdb.token_type.comment]
    return text[starts[0]:].split(None, 1)[0].upper() if starts else "?"


def _explained(duckdb: Any, text: str) -> Any:
    """The statement an `EXPLAIN [ANALYZE] [(options)] statement` explains, parsed; None if not one statement."""
    starts = [start for start, kind in duckdb.tokenize(text) if kind != duckdb.token_type.comment]
    words = [text[start:end].strip() for start, end in zip(starts, starts[1:] + [len(text)])]
    position = 1 if words and words[0].lower() == "explain" else len(words)
    if position < len(words) and words[position].lower() == "analyze":
        position += 1
    if position < len(words) and words[position] == "(":  # EXPLAIN (FORMAT json) ...
        depth = 0
        while position < len(words):
            depth += {"(": 1, ")": -1}.get(words[position], 0)
            position += 1
            if depth == 0:
                break
    if position >= len(words):
        return None
    try:
        inner = duckdb.extract_statements(text[starts[position]:])
    except duckdb.Error:
        return None
    return inner[0] if len(inner) == 1 else None


@contextlib.contextmanager
def connect(store_root: str | Path, as_of: str | None = None) -> Iterator[Any]:
    """An in-memory, locked-down DuckDB connection with the silver tables of the local store as views.

    After the views are created: files readable only under the store's `silver/` and `gold/`
    (`allowed_directories` + `enable_external_access=false`), DuckDB's temporary files in a
    private folder (removed on exit), no extension installed or loaded automatically, then
    `lock_configuration=true`, so that no statement can change any of it.
    With `as_of` (SQL timestamp text, UTC), `bls_data` is the data as published then
    (`chalicelib.lake.queries.as_of_query` over `bls_data_current` and `bls_revisions`). Always a view
    `bls_revisions_published`: the revision rows whose partition is written (docs/lake.md).
    """
    duckdb = _duckdb()
    root = check_store(store_root)
    with tempfile.TemporaryDirectory(prefix="bls-pipeline-duckdb-") as spill:  # created 0700
        connection = duckdb.connect(config={"temp_directory": spill})
        try:
            for view in _views():
                name = f"{view.name}_current" if as_of and view.name == tables.BLS_DATA else view.name
                connection.execute(f"CREATE VIEW {name} AS {_view_sql(root, view)}")
            data = f"{tables.BLS_DATA}_current" if as_of else tables.BLS_DATA
            published = published_revisions_query(data=data, revisions=tables.BLS_REVISIONS)
            connection.execute(f"CREATE VIEW {PUBLISHED_REVISIONS} AS {published}")
            if as_of:
                query = as_of_query(as_of, data=data, revisions=tables.BLS_REVISIONS)
                connection.execute(f"CREATE VIEW {tables.BLS_DATA} AS {query}")
            allowed = [str(root / prefix) + "/" for prefix in READABLE_PREFIXES]
            connection.execute("SET allowed_directories = " + _list_literal(allowed))
            for setting in ("enable_external_access", "autoinstall_known_extensions", "autoload_known_extensions"):
                connection.execute(f"SET {setting} = false")
            connection.execute("SET lock_configuration = true")
            yield connection
        finally:
            connection.close()


def _list_literal(values: list[str]) -> str:
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


@dataclass(frozen=True)
class _View:
    """A table as a view: its folder, columns and partition columns (silver or gold)."""

    name: str
    prefix: str
    columns: tuple[tuple[str, str], ...]
    keys: tuple[str, ...]
    part_name: str = tables.PART_NAME  # bls_revisions: one object per release, `*.parquet`


def _views() -> list[_View]:
    """The silver tables (`chalicelib.lake.tables`) and the gold tables (`chalicelib.gold.tables`)."""
    return [_View(t, tables.table_prefix(t), tables.COLUMNS[t], tables.PARTITION_KEYS[t],
                  "*.parquet" if t == tables.BLS_REVISIONS else tables.PART_NAME) for t in tables.TABLES] + [
        _View(t, gold_tables.table_prefix(t), gold_tables.COLUMNS[t], gold_tables.PARTITION_KEYS[t])
        for t in gold_tables.TABLES]


def _view_sql(root: Path, view: _View) -> str:
    folder = root / view.prefix
    depth = len(view.keys)
    pattern = folder.joinpath(*(["*"] * depth), view.part_name)
    columns = ", ".join(f'"{name}"' for name, _ in view.columns)
    keys = ", ".join(f'"{key}"' for key in view.keys)
    if any(folder.glob("/".join(["*"] * depth + [view.part_name]))):
        literal = str(pattern).replace("'", "''")
        types = ", ".join(f"'{key}': VARCHAR" for key in view.keys)
        options = f", hive_partitioning = true, hive_types = {{{types}}}" if depth else ""
        options += ", union_by_name = true"  # partitions written before a column was added read it as NULL
        return f"SELECT {columns}{', ' + keys if keys else ''} FROM read_parquet('{literal}'{options})"
    typed = [f'CAST(NULL AS {_duckdb_type(kind)}) AS "{name}"' for name, kind in view.columns]
    typed += [f'CAST(NULL AS VARCHAR) AS "{key}"' for key in view.keys]
    return f"SELECT {', '.join(typed)} WHERE false"


def _duckdb_type(hive_type: str) -> str:
    return _DUCKDB_TYPES.get(hive_type, hive_type.upper())


def run_query(store_root: str | Path, sql: str, *, as_of: str | None = None) -> QueryResult:
    """Run one read-only SQL statement over the silver views; QueryError for a bad or refused statement.

    `as_of` (`YYYY-MM-DD`: the end of that day, UTC; or `YYYY-MM-DDTHH:MM:SSZ`): `bls_data` answers with
    the values as published then (docs/lake.md, "As of a date"); `notes` name the files whose first
    recorded release is later (their oldest recorded version is shown) or that have none.
    """
    duckdb = _duckdb()
    check_statement(sql)
    moment, timestamp = None, None
    if as_of is not None:
        try:
            moment, timestamp = revisions.as_of_bound(as_of)
        except ValueError as error:
            raise ConfigError(str(error)) from None
    with connect(store_root, timestamp) as connection:
        try:
            relation = connection.sql(sql)
            if relation is None:
                return QueryResult([], [])
            result = QueryResult(list(relation.columns), relation.fetchall())
        except duckdb.Error as error:
            raise QueryError(f"query failed: {str(error).strip()}") from None
    if moment is not None:
        result.notes = as_of_notes(check_store(store_root), moment)
    return result


def as_of_notes(root: Path, moment: datetime) -> list[str]:
    """Files of bls_data whose values at `moment` are not fully known: first release recorded later, or none."""
    first: dict[tuple[str, str], str] = {}
    for path in (root / tables.table_prefix(tables.BLS_REVISIONS)).glob("survey=*/file=*/release=*/*.parquet"):
        parsed = revisions.parse_key(path.relative_to(root).as_posix())
        if parsed is not None:
            key = (parsed[0], parsed[1])
            first[key] = min(first.get(key, parsed[2]), parsed[2])
    notes = []
    for path in sorted((root / tables.table_prefix(tables.BLS_DATA)).glob(f"survey=*/file=*/{tables.PART_NAME}")):
        survey, file = (part.split("=", 1)[1] for part in path.parent.relative_to(path.parents[2]).parts)
        release = first.get((survey, file))
        if release is None:
            notes.append(f"{survey}/{file}: no release recorded; its current values are shown")
        elif revisions.release_time(release) > moment:
            notes.append(f"{survey}/{file}: the first release recorded is {revisions.release_time(release):%Y-%m-%dT%H:%M:%SZ},"
                         f" after the date asked; its oldest recorded version is shown")
    return notes


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
