"""Keep a survey's gold partitions in step with their inputs: built once per change, removed with the survey.

The inputs of survey S, and their versions (ETags, from two listings):
- its silver partitions: `silver/bls_data/survey=S/*/data.parquet` and `silver/bls_series/survey=S/data.parquet`;
- its bronze mapping files: every `bls/S/S.<name>` without a further dot other than `S.series`
  (`pr.sector`, `pr.measure`, … — a text file such as `pr.txt` is listed too: harmless).
Their canonical list is hashed (SHA-256) into the gold objects' metadata (`inputs`, with
`input-count`; S3 metadata is too small for a long list). Same digest on all four objects →
nothing is built or written (duplicate events, `bls-pipeline run` twice). Otherwise the
four tables are built into temp files (`chalicelib.gold.build`) and only then stored, each as
one object; a build that fails raises `GoldFailed` and the previous partitions stay. If the
inputs changed while building (another conversion landed), it builds again, so the last
write never leaves stale gold. No silver partition left → the gold partitions are deleted
(and dropped from the catalog).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chalicelib.core.errors import NotFound, PipelineError
from chalicelib.core.layout import BLS_PREFIX, GOLD_PREFIX, survey_prefix
from chalicelib.core.log import log_error, log_event
from chalicelib.core.s3_events import store_location
from chalicelib.core.store import Store
from chalicelib.gold import tables
from chalicelib.gold.build import PASS_ROWS, BuildInputs, DataFile, run_build
from chalicelib.gold.values import GoldFailed
from chalicelib.lake import tables as silver
from chalicelib.lake.messages import changed_keys

PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
STABLE_INPUT_ATTEMPTS = 3


class GoldCatalog(Protocol):
    """Where gold partitions are registered (Glue in AWS; nothing locally)."""

    def add(self, partition: tables.GoldPartition) -> None: ...

    def drop(self, partition: tables.GoldPartition) -> None: ...


@dataclass(frozen=True)
class Inputs:
    """A survey's gold inputs: (key, version) of each, and the digest recorded in the gold objects."""

    survey: str
    data: list[tuple[str, str]]
    series: tuple[str, str] | None
    mappings: list[tuple[str, str]]

    @property
    def exists(self) -> bool:
        """True while the survey has any silver partition (else its gold is removed)."""
        return bool(self.data) or self.series is not None

    @property
    def items(self) -> list[tuple[str, str]]:
        return sorted([*self.data, *([self.series] if self.series else []), *self.mappings])

    @property
    def digest(self) -> str:
        text = json.dumps(self.items, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass
class GoldResult:
    """What happened to one survey's gold: `written`, `unchanged`, `deleted` or `absent`."""

    action: str
    survey: str
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float | None = None
    passes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"layer": "gold", **asdict(self)}


@dataclass(frozen=True)
class GoldFailure:
    """A survey whose gold could not be built (`action` "failed"); its previous partitions stay."""

    survey: str
    error: str
    action: str = "failed"

    def to_dict(self) -> dict[str, Any]:
        return {"layer": "gold", "action": self.action, "survey": self.survey, "error": self.error}


def survey_inputs(store: Store, survey: str) -> Inputs:
    """The current inputs of `survey`'s gold (three LISTs)."""
    data = []
    for info in store.list(f"{silver.table_prefix(silver.BLS_DATA)}survey={survey}/"):
        partition = silver.partition_for_silver_key(info.key)
        if partition is not None and partition.survey == survey:
            data.append((info.key, info.etag))
    series_key = silver.Partition(silver.BLS_SERIES, "", survey).key
    series = next(((i.key, i.etag) for i in store.list(series_key) if i.key == series_key), None)
    mappings = [(info.key, info.etag) for info in store.list(survey_prefix(survey))
                if mapping_name(survey, info.key) is not None]
    return Inputs(survey, sorted(data), series, sorted(mappings))


def mapping_name(survey: str, key: str) -> str | None:
    """`sector` for `bls/pr/pr.sector`: a survey file that may map codes to names (None for data/series files)."""
    prefix = survey_prefix(survey) + f"{survey}."
    if not key.startswith(prefix):
        return None
    name = key[len(prefix):]
    return name if name and "." not in name and "/" not in name and name != "series" else None


def survey_of_key(key: str) -> str | None:
    """The survey whose gold a changed store key can affect (a file directly in `bls/<survey>/`)."""
    if not key.startswith(BLS_PREFIX):
        return None
    survey, _, name = key[len(BLS_PREFIX):].partition("/")
    return survey if survey and name.startswith(f"{survey}.") and "/" not in name else None


def surveys_in_message(body: str | bytes | dict[str, Any], store: Store) -> list[str]:
    """The surveys a lake message concerns (data, series or mapping files created or removed)."""
    bucket, prefix = store_location(store)
    keys = changed_keys(body, bucket=bucket, store_prefix=prefix)
    return sorted({s for s in (survey_of_key(k) for k in keys) if s})


def sync_survey(store: Store, survey: str, *, catalog: GoldCatalog | None = None,
                tmp_dir: str | None = None, pass_rows: int | None = None) -> GoldResult:
    """Bring `survey`'s gold in step with its inputs (see the module docstring)."""
    for _ in range(STABLE_INPUT_ATTEMPTS):
        inputs = survey_inputs(store, survey)
        result = _sync_once(store, inputs, catalog, tmp_dir, pass_rows)
        if result.action != "written" or survey_inputs(store, survey).digest == inputs.digest:
            return result
        log_event("gold_inputs_changed", survey=survey)
    raise GoldFailed(f"gold of {survey}: its inputs kept changing during {STABLE_INPUT_ATTEMPTS} builds")


def _recorded(store: Store, survey: str) -> list[str | None]:
    versions = []
    for partition in tables.partitions(survey):
        try:
            versions.append(store.head(partition.key).metadata.get("inputs"))
        except NotFound:
            versions.append(None)
    return versions


def _sync_once(store: Store, inputs: Inputs, catalog: GoldCatalog | None, tmp_dir: str | None,
               pass_rows: int | None) -> GoldResult:
    survey = inputs.survey
    if not inputs.exists:
        return _delete(store, survey, catalog)
    if all(version == inputs.digest for version in _recorded(store, survey)):
        return GoldResult("unchanged", survey)
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="gold-", dir=tmp_dir))
    try:
        build_inputs = _fetch(store, inputs, folder)
        out, built = run_build(build_inputs, folder, pass_rows=pass_rows or PASS_ROWS)
        for partition in tables.partitions(survey):
            with open(out[partition.table], "rb") as stream:
                store.put(partition.key, stream, content_type=PARQUET_CONTENT_TYPE, metadata={
                    "inputs": inputs.digest, "input-count": str(len(inputs.items)),
                    "rows": str(built.rows.get(partition.table, 0))})
    except PipelineError as error:
        log_error("gold_failed", error, survey=survey)
        raise GoldFailed(f"gold of {survey}: not built, its previous partitions stay: {error}") from error
    except (OSError, ValueError, KeyError) as error:  # an unreadable silver file, a malformed mapping file
        log_error("gold_failed", error, survey=survey)
        raise GoldFailed(f"gold of {survey}: not built, its previous partitions stay: {error}") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if catalog is not None:
        for partition in tables.partitions(survey):
            catalog.add(partition)
    seconds = round(time.monotonic() - started, 3)
    log_event("gold_written", survey=survey, rows=built.rows, seconds=seconds, passes=built.passes)
    return GoldResult("written", survey, built.rows, seconds, built.passes)


def _fetch(store: Store, inputs: Inputs, folder: Path) -> BuildInputs:
    """Local copies of the silver partitions; the mapping files' bytes."""
    files = []
    for number, (key, _) in enumerate(inputs.data):
        path = folder / f"data-{number}.parquet"
        _copy(store, key, path)
        partition = silver.partition_for_silver_key(key)
        files.append(DataFile(partition.file if partition else key, path))
    series_path = None
    if inputs.series is not None:
        series_path = folder / "series.parquet"
        _copy(store, inputs.series[0], series_path)
    mappings = {}
    for key, _ in inputs.mappings:
        name = mapping_name(inputs.survey, key)
        if name is None:
            continue
        try:
            mappings[name] = store.read(key).body
        except NotFound:
            continue  # removed since the listing: its event comes next
    return BuildInputs(inputs.survey, files, series_path, mappings)


def _copy(store: Store, key: str, path: Path) -> None:
    with store.open(key) as stream, open(path, "wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)


def _delete(store: Store, survey: str, catalog: GoldCatalog | None) -> GoldResult:
    keys = [p.key for p in tables.partitions(survey) if store.exists(p.key)]
    if not keys:
        return GoldResult("absent", survey)
    store.delete_many(keys)
    if catalog is not None:
        for partition in tables.partitions(survey):
            catalog.drop(partition)
    log_event("gold_deleted", survey=survey)
    return GoldResult("deleted", survey)


def gold_surveys(store: Store) -> list[str]:
    """Every survey with silver partitions or gold partitions."""
    found: set[str] = set()
    for table in (silver.BLS_DATA, silver.BLS_SERIES):
        for info in store.list(silver.table_prefix(table)):
            partition = silver.partition_for_silver_key(info.key)
            if partition is not None:
                found.add(partition.survey)
    for info in store.list(GOLD_PREFIX):
        gold = tables.partition_for_key(info.key)
        if gold is not None:
            found.add(gold.survey)
    return sorted(found)


GoldEntry = GoldResult | GoldFailure


def sync_surveys(store: Store, surveys: Iterable[str], *, catalog: GoldCatalog | None = None,
                 tmp_dir: str | None = None) -> list[GoldEntry]:
    """`sync_survey` for each survey; a failure is an entry, the others still run."""
    results: list[GoldEntry] = []
    for survey in surveys:
        try:
            results.append(sync_survey(store, survey, catalog=catalog, tmp_dir=tmp_dir))
        except PipelineError as error:
            results.append(GoldFailure(survey, str(error)))
    return results


def reconcile(store: Store, *, catalog: GoldCatalog | None = None, tmp_dir: str | None = None) -> list[GoldEntry]:
    """Every survey's gold in step (a backfill; idempotent): built where inputs changed, removed where gone."""
    return sync_surveys(store, gold_surveys(store), catalog=catalog, tmp_dir=tmp_dir)


__all__ = ["GoldFailed", "GoldFailure", "GoldResult", "reconcile", "survey_inputs", "surveys_in_message",
           "sync_survey", "sync_surveys"]

