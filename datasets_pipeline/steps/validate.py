"""Family rules that every cookbook row must satisfy, counted vectorized."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

ROLES = ("user", "assistant", "system", "tool")
LABELS = ("A", "B", "Tie")


def num_classes(schema: pa.Schema, column: str = "label") -> int | None:
    """Number of ClassLabel names of ``column`` in the schema's ``huggingface`` features metadata."""
    raw = (schema.metadata or {}).get(b"huggingface")
    if not raw:
        return None
    feature = json.loads(raw).get("info", {}).get("features", {}).get(column)
    names = feature.get("names") if isinstance(feature, dict) else None
    return len(names) if names else None


def _blank(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """True where a string is null or only whitespace."""
    return pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0), True)


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _messages_problems(messages: pa.ChunkedArray, name: str, *, allow_empty: bool = False) -> dict[str, int]:
    out: dict[str, int] = {}
    lengths = pc.fill_null(pc.list_value_length(messages), 0)
    if not allow_empty:
        out[f"{name}_empty"] = _count(pc.equal(lengths, 0))
    flat = pc.list_flatten(messages)
    roles = pc.struct_field(flat, "role")
    out[f"{name}_invalid_role"] = _count(pc.invert(pc.fill_null(pc.is_in(roles, pa.array(ROLES)), False)))
    out[f"{name}_null_content"] = _count(pc.is_null(pc.struct_field(flat, "content")))
    return out


def family_violations(table: pa.Table, family: str, num_classes: int | None = None) -> dict[str, int]:
    """Rule → number of rows (or messages) breaking it; all zeros for a valid table."""
    c = table.column
    if family == "math":
        return {"empty_problem": _count(_blank(c("problem"))), "empty_answer": _count(_blank(c("answer")))}
    if family == "chat":
        return _messages_problems(c("messages"), "messages")
    if family == "preference":
        out = {"label_not_A_B_Tie": _count(pc.invert(pc.fill_null(pc.is_in(c("label"), pa.array(LABELS)), False)))}
        out |= _messages_problems(c("prompt"), "prompt")
        out |= _messages_problems(c("completion_a"), "completion_a")
        out |= _messages_problems(c("completion_b"), "completion_b")
        return out
    if family == "code":
        tests = pc.fill_null(pc.list_value_length(c("tests")), 0)
        return {"empty_problem": _count(_blank(c("problem"))), "no_tests": _count(pc.equal(tests, 0))}
    if family == "vision":
        label = c("label")
        bad = pc.fill_null(pc.less(label, 0), True)
        if num_classes is not None:
            bad = pc.or_(bad, pc.fill_null(pc.greater_equal(label, num_classes), True))
        no_bytes = pc.is_null(pc.struct_field(c("image"), "bytes"))
        return {"label_out_of_range": _count(bad), "image_without_bytes": _count(no_bytes)}
    if family == "mcq":
        n_choices = pc.fill_null(pc.list_value_length(c("choices")), 0)
        answer = c("answer")
        bad = pc.fill_null(pc.or_(pc.less(answer, 0), pc.greater_equal(answer, n_choices)), True)
        return {"empty_question": _count(_blank(c("question"))), "answer_not_a_choice": _count(bad)}
    if family == "humaneval":
        return {f"empty_{n}": _count(_blank(c(n))) for n in ("task_id", "prompt", "test", "entry_point")}
    raise ValueError(f"unknown family {family!r}")
