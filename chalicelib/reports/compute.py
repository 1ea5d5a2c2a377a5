"""The three reports (population statistics, best year per series, series × population),
computed from the stored BLS data file and population and written under `reports/`.

A run whose inputs and options equal those recorded in `summary.json` writes nothing;
the same inputs give byte-identical files. pandas and numpy are imported inside the
functions that compute reports, never at module import (the ingestion Lambda imports this
package). Every report file carries, in its metadata `inputs`, the digest of the input
versions and options it was computed from (`inputs_tag` in `summary.json`); the summary is
written last and only over the version read at the start, so concurrent runs never leave
reports that disagree with it. Definitions, outputs and choices: see docs/reports.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.reports.bls_data import BlsDataReader, period_code
from chalicelib.core.errors import NotFound, PipelineError, PreconditionFailed, SourceError
from chalicelib.core.log import log_event
from chalicelib.core.layout import (
    BEST_YEARS_CSV_KEY,
    BEST_YEARS_JSON_KEY,
    POPULATION_KEY,
    POPULATION_STATS_KEY,
    REPORT_KEYS,
    SERIES_POPULATION_CSV_KEY,
    SERIES_POPULATION_JSON_KEY,
    SUMMARY_KEY,
)
from chalicelib.population.update import PopulationRecord, parse_population
from chalicelib.reports.documents import (
    BestYear,
    BestYears,
    PopulationStats,
    SeriesPopulation,
    SeriesPopulationRow,
    YearPopulation,
)
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store

QUARTERS = ("Q01", "Q02", "Q03", "Q04")
ANNUAL = "Q05"
LOGGED_ROWS = 5  # first rows of a table shown in its log line
_YEAR_FACTOR = 10_000  # (series, year) packed as series * 10_000 + year
# Values have at most 15 digits (bls_data.MAX_DIGITS), so this many fit an int64 sum.
_MAX_ROWS_PER_SUM = 9_000


# ---------------------------------------------------------------------- numbers


def decimal_text(scaled: int, scale: int) -> str:
    """The exact decimal `scaled / 10**scale` as plain text without trailing zeros (`5.7`, `-12`)."""
    text = format(Decimal(int(scaled)).scaleb(-scale).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def decimal_number(scaled: int, scale: int) -> float:
    """The exact decimal as a float whose shortest repr is the exact text (up to 15 digits)."""
    return float(decimal_text(scaled, scale))


# ---------------------------------------------------------------------- 1. population statistics


def _exact_floats(scaled: Any, scale: int) -> list[float]:
    """`decimal_number` for an int64 array: IEEE division is correctly rounded, so below 2**53
    `scaled / 10**scale` is the same double as the exact decimal's text parsed as a float."""
    import numpy as np

    floats = (scaled.astype(np.float64) / 10.0**scale).tolist()
    big = np.flatnonzero(np.abs(scaled) >= 2**53)
    for i in big.tolist():
        floats[i] = decimal_number(int(scaled[i]), scale)
    return floats


def population_stats(records: Iterable[PopulationRecord], start_year: int, end_year: int) -> PopulationStats:
    """Definition 1: mean, sample std (ddof=1) and population std (ddof=0) over start..end inclusive."""
    import pandas as pd

    by_year = {record.year: record.population for record in records}
    years = list(range(start_year, end_year + 1))
    missing = [year for year in years if year not in by_year]
    if missing:
        available = f"{min(by_year)}–{max(by_year)}" if by_year else "none"
        raise SourceError(
            f"population data has no value for year(s) {', '.join(map(str, missing))} "
            f"of the range {start_year}–{end_year} (years available: {available}); "
            "choose another range with --years / REPORT_YEARS"
        )
    population = pd.Series([by_year[year] for year in years], index=years, dtype="int64")
    sample_std = population.std(ddof=1)
    return PopulationStats(
        start_year=start_year,
        end_year=end_year,
        years=years,
        mean=float(population.mean()),
        std=None if pd.isna(sample_std) else float(sample_std),  # one year: undefined
        std_population=float(population.std(ddof=0)),
        population=[YearPopulation(year, int(by_year[year])) for year in years],
    )


# ---------------------------------------------------------------------- 2. + 3. one pass over the data


@dataclass
class DataScan:
    """What one pass over a data file produced."""

    best_years: list[dict[str, Any]]
    no_quarterly_series: list[str]
    selected: list[tuple[int, float | None]]  # (year, exact value or None) of the chosen series/period
    stats: dict[str, Any]


def scan_data(
    reader: BlsDataReader,
    *,
    include_annual: bool = False,
    best_years: bool = True,
    series_id: str | None = None,
    period: str | None = None,
) -> DataScan:
    """Stream the file once: best years (definition 2) and the rows of `series_id`/`period`."""
    summed = [period_code(p) for p in QUARTERS + ((ANNUAL,) if include_annual else ())]
    wanted_period = period_code(period) if period else None
    partials: list[_PartialSums] = []
    selected: list[tuple[int, float | None]] = []
    for block in reader:
        if best_years and (partial := _block_sums(block, summed, reader.source)) is not None:
            partials.append(partial)
        if series_id is not None and wanted_period is not None:
            selected += _selected_rows(block, reader.series_index.get(series_id), wanted_period)
    best = _best_per_series(partials, reader.series_names, reader.source)
    with_sums = {reader.series_index[row["series_id"]] for row in best}
    no_quarterly = (sorted(name for code, name in enumerate(reader.series_names) if code not in with_sums)
                    if best_years else [])
    selected.sort(key=lambda row: row[0])
    return DataScan(best, no_quarterly, selected, reader.stats.to_dict())


@dataclass(frozen=True)
class _PartialSums:
    """One block's sums per (series, year) key (`series * _YEAR_FACTOR + year`), at the block's scale."""

    keys: Any  # int64 array, ascending
    sums: Any  # int64 array
    scale: int


def _block_sums(block: Any, summed: list[int], source: str) -> _PartialSums | None:
    """The sums of the block's valid rows of the `summed` periods per (series, year); None if it has none."""
    import numpy as np

    rows = block.value_ok & np.logical_or.reduce([block.period == code for code in summed])
    keys = block.series[rows].astype(np.int64) * _YEAR_FACTOR + block.year[rows]
    values = block.value[rows]
    if not len(keys):
        return None
    if np.any(keys[1:] < keys[:-1]):  # files are sorted in practice; sort if not
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    if int(np.diff(np.append(starts, len(keys))).max()) > _MAX_ROWS_PER_SUM:
        raise SourceError(f"{source}: more than {_MAX_ROWS_PER_SUM} rows for one series and year")
    return _PartialSums(keys[starts], np.add.reduceat(values, starts), block.scale)


def _selected_rows(block: Any, code: int | None, wanted_period: int) -> list[tuple[int, float | None]]:
    """(year, exact value or None) of the block's rows of series `code` and the wanted period."""
    import numpy as np

    if code is None:
        return []
    mine = np.flatnonzero((block.series == code) & (block.period == wanted_period))
    return [
        (int(block.year[i]), decimal_number(block.value[i], block.scale) if block.value_ok[i] else None)
        for i in mine.tolist()
    ]


def _best_per_series(partials: list[_PartialSums], names: list[str], source: str) -> list[dict[str, Any]]:
    """Combine the blocks' partial sums exactly (int64); per series the year of the largest sum
    (the earliest year on ties), sorted by series id."""
    import numpy as np

    if not partials:
        return []
    scale = max(p.scale for p in partials)
    keys, totals = _combined_sums(partials, scale, source)
    series, years = keys // _YEAR_FACTOR, keys % _YEAR_FACTOR
    # Per series (years ascending within it): the largest sum; the first year reaching it wins ties.
    firsts = np.flatnonzero(np.concatenate(([True], series[1:] != series[:-1])))
    largest = np.repeat(np.maximum.reduceat(totals, firsts), np.diff(np.append(firsts, len(series))))
    reaching = np.flatnonzero(totals == largest)
    winners = reaching[np.concatenate(([True], series[reaching][1:] != series[reaching][:-1]))]
    values = _exact_floats(totals[winners], scale)
    best = [
        {"series_id": names[code], "year": year, "value": value}
        for code, year, value in zip(series[winners].tolist(), years[winners].tolist(), values)
    ]
    return sorted(best, key=lambda row: row["series_id"])


def _combined_sums(partials: list[_PartialSums], scale: int, source: str) -> tuple[Any, Any]:
    """(keys ascending and unique, sums at `scale`): the blocks' partial sums added per key
    (a pair can straddle two blocks); SourceError if int64 could not hold them exactly."""
    import numpy as np

    rescaled = []
    for partial in partials:
        factor = 10 ** (scale - partial.scale)
        if factor > 1 and len(partial.sums) and int(np.abs(partial.sums).max()) > np.iinfo(np.int64).max // factor:
            raise SourceError(f"{source}: values too large to sum exactly at {scale} decimals")
        rescaled.append(partial.sums * factor)
    keys = np.concatenate([p.keys for p in partials])
    totals = np.concatenate(rescaled)
    del rescaled
    if np.any(keys[1:] < keys[:-1]):
        order = np.argsort(keys, kind="stable")
        keys, totals = keys[order], totals[order]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    approximate = np.add.reduceat(totals.astype(np.float64), starts)
    if len(approximate) and float(np.abs(approximate).max()) >= 2.0**62:
        raise SourceError(f"{source}: sums too large for exact 64-bit arithmetic")
    return keys[starts], np.add.reduceat(totals, starts)


def series_population_rows(
    series_id: str,
    period: str,
    selected: Iterable[tuple[int, float | None]],
    population: Iterable[PopulationRecord],
) -> list[dict[str, Any]]:
    """Definition 3: every year's value of the series/period with that year's population (None if unknown)."""
    import pandas as pd

    values = pd.DataFrame(list(selected), columns=["year", "value"], dtype=object).astype({"year": "int64"})
    people = pd.DataFrame([tuple(r) for r in population], columns=["year", "population"]).astype(
        {"year": "int64", "population": "Int64"}
    )
    joined = values.merge(people, on="year", how="left", validate="many_to_one").sort_values("year", kind="stable")
    return [
        {
            "series_id": series_id,
            "year": int(year),
            "period": period,
            "value": value,
            "population": None if pd.isna(people_count) else int(people_count),
        }
        for year, value, people_count in zip(joined["year"], joined["value"], joined["population"])
    ]


def series_population_for(store: Store, settings: Settings, series_id: str, period: str) -> list[dict[str, Any]]:
    """On-demand series × population (definition 3) for any series/period.

    From the silver layer when the data file's partition is current (chalicelib.lake.read),
    else streamed from the data file (bounded memory).
    """
    from chalicelib.lake.read import silver_selection

    series_id, period = series_id.strip().upper(), period.strip().upper()
    population = _read_population(store)
    selected = silver_selection(store, settings.report_data_key, series_id, period)
    if selected is None:
        with _open_data(store, settings.report_data_key) as reader:
            selected = scan_data(reader, best_years=False, series_id=series_id, period=period).selected
    return series_population_rows(series_id, period, selected, population)


# ---------------------------------------------------------------------- run: read, compute, write


@dataclass
class ReportsResult:
    """The outcome of `run_reports`."""

    population_stats: PopulationStats
    best_years: BestYears
    series_population: SeriesPopulation
    inputs: list[dict[str, Any]]
    written: list[str] = field(default_factory=list)
    unchanged: bool = False
    seconds: float = 0.0
    ok: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The `analyze --json` document."""
        stats = {k: v for k, v in self.population_stats.to_dict().items() if k != "population"}
        best = self.best_years.to_dict()
        return {
            "population_stats": stats,
            "best_years": best["series"],
            "series_population": self.series_population.to_dict()["rows"],
            "no_quarterly_series": best["no_quarterly_series"],
            "include_annual": best["include_annual"],
            "invalid_values": best["invalid_values"],
            "malformed_lines": best["malformed_lines"],
            "inputs": self.inputs,
            "reports": list(REPORT_KEYS),
            "written": self.written,
            "unchanged": self.unchanged,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ComputedReports:
    """The three reports as computed (what `report_files` turns into the stored files)."""

    population_stats: PopulationStats
    best_years: BestYears
    series_population: SeriesPopulation


def run_reports(
    settings: Settings,
    store: Store,
    *,
    include_annual: bool = False,
    progress: Callable[[str], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReportsResult:
    """Compute the three reports from `settings.report_data_key` and the population; store them.

    Inputs or options unchanged since the run recorded in `reports/summary.json` → nothing
    is written (`written` empty, `unchanged` True); the reports are still computed and returned.
    """
    started = time.monotonic()
    say = progress or (lambda message: None)
    inputs = [_describe_input(store, settings.report_data_key), _describe_input(store, POPULATION_KEY)]
    options = {
        "start_year": settings.report_start_year,
        "end_year": settings.report_end_year,
        "series_id": settings.report_series_id,
        "period": settings.report_period,
        "include_annual": include_annual,
    }
    previous, summary_etag = _previous_summary(store)
    stored = _unchanged_reports(store, previous, inputs, options)
    if stored is not None:  # a duplicate event: the stored reports are already these
        log_event("reports_unchanged", inputs=inputs, options=options)
        return replace(stored, seconds=time.monotonic() - started)
    say("reading population")
    population = _read_population(store)
    reports = compute_reports(
        settings, population, lambda: _open_data(store, settings.report_data_key),
        include_annual=include_annual, say=say,
    )
    _log_reports(reports)
    say("writing reports")
    written = write_reports(store, reports, inputs_tag(inputs, options))
    seconds = time.monotonic() - started
    summary = _summary(reports, inputs, options, seconds=seconds, generated_at=now())
    _write_summary(store, summary, summary_etag)
    return ReportsResult(
        reports.population_stats, reports.best_years, reports.series_population, inputs,
        written=[*written, SUMMARY_KEY], seconds=seconds,
    )


def compute_reports(
    settings: Settings,
    population: list[PopulationRecord],
    open_data: Callable[[], contextlib.AbstractContextManager[BlsDataReader]],
    *,
    include_annual: bool = False,
    say: Callable[[str], None] = lambda message: None,
) -> ComputedReports:
    """The three reports from the population and one pass over the data file (opened after the
    population statistics, so a bad year range fails before the file is read)."""
    stats = population_stats(population, settings.report_start_year, settings.report_end_year)
    say(f"reading {settings.report_data_key}")
    with open_data() as reader:
        scan = scan_data(
            reader,
            include_annual=include_annual,
            series_id=settings.report_series_id,
            period=settings.report_period,
        )
    best = BestYears(
        include_annual=include_annual,
        series=[BestYear(**row) for row in scan.best_years],
        no_quarterly_series=scan.no_quarterly_series,
        invalid_values=scan.stats["invalid_values"],
        invalid_value_samples=scan.stats["invalid_value_samples"],
        malformed_lines=scan.stats["malformed_lines"],
        rows_read=scan.stats["rows"],
    )
    rows = series_population_rows(settings.report_series_id, settings.report_period, scan.selected, population)
    joined = SeriesPopulation(settings.report_series_id, settings.report_period,
                              [SeriesPopulationRow(**row) for row in rows])
    return ComputedReports(stats, best, joined)


def report_files(reports: ComputedReports) -> dict[str, bytes]:
    """The stored report files (`REPORT_KEYS`) and their bytes."""
    joined_rows = [asdict(row) for row in reports.series_population.rows]
    return {
        POPULATION_STATS_KEY: _json_bytes(reports.population_stats.to_dict()),
        BEST_YEARS_JSON_KEY: _json_bytes(reports.best_years.to_dict()),
        BEST_YEARS_CSV_KEY: _csv_bytes([asdict(row) for row in reports.best_years.series],
                                       ["series_id", "year", "value"]),
        SERIES_POPULATION_JSON_KEY: _json_bytes(reports.series_population.to_dict()),
        SERIES_POPULATION_CSV_KEY: _csv_bytes(joined_rows, ["series_id", "year", "period", "value", "population"]),
    }


def write_reports(store: Store, reports: ComputedReports, tag: str) -> list[str]:
    """Store the report files, each tagged with the `inputs_tag` it was computed from; the keys written."""
    written = []
    for key, body in report_files(reports).items():
        content_type = "text/csv; charset=utf-8" if key.endswith(".csv") else "application/json"
        store.put(key, body, content_type=content_type, metadata={"inputs": tag})
        written.append(key)
    return written


def _summary(
    reports: ComputedReports,
    inputs: list[dict[str, Any]],
    options: dict[str, Any],
    *,
    seconds: float,
    generated_at: datetime,
) -> dict[str, Any]:
    """The `summary.json` document: inputs, options, row counts and the run time."""
    best, joined = reports.best_years, reports.series_population
    return {
        "generated_at": generated_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "seconds": round(seconds, 3),
        "inputs": inputs,
        "options": options,
        "inputs_tag": inputs_tag(inputs, options),
        "reports": list(REPORT_KEYS),
        "rows": {
            "best_years": len(best.series),
            "no_quarterly_series": len(best.no_quarterly_series),
            "series_population": len(joined.rows),
            "data_rows": best.rows_read,
            "invalid_values": best.invalid_values,
            "malformed_lines": best.malformed_lines,
        },
    }


def _unchanged_reports(
    store: Store, previous: dict[str, Any] | None, inputs: list[dict[str, Any]], options: dict[str, Any]
) -> ReportsResult | None:
    """The stored reports if the last run had these inputs and options and every report file
    carries their tag (None: compute them)."""
    if previous and previous.get("inputs") == inputs and previous.get("options") == options:
        return _stored_reports(store, inputs, inputs_tag(inputs, options))
    return None


def inputs_tag(inputs: list[dict[str, Any]], options: dict[str, Any]) -> str:
    """The digest of the input versions and options a report was computed from."""
    document = json.dumps({"inputs": inputs, "options": options}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(document.encode()).hexdigest()[:32]


def _write_summary(store: Store, summary: dict[str, Any], read_etag: str | None) -> None:
    """Written last (a run that fails half-way is redone by the next event), and only over the
    version read at the start: PreconditionFailed if another run wrote it meanwhile."""
    try:
        store.put(SUMMARY_KEY, _json_bytes(summary), content_type="application/json",
                  if_none_match=read_etag is None, if_match=read_etag)
    except PreconditionFailed:
        raise PreconditionFailed(
            f"{SUMMARY_KEY} was written by another analysis while this one computed; the reports "
            "must be computed again (the analysis does so; on the command line, run again)"
        ) from None


def _describe_input(store: Store, key: str) -> dict[str, Any]:
    try:
        head = store.head(key)
    except NotFound:
        hint = "run `bls-pipeline population`" if key == POPULATION_KEY else "run `bls-pipeline mirror`"
        raise PipelineError(f"input {key!r} is not in the store {store.url}; {hint} first") from None
    return {"key": key, "etag": head.etag, "sha256": head.metadata.get("sha256"), "size": head.size}


def _read_population(store: Store) -> list[PopulationRecord]:
    try:
        body = store.read(POPULATION_KEY).body
    except NotFound:
        raise PipelineError(
            f"{POPULATION_KEY!r} is not in the store {store.url}; run `bls-pipeline population` first"
        ) from None
    try:
        return parse_population(body)
    except SourceError as error:
        raise SourceError(f"{POPULATION_KEY}: {error}") from None


@contextlib.contextmanager
def _open_data(store: Store, key: str) -> Iterator[BlsDataReader]:
    """A `BlsDataReader` streaming the stored data file (a clear error if it is absent)."""
    with contextlib.ExitStack() as stack:
        try:
            stream = stack.enter_context(store.open(key))
        except NotFound:
            raise PipelineError(
                f"data file {key!r} is not in the store {store.url}; run `bls-pipeline mirror` "
                "first (or set REPORT_DATA_KEY)"
            ) from None
        yield BlsDataReader(stream, source=key)


def _stored_reports(store: Store, inputs: list[dict[str, Any]], tag: str) -> ReportsResult | None:
    """The reports as stored by the previous run (None if any is missing or unreadable, or was
    computed from other inputs than `tag` names: each report file carries its tag)."""
    tags: dict[str, str | None] = {}
    for key in REPORT_KEYS:
        try:
            tags[key] = store.head(key).metadata.get("inputs")
        except NotFound:
            return None
    if any(found != tag for found in tags.values()):
        log_event("reports_mismatch", expected=tag, found=tags)
        return None
    stored = read_stored_reports(store)
    if stored.population_stats is None or stored.best_years is None or stored.series_population is None:
        return None
    return ReportsResult(stored.population_stats, stored.best_years, stored.series_population, inputs,
                         unchanged=True)


@dataclass(frozen=True)
class StoredReports:
    """The JSON reports found in the store (None: absent); `unreadable`: keys of those that are not valid."""

    population_stats: PopulationStats | None = None
    best_years: BestYears | None = None
    series_population: SeriesPopulation | None = None
    unreadable: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when no report was found (the reports were never computed)."""
        found = (self.population_stats, self.best_years, self.series_population)
        return all(report is None for report in found) and not self.unreadable

    def to_dict(self) -> dict[str, Any] | None:
        """`{report name: stored document}` of the reports found (an unreadable one: `{"error": ...}`), or None."""
        found: dict[str, Any] = {}
        for key, report in ((POPULATION_STATS_KEY, self.population_stats), (BEST_YEARS_JSON_KEY, self.best_years),
                            (SERIES_POPULATION_JSON_KEY, self.series_population)):
            name = _report_name(key)
            if report is not None:
                found[name] = report.to_dict()
            elif key in self.unreadable:
                found[name] = {"error": f"{key} is not valid JSON"}
        return found or None


def read_stored_reports(store: Store) -> StoredReports:
    """Parse the stored JSON reports once, at the boundary (a missing one is None, a broken one unreadable)."""
    parsed: dict[str, Any] = {}
    unreadable: list[str] = []
    for key, kind in ((POPULATION_STATS_KEY, PopulationStats), (BEST_YEARS_JSON_KEY, BestYears),
                      (SERIES_POPULATION_JSON_KEY, SeriesPopulation)):
        try:
            parsed[_report_name(key)] = kind.from_dict(json.loads(store.read(key).body))
        except NotFound:
            continue
        except (ValueError, KeyError, TypeError):
            unreadable.append(key)
    return StoredReports(**parsed, unreadable=tuple(unreadable))


def _report_name(key: str) -> str:
    return key.rsplit("/", 1)[-1].removesuffix(".json")


def _previous_summary(store: Store) -> tuple[dict[str, Any] | None, str | None]:
    """The stored summary (None if absent or unreadable) and its ETag (None if absent)."""
    try:
        stored = store.read(SUMMARY_KEY)
    except NotFound:
        return None, None
    try:
        return json.loads(stored.body), stored.etag
    except ValueError:
        return None, stored.etag


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _csv_bytes(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=columns)
    for column in ("year", "population"):
        if column in frame:
            frame[column] = frame[column].astype("Int64")  # ints stay ints, unknown stays empty
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _log_reports(result: ComputedReports) -> None:
    stats = result.population_stats
    log_event("report_produced", report="population_stats", key=POPULATION_STATS_KEY, **stats.to_dict())
    best = result.best_years
    log_event(
        "report_produced",
        report="best_years",
        key=BEST_YEARS_JSON_KEY,
        rows=len(best.series),
        first_rows=[asdict(row) for row in best.series[:LOGGED_ROWS]],
        include_annual=best.include_annual,
        no_quarterly_series=len(best.no_quarterly_series),
        first_no_quarterly_series=best.no_quarterly_series[:LOGGED_ROWS],
        invalid_values=best.invalid_values,
        invalid_value_samples=best.invalid_value_samples,
        malformed_lines=best.malformed_lines,
    )
    joined = result.series_population
    log_event(
        "report_produced",
        report="series_population",
        key=SERIES_POPULATION_JSON_KEY,
        series_id=joined.series_id,
        period=joined.period,
        rows=len(joined.rows),
        first_rows=[asdict(row) for row in joined.rows[:LOGGED_ROWS]],
        rows_without_population=sum(1 for row in joined.rows if row.population is None),
    )
