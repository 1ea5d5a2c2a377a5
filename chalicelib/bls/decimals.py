"""Exact decimals: a fixed-point integer `scaled / 10**scale` as text and as the float whose
shortest repr is that text (values have at most 15 significant digits: `data_file.MAX_DIGITS`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def decimal_text(scaled: int, scale: int) -> str:
    """The exact decimal `scaled / 10**scale` as plain text without trailing zeros (`5.7`, `-12`)."""
    text = format(Decimal(int(scaled)).scaleb(-scale).normalize(), "f")
    return "0" if text in ("-0", "0") else text


def decimal_number(scaled: int, scale: int) -> float:
    """The exact decimal as a float whose shortest repr is the exact text (up to 15 digits)."""
    return float(decimal_text(scaled, scale))


def exact_floats(scaled: Any, scale: int) -> list[float]:
    """`decimal_number` for an int64 numpy array: IEEE division is correctly rounded, so below
    2**53 `scaled / 10**scale` is the same double as the exact decimal's text parsed as a float."""
    import numpy as np

    floats: list[float] = (scaled.astype(np.float64) / 10.0**scale).tolist()
    big = np.flatnonzero(np.abs(scaled) >= 2**53)
    for i in big.tolist():
        floats[i] = decimal_number(int(scaled[i]), scale)
    return floats
