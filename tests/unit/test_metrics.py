"""Metrics (issue 22): the catalog, EMF lines in Lambda only, results mapped to values."""

from __future__ import annotations

import io
import json

import pytest

from chalicelib.core import metrics as core
from chalicelib.pipeline import metrics

MIRROR = {"added": ["a", "b"], "updated": ["c"], "deleted": [], "failed": [], "pending": 7,
          "bytes_downloaded": 1234, "source_requests": 9, "seconds": 12.5}


def test_emf_line_has_the_namespace_dimension_units_and_values() -> None:
    stream = io.StringIO()
    core.emit({"FilesAdded": 2, "BytesDownloaded": 1234, "MirrorSeconds": 1.5}, enabled=True, stream=stream)
    [line] = stream.getvalue().splitlines()
    document = json.loads(line)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "BlsPipeline" and directive["Dimensions"] == [["service"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "FilesAdded": "Count", "BytesDownloaded": "Bytes", "MirrorSeconds": "Seconds"}
    assert (document["service"], document["FilesAdded"], document["BytesDownloaded"]) == ("bls-pipeline", [2.0], [1234.0])


def test_nothing_is_written_outside_lambda(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    metrics.record_ingestion({"mirror": MIRROR, "population": {"changed": True}})
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "bls-pipeline-dev-ingest")
    metrics.record_ingestion({"mirror": MIRROR, "population": {"changed": True}})
    assert json.loads(capsys.readouterr().out)["PopulationChanged"] == [1.0]


def test_unknown_metric_names_are_refused_and_never_fail_a_run(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(KeyError):
        core.emf_document({"NoSuchMetric": 1})
    core.emit({"NoSuchMetric": 1}, enabled=True)  # best effort: a line on stderr, no exception
    assert "metrics_failed" in capsys.readouterr().err


def test_ingestion_values() -> None:
    values = metrics.record_ingestion({"mirror": MIRROR, "population": {"changed": False}}, enabled=False)
    assert values == {"FilesAdded": 2, "FilesUpdated": 1, "FilesDeleted": 0, "FilesFailed": 0, "PendingFiles": 7,
                      "BytesDownloaded": 1234, "SourceRequests": 9, "MirrorSeconds": 12.5, "PopulationChanged": 0}
    continued = metrics.record_ingestion({"mirror": MIRROR, "population": None}, continuation=True, enabled=False)
    assert continued["ContinuationInvocations"] == 1 and "PopulationChanged" not in continued
    assert metrics.record_ingestion({"mirror": None, "population": None}, enabled=False) == {}


@pytest.mark.parametrize(("result", "expected"), [
    ({"action": "written", "written": ["reports/a.json", "reports/b.csv"]}, {"ReportsComputed": 2, "ReportsSkipped": 0}),
    ({"action": "unchanged", "written": []}, {"ReportsComputed": 0, "ReportsSkipped": 1}),
    ({"action": "skipped", "written": []}, {"ReportsComputed": 0, "ReportsSkipped": 0}),
])
def test_analysis_values(result: dict, expected: dict) -> None:
    assert metrics.record_analysis(result, enabled=False) == expected


def test_lake_values() -> None:
    result = {"action": "written", "results": [{"action": "written", "seconds": 2.0},
                                               {"action": "unchanged", "seconds": None},
                                               {"action": "deleted", "seconds": 0.5}]}
    assert metrics.record_lake(result, enabled=False) == {"LakeConversions": 2, "LakeFailures": 0, "LakeSeconds": 2.5}
    assert metrics.record_lake(None, failed=True, enabled=False) == {"LakeConversions": 0, "LakeFailures": 1}


def test_every_catalog_metric_has_a_unit_and_a_group() -> None:
    assert len({spec.name for spec in core.CATALOG}) == len(core.CATALOG)
    assert {spec.unit for spec in core.CATALOG} <= {"Count", "Bytes", "Seconds"}
