"""What varies per deployment (CDK context → `PipelineConfig`), and the fixed names and numbers.

The Lambda functions' names, logical ids and timeouts come from Chalice (`app.py`,
`.chalice/config.json`); the stack reads them from there so both deploy paths agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from constructs import Construct

from chalicelib import APP_NAME
from chalicelib.core.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = REPO_ROOT / ".chalice" / "config.json"

# Chalice's function names in app.py and the logical ids `chalice package` gives them.
INGEST, INGEST_CONTINUE, ANALYZE, API_HANDLER, LAKE = "ingest", "ingest_continue", "analyze", "api_handler", "lake"
LOGICAL_IDS = {INGEST: "Ingest", INGEST_CONTINUE: "IngestContinue", ANALYZE: "Analyze", API_HANDLER: "APIHandler",
               LAKE: "Lake"}
# The SQS event of each queue-fed function in the packaged SAM template.
SQS_EVENT_IDS = {ANALYZE: "AnalyzeSqsEventSource", INGEST_CONTINUE: "IngestContinueSqsEventSource",
                 LAKE: "LakeSqsEventSource"}
CONTINUATION_MAX_RECEIVE_COUNT = 5  # a throttled receive (reserved concurrency 1) counts too
CONTINUATION_MAX_AGE = 3600  # seconds a continuation may wait before its alarm (one is picked up in seconds)
LAKE_EPHEMERAL_STORAGE_MB = 10240  # Path 1: /tmp holds one Parquet file while it is written

VISIBILITY_FACTOR = 6  # AWS: queue visibility timeout >= 6 x the function timeout
MAX_RECEIVE_COUNT = 4  # a message that failed 4 times goes to the dead-letter queue
OLDEST_MESSAGE_ALARM_SECONDS = 3600  # an analysis message waiting an hour: the analysis is stuck
API_RATE_LIMIT = 10  # requests per second, steady, for the whole API stage (Path 1)
API_BURST_LIMIT = 20

_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_TEXT_CONTEXT = ("environment", "alarm_email", "bls_contact", "report_data_key", "log_level",
                 "bls_source_url", "population_api_url", "ingest_time_budget", "http_requests_per_second",
                 "quicksight_principal")
# A QuickSight user (issue 20, docs/quicksight.md): arn:aws:quicksight:<identity region>:<account>:user/<namespace>/<name>
_QUICKSIGHT_USER = re.compile(r"^arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:user/[A-Za-z0-9._-]+/[^\s]+$")


@dataclass(frozen=True)
class PipelineConfig:
    """What varies per deployment (from CDK context: `-c environment=prod -c alarm_email=...`)."""

    environment: str = "dev"
    alarm_email: str | None = None
    bls_contact: str | None = None
    report_data_key: str = Settings.report_data_key
    log_level: str = "INFO"
    athena_bytes_scanned_cutoff: int = 10 * 1024**3
    athena_named_queries: bool = True  # off only where the target has no such resource type (ministack)
    # Other sources than BLS and DataUSA (a mirror; the local snapshot server of `make deploy-local`).
    bls_source_url: str | None = None
    population_api_url: str | None = None
    ingest_time_budget: str | None = None  # MIRROR_TIME_BUDGET of the daily function only (tests: continuations)
    http_requests_per_second: str | None = None  # a local source server needs no pace (`make deploy-local`)
    quicksight_principal: str | None = None  # opt-in QuickSight data source, datasets, dashboard (infra/quicksight.py)

    def __post_init__(self) -> None:
        if not _ENVIRONMENT.match(self.environment):
            raise ValueError(
                f"context 'environment': {self.environment!r} must be 1-15 lower-case letters, digits or '-', "
                "starting with a letter (it becomes part of bucket and function names)"
            )
        if self.alarm_email is not None and not _EMAIL.fullmatch(self.alarm_email):
            raise ValueError(f"context 'alarm_email': {self.alarm_email!r} is not an e-mail address")
        if self.quicksight_principal is not None and not _QUICKSIGHT_USER.match(self.quicksight_principal):
            raise ValueError(f"context 'quicksight_principal': {self.quicksight_principal!r} is not a QuickSight user "
                             "ARN (arn:aws:quicksight:<region>:<account>:user/default/<name>)")
        # Same validation as the Lambda will apply at run time, but at synth time.
        Settings.from_env(self.source_variables() | {"REPORT_DATA_KEY": self.report_data_key})

    @classmethod
    def from_context(cls, scope: Construct) -> PipelineConfig:
        """Read the context values (missing ones keep their defaults)."""
        values: dict[str, Any] = {}
        for name in _TEXT_CONTEXT:
            value = scope.node.try_get_context(name)
            if value not in (None, ""):
                values[name] = str(value)
        if (cutoff := scope.node.try_get_context("athena_bytes_scanned_cutoff")) not in (None, ""):
            values["athena_bytes_scanned_cutoff"] = int(cutoff)
        if str(scope.node.try_get_context("athena_named_queries")).lower() in ("false", "0", "no"):
            values["athena_named_queries"] = False
        return cls(**values)

    def source_variables(self) -> dict[str, str]:
        """The environment variables naming the sources and the contact (only those set)."""
        values = {"BLS_CONTACT": self.bls_contact, "BLS_SOURCE_URL": self.bls_source_url,
                  "POPULATION_API_URL": self.population_api_url,
                  "HTTP_REQUESTS_PER_SECOND": self.http_requests_per_second}
        return {name: value for name, value in values.items() if value}

    def function_name(self, function: str) -> str:
        """The Lambda function name, as `chalice deploy --stage <environment>` names it."""
        if function == API_HANDLER:
            return f"{APP_NAME}-{self.environment}"
        return f"{APP_NAME}-{self.environment}-{function}"

    def settings(self) -> Settings:
        """The run-time settings these values give (for the notification definitions)."""
        return Settings.from_env({"REPORT_DATA_KEY": self.report_data_key})


def data_only(scope: Construct) -> bool:
    """Context `data_only`: Path 2's data stack instead of the whole pipeline."""
    return str(scope.node.try_get_context("data_only") or "false").lower() in ("1", "true", "yes")


def chalice_function_config(function: str, config_path: Path = CHALICE_CONFIG) -> dict[str, Any]:
    """Top-level `lambda_functions.<function>` of `.chalice/config.json` (timeouts, memory)."""
    config = json.loads(config_path.read_text())
    return dict(config.get("lambda_functions", {}).get(function, {}))


def function_timeout(function: str, default: int = 60, config_path: Path = CHALICE_CONFIG) -> int:
    """A function's timeout in seconds, from `.chalice/config.json` (Chalice's default: 60 s)."""
    return int(chalice_function_config(function, config_path).get("lambda_timeout", default))
