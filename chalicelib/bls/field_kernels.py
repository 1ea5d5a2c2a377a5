"""The numpy kernels of the BLS data-file parser (`chalicelib.bls.data_file`): fixed-width byte
matrices of one column's fields in, typed arrays out (years, periods, values exact or scaled).

Each takes a (rows, width) uint8 matrix of space/NUL-padded fields; none allocates more than a
few arrays of the block's size. The limits (digits, field size) are the reader's: see its docstring.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from chalicelib.core.errors import SourceError

if TYPE_CHECKING:  # numpy is imported lazily: only code that parses data files needs it
    import numpy as np

MAX_DIGITS = 15  # exact in int64 sums and in a float64 shown with repr()
MAX_FIELD = 4096  # bytes; a longer field is not BLS data
EXACT_WHOLE_DIGITS = 18  # exact mode: digits before the decimal point ...
EXACT_DECIMALS = 6  # ... and after it


def gather(buf: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: int) -> np.ndarray:
    """The bytes buf[lo:hi] of every row, left-aligned in a (rows, width) matrix padded with 0.

    Rows are copied out of a sliding-window view of the underlying buffer (`buf.base`, as
    made by `np.frombuffer`), one short memcpy per row, no index matrix; so every
    buf[lo:lo + width] must lie inside that buffer (the general path pads it for this).
    """
    import numpy as np

    if width > MAX_FIELD:
        raise SourceError(f"a field is longer than {MAX_FIELD} bytes: not a BLS data file")
    # Every byte offset seen as the start of a `width`-byte item: fancy indexing copies whole items.
    base = buf.base if buf.base is not None else buf
    windows = np.ndarray(
        shape=(len(base) - width + 1,), dtype=np.dtype((np.void, width)), buffer=base, strides=(1,)
    )
    matrix: np.ndarray = windows[lo].view(np.uint8).reshape(len(lo), width)
    length = hi - lo
    if not (length == width).all():
        matrix *= np.arange(width, dtype=np.int64) < length[:, None]
    return matrix


NOT_BLANK = 0xDFDFDFDFDFDFDFDF  # a byte b is a space or 0 padding iff b & 0xDF == 0


def words(matrix: np.ndarray) -> list[np.ndarray]:
    """Each row's bytes as 8-byte words (zero-padded): comparing words is faster than bytes."""
    import numpy as np

    n, width = matrix.shape
    padded = np.zeros((n, -(-width // 8) * 8), dtype=np.uint8)
    padded[:, :width] = matrix
    words = padded.view(np.uint64)
    return [words[:, k] for k in range(words.shape[1])]


def any_of(conditions: Iterable[np.ndarray]) -> np.ndarray:
    """Element-wise OR of boolean arrays."""
    result = None
    for condition in conditions:
        result = condition if result is None else result | condition
    assert result is not None
    return result


def text(row: np.ndarray) -> str:
    """One field of one row (a matrix row, zero-padded) as trimmed text."""
    return bytes(row).rstrip(b"\0").decode("utf-8", "replace").strip()


def numbers(matrix: np.ndarray, max_digits: int = MAX_DIGITS) -> dict[str, np.ndarray]:
    """Read a decimal number in every row of a (rows, width) byte matrix, column by column.

    A small state machine runs over all rows at once (Horner's rule for the digits):
    spaces (and 0 padding) may surround the number, not split it; one optional leading
    sign; digits with at most one `.`. Returns the digits as an int64 (dot ignored, sign
    applied), the number of digits after the dot, and what is needed to judge validity.
    """
    import numpy as np

    n = len(matrix)
    digits = np.zeros(n, np.int64)
    decimals = np.zeros(n, np.int64)
    n_digits = np.zeros(n, np.int64)
    dots = np.zeros(n, np.int64)
    started = np.zeros(n, bool)
    ended = np.zeros(n, bool)
    negative = np.zeros(n, bool)
    signed = np.zeros(n, bool)
    bad = np.zeros(n, bool)
    any_started = False
    for column in np.ascontiguousarray(matrix.T):  # one row per character position
        solid = (column != 32) & (column != 0)
        if not any_started:
            if not solid.any():
                continue  # leading padding in every row (values are right-aligned)
            any_started = True
        digit = (column - 48) <= 9  # uint8: anything below '0' wraps around to large
        dot = column == 46
        minus = column == 45
        sign = minus | (column == 43)
        bad |= solid & (ended | ~(digit | dot | sign) | (sign & started))
        ended |= ~solid & started
        negative |= minus
        signed |= sign
        started |= solid
        digits = np.where(digit, digits * 10 + (column - 48), digits)
        n_digits += digit
        decimals += digit & (dots > 0)
        dots += dot
    bad |= (dots > 1) | (n_digits == 0) | (n_digits > max_digits)
    return {
        "digits": np.where(negative, -digits, digits),
        "decimals": decimals,
        "n_digits": n_digits,
        "dots": dots,
        "signed": signed,
        "ok": ~bad,
    }


def years(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Four-digit years as int32, and which fields were four digits (spaces around allowed)."""
    import numpy as np

    if matrix.shape[1] == 4:  # the usual case: exactly four characters
        digits = [matrix[:, k] - 48 for k in range(4)]  # uint8: below '0' wraps around to large
        ok = (digits[0] <= 9) & (digits[1] <= 9) & (digits[2] <= 9) & (digits[3] <= 9)
        year = digits[0] * np.int32(1000) + digits[1] * np.int32(100) + digits[2] * np.int32(10) + digits[3]
    else:
        parsed = numbers(matrix)
        ok = parsed["ok"] & (parsed["n_digits"] == 4) & (parsed["dots"] == 0) & ~parsed["signed"]
        year = parsed["digits"].astype(np.int32)
    return np.where(ok, year, 0).astype(np.int32), ok


def periods(matrix: np.ndarray) -> np.ndarray:
    """Trimmed periods packed as `periods.period_code` (0 for an empty or over-long period)."""
    import numpy as np

    n, width = matrix.shape
    if width <= 8 and not any(((matrix[:, k] == 32) | (matrix[:, k] == 0)).any() for k in range(width)):
        codes = np.zeros(n, dtype=np.uint64)  # the usual case: no padding, pack the bytes directly
        for k in range(width):
            codes |= matrix[:, k].astype(np.uint64) << np.uint64(8 * k)
        return codes
    blank = (matrix == 32) | (matrix == 0)
    if blank.any():  # left-align the text and zero the padding
        solid = ~blank
        first = solid.argmax(axis=1)
        last = width - solid[:, ::-1].argmax(axis=1)
        length = np.where(solid.any(axis=1), last - first, 0)
        index = np.minimum(first[:, None] + np.arange(width), width - 1)
        matrix = np.take_along_axis(matrix, index, axis=1) * (np.arange(width) < length[:, None])
    else:
        length = np.full(n, width)
    packed = np.zeros((n, 8), dtype=np.uint8)
    packed[:, : min(width, 8)] = matrix[:, :8]
    codes = packed.view("<u8")[:, 0].copy()
    codes[length > 8] = 0
    return codes


def values(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Exact fixed-point values: (int64 values at one scale, which were numbers, the scale)."""
    parsed = numbers(matrix)
    ok, value, decimals = parsed["ok"], parsed["digits"], parsed["decimals"]
    value[~ok] = 0
    decimals[~ok] = 0
    scale = int(decimals.max()) if len(decimals) else 0
    shift = scale - decimals
    too_precise = ok & (parsed["n_digits"] + shift > MAX_DIGITS)
    if too_precise.any():  # fits alone, but not at the block's common scale
        ok &= ~too_precise
        value[too_precise] = 0
        shift[too_precise] = 0
    return value * _powers_of_ten()[shift], ok, scale


def exact_values(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's number exactly: (whole, fraction in millionths, ok), no common scale.

    ok: a number with at most EXACT_WHOLE_DIGITS digits before the point and EXACT_DECIMALS after.
    Up to 18 digits in all (every BLS value seen) the int64 digits are split by the row's own
    scale; longer numbers (rare) are split from their text.
    """
    import numpy as np

    parsed = numbers(matrix, EXACT_WHOLE_DIGITS + EXACT_DECIMALS)
    ok, digits, decimals = parsed["ok"], parsed["digits"], parsed["decimals"]
    ok &= decimals <= EXACT_DECIMALS
    ok &= parsed["n_digits"] - decimals <= EXACT_WHOLE_DIGITS
    long = ok & (parsed["n_digits"] > 18)  # their int64 digits overflowed
    short = ok & ~long
    powers = _powers_of_ten()
    divisor = powers[np.where(short, decimals, 0)]
    magnitude = np.abs(np.where(short, digits, 0))
    whole = magnitude // divisor
    fraction = (magnitude - whole * divisor) * powers[EXACT_DECIMALS - np.where(short, decimals, 0)]
    negative = digits < 0
    whole = np.where(negative, -whole, whole)
    fraction = np.where(negative, -fraction, fraction)
    for i in np.flatnonzero(long).tolist():
        text = bytes(matrix[i]).replace(b"\0", b"").strip().decode("ascii")
        sign = -1 if text.startswith("-") else 1
        head, _, tail = text.lstrip("+-").partition(".")
        whole[i] = sign * int(head or "0")
        fraction[i] = sign * int(tail.ljust(EXACT_DECIMALS, "0") or "0")
    whole[~ok] = 0
    fraction[~ok] = 0
    return whole, fraction, ok


@functools.cache
def _powers_of_ten() -> np.ndarray:
    import numpy as np

    return np.array([10**k for k in range(19)], dtype=np.int64)
