"""Math converters: GSM8K, MATH (hendrycks, MATH-500), DeepMath, Polaris → ``problem, answer, solution, subject, level``.

Answer rules follow the cookbook's math environments:

- GSM8K: the last line that starts (after whitespace) with ``####``; the text after it is stripped,
  loses an optional leading ``:`` and every comma. Without such a line the last match of
  ``####\\s*(.+)`` is used as-is (stripped). ``solution`` is the full answer text.
- MATH: the content of the last-closing brace-matched ``\\boxed{…}`` of the solution, else the
  first brace-less ``\\boxed 2``. Like the cookbook's ``extract_boxed``, a ``}`` that closes
  nothing makes the solution unreadable (``unmatched_close_brace``), even after a box.
- DeepMath ``question``/``final_answer``, Polaris ``problem``/``answer`` as they are.

Rows are dropped only where the cookbook's builder drops them, each counted once under the
first reason: ``no_final_answer`` (GSM8K: ``extract_gsm8k_final_answer`` raises),
``unmatched_close_brace`` / ``no_boxed_answer`` (MATH: ``extract_boxed`` raises), and for
DeepMath/Polaris ``empty_problem`` / ``empty_answer`` where the value is null or ``""`` (the
builders' ``if not (problem and answer)``; a whitespace-only value is truthy and kept). An empty
GSM8K answer (``####``, ``#### ,``), an empty ``\\boxed{}`` and blank problems are kept as the
cookbook keeps them; the stricter rules are the math family's quality rules.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .common import conform, require_columns
from .context import ConvertContext, Converted, FunctionConverter
from .messages import apply_drops, as_array, bounded, is_text, kept_rows, to_numpy_bool

VERSION = "2"

# --- columns ----------------------------------------------------------------------------------


def _text(table: pa.Table, name: str) -> pa.Array:
    return as_array(table.column(name)).cast(pa.string())


def _optional_text(table: pa.Table, name: str) -> pa.Array:
    """``name`` as strings, or all nulls when the raw table has no such column."""
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return _text(table, name)


def parse_level(column: pa.Array | pa.ChunkedArray | None, n: int) -> pa.Array:
    """``level`` as int64: integers as they are; strings like ``"Level 5"`` or ``"5"`` → 5, others null."""
    if column is None:
        return pa.nulls(n, pa.int64())
    column = as_array(column)
    if pa.types.is_integer(column.type):
        return column.cast(pa.int64())
    if not is_text(column.type):
        return pa.nulls(n, pa.int64())
    digits = pc.struct_field(
        pc.extract_regex(column.cast(pa.string()), r"^\s*(?i:level)?\s*(?P<n>[0-9]{1,18})\s*$"), "n"
    )
    return digits.cast(pa.int64())


def _falsy(arr: pa.Array) -> np.ndarray:
    """Python truthiness of a string column: null or ``""`` (whitespace is truthy)."""
    return to_numpy_bool(pc.equal(pc.binary_length(arr), 0), null=True)


def _finish(
    ctx: ConvertContext,
    problem: pa.Array,
    answer: pa.Array,
    solution: pa.Array,
    subject: pa.Array,
    level: pa.Array,
    checks: list[tuple[str, np.ndarray]],
) -> Converted:
    n = len(problem)
    keep, dropped = apply_drops(n, checks)
    table = pa.table(
        {"problem": problem, "answer": answer, "solution": solution, "subject": subject, "level": level}
    )
    if not keep.all():
        table = table.filter(pa.array(keep))
    return Converted(conform(table, "math", ctx), dropped, kept_rows(keep))


# --- GSM8K -----------------------------------------------------------------------------------

# Python's str.splitlines() boundaries, mapped to "\n" before matching lines.
_LINE_BREAKS = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"
# The last line whose stripped text starts with "####": greedy prefix up to that line's start.
_GSM8K_LINE = r"(?s)\A(?:.*\n)?[\t \x1f\p{Zs}]*####(?P<a>[^\n]*)"
_GSM8K_FALLBACK = re.compile(r"####\s*(.+)")


def gsm8k_final_answer(answers: pa.Array) -> pa.Array:
    """The GSM8K final answer of each answer text (null when there is none).

    Vectorized for the regular form; only rows with ``####`` but no ``####`` line go through the
    fallback regex one by one (Python's ``re.findall`` semantics; such rows are malformed and rare).
    """
    answers = as_array(answers).cast(pa.string())
    normalized = pc.replace_substring_regex(answers, _LINE_BREAKS, "\n")
    tail = pc.struct_field(pc.extract_regex(normalized, _GSM8K_LINE), "a")
    tail = pc.utf8_trim_whitespace(tail)
    tail = pc.utf8_trim_whitespace(pc.replace_substring_regex(tail, r"\A:", "", max_replacements=1))
    final = pc.utf8_trim_whitespace(pc.replace_substring(tail, ",", ""))
    fallback = to_numpy_bool(pc.is_null(final)) & to_numpy_bool(pc.match_substring(answers, "####"))
    if not fallback.any():
        return final
    values = []
    for text in answers.filter(pa.array(fallback)).to_pylist():  # malformed rows only
        matches = _GSM8K_FALLBACK.findall(text)
        values.append(matches[-1].strip() if matches else None)
    return pc.replace_with_mask(final, pa.array(fallback), pa.array(values, pa.string()))


def convert_gsm8k(table: pa.Table, ctx: ConvertContext) -> Converted:
    """GSM8K ``question``/``answer`` → problem, final answer, full answer text as solution."""
    require_columns(table, GSM8K_COLUMNS, ctx)
    problem, text = _text(table, "question"), _text(table, "answer")
    answer = gsm8k_final_answer(text)
    n = table.num_rows
    no_answer = to_numpy_bool(pc.is_null(answer))
    return _finish(
        ctx, problem, answer, text, pa.nulls(n, pa.string()), pa.nulls(n, pa.int64()),
        [("no_final_answer", no_answer)],
    )


# --- MATH: \boxed{…} -------------------------------------------------------------------------

_BOXED = np.frombuffer(b"\\boxed", dtype=np.uint8)
_OPEN, _CLOSE = ord("{"), ord("}")
# The cookbook's brace-less fallback `\boxed\s+([a-zA-Z0-9]+)`, with Python's \s.
_BARE_BOXED = r"\\boxed[\s\x0b\x1c-\x1f\x{85}\p{Z}]+(?P<a>[a-zA-Z0-9]+)"


def _string_layout(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Byte offsets (n + 1, int64) and the UTF-8 data buffer of a string array."""
    arr = arr.cast(pa.large_string())
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def _slices(n: int, rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, data: np.ndarray) -> pa.Array:
    """A string array with ``data[starts:ends]`` at ``rows`` and null elsewhere (gathered with numpy)."""
    lengths = np.zeros(n, dtype=np.int64)
    lengths[rows] = ends - starts
    begin = np.zeros(n, dtype=np.int64)
    begin[rows] = starts
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    index = np.arange(offsets[-1], dtype=np.int64) + np.repeat(begin - offsets[:-1], lengths)
    valid = np.zeros(n, dtype=bool)
    valid[rows] = True
    out = pa.Array.from_buffers(
        pa.large_string(),
        n,
        [pa.py_buffer(np.packbits(valid, bitorder="little")), pa.py_buffer(offsets), pa.py_buffer(data[index])],
    )
    return out.cast(pa.string())


def last_boxed(solutions: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The cookbook's ``extract_boxed`` over a column: (answers or null, rows with an unmatched ``}``).

    Braces are matched over the UTF-8 bytes with numpy: per-row cumulative depth, then each ``{``
    paired with the next ``}`` of the same row and depth (a lexsort by row, depth, position). Of the
    pairs whose ``{`` follows ``\\boxed``, the one that closes last wins. Rows without one use the
    first brace-less ``\\boxed 2``. Rows with a ``}`` that closes nothing get no answer.
    """
    solutions = as_array(solutions).cast(pa.string())
    n = len(solutions)
    if n == 0:
        return pa.array([], pa.string()), np.zeros(0, dtype=bool)
    offsets, data = _string_layout(solutions)
    segment = data[offsets[0] : offsets[-1]]
    pos = np.flatnonzero((segment == _OPEN) | (segment == _CLOSE)) + offsets[0]
    opens = data[pos] == _OPEN
    row = np.searchsorted(offsets, pos, side="right") - 1
    step = np.where(opens, 1, -1).astype(np.int64)
    running = np.cumsum(step)
    first = np.searchsorted(row, row, side="left")
    depth = running - (running[first] - step[first])  # depth after each brace, per row
    valid = ~to_numpy_bool(pc.is_null(solutions))
    unmatched = np.zeros(n, dtype=bool)
    unmatched[row[depth < 0]] = True
    unmatched &= valid

    level = depth - opens  # an open brace's depth before it equals its closing brace's depth after
    order = np.lexsort((pos, level, row))
    s_open, s_row, s_level, s_pos = opens[order], row[order], level[order], pos[order]
    pair = s_open[:-1] & ~s_open[1:] & (s_row[:-1] == s_row[1:]) & (s_level[:-1] == s_level[1:])
    open_pos, close_pos, pair_row = s_pos[:-1][pair], s_pos[1:][pair], s_row[:-1][pair]

    k = len(_BOXED)
    after_prefix = open_pos - k >= offsets[pair_row]
    window = np.clip(open_pos[:, None] - k + np.arange(k), 0, None)
    boxed = after_prefix & (data[window] == _BOXED).all(axis=1) & valid[pair_row] & ~unmatched[pair_row]
    open_pos, close_pos, pair_row = open_pos[boxed], close_pos[boxed], pair_row[boxed]
    by_close = np.lexsort((close_pos, pair_row))
    last = np.ones(len(by_close), dtype=bool)
    last[:-1] = pair_row[by_close][1:] != pair_row[by_close][:-1]
    chosen = by_close[last]
    answers = _slices(n, pair_row[chosen], open_pos[chosen] + 1, close_pos[chosen], data)

    has_braced = np.zeros(n, dtype=bool)
    has_braced[pair_row[chosen]] = True
    bare = pc.struct_field(pc.extract_regex(solutions, _BARE_BOXED), "a")
    use_bare = pa.array(~has_braced & ~unmatched)
    answers = pc.if_else(use_bare, bare, answers)
    return answers, unmatched


def _convert_boxed(table: pa.Table, ctx: ConvertContext, subject_column: str) -> Converted:
    require_columns(table, MATH_COLUMNS, ctx)
    problem, solution = _text(table, "problem"), _text(table, "solution")
    answer, unmatched = last_boxed(solution)
    level = parse_level(table.column("level") if "level" in table.column_names else None, table.num_rows)
    no_box = to_numpy_bool(pc.is_null(answer))
    return _finish(
        ctx, problem, answer, solution, _optional_text(table, subject_column), level,
        [("unmatched_close_brace", unmatched), ("no_boxed_answer", no_box)],
    )


def convert_hendrycks_math(table: pa.Table, ctx: ConvertContext) -> Converted:
    """EleutherAI/hendrycks_math: answer from the solution's last box, subject from ``type``, ``"Level 5"`` → 5."""
    return _convert_boxed(table, ctx, "type")


def convert_math500(table: pa.Table, ctx: ConvertContext) -> Converted:
    """MATH-500: answer from the solution's last box (not the ``answer`` column), ``subject``, int ``level``."""
    return _convert_boxed(table, ctx, "subject")


# --- DeepMath, Polaris -----------------------------------------------------------------------


def convert_deepmath(table: pa.Table, ctx: ConvertContext) -> Converted:
    """DeepMath-103K ``question``/``final_answer``; subject from ``topic``; no solution or level."""
    require_columns(table, DEEPMATH_COLUMNS, ctx)
    n = table.num_rows
    problem, answer = _text(table, "question"), _text(table, "final_answer")
    return _finish(
        ctx, problem, answer, pa.nulls(n, pa.string()),
        _optional_text(table, "topic"), pa.nulls(n, pa.int64()),
        [("empty_problem", _falsy(problem)), ("empty_answer", _falsy(answer))],
    )


def convert_polaris(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Polaris-53K ``problem``/``answer`` as they are; no solution, subject or level."""
    require_columns(table, POLARIS_COLUMNS, ctx)
    n = table.num_rows
    problem, answer = _text(table, "problem"), _text(table, "answer")
    return _finish(
        ctx, problem, answer, pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), pa.nulls(n, pa.int64()),
        [("empty_problem", _falsy(problem)), ("empty_answer", _falsy(answer))],
    )


GSM8K_COLUMNS = ("question", "answer")
MATH_COLUMNS = ("problem", "solution")
DEEPMATH_COLUMNS = ("question", "final_answer")
POLARIS_COLUMNS = ("problem", "answer")

GSM8K = FunctionConverter(bounded(convert_gsm8k), version=VERSION, required_columns=GSM8K_COLUMNS)
HENDRYCKS_MATH = FunctionConverter(
    bounded(convert_hendrycks_math),
    version=VERSION,
    required_columns=MATH_COLUMNS,
)
MATH500 = FunctionConverter(bounded(convert_math500), version=VERSION, required_columns=MATH_COLUMNS)
DEEPMATH = FunctionConverter(bounded(convert_deepmath), version=VERSION, required_columns=DEEPMATH_COLUMNS)
POLARIS = FunctionConverter(bounded(convert_polaris), version=VERSION, required_columns=POLARIS_COLUMNS)
