"""The explorer's chart: every observation of one series over time, the best year marked.

Monthly, quarterly or semiannual series are drawn at their periods (a month is 1/12 of a year
wide); a series with annual values only is drawn by year. The line is broken where a period is
missing, so a gap is never drawn as a trend. `explorer_chart` computes every coordinate;
`templates/explorer_chart.html` draws it as inline SVG.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from chalicelib.gold.answers import BestYear, Observation
from chalicelib.web.chart import nice_ticks, value_tick_label, year_ticks

WIDTH, HEIGHT = 1000, 320
LEFT, RIGHT, TOP, BOTTOM = 76, 24, 28, 276
MAX_POINTS_DRAWN = 400  # circles up to this many observations; beyond, the line alone
STEPS = {"M": 12, "Q": 4, "S": 2}
ANNUAL = ("M13", "Q05", "S03", "A01")
SERIES_COLOR = "#2563eb"
BEST_COLOR = "#16a34a"


@dataclass(frozen=True)
class ChartPoint:
    year: int
    period: str
    value: str  # exact text
    cx: str
    cy: str


@dataclass(frozen=True)
class AxisTick:
    position: str
    label_position: str
    label: str


@dataclass(frozen=True)
class BestMark:
    year: int
    x: str
    width: str
    label_x: str
    label: str


@dataclass(frozen=True)
class ExplorerChart:
    """The chart of one series: what is drawn (`kind`), lines, points, ticks and the best-year band."""

    series_id: str
    kind: str  # monthly | quarterly | semiannual | annual
    count: int  # observations drawn
    lines: list[str]  # SVG `points` attributes, one per run without a gap
    points: list[ChartPoint]  # empty above MAX_POINTS_DRAWN
    x_ticks: list[AxisTick]
    y_ticks: list[AxisTick]
    best: BestMark | None
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_x: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = BOTTOM
    color: str = SERIES_COLOR
    best_color: str = BEST_COLOR


KIND_NAMES = {"M": "monthly", "Q": "quarterly", "S": "semiannual", "A": "annual"}


def charted(observations: list[Observation]) -> tuple[str, list[tuple[int, Observation]]]:
    """The kind drawn and its observations with their ordinal (year * steps + period index).

    Sub-annual observations of the most frequent kind when there are any; else the annual values."""
    kinds = Counter(o.period[0] for o in observations if o.period[0] in STEPS and o.period not in ANNUAL)
    if kinds:
        letter = kinds.most_common(1)[0][0]
        steps = STEPS[letter]
        chosen = [(o.year * steps + int(o.period[1:]) - 1, o) for o in observations
                  if o.period[0] == letter and o.period not in ANNUAL]
        return KIND_NAMES[letter], sorted(chosen, key=lambda c: c[0])
    by_year: dict[int, Observation] = {}
    for o in observations:  # annual only: A01, else the published annual average
        if o.period in ANNUAL and (o.year not in by_year or o.period == "A01"):
            by_year[o.year] = o
    return "annual", [(year, by_year[year]) for year in sorted(by_year)]


def explorer_chart(series_id: str, observations: list[Observation], best: BestYear | None) -> ExplorerChart | None:
    """The chart's geometry; None when there is nothing to draw."""
    kind, chosen = charted(observations)
    if not chosen:
        return None
    steps = 1 if kind == "annual" else STEPS[kind[0].upper()]
    first_year = chosen[0][1].year
    last_year = chosen[-1][1].year
    start, end = first_year, last_year + 1  # the x axis covers whole years
    span = WIDTH - LEFT - RIGHT

    def x(time: float) -> float:
        return LEFT + (time - start) / (end - start) * span

    def x_of(ordinal: int) -> float:  # the middle of the period
        return x((ordinal + 0.5) / steps)

    values = [float(o.value) for _, o in chosen]
    ticks = nice_ticks(min(values), max(values), 5)
    low, high = ticks[0], ticks[-1]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0

    def y(value: float) -> float:
        return BOTTOM - (value - low) / ((high - low) or 1) * (BOTTOM - TOP)

    runs: list[list[str]] = []
    previous = None
    for (ordinal, _), value in zip(chosen, values):
        point = f"{x_of(ordinal):.1f},{y(value):.1f}"
        if previous is not None and ordinal == previous + 1:
            runs[-1].append(point)
        else:
            runs.append([point])
        previous = ordinal
    points = [] if len(chosen) > MAX_POINTS_DRAWN else [
        ChartPoint(o.year, o.period, o.value, f"{x_of(ordinal):.1f}", f"{y(v):.1f}")
        for (ordinal, o), v in zip(chosen, values)]
    x_ticks = [AxisTick(f"{x(year):.1f}", f"{x(year + 0.5):.1f}", str(year))
               for year in year_ticks(first_year, last_year)]
    y_ticks = [AxisTick(f"{y(t):.1f}", f"{y(t) + 4:.1f}", value_tick_label(t, step)) for t in ticks]
    mark = None
    if best is not None and start <= best.year < end:
        mark = BestMark(best.year, f"{x(best.year):.1f}", f"{x(best.year + 1) - x(best.year):.1f}",
                        f"{x(best.year + 0.5):.1f}", f"best year {best.year}")
    return ExplorerChart(series_id, kind, len(chosen), [" ".join(r) for r in runs], points, x_ticks, y_ticks, mark)
