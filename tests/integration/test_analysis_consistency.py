"""Reports never disagree with summary.json (issue 12, point 8): two analyses at once, forced
into the worst interleaving, on both store backends, with the real reports and fixtures."""

from __future__ import annotations

import json
import statistics
import threading
from pathlib import Path
from typing import Any

from chalicelib.core import s3_events
from chalicelib.core.layout import POPULATION_STATS_KEY, REPORT_KEYS, SUMMARY_KEY
from chalicelib.core.settings import Settings
from chalicelib.pipeline import events
from chalicelib.pipeline.analysis import analyze
from chalicelib.population.update import POPULATION_KEY
from support.paths import FIXTURES

DATA_KEY = "bls/pr/pr.data.0.Current"
DATA = FIXTURES / "bls" / "pr" / "2025-09-04" / "pr.data.0.Current"
POPULATION_OLD = FIXTURES / "datausa" / "population_acs1_nation_newapi_tejalk14_2025-10.json"
POPULATION_NEW = FIXTURES / "datausa" / "population_acs5_nation_oldapi_ashwinsahay_2025-05.json"
SETTINGS = Settings.from_env({})
WAIT = 30  # seconds; a step that waits longer has deadlocked


def message(store: Any, key: str) -> str:
    bucket, prefix = s3_events.store_location(store)
    return events.build_message(bucket, f"{prefix}/{key}" if prefix else key, etag="e", size=1)


def mean_2013_2018(path: Path) -> float:
    rows = json.loads(path.read_bytes())["data"]
    return statistics.mean(int(r["Population"]) for r in rows if 2013 <= int(r["Year"]) <= 2018)


class Paused:
    """A store seen by one analysis: `before(key)` / `after(key)` run once around that key's first put."""

    def __init__(self, inner: Any, before: dict[str, Any] | None = None, after: dict[str, Any] | None = None):
        self.inner, self.url = inner, inner.url
        self.before, self.after = dict(before or {}), dict(after or {})

    def __getattr__(self, name: str) -> Any:  # everything but put, incl. an S3 store's bucket and prefix
        return getattr(self.inner, name)

    def put(self, key: str, body: Any, **kwargs: Any) -> str:
        if hook := self.before.pop(key, None):
            hook()
        try:
            return self.inner.put(key, body, **kwargs)
        finally:
            if hook := self.after.pop(key, None):
                hook()


def assert_consistent(store: Any) -> dict[str, Any]:
    summary = json.loads(store.read(SUMMARY_KEY).body)
    current = {key: store.head(key).etag for key in (DATA_KEY, POPULATION_KEY)}
    assert {item["key"]: item["etag"] for item in summary["inputs"]} == current
    assert {key: store.head(key).metadata.get("inputs") for key in REPORT_KEYS} == dict.fromkeys(
        REPORT_KEYS, summary["inputs_tag"])
    return summary


def test_two_analyses_at_once_leave_reports_that_match_the_summary(store):
    # GIVEN the data file and the old population stored (the first ingestion of the day)
    store.put(DATA_KEY, DATA.read_bytes())
    store.put(POPULATION_KEY, POPULATION_OLD.read_bytes())
    b_reports_written, a_summary_written = threading.Event(), threading.Event()
    runs: dict[str, Any] = {}

    def analysis_b() -> None:  # the population's own event, handled by a second function instance
        b_store = Paused(store, before={SUMMARY_KEY: lambda: (b_reports_written.set(), a_summary_written.wait(WAIT))})
        runs["b"] = analyze(message(store, POPULATION_KEY), SETTINGS, b_store)

    second = threading.Thread(target=analysis_b)

    def new_population_arrives() -> None:
        # A has computed from the old population; now the new one is written and B starts and
        # writes all its reports before A writes any of its own
        store.put(POPULATION_KEY, POPULATION_NEW.read_bytes())
        second.start()
        assert b_reports_written.wait(WAIT)

    def a_wrote_its_summary() -> None:  # then B writes its summary, and A checks its inputs after B
        a_summary_written.set()
        second.join(WAIT)

    a_store = Paused(store, before={POPULATION_STATS_KEY: new_population_arrives}, after={SUMMARY_KEY: a_wrote_its_summary})
    # WHEN analysis A (the data file's event) runs with B interleaved: B's reports, A's reports,
    # A's summary, B's summary
    runs["a"] = analyze(message(store, DATA_KEY), SETTINGS, a_store)
    # THEN the population statistics are those of the population the summary names (the new one),
    # and every report was computed from exactly the inputs the summary names
    stats = json.loads(store.read(POPULATION_STATS_KEY).body)
    assert stats["mean"] == mean_2013_2018(POPULATION_NEW) != mean_2013_2018(POPULATION_OLD)
    assert_consistent(store)
    # AND a redelivered message finds nothing to do, and says so truthfully
    again = analyze(message(store, DATA_KEY), SETTINGS, store)
    assert again.action == "unchanged" and again.reports.to_dict()["population_stats"]["mean"] == mean_2013_2018(POPULATION_NEW)


def test_a_report_left_behind_by_a_run_that_died_is_rewritten_by_the_redelivery(store):
    # GIVEN consistent reports, then a report overwritten by a run that died before its summary
    store.put(DATA_KEY, DATA.read_bytes())
    store.put(POPULATION_KEY, POPULATION_OLD.read_bytes())
    analyze(message(store, DATA_KEY), SETTINGS, store)
    good = store.read(POPULATION_STATS_KEY).body
    store.put(POPULATION_STATS_KEY, b'{"mean": 1}', content_type="application/json", metadata={"inputs": "older"})
    # WHEN the message is delivered again
    result = analyze(message(store, DATA_KEY), SETTINGS, store)
    # THEN the reports are written again, matching the summary
    assert result.action == "written"
    assert store.read(POPULATION_STATS_KEY).body == good
    assert_consistent(store)
