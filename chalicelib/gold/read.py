"""Reading the gold layer for the web explorer (issue 20): surveys, series search, one series.

Typed dataclasses cross the boundary, never pandas objects. Decimal values are exact text
(`"123.4"`), converted in one place (`_decimal_text`, from the raw scaled integers that
`_read_parquet` returns): if the silver/gold value type widens, only those two helpers change.

Speed: a survey's catalog (and its latest values) are indexed once per process and object
version — a private cache keyed by the object's ETag, checked with one HEAD per request — so a
search over 100,000 series is a scan of prepared strings (bench/explorer_bench.py). The other
tables and the silver observations are read from a local copy per ETag (Lambda's /tmp survives
between invocations of a warm function), bounded in total size.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from chalicelib.bls.decimals import decimal_text
from chalicelib.core.errors import NotFound
from chalicelib.core.layout import SILVER_PREFIX
from chalicelib.core.store import Store
from chalicelib.gold import tables
from chalicelib.lake import tables as silver
from chalicelib.lake.parquet import decimal_ints
from chalicelib.mirror.status import mirror_status

if TYPE_CHECKING:
    import pandas as pd

MAX_LIMIT = 1000  # search results per request
MAX_WORDS = 20
MAX_OBSERVATIONS = 20_000  # ~60 bytes each in JSON: a series answer stays far below API Gateway's 6 MB
SURVEY_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")
CACHE_DIR = Path(tempfile.gettempdir()) / "bls-pipeline-gold"
CACHE_BYTES = 384 * 1024 * 1024  # local copies kept (Lambda's /tmp is 512 MiB by default)
INDEX_ENTRIES = 16  # indexed catalogs kept in memory (one per survey and object version)

_NON_WORD = re.compile(r"[^0-9A-Z]+")


# ---- what the explorer reads ----------------------------------------------------------------


@dataclass(frozen=True)
class SurveySummary:
    """A mirrored survey: its series count (None while it has no gold catalog), files, bytes, last change."""

    survey: str
    series_count: int | None
    files: int
    bytes: int
    last_change: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Latest:
    """The latest sub-annual observation and its change from the same period a year earlier."""

    year: int
    period: str
    value: str
    year_ago_value: str | None
    change: str | None
    pct_change: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeriesHit:
    """One search result."""

    series_id: str
    title: str
    periodicity: str
    latest: Latest | None

    def to_dict(self) -> dict[str, Any]:
        return {"series_id": self.series_id, "title": self.title, "periodicity": self.periodicity,
                "latest": self.latest.to_dict() if self.latest else None}


@dataclass(frozen=True)
class SearchResult:
    """The first `limit` matches, best first, and how many series matched in all."""

    survey: str
    total: int
    hits: list[SeriesHit]


@dataclass(frozen=True)
class CatalogEntry:
    survey: str
    series_id: str
    title: str
    seasonal: str | None
    periodicity: str
    begin_year: int | None
    begin_period: str | None
    end_year: int | None
    end_period: str | None
    codes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    year: int
    period: str
    value: str
    footnote_codes: str | None


@dataclass(frozen=True)
class AnnualRow:
    year: int
    periods: int
    value_sum: str | None
    value_mean: str | None
    published_annual: str | None
    complete: bool


@dataclass(frozen=True)
class BestYear:
    year: int
    value: str
    basis: str


@dataclass(frozen=True)
class SeriesDetail:
    """One series: catalog entry, every observation (exact text), annual rows, best year, latest."""

    catalog: CatalogEntry
    observations: list[Observation]
    observation_count: int  # before truncation
    annual: list[AnnualRow]
    best_year: BestYear | None
    latest: Latest | None

    @property
    def truncated(self) -> bool:
        return self.observation_count > len(self.observations)

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self.catalog)
        document.update(
            observation_count=self.observation_count,
            truncated=self.truncated,
            observations=[asdict(o) for o in self.observations],
            annual=[asdict(a) for a in self.annual],
            best_year=asdict(self.best_year) if self.best_year else None,
            latest=self.latest.to_dict() if self.latest else None,
        )
        return document


# ---- public functions -------------------------------------------------------------------------


def surveys(store: Store) -> list[SurveySummary]:
    """Every mirrored survey with its series count (from its gold catalog), files, bytes, last change."""
    catalogs = {}
    for info in store.list(tables.table_prefix(tables.SERIES_CATALOG)):
        survey = tables.survey_of_key(tables.SERIES_CATALOG, info.key)
        if survey:
            catalogs[survey] = info
    result = []
    for status in mirror_status(store, files_of=()):
        catalog = catalogs.get(status.survey)
        count = None if catalog is None else _cached(store, catalog.key, catalog.etag, "count", _count_rows)
        result.append(SurveySummary(status.survey, count, status.file_count, status.bytes, status.last_change))
    return result


def query_words(text: str) -> list[str]:
    """The words of a search (letters and digits, upper-cased); everything else separates them."""
    return [word for word in _NON_WORD.split(text.upper()) if word]


def search(store: Store, survey: str, words: Iterable[str], limit: int) -> SearchResult:
    """Series of `survey` whose id or title holds every word, best matches first; NotFound without a catalog.

    Best: the id itself, then the most words matching whole words, then words starting a word,
    then shorter titles, then by id. No words: the first `limit` series by id.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIMIT}")
    wanted = [w for word in words for w in query_words(word)][:MAX_WORDS]
    index = _catalog(store, survey)
    if not wanted:
        found = list(range(len(index.ids)))
        chosen = found[:limit]
    else:
        found = _matches(index.haystack, wanted)
        whole = [f" {w} " for w in wanted]
        starts = [f" {w}" for w in wanted]
        ids, titles, haystack, query = index.ids, index.titles, index.haystack, " ".join(wanted)

        def rank(i: int) -> tuple[int, int, int, int, str]:
            text = haystack[i]
            return (ids[i] != query, -sum(w in text for w in whole), -sum(s in text for s in starts),
                    len(titles[i]), ids[i])

        chosen = heapq.nsmallest(limit, found, key=rank)
    latest = _latest(store, survey)
    hits = [SeriesHit(index.ids[i], index.titles[i], index.periodicity[i], latest.get(index.ids[i]))
            for i in chosen]
    return SearchResult(survey, len(found), hits)


def search_series(store: Store, survey: str, words: Iterable[str], limit: int) -> list[SeriesHit]:
    """The first `limit` matches of `search`."""
    return search(store, survey, words, limit).hits


def survey_of_series(series_id: str) -> str:
    """The survey a BLS series id belongs to: its first two letters (`CUUR0000SA0` -> `cu`)."""
    return series_id[:2].lower()


def series_detail(store: Store, series_id: str, survey: str | None = None) -> SeriesDetail | None:
    """Everything about one series; None if its survey's catalog does not list it."""
    survey = survey or survey_of_series(series_id)
    try:
        index = _catalog(store, survey)
    except NotFound:
        return None
    position = index.position.get(series_id)
    if position is None:
        return None
    observations = _observations(store, survey, series_id)
    return SeriesDetail(
        catalog=index.entry(position),
        observations=observations[:MAX_OBSERVATIONS],
        observation_count=len(observations),
        annual=_annual(store, survey, series_id),
        best_year=_best_year(store, survey, series_id),
        latest=_latest(store, survey).get(series_id),
    )


# ---- decimals and Parquet: the one place that knows how values are stored --------------------


def _decimal_text(scaled: Any, scale: int) -> str | None:
    """Exact text of a raw scaled decimal as `_read_parquet` returns it (None for a missing value)."""
    if _missing(scaled):
        return None
    return decimal_text(int(scaled), scale)


def _read_parquet(source: str | IO[bytes], columns: list[str], series_id: str | None = None
                  ) -> tuple[pd.DataFrame, dict[str, int]]:
    """The columns of a Parquet file (only `series_id`'s rows when given), decimal columns as their raw
    scaled integers (nullable Int64 where the column is optional), and each decimal column's scale.

    fastparquet would turn an INT64 DECIMAL into a float (and an optional one into truncated integers):
    the annotation is dropped from the schema before reading, so the stored integers come back exact.
    """
    import pandas as pd
    from fastparquet import ParquetFile
    from fastparquet import parquet_thrift as thrift

    parquet = ParquetFile(source)
    scales, cells, widths = {}, [], {}
    for element in parquet.fmd.schema:
        if element.converted_type == thrift.ConvertedType.DECIMAL:
            if element.type not in (thrift.Type.INT64, thrift.Type.FIXED_LEN_BYTE_ARRAY):
                raise ValueError(f"column {element.name}: only INT64 and FIXED_LEN_BYTE_ARRAY decimals are read here")
            if element.type == thrift.Type.FIXED_LEN_BYTE_ARRAY:
                cells.append(element.name)
                if element.repetition_type == thrift.FieldRepetitionType.REQUIRED:
                    widths[element.name] = int(element.type_length)
            scales[element.name] = int(element.scale)
            element.converted_type = None
            element.logicalType = None
    if scales:
        parquet._base_dtype = None
        parquet._set_attrs()
    present = [c for c in columns if c in parquet.columns]
    filters = [("series_id", "==", series_id)] if series_id is not None else None
    # Required cells as void bytes: numpy's `S` type would drop their trailing zero bytes.
    dtypes = {**parquet.dtypes, **{name: f"V{width}" for name, width in widths.items()}}
    frame = parquet.to_pandas(columns=present, filters=filters, dtypes=dtypes)  # row groups by their statistics
    for name in (c for c in widths if c in frame.columns):
        frame[name] = decimal_ints(frame[name].to_numpy())
    if series_id is not None:
        frame = frame[frame["series_id"] == series_id]
    for name in (c for c in cells if c in frame.columns and c not in widths):  # optional cells: bytes or None
        width = parquet.schema.root.children[name].type_length
        frame[name] = pd.Series([None if _missing(v) else _cell_int(bytes(v), width) for v in frame[name]],
                                index=frame.index, dtype=object)
    return frame, scales


def _cell_int(cell: bytes, width: int) -> int:
    """A big-endian two's complement cell as read back (fastparquet drops its trailing zero bytes)."""
    return int.from_bytes(cell.ljust(width, b"\0"), "big", signed=True)


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    """A column as Python values, None for missing ones (or all None when the file lacks the column)."""
    if name not in frame.columns:
        return [None] * len(frame)
    column = frame[name].astype(object)
    return column.where(column.notna(), None).tolist()


def _missing(value: Any) -> bool:
    """None, NaN or pandas' NA (recognised without importing pandas at import time)."""
    return value is None or (isinstance(value, float) and value != value) or type(value).__name__ == "NAType"


# ---- caches ------------------------------------------------------------------------------------

_MEMORY: OrderedDict[tuple[str, str, str], tuple[str, Any]] = OrderedDict()
_LOCK = threading.Lock()


def _cached[T](store: Store, key: str, etag: str, kind: str, load: Callable[[Store, str], T]) -> T:
    """`load(store, key)` once per object version (ETag) and kind, per process (least recently used kept)."""
    slot = (store.url, key, kind)
    with _LOCK:
        hit = _MEMORY.get(slot)
        if hit is not None and hit[0] == etag:
            _MEMORY.move_to_end(slot)
            return hit[1]  # type: ignore[no-any-return]
    value = load(store, key)
    with _LOCK:
        _MEMORY[slot] = (etag, value)
        _MEMORY.move_to_end(slot)
        while len(_MEMORY) > INDEX_ENTRIES * 3:
            _MEMORY.popitem(last=False)
    return value


def _current[T](store: Store, table: str, survey: str, kind: str, load: Callable[[Store, str], T]) -> T:
    """The cached `load` of a survey's partition of `table` (one HEAD); NotFound if it does not exist."""
    key = tables.partition_key(table, survey)
    return _cached(store, key, store.head(key).etag, kind, load)


def _local_copy(store: Store, key: str, etag: str) -> Path:
    """A local file with the object's bytes, kept per ETag; the oldest copies go beyond CACHE_BYTES."""
    name = hashlib.sha256(f"{store.url}\0{key}\0{etag}".encode()).hexdigest()[:32] + ".parquet"
    path = CACHE_DIR / name
    if path.exists():
        os.utime(path)
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=CACHE_DIR, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, store.open(key) as stream:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    copies = sorted(CACHE_DIR.glob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for copy in copies:
        total += copy.stat().st_size
        if total > CACHE_BYTES and copy != path:
            copy.unlink(missing_ok=True)
    return path


def _count_rows(store: Store, key: str) -> int:
    from fastparquet import ParquetFile

    with store.open(key) as stream:
        return int(ParquetFile(_seekable(stream)).count())


def _seekable(stream: IO[bytes]) -> IO[bytes]:
    import io

    return io.BytesIO(stream.read())


# ---- the catalog index (search) -----------------------------------------------------------------


@dataclass
class _CatalogIndex:
    """A survey's catalog prepared for search: rows by series id, one upper-case word string per series."""

    survey: str
    ids: list[str]
    titles: list[str]
    periodicity: list[str]
    haystack: list[str]  # " WORD WORD ... " of the id and title
    position: dict[str, int]
    rows: dict[str, list[Any]]  # the other catalog columns, by position

    def entry(self, i: int) -> CatalogEntry:
        rows = self.rows
        try:
            codes = json.loads(rows["codes"][i] or "{}")
        except ValueError:
            codes = {}
        return CatalogEntry(
            survey=self.survey, series_id=self.ids[i], title=self.titles[i], seasonal=rows["seasonal"][i],
            periodicity=self.periodicity[i], begin_year=_int_or_none(rows["begin_year"][i]),
            begin_period=rows["begin_period"][i], end_year=_int_or_none(rows["end_year"][i]),
            end_period=rows["end_period"][i], codes=codes if isinstance(codes, dict) else {},
        )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _catalog(store: Store, survey: str) -> _CatalogIndex:
    return _current(store, tables.SERIES_CATALOG, survey, "catalog",
                    lambda s, key: _load_catalog(s, key, survey))


def _load_catalog(store: Store, key: str, survey: str) -> _CatalogIndex:
    names = [name for name, _ in tables.COLUMNS[tables.SERIES_CATALOG]]
    with store.open(key) as stream:
        frame, _ = _read_parquet(_seekable(stream), names)
    frame = frame.sort_values("series_id", kind="stable")
    ids = [str(v) for v in frame["series_id"].astype(object).tolist()]
    titles = [t or i for t, i in zip(_column(frame, "title"), ids)]  # never an empty title
    periodicity = [p or "" for p in _column(frame, "periodicity")]
    import pandas as pd

    words = (pd.Series(ids, dtype=object) + " " + pd.Series(titles, dtype=object)).str.upper()
    haystack = (" " + words.str.replace(_NON_WORD.pattern, " ", regex=True).str.strip() + " ").tolist()
    rows = {name: _column(frame, name) for name in names if name not in ("series_id", "title", "periodicity")}
    return _CatalogIndex(survey, ids, titles, periodicity, haystack, {s: i for i, s in enumerate(ids)}, rows)


def _matches(haystack: list[str], words: list[str]) -> list[int]:
    """Positions whose text holds every word (narrowed word by word, rarest first pays off little)."""
    found: Iterable[int] = range(len(haystack))
    for word in words:
        found = [i for i in found if word in haystack[i]]
    return list(found)


# ---- the other tables ---------------------------------------------------------------------------


class _LatestIndex:
    """A survey's latest values by series id, made into `Latest` only when asked for (a search shows 50)."""

    def __init__(self, columns: dict[str, list[Any]], scales: dict[str, int]) -> None:
        self.columns = columns
        self.scales = scales
        self.position = {str(series_id): i for i, series_id in enumerate(columns["series_id"])}

    def get(self, series_id: str) -> Latest | None:
        i = self.position.get(series_id)
        if i is None:
            return None
        columns = self.columns

        def text(name: str) -> str | None:
            return _decimal_text(columns[name][i], self.scales.get(name, silver.VALUE_SCALE))

        value, year, pct = text("value"), columns["year"][i], columns["pct_change"][i]
        if value is None or year is None:
            return None
        return Latest(int(year), str(columns["period"][i]), value, text("year_ago_value"), text("change"),
                      None if pct is None else float(pct))


_NO_LATEST = _LatestIndex({"series_id": []}, {})


def _latest(store: Store, survey: str) -> _LatestIndex:
    try:
        return _current(store, tables.SERIES_LATEST, survey, "latest", _load_latest)
    except NotFound:
        return _NO_LATEST


def _load_latest(store: Store, key: str) -> _LatestIndex:
    names = [name for name, _ in tables.COLUMNS[tables.SERIES_LATEST]]
    with store.open(key) as stream:
        frame, scales = _read_parquet(_seekable(stream), names)
    return _LatestIndex({name: _column(frame, name) for name in names}, scales)


def _series_rows(store: Store, key: str, series_id: str, table: str) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """One series' rows of a gold partition: each column as a list, and the decimal scales."""
    names = [name for name, _ in tables.COLUMNS[table]]
    path = _local_copy(store, key, store.head(key).etag)
    frame, scales = _read_parquet(str(path), names, series_id)
    return {name: _column(frame, name) for name in names}, scales


def _annual(store: Store, survey: str, series_id: str) -> list[AnnualRow]:
    try:
        rows, scales = _series_rows(store, tables.partition_key(tables.SERIES_ANNUAL, survey), series_id,
                                    tables.SERIES_ANNUAL)
    except NotFound:
        return []

    def text(name: str, i: int) -> str | None:
        return _decimal_text(rows[name][i], scales.get(name, silver.VALUE_SCALE))

    annual = [AnnualRow(int(year), int(rows["periods"][i] or 0), text("value_sum", i), text("value_mean", i),
                        text("published_annual", i), bool(rows["complete"][i]))
              for i, year in enumerate(rows["year"])]
    return sorted(annual, key=lambda row: row.year)


def _best_year(store: Store, survey: str, series_id: str) -> BestYear | None:
    try:
        rows, scales = _series_rows(store, tables.partition_key(tables.SERIES_BEST_YEAR, survey), series_id,
                                    tables.SERIES_BEST_YEAR)
    except NotFound:
        return None
    best = [BestYear(int(year), value, str(rows["basis"][i]))
            for i, year in enumerate(rows["year"])
            if (value := _decimal_text(rows["value"][i], scales.get("value", silver.VALUE_SCALE))) is not None]
    return min(best, key=lambda b: (tables.BASES.index(b.basis) if b.basis in tables.BASES else 9, b.year),
               default=None)


def _observations(store: Store, survey: str, series_id: str) -> list[Observation]:
    """Every observation of the series in the survey's silver data files, one per (year, period),
    by year and period; where files overlap (`.0.Current` and `.1.AllData`) the first file by name wins."""
    prefix = f"{SILVER_PREFIX}{silver.BLS_DATA}/survey={survey}/"
    seen: dict[tuple[int, str], Observation] = {}
    for info in store.list(prefix):
        if not info.key.endswith("/" + silver.PART_NAME):
            continue
        frame, scales = _read_parquet(str(_local_copy(store, info.key, info.etag)),
                                      ["series_id", "year", "period", "value", "footnote_codes"], series_id)
        scale = scales.get("value", silver.VALUE_SCALE)
        for year, period, value, footnotes in zip(_column(frame, "year"), _column(frame, "period"),
                                                  _column(frame, "value"), _column(frame, "footnote_codes")):
            text = _decimal_text(value, scale)
            if year is None or period is None or text is None:
                continue
            seen.setdefault((int(year), str(period)), Observation(int(year), str(period), text, footnotes or None))
    return [seen[k] for k in sorted(seen)]


def clear_caches() -> None:
    """Forget the in-memory indexes (tests; the local copies stay valid: they are keyed by ETag)."""
    with _LOCK:
        _MEMORY.clear()
