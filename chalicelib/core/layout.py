"""The store layout: every key and prefix the pipeline reads or writes, defined once.

Everything else (the mirror, population, reports, pipeline, web, and `infra/`'s IAM
statements) imports these names; docs/store-layout.md is the table of who writes what.
A prefix ends in `/`; keys are relative to the store's root (its URL may add a prefix).
"""

from __future__ import annotations

# ---- the mirror: bls/<survey>/<file>, its bookkeeping beside it in bls/<survey>.mirror/
BLS_PREFIX = "bls/"
BOOKKEEPING_SUFFIX = ".mirror"
MIRROR_STATE_NAME = "state.json"
IN_SYNC_MARKER = "in-sync-"

# ---- population
POPULATION_PREFIX = "population/"
POPULATION_KEY = f"{POPULATION_PREFIX}population.json"

# ---- the reports (written by the analysis)
REPORTS_PREFIX = "reports/"
POPULATION_STATS_KEY = f"{REPORTS_PREFIX}population_stats.json"
BEST_YEARS_JSON_KEY = f"{REPORTS_PREFIX}best_years.json"
BEST_YEARS_CSV_KEY = f"{REPORTS_PREFIX}best_years.csv"
SERIES_POPULATION_JSON_KEY = f"{REPORTS_PREFIX}series_population.json"
SERIES_POPULATION_CSV_KEY = f"{REPORTS_PREFIX}series_population.csv"
SUMMARY_KEY = f"{REPORTS_PREFIX}summary.json"
REPORT_KEYS = (
    POPULATION_STATS_KEY,
    BEST_YEARS_JSON_KEY,
    BEST_YEARS_CSV_KEY,
    SERIES_POPULATION_JSON_KEY,
    SERIES_POPULATION_CSV_KEY,
)

# ---- the silver layer (written by the lake function; chalicelib/lake/tables.py says which
# bronze key feeds which table and partition: silver/<table>/<partition folders>/data.parquet)
SILVER_PREFIX = "silver/"
# ---- the gold layer (issue 20; chalicelib/gold/tables.py: gold/<table>/survey=<survey>/data.parquet)
GOLD_PREFIX = "gold/"
ATHENA_RESULTS_PREFIX = "athena-results/"  # query results of the Athena workgroup (AWS only)

# ---- the gold layer (written after the silver layer; chalicelib/gold/tables.py:
# gold/<table>/survey=<survey>/data.parquet, one partition per survey)
GOLD_PREFIX = "gold/"

# ---- run bookkeeping
STATE_PREFIX = "_state/"
INGESTION_RECORD_KEY = f"{STATE_PREFIX}ingestion.json"
MIRROR_RUN_KEY = f"{STATE_PREFIX}mirror-run.json"  # a mirror run across invocations: lease, pending work

# ---- who may touch what (infra/ builds its IAM statements from these)
INGESTION_PREFIXES = (BLS_PREFIX, POPULATION_PREFIX, STATE_PREFIX)
READABLE_PREFIXES = (BLS_PREFIX, POPULATION_PREFIX, REPORTS_PREFIX, STATE_PREFIX, SILVER_PREFIX,
                     GOLD_PREFIX)  # the web API
LAKE_SOURCE_PREFIXES = (BLS_PREFIX, POPULATION_KEY)  # what a change of the silver layer can come from


def survey_prefix(survey: str) -> str:
    """The mirrored copy of one BLS directory: `bls/<survey>/`."""
    return f"{BLS_PREFIX}{survey}/"


def data_key(survey: str, name: str) -> str:
    """One mirrored file: `bls/<survey>/<name>`."""
    return survey_prefix(survey) + name


def bookkeeping_prefix(survey: str) -> str:
    """The folder beside `bls/<survey>/` that holds the mirror's state and in-sync marker."""
    return f"{BLS_PREFIX}{survey}{BOOKKEEPING_SUFFIX}/"


def mirror_state_key(survey: str) -> str:
    """Where a survey's mirror state is stored: `bls/<survey>.mirror/state.json`."""
    return bookkeeping_prefix(survey) + MIRROR_STATE_NAME


def marker_prefix(survey: str) -> str:
    """The common start of a survey's in-sync markers: `bls/<survey>.mirror/in-sync-`."""
    return bookkeeping_prefix(survey) + IN_SYNC_MARKER


def marker_key(survey: str, fingerprint: str) -> str:
    """The in-sync marker for one fingerprint: `bls/<survey>.mirror/in-sync-<fingerprint>`."""
    return marker_prefix(survey) + fingerprint


def survey_of_state_key(key: str) -> str | None:
    """The survey whose mirror state `key` is, or None if `key` is not a mirror state key."""
    folder, _, name = key.removeprefix(BLS_PREFIX).partition("/")
    if key.startswith(BLS_PREFIX) and name == MIRROR_STATE_NAME and folder.endswith(BOOKKEEPING_SUFFIX):
        return folder.removesuffix(BOOKKEEPING_SUFFIX)
    return None


DEFAULT_REPORT_DATA_KEY = data_key("pr", "pr.data.0.Current")
