"""Reports 1 (population statistics) and 3 (series × population); 2 is `scan`. See docs/reports.md."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from chalicelib.core.errors import SourceError
from chalicelib.population.update import PopulationRecord
from chalicelib.reports.documents import (
    PopulationStats,
    SeriesPopulationRow,
    YearPopulation,
)


def population_stats(records: Iterable[PopulationRecord], start_year: int, end_year: int) -> PopulationStats:
    """Definition 1: mean, sample std (ddof=1) and population std (ddof=0) over start..end inclusive."""
    import pandas as pd

    by_year = {record.year: record.population for record in records}
    years = list(range(start_year, end_year + 1))
    missing = [year for year in years if year not in by_year]
    if missing:
        available = f"{min(by_year)}–{max(by_year)}" if by_year else "none"
        raise SourceError(
            f"population data has no value for year(s) {', '.join(map(str, missing))} "
            f"of the range {start_year}–{end_year} (years available: {available}); "
            "choose another range with --years / REPORT_YEARS"
        )
    population = pd.Series([by_year[year] for year in years], index=years, dtype="int64")
    sample_std = population.std(ddof=1)
    return PopulationStats(
        start_year=start_year,
        end_year=end_year,
        years=years,
        mean=float(population.mean()),
        std=None if pd.isna(sample_std) else float(sample_std),  # one year: undefined
        std_population=float(population.std(ddof=0)),
        population=[YearPopulation(year, int(by_year[year])) for year in years],
    )


def series_population_rows(
    series_id: str,
    period: str,
    selected: Iterable[tuple[int, float | Decimal | None]],
    population: Iterable[PopulationRecord],
) -> list[SeriesPopulationRow]:
    """Definition 3: every year's value of the series/period with that year's population (None if unknown)."""
    import pandas as pd

    values = pd.DataFrame(list(selected), columns=["year", "value"], dtype=object).astype({"year": "int64"})
    people = pd.DataFrame([tuple(r) for r in population], columns=["year", "population"]).astype(
        {"year": "int64", "population": "Int64"}
    )
    joined = values.merge(people, on="year", how="left", validate="many_to_one").sort_values("year", kind="stable")
    return [
        SeriesPopulationRow(series_id, int(year), period, value,
                            None if pd.isna(people_count) else int(people_count))
        for year, value, people_count in zip(joined["year"], joined["value"], joined["population"])
    ]
