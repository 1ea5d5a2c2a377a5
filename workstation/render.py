"""Text for people: every human-readable rendering of a result, and the one number formatter."""

from __future__ import annotations

from typing import Any

from workstation.local_run import RunResult


def render_text(result: RunResult) -> str:
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
    lines.append(f"Notifications: {len(result.messages)} message(s)"
                 + ("" if result.messages else " (no report input changed: the reports were not recomputed)"))
    for number, message in enumerate(result.messages, 1):
        keys = ", ".join(message.get("keys", [])) or message.get("note") or "-"
        action = message.get("action")
        detail = {
            "written": f"reports computed, {len(message.get('written', []))} file(s) written",
            "unchanged": "inputs unchanged since the last report run, nothing written",
            "waiting": f"waiting for {', '.join(message.get('missing', []))}",
            "skipped": ("test event S3 sends when a notification is configured (skipped)"
                        if message.get("note") == "s3:TestEvent" else "not a report input (skipped)"),
            "failed": f"FAILED: {message.get('error')}",
        }.get(action, str(action))
        lines.append(f"  {number}. {keys}: {detail}")
    lines.extend(lake_lines(result.lake))
    lines.append("")
    lines.extend(report_lines(result.reports))
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


def _mirror_line(summary: dict[str, Any]) -> str:
    parts = [f"{len(summary.get(k) or [])} {k}" for k in ("added", "updated", "deleted", "unchanged", "failed")]
    return ", ".join(parts) + f"; {summary.get('bytes_uploaded', 0)} bytes uploaded"


def _population_line(summary: dict[str, Any]) -> str:
    years = summary.get("years") or []
    span = f"{years[0]}-{years[-1]}" if years else "?"
    state = "changed, stored" if summary.get("changed") else "unchanged, nothing written"
    return f"{state} ({summary.get('rows')} rows, years {span}, {summary.get('key')})"


def report_lines(reports: dict[str, Any] | None, max_rows: int = 10) -> list[str]:
    """The stored reports as short tables."""
    if not reports:
        return ["Reports: none stored yet."]
    lines = ["Reports:"]
    stats = reports.get("population_stats")
    if stats:
        lines.append(
            f"  Population {stats.get('start_year')}-{stats.get('end_year')}: mean {_num(stats.get('mean'))}, "
            f"std (sample) {_num(stats.get('std'))}, std (population) {_num(stats.get('std_population'))}"
        )
    best = reports.get("best_years")
    if best:
        series = best.get("series", [])
        lines.append(f"  Best year per series ({len(series)} series; first {min(max_rows, len(series))}):")
        lines.append(f"    {'series_id':<14}{'year':>6}{'value':>14}")
        for row in series[:max_rows]:
            lines.append(f"    {row.get('series_id', ''):<14}{row.get('year', ''):>6}{_num(row.get('value')):>14}")
    joined = reports.get("series_population")
    if joined:
        rows = joined.get("rows", [])
        lines.append(f"  {joined.get('series_id')} {joined.get('period')} x population ({len(rows)} years):")
        lines.append(f"    {'year':>6}{'value':>12}{'population':>14}")
        for row in rows:
            population = row.get("population")
            lines.append(f"    {row.get('year', ''):>6}{_num(row.get('value')):>12}"
                         f"{(str(population) if population is not None else '-'):>14}")
    return lines


def _num(value: Any) -> str:
    if isinstance(value, float):
        if abs(value) >= 100_000:  # populations and their statistics
            return f"{value:,.3f}".rstrip("0").rstrip(".")
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)
