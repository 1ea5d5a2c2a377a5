"""The mirror's text summary of a run cut short by its time budget (workstation.render.mirror_text)."""

from __future__ import annotations

from chalicelib.mirror.results import MirrorResult, SurveyResult
from workstation.render import mirror_text


def test_a_budget_stop_says_what_is_pending_not_reached_and_skipped():
    # GIVEN a run that left one file of `la` pending and never reached `pr`
    result = MirrorResult(
        [SurveyResult("la", "https://x/la/", "bls/la/", added=["la.series"], pending=["la.big"], skipped=["maps/"]),
         SurveyResult("pr", "https://x/pr/", "bls/pr/", reached=False)],
        skipped=("compressed/",),
    )
    # WHEN it is rendered THEN each survey's line says so, and the run is marked incomplete
    assert mirror_text(result).splitlines() == [
        "la (https://x/la/ -> bls/la/): add 1, update 0, delete 0, unchanged 0, failed 0; "
        "0 bytes downloaded, 0 uploaded, 0 source requests; 1 pending",
        "pr: not reached (time budget used up)",
        "skipped (not surveys, or sub-directories): compressed/, la/maps/",
        "incomplete: the time budget ran out; the next run continues",
    ]
    assert result.ok and not result.complete
    assert result.to_dict()["pending"] == 1 and result.to_dict()["not_reached"] == ["pr"]
