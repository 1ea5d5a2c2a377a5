"""`bls-pipeline query` runs exactly one read-only statement, as DuckDB's parser types it (docs/lake.md)."""

from __future__ import annotations

import pytest

from workstation.query import QueryError, check_statement

READ_ONLY = [
    "SELECT count(*) FROM bls_data",
    "  -- a comment first\nSELECT 1",
    "WITH best AS (SELECT 1 AS n) SELECT n FROM best",
    "VALUES (1, 'a'), (2, 'b')",
    "FROM bls_data LIMIT 1",
    "DESCRIBE bls_data",
    "SHOW TABLES",
    "SUMMARIZE population",
    "PIVOT bls_data ON period IN ('Q01', 'Q02') USING sum(value)",
    "EXPLAIN SELECT * FROM bls_data",
    "EXPLAIN ANALYZE SELECT * FROM bls_data",
    "/* plan */ EXPLAIN (FORMAT json) SELECT 1",
    "SELECT 1;",
]

REFUSED = {
    "COPY (SELECT 1) TO 'data/reports/best_years.csv'": "COPY",
    "COPY bls_data TO 'data/bls/pr/pr.series' (FORMAT csv)": "COPY",
    "EXPORT DATABASE 'data/reports'": "EXPORT",
    "ATTACH 'data/other.db' AS other": "ATTACH",
    "DETACH other": "DETACH",
    "INSTALL httpfs": "INSTALL",
    "LOAD httpfs": "LOAD",
    "SET enable_external_access = true": "SET",
    "RESET lock_configuration": "RESET",
    "SET lock_configuration = false": "SET",
    "PRAGMA enable_profiling": "PRAGMA",
    "USE memory": "USE",
    "CALL pragma_version()": "CALL",
    "CREATE TABLE t AS SELECT 1": "CREATE",
    "CREATE OR REPLACE VIEW bls_data AS SELECT 666 AS value": "CREATE",
    "INSERT INTO t VALUES (1)": "INSERT",
    "UPDATE t SET a = 1": "UPDATE",
    "DELETE FROM t": "DELETE",
    "DROP VIEW bls_data": "DROP",
    "CHECKPOINT": "CHECKPOINT",
}


@pytest.mark.parametrize("sql", READ_ONLY)
def test_one_read_only_statement_is_accepted(sql):
    assert check_statement(sql) == sql


@pytest.mark.parametrize(("sql", "word"), REFUSED.items())
def test_a_statement_that_is_not_a_query_is_refused_on_one_line(sql, word):
    with pytest.raises(QueryError) as error:
        check_statement(sql)
    message = str(error.value)
    assert message.startswith(f"refused: {word} is not a query")
    assert "\n" not in message


@pytest.mark.parametrize("sql", [
    "SELECT 1; SELECT 2",
    "SELECT 1; COPY (SELECT 1) TO 'data/reports/best_years.csv'",
    "SELECT 1; SET enable_external_access = true",
])
def test_several_statements_are_refused(sql):
    with pytest.raises(QueryError, match=r"^refused: 2 statements; `query` runs exactly one read-only statement"):
        check_statement(sql)


@pytest.mark.parametrize("sql", [
    "EXPLAIN ANALYZE COPY (SELECT 1) TO 'data/silver/forged.parquet'",  # ANALYZE runs what it explains
    "EXPLAIN COPY (SELECT 1) TO 'x.csv'",
    "explain analyze (format json) insert into t values (1)",
    "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
])
def test_explain_of_anything_but_a_query_is_refused(sql):
    with pytest.raises(QueryError, match=r"^refused: EXPLAIN of a statement that is not a query"):
        check_statement(sql)


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment"])
def test_no_statement_is_refused(sql):
    with pytest.raises(QueryError, match=r"^refused: no statements"):
        check_statement(sql)


def test_a_syntax_error_is_reported_as_a_failed_query():
    with pytest.raises(QueryError, match=r"^query failed: Parser Error"):
        check_statement("SELEC 1")
