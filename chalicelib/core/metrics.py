"""The pipeline's CloudWatch metrics: one catalog, written as embedded-metric-format (EMF) lines.

In Lambda, one JSON line on stdout per invocation (Powertools Metrics) becomes CloudWatch metrics in the
namespace `BlsPipeline` with the dimension `service=bls-pipeline`; nothing is written anywhere else (a
workstation run prints nothing extra). `infra/operations_dashboard.py` draws every metric of `CATALOG`.

Adding a metric is one line in `CATALOG` (name, unit, dashboard group and label) plus the value where a
result is mapped (`chalicelib/pipeline/metrics.py`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from chalicelib.core.settings import running_in_lambda

NAMESPACE = "BlsPipeline"
SERVICE = "bls-pipeline"
COUNT, BYTES, SECONDS = "Count", "Bytes", "Seconds"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    unit: str
    group: str  # the dashboard widget it is drawn in
    label: str
    statistic: str = "Sum"  # per day on the dashboard


CATALOG: tuple[MetricSpec, ...] = (
    MetricSpec("FilesAdded", COUNT, "Mirror: files", "added"),
    MetricSpec("FilesUpdated", COUNT, "Mirror: files", "updated"),
    MetricSpec("FilesDeleted", COUNT, "Mirror: files", "deleted"),
    MetricSpec("FilesFailed", COUNT, "Mirror: files", "failed"),
    MetricSpec("PendingFiles", COUNT, "Mirror: files", "pending (for a continuation)", "Maximum"),
    MetricSpec("BytesDownloaded", BYTES, "Mirror: traffic", "bytes downloaded"),
    MetricSpec("SourceRequests", COUNT, "Mirror: traffic", "source requests"),
    MetricSpec("MirrorSeconds", SECONDS, "Mirror: time", "mirror seconds"),
    MetricSpec("ContinuationInvocations", COUNT, "Mirror: time", "continuation invocations"),
    MetricSpec("MirrorRunInvocations", COUNT, "Mirror: time", "invocations of the current run", "Maximum"),
    MetricSpec("MirrorRunFailures", COUNT, "Mirror: time", "run failed or stopped at a bound"),
    MetricSpec("FilesAbandoned", COUNT, "Mirror: files", "abandoned at an invocation's end", "Maximum"),
    MetricSpec("PopulationChanged", COUNT, "Population and reports", "population changed"),
    MetricSpec("ReportsComputed", COUNT, "Population and reports", "reports computed"),
    MetricSpec("ReportsSkipped", COUNT, "Population and reports", "reports skipped (inputs unchanged)"),
    MetricSpec("LakeConversions", COUNT, "Lake (silver layer)", "conversions"),
    MetricSpec("LakeFailures", COUNT, "Lake (silver layer)", "failures"),
    MetricSpec("LakeSeconds", SECONDS, "Lake (silver layer)", "conversion seconds"),
    # later (issue 22): gold conversions/failures/seconds, revisions recorded — one line each here.
)
BY_NAME = {spec.name: spec for spec in CATALOG}


def in_lambda(env: Mapping[str, str] | None = None) -> bool:
    """True inside a Lambda invocation (the runtime sets AWS_LAMBDA_FUNCTION_NAME)."""
    return running_in_lambda(env)


def emf_document(values: Mapping[str, float]) -> dict[str, Any] | None:
    """The EMF document for these values (None if there are none); unknown names are a programming error."""
    from aws_lambda_powertools.metrics import EphemeralMetrics

    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise KeyError(f"not in the metrics catalog: {unknown}")
    if not values:
        return None
    metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    for name, value in values.items():
        metrics.add_metric(name=name, unit=BY_NAME[name].unit, value=float(value))
    return dict(metrics.serialize_metric_set())


def emit(values: Mapping[str, float], *, enabled: bool | None = None, stream: TextIO | None = None) -> None:
    """Write one EMF line with `values` — only in Lambda (unless `enabled` says otherwise). Never raises:
    a metric must not fail a pipeline run."""
    if not (in_lambda() if enabled is None else enabled):
        return
    try:
        document = emf_document(values)
        if document is not None:
            print(json.dumps(document, separators=(",", ":")), file=stream or sys.stdout, flush=True)
    except Exception as error:  # noqa: BLE001 - metrics are best effort
        print(json.dumps({"event": "metrics_failed", "error": str(error)[:200]}), file=sys.stderr)
