"""Plausible or refused (issue 12, point 7): a population answer that lacks a report year, is
for another nation, or moves a year by more than MAX_YEAR_CHANGE is refused and the stored
file is kept, on both store backends. Answers are real DataUSA fixtures, minimally edited."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core.errors import SourceError
from chalicelib.core.settings import Settings
from chalicelib.population.update import POPULATION_KEY, parse_population, run_population
from support.paths import FIXTURES
from workstation.sourceserver import SourceServer

DATAUSA = FIXTURES / "datausa"
ACS1 = DATAUSA / "population_acs1_nation_newapi_tejalk14_2025-10.json"  # tesseract, no 2020
ACS5 = DATAUSA / "population_acs5_nation_oldapi_ashwinsahay_2025-05.json"  # retired api, with 2020
API_PATH = "/tesseract/data.jsonrecords"


def edited(change) -> bytes:
    document = json.loads(ACS1.read_bytes())
    change(document)
    return json.dumps(document).encode()


def drop_year(document: dict[str, Any], year: int) -> None:
    document["data"] = [row for row in document["data"] if row["Year"] != year]
    document["page"]["total"] = len(document["data"])


def scale_year(document: dict[str, Any], year: int, factor: float) -> None:
    for row in document["data"]:
        if row["Year"] == year:
            row["Population"] = float(round(row["Population"] * factor))


def another_nation(document: dict[str, Any]) -> None:
    document["data"][3].update({"Nation ID": "01000PR", "Nation": "Puerto Rico"})


def in_thousands(document: dict[str, Any]) -> None:
    for row in document["data"]:
        row["Population"] = float(round(row["Population"] / 1000))


REFUSED = {
    "a report year missing": (
        edited(lambda d: drop_year(d, 2016)), "it has no row for 2016 of REPORT_YEARS 2013-2018"),
    "another nation": (
        edited(another_nation), "row 4 is for Nation ID '01000PR' ('Puerto Rico'), not the United States ('01000US')"),
    "thousands": (
        edited(in_thousands),
        "2013 has 316,129 people where the stored population has 316,128,839 (-99.9%); a year may move by at "
        "most 5% (revisions, ACS 1-year vs 5-year), so this looks like another unit or measure"),
    "one year 6 % off": (edited(lambda d: scale_year(d, 2019, 1.06)), "2019 has 347,933,894 people"),
}


@pytest.fixture
def server():
    with SourceServer() as source:
        source.publish(API_PATH, ACS1.read_bytes(), content_type="application/json")
        yield source


def settings_for(server: SourceServer) -> Settings:
    return Settings.from_env({}, population_api_url=server.base_url + API_PATH, bls_contact="ops@example.org",
                             http_requests_per_second=1000.0)


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_implausible_answer_is_refused_and_the_stored_file_kept(store, server, case):
    # GIVEN the real ACS 1-year answer stored
    settings = settings_for(server)
    run_population(settings, store)
    before = store.read(POPULATION_KEY)
    # WHEN the API answers with a report year missing, a row of another nation, or values off
    body, reason = REFUSED[case]
    server.publish(API_PATH, body, content_type="application/json")
    with pytest.raises(SourceError) as caught:
        run_population(settings, store)
    # THEN the step fails naming the reason, and the stored file is the previous one
    message = str(caught.value)
    assert message.startswith(f"unusable population response from {settings.population_api_url}: {reason}")
    assert message.endswith(f"Nothing was written to {POPULATION_KEY}.")
    after = store.read(POPULATION_KEY)
    assert (after.body, after.etag) == (before.body, before.etag)


def test_a_first_answer_without_a_report_year_or_of_another_nation_is_refused_too(store, server):
    for case in ("a report year missing", "another nation"):
        server.publish(API_PATH, REFUSED[case][0], content_type="application/json")
        with pytest.raises(SourceError, match=REFUSED[case][1].replace("(", r"\(").replace(")", r"\)")):
            run_population(settings_for(server), store)
    assert list(store.list("")) == []


@pytest.mark.parametrize("change", ["ACS 5-year", "ACS 1-year again", "one year +4.9 %"])
def test_legitimate_moves_are_accepted(store, server, change):
    # GIVEN the ACS 1-year answer stored (or the 5-year one, to switch back)
    settings = settings_for(server)
    if change == "ACS 1-year again":
        server.publish(API_PATH, ACS5.read_bytes(), content_type="application/json")
    run_population(settings, store)
    # WHEN the API switches between the ACS 1-year and 5-year estimates (up to 1.5 % per year,
    # 2020 present in one only), or revises one year within the bound
    body = {"ACS 5-year": ACS5.read_bytes(), "ACS 1-year again": ACS1.read_bytes(),
            "one year +4.9 %": edited(lambda d: scale_year(d, 2019, 1.049))}[change]
    server.publish(API_PATH, body, content_type="application/json")
    result = run_population(settings, store)
    # THEN the new answer is stored
    assert result.changed and store.read(POPULATION_KEY).body == body
    assert max(abs(a - b) / b for (y, a), (z, b) in zip(parse_population(ACS5.read_bytes())[:6],
                                                        parse_population(ACS1.read_bytes())[:6])) < 0.02
