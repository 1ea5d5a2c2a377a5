"""Query parameters of the web API: each parser returns the typed value or raises ApiError (a 400).

One parser per kind of value, shared by every route (and the explorer and revisions endpoints):
numbers are ASCII digits in a range, series ids and periods go through `core.series_ids`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from chalicelib.core import series_ids
from chalicelib.gold import read as gold
from chalicelib.web import explorer

MAX_LIMIT = 10_000
MAX_SERIES_FILTER = 100


class ApiError(Exception):
    """An expected failure answered to the client as JSON with `status`."""

    def __init__(self, status: int, error: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.hint = hint

    def body(self) -> dict[str, Any]:
        body = {"error": self.error, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


def parse_series_id(value: str) -> str:
    """An upper-cased BLS series id; 400 if it does not look like one."""
    try:
        return series_ids.parse_series_id(value)
    except series_ids.InvalidCode as error:
        raise ApiError(400, "bad_request", error.message, error.hint) from None


def parse_period(value: str) -> str:
    """An upper-cased BLS period; 400 if it is not one."""
    try:
        return series_ids.parse_period(value)
    except series_ids.InvalidCode as error:
        raise ApiError(400, "bad_request", error.message, error.hint) from None


_DECIMAL_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII digits only: `isdigit()` also accepts '²', which int() refuses


def parse_int(value: str, name: str, low: int, high: int) -> int:
    """The one parser of numeric query parameters: ASCII digits (spaces around allowed) from low to high; 400 otherwise."""
    text = value.strip()
    if not _DECIMAL_DIGITS.fullmatch(text) or not low <= int(text) <= high:
        raise ApiError(400, "bad_request", f"{name} {value[:20]!r} is not an integer from {low} to {high}")
    return int(text)


def parse_limit(value: str, high: int = MAX_LIMIT) -> int:
    """A positive integer up to `high` (MAX_LIMIT); 400 otherwise."""
    return parse_int(value, "limit", 1, high)


def parse_survey(value: str) -> str:
    """A survey name as the mirror stores it (`pr`, `cu`: lower-case letters, digits, '-', '_'); 400 otherwise."""
    survey = value.strip().lower()
    if not gold.SURVEY_PATTERN.match(survey):
        raise ApiError(400, "bad_request", f"{value[:40]!r} is not a survey name",
                       "survey names are the BLS directory names, e.g. pr or cu (GET /api/surveys lists them)")
    return survey


def parse_query(value: str) -> str:
    """Search words (any text up to explorer.MAX_QUERY_CHARS characters); 400 if longer."""
    if len(value) > explorer.MAX_QUERY_CHARS:
        raise ApiError(400, "bad_request", f"q is longer than {explorer.MAX_QUERY_CHARS} characters")
    return value.strip()


SURVEY_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def parse_files(value: str) -> str:
    """`all`, `none` or comma-separated survey names (each once); 400 otherwise."""
    text = value.strip()
    if text in ("all", "none"):
        return text
    names = [part.strip() for part in text.split(",")]
    if not names or not all(SURVEY_NAME.match(name) for name in names) or len(names) > 100:
        raise ApiError(400, "bad_request", f"files {value[:40]!r} is not all, none or survey names",
                       "e.g. files=pr or files=pr,la")
    return ",".join(dict.fromkeys(names))


def parse_series_filter(value: str) -> list[str]:
    """A comma-separated list of series ids (at least one, at most MAX_SERIES_FILTER)."""
    ids = [parse_series_id(part) for part in value.split(",") if part.strip()]
    if not ids:
        raise ApiError(400, "bad_request", "series is empty", "give one or more series ids, comma-separated")
    if len(ids) > MAX_SERIES_FILTER:
        raise ApiError(400, "bad_request", f"more than {MAX_SERIES_FILTER} series requested")
    return list(dict.fromkeys(ids))


def parse_since(value: str) -> datetime:
    """A date `YYYY-MM-DD` (the start of that day, UTC); 400 otherwise."""
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(400, "bad_request", f"since {value[:20]!r} is not a date", "e.g. since=2026-01-01") from None
