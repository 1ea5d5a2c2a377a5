"""Reading the gold layer for the web explorer (issue 20): surveys, series search, one series.

Typed answers (`answers.py`) cross the boundary, never pandas objects; values are read through
`stored.py`, the one place that knows how they are stored.

Speed: a survey's catalog (and its latest values) are indexed once per process and object
version — a private cache keyed by the object's ETag, checked with one HEAD per request — so a
search over 100,000 series is a scan of prepared strings (bench/explorer_bench.py). The other
tables and the silver observations are read from a local copy per ETag (`cache.py`: Lambda's /tmp
survives between invocations of a warm function), bounded in total size.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.layout import SILVER_PREFIX
from chalicelib.core.store import Store
from chalicelib.gold import tables
from chalicelib.gold.answers import (
    AnnualRow,
    BestYear,
    CatalogEntry,
    Latest,
    Observation,
    SearchResult,
    SeriesDetail,
    SeriesHit,
    SurveySummary,
)
from chalicelib.gold.cache import cached, clear_caches, current, local_copy
from chalicelib.gold.stored import column_values, count_rows, decimal_text_of, read_parquet, seekable
from chalicelib.lake import tables as silver
from chalicelib.mirror.status import mirror_status

__all__ = ["MAX_LIMIT", "SURVEY_PATTERN", "AnnualRow", "BestYear", "CatalogEntry", "Latest", "Observation",
           "SearchResult", "SeriesDetail", "SeriesHit", "SurveySummary", "clear_caches", "query_words", "search",
           "search_series", "series_detail", "survey_of_series", "surveys"]

MAX_LIMIT = 1000  # search results per request
MAX_WORDS = 20
MAX_OBSERVATIONS = 20_000  # ~60 bytes each in JSON: a series answer stays far below API Gateway's 6 MB
SURVEY_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")

_NON_WORD = re.compile(r"[^0-9A-Z]+")


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
        count = None if catalog is None else cached(store, catalog.key, catalog.etag, "count", count_rows)
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
    return current(store, tables.SERIES_CATALOG, survey, "catalog",
                    lambda s, key: _load_catalog(s, key, survey))


def _load_catalog(store: Store, key: str, survey: str) -> _CatalogIndex:
    names = [name for name, _ in tables.COLUMNS[tables.SERIES_CATALOG]]
    with store.open(key) as stream:
        frame, _ = read_parquet(seekable(stream), names)
    frame = frame.sort_values("series_id", kind="stable")
    ids = [str(v) for v in frame["series_id"].astype(object).tolist()]
    titles = [t or i for t, i in zip(column_values(frame, "title"), ids)]  # never an empty title
    periodicity = [p or "" for p in column_values(frame, "periodicity")]
    import pandas as pd

    words = (pd.Series(ids, dtype=object) + " " + pd.Series(titles, dtype=object)).str.upper()
    haystack = (" " + words.str.replace(_NON_WORD.pattern, " ", regex=True).str.strip() + " ").tolist()
    rows = {name: column_values(frame, name) for name in names if name not in ("series_id", "title", "periodicity")}
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
            return decimal_text_of(columns[name][i], self.scales.get(name, silver.VALUE_SCALE))

        value, year, pct = text("value"), columns["year"][i], columns["pct_change"][i]
        if value is None or year is None:
            return None
        return Latest(int(year), str(columns["period"][i]), value, text("year_ago_value"), text("change"),
                      None if pct is None else float(pct))


_NO_LATEST = _LatestIndex({"series_id": []}, {})


def _latest(store: Store, survey: str) -> _LatestIndex:
    try:
        return current(store, tables.SERIES_LATEST, survey, "latest", _load_latest)
    except NotFound:
        return _NO_LATEST


def _load_latest(store: Store, key: str) -> _LatestIndex:
    names = [name for name, _ in tables.COLUMNS[tables.SERIES_LATEST]]
    with store.open(key) as stream:
        frame, scales = read_parquet(seekable(stream), names)
    return _LatestIndex({name: column_values(frame, name) for name in names}, scales)


def _series_rows(store: Store, key: str, series_id: str, table: str) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """One series' rows of a gold partition: each column as a list, and the decimal scales."""
    names = [name for name, _ in tables.COLUMNS[table]]
    path = local_copy(store, key, store.head(key).etag)
    frame, scales = read_parquet(str(path), names, series_id)
    return {name: column_values(frame, name) for name in names}, scales


def _annual(store: Store, survey: str, series_id: str) -> list[AnnualRow]:
    try:
        rows, scales = _series_rows(store, tables.partition_key(tables.SERIES_ANNUAL, survey), series_id,
                                    tables.SERIES_ANNUAL)
    except NotFound:
        return []

    def text(name: str, i: int) -> str | None:
        return decimal_text_of(rows[name][i], scales.get(name, silver.VALUE_SCALE))

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
            if (value := decimal_text_of(rows["value"][i], scales.get("value", silver.VALUE_SCALE))) is not None]
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
        frame, scales = read_parquet(str(local_copy(store, info.key, info.etag)),
                                      ["series_id", "year", "period", "value", "footnote_codes"], series_id)
        scale = scales.get("value", silver.VALUE_SCALE)
        for year, period, value, footnotes in zip(column_values(frame, "year"), column_values(frame, "period"),
                                                  column_values(frame, "value"), column_values(frame, "footnote_codes")):
            text = decimal_text_of(value, scale)
            if year is None or period is None or text is None:
                continue
            seen.setdefault((int(year), str(period)), Observation(int(year), str(period), text, footnotes or None))
    return [seen[k] for k in sorted(seen)]
