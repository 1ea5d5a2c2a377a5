"""The dashboard page: one self-contained document (inline CSS, JS and SVG).

The markup is in Jinja2 templates (`templates/dashboard.html` and the sections it includes),
autoescaped: every value coming from data is escaped. The CSS and JavaScript are the files
`static/dashboard.css` and `static/dashboard.js`, read once at import and inlined as they are
(the page's CSP allows the script by its hash). The chart is `chart.py`, the number formats
`format.py`.

Pure functions of typed data (`StoreStatus`, `PopulationStats`, `BestYears`, the chart's rows):
nothing here reads the store, so every piece can be rendered and tested alone. No CDN, no
external font or script: the page works with no internet.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from chalicelib.web.chart import POPULATION_COLOR, VALUE_COLOR, chart_view
from chalicelib.web.format import format_bytes, format_number, format_time
from chalicelib.web.rendering import render

if TYPE_CHECKING:
    from chalicelib.mirror.status import SurveyStatus
    from chalicelib.reports.documents import BestYears
    from chalicelib.web.explorer import ExplorerView
    from chalicelib.web.status import StoreStatus

TITLE = "BLS pipeline dashboard"
PERIOD_CHOICES = (
    ("Q01", "Q01 (1st quarter)"),
    ("Q02", "Q02 (2nd quarter)"),
    ("Q03", "Q03 (3rd quarter)"),
    ("Q04", "Q04 (4th quarter)"),
    ("Q05", "Q05 (annual average)"),
)


def _static(name: str) -> str:
    """A file of `chalicelib/web/static/` (shipped in the Lambda package and the wheel)."""
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


CSS = _static("dashboard.css")
# Filters and sorts the best-year table; its state lives in the URL hash
# (#filter=PRS85&sort=value&dir=desc) so a view can be shared or bookmarked.
SCRIPT = _static("dashboard.js")
# Inline style and exactly this inline script; nothing may load from anywhere else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()}'; "
    "img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


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
    explorer: ExplorerView | None = None  # issue 20: every survey's series (explorer.py)
    revisions: list[dict[str, Any]] = field(default_factory=list)  # issue 21: the series' revised values


def render_dashboard(view: DashboardView) -> str:
    """The whole page as one HTML string."""
    status: StoreStatus | None = view.status.data
    return render(
        "dashboard.html",
        view=view,
        title=TITLE,
        # Our own files, inlined as they are (the CSP allows exactly these script bytes).
        css=Markup(CSS),
        script=Markup(SCRIPT),
        auth={"iam": "IAM authorization", "cognito": "signed in"}.get(view.auth_mode, "public (API_AUTH=none)"),
        cards=summary_cards(status),
        status=status,
        pending=_pending_texts(status),
        stats=view.population.data,
        report_files=status.files if status else [],
        api_links=_api_links(view),
        **_series_context(view),
        **_best_years_context(view.best_years.data),
        explorer=view.explorer,
    )


def summary_cards(status: StoreStatus | None) -> list[tuple[str, str, str]]:
    """The cards at the top: (label, value, line under it)."""
    surveys = status.surveys if status else []
    last_change = max((s.last_change or "" for s in surveys), default="") or None
    ingestion = status.ingestion if status else None
    if ingestion is None:
        outcome = "no ingestion recorded yet"
    elif ingestion.ok:
        outcome = "succeeded"
    else:
        outcome = "FAILED: " + "; ".join(ingestion.errors.values())
    return [
        ("Surveys mirrored", str(len(surveys)), _survey_names(surveys)),
        ("Files", format_number(sum(s.file_count for s in surveys)), format_bytes(sum(s.bytes for s in surveys))),
        ("Last ingestion", format_time(ingestion.finished_at if ingestion else None), outcome),
        ("Last change", format_time(last_change), "last run that changed a file"),
        ("Reports", format_time(status.generated_at if status else None), "generated at"),
    ] + _release_card(status)


def _release_card(status: StoreStatus | None) -> list[tuple[str, str, str]]:
    """The newest recorded release (issue 21), when there is one with a previous version."""
    changed = [r for r in (status.releases if status else []) if not r.get("first_version")]
    if not changed:
        return []
    newest = changed[0]
    counts = ", ".join(f"{format_number(newest.get(k, 0))} {k}" for k in ("revised", "added", "removed"))
    return [("Last release", format_time(newest.get("vintage")), f"{newest.get('file', '')}: {counts}")]


def _survey_names(surveys: list[SurveyStatus], shown: int = 8) -> str:
    names = [s.survey for s in surveys]
    if not names:
        return "none yet"
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _series_context(view: DashboardView) -> dict[str, Any]:
    """The chart section: the series chooser, the chart and its data table."""
    best: BestYears | None = view.best_years.data
    choices = list(PERIOD_CHOICES)
    if view.period not in dict(choices):
        choices.append((view.period, view.period))
    rows = None if view.chart.data is None else sorted(view.chart.data, key=lambda r: int(r["year"]))[:MAX_TABLE_ROWS]
    return {
        "series_ids": sorted({r.series_id for r in best.series} | set(best.no_quarterly_series))[:MAX_TABLE_ROWS]
        if best else [],
        "period_choices": choices,
        "series_title": view.titles.get(view.series_id),
        "chart_rows": rows,
        "chart": None if rows is None else chart_view(rows, view.series_id, view.period),
        "value_color": VALUE_COLOR,
        "population_color": POPULATION_COLOR,
        "revisions": view.revisions,
    }


MAX_TABLE_ROWS = 2_000  # best-year rows and series choices in the page: it stays well under API Gateway's 6 MB


def _best_years_context(best: BestYears | None) -> dict[str, Any]:
    notes = []
    rows = best.series[:MAX_TABLE_ROWS] if best is not None else []
    if best is not None and len(best.series) > MAX_TABLE_ROWS:
        notes.append(f"The first {MAX_TABLE_ROWS:,} of {len(best.series):,} series are shown; "
                     "GET /api/reports/best-years?series=&limit= answers for any of them.")
    if best is not None and best.include_annual:
        notes.append("Sums include the Q05 annual average.")
    if best is not None and best.invalid_values:
        notes.append(f"{best.invalid_values} values could not be read and were skipped.")
    return {"best": best, "best_rows": rows, "notes": notes}


def _pending_texts(status: StoreStatus | None) -> dict[str, str]:
    """Files left per survey for the running mirror's next invocation ("not reached yet": not planned so far)."""
    run = status.mirror_run if status else None
    pending = run.pending_by_survey if run is not None and not run.complete else {}
    texts = {}
    for survey in status.surveys if status else []:
        count = pending.get(survey.survey, 0)
        texts[survey.survey] = "not reached yet" if count is None else format_number(count)
    return texts


def _api_links(view: DashboardView) -> list[tuple[str, str]]:
    survey = (view.explorer.survey if view.explorer else None) or view.data_key.split("/")[1]
    return [
        ("api/status", "GET /api/status"),
        ("api/reports/population", "GET /api/reports/population"),
        ("api/reports/best-years?limit=20", "GET /api/reports/best-years?series=&limit="),
        (f"api/reports/series/{view.series_id}?period={view.period}",
         f"GET /api/reports/series/{view.series_id}?period={view.period}"),
        ("api/surveys", "GET /api/surveys"),
        (f"api/surveys/{survey}/series?q=&limit=20", "GET /api/surveys/{survey}/series?q=&limit="),
        (f"api/series/{view.series_id}", "GET /api/series/{series_id}"),
    ]
