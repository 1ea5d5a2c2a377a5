"""The dashboard in a real browser: `chalice local` serving a store filled from the real `pr` data.

Debian's Chromium (/usr/bin/chromium) is installed before pytest runs, by `make browser`
(`make test` runs it first); if it is missing the test FAILS, saying how to install it.
`chalice local --no-autoreload` runs in its own process group on a free port, with
DATA_STORE pointing at this test's store, and is always killed. Expected numbers are read from the report files the
real pipeline wrote. The screenshot is saved to tests/artifacts/dashboard.png.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from chalicelib.core.settings import Settings
from chalicelib.core.store import LocalStore
from chalicelib.mirror.status import mirror_status
from chalicelib.web.dashboard import POPULATION_COLOR, VALUE_COLOR
from support.browser import CHROMIUM_FLAGS, ensure_chromium
from support.paths import ARTIFACTS
from support.paths import REPO as PROJECT
from support.web import STAGE, Page, fill_store_from_pr

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(data_store: str) -> dict[str, str]:
    """The parent's environment without real AWS credentials, with this test's DATA_STORE."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "API_AUTH"}
    env.update({
        "DATA_STORE": data_store,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    return env


@dataclass(frozen=True)
class Served:
    base_url: str
    store: LocalStore
    settings: Settings
    chromium: str
    profile: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`chalice local` on a free port over a store filled by the real pipeline."""
    browser = ensure_chromium()
    work = tmp_path_factory.mktemp("browser")
    root = work / "data"
    settings = fill_store_from_pr(LocalStore(root), str(root))
    port = free_port()
    log_path = work / "chalice-local.log"
    chalice = Path(sys.executable).parent / "chalice"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(chalice), "local", "--no-autoreload", "--stage", STAGE, "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT, env=server_environment(str(root)), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole below
        )
    try:
        base_url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"chalice local exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base_url + "api/status", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chalice local did not answer within {STARTUP_SECONDS}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield Served(base_url, LocalStore(root), settings, browser, work / "profile")
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def run_chromium(served: Served, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run with a fresh profile; fails the test on a non-zero exit."""
    profile = served.profile.with_name(f"profile-{time.monotonic_ns()}")
    command = [served.chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def report(served: Served, name: str) -> dict:
    return json.loads(served.store.read(f"reports/{name}").body)


def visible_rows(page: Page) -> list[dict]:
    return [row for row in page.find("tr", data_series=True) if "hidden" not in row["attrs"]]


# --------------------------------------------------------------------------- tests


def test_chalice_local_serves_the_test_store_with_iam_routes_admitted(served):
    # GIVEN chalice local with the default API_AUTH (iam) and this test's DATA_STORE
    with urllib.request.urlopen(served.base_url + "api/status", timeout=10) as response:
        assert response.headers["Content-Type"] == "application/json"
        status = json.loads(response.read())
    # THEN the data is this test's store (the mirror recorded this test's own source server port)
    assert status["surveys"] == [survey.to_dict() for survey in mirror_status(served.store, files_of=())]
    assert status["reports"]["generated_at"] == report(served, "summary.json")["generated_at"]


def test_dashboard_renders_tables_and_chart_with_the_real_numbers(served):
    # GIVEN the page loaded in headless Chromium (DOM dumped after scripts ran)
    page = Page(run_chromium(served, served.base_url, "--dump-dom").stdout)
    # THEN the script ran (allowed by the page's Content-Security-Policy)
    assert page.find("html")[0]["attrs"].get("data-js") == "ready"
    # the best-year table holds every series of the report, and the count was written by the script
    best = report(served, "best_years.json")["series"]
    rows = visible_rows(page)
    assert [(r["attrs"]["data-series"], int(r["attrs"]["data-year"]), float(r["attrs"]["data-value"]))
            for r in rows] == [(b["series_id"], b["year"], b["value"]) for b in best]
    assert page.by_id("by-count")["text"] == f"{len(best)} of {len(best)} series"
    # the chart: one point per year with the report's value, population where known
    joined = report(served, "series_population.json")
    points = {int(c["attrs"]["data-year"]): float(c["attrs"]["data-value"])
              for c in page.find("circle", class_="pt-value")}
    assert points == {row["year"]: row["value"] for row in joined["rows"]}
    people = {int(c["attrs"]["data-year"]): int(c["attrs"]["data-population"])
              for c in page.find("circle", class_="pt-population")}
    assert people == {row["year"]: row["population"] for row in joined["rows"] if row["population"] is not None}
    assert page.find("polyline", class_="line")
    # the chart's data table shows the same numbers as text
    table = page.by_id("series-table")["text"]
    assert all(str(row["year"]) in table for row in joined["rows"])


    # population statistics
    stats = report(served, "population_stats.json")
    assert page.by_id("pop-mean")["text"] == f"{stats['mean']:,.0f}"
    assert page.by_id("pop-std")["text"] == f"{stats['std']:,.0f}"
    population_rows = page.by_id("population-table")["text"]
    assert all(f"{p['population']:,}" in population_rows for p in stats["population"])


def test_best_year_table_filters_and_sorts_in_the_browser(served):
    # GIVEN a URL whose hash asks for series containing PRS85, sorted by value, largest first
    page = Page(run_chromium(served, served.base_url + "#filter=prs85&sort=value&dir=desc", "--dump-dom").stdout)
    best = report(served, "best_years.json")["series"]
    wanted = sorted((b for b in best if "PRS85" in b["series_id"]), key=lambda b: (-b["value"], b["series_id"]))
    # THEN only those rows are visible, in that order, and the header and count say so
    rows = visible_rows(page)
    assert [r["attrs"]["data-series"] for r in rows] == [b["series_id"] for b in wanted]
    assert len(page.find("tr", data_series=True)) == len(best)
    assert page.by_id("by-count")["text"] == f"{len(wanted)} of {len(best)} series"
    [value_head] = page.find("th", data_key="value")
    assert value_head["attrs"]["aria-sort"] == "descending"


def test_screenshot_shows_the_chart(served):
    # GIVEN a screenshot of the page at 1400x2000
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "dashboard.png"
    target.unlink(missing_ok=True)
    run_chromium(served, served.base_url, f"--screenshot={target}", "--window-size=1400,2000")
    # THEN it exists, has that size, and the chart's two lines were painted
    with Image.open(target) as image:
        assert image.size == (1400, 2000)
        colors = image.convert("RGB").getcolors(maxcolors=1 << 20)
    counts = {color: count for count, color in colors}
    for hex_color in (VALUE_COLOR, POPULATION_COLOR):
        rgb = tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
        assert counts.get(rgb, 0) > 500, f"{hex_color} barely on screen: {counts.get(rgb, 0)} pixels"
