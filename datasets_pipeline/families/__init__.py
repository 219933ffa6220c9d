"""The cookbook families: for each, one :class:`Family` record that every layer reads.

A family is the shape rows take in the cookbook layer (math, chat, preference, …): its Arrow
columns (:mod:`.schemas`), the Dagster asset group its datasets appear in, the rules every row must
satisfy (:mod:`.rules`, a blocking check), its stricter opt-in quality rules (:mod:`.quality`, a
warning check and :func:`datasets_pipeline.quality_filter`), a one-line description of each column for the UI, and
the module name of its datasets (``catalog/<module>.py``) and converters (``convert/<module>.py``).
This package imports neither the catalog nor the converters: both import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np
import pyarrow as pa

from . import quality, rules, schemas

SOURCE_ROW_FIELD = pa.field("source_row", pa.int64(), nullable=False)
SOURCE_ROW_DOC = "The row's index in the raw split it came from."
UID_FIELD = pa.field("uid", pa.string(), nullable=False)
UID_DOC = "Hex xxh3-128 of the row's family columns, NFKC-normalized (identical rows share it)."

Rules = Callable[[pa.Table, int | None], dict[str, int]]
Quality = Callable[[pa.Table], dict[str, np.ndarray]]


@dataclass(frozen=True)
class Family:
    """Everything the pipeline knows about one family.

    ``group`` (the Dagster asset group of its datasets) and ``module`` (its datasets are listed in
    ``datasets_pipeline.catalog.<module>``, its converters are in ``datasets_pipeline.convert.<module>``)
    default to the family's name.
    """

    name: str
    schema: pa.Schema  # the converters' output columns, without ``uid``
    rules: Rules  # blocking invariants: ``(table, num_classes) -> {rule: rows breaking it}``
    quality: Quality  # stricter, opt-in rules: ``table -> {rule: bool mask of rows breaking it}``
    column_docs: Mapping[str, str]  # column -> one line for the UI
    group: str = ""
    module: str = ""

    def __post_init__(self) -> None:
        if list(self.column_docs) != self.schema.names:
            raise ValueError(f"family {self.name!r}: column_docs must describe {self.schema.names} in order")
        object.__setattr__(self, "group", self.group or self.name)
        object.__setattr__(self, "module", self.module or self.name)

    @property
    def cookbook_schema(self) -> pa.Schema:
        """The cookbook-layer schema: the family columns, then ``source_row`` and ``uid``."""
        return self.schema.append(SOURCE_ROW_FIELD).append(UID_FIELD)

    @property
    def cookbook_docs(self) -> dict[str, str]:
        """``column_docs`` with ``source_row``'s and ``uid``'s lines: one per column of :attr:`cookbook_schema`."""
        return {**self.column_docs, SOURCE_ROW_FIELD.name: SOURCE_ROW_DOC, UID_FIELD.name: UID_DOC}


_MESSAGES = "list of {role, content}; role is user, assistant, system or tool"

FAMILIES: Mapping[str, Family] = MappingProxyType({f.name: f for f in (
    Family("math", schemas.MATH, rules.math_rules, quality.math_quality, {
        "problem": "The problem statement.",
        "answer": "The final answer the reward is checked against.",
        "solution": "The worked solution, when the source has one (gsm8k: the full answer text).",
        "subject": "The subject or topic, when the source has one.",
        "level": 'Difficulty level as an integer ("Level 5" -> 5), when the source has one.',
    }),
    Family("chat", schemas.CHAT, rules.chat_rules, quality.chat_quality, {"messages": f"The conversation: {_MESSAGES}."}),
    Family("preference", schemas.PREFERENCE, rules.preference_rules, quality.preference_quality, {
        "prompt": f"The conversation before the two completions: {_MESSAGES}.",
        "completion_a": "Completion A (messages).",
        "completion_b": "Completion B (messages).",
        "label": "The preferred completion: A, B or Tie.",
    }),
    Family("code", schemas.CODE, rules.code_rules, quality.code_quality, {
        "problem": "The programming problem statement.",
        "starter_code": "Code the solution starts from, when given.",
        "tests": "Test cases: {input, output, testtype, fn_name, metadata (JSON)}, as the cookbook normalizes them.",
    }),
    Family("vision", schemas.VISION, rules.vision_rules, quality.no_quality, {
        "image": "The encoded image file: {bytes, path} (a datasets Image).",
        "label": "The class id (a datasets ClassLabel).",
        "label_name": "The class name, cleaned as the cookbook prompts with it.",
    }),
    Family("mcq", schemas.MCQ, rules.mcq_rules, quality.no_quality, group="eval", module="eval", column_docs={
        "question": "The question.",
        "choices": "The answer choices, in order.",
        "answer": "Index of the correct choice (a ClassLabel A-D).",
        "subject": "The subject of the question.",
    }),
    Family("humaneval", schemas.HUMANEVAL, rules.humaneval_rules, quality.no_quality, group="eval", module="eval", column_docs={
        "task_id": "HumanEval/<n>.",
        "prompt": "Function signature and docstring to complete.",
        "canonical_solution": "A reference function body.",
        "test": "A check() program testing the completion.",
        "entry_point": "Name of the function under test.",
    }),
)})  # fmt: skip

__all__ = ["FAMILIES", "Family", "SOURCE_ROW_DOC", "SOURCE_ROW_FIELD", "UID_DOC", "UID_FIELD"]
