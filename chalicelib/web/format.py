"""How the dashboard shows numbers, sizes and times (pure functions; '—' or 'never' for nothing)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

NOTHING = "—"


def format_bytes(size: int | None) -> str:
    """1536 -> '1.5 KiB'; exact bytes below 1 KiB."""
    if size is None:
        return NOTHING
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def format_number(value: Any, decimals: int | None = None) -> str:
    """Thousands separators; integers stay integers; None -> '—'."""
    if value is None:
        return NOTHING
    if isinstance(value, bool):
        return str(value)
    if decimals is not None:
        return f"{value:,.{decimals}f}"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:,}"


def format_time(stamp: str | None) -> str:
    """ISO-8601 or HTTP date -> '2026-08-06 08:30 UTC'; anything else is shown as it is."""
    if not stamp:
        return "never"
    text = str(stamp)
    try:
        when = datetime.fromisoformat(text)  # "Z" included (Python 3.11+)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return text
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def raw_number(value: float) -> str:
    """A number for a data attribute: integers without '.0', others as Python prints them."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def format_decimal(text: str | None, signed: bool = False) -> str:
    """Exact decimal text with thousands separators, digits untouched ('1234567.25' -> '1,234,567.25');
    `signed` adds '+' to positive values; None -> '—'."""
    if text is None or text == "":
        return NOTHING
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = digits.partition(".")
    if not whole.isdigit():
        return text
    if signed and not sign and (whole.strip("0") or fraction.strip("0")):
        sign = "+"
    return f"{sign}{int(whole):,}{dot}{fraction}"
