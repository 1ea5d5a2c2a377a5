"""Structured logging: one JSON line per significant event, the same in Lambda and locally.

Lines go to stderr (CloudWatch collects it in Lambda; locally it keeps stdout
clean for `--json`). Each line has `event` plus the event's own fields, so
CloudWatch Logs Insights can query e.g. `filter event = "file_added"`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from aws_lambda_powertools import Logger

from chalicelib.core.settings import valid_log_level

SERVICE = "bls-pipeline"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (test captures, redirections)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass

logger = Logger(
    service=SERVICE,
    # An invalid LOG_LEVEL must not crash every import; Settings reports it as a ConfigError.
    level=valid_log_level(os.environ.get("LOG_LEVEL")),
    logger_handler=_StderrHandler(),
    utc=True,
    use_rfc3339=True,
)


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: `{"message": event, "event": event, ...fields}`."""
    logger.log(level, event, extra={"event": event, **fields})


def log_error(event: str, error: BaseException | str, **fields: Any) -> None:
    """Log a failure as one structured line (with the error's type and message)."""
    detail = {"error": str(error)}
    if isinstance(error, BaseException):
        detail["error_type"] = type(error).__name__
    log_event(event, logging.ERROR, **detail, **fields)
