"""The web API's on-demand series × population (report 3): values from the silver layer when the
data file's partition is current (`lake.read`, exact), else streamed from the data file (`reports.inputs`).

A silver value is served as the float whose shortest text is the exact decimal when it has at most
15 significant digits (every value the TSV path can read), else as the exact `Decimal` (written
as a JSON number to the last digit by `routes.json_response`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

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
    exact = silver_selection(store, settings.report_data_key, series_id, period)
    selected: Iterable[tuple[int, float | Decimal | None]] | None = None
    if exact is not None:
        selected = [(year, _number(value)) for year, value in exact]
    if selected is None:
        selected = data_file_selection(store, settings.report_data_key, series_id, period)
    return series_population_rows(series_id, period, selected, population)


def _number(value: Decimal) -> float | Decimal:
    """The float whose shortest text is `value` when one exists (<= 15 significant digits), else `value`."""
    return float(value) if len(value.normalize().as_tuple().digits) <= 15 else value
