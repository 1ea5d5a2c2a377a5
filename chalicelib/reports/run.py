"""A reports run: read the inputs, compute the three reports, write them under `reports/`.

Inputs and options as recorded in `summary.json` → nothing written; the same inputs give
byte-identical files. Each report file's metadata `inputs` is the digest of the input versions
and options it was computed from (`inputs_tag`); the summary is written last, only over the
version read at the start, so concurrent runs never leave reports that disagree with it.
pandas/numpy are imported in functions only. See docs/reports.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.bls.data_file import BlsDataReader
from chalicelib.core.errors import NotFound, PreconditionFailed
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
from chalicelib.core.log import log_event
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store
from chalicelib.population.update import PopulationRecord
from chalicelib.reports.definitions import population_stats, series_population_rows
from chalicelib.reports.documents import BestYears, PopulationStats, SeriesPopulation
from chalicelib.reports.inputs import (
    ReportInput,
    describe_input,
    open_data,
    read_population,
)
from chalicelib.reports.scan import scan_data
from chalicelib.reports.stored import read_stored_reports

LOGGED_ROWS = 5  # first rows of a table shown in its log line


@dataclass(frozen=True)
class ReportOptions:
    """The options a run computed the reports with (recorded in `summary.json`)."""

    start_year: int
    end_year: int
    series_id: str
    period: str
    include_annual: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, include_annual: bool = False) -> ReportOptions:
        return cls(settings.report_start_year, settings.report_end_year, settings.report_series_id,
                   settings.report_period, include_annual)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReportsResult:
    """The outcome of `run_reports`."""

    population_stats: PopulationStats
    best_years: BestYears
    series_population: SeriesPopulation
    inputs: list[ReportInput]
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
            "inputs": [item.to_dict() for item in self.inputs],
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
    inputs = [describe_input(store, settings.report_data_key), describe_input(store, POPULATION_KEY)]
    options = ReportOptions.from_settings(settings, include_annual=include_annual)
    previous, summary_etag = _previous_summary(store)
    stored = _unchanged_reports(store, previous, inputs, options)
    if stored is not None:  # a duplicate event: the stored reports are already these
        log_event("reports_unchanged", inputs=_json_inputs(inputs), options=options.to_dict())
        return replace(stored, seconds=time.monotonic() - started)
    say("reading population")
    population = read_population(store)
    reports = compute_reports(
        settings, population, lambda: open_data(store, settings.report_data_key),
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
        series=scan.best_years,
        no_quarterly_series=scan.no_quarterly_series,
        invalid_values=scan.stats.invalid_values,
        invalid_value_samples=scan.stats.invalid_value_samples,
        malformed_lines=scan.stats.malformed_lines,
        rows_read=scan.stats.rows,
    )
    rows = series_population_rows(settings.report_series_id, settings.report_period, scan.selected, population)
    return ComputedReports(stats, best, SeriesPopulation(settings.report_series_id, settings.report_period, rows))


def report_files(reports: ComputedReports) -> dict[str, bytes]:
    """The stored report files (`REPORT_KEYS`) and their bytes."""
    return {
        POPULATION_STATS_KEY: _json_bytes(reports.population_stats.to_dict()),
        BEST_YEARS_JSON_KEY: _best_years_json(reports.best_years),
        BEST_YEARS_CSV_KEY: _csv_bytes(reports.best_years.series, ["series_id", "year", "value"]),
        SERIES_POPULATION_JSON_KEY: _json_bytes(reports.series_population.to_dict()),
        SERIES_POPULATION_CSV_KEY: _csv_bytes(reports.series_population.rows,
                                              ["series_id", "year", "period", "value", "population"]),
    }


def write_reports(store: Store, reports: ComputedReports, tag: str) -> list[str]:
    """Store the report files, each tagged with the `inputs_tag` it was computed from; the keys written."""
    written = []
    for key, body in report_files(reports).items():
        content_type = "text/csv; charset=utf-8" if key.endswith(".csv") else "application/json"
        store.put(key, body, content_type=content_type, metadata={"inputs": tag})
        written.append(key)
    return written


def inputs_tag(inputs: list[ReportInput], options: ReportOptions) -> str:
    """The digest of the input versions and options a report was computed from."""
    document = json.dumps({"inputs": _json_inputs(inputs), "options": options.to_dict()},
                          sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(document.encode()).hexdigest()[:32]


def _json_inputs(inputs: list[ReportInput]) -> list[dict[str, Any]]:
    return [item.to_dict() for item in inputs]


def _summary(
    reports: ComputedReports,
    inputs: list[ReportInput],
    options: ReportOptions,
    *,
    seconds: float,
    generated_at: datetime,
) -> dict[str, Any]:
    """The `summary.json` document: inputs, options, row counts and the run time."""
    best, joined = reports.best_years, reports.series_population
    return {
        "generated_at": generated_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "seconds": round(seconds, 3),
        "inputs": _json_inputs(inputs),
        "options": options.to_dict(),
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
    store: Store, previous: dict[str, Any] | None, inputs: list[ReportInput], options: ReportOptions
) -> ReportsResult | None:
    """The stored reports if the last run had these inputs and options and every report file
    carries their tag (None: compute them)."""
    if previous and previous.get("inputs") == _json_inputs(inputs) and previous.get("options") == options.to_dict():
        return _stored_reports(store, inputs, inputs_tag(inputs, options))
    return None


def _stored_reports(store: Store, inputs: list[ReportInput], tag: str) -> ReportsResult | None:
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


def _best_years_json(best: BestYears) -> bytes:
    """`_json_bytes(best.to_dict())`, ~5x faster: `indent` makes `json` encode in pure Python."""
    document = _json_bytes(replace(best, series=[]).to_dict()).decode()
    if not best.series:
        return document.encode()
    text = json.encoder.encode_basestring
    rows = ",\n    ".join(f'{{\n      "series_id": {text(r.series_id)},\n      "year": {int(r.year)},\n      '
                          f'"value": {_number(r.value)}\n    }}' for r in best.series)
    return document.replace('"series": []', '"series": [\n    ' + rows + "\n  ]", 1).encode()


def _number(value: float) -> str:
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value, allow_nan=False)  # an int; or the error json gives NaN and infinities


def _csv_bytes(rows: Sequence[Any], columns: list[str]) -> bytes:
    import pandas as pd

    frame = pd.DataFrame({name: [getattr(row, name) for row in rows] for name in columns})
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
