"""The dashboard's chart: a series' value (top panel) and U.S. population (bottom panel) by year.

`chart_view` computes the geometry (every coordinate already formatted); the template
`templates/chart.html` draws it as inline SVG. A line is broken where a year is missing, so a
gap is never drawn as a trend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.web.format import format_number, raw_number
from chalicelib.web.rendering import render

VALUE_COLOR = "#2563eb"
POPULATION_COLOR = "#d97706"
WIDTH, LEFT, RIGHT = 1000, 84, 84
TOP_PANEL, BOTTOM_PANEL = (34, 214), (262, 382)


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


def value_tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    if step >= 1 and not float(step).is_integer():
        decimals = 1
    return f"{value:,.{decimals}f}"


def population_tick_label(value: float, step: float) -> str:
    return f"{value / 1e6:,.0f}M" if value % 1e6 == 0 else f"{value / 1e6:,.1f}M"


def year_ticks(first: int, last: int) -> list[int]:
    span = last - first
    step = 1 if span <= 16 else 2 if span <= 32 else 5 if span <= 80 else 10
    return [year for year in range(first, last + 1) if (year - first) % step == 0]


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line at `y` and its label."""

    kind: str  # CSS class: "zero" (the value panel's 0) or "grid h"
    y: str
    label_y: str
    label: str


@dataclass(frozen=True)
class Point:
    """One year's point: position, raw value (data attribute), value as shown (tooltip)."""

    year: int
    cx: str
    cy: str
    raw: str
    shown: str


@dataclass(frozen=True)
class PanelView:
    """One panel drawn: label, y ticks, lines (one per run of consecutive years), points."""

    name: str
    color: str
    label: str
    label_y: int
    empty_at: tuple[str, str] | None  # where "no data" is written, when the panel has no points
    ticks: list[Tick]
    lines: list[str]  # SVG `points` attributes
    points: list[Point]


@dataclass(frozen=True)
class ChartView:
    """The whole chart; `panels` empty when there is no value to chart."""

    series_id: str
    period: str
    years: list[tuple[str, int]]  # (x, year) of the vertical grid lines and year labels
    panels: list[PanelView]
    width: int = WIDTH
    left: int = LEFT
    right_x: int = WIDTH - RIGHT
    grid_top: int = TOP_PANEL[0]
    grid_bottom: int = BOTTOM_PANEL[1]
    year_label_y: int = BOTTOM_PANEL[1] + 22
    tick_label_x: int = LEFT - 10


@dataclass(frozen=True)
class _Panel:
    """A panel's input: its points (year, value) and how it looks."""

    name: str
    points: list[tuple[int, float]]
    rows: tuple[int, int]  # top and bottom y of the plot area
    color: str
    label: str
    tick_label: Callable[[float, float], str]


def chart_view(rows: list[dict[str, Any]], series_id: str, period: str) -> ChartView:
    """The chart of the join's rows (`year`, `value`, `population`)."""
    points = sorted((int(r["year"]), r.get("value"), r.get("population")) for r in rows)
    values = [(y, float(v)) for y, v, _ in points if v is not None]
    people = [(y, float(p)) for y, _, p in points if p is not None]
    if not values:
        return ChartView(series_id, period, [], [])
    first, last = points[0][0], points[-1][0]
    x = _year_axis(first, last)
    panels = (
        _Panel("value", values, TOP_PANEL, VALUE_COLOR, f"{series_id} · {period}", value_tick_label),
        _Panel("population", people, BOTTOM_PANEL, POPULATION_COLOR, "U.S. population", population_tick_label),
    )
    years = [(f"{x(year):.1f}", year) for year in year_ticks(first, last)]
    return ChartView(series_id, period, years, [_panel_view(panel, x) for panel in panels])


def render_chart(rows: list[dict[str, Any]], series_id: str, period: str) -> str:
    """Inline SVG: the series value (top panel) and U.S. population (bottom panel) by year."""
    return render("chart.html", chart=chart_view(rows, series_id, period))


def _year_axis(first: int, last: int) -> Callable[[float], float]:
    """The x position of a year (a single year sits in the middle)."""
    span = WIDTH - LEFT - RIGHT
    if last == first:
        return lambda year: LEFT + span / 2
    return lambda year: LEFT + (year - first) / (last - first) * span


def _panel_view(panel: _Panel, x: Callable[[float], float]) -> PanelView:
    """One panel: its label, y ticks, the line (broken at missing years) and a point per year."""
    top, bottom = panel.rows
    if not panel.points:
        return PanelView(panel.name, panel.color, panel.label, top - 12, (str(WIDTH / 2), str((top + bottom) / 2)),
                         [], [], [])
    ticks = nice_ticks(min(v for _, v in panel.points), max(v for _, v in panel.points), 4)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    lo, hi = ticks[0], ticks[-1]

    def y(value: float) -> float:
        return bottom - (value - lo) / ((hi - lo) or 1) * (bottom - top)

    tick_views = [Tick("zero" if tick == 0 and panel.name == "value" else "grid h", f"{y(tick):.1f}",
                       f"{y(tick) + 4:.1f}", panel.tick_label(tick, step)) for tick in ticks]
    lines = [" ".join(f"{x(year):.1f},{y(value):.1f}" for year, value in segment)
             for segment in _consecutive_runs(panel.points) if len(segment) > 1]
    points = [Point(year, f"{x(year):.1f}", f"{y(value):.1f}", raw_number(value),
                    format_number(int(value)) if panel.name == "population" else format_number(value))
              for year, value in panel.points]
    return PanelView(panel.name, panel.color, panel.label, top - 12, None, tick_views, lines, points)


def _consecutive_runs(points: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
    """The points cut where a year is missing, so a gap is never drawn as a trend."""
    runs: list[list[tuple[int, float]]] = []
    for point in points:
        if runs and point[0] == runs[-1][-1][0] + 1:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs
