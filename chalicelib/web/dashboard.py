"""Server-side HTML for the dashboard: one self-contained page (inline CSS, JS and SVG).

The CSS and JavaScript are the files `static/dashboard.css` and `static/dashboard.js`,
read once at import and inlined as they are (the page's CSP allows the script by its hash).

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
from collections.abc import Callable
from importlib import resources
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.reports.documents import BestYears, PopulationStats
    from chalicelib.mirror.sync import SurveyStatus
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


def _static(name: str) -> str:
    """A file of `chalicelib/web/static/` (shipped in the Lambda package and the wheel)."""
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


CSS = _static("dashboard.css")
# Filters and sorts the best-year table; its state lives in the URL hash
# (#filter=PRS85&sort=value&dir=desc) so a view can be shared or bookmarked.
SCRIPT = _static("dashboard.js")


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


_WIDTH, _LEFT, _RIGHT = 1000, 84, 84
_TOP_PANEL, _BOTTOM_PANEL = (34, 214), (262, 382)


@dataclass(frozen=True)
class _Panel:
    """One panel of the chart: its points (year, value) and how it looks."""

    name: str
    points: list[tuple[int, float]]
    rows: tuple[int, int]  # top and bottom y of the plot area
    color: str
    label: str
    tick_label: Callable[[float, float], str]


def render_chart(rows: list[dict[str, Any]], series_id: str, period: str) -> str:
    """Inline SVG: the series value (top panel) and U.S. population (bottom panel) by year."""
    points = sorted((int(r["year"]), r.get("value"), r.get("population")) for r in rows)
    values = [(y, float(v)) for y, v, _ in points if v is not None]
    people = [(y, float(p)) for y, _, p in points if p is not None]
    if not values:
        return '<p class="empty">No values to chart.</p>'
    x = _year_axis(points[0][0], points[-1][0])
    panels = (
        _Panel("value", values, _TOP_PANEL, VALUE_COLOR, f"{series_id} · {period}", _tick_label),
        _Panel("population", people, _BOTTOM_PANEL, POPULATION_COLOR, "U.S. population",
               lambda tick, step: _population_label(tick)),
    )
    return "".join([
        f'<svg id="chart" class="chart" viewBox="0 0 {_WIDTH} 420" role="img" '
        f'aria-label="{_e(series_id)} {_e(period)} value and U.S. population by year" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(series_id)} {_e(period)}: value and U.S. population by year</title>",
        *_year_grid(points[0][0], points[-1][0], x),
        *(part for panel in panels for part in _panel_parts(panel, x)),
        "</svg>",
    ])


def _year_axis(first: int, last: int) -> Callable[[float], float]:
    """The x position of a year (a single year sits in the middle)."""
    span = _WIDTH - _LEFT - _RIGHT
    if last == first:
        return lambda year: _LEFT + span / 2
    return lambda year: _LEFT + (year - first) / (last - first) * span


def _year_grid(first: int, last: int, x: Callable[[float], float]) -> list[str]:
    """Vertical grid lines and year labels under the bottom panel."""
    parts = []
    for year in _x_ticks(first, last):
        parts.append(f'<line class="grid" x1="{x(year):.1f}" x2="{x(year):.1f}" y1="{_TOP_PANEL[0]}" '
                     f'y2="{_BOTTOM_PANEL[1]}"/>')
        parts.append(f'<text class="tick" x="{x(year):.1f}" y="{_BOTTOM_PANEL[1] + 22}" '
                     f'text-anchor="middle">{year}</text>')
    return parts


def _panel_parts(panel: _Panel, x: Callable[[float], float]) -> list[str]:
    """One panel: its label, y ticks, the line (broken at missing years) and a point per year."""
    top, bottom = panel.rows
    parts = [f'<text class="panel-label" x="{_LEFT}" y="{top - 12}" fill="{panel.color}">{_e(panel.label)}</text>']
    if not panel.points:
        return parts + [f'<text class="tick" x="{_WIDTH / 2}" y="{(top + bottom) / 2}" '
                        'text-anchor="middle">no population data for these years</text>']
    ticks = nice_ticks(min(v for _, v in panel.points), max(v for _, v in panel.points), 4)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    lo, hi = ticks[0], ticks[-1]

    def y(value: float) -> float:
        return bottom - (value - lo) / ((hi - lo) or 1) * (bottom - top)

    for tick in ticks:
        kind = "zero" if tick == 0 and panel.name == "value" else "grid h"
        level = f"{y(tick):.1f}"
        parts.append(f'<line class="{kind}" x1="{_LEFT}" x2="{_WIDTH - _RIGHT}" y1="{level}" y2="{level}"/>')
        parts.append(f'<text class="tick" x="{_LEFT - 10}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                     f'{_e(panel.tick_label(tick, step))}</text>')
    for segment in _consecutive_runs(panel.points):
        if len(segment) > 1:
            points = " ".join(f"{x(year):.1f},{y(value):.1f}" for year, value in segment)
            parts.append(f'<polyline class="line" stroke="{panel.color}" points="{points}"/>')
    for year, value in panel.points:
        shown = format_number(int(value)) if panel.name == "population" else format_number(value)
        parts.append(
            f'<circle class="pt pt-{panel.name}" cx="{x(year):.1f}" cy="{y(value):.1f}" r="3.5" '
            f'fill="{panel.color}" data-year="{year}" data-{panel.name}="{_e(_raw(value))}">'
            f'<title>{year}: {_e(shown)}</title></circle>'
        )
    return parts


def _consecutive_runs(points: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """The points cut where a year is missing, so a gap is never drawn as a trend."""
    runs: list[list[tuple[int, float]]] = []
    for point in points:
        if runs and point[0] == runs[-1][-1][0] + 1:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


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


def _survey_names(surveys: list[SurveyStatus], shown: int = 8) -> str:
    names = [s.survey for s in surveys]
    if not names:
        return "none yet"
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _summary_cards(view: DashboardView) -> str:
    status: StoreStatus | None = view.status.data
    surveys = status.surveys if status else []
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
        ("Surveys mirrored", str(len(surveys)), _survey_names(surveys)),
        ("Files", format_number(sum(s.file_count for s in surveys)), format_bytes(sum(s.bytes for s in surveys))),
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
    run = status.mirror_run
    pending = run.pending_by_survey if run is not None and not run.complete else {}
    rows = "".join(
        f'<tr data-survey="{_e(survey.survey)}"><td class="mono">{_e(survey.survey)}</td>'
        f'<td class="num">{_e(format_number(survey.file_count))}</td>'
        f'<td class="num">{_e(format_bytes(survey.bytes))}</td>'
        f'<td>{_e(format_time(survey.last_change))}</td>'
        f'<td class="num">{_e(_pending_text(pending, survey.survey))}</td></tr>'
        for survey in status.surveys
    )
    blocks = [
        '<table class="data surveys"><thead><tr><th>Survey</th><th class="num">Files</th><th class="num">Size</th>'
        f'<th>Last change</th><th class="num">Pending</th></tr></thead><tbody>{rows}</tbody></table>'
    ]
    for survey in (s for s in status.surveys if s.files is not None):
        files = survey.files
        rows = "".join(
            f'<tr data-key="{_e(f.key)}"><td class="mono">{_e(f.name)}</td>'
            f'<td class="num" data-size="{_e(f.size)}">{_e(format_bytes(f.size))}</td>'
            f'<td>{_e(format_time(f.last_modified))}</td>'
            f'<td class="mono hash" title="{_e(f.sha256)}">{_e(f.sha256[:12])}</td></tr>'
            for f in files
        )
        blocks.append(
            f'<div class="survey" data-survey="{_e(survey.survey)}">'
            f'<h3>{_e(survey.survey)} '
            f'<span class="badge">{len(files)} files · {_e(format_bytes(survey.bytes))}</span></h3>'
            f'<dl><dt>Source</dt><dd class="mono">{_e(survey.source_url)}</dd>'
            f'<dt>State updated</dt><dd>{_e(format_time(survey.last_sync))}</dd>'
            f'<dt>Last change</dt><dd>{_e(format_time(survey.last_change))}</dd></dl>'
            '<table class="data files"><thead><tr><th>File</th><th class="num">Size</th><th>Last modified</th>'
            f'<th>SHA-256</th></tr></thead><tbody>{rows}</tbody></table></div>'
        )
    return f'<section class="panel" id="mirror">{head}{"".join(blocks)}</section>'


def _pending_text(pending: dict[str, Any], survey: Any) -> str:
    """Files left for the running mirror's next invocation ("not reached yet": not planned so far)."""
    if survey not in pending:
        return "0"
    count = pending[survey]
    return "not reached yet" if count is None else format_number(count)


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
    auth = {"iam": "IAM authorization", "cognito": "signed in"}.get(view.auth_mode, "public (API_AUTH=none)")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{TITLE}</title><style>{CSS}</style></head><body>"
        '<header class="top"><div class="wrap"><div><h1>BLS open-data pipeline</h1>'
        '<p class="sub">Mirrored Bureau of Labor Statistics files, U.S. population '
        'and the reports computed from them.</p>'
        f'</div><span class="badge auth">API: {_e(auth)}</span>'
        f'{_SIGN_OUT if view.auth_mode == "cognito" else ""}</div></header>'
        f'<main class="wrap">{_summary_cards(view)}{_chart_section(view)}'
        f'<div class="columns">{_best_years_section(view)}<div class="side">{_population_section(view)}'
        f'{_links_section(view)}</div></div>{_mirror_section(view)}</main>'
        f"<script>{SCRIPT}</script></body></html>"
    )


# issue 22: a plain link (a navigation: no CSP directive applies); relative, so it works under a stage path.
_SIGN_OUT = '<a class="badge auth" href="auth/logout">Sign out</a>'


# Inline style and exactly this inline script; nothing may load from anywhere else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()}'; "
    "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
