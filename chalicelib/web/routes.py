"""HTTP routes (reports API and dashboard), registered on the app as a blueprint.

Handlers validate input and read what the pipeline wrote to the store; the only computation
is the on-demand series × population join. Every route is wrapped by `_guarded`: JSON errors
with 400/404, anything else logged and answered with a generic 500. `API_AUTH` (`iam`, `cognito` or
`none`) is read at import; any other value fails the import. With `cognito` every route also checks
the session itself (chalicelib.web.auth). See docs/web.md.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import secrets
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalice.app import Blueprint, IAMAuthorizer, Response

from chalicelib.bls.mappings import series_titles
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
from chalicelib.gold import read as gold
from chalicelib.lake import revisions
from chalicelib.reports.documents import BestYears, PopulationStats
from chalicelib.web import dashboard, explorer
from chalicelib.web.auth import session as sign_in  # issue 22: API_AUTH=cognito
from chalicelib.web.params import (
    ApiError,
    parse_files,
    parse_limit,
    parse_period,
    parse_query,
    parse_series_filter,
    parse_series_id,
    parse_since,
    parse_survey,
)
from chalicelib.web.series_source import series_population_for
from chalicelib.web.status import REPORT_FILE_PATTERN, RUN_HINT, store_status

# API Gateway answers at most 6 MB (10 MB for HTML here would still be too slow): every body is
# checked against this, and the endpoints that can grow page (`limit`) or cap their rows.
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_SERIES_ROWS = 20_000  # one row per year and period: far above any real series
_NUMBER_MARK = secrets.token_hex(8)  # stands for an exact number inside json.dumps' output
_NUMBER = re.compile(r'"\\u0000' + _NUMBER_MARK + r':(-?[0-9]+(?:\.[0-9]+)?)"')
MAX_RELEASES, DEFAULT_RELEASES = 100, 20  # /api/revisions: release summaries per answer


CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


AUTH_MODE = api_auth_from_env()  # `iam`, `cognito` or `none`; any other value is a ConfigError at import
# cognito: API Gateway's check is added by the stack (infra/auth_api.py: the pool is not known here).
AUTHORIZER = IAMAuthorizer() if AUTH_MODE == "iam" else None

api = Blueprint(__name__)


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response with an explicit content type and no caching of stale reports.

    `Decimal` values are written as JSON numbers to the last digit (exact silver values a float
    cannot carry). A body over MAX_BODY_BYTES is refused with a 413 naming the way to ask less.
    """
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_exact_number)
    if "\\u0000" + _NUMBER_MARK in text:
        text = _NUMBER.sub(r"\1", text)
    if len(text) > MAX_BODY_BYTES // 4 and len(text.encode("utf-8")) > MAX_BODY_BYTES:
        raise ApiError(413, "response_too_large",
                       f"the answer would be {len(text.encode('utf-8')):,} bytes; at most {MAX_BODY_BYTES:,} are sent",
                       "ask for less: ?limit= and ?series= on /api/reports/best-years, "
                       "?files=<survey> on /api/status; /reports/<name> serves the whole file")
    return Response(
        body=text,
        status_code=status,
        headers={"Content-Type": CONTENT_TYPES["json"], "Cache-Control": "no-cache",
                 "X-Content-Type-Options": "nosniff"},
    )


def _exact_number(value: Any) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return f"\0{_NUMBER_MARK}:{value:f}"
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


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
        # filtered like the rows (a series asked for without quarterly values is a 404 above)
        "no_quarterly_series": [s for s in report.no_quarterly_series if s in series] if series
        else report.no_quarterly_series,
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
    if len(rows) > MAX_SERIES_ROWS:
        raise ApiError(422, "too_many_rows",
                       f"series {series_id}, period {period} has {len(rows):,} rows in {settings.report_data_key}; "
                       f"at most {MAX_SERIES_ROWS:,} are served",
                       "the data file repeats keys: `bls-pipeline lake` refuses such a file (duplicate keys)")
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


# ---- routes ------------------------------------------------------------------------------


@api.route("/", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def dashboard_page() -> Response:
    """The HTML dashboard; `?series=&period=` choose the chart."""
    ctx = _context()
    params: dict[str, str] = dict(api.current_request.query_params or {})
    view, status = _dashboard_view(ctx, params.get("series"), params.get("period"))
    explored = _explorer_section(ctx, params)
    view = dataclasses.replace(view, explorer=explored)
    status = max(status, explored.status)
    policy = dashboard.CONTENT_SECURITY_POLICY
    if AUTH_MODE == "cognito":  # issue 22: the sign-in origin in form-action only
        policy = sign_in.content_security_policy(policy, sign_in.SignInConfig.from_settings(ctx.settings))
    page = dashboard.render_dashboard(view)
    if len(page.encode("utf-8")) > MAX_BODY_BYTES:  # the sections are capped; this is the last guard
        raise ApiError(413, "response_too_large", "the dashboard page is too large", "use the JSON API")
    return Response(body=page, status_code=status, headers={
        "Content-Type": CONTENT_TYPES["html"], "Cache-Control": "no-cache",
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    })


@api.route("/api/status", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def status() -> Response:
    """`?files=all|none|pr,la`: whose file lists to include (default none: a summary per survey); a survey
    that is not mirrored, or a malformed value, is a 400 like every other bad parameter."""
    files = parse_files(query_params(("files",)).get("files", "none"))
    status = store_status(_context().store, files)
    if files not in ("all", "none"):
        mirrored = {survey.survey for survey in status.surveys}
        if unknown := [name for name in files.split(",") if name not in mirrored]:
            raise ApiError(400, "bad_request", f"files: not a mirrored survey: {', '.join(unknown)}",
                           f"mirrored surveys: {', '.join(sorted(mirrored)) or 'none yet'}; or all, none")
    return json_response(status.to_dict())


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
    if len(obj.body) > MAX_BODY_BYTES:
        raise ApiError(413, "response_too_large", f"{REPORTS_PREFIX}{name} is {len(obj.body):,} bytes; at most "
                       f"{MAX_BODY_BYTES:,} are sent", "use /api/reports/best-years?limit= (paged rows)")
    return Response(body=obj.body.decode("utf-8"), status_code=200,
                    headers={"Content-Type": CONTENT_TYPES[extension], "Cache-Control": "no-cache",
                             "X-Content-Type-Options": "nosniff", "ETag": f'"{obj.etag}"'})


# ---- the explorer (issue 20): the gold layer of every mirrored survey ---------------------------


@api.route("/api/surveys", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def surveys() -> Response:
    """Every mirrored survey: series count (None until its gold catalog exists), files, bytes, last change."""
    query_params(())
    return json_response(explorer.surveys_document(gold.surveys(_context().store)))


@api.route("/api/surveys/{survey}/series", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def survey_series(survey: str) -> Response:
    """`?q=words&limit=N`: the survey's series whose id or title holds every word, best matches first."""
    params = query_params(("q", "limit"))
    survey = parse_survey(survey)
    query = parse_query(params.get("q", ""))
    limit = parse_limit(params["limit"], gold.MAX_LIMIT) if "limit" in params else explorer.DEFAULT_LIMIT
    try:
        result = gold.search(_context().store, survey, [query], limit)
    except NotFound:
        raise ApiError(404, "survey_not_found", f"the survey {survey} has no gold tables",
                       f"GET /api/surveys lists the surveys. {explorer.GOLD_HINT}") from None
    return json_response(explorer.search_document(result, query, limit))


@api.route("/api/series/{series_id}", methods=["GET"], authorizer=AUTHORIZER)
@_guarded
def series(series_id: str) -> Response:
    """The series' catalog entry, every observation (exact), annual values, best year and latest change;
    `?format=csv` for its observations as CSV, `?survey=` where the id's first two letters are not its survey."""
    params = query_params(("format", "survey"))
    series_id = parse_series_id(series_id)
    survey = parse_survey(params["survey"]) if "survey" in params else None
    form = params.get("format", "json")
    if form not in ("json", "csv"):
        raise ApiError(400, "bad_request", f"format {form[:20]!r} is not json or csv")
    detail = gold.series_detail(_context().store, series_id, survey)
    if detail is None:
        raise ApiError(404, "series_not_found",
                       f"no series {series_id} in the gold catalog of {survey or gold.survey_of_series(series_id)}",
                       "GET /api/surveys/{survey}/series?q=words finds series")
    if form == "csv":
        return Response(body=explorer.series_csv(detail), status_code=200, headers={
            "Content-Type": CONTENT_TYPES["csv"], "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{series_id}.csv"'})
    return json_response(detail.to_dict())


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


def _explorer_section(ctx: RequestContext, params: dict[str, str]) -> explorer.ExplorerView:
    """The explorer section for `?survey=&q=&explore=`; a malformed value is a notice and a 400."""
    keep = {name: params[name] for name in ("series", "period") if params.get(name)}
    try:
        survey = parse_survey(params["survey"]) if params.get("survey") else None
        query = parse_query(params.get("q", ""))
        series_id = parse_series_id(params["explore"]) if params.get("explore") else None
    except ApiError as error:
        return explorer.ExplorerView([], None, "", notice=f"{error.message}. {error.hint or ''}".strip(),
                                     status=error.status, keep=keep)
    report_survey = ctx.settings.report_data_key.split("/")[1]
    try:
        return explorer.explorer_view(ctx.store, survey, query, series_id, report_survey, keep)
    except Exception as error:  # noqa: BLE001 - the rest of the page still renders
        log_error("dashboard_section_failed", error, section="explorer", traceback=traceback.format_exc())
        return explorer.ExplorerView([], survey, query, failed=True,
                                     notice="The explorer could not be loaded; the error was logged.", keep=keep)


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
