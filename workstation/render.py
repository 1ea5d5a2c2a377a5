"""Text for people: every human-readable rendering of a result, and the one number formatter.

`mirror_text`, `population_text`, `reports_text` and `run_text` turn the typed results of
`chalicelib` into the text `bls-pipeline` prints (its `--json` prints their `to_dict()`).
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.layout import REPORTS_PREFIX
from chalicelib.mirror.results import MirrorResult
from chalicelib.population.update import TESSERACT, PopulationResult
from chalicelib.reports.run import ReportsResult
from workstation.local_run import RunResult


def number(value: Any, decimals: int | None = None) -> str:
    """The one number formatter: thousands separators; `decimals` fixed digits, or the exact value.

    Without `decimals`, a float below 100,000 is shown exactly as it is (a BLS value such as
    `5.7`); larger floats (populations and their statistics) get at most 3 decimals.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    if isinstance(value, float):
        if abs(value) >= 100_000:
            return f"{value:,.3f}".rstrip("0").rstrip(".")
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --------------------------------------------------------------------------- mirror


def mirror_text(result: MirrorResult) -> str:
    """A short account of a mirror run: one line per survey, then its plan, failures and errors."""
    lines = []
    for survey in result.surveys:
        if not survey.reached:
            lines.append(f"{survey.survey}: not reached (time budget used up)")
            continue
        verb = "would " if result.dry_run else ""
        lines.append(
            f"{survey.survey} ({survey.source_url} -> {survey.prefix}): {verb}add {len(survey.added)}, "
            f"{verb}update {len(survey.updated)}, {verb}delete {len(survey.deleted)}, "
            f"unchanged {len(survey.unchanged)}, failed {len(survey.failed)}; "
            f"{survey.bytes_downloaded} bytes downloaded, {survey.bytes_uploaded} uploaded, "
            f"{survey.source_requests} source requests"
            + (f"; {len(survey.pending)} pending" if survey.pending else "")
        )
        for step in survey.plan:
            lines.append(f"  {step['action']:<7} {step['name']}  ({step['reason']})")
        for name in survey.failed:
            lines.append(f"  FAILED  {name}")
        for error in survey.errors:
            lines.append(f"  error: {error}")
    if skipped := result.all_skipped():
        lines.append("skipped (not surveys, or sub-directories): " + ", ".join(skipped))
    if result.verify and not result.dry_run:
        lines.append(verified_text(result))
    if not result.complete:
        lines.append("incomplete: the time budget ran out; the next run continues")
    return "\n".join(lines)


# --------------------------------------------------------------------------- population


def population_text(result: PopulationResult, store_url: str) -> str:
    """A short account of a population run."""
    first, last = result.years
    gaps = f"; no row for {', '.join(map(str, result.missing_years))}" if result.missing_years else ""
    shape = "tesseract API" if result.shape == TESSERACT else "retired api/data shape"
    if result.changed:
        headline = f"population: stored {result.key} in {store_url} ({number(result.size)} bytes)"
    else:
        headline = f"population: unchanged, {result.key} in {store_url} already holds this response; nothing written"
    return "\n".join([
        headline,
        f"  years {first}-{last}: {len(result.records)} rows{gaps}",
        f"  latest: {number(result.records[-1].population)} people in {last}",
        f"  source: {result.source_url} ({shape})",
        f"  sha256: {result.sha256}",
    ])


# --------------------------------------------------------------------------- reports


def reports_text(result: ReportsResult) -> str:
    """The three reports as readable tables."""
    lines = _population_stats_lines(result) + _best_years_lines(result) + _series_population_lines(result)
    lines.append("")
    if result.unchanged:
        lines.append("Inputs unchanged since the last run: nothing written.")
    else:
        lines.append(f"Wrote {len(result.written)} files under {REPORTS_PREFIX} in {result.seconds:.1f}s.")
    return "\n".join(lines)


def _population_stats_lines(result: ReportsResult) -> list[str]:
    stats = result.population_stats
    lines = [
        f"Population statistics, {stats.start_year}–{stats.end_year} "
        f"({len(stats.years)} years: {', '.join(map(str, stats.years))})",
        "",
    ]
    lines += _table(["year", "population"], [[row.year, number(row.population)] for row in stats.population])
    std = "n/a (one year)" if stats.std is None else number(stats.std, 2)
    return lines + [
        "",
        f"  mean                         {number(stats.mean, 2)}",
        f"  std (sample, ddof=1)         {std}",
        f"  std (population, ddof=0)     {number(stats.std_population, 2)}",
        "",
    ]


def _best_years_lines(result: ReportsResult) -> list[str]:
    best = result.best_years
    what = "Q01–Q05 (incl. annual average)" if best.include_annual else "Q01–Q04"
    lines = [f"Best year per series (largest sum of {what}; ties → earliest year): {len(best.series)} series", ""]
    lines += _table(["series_id", "year", "value"], [[r.series_id, r.year, r.value] for r in best.series])
    missing = best.no_quarterly_series
    lines.append("")
    lines.append(f"Series with no quarterly rows ({len(missing)}): {', '.join(missing) if missing else 'none'}")
    if best.invalid_values or best.malformed_lines:
        lines.append(f"Skipped: {best.invalid_values} non-numeric value(s), {best.malformed_lines} malformed line(s)")
        for sample in best.invalid_value_samples:
            lines.append(f"  line {sample['line']}: {sample['series_id']} {sample['year']} {sample['period']} "
                         f"value {sample['value']!r}")
    return lines


def _series_population_lines(result: ReportsResult) -> list[str]:
    joined = result.series_population
    lines = ["", f"Series × population: {joined.series_id} {joined.period} ({len(joined.rows)} years)", ""]
    return lines + _table(
        ["series_id", "year", "period", "value", "population"],
        [
            [r.series_id, r.year, r.period, "" if r.value is None else r.value,
             "" if r.population is None else number(r.population)]
            for r in joined.rows
        ],
    )


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) and len(cells) > 1 for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  " + "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(row, widths, numeric)).rstrip()

    return [fmt(cells[0]), "  " + "  ".join("-" * w for w in widths)] + [fmt(row) for row in cells[1:]]


def _is_number(text: str) -> bool:
    return text == "" or text.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()


# --------------------------------------------------------------------------- run


def run_text(result: RunResult) -> str:
    """Human-readable account of a run: sources, ingestion, notifications, analysis, reports."""
    lines: list[str] = []
    lines.extend(result.notes)
    if result.mode == "queue":
        lines.append(f"Store: {result.store} (S3 notifications → SQS {result.queue})")
    else:
        lines.append(f"Store: {result.store} (local event hand-off)")
    lines.append("Ingestion:")
    mirror = result.ingestion.step("mirror")
    if mirror:
        lines.append("  mirror: " + (_mirror_line(mirror.result) if mirror.result else "")
                     + (f" FAILED: {mirror.error}" if mirror.error else ""))
    population = result.ingestion.step("population")
    if population:
        lines.append("  population: " + (_population_line(population.result) if population.result else "")
                     + (f" FAILED: {population.error}" if population.error else ""))
    if _dry_run(result):
        lines.append("Notifications: none (dry run: nothing was written, so no report input changed)")
        lines.append("Silver layer: nothing converted (dry run: the mirror wrote no file to convert)")
    else:
        lines.append(f"Notifications: {len(result.messages)} message(s)"
                     + ("" if result.messages else " (no report input changed: the reports were not recomputed)"))
        for index, message in enumerate(result.messages, 1):
            lines.append(f"  {index}. {_message_line(message)}")
        lines.extend(lake_lines([e for e in result.lake if e.get("layer") != "gold"]))
        lines.extend(gold_lines([e for e in result.lake if e.get("layer") == "gold"]))
    lines.append("")
    lines.extend(stored_report_lines(result))
    return "\n".join(lines)


def lake_lines(entries: list[dict[str, Any]]) -> list[str]:
    """The silver layer's part of a run: what was converted, deleted or failed (docs/lake.md)."""
    results = [r for e in entries for r in e.get("results", [e] if "source" in e else [])]
    failed = [e for e in entries if e.get("action") == "failed"]
    changed = [r for r in results if r.get("action") in ("written", "deleted")]
    lines = [f"Silver layer: {len(changed)} partition(s) written or deleted, {len(failed)} failed"
             + ("" if changed or failed else " (every source unchanged: nothing converted)")]
    for r in changed:
        rows = f", {r['rows']} rows in {r['seconds']} s" if r.get("action") == "written" else ""
        lines.append(f"  {r.get('source')}: {r.get('action')} {r.get('partition')}{rows}")
    lines += [f"  FAILED: {e.get('error')}" for e in failed]
    return lines


def gold_lines(entries: list[dict[str, Any]]) -> list[str]:
    """The gold layer's part of a run: which surveys' tables were built, removed or failed (docs/gold.md)."""
    changed = [e for e in entries if e.get("action") in ("written", "deleted")]
    failed = [e for e in entries if e.get("action") == "failed"]
    lines = [f"Gold layer: {len(changed)} survey(s) built or removed, {len(failed)} failed"
             + ("" if changed or failed else " (every survey's inputs unchanged: nothing built)")]
    for e in changed:
        rows = e.get("rows") or {}
        detail = (", ".join(f"{table} {count}" for table, count in sorted(rows.items())) + f" rows in {e.get('seconds')} s"
                  if e.get("action") == "written" else "partitions removed")
        lines.append(f"  {e.get('survey')}: {e.get('action')}: {detail}")
    lines += [f"  FAILED: {e.get('survey')}: {e.get('error')}" for e in failed]
    return lines


def _message_line(message: Any) -> str:
    analysis = message.analysis
    if analysis is None:
        return f"-: FAILED: {message.error}"
    keys = ", ".join(analysis.keys) or analysis.note or "-"
    detail = {
        "written": f"reports computed, {len(analysis.written)} file(s) written",
        "unchanged": "inputs unchanged since the last report run, nothing written",
        "waiting": f"waiting for {', '.join(analysis.missing)}",
        "skipped": ("test event S3 sends when a notification is configured (skipped)"
                    if analysis.note == "s3:TestEvent" else "not a report input (skipped)"),
    }.get(analysis.action, analysis.action)
    return f"{keys}: {detail}"


def _dry_run(result: RunResult) -> bool:
    mirror = result.ingestion.step("mirror")
    return bool(mirror and isinstance(mirror.result, MirrorResult) and mirror.result.dry_run)


def _mirror_line(result: MirrorResult) -> str:
    counts = result.counts()
    if result.dry_run:
        would = {"added": "add", "updated": "update", "deleted": "delete"}
        return ", ".join(f"would {would[name]} {counts[name]}" for name in would) + \
            f", {counts['unchanged']} unchanged, {counts['failed']} failed; dry run: nothing downloaded or written"
    text = ", ".join(f"{count} {name}" for name, count in counts.items()) + \
        f"; {sum(s.bytes_uploaded for s in result.surveys)} bytes uploaded"
    if result.verify:
        text += "; " + verified_text(result)
    return text


def verified_text(result: MirrorResult) -> str:
    """What a deep check (`--verify`) found: files compared by SHA-256 with the stored copies."""
    compared = sum(len(s.unchanged) + len(s.updated) for s in result.surveys if s.reached)
    differed = sum(len(s.updated) for s in result.surveys)
    failed = sum(len(s.failed) for s in result.surveys)
    text = (f"verified: {compared} file(s) downloaded again and compared by SHA-256 with the stored copy, "
            f"{compared - differed} identical, {differed} differed (replaced)")
    if failed:
        text += f", {failed} could not be checked (failed)"
    if not result.complete:
        text += "; not every file was reached (time budget)"
    return text


def _population_line(result: PopulationResult) -> str:
    first, last = result.years
    state = "changed, stored" if result.changed else "unchanged, nothing written"
    return f"{state} ({len(result.records)} rows, years {first}-{last}, {result.key})"


def stored_report_lines(result: RunResult, max_rows: int = 10) -> list[str]:
    """The reports stored after the run, as short tables."""
    reports = result.reports
    if reports is None or reports.empty:
        return ["Reports: none stored yet."]
    lines = ["Reports:"]
    if stats := reports.population_stats:
        lines.append(
            f"  Population {stats.start_year}-{stats.end_year}: mean {number(stats.mean)}, "
            f"std (sample) {number(stats.std)}, std (population) {number(stats.std_population)}"
        )
    if best := reports.best_years:
        series = best.series
        lines.append(f"  Best year per series ({len(series)} series; first {min(max_rows, len(series))}):")
        lines.append(f"    {'series_id':<14}{'year':>6}{'value':>14}")
        for row in series[:max_rows]:
            lines.append(f"    {row.series_id:<14}{row.year:>6}{number(row.value):>14}")
    if joined := reports.series_population:
        lines.append(f"  {joined.series_id} {joined.period} x population ({len(joined.rows)} years):")
        lines.append(f"    {'year':>6}{'value':>12}{'population':>14}")
        for row in joined.rows:
            population = str(row.population) if row.population is not None else "-"
            lines.append(f"    {row.year:>6}{number(row.value):>12}{population:>14}")
    for key in reports.unreadable:
        lines.append(f"  {key} is not valid JSON")
    return lines
