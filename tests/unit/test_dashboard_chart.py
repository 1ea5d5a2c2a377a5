"""The dashboard's chart as a value: SVG text from rows, no server, no browser."""

from __future__ import annotations

import re

from chalicelib.web import chart


def test_chart_breaks_its_line_where_a_year_is_missing():
    # GIVEN values for 2000, 2001, 2003, 2004 and 2006 and no population at all
    rows = [{"year": y, "value": v, "population": None}
            for y, v in ((2000, 1), (2001, 2), (2003, 3), (2004, 4), (2006, 5))]
    svg = chart.render_chart(rows, "PRS1", "Q01")
    # THEN one line per run of consecutive years (a lone year is only a point), a point per year
    lines = re.findall(r'<polyline class="line" stroke="([^"]+)" points="([^"]+)"/>', svg)
    assert [(color, len(points.split())) for color, points in lines] == [(chart.VALUE_COLOR, 2)] * 2
    assert re.findall(r'data-year="(\d+)" data-value="([^"]+)"', svg) == [
        ("2000", "1"), ("2001", "2"), ("2003", "3"), ("2004", "4"), ("2006", "5")]
    # AND the population panel says it has no data
    assert "no population data for these years" in svg and "pt-population" not in svg
