"""The cookbook-layer columns of every family, as Arrow schemas (without ``source_row`` and ``uid``).

This is the one place the family schemas are written; :mod:`datasets_pipeline.families` puts each
in its family's record, and converters conform their output to it.
"""

from __future__ import annotations

import pyarrow as pa

ROLES = ("user", "assistant", "system", "tool")  # the message roles the cookbook renderers know
LABELS = ("A", "B", "Tie")  # preference labels

MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
TEST_CASE = pa.struct(
    [
        pa.field("input", pa.string()),
        pa.field("output", pa.string()),
        pa.field("testtype", pa.string()),
        pa.field("fn_name", pa.string()),
        pa.field("metadata", pa.string()),  # the case's metadata dict as a JSON string
    ]
)
IMAGE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])

MATH = pa.schema(
    [
        pa.field("problem", pa.string()),
        pa.field("answer", pa.string()),
        pa.field("solution", pa.string()),
        pa.field("subject", pa.string()),
        pa.field("level", pa.int64()),
    ]
)
CHAT = pa.schema([pa.field("messages", MESSAGES)])
PREFERENCE = pa.schema(
    [
        pa.field("prompt", MESSAGES),
        pa.field("completion_a", MESSAGES),
        pa.field("completion_b", MESSAGES),
        pa.field("label", pa.string()),
    ]
)
CODE = pa.schema(
    [
        pa.field("problem", pa.string()),
        pa.field("starter_code", pa.string()),
        pa.field("tests", pa.list_(TEST_CASE)),
    ]
)
VISION = pa.schema([pa.field("image", IMAGE), pa.field("label", pa.int64()), pa.field("label_name", pa.string())])
MCQ = pa.schema(
    [
        pa.field("question", pa.string()),
        pa.field("choices", pa.list_(pa.string())),
        pa.field("answer", pa.int64()),
        pa.field("subject", pa.string()),
    ]
)
HUMANEVAL = pa.schema(
    [pa.field(name, pa.string()) for name in ("task_id", "prompt", "canonical_solution", "test", "entry_point")]
)
