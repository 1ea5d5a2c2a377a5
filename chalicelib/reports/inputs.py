"""The reports' inputs in the store (the data file and the population): their versions and readers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.bls.data_file import BlsDataReader
from chalicelib.core.errors import NotFound, PipelineError, SourceError
from chalicelib.core.layout import POPULATION_KEY
from chalicelib.core.store import Store
from chalicelib.population.update import PopulationRecord, parse_population
from chalicelib.reports.scan import Selection, scan_data


@dataclass(frozen=True)
class ReportInput:
    """One input as the reports read it: its key and stored version."""

    key: str
    etag: str
    sha256: str | None  # the mirror's recorded digest (metadata), if any
    size: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (in `summary.json`)."""
        return asdict(self)


def describe_input(store: Store, key: str) -> ReportInput:
    """The stored version of `key`; PipelineError with the command that stores it if it is absent."""
    try:
        head = store.head(key)
    except NotFound:
        hint = "run `bls-pipeline population`" if key == POPULATION_KEY else "run `bls-pipeline mirror`"
        raise PipelineError(f"input {key!r} is not in the store {store.url}; {hint} first") from None
    return ReportInput(key, head.etag, head.metadata.get("sha256"), head.size)


def read_population(store: Store) -> list[PopulationRecord]:
    """The stored population, parsed (PipelineError if absent, SourceError if malformed)."""
    try:
        body = store.read(POPULATION_KEY).body
    except NotFound:
        raise PipelineError(
            f"{POPULATION_KEY!r} is not in the store {store.url}; run `bls-pipeline population` first"
        ) from None
    try:
        return parse_population(body)
    except SourceError as error:
        raise SourceError(f"{POPULATION_KEY}: {error}") from None


@contextlib.contextmanager
def open_data(store: Store, key: str) -> Iterator[BlsDataReader]:
    """A `BlsDataReader` streaming the stored data file (a clear error if it is absent)."""
    with contextlib.ExitStack() as stack:
        try:
            stream = stack.enter_context(store.open(key))
        except NotFound:
            raise PipelineError(
                f"data file {key!r} is not in the store {store.url}; run `bls-pipeline mirror` "
                "first (or set REPORT_DATA_KEY)"
            ) from None
        yield BlsDataReader(stream, source=key)


def data_file_selection(store: Store, key: str, series_id: str, period: str) -> Selection:
    """(year, value) of `series_id`/`period`, streamed from the stored data file (bounded memory)."""
    with open_data(store, key) as reader:
        return scan_data(reader, best_years=False, series_id=series_id, period=period).selected
