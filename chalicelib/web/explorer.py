"""The explorer (issue 20): every mirrored survey's series, searchable, one series at a time.

The API documents (`/api/surveys`, `/api/surveys/{survey}/series`, `/api/series/{series_id}`) and
the dashboard section are built here from `chalicelib.gold.read`; the routes (routes.py) validate
input and map the errors. The section is rendered by the server from the URL's query
(`?survey=cu&q=gasoline&explore=CUUR0000SETB01#explorer`), so a view can be shared and the page's
strict CSP needs nothing new.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.core.errors import NotFound
from chalicelib.core.store import Store
from chalicelib.gold import read as gold
from chalicelib.web.explorer_chart import ExplorerChart, explorer_chart

PAGE_RESULTS = 50  # search results on the page (the API allows up to gold.MAX_LIMIT)
DEFAULT_LIMIT = 50
MAX_QUERY_CHARS = 200
GOLD_HINT = "The gold tables are built by `bls-pipeline run` (or `bls-pipeline lake`) and, in AWS, after each change."
CSV_COLUMNS = ("series_id", "year", "period", "value", "footnote_codes")


def surveys_document(summaries: list[gold.SurveySummary]) -> dict[str, Any]:
    return {"count": len(summaries), "surveys": [s.to_dict() for s in summaries]}


def search_document(result: gold.SearchResult, query: str, limit: int) -> dict[str, Any]:
    return {"survey": result.survey, "q": query, "limit": limit, "total": result.total,
            "count": len(result.hits), "series": [hit.to_dict() for hit in result.hits]}


def series_csv(detail: gold.SeriesDetail) -> str:
    """Every observation of the series as CSV (exact values), the download of the series view."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for o in detail.observations:
        writer.writerow((detail.catalog.series_id, o.year, o.period, o.value, o.footnote_codes or ""))
    return out.getvalue()


# ---- the dashboard section ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplorerView:
    """What the explorer section shows; `notice` explains what is missing, `status` is the page's code."""

    surveys: list[gold.SurveySummary]
    survey: str | None
    query: str
    result: gold.SearchResult | None = None
    detail: gold.SeriesDetail | None = None
    chart: ExplorerChart | None = None
    notice: str | None = None
    failed: bool = False
    status: int = 200
    keep: dict[str, str] = field(default_factory=dict)  # other query parameters the form carries along

    def link(self, series_id: str | None = None) -> str:
        """The page URL of this survey and query (and series): the shareable state."""
        params = dict(self.keep)
        if self.survey:
            params["survey"] = self.survey
        if self.query:
            params["q"] = self.query
        if series_id:
            params["explore"] = series_id
        return "?" + urlencode(params) + "#explorer"

    @property
    def best_year(self) -> int | None:
        return self.detail.best_year.year if self.detail and self.detail.best_year else None

    @property
    def downloads(self) -> list[tuple[str, str]]:
        if not self.detail:
            return []
        series_id = quote(self.detail.catalog.series_id)
        return [(f"api/series/{series_id}?format=csv", "CSV"), (f"api/series/{series_id}", "JSON")]


def explorer_view(store: Store, survey: str | None, query: str, series_id: str | None,
                  default_survey: str | None, keep: dict[str, str]) -> ExplorerView:
    """The section for a validated survey, query and series id (None: not chosen)."""
    summaries = gold.surveys(store)
    with_gold = [s.survey for s in summaries if s.series_count is not None]
    if series_id and not survey:
        survey = gold.survey_of_series(series_id)
    if not survey:
        survey = default_survey if default_survey in with_gold else (with_gold[0] if with_gold else None)
    base = ExplorerView(summaries, survey, query, keep=keep)
    if survey is None:
        return replace(base, notice="No survey has gold tables yet. " + GOLD_HINT)
    try:
        result = gold.search(store, survey, [query], PAGE_RESULTS)
    except NotFound:
        return replace(base, notice=f"The survey {survey} has no gold tables yet. {GOLD_HINT}",
                        status=404 if series_id else 200)
    view = replace(base, result=result)
    if series_id:
        detail = gold.series_detail(store, series_id, survey)
        if detail is None:
            return replace(view, notice=f"No series {series_id} in the survey {survey}.", status=404)
        chart = explorer_chart(series_id, detail.observations, detail.best_year)
        view = replace(view, detail=detail, chart=chart)
    return view
