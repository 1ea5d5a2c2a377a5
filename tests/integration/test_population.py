"""Population from DataUSA: both response shapes, validation before any write, write only on change.

Every test serves real (or minimally edited real) DataUSA responses from a local
SourceServer; expected values are read from the fixture files, never typed in.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.errors import ConfigError, SourceError, StoreError
from chalicelib.core.http_client import PoliteClient
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store
from chalicelib.population import update as population
from chalicelib.population.update import (
    POPULATION_KEY,
    PopulationRecord,
    parse_population,
    parse_response,
    run_population,
)
from support.paths import FIXTURES
from workstation.cli import main
from workstation.sourceserver import RequestRecord, SourceServer

DATAUSA = FIXTURES / "datausa"
TESSERACT_FILES = [
    "population_acs1_nation_newapi_tejalk14_2025-10.json",  # json.dumps default separators
    "population_acs1_nation_newapi_hk2719_2025-10.json",  # indent=2
]
TESSERACT = DATAUSA / TESSERACT_FILES[0]
RETIRED = DATAUSA / "population_acs5_nation_oldapi_ashwinsahay_2025-05.json"
STATE_LEVEL = DATAUSA / "population_acs5_state_newapi_raw_dkucar_2026-04.json"
TSV_2024 = DATAUSA / "population_acs1_nation_2013-2024_almoehi_2026-08.tsv"
API_PATH = "/tesseract/data.jsonrecords"
QUERY = "?cube=acs_yg_total_population_1&drilldowns=Year%2CNation&locale=en&measures=Population"
CONTACT = "test@example.org"


# --------------------------------------------------------------------------- helpers


def settings_for(server: SourceServer, path: str = API_PATH, **overrides: Any) -> Settings:
    """Settings that point the population API at the local server (no environment involved)."""
    values = {"population_api_url": server.base_url + path + QUERY, "bls_contact": CONTACT, "http_retries": 2,
              "http_requests_per_second": 1000.0}
    values.update(overrides)
    return Settings.from_env({}, **values)


def expected_from(path: Path) -> dict[int, int]:
    """Year -> population read straight from a fixture, independently of the parser."""
    rows = json.loads(path.read_bytes())["data"]
    return {int(row["Year"]): int(row["Population"]) for row in rows}


def tesseract_document() -> dict[str, Any]:
    return json.loads(TESSERACT.read_bytes())


def population_2024_from_tsv() -> int:
    with TSV_2024.open(newline="") as stream:
        rows = {row["Year"]: row["Population"] for row in csv.DictReader(stream, delimiter="\t")}
    return int(float(rows["2024"]))


class CountingStore(Store):
    """Delegates to a real store and counts the calls (to prove what a run did not do)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.url = inner.url
        self.calls: dict[str, int] = {"head": 0, "put": 0, "delete_many": 0}

    def list(self, prefix: str = "", *, start_after: str = "") -> Iterator[Any]:
        return self.inner.list(prefix, start_after=start_after)

    def head(self, key: str) -> Any:
        self.calls["head"] += 1
        return self.inner.head(key)

    def open(self, key: str) -> Any:
        return self.inner.open(key)

    def put(self, key: str, body: Any, **kwargs: Any) -> str:
        self.calls["put"] += 1
        return self.inner.put(key, body, **kwargs)

    def delete_many(self, keys: Any) -> None:
        self.calls["delete_many"] += 1
        self.inner.delete_many(keys)

    def begin_upload(self, key: str, **kwargs: Any) -> Any:
        self.calls["upload"] = self.calls.get("upload", 0) + 1
        return self.inner.begin_upload(key, **kwargs)


class FlakyServer(SourceServer):
    """Answers the first `failures` GETs of the API path with 503 (Retry-After: 1)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def fault(self, record: RequestRecord, handler: Any) -> bool:
        if record.path == API_PATH and self.failures > 0:
            self.failures -= 1
            record.status = 503
            handler.send_body(503, b"<html><body>Service Unavailable</body></html>",
                              {"Content-Type": "text/html", "Retry-After": "1"})
            return True
        return False


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The structured events the population module logs, in order."""
    seen: list[str] = []
    monkeypatch.setattr(population, "log_event", lambda event, level=0, **fields: seen.append(event))
    return seen


def store_valid_then_serve(store: Store, server: SourceServer, bad_body: bytes,
                           content_type: str = "application/json") -> tuple[Settings, Any]:
    """GIVEN a store holding a good population, and a source that now serves `bad_body`."""
    server.publish(API_PATH, TESSERACT.read_bytes(), content_type="application/json")
    settings = settings_for(server)
    run_population(settings, store)
    before = store.read(POPULATION_KEY)
    server.publish(API_PATH, bad_body, content_type=content_type)
    return settings, before


def assert_unchanged(store: Store, before: Any) -> None:
    after = store.read(POPULATION_KEY)
    assert (after.body, after.etag, after.metadata) == (before.body, before.etag, before.metadata)


# --------------------------------------------------------------------------- parsing (pure)


@pytest.mark.parametrize("name", TESSERACT_FILES)
def test_tesseract_shape_is_normalized_to_integers_sorted_by_year(name):
    # GIVEN a real tesseract response (floats for Population, no 2020 row)
    path = DATAUSA / name
    expected = expected_from(path)
    # WHEN it is parsed
    parsed = parse_response(path.read_bytes())
    # THEN every row becomes (int year, int population), ascending
    assert parsed.shape == "tesseract"
    assert parsed.records == [PopulationRecord(year, expected[year]) for year in sorted(expected)]
    assert all(type(r.year) is int and type(r.population) is int for r in parsed.records)
    assert 2020 not in {r.year for r in parsed.records}


def test_retired_shape_with_string_years_newest_first_is_sorted_ascending():
    # GIVEN the retired api/data response: "Year" is a string and rows are newest first
    document = json.loads(RETIRED.read_bytes())
    assert document["data"][0]["Year"] > document["data"][-1]["Year"]
    expected = expected_from(RETIRED)
    # WHEN it is parsed
    parsed = parse_response(RETIRED.read_bytes())
    # THEN the records are ascending with integer years, the 2020 row included
    assert parsed.shape == "retired"
    assert parsed.records == [PopulationRecord(year, expected[year]) for year in sorted(expected)]
    assert dict(parse_population(RETIRED.read_bytes()))[2020] == int(
        next(row["Population"] for row in document["data"] if row["Year"] == "2020")
    )


def test_integral_float_years_are_accepted():
    document = tesseract_document()
    document["data"][0]["Year"] = float(document["data"][0]["Year"])
    records = parse_population(json.dumps(document).encode())
    assert records[0] == PopulationRecord(int(document["data"][0]["Year"]), int(document["data"][0]["Population"]))


# --------------------------------------------------------------------------- fetch and store


def test_tesseract_response_is_stored_byte_for_byte_with_metadata(store, source_server, events):
    # GIVEN the API serves today's tesseract response
    body = TESSERACT.read_bytes()
    source_server.publish(API_PATH, body, content_type="application/json")
    settings = settings_for(source_server)
    expected = expected_from(TESSERACT)
    # WHEN the population step runs
    result = run_population(settings, store)
    # THEN the body is stored as received, described by its metadata
    assert result.ok and result.changed
    assert result.to_dict() | {"fetched_at": None} == {
        "changed": True,
        "years": [min(expected), max(expected)],
        "rows": len(expected),
        "bytes": len(body),
        "key": "population/population.json",
        "missing_years": [y for y in range(min(expected), max(expected) + 1) if y not in expected],
        "shape": "tesseract",
        "sha256": hashlib.sha256(body).hexdigest(),
        "etag": store.head(POPULATION_KEY).etag,
        "source_url": settings.population_api_url,
        "fetched_at": None,
    }
    assert result.missing_years == [2020]
    stored = store.read(POPULATION_KEY)
    assert stored.body == body
    assert stored.metadata["sha256"] == hashlib.sha256(body).hexdigest()
    assert stored.metadata["source-url"] == settings.population_api_url
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stored.metadata["fetched-at"])
    assert stored.metadata["fetched-at"] == result.fetched_at
    assert store.head(POPULATION_KEY).content_type == "application/json"
    # AND the stored body parses back to the fixture's values (what the reports will read)
    assert dict(parse_population(stored.body))[2019] == expected[2019]
    # AND the request identified us with the contact, once
    assert source_server.count("GET", API_PATH) == 1
    assert CONTACT in source_server.requests[0].headers["User-Agent"]
    assert events == ["population_fetched", "population_stored"]


def test_retired_shape_is_stored_too(store, source_server):
    body = RETIRED.read_bytes()
    source_server.publish(API_PATH, body, content_type="application/json")
    expected = expected_from(RETIRED)
    result = run_population(settings_for(source_server), store)
    assert (result.changed, result.shape, result.years) == (True, "retired", [min(expected), max(expected)])
    assert result.to_dict()["rows"] == len(expected) and result.missing_years == []
    assert store.read(POPULATION_KEY).body == body


def test_the_same_body_twice_writes_nothing_the_second_time(store, source_server, events):
    # GIVEN a stored population and an API still serving the same bytes
    source_server.publish(API_PATH, TESSERACT.read_bytes(), content_type="application/json")
    settings = settings_for(source_server)
    first = run_population(settings, store)
    before = store.read(POPULATION_KEY)
    counting = CountingStore(store)
    events.clear()
    # WHEN the step runs again
    second = run_population(settings, counting)
    # THEN it fetched, compared with one HEAD, and wrote nothing
    assert not second.changed
    assert counting.calls == {"head": 1, "put": 0, "delete_many": 0}
    assert second.etag == first.etag == before.etag
    assert_unchanged(store, before)
    assert second.to_dict()["changed"] is False
    assert second.to_dict()["years"] == first.to_dict()["years"]
    assert source_server.count("GET", API_PATH) == 2
    assert events == ["population_fetched", "population_unchanged"]


def test_a_changed_body_replaces_the_stored_one(store, source_server):
    # GIVEN a stored population, then the API adds the 2024 row (value from the 2026 snapshot)
    source_server.publish(API_PATH, TESSERACT.read_bytes(), content_type="application/json")
    settings = settings_for(source_server)
    run_population(settings, store)
    document = tesseract_document()
    row = copy.deepcopy(document["data"][-1])
    row.update({"Year": 2024, "Population": float(population_2024_from_tsv())})
    document["data"].append(row)
    document["page"]["total"] += 1
    new_body = json.dumps(document).encode()
    source_server.publish(API_PATH, new_body, content_type="application/json")
    counting = CountingStore(store)
    # WHEN the step runs
    result = run_population(settings, counting)
    # THEN the new body is written once, conditionally on the version it compared with
    assert result.changed and counting.calls["put"] == 1
    assert result.years == [min(expected_from(TESSERACT)), 2024]
    stored = store.read(POPULATION_KEY)
    assert stored.body == new_body
    assert stored.metadata["sha256"] == hashlib.sha256(new_body).hexdigest()
    assert dict(parse_population(stored.body))[2024] == population_2024_from_tsv()


def test_a_5xx_is_retried_then_the_answer_is_stored(store):
    # GIVEN an API that answers 503 (Retry-After: 1) twice, then the real response
    with FlakyServer(failures=2) as server:
        server.publish(API_PATH, TESSERACT.read_bytes(), content_type="application/json")
        settings = settings_for(server)
        sleeps: list[float] = []
        client = PoliteClient(CONTACT, retries=settings.http_retries, requests_per_second=1000,
                              sleep=sleeps.append)
        # WHEN the step runs
        result = run_population(settings, store, client=client)
        # THEN it waited as told and succeeded on the third attempt
        assert result.changed
        assert [record.status for record in server.requests] == [503, 503, 200]
        assert sleeps.count(1.0) == 2
        assert store.read(POPULATION_KEY).body == TESSERACT.read_bytes()


def test_a_persistent_5xx_fails_and_keeps_the_stored_file(store, source_server):
    settings, before = store_valid_then_serve(store, source_server, TESSERACT.read_bytes())
    with FlakyServer(failures=10) as server:
        server.publish(API_PATH, b"{}", content_type="application/json")
        settings = settings_for(server)
        client = PoliteClient(CONTACT, retries=settings.http_retries, requests_per_second=1000,
                              sleep=lambda seconds: None)
        with pytest.raises(SourceError) as caught:
            run_population(settings, store, client=client)
    assert str(caught.value) == f"GET {settings.population_api_url} answered 503 Service Unavailable after 3 attempts"
    assert_unchanged(store, before)


def test_a_missing_endpoint_fails_with_its_status(store, source_server):
    settings = settings_for(source_server, path="/tesseract/gone")
    with pytest.raises(SourceError, match=r"answered 404 Not Found$"):
        run_population(settings, store)
    assert not store.exists(POPULATION_KEY)


def test_no_contact_is_a_config_error_before_any_request(store, source_server):
    source_server.publish(API_PATH, TESSERACT.read_bytes())
    settings = Settings.from_env({}, population_api_url=source_server.base_url + API_PATH)
    with pytest.raises(ConfigError, match="BLS_CONTACT is not set"):
        run_population(settings, store)
    assert source_server.count() == 0
    assert not store.exists(POPULATION_KEY)


# --------------------------------------------------------------------------- bad answers: nothing written


def _drift(change):
    """A real tesseract response with one edit applied (schema drift)."""
    document = tesseract_document()
    change(document)
    return json.dumps(document).encode()


def _rename(document, row, old, new):
    document["data"][row] = {(new if k == old else k): v for k, v in document["data"][row].items()}


BAD_ANSWERS = {
    "malformed JSON": (
        b'{"annotations": {}, "page": {}, "columns": [], "data": [{"Year": 2013,',
        "the response is not valid JSON (Expecting property name enclosed in double quotes at line 1 column 71; "
        "starts with '{\"annotations\":')",
    ),
    "truncated real response": (
        TESSERACT.read_bytes()[:100],
        "the response is not valid JSON (Expecting ':' delimiter at line 1 column 101; "
        "starts with '{\"annotations\":')",
    ),
    "empty body": (b"", "the response is empty (0 bytes), not JSON"),
    "HTML with status 200": (
        b"<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body>Back soon</body></html>",
        "the response is HTML, not JSON (starts with '<!DOCTYPE')",
    ),
    "JSON array": (b"[1, 2]", "the response is a JSON array, not an object with 'data'"),
    "API error document": (
        b'{"detail": "cube acs_yg_total_population_1 not found"}',
        "the response has no 'data' (keys: 'detail'); the API says: 'cube acs_yg_total_population_1 not found'",
    ),
    "renamed top-level key": (
        _drift(lambda d: d.__setitem__("rows", d.pop("data"))),
        "the response has no 'data' (keys: 'annotations', 'page', 'columns', 'rows')",
    ),
    "unknown shape": (
        _drift(lambda d: d.pop("annotations")),
        "the response is not a known DataUSA shape (keys: 'page', 'columns', 'data'); expected "
        "'annotations', 'page', 'columns', 'data' (tesseract API) or 'data', 'source' (retired api/data)",
    ),
    "renamed row key": (
        _drift(lambda d: _rename(d, 2, "Population", "Total Population")),
        "row 3 has no 'Population' (keys: 'Nation ID', 'Nation', 'Year', 'Total Population')",
    ),
    "Year 20x3": (
        _drift(lambda d: d["data"][0].__setitem__("Year", "20x3")),
        "row 1 has 'Year' '20x3', not a four-digit integer year",
    ),
    "fractional Year": (
        _drift(lambda d: d["data"][0].__setitem__("Year", 2013.5)),
        "row 1 has 'Year' 2013.5, not a four-digit integer year",
    ),
    "negative population": (
        _drift(lambda d: d["data"][1].__setitem__("Population", -d["data"][1]["Population"])),
        f"row 2 has 'Population' {-tesseract_document()['data'][1]['Population']!r}, not a positive whole number",
    ),
    "population as text": (
        _drift(lambda d: d["data"][1].__setitem__("Population", "318,857,056")),
        "row 2 has 'Population' '318,857,056', not a positive whole number",
    ),
    "duplicate year": (
        _drift(lambda d: d["data"][7].__setitem__("Year", d["data"][6]["Year"])),
        f"duplicate year {tesseract_document()['data'][6]['Year']} (rows 7 and 8)",
    ),
    "empty data": (
        _drift(lambda d: d.__setitem__("data", [])),
        "the response has no rows ('data' is empty)",
    ),
    "one page of several": (
        _drift(lambda d: (d["page"].__setitem__("limit", 5), d.__setitem__("data", d["data"][:5]))),
        f"the response holds 5 of {len(tesseract_document()['data'])} rows (page limit 5); "
        "remove the limit/offset from POPULATION_API_URL",
    ),
    "retired ID Year disagrees with Year": (
        json.dumps({**json.loads(RETIRED.read_bytes()), "data": [
            {**json.loads(RETIRED.read_bytes())["data"][0], "ID Year": 2013}
        ]}).encode(),
        f"row 1 has 'ID Year' 2013 but 'Year' {json.loads(RETIRED.read_bytes())['data'][0]['Year']!r}",
    ),
    "row that is not an object": (
        _drift(lambda d: d["data"].__setitem__(3, [2016, 323127515])),
        "row 4 is a JSON array, not an object",
    ),
    "state-level cube": (
        STATE_LEVEL.read_bytes(),
        "row 1 has no 'Nation' (keys: 'State ID', 'State', 'Year', 'Population'); "
        "the population must be national (drilldowns Year and Nation)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ANSWERS))
def test_a_bad_answer_is_refused_with_a_precise_message(case):
    body, message = BAD_ANSWERS[case]
    with pytest.raises(SourceError) as caught:
        parse_population(body)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "case", ["malformed JSON", "HTML with status 200", "renamed row key", "Year 20x3", "negative population",
             "duplicate year", "empty data"]
)
def test_a_bad_answer_leaves_the_stored_population_untouched(store, source_server, case):
    # GIVEN a stored population, then the API serves a bad answer with status 200
    body, message = BAD_ANSWERS[case]
    content_type = "text/html" if body.startswith(b"<") else "application/json"
    settings, before = store_valid_then_serve(store, source_server, body, content_type)
    counting = CountingStore(store)
    # WHEN the step runs
    with pytest.raises(SourceError) as caught:
        run_population(settings, counting)
    # THEN the error says what was wrong and where it came from, and nothing was written
    assert str(caught.value) == (
        f"unusable population response from {settings.population_api_url}: {message}. "
        "Nothing was written to population/population.json."
    )
    assert counting.calls["put"] == 0
    assert_unchanged(store, before)


def test_a_bad_first_answer_creates_nothing(store, source_server):
    source_server.publish(API_PATH, BAD_ANSWERS["HTML with status 200"][0], content_type="text/html")
    with pytest.raises(SourceError, match=r"the response is HTML, not JSON"):
        run_population(settings_for(source_server), store)
    assert list(store.list("")) == []


# --------------------------------------------------------------------------- concurrent runs


class RacingStore(CountingStore):
    """Another run writes `other` between our HEAD and our PUT."""

    def __init__(self, inner: Store, other: bytes) -> None:
        super().__init__(inner)
        self.other = other

    def put(self, key: str, body: Any, **kwargs: Any) -> str:
        if self.calls["put"] == 0:
            sha = hashlib.sha256(self.other).hexdigest()
            self.inner.put(key, self.other, metadata={"sha256": sha}, content_type="application/json")
        return super().put(key, body, **kwargs)


def test_a_concurrent_writer_is_not_overwritten_blindly(store, source_server):
    source_server.publish(API_PATH, TESSERACT.read_bytes(), content_type="application/json")
    racing = RacingStore(store, RETIRED.read_bytes())
    with pytest.raises(StoreError) as caught:
        run_population(settings_for(source_server), racing)
    assert str(caught.value) == (
        f"population/population.json in {store.url} was replaced by another run while this one was writing; run again"
    )
    assert store.read(POPULATION_KEY).body == RETIRED.read_bytes()


def test_a_concurrent_writer_of_the_same_body_counts_as_unchanged(store, source_server):
    source_server.publish(API_PATH, TESSERACT.read_bytes(), content_type="application/json")
    racing = RacingStore(store, TESSERACT.read_bytes())
    result = run_population(settings_for(source_server), racing)
    assert not result.changed
    assert result.etag == store.head(POPULATION_KEY).etag


# --------------------------------------------------------------------------- CLI


def cli_args(server: SourceServer, store_dir: Path, *extra: str) -> list[str]:
    return ["population", "--store", str(store_dir), "--contact", CONTACT,
            "--url", server.base_url + API_PATH + QUERY, *extra]


def test_cli_json_prints_exactly_one_document(capsys, tmp_path, source_server):
    # GIVEN the API serves the tesseract response
    body = TESSERACT.read_bytes()
    source_server.publish(API_PATH, body, content_type="application/json")
    expected = expected_from(TESSERACT)
    # WHEN `bls-pipeline population --json` runs twice
    first_status = main(cli_args(source_server, tmp_path / "data", "--json"))
    first = json.loads(capsys.readouterr().out)
    second_status = main(cli_args(source_server, tmp_path / "data", "--json"))
    second_out = capsys.readouterr().out
    # THEN stdout is exactly one JSON document each time, with the keys
    second = json.loads(second_out)
    assert (first_status, second_status) == (0, 0)
    shared = {"years": [min(expected), max(expected)], "rows": len(expected), "bytes": len(body),
              "key": "population/population.json"}
    assert {k: first[k] for k in ("changed", *shared)} == {"changed": True, **shared}
    assert {k: second[k] for k in ("changed", *shared)} == {"changed": False, **shared}
    assert (tmp_path / "data" / "population" / "population.json").read_bytes() == body


def test_cli_text_output_is_readable(capsys, tmp_path, source_server):
    source_server.publish(API_PATH, TESSERACT.read_bytes(), content_type="application/json")
    expected = expected_from(TESSERACT)
    first, last = min(expected), max(expected)
    assert main(cli_args(source_server, tmp_path / "data")) == 0
    text = capsys.readouterr().out
    assert f"population: stored population/population.json in {tmp_path / 'data'}" in text
    assert f"years {first}-{last}: {len(expected)} rows; no row for 2020" in text
    assert f"latest: {expected[last]:,} people in {last}" in text
    assert main(cli_args(source_server, tmp_path / "data")) == 0
    assert "population: unchanged" in capsys.readouterr().out


def test_cli_bad_answer_exits_1_with_one_json_error(capsys, tmp_path, source_server):
    body, message = BAD_ANSWERS["HTML with status 200"]
    source_server.publish(API_PATH, body, content_type="text/html")
    status = main(cli_args(source_server, tmp_path / "data", "--json"))
    out = json.loads(capsys.readouterr().out)
    assert status == 1
    assert out == {
        "error": f"unusable population response from {source_server.base_url + API_PATH + QUERY}: {message}. "
                 "Nothing was written to population/population.json.",
        "error_type": "SourceError",
    }


def test_cli_rejects_a_url_that_is_not_http_before_fetching(capsys, tmp_path):
    status = main(["population", "--json", "--store", str(tmp_path / "data"), "--contact", CONTACT,
                   "--url", "ftp://api.datausa.io/data"])
    assert status == 2
    assert json.loads(capsys.readouterr().out) == {
        "error": "--url: 'ftp://api.datausa.io/data' is not an http(s) URL",
        "error_type": "ConfigError",
    }
    assert not (tmp_path / "data").exists()
