"""Family rules: per family, a vectorized count of the rows (or messages) breaking each rule.

Each function takes a cookbook table of its family (and, for vision, the ClassLabel count when
known) and returns ``{rule: count}``; a valid table gives all zeros.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .schemas import LABELS, ROLES

Counts = dict[str, int]


def _blank(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """True where a string is null or only whitespace."""
    return pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0), True)


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _messages(messages: pa.ChunkedArray, name: str) -> Counts:
    """``<name>_empty`` rows, and messages with an unknown role or null content."""
    lengths = pc.fill_null(pc.list_value_length(messages), 0)
    flat = pc.list_flatten(messages)
    roles = pc.struct_field(flat, "role")
    return {
        f"{name}_empty": _count(pc.equal(lengths, 0)),
        f"{name}_invalid_role": _count(pc.invert(pc.fill_null(pc.is_in(roles, pa.array(ROLES)), False))),
        f"{name}_null_content": _count(pc.is_null(pc.struct_field(flat, "content"))),
    }


def math_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    return {"empty_problem": _count(_blank(table["problem"])), "empty_answer": _count(_blank(table["answer"]))}


def chat_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    return _messages(table["messages"], "messages")


def preference_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    out = {"label_not_A_B_Tie": _count(pc.invert(pc.fill_null(pc.is_in(table["label"], pa.array(LABELS)), False)))}
    for column in ("prompt", "completion_a", "completion_b"):
        out |= _messages(table[column], column)
    return out


def code_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    tests = pc.fill_null(pc.list_value_length(table["tests"]), 0)
    return {"empty_problem": _count(_blank(table["problem"])), "no_tests": _count(pc.equal(tests, 0))}


def vision_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    """``label`` in ``[0, num_classes)`` (only ``>= 0`` when the count is unknown); image bytes present."""
    label = table["label"]
    bad = pc.fill_null(pc.less(label, 0), True)
    if num_classes is not None:
        bad = pc.or_(bad, pc.fill_null(pc.greater_equal(label, num_classes), True))
    no_bytes = pc.is_null(pc.struct_field(table["image"], "bytes"))
    return {"label_out_of_range": _count(bad), "image_without_bytes": _count(no_bytes)}


def mcq_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    n_choices = pc.fill_null(pc.list_value_length(table["choices"]), 0)
    answer = table["answer"]
    bad = pc.fill_null(pc.or_(pc.less(answer, 0), pc.greater_equal(answer, n_choices)), True)
    return {"empty_question": _count(_blank(table["question"])), "answer_not_a_choice": _count(bad)}


def humaneval_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    return {f"empty_{n}": _count(_blank(table[n])) for n in ("task_id", "prompt", "test", "entry_point")}
