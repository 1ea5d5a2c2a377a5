"""The web API's on-demand series × population (report 3): values from the silver layer when the
data file's partition is current (`lake.read`), else streamed from the data file (`reports.inputs`)."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.core.settings import Settings
from chalicelib.core.store import Store
from chalicelib.lake.read import silver_selection
from chalicelib.reports.definitions import series_population_rows
from chalicelib.reports.documents import SeriesPopulationRow
from chalicelib.reports.inputs import data_file_selection, read_population


def series_population_for(store: Store, settings: Settings, series_id: str, period: str) -> list[SeriesPopulationRow]:
    """Every year's value of `series_id`/`period` in `settings.report_data_key` with that year's population."""
    series_id, period = series_id.strip().upper(), period.strip().upper()
    population = read_population(store)
    selected: Iterable[tuple[int, float | None]] | None = silver_selection(store, settings.report_data_key, series_id, period)
    if selected is None:
        selected = data_file_selection(store, settings.report_data_key, series_id, period)
    return series_population_rows(series_id, period, selected, population)
