"""The reports web API and dashboard, every route and error path through `chalice.test.Client`.

The store is filled the way production fills it: the real mirror copies the real
`pr` files (vintage 2026-08-06) from a local SourceServer, the real population
run stores a real DataUSA response, the real report run computes the reports.
Expected values come from those report files and from the fixtures, never typed in.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.paths import REPO as PROJECT
from support.web import POPULATION_FILE, PR_FILES, STAGE, Page, fill_store_from_pr

if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from chalice.test import Client  # noqa: E402

from app import app  # noqa: E402
from chalicelib.core.settings import Settings  # noqa: E402
from chalicelib.core.store import LocalStore, Store  # noqa: E402
from chalicelib.mirror.status import mirror_status  # noqa: E402
from chalicelib.web import chart, dashboard, params  # noqa: E402
from chalicelib.web import routes as web
from chalicelib.web.format import format_time  # noqa: E402
from chalicelib.web.series_source import series_population_for  # noqa: E402

RUN_HINTS = ("make run", "bls-pipeline run")
JSON_TYPE = "application/json"
UNKNOWN_SERIES = "PRS99999999"  # well-formed, not in the pr survey

# Local mode admits requests to IAM-protected routes with a warning (asserted in its own test).
pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")


# --------------------------------------------------------------------------- helpers


def report(store: Store, name: str) -> Any:
    return json.loads(store.read(f"reports/{name}").body)


def fixture_values(series_id: str, period: str) -> dict[int, float]:
    """Year -> value for one series/period, read straight from the fixture file (no project code)."""
    values = {}
    for line in (PR_FILES / "pr.data.0.Current").read_text().splitlines()[1:]:
        sid, year, per, value = (part.strip() for part in line.split("\t")[:4])
        if sid == series_id and per == period:
            values[int(year)] = float(value)
    return values


def fixture_population() -> dict[int, int]:
    rows = json.loads(POPULATION_FILE.read_text())["data"]
    return {int(row["Year"]): int(row["Population"]) for row in rows}


def error_of(response: Any) -> dict[str, Any]:
    assert response.headers["Content-Type"] == JSON_TYPE
    body = json.loads(response.body)
    assert set(body) <= {"error", "message", "hint", "request_id"}
    assert "Traceback" not in response.body.decode()
    return body


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings]:
    """A local store filled from the real pr data (shared, read-only for the tests)."""
    root = tmp_path_factory.mktemp("web") / "data"
    settings = fill_store_from_pr(LocalStore(root), str(root))
    return root, settings


@pytest.fixture
def store(filled: tuple[Path, Settings]) -> LocalStore:
    return LocalStore(filled[0])


@pytest.fixture
def client(filled: tuple[Path, Settings], monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """The app's test client, with DATA_STORE pointing at the filled store."""
    monkeypatch.setenv("DATA_STORE", str(filled[0]))
    with Client(app, stage_name=STAGE, project_dir=str(PROJECT)) as test_client:
        yield test_client


@pytest.fixture
def empty_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """The test client on a store the pipeline has never run against."""
    monkeypatch.setenv("DATA_STORE", str(tmp_path / "empty"))
    with Client(app, stage_name=STAGE, project_dir=str(PROJECT)) as test_client:
        yield test_client


# --------------------------------------------------------------------------- /api/status


def test_status_reports_the_mirror_population_and_report_files(client, store):
    # GIVEN a store filled by the real pipeline
    # WHEN the status is requested
    response = client.http.get("/api/status")
    # THEN it is JSON with the mirror's summary per survey (no file lists: small at 65 surveys),
    # the population object and every report file
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    body = json.loads(response.body)
    assert body["surveys"] == [survey.to_dict() for survey in mirror_status(store, files_of=())]
    [survey] = body["surveys"]
    fixture_sizes = {p.name: p.stat().st_size for p in PR_FILES.iterdir()}
    assert (survey["survey"], survey["file_count"], survey["bytes"]) == ("pr", 12, sum(fixture_sizes.values()))
    assert "files" not in survey
    # AND the file list comes on request
    [listed] = json.loads(client.http.get("/api/status?files=pr").body)["surveys"]
    assert {f["name"]: f["size"] for f in listed["files"]} == fixture_sizes
    assert body["population"] == {
        "key": "population/population.json",
        "size": POPULATION_FILE.stat().st_size,
        "etag": store.head("population/population.json").etag,
    }
    listed = {info.key: info.size for info in store.list("reports/")}
    assert {f["key"]: f["size"] for f in body["reports"]["files"]} == listed
    assert all(f["path"] == "/" + f["key"] for f in body["reports"]["files"])
    assert body["reports"]["generated_at"] == report(store, "summary.json")["generated_at"]
    assert body["ready"] is True and "hint" not in body


def test_status_and_dashboard_show_the_last_ingestion(client, store):
    # GIVEN the last ingestion failed in its population step
    from chalicelib.mirror.results import MirrorResult, SurveyResult
    from chalicelib.pipeline import ingestion as pipeline

    mirrored = MirrorResult([SurveyResult("pr", "https://download.bls.gov/pub/time.series/pr/", "bls/pr/",
                                          updated=["pr.series"], unchanged=["pr.class"])])
    result = pipeline.IngestionResult([
        pipeline.StepOutcome("mirror", True, mirrored),
        pipeline.StepOutcome("population", False, error="population API answered 503"),
    ])
    pipeline.record_ingestion(store, result, "2026-11-25T06:00:00Z")
    # WHEN the status and the dashboard are requested
    body = json.loads(client.http.get("/api/status").body)
    page = client.http.get("/").body.decode()
    # THEN both show the record: when it ran and what failed
    assert body["ingestion"] == pipeline.last_ingestion(store).to_dict()
    assert body["ingestion"]["ok"] is False
    assert body["ingestion"]["mirror"] == {"added": 0, "updated": 1, "deleted": 0, "unchanged": 1, "failed": 0,
                                           "pending": 0, "not_reached": 0}
    assert "Last ingestion" in page
    assert "FAILED: population API answered 503" in page


def test_status_of_an_empty_store_says_how_to_fill_it(empty_client):
    response = empty_client.http.get("/api/status")
    assert response.status_code == 200
    body = json.loads(response.body)
    assert (body["surveys"], body["population"], body["reports"]["files"], body["ready"]) == ([], None, [], False)
    assert body["ingestion"] is None
    assert all(hint in body["hint"] for hint in RUN_HINTS)


def test_status_reads_an_s3_store(s3_store, monkeypatch):
    # GIVEN the pipeline ran against S3 (moto)
    fill_store_from_pr(s3_store, "s3://bls-pipeline-test/mirror")
    monkeypatch.setenv("DATA_STORE", "s3://bls-pipeline-test/mirror")
    client = Client(app, stage_name=STAGE, project_dir=str(PROJECT))
    # WHEN status and a report are requested
    status = json.loads(client.http.get("/api/status?files=all").body)
    best = json.loads(client.http.get("/api/reports/best-years?limit=3").body)
    # THEN they come from the bucket
    assert status["surveys"] == [survey.to_dict() for survey in mirror_status(s3_store)]
    assert len(status["surveys"][0]["files"]) == 12
    assert best["series"] == report(s3_store, "best_years.json")["series"][:3]


def test_requests_share_one_s3_client(s3_store, monkeypatch):
    # GIVEN the API on an S3 store, and boto3 client creation counted
    import boto3

    fill_store_from_pr(s3_store, "s3://bls-pipeline-test/mirror")
    monkeypatch.setenv("DATA_STORE", "s3://bls-pipeline-test/mirror")
    created = []
    real_client = boto3.client
    monkeypatch.setattr(boto3, "client", lambda *a, **k: created.append(a) or real_client(*a, **k))
    web._store.cache_clear()  # another test may have served this configuration already
    client = Client(app, stage_name=STAGE, project_dir=str(PROJECT))
    # WHEN three requests are served
    for path in ("/api/status", "/api/reports/population", "/api/reports/best-years?limit=1"):
        assert client.http.get(path).status_code == 200
    # THEN one client served them all
    assert created == [("s3",)]


# --------------------------------------------------------------------------- /api/reports/population


def test_population_report_is_the_stored_report(client, store):
    response = client.http.get("/api/reports/population")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    body = json.loads(response.body)
    assert body == report(store, "population_stats.json")
    # and the numbers are the fixture's (2013-2018 by default)
    expected = {y: p for y, p in fixture_population().items() if 2013 <= y <= 2018}
    assert {row["year"]: row["population"] for row in body["population"]} == expected
    assert body["mean"] == pytest.approx(sum(expected.values()) / len(expected))


def test_missing_population_report_is_404_with_a_hint(empty_client):
    response = empty_client.http.get("/api/reports/population")
    assert response.status_code == 404
    body = error_of(response)
    assert body["error"] == "report_not_found"
    assert "reports/population_stats.json" in body["message"]
    assert all(hint in body["hint"] for hint in RUN_HINTS)


# --------------------------------------------------------------------------- /api/reports/best-years


def test_best_years_lists_every_series_of_the_report(client, store):
    stored = report(store, "best_years.json")
    body = json.loads(client.http.get("/api/reports/best-years").body)
    assert body["series"] == stored["series"]
    assert body["total"] == body["count"] == len(stored["series"]) > 200
    assert body["no_quarterly_series"] == stored["no_quarterly_series"]
    assert body["include_annual"] is stored["include_annual"]


def test_best_years_filters_series_case_insensitively_in_the_given_order(client, store):
    by_id = {row["series_id"]: row for row in report(store, "best_years.json")["series"]}
    response = client.http.get("/api/reports/best-years?series=prs85006092,PRS30006032")
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["series"] == [by_id["PRS85006092"], by_id["PRS30006032"]]
    assert body["total"] == body["count"] == 2


def test_best_years_limit_cuts_the_list(client, store):
    stored = report(store, "best_years.json")["series"]
    body = json.loads(client.http.get("/api/reports/best-years?limit=5").body)
    assert body["series"] == stored[:5]
    assert (body["count"], body["total"]) == (5, len(stored))


def test_best_years_unknown_series_is_404_naming_it(client, store):
    response = client.http.get(f"/api/reports/best-years?series=PRS30006032,{UNKNOWN_SERIES}")
    assert response.status_code == 404
    body = error_of(response)
    assert body["error"] == "series_not_found"
    assert UNKNOWN_SERIES in body["message"] and "PRS30006032" not in body["message"]


def test_best_years_explains_a_series_without_quarterly_values(client, store):
    [first, *_] = report(store, "best_years.json")["no_quarterly_series"]
    body = error_of(client.http.get(f"/api/reports/best-years?series={first}"))
    assert f"{first} (has no quarterly values)" in body["message"]


def test_best_years_filters_no_quarterly_series_by_the_series_asked_for(client, store):
    # issue 19 point 14: the list of series without quarterly values follows the filter like the rows
    full = report(store, "best_years.json")
    assert full["no_quarterly_series"]  # the real pr data has some
    first = full["series"][0]["series_id"]
    body = json.loads(client.http.get(f"/api/reports/best-years?series={first}").body)
    assert [row["series_id"] for row in body["series"]] == [first]
    assert body["no_quarterly_series"] == []
    unfiltered = json.loads(client.http.get("/api/reports/best-years?limit=1").body)
    assert unfiltered["no_quarterly_series"] == full["no_quarterly_series"]


@pytest.mark.parametrize("files", ["bogus", "cu", "pr,bogus", "PR", "pr;la", "", ",", "../x"])
def test_status_files_of_a_survey_not_mirrored_or_malformed_is_400(client, files):
    # issue 19 point 14: like every other bad parameter (never a silent omission)
    response = client.http.get(f"/api/status?files={files}")
    assert response.status_code == 400
    body = error_of(response)
    assert body["error"] == "bad_request" and ("pr" in body["hint"] or "files" in body["message"])


def test_status_files_of_mirrored_surveys_all_and_none(client):
    for files, listed in (("pr", True), ("pr,pr", True), ("all", True), ("none", False)):
        [survey] = json.loads(client.http.get(f"/api/status?files={files}").body)["surveys"]
        assert ("files" in survey) is listed


@pytest.mark.parametrize(
    "query",
    [
        "limit=0", "limit=-1", "limit=abc", "limit=1.5", f"limit={params.MAX_LIMIT + 1}", "limit=",
        "series=PRS-3000", "series=P", "series=" + "A" * 31, "series=,", "series=PRS30006032;DROP",
        "serie=PRS30006032", "limit=5&limit=6",
    ],
)
def test_best_years_malformed_input_is_400(client, query):
    response = client.http.get(f"/api/reports/best-years?{query}")
    assert response.status_code == 400
    assert error_of(response)["error"] == "bad_request"


def test_best_years_missing_report_is_404_with_a_hint(empty_client):
    response = empty_client.http.get("/api/reports/best-years?limit=3")
    assert response.status_code == 404
    assert all(hint in error_of(response)["hint"] for hint in RUN_HINTS)


# --------------------------------------------------------------------------- /api/reports/series/{id}


def test_series_join_for_the_report_series_matches_report_and_fixtures(client, store, filled):
    # GIVEN the stored series x population report for the configured series/period
    stored = report(store, "series_population.json")
    # WHEN the same join is requested on demand
    response = client.http.get(f"/api/reports/series/{stored['series_id']}?period={stored['period']}")
    # THEN it answers the same rows, whose numbers are the fixture files' own
    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    body = json.loads(response.body)
    assert (body["series_id"], body["period"], body["data_key"]) == (
        stored["series_id"], stored["period"], "bls/pr/pr.data.0.Current")
    assert body["rows"] == stored["rows"]
    population = fixture_population()
    assert {r["year"]: r["value"] for r in body["rows"]} == fixture_values(stored["series_id"], stored["period"])
    assert {r["year"]: r["population"] for r in body["rows"]} == {
        r["year"]: population.get(r["year"]) for r in body["rows"]}


def test_series_join_for_any_series_and_period(client, store, filled):
    settings = filled[1]
    response = client.http.get("/api/reports/series/prs85006092?period=q05")
    assert response.status_code == 200
    body = json.loads(response.body)
    assert (body["series_id"], body["period"]) == ("PRS85006092", "Q05")
    assert body["rows"] == [row.to_dict() for row in series_population_for(store, settings, "PRS85006092", "Q05")]
    assert {r["year"]: r["value"] for r in body["rows"]} == fixture_values("PRS85006092", "Q05")


def test_series_join_period_defaults_to_the_configured_period(client):
    default = json.loads(client.http.get("/api/reports/series/PRS30006032").body)
    explicit = json.loads(client.http.get("/api/reports/series/PRS30006032?period=Q01").body)
    assert default == explicit and default["period"] == Settings().report_period


@pytest.mark.parametrize("path", [f"/api/reports/series/{UNKNOWN_SERIES}",
                                  "/api/reports/series/PRS30006032?period=M01"])
def test_series_join_without_values_is_404(client, path):
    response = client.http.get(path)
    assert response.status_code == 404
    body = error_of(response)
    assert body["error"] == "series_not_found"
    assert "bls/pr/pr.data.0.Current" in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/reports/series/PR%24123", "/api/reports/series/P", "/api/reports/series/" + "A" * 31,
        "/api/reports/series/12345678", "/api/reports/series/PRS30006032?period=Q6",
        "/api/reports/series/PRS30006032?period=Q00", "/api/reports/series/PRS30006032?period=M14",
        "/api/reports/series/PRS30006032?period=13", "/api/reports/series/PRS30006032?period=",
        "/api/reports/series/PRS30006032?year=2013",
    ],
)
def test_series_join_malformed_input_is_400(client, path):
    response = client.http.get(path)
    assert response.status_code == 400
    assert error_of(response)["error"] == "bad_request"


def test_series_join_without_data_is_404_with_a_hint(empty_client):
    response = empty_client.http.get("/api/reports/series/PRS30006032?period=Q01")
    assert response.status_code == 404
    body = error_of(response)
    assert body["error"] == "data_not_found" and "bls/pr/pr.data.0.Current" in body["message"]
    assert all(hint in body["hint"] for hint in RUN_HINTS)


# --------------------------------------------------------------------------- /reports/{name}


@pytest.mark.parametrize("name,content_type", [
    ("best_years.csv", "text/csv; charset=utf-8"),
    ("series_population.csv", "text/csv; charset=utf-8"),
    ("summary.json", JSON_TYPE),
    ("best_years.json", JSON_TYPE),
])
def test_report_files_are_served_byte_for_byte(client, store, name, content_type):
    response = client.http.get(f"/reports/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    stored = store.read(f"reports/{name}")
    assert response.body == stored.body
    assert response.headers["ETag"] == f'"{stored.etag}"'


def test_report_file_errors(client):
    missing = client.http.get("/reports/nothing.json")
    assert missing.status_code == 404 and error_of(missing)["error"] == "report_not_found"
    for name in ("best_years.txt", "Best_Years.json", ".hidden.json", "summary.json%00"):
        bad = client.http.get(f"/reports/{name}")
        assert bad.status_code == 400, name
        assert error_of(bad)["error"] == "bad_request"
    # a path outside reports/ does not match the route at all (API Gateway's 403)
    assert client.http.get("/reports/../bls/pr/pr.series").status_code in (403, 404)


# --------------------------------------------------------------------------- failures never leak


def test_unexpected_error_is_a_generic_500_and_is_logged(client, monkeypatch, capsys):
    # GIVEN the mirror status fails in an unexpected way, with internals in its message
    import chalicelib.web.status

    def broken(store: Store, files_of: object = "all") -> list:
        raise RuntimeError("secret internal detail /var/task/x.py")

    monkeypatch.setattr(chalicelib.web.status, "mirror_status", broken)
    capsys.readouterr()
    # WHEN the status is requested
    response = client.http.get("/api/status")
    # THEN the client gets a generic JSON 500 and the log gets the details
    assert response.status_code == 500
    body = error_of(response)
    assert body["error"] == "internal_error"
    assert "secret" not in response.body.decode()
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [failure] = [line for line in logged if line.get("event") == "web_request_failed"]
    assert failure["error"] == "secret internal detail /var/task/x.py"
    assert failure["error_type"] == "RuntimeError"
    assert failure["path"] == "/api/status"
    assert "Traceback" in failure["traceback"]


def test_corrupt_report_is_a_generic_500(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "data")
    store.put("reports/population_stats.json", b'{"mean": 1, ')
    monkeypatch.setenv("DATA_STORE", str(tmp_path / "data"))
    response = Client(app, stage_name=STAGE, project_dir=str(PROJECT)).http.get("/api/reports/population")
    assert response.status_code == 500
    assert error_of(response)["error"] == "internal_error"


def test_invalid_configuration_is_a_generic_500(monkeypatch):
    monkeypatch.setenv("DATA_STORE", "ftp://example.org/data")
    response = Client(app, stage_name=STAGE, project_dir=str(PROJECT)).http.get("/api/reports/population")
    assert response.status_code == 500
    assert "ftp" not in response.body.decode() and error_of(response)["error"] == "internal_error"


def test_data_store_is_read_per_request(tmp_path, monkeypatch, filled):
    # GIVEN one client; DATA_STORE changes between two requests
    client = Client(app, stage_name=STAGE, project_dir=str(PROJECT))
    monkeypatch.setenv("DATA_STORE", str(tmp_path / "empty"))
    assert client.http.get("/api/reports/population").status_code == 404
    monkeypatch.setenv("DATA_STORE", str(filled[0]))
    # THEN the second request reads the new store
    assert client.http.get("/api/reports/population").status_code == 200


# --------------------------------------------------------------------------- GET / (dashboard)


def test_dashboard_inlines_the_static_css_and_script_files(client):
    # GIVEN the dashboard's CSS and JavaScript as files of the package
    static = Path(dashboard.__file__).parent / "static"
    css, script = (static / "dashboard.css").read_text(), (static / "dashboard.js").read_text()
    # WHEN the page is served
    response = client.http.get("/")
    html = response.body.decode()
    # THEN both files are inlined exactly once, byte for byte, and the script's hash is the allowed one
    assert re.findall(r"<style>(.*?)</style>", html, re.S) == [css]
    assert re.findall(r"<script>(.*?)</script>", html, re.S) == [script]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in response.headers["Content-Security-Policy"]
    assert "history.replaceState" in script and "svg.chart" in css


def test_dashboard_renders_every_section_with_the_real_numbers(client, store):
    response = client.http.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    # nothing may load from elsewhere; the one inline script is allowed by its hash
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    html = response.body.decode()
    [script] = re.findall(r"<script>(.*?)</script>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    page = Page(html)
    # best-year table: every series of the report, with its year and value
    best = report(store, "best_years.json")["series"]
    rows = page.find("tr", data_series=True)
    assert [(r["attrs"]["data-series"], int(r["attrs"]["data-year"]), float(r["attrs"]["data-value"]))
            for r in rows] == [(b["series_id"], b["year"], b["value"]) for b in best]
    # chart: one point per year with the report's value, and population where known
    joined = report(store, "series_population.json")["rows"]
    points = {int(c["attrs"]["data-year"]): float(c["attrs"]["data-value"])
              for c in page.find("circle", class_="pt-value")}
    assert points == {r["year"]: r["value"] for r in joined}
    people = {int(c["attrs"]["data-year"]): int(c["attrs"]["data-population"])
              for c in page.find("circle", class_="pt-population")}
    assert people == {r["year"]: r["population"] for r in joined if r["population"] is not None}
    # population statistics
    stats = report(store, "population_stats.json")
    assert page.by_id("pop-mean")["text"] == f"{stats['mean']:,.0f}"
    assert page.by_id("pop-std")["text"] == f"{stats['std']:,.0f}"
    # mirror status: every mirrored file
    assert {e["attrs"]["data-key"] for e in page.find("tr", data_key=True)} == {
        f"bls/pr/{p.name}" for p in PR_FILES.iterdir()}
    # links to every report file, relative (so they work under an API Gateway stage)
    links = {a["attrs"]["href"] for a in page.find("a")}
    assert {f"reports/{info.key.split('/', 1)[1]}" for info in store.list("reports/")} <= links
    assert "api/status" in links
    # nothing from the internet
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "").replace(
        mirror_status(store)[0].source_url, "")
    assert "https://" not in html


def test_dashboard_chart_for_a_chosen_series_and_period(client):
    page = Page(client.http.get("/?series=prs85006092&period=Q05").body.decode())
    points = {int(c["attrs"]["data-year"]): float(c["attrs"]["data-value"])
              for c in page.find("circle", class_="pt-value")}
    assert points == fixture_values("PRS85006092", "Q05")
    assert page.find("input", name="series")[0]["attrs"]["value"] == "PRS85006092"
    assert page.find("option", value="Q05", selected=True)


def test_dashboard_with_malformed_choice_is_400_and_explains(client):
    response = client.http.get("/?period=Q9")
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = Page(response.body.decode())
    assert "'Q9' is not a BLS period" in page.find("section", id="series")[0]["text"]
    assert page.find("tr", data_series=True)  # the rest of the page is still there


def test_dashboard_with_unknown_series_is_404(client):
    response = client.http.get(f"/?series={UNKNOWN_SERIES}")
    assert response.status_code == 404
    [notice] = [n for n in Page(response.body.decode()).find("p", class_="notice") if UNKNOWN_SERIES in n["text"]]
    assert notice["text"].startswith(f"No values for series {UNKNOWN_SERIES}, period Q01")


def test_dashboard_on_an_empty_store_explains_how_to_fill_it(empty_client):
    response = empty_client.http.get("/")
    assert response.status_code == 200
    page = Page(response.body.decode())
    notices = " ".join(n["text"] for n in page.find(class_="notice"))
    assert all(hint in notices for hint in RUN_HINTS)
    assert not page.find("circle") and not page.find("tr", data_series=True)


def test_dashboard_survives_a_broken_section(client, monkeypatch, capsys):
    import chalicelib.web.status

    monkeypatch.setattr(chalicelib.web.status, "mirror_status", lambda store, files_of="all": 1 / 0)
    response = client.http.get("/")
    assert response.status_code == 200
    page = Page(response.body.decode())
    assert "could not be loaded" in page.by_id("mirror")["text"]
    assert page.find("tr", data_series=True) and page.find("circle")
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_dashboard_escapes_data():
    from chalicelib.mirror.status import MirroredFile, SurveyStatus
    from chalicelib.reports.documents import BestYear, BestYears
    from chalicelib.web.status import StoreStatus

    # GIVEN report data containing markup
    evil = "<script>alert(1)</script>"
    view = dashboard.DashboardView(
        status=dashboard.Section(data=StoreStatus(
            [SurveyStatus(evil, evil, None, None, 1, 1, [MirroredFile(evil, evil, 1, evil, evil)])], None, None, None, [])),
        population=dashboard.Section(missing=evil),
        best_years=dashboard.Section(data=BestYears(False, [BestYear(evil, 2000, 1.0)], [])),
        chart=dashboard.Section(failed=evil),
        series_id="PRS30006032", period="Q01", data_key="bls/pr/pr.data.0.Current", auth_mode="iam",
    )
    # WHEN rendered THEN the markup only appears escaped
    html = dashboard.render_dashboard(view)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --------------------------------------------------------------------------- authorization


AUTH_PROBE = """
import json, warnings
from chalice.deploy.swagger import SwaggerGenerator
from chalice.test import Client
from app import app

authorizers = sorted({type(e.authorizer).__name__ if e.authorizer else "None"
                      for methods in app.routes.values() for e in methods.values()})
handler = {"api_handler_arn": "arn:aws:lambda:us-east-1:1:function:x"}
swagger = SwaggerGenerator("us-east-1", handler).generate_swagger(app)
security = sorted({json.dumps(op.get("security")) for ops in swagger["paths"].values()
                   for method, op in ops.items() if method != "options"})
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    status = Client(app, stage_name="test").http.get("/api/status").status_code
print(json.dumps({"authorizers": authorizers, "schemes": swagger.get("securityDefinitions", {}),
                  "security": security, "local_status": status,
                  "local_warnings": [str(w.message) for w in caught if "local mode" in str(w.message)]}))
"""


def probe_auth(api_auth: str | None, tmp_path: Path) -> dict[str, Any]:
    """Import the app in a fresh process (API_AUTH is read at import) and describe its authorization."""
    env = {"PATH": "/usr/bin:/bin", "DATA_STORE": str(tmp_path / "empty"), "AWS_DEFAULT_REGION": "us-east-1"}
    if api_auth is not None:
        env["API_AUTH"] = api_auth
    result = subprocess.run([sys.executable, "-c", AUTH_PROBE], cwd=PROJECT, capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("api_auth", [None, "", "iam", " IAM "])
def test_every_route_requires_iam_by_default(api_auth, tmp_path):
    # GIVEN API_AUTH unset, empty or iam WHEN the app is imported
    probe = probe_auth(api_auth, tmp_path)
    # THEN every route has the IAM authorizer, and API Gateway's swagger requires SigV4 on each
    assert probe["authorizers"] == ["IAMAuthorizer"]
    [(scheme, definition)] = probe["schemes"].items()
    assert definition["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert probe["security"] == [json.dumps([{scheme: []}])]
    # and chalice local / chalice.test do not enforce it (with a warning), so local debugging works
    assert probe["local_status"] == 200
    assert probe["local_warnings"] == [
        "IAMAuthorizer is not a supported in local mode. All requests made against a route will be "
        "authorized to allow local testing."]


def test_api_auth_none_makes_the_api_public(tmp_path):
    probe = probe_auth("none", tmp_path)
    assert probe["authorizers"] == ["None"]
    assert probe["schemes"] == {} and probe["security"] == ["null"]
    assert (probe["local_status"], probe["local_warnings"]) == (200, [])


def test_unknown_api_auth_refuses_to_start():
    result = subprocess.run([sys.executable, "-c", "import app"], cwd=PROJECT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "API_AUTH": "public"}, timeout=60)
    assert result.returncode != 0
    assert "API_AUTH: 'public' is not one of iam, cognito, none" in result.stderr


def test_data_store_is_not_fixed_by_the_chalice_config():
    # chalice local and chalice.test let config variables override the process environment,
    # so the top level (inherited by every stage) must not set DATA_STORE: the app defaults to ./data.
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    assert "DATA_STORE" not in config.get("environment_variables", {})


# --------------------------------------------------------------------------- helpers of the page


def test_series_titles_come_from_the_survey_mapping_files(store):
    from chalicelib.bls.mappings import series_titles

    # GIVEN the mirrored pr files WHEN titles are built
    titles = series_titles(store, "pr")
    # THEN each series has one; PRS85006092's parts are its codes' texts in the mapping files
    series_ids = {line.split("\t")[0].strip() for line in (PR_FILES / "pr.series").read_text().splitlines()[1:]}
    assert set(titles) == series_ids

    def text(name: str, code: str) -> str:
        rows = [line.split("\t") for line in (PR_FILES / f"pr.{name}").read_text().splitlines()[1:]]
        return next(row[1].strip() for row in rows if row[0].strip() == code)

    # PRS85006092: seasonal S, sector 8500, class 6, measure 09, duration 2
    assert titles["PRS85006092"] == " · ".join(
        [text("sector", "8500"), text("class", "6"), text("measure", "09"), text("duration", "2"),
         text("seasonal", "S")])
    assert series_titles(store, "cu") == {}


def test_series_titles_read_only_mapping_files_that_exist(store):
    from chalicelib.bls.mappings import series_titles

    # GIVEN a store that counts its requests
    calls: list[str] = []

    class Counting:
        def list(self, prefix="", *, start_after=""):
            calls.append("list")
            return store.list(prefix, start_after=start_after)

        def read(self, key):
            calls.append(f"read {key}")
            return store.read(key)

        def head(self, key):
            calls.append(f"head {key}")
            return store.head(key)

    # WHEN titles are built
    series_titles(Counting(), "pr")
    # THEN one listing, and reads of the series file and the five mapping files only
    assert calls[0] == "list" and calls.count("list") == 1
    assert sorted(c for c in calls[1:]) == sorted(
        f"read bls/pr/pr.{name}" for name in ("series", "seasonal", "sector", "class", "measure", "duration"))


def test_dashboard_shows_series_titles(client, store):
    from chalicelib.bls.mappings import series_titles

    titles = series_titles(store, "pr")
    page = Page(client.http.get("/?series=PRS85006092").body.decode())
    [row] = page.find("tr", data_series="PRS85006092")
    assert titles["PRS85006092"] in row["text"]
    assert titles["PRS85006092"] in page.find("p", class_="series-title")[0]["text"]


@pytest.mark.parametrize("low,high,expected", [
    (-21.0, 5.3, [-30, -20, -10, 0, 10]),
    (316128839, 334914896, [315e6, 320e6, 325e6, 330e6, 335e6]),
    (0.5, 0.5, [0.45, 0.5, 0.55]),
])
def test_chart_ticks_are_round_and_cover_the_data(low, high, expected):
    ticks = chart.nice_ticks(low, high, 4)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= low and ticks[-1] >= high


@pytest.mark.parametrize("stamp,shown", [
    ("2026-08-06T08:30:00Z", "2026-08-06 08:30 UTC"),
    ("2026-08-06T10:30:00+02:00", "2026-08-06 08:30 UTC"),
    ("Thu, 06 Aug 2026 08:30:00 GMT", "2026-08-06 08:30 UTC"),
    (None, "never"),
    ("yesterday", "yesterday"),
])
def test_times_are_shown_in_utc(stamp, shown):
    assert format_time(stamp) == shown
