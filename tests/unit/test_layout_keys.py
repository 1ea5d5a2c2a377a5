"""The store's keys, spelled once in chalicelib.core.layout (the scanner that checks it: tests/integration)."""

from __future__ import annotations

from chalicelib.core import layout


def test_layout_keys() -> None:
    assert layout.survey_prefix("pr") == "bls/pr/"
    assert layout.mirror_state_key("pr") == "bls/pr.mirror/state.json"
    assert layout.marker_key("pr", "abc") == "bls/pr.mirror/in-sync-abc"
    assert layout.survey_of_state_key("bls/pr.mirror/state.json") == "pr"
    assert layout.survey_of_state_key("bls/pr/state.json") is None
    assert layout.survey_of_state_key("bls/pr.mirror/in-sync-abc") is None
    assert layout.DEFAULT_REPORT_DATA_KEY == "bls/pr/pr.data.0.Current"
    assert all(key.startswith(layout.REPORTS_PREFIX) for key in (*layout.REPORT_KEYS, layout.SUMMARY_KEY))
