"""Family rules: per family, a vectorized count of the rows (or messages) breaking each rule.

Each function takes a cookbook table of its family (and, for vision, the ClassLabel count when
known) and returns ``{rule: count}``; a valid table gives all zeros. These are blocking: only
invariants that the cookbook's own builders always satisfy are here; the stricter rules are the
family's quality rules (:mod:`.quality`), counted and never dropped silently.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .schemas import LABELS

Counts = dict[str, int]


def _blank(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """True where a string is null or only whitespace."""
    return pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0), True)


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _empty_lists(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.equal(pc.fill_null(pc.list_value_length(column), 0), 0)


def math_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    """Every math builder yields a string answer (possibly empty)."""
    return {"null_answer": _count(pc.is_null(table["answer"]))}


def chat_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    """The chat builders keep every row."""
    return {}


def preference_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    """Label ``A``/``B``/``Tie``; both completions non-empty."""
    return {
        "label_not_A_B_Tie": _count(pc.invert(pc.fill_null(pc.is_in(table["label"], pa.array(LABELS)), False))),
        "completion_a_empty": _count(_empty_lists(table["completion_a"])),
        "completion_b_empty": _count(_empty_lists(table["completion_b"])),
    }


def code_rules(table: pa.Table, num_classes: int | None = None) -> Counts:
    """``load_deepcoder_tasks`` skips rows without tests or a question."""
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
