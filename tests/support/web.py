"""The web tests' store and page: a store filled by the real pipeline from the real pr data, an HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from chalicelib.core.settings import Settings
from chalicelib.core.store import Store
from chalicelib.mirror.sync import run_mirror
from chalicelib.population.update import run_population
from chalicelib.reports.run import run_reports
from support.paths import FIXTURES
from workstation.sourceserver import SourceServer

PR_FILES = FIXTURES / "bls" / "pr" / "2026-08-06"
POPULATION_FILE = FIXTURES / "datausa" / "population_acs1_nation_newapi_hk2719_2025-10.json"
PR_PATH = "/pub/time.series/pr/"
API_PATH = "/tesseract/data.jsonrecords"
# A stage that is not in .chalice/config.json: only the top-level variables apply, so a stage
# written for a deployment (infra/write_chalice_config.py sets DATA_STORE there) cannot
# redirect the tests to a real bucket.
STAGE = "test"


def fill_store_from_pr(store: Store, store_url: str) -> Settings:
    """Mirror the real pr files, store the real population, compute the reports (all real code)."""
    with SourceServer() as server:
        server.publish_folder(PR_PATH, PR_FILES)
        server.publish(API_PATH, POPULATION_FILE.read_bytes(), content_type="application/json")
        settings = Settings.from_env(
            {},
            data_store=store_url,
            bls_source_urls=server.base_url + PR_PATH,
            bls_contact="test@example.org",
            population_api_url=server.base_url + API_PATH + "?cube=acs_yg_total_population_1",
            http_requests_per_second=1000.0,  # the local test server needs no pace (default: 1 per host)
        )
        assert run_mirror(settings, store).ok
        assert run_population(settings, store).ok
        assert run_reports(settings, store).ok
    return settings


class Page(HTMLParser):
    """A parsed HTML page: every element with its attributes and the text inside it."""

    VOID = frozenset({"meta", "input", "br", "img", "link", "hr", "source", "wbr", "col", "area", "base"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": ""}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append({"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": ""})

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, Any]]:
        """Elements with that tag and attributes (`class_` matches one class; `True` = present)."""
        found = []
        for element in self.elements:
            if tag and element["tag"] != tag:
                continue
            ok = True
            for name, wanted in attrs.items():
                name = name.rstrip("_").replace("_", "-")
                have = element["attrs"].get(name)
                if have is None:
                    ok = False
                elif name == "class":
                    ok = wanted in have.split()
                elif wanted is not True and have != wanted:
                    ok = False
                if not ok:
                    break
            if ok:
                found.append(element)
        return found

    def by_id(self, element_id: str) -> dict[str, Any]:
        [element] = self.find(id=element_id)
        return element
