"""U.S. population from DataUSA: fetch, validate, store the response as received when it changed.

`parse_response` / `parse_population` are pure and run before anything is written (two
response shapes: the tesseract API and the retired api/data; every row national, `01000US`);
`check_plausible` refuses an answer without every REPORT_YEARS year or with a year more than
`MAX_YEAR_CHANGE` away from the stored value; `run_population` stores the body byte for byte,
conditionally, only when its SHA-256 differs. See docs/population.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from chalicelib.core.errors import NotFound, PreconditionFailed, SourceError, StoreError
from chalicelib.core.http_client import PoliteClient
from chalicelib.core.layout import POPULATION_KEY
from chalicelib.core.log import log_event
from chalicelib.core.settings import Settings
from chalicelib.core.store import ObjectHead, Store

CONTENT_TYPE = "application/json"

TESSERACT = "tesseract"
RETIRED = "retired"
_TESSERACT_KEYS = ("annotations", "page", "columns", "data")
_RETIRED_KEYS = ("data", "source")
_YEAR_TEXT = re.compile(r"\d{4}")
_SNIPPET = 20
UNITED_STATES = "01000US"  # DataUSA's Nation ID of the United States
# Revisions, and a switch between the ACS 1-year and 5-year estimates, move a year by up to
# ~1.5 % (2013: 316,128,839 vs 311,536,594); a unit change (thousands: 316,129) or another
# measure moves it far more.
MAX_YEAR_CHANGE = 0.05


class PopulationRecord(NamedTuple):
    """One year of U.S. population."""

    year: int
    population: int


@dataclass(frozen=True)
class PopulationResponse:
    """A validated DataUSA response: which shape it had, and its records sorted by year."""

    shape: str
    records: list[PopulationRecord]


def parse_population(body: bytes) -> list[PopulationRecord]:
    """Normalize a DataUSA response (tesseract or retired shape) to records sorted by year.

    Raises SourceError saying exactly what is wrong when the body is not a valid response.
    """
    return parse_response(body).records


def parse_response(body: bytes) -> PopulationResponse:
    """Validate a DataUSA response and return its shape and records (sorted by year)."""
    document = _decode_json(body)
    if not isinstance(document, dict):
        raise SourceError(f"the response is a JSON {_json_type(document)}, not an object with 'data'")
    if "data" not in document:
        raise SourceError(f"the response has no 'data' (keys: {_keys(document)}){_api_message(document)}")
    rows = document["data"]
    if not isinstance(rows, list):
        raise SourceError(f"'data' is a JSON {_json_type(rows)}, not a list of rows")
    shape = _shape(document)
    if not rows:
        raise SourceError("the response has no rows ('data' is empty)")
    if shape == TESSERACT:
        _check_complete_page(document["page"], len(rows))
    records: list[PopulationRecord] = []
    first_row: dict[int, int] = {}
    for number, row in enumerate(rows, start=1):
        record = _record(number, row)
        if record.year in first_row:
            raise SourceError(f"duplicate year {record.year} (rows {first_row[record.year]} and {number})")
        first_row[record.year] = number
        records.append(record)
    records.sort()
    return PopulationResponse(shape, records)


def _decode_json(body: bytes) -> Any:
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start:
        raise SourceError(f"the response is empty ({len(body)} bytes), not JSON")
    if start.startswith(b"<"):
        kind = "XML" if start[:5].lower() == b"<?xml" else "HTML"
        raise SourceError(f"the response is {kind}, not JSON (starts with {_snippet(start)!r})")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise SourceError("the response is not UTF-8 text, so not JSON") from None
    except json.JSONDecodeError as error:
        raise SourceError(
            f"the response is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}; "
            f"starts with {_snippet(start)!r})"
        ) from None


def _shape(document: dict[str, Any]) -> str:
    if all(key in document for key in _TESSERACT_KEYS):
        return TESSERACT
    if all(key in document for key in _RETIRED_KEYS):
        return RETIRED
    raise SourceError(
        f"the response is not a known DataUSA shape (keys: {_keys(document)}); expected "
        f"{', '.join(map(repr, _TESSERACT_KEYS))} (tesseract API) or "
        f"{', '.join(map(repr, _RETIRED_KEYS))} (retired api/data)"
    )


def _check_complete_page(page: Any, row_count: int) -> None:
    """A paged tesseract answer would silently drop years: refuse it."""
    if not isinstance(page, dict):
        return
    total = page.get("total")
    if isinstance(total, int) and not isinstance(total, bool) and total > row_count:
        raise SourceError(
            f"the response holds {row_count} of {total} rows (page limit {page.get('limit')!r}); "
            "remove the limit/offset from POPULATION_API_URL"
        )


def _record(number: int, row: Any) -> PopulationRecord:
    """One row, validated: a national row with a four-digit year and a positive whole population."""
    if not isinstance(row, dict):
        raise SourceError(f"row {number} is a JSON {_json_type(row)}, not an object")
    for key in ("Year", "Population", "Nation"):
        if key not in row:
            hint = "; the population must be national (drilldowns Year and Nation)" if key == "Nation" else ""
            raise SourceError(f"row {number} has no {key!r} (keys: {_keys(row)}){hint}")
    nation = row.get("Nation ID", row.get("ID Nation"))
    if nation != UNITED_STATES and not (nation is None and row["Nation"] == "United States"):
        raise SourceError(
            f"row {number} is for Nation ID {nation!r} ({row['Nation']!r}), not the United States ({UNITED_STATES!r})"
        )
    year = _year(row["Year"])
    if year is None:
        raise SourceError(f"row {number} has 'Year' {row['Year']!r}, not a four-digit integer year")
    if "ID Year" in row and _year(row["ID Year"]) != year:
        raise SourceError(f"row {number} has 'ID Year' {row['ID Year']!r} but 'Year' {row['Year']!r}")
    population = _whole_number(row["Population"])
    if population is None or population <= 0:
        raise SourceError(f"row {number} has 'Population' {row['Population']!r}, not a positive whole number")
    return PopulationRecord(year, population)


def _year(value: Any) -> int | None:
    if isinstance(value, str):
        return int(value) if _YEAR_TEXT.fullmatch(value.strip()) else None
    number = _whole_number(value)
    return number if number is not None and 1000 <= number <= 9999 else None


def _whole_number(value: Any) -> int | None:
    """An int, or a float with no fractional part (the tesseract API sends 316128839.0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _keys(mapping: dict[str, Any], limit: int = 10) -> str:
    names = [repr(key) for key in list(mapping)[:limit]]
    if len(mapping) > limit:
        names.append(f"... {len(mapping) - limit} more")
    return ", ".join(names) if names else "none"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


def _api_message(document: dict[str, Any]) -> str:
    """The API's own explanation, when an error document carries one."""
    for key in ("error", "detail", "message"):
        if isinstance(document.get(key), str):
            return f"; the API says: {document[key][:200]!r}"
    return ""


def _snippet(data: bytes) -> str:
    text = data[: _SNIPPET * 4].decode("utf-8", errors="replace")
    return text.split(maxsplit=1)[0][:_SNIPPET] if text.strip() else text[:_SNIPPET]


# --------------------------------------------------------------------------- fetch and store


@dataclass(frozen=True)
class PopulationResult:
    """What one population run found and did."""

    changed: bool
    key: str
    source_url: str
    shape: str
    records: list[PopulationRecord]
    size: int
    sha256: str
    etag: str
    fetched_at: str

    @property
    def ok(self) -> bool:
        """A returned result is a success; failures raise SourceError / StoreError."""
        return True

    def failure(self) -> str:
        """Never called: a returned result is ok."""
        return ""

    @property
    def years(self) -> list[int]:
        """[first, last] year of the stored response."""
        return [self.records[0].year, self.records[-1].year]

    @property
    def missing_years(self) -> list[int]:
        """Years between the first and the last that the response has no row for (e.g. 2020)."""
        present = {record.year for record in self.records}
        return [year for year in range(self.years[0], self.years[1] + 1) if year not in present]

    def to_dict(self) -> dict[str, Any]:
        """The `--json` document."""
        return {
            "changed": self.changed,
            "years": self.years,
            "rows": len(self.records),
            "bytes": self.size,
            "key": self.key,
            "missing_years": self.missing_years,
            "shape": self.shape,
            "sha256": self.sha256,
            "etag": self.etag,
            "source_url": self.source_url,
            "fetched_at": self.fetched_at,
        }


def run_population(settings: Settings, store: Store, *, client: Any = None) -> PopulationResult:
    """Fetch the population, validate it, and store the body as received if it changed.

    Writes at most one object (`population/population.json`) and only when the SHA-256 of
    the body differs from the stored object's `sha256` metadata. Raises SourceError (bad,
    implausible or unreachable source; nothing written) or StoreError.
    """
    url = settings.population_api_url
    body, content_type, fetched_at = _fetch_once(settings, url, client)
    sha256 = hashlib.sha256(body).hexdigest()
    log_event("population_fetched", url=url, bytes=len(body), sha256=sha256, content_type=content_type)
    parsed = _refuse_unless(url, lambda: parse_response(body))
    _refuse_unless(url, lambda: check_plausible(parsed.records, settings))

    def result(changed: bool, etag: str) -> PopulationResult:
        return PopulationResult(changed, POPULATION_KEY, url, parsed.shape, parsed.records,
                                len(body), sha256, etag, fetched_at)

    stored = _stored_head(store)
    if stored is not None and stored.metadata.get("sha256") == sha256:
        log_event("population_unchanged", key=POPULATION_KEY, sha256=sha256, etag=stored.etag)
        return result(False, stored.etag)
    if stored is not None:
        _refuse_unless(url, lambda: check_plausible(parsed.records, settings, _stored_records(store)))
    metadata = {"source-url": _ascii(url), "sha256": sha256, "fetched-at": fetched_at}
    etag = _write(store, body, metadata, stored)
    if etag is None:  # a concurrent run stored this very body
        current = _stored_head(store)
        assert current is not None
        log_event("population_unchanged", key=POPULATION_KEY, sha256=sha256, etag=current.etag)
        return result(False, current.etag)
    first, last = parsed.records[0].year, parsed.records[-1].year
    log_event("population_stored", key=POPULATION_KEY, bytes=len(body), sha256=sha256, etag=etag,
              rows=len(parsed.records), first_year=first, last_year=last, shape=parsed.shape)
    return result(True, etag)


def check_plausible(records: list[PopulationRecord], settings: Settings,
                    stored: dict[int, int] | None = None) -> None:
    """SourceError unless every REPORT_YEARS year is present and, where `stored` has the same
    year, the value is within MAX_YEAR_CHANGE of it."""
    by_year = dict(records)
    start, end = settings.report_start_year, settings.report_end_year
    if missing := [year for year in range(start, end + 1) if year not in by_year]:
        raise SourceError(f"it has no row for {', '.join(map(str, missing))} of REPORT_YEARS {start}-{end}")
    for year, old in sorted((stored or {}).items()):
        new = by_year.get(year)
        if new is not None and abs(new - old) > MAX_YEAR_CHANGE * old:
            raise SourceError(
                f"{year} has {new:,} people where the stored population has {old:,} ({(new - old) / old:+.1%}); "
                f"a year may move by at most {MAX_YEAR_CHANGE:.0%} (revisions, ACS 1-year vs 5-year), "
                "so this looks like another unit or measure"
            )


def _refuse_unless(url: str, check: Callable[[], Any]) -> Any:
    """`check()`'s value; its SourceError becomes the message that nothing was written."""
    try:
        return check()
    except SourceError as error:
        raise SourceError(
            f"unusable population response from {url}: {error}. Nothing was written to {POPULATION_KEY}."
        ) from None


def _fetch_once(settings: Settings, url: str, client: Any) -> tuple[bytes, str, str]:
    if client is not None:
        return _fetch(client, url)
    with PoliteClient.from_settings(settings) as own:
        return _fetch(own, url)


def _stored_records(store: Store) -> dict[int, int]:
    """The stored population by year ({} if it cannot be read: nothing to compare with)."""
    try:
        return dict(parse_population(store.read(POPULATION_KEY).body))
    except (NotFound, SourceError):
        return {}


def _write(store: Store, body: bytes, metadata: dict[str, str], stored: ObjectHead | None) -> str | None:
    """Write conditionally on the version compared with; the new ETag, or None if a concurrent
    run stored the same body meanwhile (StoreError if it stored another)."""
    try:
        if stored is None:
            return store.put(POPULATION_KEY, body, metadata=metadata, content_type=CONTENT_TYPE, if_none_match=True)
        return store.put(POPULATION_KEY, body, metadata=metadata, content_type=CONTENT_TYPE, if_match=stored.etag)
    except PreconditionFailed:
        current = _stored_head(store)
        if current is not None and current.metadata.get("sha256") == metadata["sha256"]:
            return None
        raise StoreError(
            f"{POPULATION_KEY} in {store.url} was replaced by another run while this one was writing; run again"
        ) from None


def _fetch(client: Any, url: str) -> tuple[bytes, str, str]:
    """GET the API (the client retries 429/5xx/connection errors): body, Content-Type, UTC fetch time."""
    import requests

    try:
        response = client.get(url)
    except requests.RequestException as error:  # e.g. a broken chunked body, too many redirects
        raise SourceError(f"GET {url} failed: {error}") from None
    fetched_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if response.status_code != 200:
        raise SourceError(f"GET {url} answered {response.status_code} {response.reason}; expected 200 with JSON")
    return response.content, response.headers.get("Content-Type", ""), fetched_at


def _stored_head(store: Store) -> ObjectHead | None:
    try:
        return store.head(POPULATION_KEY)
    except NotFound:
        return None


def _ascii(url: str) -> str:
    """S3 metadata must be ASCII: percent-encode anything else, keep URL syntax as is."""
    return url if url.isascii() else quote(url, safe=":/?#[]@!$&'()*+,;=%~")
