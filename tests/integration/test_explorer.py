"""The explorer (issue 20): its API and dashboard section through `chalice.test.Client`.

The store: the real `pr` data mirrored by the real mirror, its silver layer by the real lake
conversion, and gold partitions written by the tests' own code (tests/support/gold.py computes
the expected values independently with Decimal, from the TSV files). A generated survey `ts` adds
a monthly series with a missing month and published M13 values, a quarterly-only and an
annual-only series, with silver observations written with the silver Parquet writer.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from support.gold import Series, annual_rows, best_year, latest, series_from_tsv, text, write_gold
from support.paths import REPO as PROJECT
from support.web import STAGE, Page, fill_store_from_pr

if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from chalice.test import Client  # noqa: E402

from app import app  # noqa: E402
from chalicelib.core.store import LocalStore, Store  # noqa: E402
from chalicelib.gold import read as gold  # noqa: E402
from chalicelib.lake.parquet import Decimal as DecimalType  # noqa: E402
from chalicelib.lake.parquet import write_parquet  # noqa: E402
from chalicelib.lake.sync import reconcile  # noqa: E402
from chalicelib.lake.tables import VALUE_PRECISION, VALUE_SCALE  # noqa: E402
from chalicelib.mirror.status import mirror_status  # noqa: E402
from chalicelib.web import dashboard  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")
JSON_TYPE = "application/json"
SERIES = "PRS30006092"  # Manufacturing, labor productivity, % change from the previous quarter


def d(value: str) -> Decimal:
    return Decimal(value)


def generated_series() -> list[Series]:
    """The generated survey `ts`: monthly (one month missing in 2021, M13 published), quarterly, annual."""
    monthly = []
    for year in (2020, 2021, 2022):
        values = [d(f"{100 + year % 100}.{m:02d}") for m in range(1, 13)]
        for month, value in enumerate(values, 1):
            if (year, month) != (2021, 7):
                monthly.append((year, f"M{month:02d}", value))
        monthly.append((year, "M13", d(f"{100 + year % 100}.5")))
    quarterly = [(y, f"Q0{q}", d(f"-{q}.125") if y == 2021 else d(f"{q}.875")) for y in (2020, 2021) for q in (1, 2, 3, 4)]
    annual = [(2019, "A01", d("7.25")), (2020, "A01", d("9.5")), (2021, "A01", d("9.5")), (2022, "A01", d("0"))]
    return [
        Series("TSU000000001", "Widgets made · All areas", monthly, codes={"area_code": {"code": "0000", "name": "All areas"}}),
        Series("TSU000000002", "Quarterly gadgets", quarterly, seasonal="S"),
        Series("TSU000000003", "Annual sprockets", annual),
    ]


def write_silver(store: Store, survey: str, series: list[Series]) -> None:
    rows = sorted((s.series_id, y, p, v) for s in series for y, p, v in s.observations)
    frame = pd.DataFrame({
        "series_id": pd.Categorical([r[0] for r in rows]),
        "year": np.array([r[1] for r in rows], dtype=np.int32),
        "period": pd.Categorical([r[2] for r in rows]),
        "value": np.array([int(r[3].scaleb(VALUE_SCALE)) for r in rows], dtype=np.int64),
        "footnote_codes": pd.Series(["P" if r[1] == 2022 else None for r in rows], dtype=object),
    })
    out = io.BytesIO()
    write_parquet(out, [frame], {"value": DecimalType(VALUE_PRECISION, VALUE_SCALE)})
    store.put(f"silver/bls_data/survey={survey}/file={survey}.data.0.Current/data.parquet", out.getvalue())


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Series]]:
    root = tmp_path_factory.mktemp("explorer") / "data"
    store = LocalStore(root)
    fill_store_from_pr(store, str(root))
    reconcile(store)  # the silver layer, by the real conversion
    pr = series_from_tsv(store, "pr")
    write_gold(store, "pr", pr)
    generated = generated_series()
    write_gold(store, "ts", generated)
    write_silver(store, "ts", generated)
    return root, {s.series_id: s for s in pr + generated}


@pytest.fixture
def store(filled) -> LocalStore:
    return LocalStore(filled[0])


@pytest.fixture
def client(filled, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("DATA_STORE", str(filled[0]))
    with Client(app, stage_name=STAGE, project_dir=str(PROJECT)) as test_client:
        yield test_client


def get(client: Client, path: str, status: int = 200) -> Any:
    response = client.http.get(path)
    assert response.status_code == status, response.body[:400]
    assert response.headers["Content-Type"] == JSON_TYPE
    body = json.loads(response.body)
    if status >= 400:
        assert set(body) <= {"error", "message", "hint"} and "Traceback" not in response.body.decode()
    return body


# --------------------------------------------------------------------------- /api/surveys


def test_surveys_lists_every_mirrored_survey_with_its_series_count(client, store):
    body = get(client, "/api/surveys")
    mirrored = mirror_status(store, files_of=())
    series_file = store.read("bls/pr/pr.series").body.decode().splitlines()
    assert body == {"count": len(mirrored), "surveys": [
        {"survey": m.survey, "series_count": len(series_file) - 1, "files": m.file_count, "bytes": m.bytes,
         "last_change": m.last_change} for m in mirrored]}


def test_surveys_without_gold_has_no_series_count(client, filled, monkeypatch, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(filled[0], root, ignore=lambda folder, names: ["gold"] if "gold" in names else [])
    monkeypatch.setenv("DATA_STORE", str(root))
    [survey] = get(client, "/api/surveys")["surveys"]
    assert survey["survey"] == "pr" and survey["series_count"] is None
    assert get(client, "/api/surveys/pr/series", 404)["error"] == "survey_not_found"


# --------------------------------------------------------------------------- search


def test_search_finds_series_holding_every_word_best_first(client, filled):
    series = filled[1]
    body = get(client, "/api/surveys/pr/series?q=Manufacturing%20OUTPUT&limit=1000")
    expected = {s.series_id for s in series.values() if s.series_id.startswith("PR")
                and "MANUFACTURING" in s.title.upper() and "OUTPUT" in s.title.upper()}
    assert body["total"] == body["count"] == len(expected) > 10
    assert {hit["series_id"] for hit in body["series"]} == expected
    # more whole-word matches first, then shorter titles, then by id
    def rank(hit: dict) -> tuple[int, int, str]:
        whole = sum(bool(re.search(rf"\b{w}\b", hit["title"], re.I)) for w in ("manufacturing", "output"))
        return -whole, len(hit["title"]), hit["series_id"]

    ranks = [rank(hit) for hit in body["series"]]
    assert ranks == sorted(ranks)


def test_search_answers_title_periodicity_and_latest_exactly(client, filled):
    s = filled[1][SERIES]
    body = get(client, f"/api/surveys/pr/series?q={SERIES.lower()}")
    assert body["series"][0] == {"series_id": SERIES, "title": s.title, "periodicity": "quarterly",
                                 "latest": {**{k: text(v) if isinstance(v, Decimal) else v
                                               for k, v in latest(s).items()}}}
    assert body["series"][0]["latest"]["value"] == "1.9"  # the fixture's last value, exact text


def test_search_without_words_lists_series_by_id_up_to_the_limit(client, filled):
    body = get(client, "/api/surveys/pr/series?limit=7")
    ids = sorted(sid for sid in filled[1] if sid.startswith("PR"))
    assert body["total"] == len(ids) and [h["series_id"] for h in body["series"]] == ids[:7]
    assert get(client, "/api/surveys/pr/series")["count"] == 50  # the default limit


def test_search_the_id_itself_comes_first(client):
    body = get(client, "/api/surveys/pr/series?q=PRS30006092&limit=3")
    assert [h["series_id"] for h in body["series"]] == [SERIES]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "limit=1e3", "limit=-1", "limit=%EF%BC%91",
                                   "limit=5&limit=6", "other=1", "q=" + "x" * 201])
def test_search_malformed_parameters_are_400(client, query):
    assert get(client, f"/api/surveys/pr/series?{query}", 400)["error"] == "bad_request"


def test_search_bad_and_unknown_surveys(client):
    assert get(client, "/api/surveys/p%20r/series", 400)["error"] == "bad_request"
    assert get(client, "/api/surveys/zz/series", 404)["error"] == "survey_not_found"
    assert get(client, "/api/surveys/PR/series?limit=1")["survey"] == "pr"  # names are case-insensitive


def test_search_reuses_the_catalog_index_until_the_object_changes(client, store, filled, monkeypatch):
    gold.clear_caches()
    loads = []
    real = gold._load_catalog
    monkeypatch.setattr(gold, "_load_catalog", lambda *a: loads.append(a[1]) or real(*a))
    get(client, "/api/surveys/ts/series?q=widgets")
    get(client, "/api/surveys/ts/series?q=gadgets")
    assert len(loads) == 1
    # a rebuilt catalog (new ETag) is read again
    renamed = generated_series()
    renamed[1].title = "Quarterly doohickeys"
    write_gold(store, "ts", renamed)
    assert get(client, "/api/surveys/ts/series?q=doohickeys")["total"] == 1
    assert len(loads) == 2
    write_gold(store, "ts", generated_series())


# --------------------------------------------------------------------------- one series


def test_series_answers_catalog_observations_annual_best_and_latest_exactly(client, filled):
    s = filled[1][SERIES]
    body = get(client, f"/api/series/{SERIES.lower()}")
    assert body["series_id"] == SERIES and body["survey"] == "pr" and body["title"] == s.title
    assert body["periodicity"] == "quarterly" and not body["truncated"]
    assert [(o["year"], o["period"], o["value"]) for o in body["observations"]] == [
        (y, p, text(v)) for y, p, v in s.observations]
    assert body["observation_count"] == len(s.observations)
    assert body["annual"] == [{k: text(v) if isinstance(v, Decimal) else v for k, v in row.items()}
                              for row in annual_rows(s)]
    b = best_year(s)
    assert body["best_year"] == {"year": b["year"], "value": text(b["value"]), "basis": "sub-annual sum"}
    assert body["latest"]["change"] == text(latest(s)["change"])


def test_series_best_years_and_observations_of_many_series(client, filled):
    # every file of the survey counts (pr.data.0.Current and the longer pr.data.1.AllData), once per period
    for series_id in sorted(sid for sid in filled[1] if sid.startswith("PR"))[::12]:
        s = filled[1][series_id]
        body = get(client, f"/api/series/{series_id}")
        b = best_year(s)
        assert body["best_year"] == (b and {**b, "value": text(b["value"])})
        assert [(o["year"], o["period"], o["value"]) for o in body["observations"]] == [
            (y, p, text(v)) for y, p, v in s.observations]


def test_generated_survey_monthly_with_a_missing_month_and_published_annuals(client, filled):
    body = get(client, "/api/series/TSU000000001")
    assert body["periodicity"] == "monthly" and body["codes"] == {"area_code": {"code": "0000", "name": "All areas"}}
    by_year = {row["year"]: row for row in body["annual"]}
    assert by_year[2021]["periods"] == 11 and by_year[2021]["complete"] is False
    assert by_year[2020] == {"year": 2020, "periods": 12, "value_sum": "1440.78",
                             "value_mean": "120.065", "published_annual": "120.5", "complete": True}
    assert body["best_year"] == {"year": 2022, "value": "1464.78", "basis": "sub-annual sum"}
    assert body["latest"] == {"year": 2022, "period": "M12", "value": "122.12", "year_ago_value": "121.12",
                              "change": "1", "pct_change": pytest.approx(100 / 121.12)}
    assert len(body["observations"]) == 3 * 13 - 1
    assert body["observations"][-1] == {"year": 2022, "period": "M13", "value": "122.5", "footnote_codes": "P"}


def test_generated_survey_quarterly_only_and_annual_only(client):
    quarterly = get(client, "/api/series/TSU000000002")
    assert quarterly["periodicity"] == "quarterly" and quarterly["seasonal"] == "S"
    assert quarterly["best_year"] == {"year": 2020, "value": "13.5", "basis": "sub-annual sum"}
    assert quarterly["latest"]["change"] == "-9" and quarterly["latest"]["value"] == "-4.125"
    annual = get(client, "/api/series/TSU000000003")
    assert annual["periodicity"] == "annual" and annual["latest"] is None
    assert annual["best_year"] == {"year": 2020, "value": "9.5", "basis": "annual"}  # ties: the earliest year
    assert [row["published_annual"] for row in annual["annual"]] == ["7.25", "9.5", "9.5", "0"]


def test_series_csv_download_holds_every_observation(client, filled):
    response = client.http.get(f"/api/series/{SERIES}?format=csv")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert f'filename="{SERIES}.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.body.decode())))
    assert rows[0] == ["series_id", "year", "period", "value", "footnote_codes"]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [(str(y), p, text(v)) for y, p, v in filled[1][SERIES].observations]


def test_series_is_bounded_in_size(client, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(gold, "MAX_OBSERVATIONS", 10)
        body = get(client, f"/api/series/{SERIES}")
    assert len(body["observations"]) == 10 and body["observation_count"] == 195 and body["truncated"] is True
    assert len(get(client, f"/api/series/{SERIES}")["observations"]) == 195


@pytest.mark.parametrize(("path", "status"), [
    ("/api/series/PR!", 400), ("/api/series/P", 400), (f"/api/series/{SERIES}?format=xml", 400),
    (f"/api/series/{SERIES}?survey=P!", 400), (f"/api/series/{SERIES}?x=1", 400),
    ("/api/series/PRS99999999", 404), ("/api/series/ZZU000000001", 404), (f"/api/series/{SERIES}?survey=ts", 404),
])
def test_series_errors(client, path, status):
    get(client, path, status)


def test_gold_reads_an_s3_store(s3_store):
    write_gold(s3_store, "ts", generated_series())
    write_silver(s3_store, "ts", generated_series())
    result = gold.search(s3_store, "ts", ["sprockets"], 5)
    assert [h.series_id for h in result.hits] == ["TSU000000003"]
    detail = gold.series_detail(s3_store, "TSU000000002")
    assert detail is not None and [o.value for o in detail.observations][:2] == ["1.875", "2.875"]


# --------------------------------------------------------------------------- the page


def page(client: Client, query: str, status: int = 200) -> tuple[Page, Any]:
    response = client.http.get("/" + query)
    assert response.status_code == status, response.body[:300]
    assert response.headers["Content-Security-Policy"] == dashboard.CONTENT_SECURITY_POLICY
    return Page(response.body.decode()), response


def test_page_shows_the_explorer_with_the_report_survey_by_default(client):
    html, _ = page(client, "")
    assert html.by_id("explorer") and html.by_id("best-years")  # the pr reports stay on the page
    [chosen] = [o for o in html.find("option") if "selected" in o["attrs"] and o["attrs"]["value"] == "pr"]
    assert "282 series" in chosen["text"]
    assert len(html.find("li", data_series=True)) == 50
    assert html.by_id("ex-count")["text"].startswith("282 series")


def test_page_series_view_charts_every_observation_and_marks_the_best_year(client, filled):
    s = filled[1][SERIES]
    html, _ = page(client, f"?survey=pr&q=manufacturing+productivity&explore={SERIES}")
    chart = html.by_id("ex-chart")
    quarters = [(y, p, text(v)) for y, p, v in s.observations if p != "Q05"]  # Q05: the annual average
    assert chart["attrs"]["data-kind"] == "quarterly" and int(chart["attrs"]["data-count"]) == len(quarters)
    points = [(int(c["attrs"]["data-year"]), c["attrs"]["data-period"], c["attrs"]["data-value"])
              for c in html.find("circle", class_="ex-pt")]
    assert points == quarters
    # every observation (Q05 included) is in the page's table
    assert len(html.find("tr", data_period=True)) == len(s.observations)
    assert html.by_id("ex-best-band")["attrs"]["data-year"] == str(best_year(s)["year"])
    [best_row] = html.find("tr", class_="best")
    assert best_row["attrs"]["data-year"] == str(best_year(s)["year"]) and "best year" in best_row["text"]
    assert len(html.by_id("ex-annual")["text"]) and len(html.find("tr", data_sum=True)) == len(annual_rows(s))
    links = {a["text"]: a["attrs"]["href"] for a in html.find("a", download=True)}
    assert links == {"CSV": f"api/series/{SERIES}?format=csv", "JSON": f"api/series/{SERIES}"}
    [current] = html.find("li", class_="current")
    assert current["attrs"]["data-series"] == SERIES
    assert html.by_id("ex-revisions")["attrs"]["data-series"] == SERIES  # the place for issue 21
    # every result links to a shareable URL of the same search
    hrefs = [a["attrs"]["href"] for a in html.find("a") if "explore=" in a["attrs"].get("href", "")]
    assert all(h.startswith("?survey=pr&q=manufacturing+productivity&explore=") and h.endswith("#explorer")
               for h in hrefs)


def test_page_charts_monthly_and_annual_series(client):
    monthly, _ = page(client, "?explore=TSU000000001")
    assert monthly.by_id("ex-chart")["attrs"]["data-kind"] == "monthly"
    assert monthly.by_id("ex-chart")["attrs"]["data-count"] == "35"  # M13 is the annual average, not a month
    assert len(monthly.find("polyline", class_="ex-line")) == 2  # broken at the missing month
    annual, _ = page(client, "?survey=ts&explore=TSU000000003")
    assert annual.by_id("ex-chart")["attrs"]["data-kind"] == "annual"
    assert annual.by_id("ex-best-band")["attrs"]["data-year"] == "2020"


@pytest.mark.parametrize(("query", "status"), [("?explore=PR!", 400), ("?survey=p!", 400),
                                               ("?survey=pr&explore=PRS99999999", 404),
                                               ("?survey=zz", 200)])
def test_page_explains_bad_or_unknown_choices(client, query, status):
    html, _ = page(client, query, status)
    assert html.by_id("ex-notice")["text"]
    assert html.by_id("best-years")  # the rest of the page still renders
