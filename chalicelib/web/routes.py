"""HTTP routes (reports API and dashboard), registered on the app as a blueprint.

Handlers validate input and read what the pipeline wrote to the store; the only computation
is the on-demand series × population join. Every route is wrapped by `_guarded`: JSON errors
with 400/404, anything else logged and answered with a generic 500. `API_AUTH` (`iam`, `cognito` or
`none`) is read at import; any other value fails the import. With `cognito` every route also checks
the session itself (chalicelib.web.auth). See docs/web.md.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint, IAMAuthorizer, Response

from chalicelib.bls.mappings import series_titles
from chalicelib.core import series_ids
from chalicelib.core.errors import NotFound, PipelineError
from chalicelib.core.layout import (
    BEST_YEARS_JSON_KEY,
    POPULATION_KEY,
    POPULATION_STATS_KEY,
    REPORTS_PREFIX,
)
from chalicelib.core.log import log_error, log_event
from chalicelib.core.settings import Settings, api_auth_from_env, client_environment
from chalicelib.core.store import Store, open_store
from chalicelib.lake import revisions
from chalicelib.reports.documents import BestYears, PopulationStats
from chalicelib.web import dashboard
from chalicelib.web.auth import session as sign_in  # issue 22: API_AUTH=cognito
from chalicelib.web.series_source import series_population_for
from chalicelib.web.status import REPORT_FILE_PATTERN, RUN_HINT, store_status

MAX_LIMIT = 10_000
MAX_SERIES_FILTER = 100
MAX_RELEASES, DEFAULT_RELEASES = 100, 20  # /api/revisions: release summaries per answer
SURVEY_PATTERN = re.compile(r"^[a-z0-9_-]{1,20}$")


CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


AUTH_MODE = api_auth_from_env()  # `iam`, `cognito` or `none`; any other value is a ConfigError at import
# cognito: API Gateway's check is added by the stack (infra/auth_api.py: the pool is not known here).
AUTHORIZER = IAMAuthorizer() if AUTH_MODE == "iam" else None

api = Blueprint(__name__)


class ApiError(Exception):
    """An expected failure answered to the client as JSON with `status`."""

    def __init__(self, status: int, error: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.hint = hint

    def body(self) -> dict[str, Any]:
        body = {"error": self.error, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response with an explicit content type and no caching of stale reports."""
    return Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        headers={"Content-Type": CONTENT_TYPES["json"], "Cache-Control": "no-cache",
                 "X-Content-Type-Options": "nosniff"},
    )


def _request_id() -> str | None:
    context = getattr(api, "lambda_context", None)
    return getattr(context, "aws_request_id", None)


def _guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer ApiError as JSON; log anything else and answer a generic 500."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request = api.current_request
        path = getattr(request, "path", None)
        try:
            # issue 22: no valid session, no data (the page redirects to the sign-in; the rest answer 401).
            if AUTH_MODE == "cognito" and (refused := sign_in.guard(request, page=path == "/")) is not None:
                return refused
            return view(*args, **kwargs)
        except ApiError as error:
            log_event("web_request_rejected", logging.INFO, path=path, status=error.status,
                      error=error.error, detail=error.message)
            return json_response(error.body(), error.status)
        except Exception as error:  # noqa: BLE001 - the route boundary: nothing escapes
            log_error("web_request_failed", error, path=path, traceback=traceback.format_exc())
            body = {
                "error": "internal_error",
                "message": "The server could not answer this request; the error was logged.",
            }
            if request_id := _request_id():
                body["request_id"] = request_id
            return json_response(body, 500)

    return wrapper


@dataclass(frozen=True)
class RequestContext:
    """Settings and store for one request (read lazily: config can change per invoke)."""

    settings: Settings
    store: Store


def _context() -> RequestContext:
    settings = Settings.from_env()
    # What a boto3 client is built from besides DATA_STORE: a change gives a new store and client.
    return RequestContext(settings, _store(settings.data_store, client_environment()))


@functools.lru_cache(maxsize=8)
def _store(data_store: str, environment: tuple[str | None, ...]) -> Store:
    """One store per configuration for the life of the process: creating its boto3 client costs
    about 0.1 s of CPU, which each dashboard request would otherwise pay again."""
    return open_store(data_store)


# ---- input validation -------------------------------------------------------------------


def query_params(allowed: tuple[str, ...]) -> dict[str, str]:
    """The request's query parameters; 400 for unknown or repeated ones."""
    params = api.current_request.query_params
    if not params:
        return {}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ApiError(400, "bad_request",
                       f"unknown query parameter(s): {', '.join(unknown)}",
                       f"accepted: {', '.join(allowed) or 'none'}")
    values: dict[str, str] = {}
    for name in params:
        given = params.getlist(name)
        if len(given) > 1:
            raise ApiError(400, "bad_request", f"query parameter {name!r} is given {len(given)} times")
        values[name] = given[0]
    return values


def parse_series_id(value: str) -> str:
    """An upper-cased BLS series id; 400 if it does not look like one."""
    try:
        return series_ids.parse_series_id(value)
    except series_ids.InvalidCode as error:
        raise ApiError(400, "bad_request", error.message, error.hint) from None


def parse_period(value: str) -> str:
    """An upper-cased BLS period; 400 if it is not one."""
    try:
        return series_ids.parse_period(value)
    except series_ids.InvalidCode as error:
        raise ApiError(400, "bad_request", error.message, error.hint) from None


def parse_limit(value: str) -> int:
    """A positive integer up to MAX_LIMIT; 400 otherwise."""
    text = value.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError(400, "bad_request", f"limit {value[:20]!r} is not an integer from 1 to {MAX_LIMIT}")
    return int(text)


def parse_series_filter(value: str) -> list[str]:
    """A comma-separated list of series ids (at least one, at most MAX_SERIES_FILTER)."""
    ids = [parse_series_id(part) for part in value.split(",") if part.strip()]
    if not ids:
        raise ApiError(400, "bad_request", "series is empty", "give one or more series ids, comma-separated")
    if len(ids) > MAX_SERIES_FILTER:
        raise ApiError(400, "bad_request", f"more than {MAX_SERIES_FILTER} series requested")
    return list(dict.fromkeys(ids))


# ---- reading what the pipeline wrote ----------------------------------------------------


def read_report(store: Store, key: str) -> dict[str, Any]:
    """The JSON report at `key` (chalicelib.core.layout); 404 with a hint if the pipeline has not written it."""
    try:
        body = store.read(key).body
    except NotFound:
        raise ApiError(404, "report_not_found", f"the report {key} does not exist yet", RUN_HINT) from None
    try:
        document = json.loads(body)
    except ValueError as error:
        raise RuntimeError(f"{key} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise RuntimeError(f"{key} is not a JSON object")
    return document


def best_years(store: Store, series: list[str] | None, limit: int | None) -> dict[str, Any]:
    """The best-year report, optionally for some series only and/or the first `limit` rows."""
    report = BestYears.from_dict(read_report(store, BEST_YEARS_JSON_KEY))
    rows = report.series
    if series:
        by_id = {row.series_id: row for row in rows}
        unknown = [s for s in series if s not in by_id]
        if unknown:
            no_quarterly = set(report.no_quarterly_series)
            reasons = [
                f"{s} (has no quarterly values)" if s in no_quarterly else s for s in unknown
            ]
            raise ApiError(404, "series_not_found",
                           f"not in the best-year report: {', '.join(reasons)}",
                           "GET /api/reports/best-years lists every series in the report")
        rows = [by_id[s] for s in series]
    total = len(rows)
    if limit is not None:
        rows = rows[:limit]
    return {
        "include_annual": report.include_annual,
        "total": total,
        "count": len(rows),
        # Built directly: dataclasses.asdict costs ~10x more on 60,000 rows.
        "series": [{"series_id": row.series_id, "year": row.year, "value": row.value} for row in rows],
        "no_quarterly_series": report.no_quarterly_series,
        "invalid_values": report.invalid_values,
    }


def series_join(ctx: RequestContext, series_id: str, period: str) -> list[dict[str, Any]]:
    """The on-demand join; 404 when its inputs are missing or the series has no values."""
    settings = ctx.settings
    try:
        rows = [row.to_dict() for row in series_population_for(ctx.store, settings, series_id, period)]
    except PipelineError:
        # A missing input is the caller's 404; checked only once the join failed (no HEADs per request).
        for key in (settings.report_data_key, POPULATION_KEY):
            if not ctx.store.exists(key):
                raise ApiError(404, "data_not_found", f"{key} is not in the store yet", RUN_HINT) from None
        raise
    if not rows:
        raise ApiError(404, "series_not_found",
                       f"no values for series {series_id}, period {period} in {settings.report_data_key}",
                       "Check the series id and period (GET /api/reports/best-years lists the series).")
    return rows


def titles_for(ctx: RequestContext) -> dict[str, str]:
    """Series titles of the survey the reports read (`bls/<survey>/...`), for the dashboard."""
    parts = ctx.settings.report_data_key.split("/")
    if len(parts) < 3 or parts[0] != "bls":
        return {}
    return series_titles(ctx.store, parts[1])


def _series_revisions(ctx: RequestContext, series_id: str, period: str) -> list[dict[str, Any]]:
    """First published vs latest value of the series' revised observations in the report's data file."""
    _, survey, file = ctx.settings.report_data_key.split("/")
    return revisions.series_revisions(ctx.store, survey, file, series_id, period)


def parse_survey(value: str) -> str:
    """A survey code (`pr`, `ce`, ...); 400 otherwise."""
    text = value.strip().lower()
    if not SURVEY_PATTERN.match(text):
        raise ApiError(400, "bad_request", f"survey {value[:20]!r} is not a survey code", "e.g. survey=pr")
    return text


def parse_since(value: str) -> datetime:
    """A date `YYYY-MM-DD` (the start of that day, UTC); 400 otherwise."""
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(400, "bad_request", f"since {value[:20]!r} is not a date", "e.g. since=2026-01-01") from None


# ---- routes ------------------------------------------------------------------------------


@api.route("/", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def dashboard_page() -> Response:
    """The HTML dashboard; `?series=&period=` choose the chart."""
    ctx = _context()
    params: dict[str, str] = dict(api.current_request.query_params or {})
    view, status = _dashboard_view(ctx, params.get("series"), params.get("period"))
    policy = dashboard.CONTENT_SECURITY_POLICY
    if AUTH_MODE == "cognito":  # issue 22: the sign-in origin in form-action only
        policy = sign_in.content_security_policy(policy, sign_in.SignInConfig.from_settings(ctx.settings))
    return Response(body=dashboard.render_dashboard(view), status_code=status, headers={
        "Content-Type": CONTENT_TYPES["html"], "Cache-Control": "no-cache",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    })


@api.route("/api/status", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def status() -> Response:
    """`?files=all|none|pr,la`: whose file lists to include (default none: a summary per survey)."""
    files = query_params(("files",)).get("files", "none")
    return json_response(store_status(_context().store, files).to_dict())


@api.route("/api/reports/population", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def population_report() -> Response:
    query_params(())
    return json_response(read_report(_context().store, POPULATION_STATS_KEY))


@api.route("/api/reports/best-years", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def best_years_report() -> Response:
    params = query_params(("series", "limit"))
    series = parse_series_filter(params["series"]) if "series" in params else None
    limit = parse_limit(params["limit"]) if "limit" in params else None
    return json_response(best_years(_context().store, series, limit))


@api.route("/api/reports/series/{series_id}", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def series_report(series_id: str) -> Response:
    params = query_params(("period",))
    series_id = parse_series_id(series_id)
    ctx = _context()
    period = parse_period(params["period"]) if "period" in params else ctx.settings.report_period
    rows = series_join(ctx, series_id, period)
    return json_response({"series_id": series_id, "period": period,
                          "data_key": ctx.settings.report_data_key, "rows": rows})


@api.route("/api/revisions", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def revisions_report() -> Response:
    """`?survey=pr[&since=YYYY-MM-DD][&limit=N]`: the survey's release summaries, newest first (at most
    MAX_RELEASES): per changed file how many values were revised, added, removed, and the largest revisions."""
    params = query_params(("survey", "since", "limit"))
    if "survey" not in params:
        raise ApiError(400, "bad_request", "survey is required", "e.g. /api/revisions?survey=pr")
    survey = parse_survey(params["survey"])
    since = parse_since(params["since"]) if "since" in params else None
    limit = min(parse_limit(params["limit"]), MAX_RELEASES) if "limit" in params else DEFAULT_RELEASES
    releases = revisions.release_summaries(_context().store, survey, since=since, limit=limit)
    return json_response({"survey": survey, "since": params.get("since"), "releases": releases})


@api.route("/reports/{name}", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def report_file(name: str) -> Response:
    """A report file as written by the pipeline (JSON or CSV), byte for byte."""
    query_params(())
    if not REPORT_FILE_PATTERN.match(name):
        raise ApiError(400, "bad_request", f"{name[:60]!r} is not a report file name",
                       "names look like best_years.json or best_years.csv")
    store = _context().store
    try:
        obj = store.read(REPORTS_PREFIX + name)
    except NotFound:
        raise ApiError(404, "report_not_found", f"the report {REPORTS_PREFIX}{name} does not exist", RUN_HINT) from None
    extension = name.rsplit(".", 1)[1]
    return Response(body=obj.body.decode("utf-8"), status_code=200,
                    headers={"Content-Type": CONTENT_TYPES[extension], "Cache-Control": "no-cache",
                             "X-Content-Type-Options": "nosniff", "ETag": f'"{obj.etag}"'})


# ---- dashboard assembly -------------------------------------------------------------------


def _section(name: str, load: Callable[[], Any]) -> dashboard.Section:
    """Load one dashboard section; a missing report is a hint, any other failure is logged."""
    try:
        return dashboard.Section(data=load())
    except ApiError as error:
        return dashboard.Section(missing=f"{error.message}. {error.hint or ''}".strip())
    except Exception as error:  # noqa: BLE001 - one broken section must not break the page
        log_error("dashboard_section_failed", error, section=name, traceback=traceback.format_exc())
        return dashboard.Section(failed="This section could not be loaded; the error was logged.")


def _dashboard_view(ctx: RequestContext, series: str | None, period: str | None
                    ) -> tuple[dashboard.DashboardView, int]:
    status_code = 200
    chart_error = None
    try:
        series_id = parse_series_id(series) if series else ctx.settings.report_series_id
        chosen_period = parse_period(period) if period else ctx.settings.report_period
    except ApiError as error:
        status_code, chart_error = 400, f"{error.message}; {error.hint}"
        series_id, chosen_period = ctx.settings.report_series_id, ctx.settings.report_period
    if chart_error:
        chart = dashboard.Section(missing=chart_error)
    else:
        try:
            chart = dashboard.Section(data=series_join(ctx, series_id, chosen_period))
        except ApiError as error:
            chart = dashboard.Section(missing=f"{error.message}. {error.hint or ''}".strip())
            if error.error == "series_not_found":
                status_code = 404
        except Exception as error:  # noqa: BLE001 - the rest of the page still renders
            log_error("dashboard_section_failed", error, section="chart", traceback=traceback.format_exc())
            chart = dashboard.Section(failed="The chart could not be computed; the error was logged.")
    view = dashboard.DashboardView(
        # File lists of the report's survey only: the page stays small with every survey mirrored.
        status=_section("status", lambda: store_status(ctx.store, ctx.settings.report_data_key.split("/")[1])),
        population=_section("population", lambda: PopulationStats.from_dict(read_report(ctx.store,
                                                                                        POPULATION_STATS_KEY))),
        best_years=_section("best_years", lambda: BestYears.from_dict(read_report(ctx.store, BEST_YEARS_JSON_KEY))),
        chart=chart,
        series_id=series_id,
        period=chosen_period,
        data_key=ctx.settings.report_data_key,
        auth_mode=AUTH_MODE,
        titles=_section("titles", lambda: titles_for(ctx)).data or {},
        revisions=_section("revisions", lambda: _series_revisions(ctx, series_id, chosen_period)).data or [],
    )
    return view, status_code
