"""The bundled snapshot of real data (`workstation/snapshot/`), served locally for `run --offline`
and `make deploy-local`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.core.errors import ConfigError
from chalicelib.core.settings import Settings

if TYPE_CHECKING:
    from workstation.sourceserver import SourceServer

SNAPSHOT_ROOT = Path(__file__).resolve().parent / "snapshot"
SNAPSHOT_DIR = SNAPSHOT_ROOT / "bls" / "pr"
SNAPSHOT_POPULATION = SNAPSHOT_ROOT / "datausa" / "population_acs1_nation_newapi_tejalk14_2025-10.json"
SNAPSHOT_CONTACT = "offline-run@example.invalid"
SNAPSHOT_BLS_PATH = "/pub/time.series/pr/"
SNAPSHOT_POPULATION_PATH = (
    "/tesseract/data.jsonrecords?cube=acs_yg_total_population_1&drilldowns=Year%2CNation"
    "&locale=en&measures=Population"
)
# Last-Modified of the snapshot files as BLS listed them (8:30 AM Eastern = 12:30 UTC, etc.),
# fixed so that repeated offline runs see an unchanged source.
_AUG_6_2026 = datetime(2026, 8, 6, 12, 30, tzinfo=UTC)
SNAPSHOT_TIMES = {
    "pr.period": datetime(1994, 1, 7, 20, 53, tzinfo=UTC),
    "pr.seasonal": datetime(2011, 11, 18, 21, 5, tzinfo=UTC),
    "pr.txt": datetime(2011, 11, 17, 12, 0, tzinfo=UTC),
    "pr.contacts": datetime(2022, 9, 13, 12, 0, tzinfo=UTC),
}
SNAPSHOT_POPULATION_TIME = datetime(2025, 10, 17, 0, 0, tzinfo=UTC)
OFFLINE_NOTE = (
    "offline: used the bundled snapshot of real data (BLS pr directory of 2026-08-06, "
    "DataUSA population response of 2025-10) served from a local server, not the live sources"
)


def snapshot_server() -> SourceServer:
    """A source server (not started yet) publishing the bundled snapshot at the BLS/DataUSA paths."""
    from workstation.sourceserver import SourceServer

    if not SNAPSHOT_DIR.is_dir() or not SNAPSHOT_POPULATION.is_file():
        raise ConfigError(
            f"--offline needs the bundled snapshot ({SNAPSHOT_DIR}, {SNAPSHOT_POPULATION}); "
            "it is part of the repository checkout"
        )
    server = SourceServer()
    times = {p.name: SNAPSHOT_TIMES.get(p.name, _AUG_6_2026) for p in SNAPSHOT_DIR.iterdir()}
    server.publish_folder(SNAPSHOT_BLS_PATH, SNAPSHOT_DIR, times)
    server.publish(SNAPSHOT_POPULATION_PATH.split("?")[0], SNAPSHOT_POPULATION.read_bytes(),
                   SNAPSHOT_POPULATION_TIME, content_type="application/json")
    return server


def snapshot_settings(settings: Settings, base_url: str) -> Settings:
    """`settings` with the sources at a snapshot server's `base_url` (and a placeholder contact)."""
    return replace(
        settings,
        bls_source_urls=(base_url + SNAPSHOT_BLS_PATH,),
        population_api_url=base_url + SNAPSHOT_POPULATION_PATH,
        bls_contact=settings.bls_contact or SNAPSHOT_CONTACT,
        http_requests_per_second=1000.0,  # our own local server: no pace to keep
    )


@contextlib.contextmanager
def offline_sources(settings: Settings) -> Iterator[Settings]:
    """Serve the bundled real snapshot locally; yield settings pointing at it."""
    with snapshot_server() as server:
        yield snapshot_settings(settings, server.base_url)
