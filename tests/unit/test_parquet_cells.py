"""Decimal cells as the Parquet writer stores them (chalicelib/lake/parquet.py): the vectorised encoding
equals Python's own `int.to_bytes(width, "big", signed=True)`, value for value, NULLs kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chalicelib.lake.parquet import int_cells, optional_cells

EDGES = [0, 1, -1, 255, 256, -256, 2**31, -(2**31), 2**63 - 1, -(2**63), 10**18 - 1, -(10**18 - 1), 123_456_789]


@pytest.mark.parametrize("width", [8, 11, 16])
def test_cells_are_big_endian_twos_complement(width):
    rng = np.random.default_rng(7)
    values = np.array(EDGES + rng.integers(-(2**63), 2**63 - 1, 1000, dtype=np.int64).tolist(), dtype=np.int64)
    cells = int_cells(values, width)
    assert cells.dtype == np.dtype(f"S{width}")
    assert [bytes(c).ljust(width, b"\0") for c in cells] == [int(v).to_bytes(width, "big", signed=True)
                                                            for v in values.tolist()]


def test_narrow_cells_keep_the_low_bytes():
    values = np.array([0, 1, -1, 32767, -32768], dtype=np.int64)
    assert list(int_cells(values, 2)) == [int(v).to_bytes(2, "big", signed=True).rstrip(b"\0") for v in values]


def test_optional_cells_keep_nulls_from_a_nullable_integer_array():
    column = pd.Series(pd.arrays.IntegerArray(np.array([5, 0, -7, 256]), np.array([False, True, False, False])))
    cells = optional_cells(column, 11)
    assert cells.dtype == object and cells[1] is None
    assert [c.ljust(11, b"\0") for c in cells[[0, 2, 3]]] == [v.to_bytes(11, "big", signed=True) for v in (5, -7, 256)]


def test_optional_cells_of_values_wider_than_int64_are_exact():
    wide = 10**23 + 7  # DECIMAL(24,6) holds it, int64 does not
    cells = optional_cells(pd.Series([wide, None, -wide, 3], dtype=object), 11)
    assert cells[1] is None
    assert [cells[i] for i in (0, 2, 3)] == [v.to_bytes(11, "big", signed=True) for v in (wide, -wide, 3)]
