"""Streaming parser of BLS time-series data files (`<survey>.data.*`), any survey, any size.

`BlsDataReader` yields blocks parsed with numpy from raw bytes (memory: a few blocks);
`value` becomes an exact fixed-point int64 at one scale per block (the reports: at most
`MAX_DIGITS` digits at that scale). With `exact=True` (the silver layer) each value is instead
kept exactly per row as `Block.whole` + `Block.fraction` (up to `EXACT_WHOLE_DIGITS` digits
before the point and `EXACT_DECIMALS` after, no block-level scale).
A line holding a NUL byte or bytes that are not UTF-8, or an empty or over-long (> 8 bytes)
period, is malformed (counted, sampled with its line number, left out), never altered. Non-numeric values are
counted in `invalid_values` and their rows kept with `value_ok == False`; malformed lines are
counted and left out; a missing required column is a `SourceError`. `footnote_codes` is
skipped unless `footnotes=True` (the silver layer, `chalicelib.lake`, keeps it as raw bytes in
`Block.footnotes`). Format and rules: see docs/reports.md ("Reading BLS data files").
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING

from chalicelib.bls import field_kernels as kernels
from chalicelib.bls.field_kernels import EXACT_DECIMALS, MAX_FIELD
from chalicelib.bls.periods import period_name
from chalicelib.core.errors import SourceError

if TYPE_CHECKING:  # numpy is imported lazily: only code that parses data files needs it
    from concurrent.futures import Future

    import numpy as np

REQUIRED_COLUMNS = ("series_id", "year", "period", "value")
BLOCK_SIZE = 4 * 1024 * 1024
SAMPLES = 5  # examples kept of each kind of bad input


@dataclass
class Block:
    """One block of parsed rows: parallel numpy arrays, one element per data line."""

    series: np.ndarray  # int32: index into `BlsDataReader.series_names`
    year: np.ndarray  # int32
    period: np.ndarray  # uint64: `periods.period_code` of the trimmed period
    value: np.ndarray  # int64: value * 10**scale (0 where not value_ok)
    value_ok: np.ndarray  # bool: the value is a number
    scale: int  # decimals of `value`
    first_line: int  # 1-based line number in the file of the block's first line
    footnotes: np.ndarray | None = None  # (rows, width) uint8 of footnote_codes, 0-padded (footnotes=True)
    whole: np.ndarray | None = None  # exact=True: int64 digits before the point (signed) ...
    fraction: np.ndarray | None = None  # ... and int64 millionths (same sign): value = whole + fraction / 10**6

    def __len__(self) -> int:
        return len(self.year)


@dataclass
class ParseStats:
    """What the reader met on the way: counts and the first examples of bad input."""

    rows: int = 0
    invalid_values: int = 0
    invalid_value_samples: list[dict[str, object]] = field(default_factory=list)
    malformed_lines: int = 0
    malformed_line_samples: list[dict[str, object]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class BlsDataReader:
    """Iterate over a BLS data file (binary stream) as `Block`s; see the module docstring.

    `series_names[i]` is the trimmed id of series number i (in order of first
    appearance); `series_index` maps it back. `stats` fills in while iterating.
    """

    def __init__(
        self, stream: IO[bytes], *, source: str = "data file", block_size: int = BLOCK_SIZE, workers: int | None = None,
        footnotes: bool = False, exact: bool = False,
    ) -> None:
        self.stream = stream
        self.source = source
        self.block_size = block_size
        # numpy releases the GIL in its loops, so blocks parse in parallel in threads.
        self.workers = workers if workers is not None else max(1, min(4, os.cpu_count() or 1))
        self.columns: list[str] = []
        self.series_names: list[str] = []
        self.series_index: dict[str, int] = {}
        self.stats = ParseStats()
        self._positions: dict[str, int] = {}
        self._footnotes = footnotes
        self._footnote_position: int | None = None
        self._exact = exact
        self._next_line = 2  # line 1 is the header

    # ------------------------------------------------------------------ reading
    def __iter__(self) -> Iterator[Block]:
        if self.workers == 1:
            for raw in self._raw_blocks():
                yield from self._finish(self._parse(*raw))
            return
        from concurrent.futures import ThreadPoolExecutor

        in_flight: deque[Future[_Parsed | None]] = deque()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="bls-parse") as pool:
            try:
                for raw in self._raw_blocks():
                    in_flight.append(pool.submit(self._parse, *raw))
                    if len(in_flight) > self.workers:  # bounded read-ahead: memory stays a few blocks
                        yield from self._finish(in_flight.popleft().result())
                while in_flight:
                    yield from self._finish(in_flight.popleft().result())
            finally:
                for future in in_flight:
                    future.cancel()

    def _raw_blocks(self) -> Iterator[tuple[bytes, int]]:
        """(bytes, length of the complete lines in them) per block."""
        pending = self._read_header()
        eof = False
        while not eof:
            data = self.stream.read(self.block_size)
            if not data:
                eof = True
            if pending:
                data = pending + data
                pending = b""
            if eof:
                if not data:
                    break
                if not data.endswith(b"\n"):
                    data += b"\n"
                cut = len(data)
            else:
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # no line end yet: a very long line, keep reading
                    pending = data
                    continue
                pending = data[cut:]
            yield data, cut

    def _read_header(self) -> bytes:
        """Read and check the header line; return what was read past it."""
        data = b""
        while b"\n" not in data:
            chunk = self.stream.read(64 * 1024)
            if not chunk:
                break
            data += chunk
            if len(data) > 1024 * 1024:
                raise SourceError(f"{self.source}: no line end in the first MiB; not a BLS data file")
        line, _, rest = data.partition(b"\n")
        text = line.decode("utf-8-sig", "replace").rstrip("\r")
        if not text.strip():
            raise SourceError(f"{self.source}: empty file (no header line); expected columns {list(REQUIRED_COLUMNS)}")
        self.columns = [name.strip() for name in text.split("\t")]
        lowered = [name.lower() for name in self.columns]
        missing = [name for name in REQUIRED_COLUMNS if name not in lowered]
        if missing:
            raise SourceError(
                f"{self.source}: required column(s) {', '.join(missing)} missing; "
                f"the header has {self.columns} (tab-separated)"
            )
        for name in REQUIRED_COLUMNS:
            if lowered.count(name) > 1:
                raise SourceError(f"{self.source}: column {name} appears twice in the header {self.columns}")
            self._positions[name] = lowered.index(name)
        if self._footnotes and lowered.count("footnote_codes") == 1:
            self._footnote_position = lowered.index("footnote_codes")
        return rest

    def _finish(self, parsed: _Parsed | None) -> Iterator[Block]:
        """In file order: number the series, merge the counts, hand out the block."""
        import numpy as np

        if parsed is None:
            return
        # Line numbers in the block are relative to its first line: make them the file's.
        first_line, self._next_line = self._next_line, self._next_line + parsed.n_lines
        for sample in (*parsed.stats.invalid_value_samples, *parsed.stats.malformed_line_samples):
            sample["line"] = int(sample["line"]) + first_line  # type: ignore[call-overload]
        stats = self.stats
        stats.rows += parsed.stats.rows
        stats.invalid_values += parsed.stats.invalid_values
        stats.malformed_lines += parsed.stats.malformed_lines
        for mine, theirs in (
            (stats.invalid_value_samples, parsed.stats.invalid_value_samples),
            (stats.malformed_line_samples, parsed.stats.malformed_line_samples),
        ):
            mine.extend(theirs[: max(0, SAMPLES - len(mine))])
        if not len(parsed.year):
            return
        index = self.series_index
        codes = np.empty(len(parsed.run_names), dtype=np.int32)
        for k, name in enumerate(parsed.run_names):
            code = index.get(name)
            if code is None:
                code = index[name] = len(self.series_names)
                self.series_names.append(name)
            codes[k] = code
        series = np.repeat(codes, parsed.run_lengths)
        yield Block(series, parsed.year, parsed.period, parsed.value, parsed.value_ok, parsed.scale, first_line,
                    parsed.footnotes, parsed.whole, parsed.fraction)

    # ------------------------------------------------------------------ parsing (thread-safe: no shared state)
    def _parse(self, data: bytes, cut: int) -> _Parsed | None:
        """Parse the complete lines data[:cut] (line numbers relative to the first, from 0)."""
        import numpy as np

        buf = np.frombuffer(data, dtype=np.uint8, count=cut)
        stats = ParseStats()
        lines = _line_bounds(buf)
        if lines is None:
            return None
        starts, ends, newlines = lines
        n_lines = len(newlines)
        line_numbers = np.arange(n_lines)
        fields = self._fixed_layout_fields(data, buf, starts, ends)
        if fields is None:
            fields, starts, ends, line_numbers = self._split_fields(buf, starts, ends, newlines, line_numbers, stats)
        if fields is not None and self._footnote_position is not None:
            fields["footnote_codes"] = _column(data, cut, starts, ends, self._footnote_position, len(self.columns))
        bad_text = _bad_text_lines(buf, starts, ends, newlines)
        rows = None if fields is None else _well_formed_rows(buf, starts, ends, fields, line_numbers, stats, bad_text)
        if rows is None:
            return _Parsed.empty(stats, n_lines)
        return _parsed_rows(rows, n_lines, stats, self._exact)

    def _fixed_layout_fields(
        self, data: bytes, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> dict[str, np.ndarray] | None:
        """The usual case, fast: every line has its tabs at the same offsets as the first line.

        Then one copy of each line's first bytes holds all the needed fields at fixed columns.
        None if the block is not like that (the general path handles it).
        """
        import numpy as np

        first = data[: int(ends[0])]
        offsets = [i for i, byte in enumerate(first) if byte == 9]
        n_tabs = len(self.columns) - 1
        if len(offsets) != n_tabs or any(p == n_tabs for p in self._positions.values()):
            return None  # a needed column is the last one (its end varies), or the first line is odd
        width = max(offsets[p] for p in self._positions.values()) + 1
        if n_tabs and offsets[-1] + 1 > width:
            width = offsets[-1] + 1  # cover every tab, so the count check below proves the layout
        if int((ends - starts).min()) < width:
            return None
        matrix = kernels.gather(buf, starts, starts + width, width)
        if not (matrix[:, offsets] == 9).all():
            return None
        if np.count_nonzero(buf == 9) != n_tabs * len(starts):
            return None  # some line has extra tabs after the fixed part
        bounds = [0] + [o + 1 for o in offsets]
        return {name: matrix[:, bounds[j] : offsets[j]] for name, j in self._positions.items()}

    def _split_fields(
        self,
        buf: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        newlines: np.ndarray,
        line_numbers: np.ndarray,
        stats: ParseStats,
    ) -> tuple[dict[str, np.ndarray] | None, np.ndarray, np.ndarray, np.ndarray]:
        """The general case: find every line's tabs, drop lines with the wrong number of fields."""
        import numpy as np

        n_fields = len(self.columns)
        tabs = np.flatnonzero(buf == 9)
        # Fields have different lengths: `_gather` reads whole items, so it may read past the last one.
        buf = np.frombuffer(bytes(buf) + bytes(MAX_FIELD), dtype=np.uint8)[: len(buf)]
        if not _one_row_per_line(tabs, starts, newlines, n_fields - 1):
            tab_line = np.searchsorted(newlines, tabs)
            good = np.bincount(tab_line, minlength=len(starts)) == n_fields - 1
            for i in np.flatnonzero(~good).tolist():
                text = bytes(buf[starts[i] : ends[i]])
                if text.strip():  # blank lines are skipped silently
                    stats.malformed_lines += 1
                    _sample(stats.malformed_line_samples, {
                        "line": int(line_numbers[i]),
                        "reason": f"{text.count(b'\t') + 1} fields, expected {n_fields}",
                        "text": text[:200].decode("utf-8", "replace"),
                    })
            tabs = tabs[good[tab_line]]
            starts, ends, line_numbers = starts[good], ends[good], line_numbers[good]
        n = len(starts)
        if n == 0:
            return None, starts, ends, line_numbers
        tabs = tabs.reshape(n, n_fields - 1) if n_fields > 1 else np.empty((n, 0), dtype=np.int64)
        fields = {}
        for name, j in self._positions.items():
            lo = starts if j == 0 else tabs[:, j - 1] + 1
            hi = ends if j == n_fields - 1 else tabs[:, j]
            fields[name] = kernels.gather(buf, lo, hi, max(1, int((hi - lo).max())))
        return fields, starts, ends, line_numbers


@dataclass
class _Parsed:
    """A block parsed in a worker thread, before its series are numbered in file order."""

    year: np.ndarray
    period: np.ndarray
    value: np.ndarray
    value_ok: np.ndarray
    scale: int
    n_lines: int
    run_names: list[str]
    run_lengths: np.ndarray
    stats: ParseStats
    footnotes: np.ndarray | None = None
    whole: np.ndarray | None = None
    fraction: np.ndarray | None = None

    @classmethod
    def empty(cls, stats: ParseStats, n_lines: int) -> _Parsed:
        import numpy as np

        nothing = np.empty(0, dtype=np.int64)
        return cls(nothing, nothing, nothing, nothing.astype(bool), 0, n_lines, [], nothing, stats, None,
                   nothing, nothing)


def _line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(starts, ends without CR, newline offsets) of the complete lines in buf; None if there are none."""
    import numpy as np

    newlines = np.flatnonzero(buf == 10)
    if len(newlines) == 0:
        return None
    starts = np.empty(len(newlines), dtype=np.int64)
    starts[0] = 0
    starts[1:] = newlines[:-1] + 1
    ends = newlines - (buf[np.maximum(newlines - 1, 0)] == 13)  # drop the CR of CRLF
    return starts, np.maximum(ends, starts), newlines


@dataclass(frozen=True)
class _Rows:
    """The well-formed rows of a block: their fields, four-digit years and line numbers."""

    fields: dict[str, np.ndarray]
    year: np.ndarray
    period: np.ndarray  # `_periods` of the period field (never 0 here)
    line_numbers: np.ndarray
    series_words: list[np.ndarray]  # `_words` of the series_id field


def _well_formed_rows(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    fields: dict[str, np.ndarray],
    line_numbers: np.ndarray,
    stats: ParseStats,
    bad_text: dict[int, str] | None = None,
) -> _Rows | None:
    """The rows with a four-digit year, a series id, a period of 1-8 bytes and clean text (UTF-8, no
    NUL; `bad_text`: line index in the block -> reason); the others counted and sampled; None if none."""
    import numpy as np

    year, year_ok = kernels.years(fields["year"])
    series_words = kernels.words(fields["series_id"])
    period = kernels.periods(fields["period"])
    series_ok = kernels.any_of((words & kernels.NOT_BLANK) != 0 for words in series_words)
    keep = year_ok & series_ok & (period != 0)
    if bad_text:
        keep &= ~np.isin(line_numbers, np.fromiter(bad_text, dtype=np.int64))
    if keep.all():
        return _Rows(fields, year, period, line_numbers, series_words)
    stats.malformed_lines += int((~keep).sum())
    for i in np.flatnonzero(~keep)[:SAMPLES].tolist():
        line = int(line_numbers[i])
        if bad_text and line in bad_text:
            reason = bad_text[line]
        elif not year_ok[i]:
            reason = "year is not four digits"
        elif not series_ok[i]:
            reason = "series_id is empty"
        else:
            reason = "period is empty or longer than 8 bytes"
        _sample(stats.malformed_line_samples, {
            "line": line, "reason": reason,
            "text": bytes(buf[starts[i] : ends[i]])[:200].decode("utf-8", "backslashreplace"),
        })
    if not keep.any():
        return None
    return _Rows({name: matrix[keep] for name, matrix in fields.items()}, year[keep], period[keep],
                 line_numbers[keep], [words[keep] for words in series_words])


def _bad_text_lines(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, newlines: np.ndarray) -> dict[int, str]:
    """Lines (index in the block) holding a NUL byte or bytes that are not UTF-8, with the reason.

    One pass finds bytes that are 0 or >= 0x80 (none in the usual ASCII file); only lines with
    such bytes are decoded.
    """
    import numpy as np

    suspect = np.flatnonzero((buf - np.uint8(1)) >= 0x7F)  # uint8: 0 wraps to 255; 0x80.. stay >= 0x7F
    if not len(suspect):
        return {}
    bad: dict[int, str] = {}
    for i in np.unique(np.searchsorted(newlines, suspect)).tolist():
        if i >= len(starts):
            continue
        text = bytes(buf[starts[i] : ends[i]])
        if b"\0" in text:
            bad[i] = "NUL byte in the line"
            continue
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as error:
            bad[i] = f"not UTF-8 (byte {text[error.start]:#04x} at column {error.start + 1})"
    return bad


def _parsed_rows(rows: _Rows, n_lines: int, stats: ParseStats, exact: bool = False) -> _Parsed:
    """Series runs, periods and exact values of the rows (invalid values counted and sampled)."""
    import numpy as np

    n = len(rows.year)
    series_matrix = rows.fields["series_id"]
    # Runs of rows with the same raw series bytes; each run's name is decoded once.
    change = np.empty(n, dtype=bool)
    change[0] = True
    change[1:] = kernels.any_of(words[1:] != words[:-1] for words in rows.series_words)
    heads = np.flatnonzero(change)
    run_names = [kernels.text(series_matrix[h]) for h in heads.tolist()]
    run_lengths = np.diff(np.append(heads, n))
    period = rows.period
    whole = fraction = None
    if exact:
        whole, fraction, value_ok = kernels.exact_values(rows.fields["value"])
        value, scale = fraction, EXACT_DECIMALS
    else:
        value, value_ok, scale = kernels.values(rows.fields["value"])
    if not value_ok.all():
        bad = np.flatnonzero(~value_ok)
        stats.invalid_values += len(bad)
        for i in bad[:SAMPLES].tolist():
            _sample(stats.invalid_value_samples, {
                "line": int(rows.line_numbers[i]),
                "series_id": kernels.text(series_matrix[i]),
                "year": int(rows.year[i]),
                "period": period_name(period[i]),
                "value": kernels.text(rows.fields["value"][i]),
            })
    stats.rows += n
    return _Parsed(rows.year, period, value, value_ok, scale, n_lines, run_names, run_lengths, stats,
                   rows.fields.get("footnote_codes"), whole, fraction)


def _column(data: bytes, cut: int, starts: np.ndarray, ends: np.ndarray, j: int, n_fields: int) -> np.ndarray:
    """Field `j` of every line data[starts:ends] (lines with exactly n_fields - 1 tabs) as a byte matrix."""
    import numpy as np

    buf = np.frombuffer(data[:cut] + bytes(MAX_FIELD), dtype=np.uint8)[:cut]  # padded: see `_gather`
    first = data[int(starts[0]) : int(ends[0])]
    offsets = np.array([i for i, byte in enumerate(first) if byte == 9], dtype=np.int64)
    fits = len(offsets) == n_fields - 1 and (not len(offsets) or bool(((ends - starts) > offsets[-1]).all()))
    if fits and all((buf[starts + o] == 9).all() for o in offsets.tolist()):
        tabs = starts[:, None] + offsets  # the usual layout: every line has its tabs where the first has them
    else:
        every = np.flatnonzero(buf == 9)
        tabs = every[np.searchsorted(every, starts)[:, None] + np.arange(n_fields - 1)]
    lo = starts if j == 0 else tabs[:, j - 1] + 1
    hi = ends if j == n_fields - 1 else tabs[:, j]
    return kernels.gather(buf, lo, hi, max(1, int((hi - lo).max())) if len(lo) else 1)


def _sample(samples: list[dict[str, object]], sample: dict[str, object]) -> None:
    if len(samples) < SAMPLES:
        samples.append(sample)


# ---------------------------------------------------------------------- vectorised helpers


def _one_row_per_line(tabs: np.ndarray, starts: np.ndarray, newlines: np.ndarray, per_line: int) -> bool:
    """True if every line has exactly `per_line` tabs (O(lines), no search).

    Tabs are sorted; if there are lines * per_line of them and each consecutive group of
    `per_line` lies within its own line, no line can have more or fewer.
    """
    if len(tabs) != len(starts) * per_line:
        return False
    if per_line == 0:
        return True
    grouped = tabs.reshape(len(starts), per_line)
    return bool((grouped[:, 0] >= starts).all() and (grouped[:, -1] < newlines).all())
