"""Quality rules: stricter than the cookbook, counted per partition and applied only on request.

Each function takes a cookbook table of its family and returns ``{rule: mask}``, a boolean numpy
mask of the rows breaking each rule (vectorized). ``cookbook/<name>`` keeps the rows the cookbook
keeps; :func:`datasets_pipeline.quality_filter` drops the rows these masks mark.

- math: ``empty_problem`` (null or whitespace-only problem), ``empty_answer`` (whitespace-only
  answer; the cookbook keeps ``""`` from ``#### ,`` or ``\\boxed{}``).
- chat: ``messages_empty``, ``messages_invalid_role`` (a role other than user, assistant, system,
  tool), ``messages_null_content``.
- preference: the same for ``prompt`` and both completions (completions are never empty: that
  is a blocking family rule).
- code: ``functional_without_fn_name`` (a functional test case whose ``fn_name`` is null: the
  cookbook's grader cannot call it).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .schemas import ROLES

Masks = dict[str, np.ndarray]


def _bool(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, True).to_numpy(zero_copy_only=False), dtype=bool)


def _blank(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where a string is null or only whitespace."""
    return _bool(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0))


def _rows_with(flags: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """Rows that hold at least one flagged list element (``rows``: each element's row)."""
    return np.bincount(rows[flags], minlength=n) > 0


def _flat_rows(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The flattened list elements, each element's row, and each row's length."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return pc.list_flatten(column), np.repeat(np.arange(len(column), dtype=np.int64), lengths), lengths


def _messages(column: pa.ChunkedArray, name: str, *, empty: bool = True) -> Masks:
    """Per row: the message list is null/empty, a message's role is unknown, a message has null content."""
    flat, rows, lengths = _flat_rows(column)
    bad_role = ~np.asarray(pc.fill_null(pc.is_in(pc.struct_field(flat, "role"), pa.array(ROLES)), False), dtype=bool)
    null_content = _bool(pc.is_null(pc.struct_field(flat, "content")))
    out = {f"{name}_empty": lengths == 0} if empty else {}
    out[f"{name}_invalid_role"] = _rows_with(bad_role, rows, len(lengths))
    out[f"{name}_null_content"] = _rows_with(null_content, rows, len(lengths))
    return out


def math_quality(table: pa.Table) -> Masks:
    return {"empty_problem": _blank(table["problem"]), "empty_answer": _blank(table["answer"])}


def chat_quality(table: pa.Table) -> Masks:
    return _messages(table["messages"], "messages")


def preference_quality(table: pa.Table) -> Masks:
    out = _messages(table["prompt"], "prompt")
    out |= _messages(table["completion_a"], "completion_a", empty=False)
    out |= _messages(table["completion_b"], "completion_b", empty=False)
    return out


def code_quality(table: pa.Table) -> Masks:
    flat, rows, lengths = _flat_rows(table["tests"])
    functional = pc.equal(pc.struct_field(flat, "testtype"), "functional")
    bad = np.asarray(pc.fill_null(pc.and_(functional, pc.is_null(pc.struct_field(flat, "fn_name"))), False), dtype=bool)
    return {"functional_without_fn_name": _rows_with(bad, rows, len(lengths))}


def no_quality(table: pa.Table) -> Masks:
    return {}
