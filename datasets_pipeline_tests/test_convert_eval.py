"""MMLU (mcq) and HumanEval converters and catalog entries."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import datasets
import pyarrow as pa
import pytest

from datasets_pipeline.catalog import CATALOG
from datasets_pipeline.catalog.eval import MMLU_SUBJECTS
from datasets_pipeline.convert.context import ConvertContext
from datasets_pipeline.convert.eval import HUMANEVAL_CONVERTER, MCQ_CONVERTER, convert_humaneval, convert_mcq
from datasets_pipeline.engine.hf_features import metadata_features
from datasets_pipeline.errors import SchemaError
from datasets_pipeline.families import FAMILIES

HUMANEVAL_FILE = Path("/work/shared/fixtures/real/openai_humaneval-test.jsonl.gz")

# cais/mmlu parquet: columns in the Hub's order and its features block (datasets 2.x style).
MMLU_FEATURES = {
    "question": {"dtype": "string", "_type": "Value"},
    "subject": {"dtype": "string", "_type": "Value"},
    "choices": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"},
    "answer": {"names": ["A", "B", "C", "D"], "_type": "ClassLabel"},
}
MMLU_SCHEMA = pa.schema(
    [("question", pa.string()), ("subject", pa.string()), ("choices", pa.list_(pa.string())), ("answer", pa.int64())],
    metadata={b"huggingface": json.dumps({"info": {"features": MMLU_FEATURES}}).encode()},
)
ALGEBRA_ROWS = [
    {
        "question": "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.",
        "subject": "abstract_algebra",
        "choices": ["0", "4", "2", "6"],
        "answer": 1,
    },
    {
        "question": "Let p = (1, 2, 5, 4)(2, 3) in S_5 . Find the index of <p> in S_5.",
        "subject": "abstract_algebra",
        "choices": ["8", "2", "24", "120"],
        "answer": 2,
    },
]
AUX_ROW = {
    "question": "Which of these is a renewable resource?",
    "subject": "",
    "choices": ["coal", "natural gas", "wind", "oil"],
    "answer": 2,
}


def _ctx(table: pa.Table, config: str, split: str, name: str = "mmlu") -> ConvertContext:
    return ConvertContext(dataset=name, config=config, split=split, raw_schema=table.schema)


def test_mmlu_subject_rows_convert_exactly():
    raw = pa.Table.from_pylist(ALGEBRA_ROWS, schema=MMLU_SCHEMA)
    out = MCQ_CONVERTER(raw, _ctx(raw, "abstract_algebra", "test"))
    assert out.dropped == {}
    assert out.table.schema.remove_metadata() == FAMILIES["mcq"].schema
    assert out.table.to_pylist() == [
        {"question": r["question"], "choices": r["choices"], "answer": r["answer"], "subject": "abstract_algebra"}
        for r in ALGEBRA_ROWS
    ]
    assert metadata_features(out.table.schema) == {
        "question": {"dtype": "string", "_type": "Value"},
        "choices": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
        "answer": {"names": ["A", "B", "C", "D"], "_type": "ClassLabel"},
        "subject": {"dtype": "string", "_type": "Value"},
    }
    assert datasets.Features.from_arrow_schema(out.table.schema)["answer"] == datasets.ClassLabel(
        names=["A", "B", "C", "D"]
    )


def test_mmlu_subject_falls_back_to_config_or_auxiliary_train():
    no_subject = pa.Table.from_pylist(ALGEBRA_ROWS[:1], schema=MMLU_SCHEMA).drop_columns(["subject"])
    out = convert_mcq(no_subject, _ctx(no_subject, "anatomy", "dev"))
    assert out.table.column("subject").to_pylist() == ["anatomy"]

    mixed = pa.Table.from_pylist([ALGEBRA_ROWS[0], AUX_ROW], schema=MMLU_SCHEMA)
    out = convert_mcq(mixed, _ctx(mixed, "all", "auxiliary_train"))
    assert out.table.column("subject").to_pylist() == ["abstract_algebra", "auxiliary_train"]
    out = convert_mcq(mixed, _ctx(mixed, "auxiliary_train", "train"))
    assert out.table.column("subject").to_pylist() == ["abstract_algebra", "auxiliary_train"]


def test_mmlu_auxiliary_train_nested_struct_is_unnested():
    inner = pa.struct(
        [
            ("answer", pa.int64()),
            ("choices", pa.list_(pa.string())),
            ("question", pa.string()),
            ("subject", pa.string()),
        ]
    )
    raw = pa.table({"train": pa.array([AUX_ROW, ALGEBRA_ROWS[1]], inner)})
    out = convert_mcq(raw, _ctx(raw, "auxiliary_train", "train"))
    assert out.dropped == {}
    assert out.table.to_pylist() == [
        {"question": AUX_ROW["question"], "choices": AUX_ROW["choices"], "answer": 2, "subject": "auxiliary_train"},
        {
            "question": ALGEBRA_ROWS[1]["question"],
            "choices": ALGEBRA_ROWS[1]["choices"],
            "answer": 2,
            "subject": "abstract_algebra",
        },
    ]


def test_mmlu_letter_answers_and_dropped_rows():
    abcd = ["a", "b", "c", "d"]
    raw = pa.table(
        {
            "question": ["q0", None, "  ", "q3", "q4", "q5", "q6", "q7", "q8"],
            "choices": [abcd, ["a"], ["a"], [], None, abcd, ["a", "b"], abcd, abcd],
            "answer": ["b", "A", "A", "A", "A", None, "C", "E", " d "],
        }
    )
    out = convert_mcq(raw, _ctx(raw, "all", "test"))
    assert out.dropped == {"missing_question": 2, "missing_choices": 2, "invalid_answer": 3}
    assert out.table.to_pylist() == [
        {"question": "q0", "choices": ["a", "b", "c", "d"], "answer": 1, "subject": "all"},
        {"question": "q8", "choices": ["a", "b", "c", "d"], "answer": 3, "subject": "all"},
    ]
    assert out.rows.tolist() == [0, 8]  # input positions of the kept rows (source_row)


def test_mmlu_integer_answer_out_of_range_is_dropped():
    rows = [dict(ALGEBRA_ROWS[0], answer=a) for a in (0, 3, 4, -1)]
    raw = pa.Table.from_pylist(rows, schema=MMLU_SCHEMA)
    out = convert_mcq(raw, _ctx(raw, "abstract_algebra", "validation"))
    assert out.dropped == {"invalid_answer": 2}
    assert out.table.column("answer").to_pylist() == [0, 3]


def test_mmlu_missing_column_is_a_schema_error():
    raw = pa.Table.from_pylist(ALGEBRA_ROWS, schema=MMLU_SCHEMA).drop_columns(["answer"])
    with pytest.raises(SchemaError) as err:
        convert_mcq(raw, _ctx(raw, "all", "test"))
    assert str(err.value) == (
        "column 'answer' is missing; the source has question, subject, choices "
        "[dataset 'mmlu', config 'all', split 'test', column 'answer']"
    )


def _humaneval_table() -> pa.Table:
    with gzip.open(HUMANEVAL_FILE, "rt", encoding="utf-8") as f:
        return pa.Table.from_pylist([json.loads(line) for line in f])


def test_humaneval_real_file_converts_unchanged():
    raw = _humaneval_table()
    assert raw.column_names == ["task_id", "prompt", "entry_point", "canonical_solution", "test"]
    out = HUMANEVAL_CONVERTER(raw, _ctx(raw, "openai_humaneval", "test", "humaneval"))
    assert out.dropped == {}
    assert out.table.schema == FAMILIES["humaneval"].schema
    assert out.table.num_rows == 164
    assert out.table.column("task_id")[0].as_py() == "HumanEval/0"
    assert out.table.column("task_id")[163].as_py() == "HumanEval/163"
    assert out.table.column("entry_point")[0].as_py() == "has_close_elements"
    assert out.table.to_pylist() == raw.select(list(FAMILIES["humaneval"].schema.names)).to_pylist()


def test_humaneval_drops_rows_without_task_id_and_checks_columns():
    raw = _humaneval_table().slice(0, 3)
    task_ids = pa.array(["HumanEval/0", None, " "])
    raw = raw.set_column(0, "task_id", task_ids)
    out = convert_humaneval(raw, _ctx(raw, "openai_humaneval", "test", "humaneval"))
    assert out.dropped == {"missing_task_id": 2}
    assert out.table.column("task_id").to_pylist() == ["HumanEval/0"]

    with pytest.raises(SchemaError) as err:
        convert_humaneval(raw.drop_columns(["entry_point"]), _ctx(raw, "openai_humaneval", "test", "humaneval"))
    assert str(err.value) == (
        "column 'entry_point' is missing; the source has task_id, prompt, canonical_solution, test "
        "[dataset 'humaneval', config 'openai_humaneval', split 'test', column 'entry_point']"
    )
    assert HUMANEVAL_CONVERTER.required_columns == ("task_id", "prompt", "canonical_solution", "test", "entry_point")


def test_eval_catalog_entries():
    mmlu = CATALOG["mmlu"]
    assert (mmlu.repo_id, mmlu.family, mmlu.license) == ("cais/mmlu", "mcq", "MIT")
    assert len(MMLU_SUBJECTS) == 57 and MMLU_SUBJECTS[0] == "abstract_algebra"
    assert mmlu.configs == (*MMLU_SUBJECTS, "all", "auxiliary_train")
    assert mmlu.splits["world_religions"] == ("test", "validation", "dev")
    assert mmlu.splits["all"] == ("auxiliary_train", "test", "validation", "dev")
    assert mmlu.splits["auxiliary_train"] == ("train",)
    assert len(mmlu.partition_keys) == 57 * 3 + 4 + 1
    assert mmlu.default_config == "all"
    assert mmlu.converter is MCQ_CONVERTER and mmlu.converter.version == "2"  # 2: source_row

    humaneval = CATALOG["humaneval"]
    assert (humaneval.repo_id, humaneval.family, humaneval.license) == ("openai/openai_humaneval", "humaneval", "MIT")
    assert humaneval.partition_keys == ["openai_humaneval/test"]
    assert humaneval.default_config == "openai_humaneval"
    assert humaneval.converter is HUMANEVAL_CONVERTER
