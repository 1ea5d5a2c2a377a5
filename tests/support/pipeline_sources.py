"""Helpers shared by the pipeline tests: publish the real fixtures on the local source server."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime

from chalicelib.core.settings import Settings
from support.paths import FIXTURES
from workstation.sourceserver import SourceServer

VINTAGES = {
    "2025-09-04": datetime(2025, 9, 4, 12, 30, tzinfo=UTC),
    "2026-08-06": datetime(2026, 8, 6, 12, 30, tzinfo=UTC),
}
POPULATION_FILE = FIXTURES / "datausa" / "population_acs1_nation_newapi_tejalk14_2025-10.json"
BLS_PATH = "/pub/time.series/pr/"
POPULATION_PATH = "/tesseract/data.jsonrecords"
CONTACT = "pipeline-tests@example.org"


def publish_vintage(server: SourceServer, vintage: str) -> None:
    """Serve the `pr` files of a vintage; a file keeps its older time if its bytes did not change."""
    folder = FIXTURES / "bls" / "pr" / vintage
    when = VINTAGES[vintage]
    times = {}
    for path in folder.iterdir():
        times[path.name] = when
        for other, other_when in VINTAGES.items():
            older = FIXTURES / "bls" / "pr" / other / path.name
            if other_when < when and older.is_file() and older.read_bytes() == path.read_bytes():
                times[path.name] = min(times[path.name], other_when)
    server.clear_directory(BLS_PATH)
    server.publish_folder(BLS_PATH, folder, times)


def publish_population(server: SourceServer) -> None:
    """Serve the real DataUSA (tesseract) response."""
    server.publish(POPULATION_PATH, POPULATION_FILE.read_bytes(), datetime(2025, 10, 17, tzinfo=UTC),
                   content_type="application/json")


def source_env(server: SourceServer, data_store: str) -> dict[str, str]:
    """Environment variables pointing the pipeline at the local sources and `data_store`."""
    return {
        "DATA_STORE": data_store,
        "BLS_SOURCE_URL": server.base_url + BLS_PATH,
        "BLS_CONTACT": CONTACT,
        "POPULATION_API_URL": server.base_url + POPULATION_PATH,
        "HTTP_REQUESTS_PER_SECOND": "1000",  # the local test server needs no pace (default: 1 per host)
    }


def source_settings(server: SourceServer, data_store: str) -> Settings:
    """Settings pointing the pipeline at the local sources and `data_store`."""
    return Settings.from_env(source_env(server, data_store))


def expected_population_stats(start: int = 2013, end: int = 2018) -> tuple[float, float, float]:
    """(mean, sample std, population std) computed here from the fixture, independently of the reports."""
    rows = json.loads(POPULATION_FILE.read_bytes())["data"]
    values = [int(r["Population"]) for r in rows if start <= int(r["Year"]) <= end]
    return statistics.mean(values), statistics.stdev(values), statistics.pstdev(values)


def changed_files(old: str, new: str) -> list[str]:
    """Names of the files whose bytes differ between two vintages."""
    a, b = FIXTURES / "bls" / "pr" / old, FIXTURES / "bls" / "pr" / new
    return sorted(
        p.name for p in b.iterdir() if not (a / p.name).is_file() or (a / p.name).read_bytes() != p.read_bytes()
    )
