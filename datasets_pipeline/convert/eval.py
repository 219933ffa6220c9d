"""Eval-set converters: multiple choice (MMLU) and HumanEval.

MMLU (``mcq``): ``question``, ``choices`` (list of strings), ``answer`` (int64, a ClassLabel
``A``–``D``) and ``subject``. The ``auxiliary_train`` config has, in some Hub revisions, one
struct column ``train: {question, choices, answer, subject}``; it is unnested first. ``answer``
may also come as a letter string (``"A"`` → 0). ``subject`` is the row's non-empty ``subject``
value, else ``auxiliary_train`` when the config or split is ``auxiliary_train`` (its rows carry
an empty subject), else the config name. The output carries ``huggingface`` features metadata
with ``answer: ClassLabel(names=["A", "B", "C", "D"])``.

Dropped MMLU rows, by reason (each row counted once, in this order): ``missing_question``
(null or blank), ``missing_choices`` (null or empty list), ``invalid_answer`` (null, not 0–3,
or not an index into the row's choices).

HumanEval: the Hub columns ``task_id``, ``prompt``, ``canonical_solution``, ``test``,
``entry_point`` unchanged; rows with a null or blank ``task_id`` are dropped as ``missing_task_id``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine.hf_features import class_label, list_of, value, with_features
from ..errors import SchemaError
from .common import conform, require_columns
from .context import ConvertContext, Converted, FunctionConverter

MCQ_COLUMNS = ("question", "choices", "answer")
ANSWER_NAMES = ["A", "B", "C", "D"]
HUMANEVAL_COLUMNS = ("task_id", "prompt", "canonical_solution", "test", "entry_point")
AUXILIARY_TRAIN = "auxiliary_train"


def _unnest(table: pa.Table) -> pa.Table:
    """Flatten the ``{train: {question, choices, answer, subject}}`` layout of ``auxiliary_train``."""
    if "question" in table.column_names or "train" not in table.column_names:
        return table
    nested = table.column("train")
    if not pa.types.is_struct(nested.type):
        return table
    nested = nested.combine_chunks()
    names = [nested.type.field(i).name for i in range(nested.type.num_fields)]
    return pa.table({name: pc.struct_field(nested, name) for name in names})


def _answers(column: pa.ChunkedArray) -> pa.Array:
    """``answer`` as int64: integers cast, letters ``A``–``D`` (any case, padded) mapped to 0–3, others null."""
    column = column.combine_chunks()
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        letters = pc.utf8_upper(pc.utf8_trim_whitespace(column.cast(pa.string())))
        return pc.index_in(letters, value_set=pa.array(ANSWER_NAMES)).cast(pa.int64())
    return column.cast(pa.int64())


def convert_mcq(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Raw MMLU rows (flat or ``train``-nested) → ``question``, ``choices``, ``answer``, ``subject``."""
    table = _unnest(table)
    require_columns(table, MCQ_COLUMNS, ctx)
    question = table.column("question").combine_chunks().cast(pa.string())
    choices = table.column("choices").combine_chunks()
    if not (pa.types.is_list(choices.type) or pa.types.is_large_list(choices.type)):
        raise SchemaError(
            f"column 'choices' is {choices.type}, not a list of strings",
            **ctx.where, column="choices",
        )
    answer = _answers(table.column("answer"))

    missing_question = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(question), ""), True)
    n_choices = pc.fill_null(pc.list_value_length(choices), 0)
    missing_choices = pc.and_(pc.invert(missing_question), pc.equal(n_choices, 0))
    in_range = pc.and_(pc.greater_equal(answer, 0), pc.less(answer, len(ANSWER_NAMES)))
    answer_ok = pc.fill_null(pc.and_(in_range, pc.less(answer, n_choices)), False)
    invalid_answer = pc.and_(pc.invert(pc.or_(missing_question, missing_choices)), pc.invert(answer_ok))
    dropped = {
        reason: int(pc.sum(mask.cast(pa.int64())).as_py() or 0)
        for reason, mask in (
            ("missing_question", missing_question),
            ("missing_choices", missing_choices),
            ("invalid_answer", invalid_answer),
        )
    }
    dropped = {k: v for k, v in dropped.items() if v}

    fallback = AUXILIARY_TRAIN if AUXILIARY_TRAIN in (ctx.config, ctx.split) else ctx.config
    if "subject" in table.column_names:
        subject = table.column("subject").combine_chunks().cast(pa.string())
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(subject), ""), True)
        subject = pc.if_else(blank, pa.scalar(fallback, pa.string()), subject)
    else:
        subject = pa.array([fallback] * table.num_rows, pa.string())

    keep = pc.invert(pc.or_(pc.or_(missing_question, missing_choices), invalid_answer))
    out = pa.table(
        {
            "question": question.filter(keep),
            "choices": choices.filter(keep),
            "answer": answer.filter(keep),
            "subject": subject.filter(keep),
        }
    )
    out = conform(out, "mcq", ctx)
    out = with_features(
        out,
        {
            "question": value("string"),
            "choices": list_of(value("string")),
            "answer": class_label(ANSWER_NAMES),
            "subject": value("string"),
        },
    )
    keep_np = np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)
    return Converted(out, dropped, None if keep_np.all() else np.flatnonzero(keep_np))


def convert_humaneval(table: pa.Table, ctx: ConvertContext) -> Converted:
    """HumanEval rows: the five Hub columns, unchanged (rows without a task id dropped)."""
    require_columns(table, HUMANEVAL_COLUMNS, ctx)
    task_id = table.column("task_id").cast(pa.string())
    blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(task_id), ""), True)
    dropped: dict[str, int] = {}
    missing = int(pc.sum(pc.cast(blank, pa.int64())).as_py() or 0)
    rows = None
    if missing:
        table = table.filter(pc.invert(blank))
        dropped["missing_task_id"] = missing
        rows = np.flatnonzero(~np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool))
    return Converted(conform(table, "humaneval", ctx), dropped, rows)


MCQ_CONVERTER = FunctionConverter(convert_mcq, version="2")
HUMANEVAL_CONVERTER = FunctionConverter(convert_humaneval, version="2", required_columns=HUMANEVAL_COLUMNS)
