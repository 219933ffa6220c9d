"""The cookbook families: for each, one :class:`Family` record that every layer reads.

A family is the shape rows take in the cookbook layer (math, chat, preference, …): its Arrow
columns (:mod:`.schemas`), the Dagster asset group its datasets appear in, the rules every row must
satisfy (:mod:`.rules`, a blocking check), a one-line description of each column for the UI, and
where its datasets (``catalog/<catalog_module>.py``) and converters (``convert/<convert_module>.py``)
live. This package imports neither the catalog nor the converters: both import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import pyarrow as pa

from . import rules, schemas

UID_FIELD = pa.field("uid", pa.string(), nullable=False)
UID_DOC = "Hex xxh3-128 of the row's family columns, NFKC-normalized (identical rows share it)."

Rules = Callable[[pa.Table, "int | None"], dict[str, int]]


@dataclass(frozen=True)
class Family:
    """Everything the pipeline knows about one family."""

    name: str
    group: str  # the Dagster asset group of its datasets
    schema: pa.Schema  # the converters' output columns, without ``uid``
    rules: Rules  # ``(table, num_classes) -> {rule: rows breaking it}``
    column_docs: Mapping[str, str]  # column -> one line for the UI
    catalog_module: str  # ``datasets_pipeline.catalog.<catalog_module>`` lists its datasets
    convert_module: str  # ``datasets_pipeline.convert.<convert_module>`` holds its converters

    def __post_init__(self) -> None:
        if list(self.column_docs) != self.schema.names:
            raise ValueError(f"family {self.name!r}: column_docs must describe {self.schema.names} in order")

    @property
    def cookbook_schema(self) -> pa.Schema:
        """The cookbook-layer schema: the family columns, then ``uid``."""
        return self.schema.append(UID_FIELD)

    @property
    def cookbook_docs(self) -> dict[str, str]:
        """``column_docs`` with ``uid``'s line: one per column of :attr:`cookbook_schema`."""
        return {**self.column_docs, UID_FIELD.name: UID_DOC}


_MESSAGES_DOC = "list of {role, content}; role is user, assistant, system or tool"

_FAMILIES = (
    Family(
        name="math",
        group="math",
        schema=schemas.MATH,
        rules=rules.math_rules,
        column_docs={
            "problem": "The problem statement.",
            "answer": "The final answer the reward is checked against.",
            "solution": "The worked solution, when the source has one (gsm8k: the full answer text).",
            "subject": "The subject or topic, when the source has one.",
            "level": "Difficulty level as an integer (\"Level 5\" -> 5), when the source has one.",
        },
        catalog_module="math",
        convert_module="math",
    ),
    Family(
        name="chat",
        group="chat",
        schema=schemas.CHAT,
        rules=rules.chat_rules,
        column_docs={"messages": f"The conversation: {_MESSAGES_DOC}."},
        catalog_module="chat",
        convert_module="chat",
    ),
    Family(
        name="preference",
        group="preference",
        schema=schemas.PREFERENCE,
        rules=rules.preference_rules,
        column_docs={
            "prompt": f"The shared conversation before the two completions: {_MESSAGES_DOC}.",
            "completion_a": "Completion A (messages).",
            "completion_b": "Completion B (messages).",
            "label": "The preferred completion: A, B or Tie.",
        },
        catalog_module="preference",
        convert_module="preference",
    ),
    Family(
        name="code",
        group="code",
        schema=schemas.CODE,
        rules=rules.code_rules,
        column_docs={
            "problem": "The programming problem statement.",
            "starter_code": "Code the solution starts from, when given.",
            "tests": "Test cases: {input, output, testtype, fn_name}.",
        },
        catalog_module="code",
        convert_module="code",
    ),
    Family(
        name="vision",
        group="vision",
        schema=schemas.VISION,
        rules=rules.vision_rules,
        column_docs={
            "image": "The encoded image file: {bytes, path} (a datasets Image).",
            "label": "The class id (a datasets ClassLabel).",
            "label_name": "The class name, cleaned as the cookbook prompts with it.",
        },
        catalog_module="vision",
        convert_module="vision",
    ),
    Family(
        name="mcq",
        group="eval",
        schema=schemas.MCQ,
        rules=rules.mcq_rules,
        column_docs={
            "question": "The question.",
            "choices": "The answer choices, in order.",
            "answer": "Index of the correct choice (a ClassLabel A-D).",
            "subject": "The subject of the question.",
        },
        catalog_module="eval",
        convert_module="eval",
    ),
    Family(
        name="humaneval",
        group="eval",
        schema=schemas.HUMANEVAL,
        rules=rules.humaneval_rules,
        column_docs={
            "task_id": "HumanEval/<n>.",
            "prompt": "Function signature and docstring to complete.",
            "canonical_solution": "A reference function body.",
            "test": "A check() program testing the completion.",
            "entry_point": "Name of the function under test.",
        },
        catalog_module="eval",
        convert_module="eval",
    ),
)

FAMILIES: Mapping[str, Family] = MappingProxyType({f.name: f for f in _FAMILIES})


def get_family(name: str) -> Family:
    """The family ``name``, or a ``KeyError`` listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown family {name!r}; families: {', '.join(FAMILIES)}") from None


__all__ = ["FAMILIES", "Family", "UID_DOC", "UID_FIELD", "get_family"]
