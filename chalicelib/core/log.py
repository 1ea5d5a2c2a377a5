"""Structured logging: one line per significant event, JSON in Lambda and by default.

Lines go to stderr (CloudWatch collects it in Lambda; locally it keeps stdout
clean for `--json`). Each line has `event` plus the event's own fields, so
CloudWatch Logs Insights can query e.g. `filter event = "file_added"`. The CLI may
switch to short text lines for people (`use_format("text")`); Lambda never does unless
LOG_FORMAT=text is set. See docs/configuration.md, "Logs".
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

from aws_lambda_powertools import Logger

from chalicelib.core.settings import LOG_FORMATS, log_config_from_env

SERVICE = "bls-pipeline"


class _StderrHandler(logging.StreamHandler[IO[str]]):
    """Writes to whatever `sys.stderr` is at the time (test captures, redirections)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass

# Read at import: an invalid LOG_LEVEL must not crash every import; Settings reports it as a ConfigError.
_START = log_config_from_env()

logger = Logger(
    service=SERVICE,
    level=_START.level,
    logger_handler=_StderrHandler(),
    utc=True,
    use_rfc3339=True,
)
_JSON_FORMATTER = logger.registered_formatter
_RECORDS = logging.getLogger(SERVICE)  # the standard logger `logger` writes through (same handler)
# Attributes every LogRecord has: the rest are an event's own fields.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_MAX_VALUE = 80


class TextFormatter(logging.Formatter):
    """One short line per event for a person at a terminal: `warning: event: error (field=value, ...)`."""

    def __init__(self, clear_line: bool = False) -> None:
        super().__init__()
        self.clear_line = clear_line  # start with "erase the line": a progress line may be showing

    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES and not k.startswith("_")}
        event = fields.pop("event", record.getMessage())
        error = fields.pop("error", None)
        fields.pop("error_type", None)
        fields.pop("service", None)
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        line = f"{level}{event}" + (f": {error}" if error is not None else "")
        if fields:
            line += " (" + ", ".join(f"{k}={_short(v)}" for k, v in fields.items()) + ")"
        return ("\r\033[K" if self.clear_line else "") + line


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def use_format(log_format: str, *, level: str | None = None, clear_line: bool = False) -> None:
    """Switch every following line to `json` (the default) or `text`; `level` sets the threshold too."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {LOG_FORMATS}")
    handler = logger.registered_handler
    handler.setFormatter(_JSON_FORMATTER if log_format == "json" else TextFormatter(clear_line))
    if level is not None:
        logger.setLevel(level)


def current_format() -> str:
    """`json` or `text`: the format lines are written in now."""
    return "text" if isinstance(logger.registered_handler.formatter, TextFormatter) else "json"


if _START.text:  # an explicit choice; JSON otherwise
    use_format("text")


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one structured event: `{"message": event, "event": event, ...fields}`."""
    _RECORDS.log(level, event, extra={"event": event, **fields})


def log_error(event: str, error: BaseException | str, **fields: Any) -> None:
    """Log a failure as one structured line (with the error's type and message)."""
    detail = {"error": str(error)}
    if isinstance(error, BaseException):
        detail["error_type"] = type(error).__name__
    log_event(event, logging.ERROR, **detail, **fields)
