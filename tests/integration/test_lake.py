"""The silver layer: typed Parquet of BLS data/series files and the population (chalicelib.lake).

Silver files are read back with DuckDB (an independent Parquet reader) and compared, value by
value, with the source text parsed here by plain string splitting and `decimal.Decimal`.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from chalicelib.core import s3_events
from chalicelib.core.errors import NotFound
from chalicelib.lake import tables
from chalicelib.lake.messages import changed_keys, handle_lake_message
from chalicelib.lake.sync import LakeFailed, LakeFailure, reconcile, sync_source
from chalicelib.pipeline import events
from support.paths import FIXTURES

PR = FIXTURES / "bls" / "pr" / "2026-08-06"
DATA_KEY = "bls/pr/pr.data.0.Current"
DATA_PARTITION = "silver/bls_data/survey=pr/file=pr.data.0.Current/data.parquet"

SMALL = (
    b"series_id        \tyear\tperiod\t       value\tfootnote_codes\r\n"
    b"XXS0001          \t2020\tQ01\t         0.5\t\r\n"
    b"XXS0001          \t2020\tQ02\t       -1.25\tR\r\n"
    b"XXS0001          \t2021\tM13\t    123456.7\t P \r\n"
    b"XXS0002          \t1999\tQ05\t           0\t\r\n"
)


def mirror_put(store, key: str, body: bytes) -> str:
    """Store `body` as the mirror does: with its SHA-256 in the object metadata."""
    return store.put(key, body, metadata={"sha256": hashlib.sha256(body).hexdigest()}, content_type="text/plain")


def read_silver(store, key: str, tmp_path: Path, columns: str = "*") -> tuple[list[str], list[tuple]]:
    """Columns and rows of a silver object, read with DuckDB from a copy of its bytes."""
    path = tmp_path / f"read-{hashlib.md5(key.encode()).hexdigest()}.parquet"
    path.write_bytes(store.read(key).body)
    relation = duckdb.sql(f"SELECT {columns} FROM read_parquet('{path}')")
    return list(relation.columns), relation.fetchall()


def tsv_rows(body: bytes) -> list[tuple]:
    """The reference: every data line split on tabs, trimmed, value as an exact Decimal."""
    lines = body.decode().replace("\r\n", "\n").strip("\n").split("\n")
    rows = []
    for line in lines[1:]:
        series, year, period, value, footnote = (field.strip() for field in line.split("\t"))
        rows.append((series, int(year), period, Decimal(value), footnote or None))
    return rows


# --------------------------------------------------------------------------- bls_data


@pytest.mark.parametrize("name", ["pr.data.0.Current", "pr.data.1.AllData"])
def test_real_data_file_reads_back_value_for_value(store, tmp_path, name):
    # GIVEN a real BLS data file in the mirror
    body = (PR / name).read_bytes()
    mirror_put(store, f"bls/pr/{name}", body)
    # WHEN its partition is synced
    result = sync_source(store, f"bls/pr/{name}")
    # THEN every row of the silver file equals the source line, exactly, in order
    columns, rows = read_silver(store, result.partition, tmp_path)
    assert result.action == "written" and result.partition == f"silver/bls_data/survey=pr/file={name}/data.parquet"
    assert columns == ["series_id", "year", "period", "value", "footnote_codes", "vintage"]
    assert [row[:5] for row in rows] == tsv_rows(body)
    assert len({row[5] for row in rows}) == 1 and rows[0][5] is not None  # the version's vintage, in every row
    assert result.rows == len(rows) > 30_000


def test_values_are_exact_decimals_and_texts_trimmed(store, tmp_path):
    # GIVEN a data file with a half, a negative, an annual average and padded footnotes
    mirror_put(store, "bls/xx/xx.data.0.Current", SMALL)
    sync_source(store, "bls/xx/xx.data.0.Current")
    key = "silver/bls_data/survey=xx/file=xx.data.0.Current/data.parquet"
    # THEN the value column is DECIMAL(24,6): 0.5 is exactly 0.5, never a binary float
    _, types = read_silver(store, key, tmp_path, "typeof(value), typeof(year), typeof(series_id)")
    assert set(types) == {("DECIMAL(24,6)", "INTEGER", "VARCHAR")}
    _, rows = read_silver(store, key, tmp_path, "value = 0.5, value::VARCHAR, footnote_codes")
    assert rows == [(True, "0.500000", None), (False, "-1.250000", "R"), (False, "123456.700000", "P"),
                    (False, "0.000000", None)]


def test_big_file_is_written_in_several_row_groups_with_the_same_rows(local_store, tmp_path):
    # GIVEN the converter with tiny parser blocks and row groups (the streaming path of big files)
    from chalicelib.lake.convert import DATA_DECIMALS, data_row_groups
    from chalicelib.lake.parquet import write_parquet

    body = (PR / "pr.data.1.AllData").read_bytes()
    out = tmp_path / "small-groups.parquet"
    # WHEN it converts the file
    with open(PR / "pr.data.1.AllData", "rb") as stream, open(out, "wb") as sink:
        rows = write_parquet(sink, data_row_groups(stream, "test", row_group_rows=5_000, block_size=64 * 1024),
                             DATA_DECIMALS)
    # THEN the file has many row groups and still every row, in order
    groups = duckdb.sql(f"SELECT count(DISTINCT row_group_id) FROM parquet_metadata('{out}')").fetchall()[0][0]
    assert groups >= 10
    assert rows == len(tsv_rows(body))
    assert duckdb.sql(f"SELECT * EXCLUDE (vintage) FROM read_parquet('{out}')").fetchall() == tsv_rows(body)


def test_same_source_sha256_writes_nothing_and_a_change_writes_once(store):
    # GIVEN a converted data file
    mirror_put(store, "bls/xx/xx.data.0.Current", SMALL)
    first = sync_source(store, "bls/xx/xx.data.0.Current")
    etag = store.head(first.partition).etag
    # WHEN the same source is synced again (duplicate event, second run)
    again = sync_source(store, "bls/xx/xx.data.0.Current")
    # THEN nothing is written
    assert again.action == "unchanged" and store.head(first.partition).etag == etag
    # AND a changed source is converted again, recording the new SHA-256
    changed = SMALL.replace(b"0.5\t", b"0.6\t")
    mirror_put(store, "bls/xx/xx.data.0.Current", changed)
    assert sync_source(store, "bls/xx/xx.data.0.Current").action == "written"
    assert store.head(first.partition).metadata["source-version"] == "sha256:" + hashlib.sha256(changed).hexdigest()


def test_a_file_that_fails_to_parse_keeps_the_old_partition_and_names_the_lines(store):
    # GIVEN a converted data file
    mirror_put(store, "bls/xx/xx.data.0.Current", SMALL)
    partition = sync_source(store, "bls/xx/xx.data.0.Current").partition
    before = store.read(partition).body
    # WHEN the source is replaced by one with a broken line 3 and a non-number on line 5
    broken = SMALL.replace(b"\t2020\tQ02\t", b"\t2020\tQ02\textra\t").replace(b"           0\t", b"         n/a\t")
    mirror_put(store, "bls/xx/xx.data.0.Current", broken)
    with pytest.raises(LakeFailed) as failure:
        sync_source(store, "bls/xx/xx.data.0.Current")
    # THEN the error names the lines, and the previous partition is untouched
    message = str(failure.value)
    assert "line 3:" in message and "6 fields, expected 5" in message
    assert store.read(partition).body == before


def test_too_many_decimals_is_an_error_not_a_rounding(local_store):
    mirror_put(local_store, "bls/xx/xx.data.0.Current", SMALL.replace(b"    123456.7", b"  1.23456789"))
    with pytest.raises(LakeFailed, match=r"line 4: value '1.23456789' has 8 decimals; the silver layer keeps at most 6"):
        sync_source(local_store, "bls/xx/xx.data.0.Current")
    assert not local_store.exists("silver/bls_data/survey=xx/file=xx.data.0.Current/data.parquet")
    # AND a reconcile pass reports it as a failure (typed), without raising
    (failure,) = reconcile(local_store)
    assert isinstance(failure, LakeFailure) and failure.source == "bls/xx/xx.data.0.Current"
    assert failure.to_dict() == {"action": "failed", "source": failure.source, "error": failure.error}
    assert "8 decimals" in failure.error


def test_a_deleted_source_takes_its_partition_with_it(store):
    # GIVEN a converted data file
    mirror_put(store, "bls/xx/xx.data.0.Current", SMALL)
    partition = sync_source(store, "bls/xx/xx.data.0.Current").partition
    # WHEN the mirror deletes it and the removal event arrives
    store.delete_many(["bls/xx/xx.data.0.Current"])
    bucket, prefix = s3_events.store_location(store)
    full = f"{prefix}/bls/xx/xx.data.0.Current" if prefix else "bls/xx/xx.data.0.Current"
    body = events.build_message(bucket, full, etag="", size=0, event_name="ObjectRemoved:Delete")
    result = handle_lake_message(body, store)
    # THEN the partition is gone; a duplicate of the event changes nothing
    assert result.action == "written" and result.results[0].action == "deleted"
    assert not store.exists(partition)
    assert handle_lake_message(body, store).results[0].action == "absent"


def test_keys_that_feed_no_table_are_skipped(local_store):
    for key in ("bls/pr/pr.txt", "bls/pr.mirror/state.json", "bls/pr/pr.footnote", "reports/summary.json"):
        assert sync_source(local_store, key).action == "skipped"


# --------------------------------------------------------------------------- bls_series, population


def test_series_files_of_different_shapes_share_one_schema_and_lose_nothing(store, tmp_path):
    # GIVEN the real pr.series and a series file of another shape (title, other codes, padding)
    pr_body = (PR / "pr.series").read_bytes()
    mirror_put(store, "bls/pr/pr.series", pr_body)
    other = (b"series_id  \tarea_code\titem_code\tseries_title   \tfootnote_codes\tbegin_year\tbegin_period\t"
             b"end_year\tend_period\r\nXXU000  \t 0000 \tSA0\t\"All\" items, \"core\" \t\t1913\tM01\t2026\tM07\r\n")
    mirror_put(store, "bls/xx/xx.series", other)
    # WHEN both are synced
    for key in ("bls/pr/pr.series", "bls/xx/xx.series"):
        assert sync_source(store, key).action == "written"
    # THEN both have the common columns; every other column is in `codes`, trimmed
    columns, rows = read_silver(store, "silver/bls_series/survey=xx/data.parquet", tmp_path)
    assert columns == [name for name, _ in tables.COLUMNS[tables.BLS_SERIES]]
    assert rows == [("XXU000", '"All" items, "core"', None, 1913, "M01", 2026, "M07",
                     json.dumps({"area_code": "0000", "item_code": "SA0"}, separators=(",", ":")))]
    columns, rows = read_silver(store, "silver/bls_series/survey=pr/data.parquet", tmp_path)
    source = [[f.strip() for f in line.split("\t")] for line in pr_body.decode().splitlines()]
    header = source[0]
    assert len(rows) == len(source) - 1
    for row, fields in zip(rows, source[1:]):
        record = dict(zip(header, fields))
        silver = dict(zip(columns, row))
        codes = json.loads(silver.pop("codes"))
        rebuilt = {**codes, **{k: ("" if v is None else str(v)) for k, v in silver.items() if k in record}}
        assert rebuilt == record  # nothing dropped, nothing changed
        assert silver["series_title"] is None  # pr.series has no title column


def test_population_table(store, tmp_path):
    body = (FIXTURES / "datausa" / "population_acs1_nation_newapi_hk2719_2025-10.json").read_bytes()
    store.put("population/population.json", body)
    assert sync_source(store, "population/population.json").action == "written"
    from chalicelib.population.update import parse_population

    _, rows = read_silver(store, "silver/population/data.parquet", tmp_path, "year, population, typeof(population)")
    assert rows == [(r.year, r.population, "BIGINT") for r in parse_population(body)]


# --------------------------------------------------------------------------- messages, reconcile


def test_eventbridge_and_s3_notification_messages_name_the_same_key():
    eventbridge = {"version": "0", "detail-type": "Object Created", "source": "aws.s3",
                   "detail": {"bucket": {"name": "b"}, "object": {"key": "p/bls/pr/pr.data.0.Current"}}}
    notification = events.build_message("b", "p/bls/pr/pr.data.0.Current", etag="e", size=1)
    for body in (eventbridge, notification):
        assert changed_keys(body, bucket="b", store_prefix="p") == ["bls/pr/pr.data.0.Current"]
        assert changed_keys(body, bucket="other", store_prefix="p") == []
    assert changed_keys({"Event": "s3:TestEvent"}, bucket="b") == []
    with pytest.raises(s3_events.EventError):
        changed_keys({"hello": 1}, bucket="b")


def test_reconcile_converts_what_is_missing_and_removes_orphans(local_store):
    # GIVEN a mirror with a data file, and an orphan partition whose source is gone
    mirror_put(local_store, "bls/xx/xx.data.0.Current", SMALL)
    mirror_put(local_store, "bls/yy/yy.data.0.Current", SMALL.replace(b"XXS", b"YYS"))
    sync_source(local_store, "bls/yy/yy.data.0.Current")
    local_store.delete_many(["bls/yy/yy.data.0.Current"])
    # WHEN the silver layer is reconciled, twice
    first = {r.source: r.action for r in reconcile(local_store)}
    second = {r.source: r.action for r in reconcile(local_store)}
    # THEN the first converts and deletes, the second does nothing
    assert first == {"bls/xx/xx.data.0.Current": "written", "bls/yy/yy.data.0.Current": "deleted"}
    assert second == {"bls/xx/xx.data.0.Current": "unchanged"}


def test_notifying_store_hands_off_writes_and_deletes_of_lake_inputs(local_store):
    from chalicelib.core.settings import Settings
    from workstation.handoff import NotifyingStore

    reports, lake = [], []
    notifying = NotifyingStore.around(local_store, Settings(), reports.append, lake.append)
    mirror_put(notifying, DATA_KEY, SMALL)
    notifying.put("_state/ingestion.json", b"{}")
    notifying.delete_many([DATA_KEY])
    names = [json.loads(m)["Records"][0]["eventName"] for m in lake]
    assert names == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
    assert [changed_keys(m, bucket="local-store") for m in lake] == [[DATA_KEY], [DATA_KEY]]
    assert len(reports) == 1  # the report input, as before


def test_glue_partitions_follow_the_silver_partitions(s3_store):
    import boto3

    from chalicelib.lake.catalog import GlueCatalog

    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_database(DatabaseInput={"Name": "lake"})
    glue.create_table(DatabaseName="lake", TableInput={
        "Name": "bls_data",
        "PartitionKeys": [{"Name": "survey", "Type": "string"}, {"Name": "file", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "series_id", "Type": "string"}],
                              "Location": "s3://bls-pipeline-test/mirror/silver/bls_data/"},
    })
    glue.create_table(DatabaseName="lake", TableInput={  # issue 21: each release of a data file
        "Name": "bls_revisions",
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("survey", "file", "release")],
        "StorageDescriptor": {"Columns": [{"Name": "series_id", "Type": "string"}],
                              "Location": "s3://bls-pipeline-test/mirror/silver/bls_revisions/"},
    })
    catalog = GlueCatalog("lake", s3_store.bucket, s3_store.prefix, client=glue)
    mirror_put(s3_store, "bls/xx/xx.data.0.Current", SMALL)
    sync_source(s3_store, "bls/xx/xx.data.0.Current", catalog=catalog)
    sync_source(s3_store, "bls/xx/xx.data.0.Current", catalog=catalog)  # unchanged: no second partition
    partitions = glue.get_partitions(DatabaseName="lake", TableName="bls_data")["Partitions"]
    assert [(p["Values"], p["StorageDescriptor"]["Location"]) for p in partitions] == [
        (["xx", "xx.data.0.Current"],
         "s3://bls-pipeline-test/mirror/silver/bls_data/survey=xx/file=xx.data.0.Current/")]
    releases = glue.get_partitions(DatabaseName="lake", TableName="bls_revisions")["Partitions"]
    assert [p["Values"][:2] for p in releases] == [["xx", "xx.data.0.Current"]]  # the first version's vintage
    s3_store.delete_many(["bls/xx/xx.data.0.Current"])
    catalog.add(tables.partition_for_source("bls/xx/xx.data.0.Current"))  # already there: no error
    sync_source(s3_store, "bls/xx/xx.data.0.Current", catalog=catalog)
    assert glue.get_partitions(DatabaseName="lake", TableName="bls_data")["Partitions"] == []
    with pytest.raises(NotFound):
        s3_store.head("silver/bls_data/survey=xx/file=xx.data.0.Current/data.parquet")


# --------------------------------------------------------------------------- the web API's series endpoint


def test_series_endpoint_reads_the_silver_layer_when_it_is_current(store, monkeypatch, tmp_path):
    from chalicelib.core.settings import Settings
    from chalicelib.web.series_source import series_population_for

    body = (PR / "pr.data.0.Current").read_bytes()
    mirror_put(store, DATA_KEY, body)
    store.put("population/population.json",
              (FIXTURES / "datausa" / "population_acs1_nation_newapi_hk2719_2025-10.json").read_bytes())
    from_tsv = series_population_for(store, Settings(), "PRS30006032", "Q01")
    sync_source(store, DATA_KEY)
    # WHEN the data file's bytes become unreadable but its recorded version stays (the silver is current)
    store.put(DATA_KEY, b"not a data file", metadata={"sha256": hashlib.sha256(body).hexdigest()})
    # THEN the endpoint's join is computed from the silver layer, identical to the TSV's
    from_silver = series_population_for(store, Settings(), "PRS30006032", "Q01")
    assert from_silver == from_tsv and len(from_tsv) > 25
    assert [row.value for row in from_silver][:3] == [0.0, -4.2, 2.8]
    # AND once the source changes (a new version, not yet converted) it reads the TSV again
    mirror_put(store, DATA_KEY, b"not a data file")
    with pytest.raises(Exception, match="required column"):
        series_population_for(store, Settings(), "PRS30006032", "Q01")


def test_lambda_handler_converts_on_an_eventbridge_message_and_registers_the_partition():
    import boto3
    from moto import mock_aws

    from chalicelib.gold import tables as gold_tables
    from chalicelib.pipeline.handlers import handle_lake_message as lambda_handler

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake-bucket")
        glue = boto3.client("glue", region_name="us-east-1")
        glue.create_database(DatabaseInput={"Name": "bls_pipeline_dev"})
        glue.create_table(DatabaseName="bls_pipeline_dev", TableInput={
            "Name": "bls_data", "StorageDescriptor": {"Columns": [], "Location": "s3://lake-bucket/silver/bls_data/"},
            "PartitionKeys": [{"Name": "survey", "Type": "string"}, {"Name": "file", "Type": "string"}]})
        glue.create_table(DatabaseName="bls_pipeline_dev", TableInput={  # issue 21
            "Name": "bls_revisions", "StorageDescriptor": {"Columns": [], "Location": "s3://lake-bucket/silver/"},
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in ("survey", "file", "release")]})
        for table in gold_tables.TABLES:  # the gold step follows (tests/integration/test_gold.py)
            glue.create_table(DatabaseName="bls_pipeline_dev", TableInput={
                "Name": table, "StorageDescriptor": {"Columns": [], "Location": f"s3://lake-bucket/gold/{table}/"},
                "PartitionKeys": [{"Name": "survey", "Type": "string"}]})
        s3.put_object(Bucket="lake-bucket", Key=DATA_KEY, Body=SMALL, Metadata={"sha256": "abc"})
        body = json.dumps({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
                           "detail": {"bucket": {"name": "lake-bucket"}, "object": {"key": DATA_KEY}}})
        env = {"DATA_STORE": "s3://lake-bucket", "LAKE_GLUE_DATABASE": "bls_pipeline_dev"}
        first = lambda_handler(body, env)
        second = lambda_handler(body, env)  # SQS delivers at least once
        assert [r["action"] for r in first["results"] + second["results"]] == ["written", "unchanged"]
        assert s3.head_object(Bucket="lake-bucket", Key=DATA_PARTITION)["Metadata"]["source-version"] == "sha256:abc"
        (partition,) = glue.get_partitions(DatabaseName="bls_pipeline_dev", TableName="bls_data")["Partitions"]
        assert partition["Values"] == ["pr", "pr.data.0.Current"]
        assert [g["action"] for g in first["gold"] + second["gold"]] == ["written", "unchanged"]


def test_lines_with_tabs_at_different_places_read_back_the_same(local_store, tmp_path):
    # GIVEN a data file without padding (every line has its tabs elsewhere), LF only, footnotes
    body = (b"series_id\tyear\tperiod\tvalue\tfootnote_codes\n"
            b"XXS1\t2020\tQ01\t1\tR\nXXS12345\t2020\tQ1\t-10.25\t\nXXS1\t2021\tM13\t0.5\tP,R\n\nXXS9\t2022\tA01\t7\t\n")
    # (series may interleave: each one's keys still increase)
    mirror_put(local_store, "bls/xx/xx.data.1.AllData", body)
    result = sync_source(local_store, "bls/xx/xx.data.1.AllData")
    # THEN every value and footnote is where it belongs (the blank line is skipped)
    _, rows = read_silver(local_store, result.partition, tmp_path)
    assert [r[:5] for r in rows] == tsv_rows(body.replace(b"\n\n", b"\n"))
    assert [r[4] for r in rows] == ["R", None, "P,R", None]


def test_a_source_replaced_during_its_conversion_is_converted_again(store, monkeypatch, tmp_path):
    # GIVEN a conversion during which the mirror stores a newer version of the file
    from chalicelib.lake import sync

    newer = SMALL.replace(b"0.5\t", b"0.7\t")
    convert = sync._convert
    calls = []

    def convert_while_the_source_changes(store_, partition, out, **options):
        calls.append(partition.source_key)
        rows = convert(store_, partition, out, **options)
        if len(calls) == 1:
            mirror_put(store, "bls/xx/xx.data.0.Current", newer)
        return rows

    monkeypatch.setattr(sync, "_convert", convert_while_the_source_changes)
    mirror_put(store, "bls/xx/xx.data.0.Current", SMALL)
    # WHEN it is synced
    result = sync_source(store, "bls/xx/xx.data.0.Current")
    # THEN it was converted twice and the partition holds (and names) the newer version
    assert len(calls) == 2 and result.action == "written"
    head = store.head(result.partition)
    assert head.metadata["source-version"] == "sha256:" + hashlib.sha256(newer).hexdigest()
    _, rows = read_silver(store, result.partition, tmp_path, "value")
    assert rows[0] == (Decimal("0.7"),)
