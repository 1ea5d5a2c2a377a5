"""Server-side HTML for the dashboard: one self-contained page (inline CSS, JS and SVG).

Pure functions of typed data (`StoreStatus`, `PopulationStats`, `BestYears`, the chart's rows):
nothing here reads the store, so every piece can be rendered and tested alone. No
CDN, no external font or script: the page works with no internet. Every value
coming from data is escaped.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.reports.documents import BestYears, PopulationStats
    from chalicelib.web.status import StoreStatus

TITLE = "BLS pipeline dashboard"
PERIOD_CHOICES = (
    ("Q01", "Q01 (1st quarter)"),
    ("Q02", "Q02 (2nd quarter)"),
    ("Q03", "Q03 (3rd quarter)"),
    ("Q04", "Q04 (4th quarter)"),
    ("Q05", "Q05 (annual average)"),
)
_CODE = re.compile(r"`([^`<>]+)`")
VALUE_COLOR = "#2563eb"
POPULATION_COLOR = "#d97706"


@dataclass(frozen=True)
class Section:
    """One block of the page: its data, or why it is missing (a hint) or failed (logged)."""

    data: Any = None
    missing: str | None = None
    failed: str | None = None


@dataclass(frozen=True)
class DashboardView:
    """Everything the page shows."""

    status: Section
    population: Section
    best_years: Section
    chart: Section
    series_id: str
    period: str
    data_key: str
    auth_mode: str
    titles: dict[str, str] = field(default_factory=dict)


# ---- formatting ----------------------------------------------------------------------------


def format_bytes(size: int | None) -> str:
    """1536 -> '1.5 KiB'; exact bytes below 1 KiB."""
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def format_number(value: Any, decimals: int | None = None) -> str:
    """Thousands separators; integers stay integers; None -> '—'."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:,}"


def format_time(stamp: str | None) -> str:
    """ISO-8601 or HTTP date -> '2026-08-06 08:30 UTC'; anything else is shown as it is."""
    if not stamp:
        return "never"
    text = str(stamp)
    when = None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return text
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


# ---- chart -----------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering [low, high] (1, 2, 2.5, 5 x 10^k steps)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    if step >= 1 and not float(step).is_integer():
        decimals = 1
    return f"{value:,.{decimals}f}"


def _population_label(value: float) -> str:
    return f"{value / 1e6:,.0f}M" if value % 1e6 == 0 else f"{value / 1e6:,.1f}M"


def _x_ticks(first: int, last: int) -> list[int]:
    span = last - first
    step = 1 if span <= 16 else 2 if span <= 32 else 5 if span <= 80 else 10
    return [year for year in range(first, last + 1) if (year - first) % step == 0]


def render_chart(rows: list[dict[str, Any]], series_id: str, period: str) -> str:
    """Inline SVG: the series value (top panel) and U.S. population (bottom panel) by year."""
    points = sorted((int(r["year"]), r.get("value"), r.get("population")) for r in rows)
    values = [(y, float(v)) for y, v, _ in points if v is not None]
    people = [(y, float(p)) for y, _, p in points if p is not None]
    if not values:
        return '<p class="empty">No values to chart.</p>'
    width, left, right = 1000, 84, 84
    top_panel, bottom_panel = (34, 214), (262, 382)
    first, last = points[0][0], points[-1][0]

    def x(year: float) -> float:
        if last == first:
            return left + (width - left - right) / 2
        return left + (year - first) / (last - first) * (width - left - right)

    def scale(panel: tuple[int, int], ticks: list[float]):
        lo, hi = ticks[0], ticks[-1]
        return lambda v: panel[1] - (v - lo) / ((hi - lo) or 1) * (panel[1] - panel[0])

    parts = [
        f'<svg id="chart" class="chart" viewBox="0 0 {width} 420" role="img" '
        f'aria-label="{_e(series_id)} {_e(period)} value and U.S. population by year" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(series_id)} {_e(period)}: value and U.S. population by year</title>",
    ]
    for year in _x_ticks(first, last):
        parts.append(f'<line class="grid" x1="{x(year):.1f}" x2="{x(year):.1f}" y1="{top_panel[0]}" '
                     f'y2="{bottom_panel[1]}"/>')
        parts.append(f'<text class="tick" x="{x(year):.1f}" y="{bottom_panel[1] + 22}" '
                     f'text-anchor="middle">{year}</text>')
    panels = [
        ("value", values, top_panel, VALUE_COLOR, f"{series_id} · {period}", None),
        ("population", people, bottom_panel, POPULATION_COLOR, "U.S. population", _population_label),
    ]
    for name, data, panel, color, label, fmt in panels:
        parts.append(f'<text class="panel-label" x="{left}" y="{panel[0] - 12}" fill="{color}">{_e(label)}</text>')
        if not data:
            parts.append(f'<text class="tick" x="{width / 2}" y="{(panel[0] + panel[1]) / 2}" '
                         f'text-anchor="middle">no population data for these years</text>')
            continue
        ticks = nice_ticks(min(v for _, v in data), max(v for _, v in data), 4)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        y = scale(panel, ticks)
        for tick in ticks:
            text = fmt(tick) if fmt else _tick_label(tick, step)
            kind = "zero" if tick == 0 and name == "value" else "grid h"
            level = f"{y(tick):.1f}"
            parts.append(f'<line class="{kind}" x1="{left}" x2="{width - right}" y1="{level}" y2="{level}"/>')
            parts.append(f'<text class="tick" x="{left - 10}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                         f'{_e(text)}</text>')
        # Break the line where a year is missing, so a gap is never drawn as a trend.
        segment: list[str] = []
        previous = None
        for year, value in data:
            if previous is not None and year != previous + 1 and len(segment) > 1:
                parts.append(f'<polyline class="line" stroke="{color}" points="{" ".join(segment)}"/>')
            if previous is not None and year != previous + 1:
                segment = []
            segment.append(f"{x(year):.1f},{y(value):.1f}")
            previous = year
        if len(segment) > 1:
            parts.append(f'<polyline class="line" stroke="{color}" points="{" ".join(segment)}"/>')
        for year, value in data:
            shown = format_number(int(value)) if name == "population" else format_number(value)
            parts.append(
                f'<circle class="pt pt-{name}" cx="{x(year):.1f}" cy="{y(value):.1f}" r="3.5" fill="{color}" '
                f'data-year="{year}" data-{name}="{_e(_raw(value))}"><title>{year}: {_e(shown)}</title></circle>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _raw(value: float) -> str:
    """A number as data attribute: integers without '.0', others as Python prints them."""
    return str(int(value)) if float(value).is_integer() else repr(value)


# ---- sections ------------------------------------------------------------------------------


def _notice(section: Section) -> str:
    kind, text = ("notice error", section.failed) if section.failed else ("notice", section.missing or "")
    return f'<p class="{kind}">{_with_code(text[:1].upper() + text[1:])}</p>'


def _with_code(text: str) -> str:
    """Escaped text with `command` spans shown as code."""
    return _CODE.sub(r"<code>\1</code>", _e(text))


def _summary_cards(view: DashboardView) -> str:
    status: StoreStatus | None = view.status.data
    surveys = status.surveys if status else []
    files = [f for s in surveys for f in s.files]
    last_change = max((s.last_change or "" for s in surveys), default="") or None
    generated = status.generated_at if status else None
    ingestion = status.ingestion if status else None
    if ingestion is None:
        outcome = "no ingestion recorded yet"
    elif ingestion.ok:
        outcome = "succeeded"
    else:
        outcome = "FAILED: " + "; ".join(ingestion.errors.values())
    cards = [
        ("Surveys mirrored", str(len(surveys)), ", ".join(s.survey for s in surveys) or "none yet"),
        ("Files", format_number(len(files)), format_bytes(sum(f.size for f in files))),
        ("Last ingestion", format_time(ingestion and ingestion.finished_at), outcome),
        ("Last change", format_time(last_change), "last run that changed a file"),
        ("Reports", format_time(generated), "generated at"),
    ]
    body = "".join(
        f'<div class="card"><div class="card-label">{_e(label)}</div>'
        f'<div class="card-value">{_e(value)}</div><div class="card-sub">{_e(sub)}</div></div>'
        for label, value, sub in cards
    )
    return f'<section class="cards" id="summary">{body}</section>'


def _chart_section(view: DashboardView) -> str:
    best: BestYears | None = view.best_years.data
    ids = sorted({r.series_id for r in best.series} | set(best.no_quarterly_series)) if best else []
    options = "".join(f'<option value="{_e(i)}"></option>' for i in ids)
    choices = list(PERIOD_CHOICES)
    if view.period not in dict(choices):
        choices.append((view.period, view.period))
    periods = "".join(
        f'<option value="{_e(code)}"{" selected" if code == view.period else ""}>{_e(label)}</option>'
        for code, label in choices
    )
    form = (
        '<form class="chooser" method="get" action="">'
        f'<label>Series <input name="series" list="series-ids" value="{_e(view.series_id)}" '
        'size="14" autocomplete="off" spellcheck="false"></label>'
        f'<datalist id="series-ids">{options}</datalist>'
        f'<label>Period <select name="period">{periods}</select></label>'
        '<button type="submit">Show</button></form>'
    )
    title = view.titles.get(view.series_id)
    title_html = (f'<p class="series-title"><span class="mono">{_e(view.series_id)}</span> {_e(title)}</p>'
                  if title else "")
    if view.chart.data is None:
        body = _notice(view.chart)
    else:
        rows = sorted(view.chart.data, key=lambda r: int(r["year"]))
        table_rows = "".join(
            f'<tr data-year="{_e(r["year"])}"><td>{_e(r["year"])}</td>'
            f'<td class="num">{_e(format_number(r.get("value")))}</td>'
            f'<td class="num">{_e(format_number(r.get("population")))}</td></tr>'
            for r in rows
        )
        legend = (
            f'<div class="legend"><span><i style="background:{VALUE_COLOR}"></i>{_e(view.series_id)} value '
            f'({_e(view.period)})</span><span><i style="background:{POPULATION_COLOR}"></i>'
            'U.S. population (DataUSA)</span></div>'
        )
        body = (
            f'<div class="chart-wrap">{legend}{render_chart(rows, view.series_id, view.period)}</div>'
            '<details class="chart-data"><summary>Data table</summary>'
            '<table id="series-table" class="data"><thead><tr><th>Year</th><th class="num">Value</th>'
            f'<th class="num">Population</th></tr></thead><tbody>{table_rows}</tbody></table></details>'
        )
    return (
        '<section class="panel" id="series"><div class="panel-head">'
        f'<div><h2>Series value vs. population</h2>{title_html}<p class="sub">From {_e(view.data_key)}, joined with '
        'the DataUSA population by year (computed on request).</p></div>'
        f'{form}</div>{body}</section>'
    )


def _best_years_section(view: DashboardView) -> str:
    head = (
        '<div class="panel-head"><div><h2>Best year per series</h2>'
        '<p class="sub">For every series, the year with the largest sum of its quarterly values.</p></div>'
    )
    if view.best_years.data is None:
        return f'<section class="panel" id="best-years-panel">{head}</div>{_notice(view.best_years)}</section>'
    report: BestYears = view.best_years.data
    rows = report.series
    titles = view.titles
    body_rows = "".join(
        f'<tr data-series="{_e(r.series_id)}" data-year="{_e(r.year)}" data-value="{_e(r.value)}" '
        f'data-title="{_e(titles.get(r.series_id, "").upper())}">'
        f'<td><a class="mono" href="?series={_e(r.series_id)}#series">{_e(r.series_id)}</a>'
        f'<span class="title">{_e(titles.get(r.series_id, ""))}</span></td><td>{_e(r.year)}</td>'
        f'<td class="num">{_e(format_number(r.value))}</td></tr>'
        for r in rows
    )
    notes = []
    if report.include_annual:
        notes.append("Sums include the Q05 annual average.")
    if report.invalid_values:
        notes.append(f"{report.invalid_values} values could not be read and were skipped.")
    note_html = f'<p class="sub note">{_e(" ".join(notes))}</p>' if notes else ""
    if missing := report.no_quarterly_series:
        note_html += (
            f'<details class="note" id="no-quarterly"><summary>{len(missing)} series have no quarterly values '
            'and are not ranked</summary><p class="mono muted">'
            f'{_e(", ".join(missing))}</p></details>'
        )
    tools = (
        '<div class="tools"><input id="by-filter" type="search" placeholder="Filter, e.g. PRS85 or productivity" '
        'aria-label="Filter series" autocomplete="off">'
        f'<span id="by-count" class="count">{len(rows)} series</span></div>'
    )
    headers = "".join(
        f'<th class="{cls}" data-key="{key}" aria-sort="none"><button type="button">{label}</button></th>'
        for key, label, cls in (("series", "Series", ""), ("year", "Year", ""), ("value", "Value", "num"))
    )
    return (
        f'<section class="panel" id="best-years-panel">{head}{tools}</div>'
        f'<div class="scroll"><table id="best-years" class="data sortable"><thead><tr>{headers}</tr></thead>'
        f'<tbody>{body_rows}</tbody></table></div>{note_html}</section>'
    )


def _population_section(view: DashboardView) -> str:
    head = '<h2>Population statistics</h2>'
    if view.population.data is None:
        return f'<section class="panel" id="population">{head}{_notice(view.population)}</section>'
    stats: PopulationStats = view.population.data
    years = f'{stats.start_year}–{stats.end_year}'
    used = stats.years
    kpis = (
        '<div class="kpis">'
        '<div><span class="card-label">Mean</span>'
        f'<span id="pop-mean" class="kpi" data-value="{_e(stats.mean)}">'
        f'{_e(format_number(stats.mean, 0))}</span></div>'
        f'<div><span class="card-label">Standard deviation</span><span id="pop-std" class="kpi" '
        f'data-value="{_e(stats.std)}">{_e(format_number(stats.std, 0))}</span></div>'
        f'<div><span class="card-label">Years</span><span class="kpi">{_e(years)}</span></div>'
        '</div>'
    )
    sub = (f'<p class="sub">Sample standard deviation over {len(used)} years with data '
           f'({_e(", ".join(str(y) for y in used))}); population standard deviation '
           f'{_e(format_number(stats.std_population, 0))}.</p>')
    rows = "".join(
        f'<tr data-year="{_e(p.year)}"><td>{_e(p.year)}</td>'
        f'<td class="num">{_e(format_number(p.population))}</td></tr>'
        for p in stats.population
    )
    table = ('<table id="population-table" class="data"><thead><tr><th>Year</th><th class="num">Population</th>'
             f'</tr></thead><tbody>{rows}</tbody></table>')
    return f'<section class="panel" id="population">{head}{kpis}{sub}{table}</section>'


def _mirror_section(view: DashboardView) -> str:
    head = '<h2>Mirror status</h2>'
    if view.status.data is None:
        return f'<section class="panel" id="mirror">{head}{_notice(view.status)}</section>'
    status: StoreStatus = view.status.data
    if not status.surveys:
        notice = _with_code(f'Nothing is mirrored yet. {status.hint}')
        return f'<section class="panel" id="mirror">{head}<p class="notice">{notice}</p></section>'
    blocks = []
    for survey in status.surveys:
        files = survey.files
        rows = "".join(
            f'<tr data-key="{_e(f.key)}"><td class="mono">{_e(f.name)}</td>'
            f'<td class="num" data-size="{_e(f.size)}">{_e(format_bytes(f.size))}</td>'
            f'<td>{_e(format_time(f.last_modified))}</td>'
            f'<td class="mono hash" title="{_e(f.sha256)}">{_e(f.sha256[:12])}</td></tr>'
            for f in files
        )
        total = sum(f.size for f in files)
        blocks.append(
            f'<div class="survey" data-survey="{_e(survey.survey)}">'
            f'<h3>{_e(survey.survey)} '
            f'<span class="badge">{len(files)} files · {_e(format_bytes(total))}</span></h3>'
            f'<dl><dt>Source</dt><dd class="mono">{_e(survey.source_url)}</dd>'
            f'<dt>State updated</dt><dd>{_e(format_time(survey.last_sync))}</dd>'
            f'<dt>Last change</dt><dd>{_e(format_time(survey.last_change))}</dd></dl>'
            '<table class="data files"><thead><tr><th>File</th><th class="num">Size</th><th>Last modified</th>'
            f'<th>SHA-256</th></tr></thead><tbody>{rows}</tbody></table></div>'
        )
    return f'<section class="panel" id="mirror">{head}{"".join(blocks)}</section>'


def _links_section(view: DashboardView) -> str:
    status: StoreStatus | None = view.status.data
    files = status.files if status else []
    if files:
        items = "".join(
            f'<li><a href="{_e(f.path.lstrip("/"))}">{_e(f.name)}</a> '
            f'<span class="muted">{_e(format_bytes(f.size))}</span></li>'
            for f in files
        )
        reports = f'<ul class="links" id="report-files">{items}</ul>'
    else:
        hint = _with_code("No report files yet. Run `make run` (or `bls-pipeline run`).")
        reports = f'<p class="notice">{hint}</p>'
    api = "".join(
        f'<li><a href="{_e(href)}">{_e(label)}</a></li>'
        for href, label in (
            ("api/status", "GET /api/status"),
            ("api/reports/population", "GET /api/reports/population"),
            ("api/reports/best-years?limit=20", "GET /api/reports/best-years?series=&limit="),
            (f"api/reports/series/{view.series_id}?period={view.period}",
             f"GET /api/reports/series/{view.series_id}?period={view.period}"),
        )
    )
    return (
        '<section class="panel" id="files"><h2>Report files</h2>'
        f'{reports}<h3>JSON API</h3><ul class="links api mono">{api}</ul></section>'
    )


# ---- page -----------------------------------------------------------------------------------


def render_dashboard(view: DashboardView) -> str:
    """The whole page as one HTML string."""
    auth = "IAM authorization" if view.auth_mode == "iam" else "public (API_AUTH=none)"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{TITLE}</title><style>{CSS}</style></head><body>"
        '<header class="top"><div class="wrap"><div><h1>BLS open-data pipeline</h1>'
        '<p class="sub">Mirrored Bureau of Labor Statistics files, U.S. population '
        'and the reports computed from them.</p>'
        f'</div><span class="badge auth">API: {_e(auth)}</span></div></header>'
        f'<main class="wrap">{_summary_cards(view)}{_chart_section(view)}'
        f'<div class="columns">{_best_years_section(view)}<div class="side">{_population_section(view)}'
        f'{_links_section(view)}</div></div>{_mirror_section(view)}</main>'
        f"<script>{SCRIPT}</script></body></html>"
    )


CSS = """
*{box-sizing:border-box}
body{margin:0;color:#1f2937;background:#f3f4f6;
  font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"DejaVu Sans",sans-serif}
.wrap{max-width:1320px;margin:0 auto;padding:0 24px}
header.top{background:#111827;color:#f9fafb;margin-bottom:20px}
header.top .wrap{display:flex;justify-content:space-between;align-items:center;padding-top:18px;padding-bottom:18px}
header.top h1{margin:0;font-size:22px;font-weight:600}
header.top .sub{color:#9ca3af;margin:2px 0 0}
h2{font-size:16px;margin:0 0 4px;font-weight:600}
h3{font-size:14px;margin:16px 0 8px;font-weight:600}
.sub{color:#6b7280;margin:0 0 12px;font-size:13px}
.muted{color:#6b7280}
.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
.badge{display:inline-block;background:#e5e7eb;color:#374151;border-radius:999px;padding:2px 10px;
  font-size:12px;font-weight:500}
.badge.auth{background:#1f2937;color:#d1d5db;border:1px solid #374151}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:14px;margin-bottom:18px}
.card,.panel{background:#fff;border:1px solid #e5e7eb;border-radius:10px;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.card{padding:14px 16px}
.card-label{display:block;color:#6b7280;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card-value{font-size:20px;font-weight:600;margin-top:4px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.card-sub{color:#6b7280;font-size:12px}
.panel{padding:18px 20px;margin-bottom:18px}
.panel-head{display:flex;justify-content:space-between;align-items:flex-start;gap:16px;flex-wrap:wrap}
.columns{display:grid;grid-template-columns:3fr 2fr;gap:18px;align-items:start;margin-bottom:18px}
.columns .panel{margin-bottom:0}
.side{display:flex;flex-direction:column;gap:18px}
.series-title{margin:2px 0 2px;font-size:13px;color:#374151}
.series-title .mono{background:#eff6ff;color:#1d4ed8;border-radius:4px;padding:1px 6px;margin-right:6px}
td .title{display:block;color:#6b7280;font-size:11.5px;white-space:normal;max-width:560px}
.note{margin:10px 0 0}
details.note summary{cursor:pointer;color:#6b7280;font-size:12.5px}
svg.chart .zero{stroke:#9ca3af;stroke-width:1}
.chooser{display:flex;gap:10px;align-items:flex-end}
.chooser label{display:flex;flex-direction:column;font-size:12px;color:#6b7280;gap:3px}
input,select,button{font:inherit;border:1px solid #d1d5db;border-radius:6px;padding:5px 9px;
  background:#fff;color:#111827}
button[type=submit]{background:#2563eb;border-color:#2563eb;color:#fff;cursor:pointer}
.chart-wrap{position:relative;margin-top:6px}
.legend{display:flex;gap:18px;font-size:12.5px;color:#374151;margin:2px 0 4px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;vertical-align:-1px}
svg.chart{width:100%;height:auto;display:block}
svg.chart .grid{stroke:#eef0f3;stroke-width:1}
svg.chart .grid.h{stroke:#e5e7eb}
svg.chart .tick{fill:#6b7280;font-size:11px}
svg.chart .panel-label{font-size:12px;font-weight:600}
svg.chart .line{fill:none;stroke-width:2;stroke-linejoin:round}
svg.chart .pt{stroke:#fff;stroke-width:1.5}
.chart-data summary{cursor:pointer;color:#2563eb;font-size:13px;margin-top:8px}
table.data{border-collapse:collapse;width:100%;font-size:13px}
table.data th,table.data td{padding:6px 10px;border-bottom:1px solid #f0f1f3;text-align:left;white-space:nowrap}
table.data th{font-weight:600;color:#374151;background:#f9fafb;font-size:12px;text-transform:uppercase;
  letter-spacing:.03em}
table.data tbody tr:hover{background:#f9fafb}
.num{text-align:right!important;font-variant-numeric:tabular-nums}
.scroll{max-height:640px;overflow:auto;border:1px solid #f0f1f3;border-radius:8px}
.scroll thead th{position:sticky;top:0;z-index:1}
table.sortable th button{all:unset;cursor:pointer;display:inline-flex;gap:4px;align-items:center}
table.sortable th button::after{content:"↕";color:#c4c8ce;font-size:11px}
table.sortable th[aria-sort=ascending] button::after{content:"▲";color:#2563eb}
table.sortable th[aria-sort=descending] button::after{content:"▼";color:#2563eb}
.tools{display:flex;gap:10px;align-items:center}
.tools input{width:260px}
.count{color:#6b7280;font-size:12.5px;white-space:nowrap}
.kpis{display:grid;grid-template-columns:repeat(3,1fr);gap:10px;margin:10px 0}
.kpi{display:block;font-size:20px;font-weight:600;margin-top:2px}
.survey dl{display:grid;grid-template-columns:110px 1fr;gap:2px 12px;margin:0 0 10px}
.survey dt{color:#6b7280}
.survey dd{margin:0}
.hash{color:#6b7280}
.links{margin:0;padding-left:18px;columns:2}
.links li{margin:3px 0}
.links.api{columns:1}
a{color:#2563eb;text-decoration:none}
a:hover{text-decoration:underline}
.notice{background:#fffbeb;border:1px solid #fde68a;color:#92400e;border-radius:8px;padding:10px 12px;margin:10px 0 0}
.notice code{background:#fef3c7;border-radius:4px;padding:0 4px;font-size:12.5px}
.notice.error{background:#fef2f2;border-color:#fecaca;color:#991b1b}
.empty{color:#6b7280}
@media (max-width:1000px){.cards{grid-template-columns:repeat(2,1fr)}.columns{grid-template-columns:1fr}}
"""

# Filter and sort the best-year table. State lives in the URL hash
# (#filter=PRS85&sort=value&dir=desc) so a view can be shared or bookmarked.
SCRIPT = """
(function(){
  var table=document.getElementById('best-years');
  if(!table){document.documentElement.setAttribute('data-js','ready');return;}
  var tbody=table.tBodies[0], rows=Array.prototype.slice.call(tbody.rows);
  var input=document.getElementById('by-filter'), count=document.getElementById('by-count');
  var heads=table.tHead.rows[0].cells, state={filter:'',sort:'series',dir:'asc'};
  function readHash(){
    var p=new URLSearchParams(location.hash.slice(1));
    state.filter=(p.get('filter')||'').toUpperCase();
    state.sort=['series','year','value'].indexOf(p.get('sort'))>=0?p.get('sort'):'series';
    state.dir=p.get('dir')==='desc'?'desc':'asc';
  }
  function writeHash(){
    var p=new URLSearchParams();
    if(state.filter)p.set('filter',state.filter);
    if(state.sort!=='series'||state.dir!=='asc'){p.set('sort',state.sort);p.set('dir',state.dir);}
    history.replaceState(null,'',p.toString()?'#'+p.toString():location.pathname+location.search);
  }
  function render(){
    var k=state.sort, sign=state.dir==='desc'?-1:1;
    function bySeries(a,b){return a.dataset.series<b.dataset.series?-1:a.dataset.series>b.dataset.series?1:0;}
    rows.sort(function(a,b){
      var c=k==='series'?bySeries(a,b):parseFloat(a.dataset[k])-parseFloat(b.dataset[k]);
      return c*sign||bySeries(a,b);  // ties: by series id, ascending
    });
    var shown=0;
    rows.forEach(function(r){
      var ok=!state.filter||r.dataset.series.indexOf(state.filter)>=0||r.dataset.title.indexOf(state.filter)>=0;
      r.hidden=!ok; if(ok)shown++; tbody.appendChild(r);
    });
    count.textContent=shown+' of '+rows.length+' series';
    Array.prototype.forEach.call(heads,function(h){
      h.setAttribute('aria-sort',h.dataset.key===k?(state.dir==='desc'?'descending':'ascending'):'none');
    });
  }
  input.addEventListener('input',function(){state.filter=input.value.trim().toUpperCase();render();writeHash();});
  Array.prototype.forEach.call(heads,function(h){
    h.querySelector('button').addEventListener('click',function(){
      var k=h.dataset.key;
      state.dir=(state.sort===k&&state.dir==='asc')?'desc':(state.sort===k?'asc':(k==='series'?'asc':'desc'));
      state.sort=k; render(); writeHash();
    });
  });
  window.addEventListener('hashchange',function(){readHash();input.value=state.filter;render();});
  readHash(); input.value=state.filter; render();
  document.documentElement.setAttribute('data-js','ready');
})();
"""

# Inline style and exactly this inline script; nothing may load from anywhere else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()}'; "
    "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
