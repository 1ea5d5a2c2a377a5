"""The explorer (issue 20) in a real browser: `chalice local` over the real `pr` data with its silver
layer and gold partitions (tests/support/gold.py), headless Chromium under the page's strict CSP.

Shares test_browser.py's helpers (Chromium, the server's environment). The screenshot is saved
to tests/artifacts/explorer.png.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from test_browser import CHROMIUM_FLAGS, STARTUP_SECONDS, ensure_chromium, free_port, server_environment

from chalicelib.core.store import LocalStore
from chalicelib.lake.sync import reconcile
from chalicelib.web.explorer_chart import BEST_COLOR, SERIES_COLOR
from support.gold import Series, best_year, series_from_tsv, text, write_gold
from support.paths import ARTIFACTS
from support.paths import REPO as PROJECT
from support.web import STAGE, Page, fill_store_from_pr

SERIES = "PRS30006092"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Series], Path, str]]:
    browser = ensure_chromium()
    work = tmp_path_factory.mktemp("explorer-browser")
    root = work / "data"
    store = LocalStore(root)
    fill_store_from_pr(store, str(root))
    reconcile(store)
    series = series_from_tsv(store, "pr")
    write_gold(store, "pr", series)
    port = free_port()
    log_path = work / "chalice-local.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "chalice"), "local", "--no-autoreload", "--stage", STAGE,
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT, env=server_environment(str(root)), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"chalice local exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base_url + "api/surveys", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chalice local did not answer within {STARTUP_SECONDS}s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base_url, {s.series_id: s for s in series}, work, browser
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def chromium(served, url: str, *args: str) -> str:
    _, _, work, browser = served
    profile = work / f"profile-{time.monotonic_ns()}"
    result = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_explorer_api_answers_under_chalice_local(served):
    base_url, series, _, _ = served
    with urllib.request.urlopen(base_url + f"api/series/{SERIES}", timeout=10) as response:
        body = json.loads(response.read())
    assert body["best_year"]["year"] == best_year(series[SERIES])["year"]
    with urllib.request.urlopen(base_url + "api/surveys/pr/series?q=productivity&limit=5", timeout=10) as response:
        assert json.loads(response.read())["count"] == 5


def test_a_shared_explorer_url_shows_the_search_and_series(served):
    base_url, series, _, _ = served
    s = series[SERIES]
    page = Page(chromium(served, base_url + f"?survey=pr&q=productivity+manufacturing&explore={SERIES}#explorer",
                         "--dump-dom"))
    assert page.find("html")[0]["attrs"].get("data-js") == "ready"  # the inlined script ran under the CSP
    assert page.by_id("ex-q")["attrs"]["value"] == "productivity manufacturing"
    hits = [li["attrs"]["data-series"] for li in page.find("li", data_series=True)]
    assert SERIES in hits and all("MANUFACTURING" in series[h].title.upper() for h in hits)
    chart = page.by_id("ex-chart")
    quarters = [(y, p, text(v)) for y, p, v in s.observations if p != "Q05"]
    assert chart["attrs"]["data-count"] == str(len(quarters))
    assert [(int(c["attrs"]["data-year"]), c["attrs"]["data-period"], c["attrs"]["data-value"])
            for c in page.find("circle", class_="ex-pt")] == quarters
    [best] = page.find("tr", class_="best")
    assert best["attrs"]["data-year"] == str(best_year(s)["year"])
    assert {a["text"] for a in page.find("a", download=True)} == {"CSV", "JSON"}
    assert page.by_id("best-years")  # the pr reports stay on the page


def test_explorer_screenshot(served):
    base_url, series, _, _ = served
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "explorer.png"
    target.unlink(missing_ok=True)
    # no #explorer in this URL: headless Chromium's screenshot of a scrolled page leaves the top blank
    chromium(served, base_url + f"?survey=pr&q=manufacturing+productivity&explore={SERIES}",
             f"--screenshot={target}", "--window-size=1400,2400")
    with Image.open(target) as image:
        assert image.size == (1400, 2400)
        counts = {color: count for count, color in image.convert("RGB").getcolors(maxcolors=1 << 20)}
    line = tuple(int(SERIES_COLOR[i:i + 2], 16) for i in (1, 3, 5))
    assert counts.get(line, 0) > 500, f"the series line barely on screen: {counts.get(line, 0)} pixels"
    assert BEST_COLOR  # the band is drawn translucent: its colour is mixed, checked in the DOM test
