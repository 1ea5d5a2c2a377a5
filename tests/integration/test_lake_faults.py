"""Issue 19, points 1-6, 12, 13: the lake never writes wrong data, never aborts, never serves a planted file.

Each test failed on the code before the fix (see docs/lake.md for the rules).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import stat
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from chalicelib.lake import read
from chalicelib.lake.sync import LakeFailed, sync_source
from support.paths import FIXTURES

DATA_KEY = "bls/xx/xx.data.0.Current"
DATA_PART = "silver/bls_data/survey=xx/file=xx.data.0.Current/data.parquet"
SERIES_KEY = "bls/xx/xx.series"
SERIES_PART = "silver/bls_series/survey=xx/data.parquet"
HEADER = b"series_id\tyear\tperiod\tvalue\tfootnote_codes\r\n"
SERIES_HEADER = b"series_id\tseasonal\tseries_title\tbegin_year\r\n"
GOOD_SERIES = SERIES_HEADER + b"XXS1\tS\tFirst\t1990\r\nXXS2\tU\tSecond\t1991\r\n"


def mirror_put(store, key: str, body: bytes) -> None:
    store.put(key, body, metadata={"sha256": hashlib.sha256(body).hexdigest()})


def silver_values(store, key: str, tmp_path: Path) -> list[tuple]:
    path = tmp_path / "read.parquet"
    path.write_bytes(store.read(key).body)
    return duckdb.sql(f"SELECT series_id, year, period, value FROM read_parquet('{path}')").fetchall()


def refused(store, key: str, body: bytes, partition: str, *pieces: str) -> None:
    """`body` at `key` is refused naming `pieces`; the previous partition stays byte for byte."""
    before = store.read(partition).body
    mirror_put(store, key, body)
    with pytest.raises(LakeFailed) as failure:
        sync_source(store, key)
    for piece in pieces:
        assert piece in str(failure.value)
    assert store.read(partition).body == before


# ------------------------------------------------------------------ 1, 2: series files


@pytest.mark.parametrize(("body", "pieces"), [
    (SERIES_HEADER + b"XXS1\tS\t" + b"x" * 20_000_000 + b"\t1990\r\n", ("line 2 is longer than 65536 bytes",)),
    (SERIES_HEADER + b"XXS1\tS\t" + b"x" * 300_000 + b"\t1990\r\n", ("line 2 is longer",)),
    (SERIES_HEADER + b"XXS1\tS\t" + b"x" * 5000 + b"\t1990\r\n", ("line 2: field series_title is 5000 bytes",)),
    (SERIES_HEADER + b"XXS1\tS\tT\t1990\t\r\nXXS2\tU\tT\t1991\t\r\n", ("line 2: 5 fields, expected 4",)),
    (SERIES_HEADER + b"XXS1\tS\tT\t1990\r\nXXS2\tU\r\n", ("line 3: 2 fields, expected 4",)),
    (b"series_id\tseasonal\tseries_id\tbegin_year\r\nA\tS\tB\t1990\r\n", ("column series_id appears twice",)),
    (b"series_id\t\tseries_title\tbegin_year\r\nA\tS\tB\t1990\r\n", ("header cell 2 is blank",)),
    (SERIES_HEADER + b"ZZ\xff1\tS\tT\t1990\r\nZZ\xfe1\tS\tT\t1990\r\n", ("line 2: not UTF-8",)),
    (SERIES_HEADER + b"XXS1\tS\tT\t1990\r\nZZ\x001\tS\tT\t1990\r\n", ("line 3: NUL byte",)),
])
def test_a_bad_series_file_is_refused_with_its_line_and_the_partition_stays(store, body, pieces):
    mirror_put(store, SERIES_KEY, GOOD_SERIES)
    sync_source(store, SERIES_KEY)
    refused(store, SERIES_KEY, body, SERIES_PART, SERIES_KEY, *pieces)


# ------------------------------------------------------------------ 3, 4: exact values over the whole range


def range_values(count: int, seed: int) -> list[str]:
    """Decimal texts across the accepted range: 0-18 digits before the point, 0-6 after, both signs."""
    rng = random.Random(seed)
    values = ["0", "-0", "0.000001", "-0.000001", "999999999999999999.999999", "-999999999999999999.999999",
              "123456789012", "624347347957.867", "9223372036854775807", "-9223372036854775.808"[:-1]]
    while len(values) < count:
        whole = str(rng.randrange(10 ** rng.randint(1, 18)))
        places = rng.randint(0, 6)
        text = whole + ("." + str(rng.randrange(10**places)).zfill(places) if places else "")
        values.append(("-" if rng.random() < 0.3 else "") + text)
    return [v for v in values if len(v.lstrip("-").split(".")[0]) <= 18]


def test_every_accepted_value_converts_and_reads_back_exactly(store, tmp_path):
    # GIVEN values over the whole accepted range, big and tiny ones in the same 4 MiB block
    values = range_values(20_000, 19)
    lines = [f"XXS{i // 50:06d}\t{1900 + i % 50}\tA01\t{v}\t" for i, v in enumerate(values)]
    mirror_put(store, DATA_KEY, HEADER + "\r\n".join(lines).encode() + b"\r\n")
    # WHEN converted
    assert sync_source(store, DATA_KEY).rows == len(values)
    expected = [Decimal(v) for v in values]
    # THEN DuckDB, pyarrow and the project's own reader all read the exact decimals
    assert [row[3] for row in silver_values(store, DATA_PART, tmp_path)] == expected
    path = tmp_path / "copy.parquet"
    path.write_bytes(store.read(DATA_PART).body)
    assert [Decimal(row.value).scaleb(-6) for row in read.read_rows(path)] == expected
    assert [row.decimal for row in read.read_rows(path)] == expected
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    table = pyarrow_parquet.read_table(path)
    assert str(table.schema.field("value").type) == "decimal128(24, 6)"
    assert table.column("value").to_pylist() == expected


def test_values_beyond_the_range_are_refused_with_their_line(local_store):
    body = HEADER + b"XXS1\t2020\tA01\t1234567890123456789\t\r\n"
    mirror_put(local_store, DATA_KEY, body)
    with pytest.raises(LakeFailed, match=r"line 2: value '1234567890123456789' is not a decimal number of at most 18"):
        sync_source(local_store, DATA_KEY)


def test_the_series_endpoint_serves_silver_values_to_the_last_digit(store, monkeypatch, tmp_path):
    from chalicelib.core.settings import Settings
    from chalicelib.web import routes
    from chalicelib.web.series_source import series_population_for

    # GIVEN a series with 10-18 integer digits (2,780 of 8,000 such values came back wrong before)
    values = range_values(3_000, 3)[10:]
    years = range(1000, 1000 + len(values))
    lines = [f"PRS30006032\t{y}\tQ01\t{v}\t" for y, v in zip(years, values)]
    body = HEADER + "\r\n".join(lines).encode() + b"\r\n"
    mirror_put(store, "bls/pr/pr.data.0.Current", body)
    store.put("population/population.json",
              (FIXTURES / "datausa" / "population_acs1_nation_newapi_hk2719_2025-10.json").read_bytes())
    sync_source(store, "bls/pr/pr.data.0.Current")
    rows = series_population_for(store, Settings(), "PRS30006032", "Q01")
    # THEN each value, as JSON text in the response, is the exact decimal
    served = json.loads(routes.json_response({"rows": [r.to_dict() for r in rows]}).body, parse_float=Decimal,
                        parse_int=Decimal)["rows"]
    assert [r["value"] for r in served] == [Decimal(v) for v in values]


# ------------------------------------------------------------------ 5: text never altered (data files)


@pytest.mark.parametrize(("line", "piece"), [
    (b"ZZ\xff1\t2020\tQ01\t1\t", "line 3: not UTF-8"),
    (b"ZZ\x001\t2020\tQ01\t1\t", "line 3: NUL byte"),
    (b"XXS9\t2020\tQ0123456789\t1\t", "line 3: period is empty or longer than 8 bytes"),
    (b"XXS9\t2020\t   \t1\t", "line 3: period is empty or longer than 8 bytes"),
])
def test_altered_text_in_a_data_file_is_refused_with_its_line(store, line, piece):
    good = HEADER + b"XXS1\t2020\tQ01\t1\t\r\n"
    mirror_put(store, DATA_KEY, good)
    sync_source(store, DATA_KEY)
    refused(store, DATA_KEY, good + line + b"\r\n", DATA_PART, piece)


# ------------------------------------------------------------------ 6: duplicate keys, bounded answers


def test_duplicate_keys_are_refused(store):
    good = HEADER + b"XXS1\t2020\tQ01\t1\t\r\nXXS1\t2020\tQ02\t1\t\r\n"
    mirror_put(store, DATA_KEY, good)
    sync_source(store, DATA_KEY)
    refused(store, DATA_KEY, good + b"XXS1\t2020\tQ02\t2\t\r\n", DATA_PART,
            "duplicate (series_id, year, period) key (XXS1, 2020, Q02) near line 4")
    # AND with interleaved series (each in order), and in a file out of order (every key kept)
    many = HEADER + b"".join(b"XXS%d\t%d\tM01\t1\t\r\n" % (i % 7, 1900 + i // 7) for i in range(5000))
    refused(store, DATA_KEY, many + b"XXS3\t1950\tM01\t1\t\r\n", DATA_PART, "(XXS3, 1950, M01)")
    unsorted = HEADER + b"XXS1\t2021\tQ01\t1\t\r\nXXS1\t2020\tQ01\t1\t\r\nXXS2\t2020\tQ01\t1\t\r\n"
    mirror_put(store, DATA_KEY, unsorted)
    assert sync_source(store, DATA_KEY).rows == 3  # out of order alone is fine
    refused(store, DATA_KEY, unsorted + b"XXS1\t2021\tQ01\t2\t\r\n", DATA_PART,
            "duplicate (series_id, year, period) key (XXS1, 2021, Q01)")


def test_every_api_answer_is_bounded():
    from chalicelib.web import routes

    with pytest.raises(routes.ApiError) as error:
        routes.json_response({"rows": ["x" * 1000] * 6000})
    assert error.value.status == 413 and "limit" in (error.value.hint or "")


# ------------------------------------------------------------------ 12: the silver read cache


def test_a_planted_cache_file_is_never_served(store, tmp_path):
    body = HEADER + b"XXS1\t2020\tQ01\t1.5\t\r\n"
    mirror_put(store, DATA_KEY, body)
    sync_source(store, DATA_KEY)
    head = store.head(DATA_PART)
    # GIVEN files planted where the old cache looked, and a forged file with the object's ETag
    forged = tmp_path / "forged.parquet"
    mirror_put(store, "bls/yy/yy.data.0.Current", HEADER + b"XXS1\t2020\tQ01\t666\t\r\n")
    sync_source(store, "bls/yy/yy.data.0.Current")
    forged.write_bytes(store.read("silver/bls_data/survey=yy/file=yy.data.0.Current/data.parquet").body)
    shared = Path(os.environ.get("TMPDIR", "/tmp")) / "bls-pipeline-silver"
    folder = read.cache_dir()
    for planted in (folder / f"{head.etag}.parquet", tmp_path / f"{head.etag}.parquet"):
        planted.write_bytes(forged.read_bytes())
    # THEN the cache folder is private and the served value is the object's
    info = os.stat(folder)
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.geteuid() and folder != shared
    assert read.silver_selection(store, DATA_KEY, "XXS1", "Q01") == [(2020, Decimal("1.5"))]
    # AND a cached copy changed behind the process's back is fetched again
    cached = read._entries[DATA_PART].path
    cached.write_bytes(forged.read_bytes())
    assert read.silver_selection(store, DATA_KEY, "XXS1", "Q01") == [(2020, Decimal("1.5"))]
    # AND a download that does not match the recorded SHA-256 is not used
    read._entries.clear()
    store.put(DATA_PART, forged.read_bytes(), metadata={**head.metadata, "sha256": "0" * 64},
              content_type="application/vnd.apache.parquet")
    assert read.silver_selection(store, DATA_KEY, "XXS1", "Q01") is None


# ------------------------------------------------------------------ 13: numeric parameters


@pytest.mark.parametrize("text", ["²", "١٢", "1e3", "-1", "0", "10001", "", "9" * 30, " 1 2"])
def test_numeric_parameters_are_ascii_integers_in_range(text):
    from chalicelib.web import routes

    with pytest.raises(routes.ApiError) as error:
        routes.parse_limit(text)
    assert error.value.status == 400
    assert routes.parse_limit(" 20 ") == 20


@pytest.mark.parametrize("name", ["pr.data.0.Current", "pr.data.1.AllData"])
def test_real_pr_files_read_back_exactly_with_pyarrow(local_store, tmp_path, name):
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    body = (FIXTURES / "bls" / "pr" / "2026-08-06" / name).read_bytes()
    mirror_put(local_store, f"bls/pr/{name}", body)
    partition = sync_source(local_store, f"bls/pr/{name}").partition
    path = tmp_path / "pr.parquet"
    path.write_bytes(local_store.read(partition).body)
    expected = [Decimal(line.split("\t")[3].strip()) for line in body.decode().splitlines()[1:] if line.strip()]
    assert pyarrow_parquet.read_table(path).column("value").to_pylist() == expected
    assert [row.decimal for row in read.read_rows(path)] == expected
