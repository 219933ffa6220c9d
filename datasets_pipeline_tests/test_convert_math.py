"""Math converters on raw tables shaped like the Hub's: GSM8K, MATH, MATH-500, DeepMath, Polaris.

GSM8K rows are real (openai/gsm8k main/test, MIT, (c) 2021 OpenAI; see
/work/shared/fixtures/real/README.md), read unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets_pipeline.catalog.math import SPECS
from datasets_pipeline.convert.context import ConvertContext
from datasets_pipeline.convert.math import (
    DEEPMATH,
    GSM8K,
    HENDRYCKS_MATH,
    MATH500,
    POLARIS,
    gsm8k_final_answer,
    last_boxed,
    parse_level,
)
from datasets_pipeline.errors import SchemaError
from datasets_pipeline.families import FAMILIES
from datasets_pipeline_tests.fixtures_data import GSM8K_MAIN_TEST

SHARED_GSM8K_MAIN_TEST = Path("/work/shared/fixtures/real/gsm8k-main-test.jsonl")

# The `#### ` lines of the first 50 rows of gsm8k main/test, read by hand.
FIRST_50_ANSWERS = [
    "18", "3", "70000", "540", "20", "64", "260", "160", "45", "460",
    "366", "694", "13", "18", "60", "125", "230", "57500", "7", "6",
    "15", "14", "7", "8", "26", "2", "243", "16", "25", "104",
    "109", "80", "35", "70", "23", "9", "75", "2", "10", "18",
    "8", "200", "26", "48", "20", "104", "163", "800", "8", "30",
]


def _gsm8k_rows() -> list[dict]:
    path = GSM8K_MAIN_TEST if GSM8K_MAIN_TEST.exists() else SHARED_GSM8K_MAIN_TEST
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _ctx(table: pa.Table, dataset: str, config: str = "default", split: str = "train") -> ConvertContext:
    return ConvertContext(dataset=dataset, config=config, split=split, raw_schema=table.schema,
                          file=f"{config}/{split}-00000-of-00001.parquet")


def _string_table(rows: list[dict], columns: list[str]) -> pa.Table:
    return pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in columns})


# --- GSM8K -----------------------------------------------------------------------------------


def test_gsm8k_first_50_real_rows():
    rows = _gsm8k_rows()[:50]
    table = _string_table(rows, ["question", "answer"])
    out = GSM8K(table, _ctx(table, "gsm8k", "main", "test"))
    assert out.dropped == {}
    assert out.table.schema == FAMILIES["math"].schema
    assert out.table.column("answer").to_pylist() == FIRST_50_ANSWERS
    assert out.table.column("answer")[0].as_py() == "18"
    assert out.table.column("problem").to_pylist() == [r["question"] for r in rows]
    assert out.table.column("solution").to_pylist() == [r["answer"] for r in rows]
    assert out.table.column("subject").null_count == 50
    assert out.table.column("level").null_count == 50
    first = out.table.slice(0, 1).to_pylist()[0]
    assert first["problem"].startswith("Janet\u2019s ducks lay 16 eggs per day.")
    assert first["solution"].endswith("every day at the farmer\u2019s market.\n#### 18")


def test_gsm8k_real_answer_with_thousands_comma():
    rows = _gsm8k_rows()
    row = rows[146]
    assert row["answer"].endswith("#### 2,125")
    table = _string_table([row], ["question", "answer"])
    out = GSM8K(table, _ctx(table, "gsm8k", "main", "test"))
    assert out.table.column("answer").to_pylist() == ["2125"]
    assert out.table.column("solution").to_pylist() == [row["answer"]]


def test_gsm8k_answer_rules_and_drops():
    rows = [
        {"question": "q1", "answer": "work\n#### : 1,234"},
        {"question": "q2", "answer": "a\n####  5 \n  #### 6,000 \nafter"},  # last #### line wins
        {"question": "q3", "answer": "line one\r\n#### 42\r\n"},
        {"question": "q4", "answer": "The answer is #### 12,5 here"},  # fallback: no line starts with ####
        {"question": "q5", "answer": "no final marker at all"},
        {"question": "q6", "answer": "steps\n####"},
        {"question": "   ", "answer": "#### 1"},
        {"question": None, "answer": "#### 1"},
        {"question": "q9", "answer": None},
    ]
    table = _string_table(rows, ["question", "answer"])
    out = GSM8K(table, _ctx(table, "gsm8k", "main", "train"))
    got = out.table.select(["problem", "answer"]).to_pylist()
    assert got == [
        {"problem": "q1", "answer": "1234"},
        {"problem": "q2", "answer": "6000"},
        {"problem": "q3", "answer": "42"},
        {"problem": "q4", "answer": "12,5 here"},
        {"problem": "q6", "answer": ""},  # the cookbook keeps an empty answer
        {"problem": "   ", "answer": "1"},  # and blank or null questions (x["question"] as it is)
        {"problem": None, "answer": "1"},
    ]
    assert out.dropped == {"no_final_answer": 2}
    assert out.rows.tolist() == [0, 1, 2, 3, 5, 6, 7]


def test_gsm8k_vectorized_answer_matches_the_line_scan_on_all_real_rows():
    def reference(text: str) -> str | None:  # the cookbook's extract_gsm8k_final_answer
        for line in reversed(text.splitlines()):
            s = line.strip()
            if s.startswith("####"):
                content = s[4:].strip()
                if content.startswith(":"):
                    content = content[1:].strip()
                return content.replace(",", "").strip()
        matches = re.findall(r"####\s*(.+)", text)
        return matches[-1].strip() if matches else None

    texts = [r["answer"] for r in _gsm8k_rows()]
    assert gsm8k_final_answer(pa.array(texts)).to_pylist() == [reference(t) for t in texts]


def test_gsm8k_missing_column_names_where():
    table = pa.table({"question": pa.array(["q"], pa.string())})
    with pytest.raises(SchemaError) as info:
        GSM8K(table, _ctx(table, "gsm8k", "main", "test"))
    err = info.value
    assert (err.dataset, err.config, err.split, err.column) == ("gsm8k", "main", "test", "answer")
    assert err.file == "main/test-00000-of-00001.parquet"
    assert str(err) == (
        "column 'answer' is missing; the source has question [dataset 'gsm8k', config 'main', "
        "split 'test', file 'main/test-00000-of-00001.parquet', column 'answer']"
    )


# --- MATH ------------------------------------------------------------------------------------


def _hendrycks_table(rows: list[dict]) -> pa.Table:
    return _string_table(rows, ["problem", "level", "type", "solution"])


def test_hendrycks_boxed_answers_subject_level_and_drops():
    rows = [
        {"problem": "What is $\\frac{2}{4}$?", "level": "Level 1", "type": "Prealgebra",
         "solution": "Simplify: $\\frac{2}{4} = \\boxed{\\frac{1}{2}}$."},
        {"problem": "Two boxes", "level": "Level 5", "type": "Algebra",
         "solution": "First $\\boxed{3}$, then finally $x = \\boxed{\\{1, 2\\}}$ done."},
        {"problem": "Nested", "level": "Level ?", "type": "Geometry",
         "solution": "$\\boxed{\\boxed{7}}$"},
        {"problem": "Brace-less", "level": "Level 2", "type": "Number Theory",
         "solution": "So the answer is $\\boxed 5$ and $\\boxed 6$."},
        {"problem": "Unicode", "level": "Level 3", "type": "Algebra",
         "solution": "Thé angle is $\\boxed{90^\\circ}$ ✓"},
        {"problem": "No box", "level": "Level 1", "type": "Algebra", "solution": "The answer is 4."},
        {"problem": "Stray brace", "level": "Level 1", "type": "Algebra",
         "solution": "oops } then $\\boxed{2}$"},
        {"problem": "Unclosed", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{3"},
        {"problem": "Empty box", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{ }$"},
        {"problem": "", "level": "Level 1", "type": "Algebra", "solution": "$\\boxed{1}$"},
    ]
    table = _hendrycks_table(rows)
    out = HENDRYCKS_MATH(table, _ctx(table, "hendrycks_math", "algebra", "train"))
    assert out.table.to_pylist() == [
        {"problem": "What is $\\frac{2}{4}$?", "answer": "\\frac{1}{2}", "solution": rows[0]["solution"],
         "subject": "Prealgebra", "level": 1},
        {"problem": "Two boxes", "answer": "\\{1, 2\\}", "solution": rows[1]["solution"],
         "subject": "Algebra", "level": 5},
        {"problem": "Nested", "answer": "\\boxed{7}", "solution": rows[2]["solution"],
         "subject": "Geometry", "level": None},
        {"problem": "Brace-less", "answer": "5", "solution": rows[3]["solution"],
         "subject": "Number Theory", "level": 2},
        {"problem": "Unicode", "answer": "90^\\circ", "solution": rows[4]["solution"],
         "subject": "Algebra", "level": 3},
        {"problem": "Empty box", "answer": " ", "solution": rows[8]["solution"], "subject": "Algebra", "level": 1},
        {"problem": "", "answer": "1", "solution": rows[9]["solution"], "subject": "Algebra", "level": 1},
    ]
    assert out.dropped == {"no_boxed_answer": 2, "unmatched_close_brace": 1}
    assert out.rows.tolist() == [0, 1, 2, 3, 4, 8, 9]


def test_math500_answer_comes_from_the_solution_and_level_is_int():
    table = pa.table({
        "problem": pa.array(["Compute $1+1$.", "Find $x$."], pa.string()),
        "solution": pa.array(["$1+1=\\boxed{2}$", "Hence $x=\\boxed{-3}$."], pa.string()),
        "answer": pa.array(["two", "-3"], pa.string()),
        "subject": pa.array(["Prealgebra", "Algebra"], pa.string()),
        "level": pa.array([1, 4], pa.int64()),
        "unique_id": pa.array(["test/prealgebra/1.json", "test/algebra/2.json"], pa.string()),
    })
    out = MATH500(table, _ctx(table, "math500", "default", "test"))
    assert out.table.to_pylist() == [
        {"problem": "Compute $1+1$.", "answer": "2", "solution": "$1+1=\\boxed{2}$",
         "subject": "Prealgebra", "level": 1},
        {"problem": "Find $x$.", "answer": "-3", "solution": "Hence $x=\\boxed{-3}$.",
         "subject": "Algebra", "level": 4},
    ]
    assert out.dropped == {}


def test_math_missing_solution_column():
    table = pa.table({"problem": pa.array(["p"]), "level": pa.array(["Level 1"]), "type": pa.array(["Algebra"])})
    with pytest.raises(SchemaError) as info:
        HENDRYCKS_MATH(table, _ctx(table, "hendrycks_math", "geometry", "test"))
    assert (info.value.dataset, info.value.config, info.value.split, info.value.column) == (
        "hendrycks_math", "geometry", "test", "solution",
    )
    assert "column 'solution' is missing; the source has problem, level, type" in str(info.value)


def test_parse_level_forms():
    levels = pa.array(["Level 5", "Level ?", "level 2", " 3 ", None, "Level 10"], pa.string())
    assert parse_level(levels, 6).to_pylist() == [5, None, 2, 3, None, 10]
    assert parse_level(pa.array([1, None], pa.int32()), 2).to_pylist() == [1, None]
    assert parse_level(None, 2).to_pylist() == [None, None]


def _extract_boxed(text: str) -> str | None:
    """The cookbook's extract_boxed, None instead of ValueError."""
    boxed, stack = [], []
    for i, ch in enumerate(text):
        if ch == "{":
            stack.append(i)
        elif ch == "}":
            if not stack:
                return None
            start = stack.pop()
            if text[:start].endswith("\\boxed"):
                boxed.append(text[start + 1 : i])
    if boxed:
        return boxed[-1]
    match = re.search(r"\\boxed\s+([a-zA-Z0-9]+)", text)
    return match.group(1) if match else None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["{", "}", "\\boxed", "\\boxed ", "x", "é", "2", " ", "\n", "\\fbox"]),
                         max_size=12).map("".join), max_size=30))
def test_last_boxed_matches_the_sequential_scan(texts):
    answers, _ = last_boxed(pa.array(texts, pa.string()))
    assert answers.to_pylist() == [_extract_boxed(t) for t in texts]


def test_last_boxed_on_sliced_and_null_input():
    arr = pa.array(["}", "\\boxed{1}", None, "\\boxed{a{b}c}", "x"], pa.string()).slice(1, 3)
    answers, unmatched = last_boxed(arr)
    assert answers.to_pylist() == ["1", None, "a{b}c"]
    assert unmatched.tolist() == [False, False, False]


# --- DeepMath, Polaris -----------------------------------------------------------------------


def test_deepmath_question_final_answer_topic():
    table = pa.table({
        "question": pa.array(["Evaluate $\\int_0^1 x\\,dx$.", "Empty answer", ""], pa.string()),
        "final_answer": pa.array(["\\frac{1}{2}", "", "3"], pa.string()),
        "difficulty": pa.array([4.5, 6.0, 2.0], pa.float64()),
        "topic": pa.array(["Mathematics -> Calculus -> Integral Calculus", "x", "y"], pa.string()),
        "r1_solution_1": pa.array(["s1", "s1", "s1"], pa.string()),
        "r1_solution_2": pa.array(["s2", "s2", "s2"], pa.string()),
        "r1_solution_3": pa.array(["s3", "s3", "s3"], pa.string()),
    })
    out = DEEPMATH(table, _ctx(table, "deepmath"))
    assert out.table.to_pylist() == [
        {"problem": "Evaluate $\\int_0^1 x\\,dx$.", "answer": "\\frac{1}{2}", "solution": None,
         "subject": "Mathematics -> Calculus -> Integral Calculus", "level": None},
    ]
    assert out.dropped == {"empty_problem": 1, "empty_answer": 1}


def test_polaris_problem_answer_and_empty_rows():
    table = pa.table({
        "problem": pa.array(["How many primes are below 10?", None, "Blank answer", "Keep"], pa.string()),
        "answer": pa.array(["4", "1", "  ", "x=2"], pa.string()),
        "difficulty": pa.array(["7/8", "1/8", "2/8", "3/8"], pa.string()),
    })
    out = POLARIS(table, _ctx(table, "polaris"))
    assert out.table.select(["problem", "answer"]).to_pylist() == [
        {"problem": "How many primes are below 10?", "answer": "4"},
        {"problem": "Blank answer", "answer": "  "},  # whitespace is truthy: the cookbook keeps it
        {"problem": "Keep", "answer": "x=2"},
    ]
    assert out.dropped == {"empty_problem": 1}
    assert out.rows.tolist() == [0, 2, 3]
    with pytest.raises(SchemaError) as info:
        POLARIS(table.drop_columns(["answer"]), _ctx(table, "polaris"))
    assert info.value.column == "answer"


def test_chunked_input_gives_the_same_rows():
    rows = _gsm8k_rows()[:6]
    table = _string_table(rows, ["question", "answer"])
    chunked = pa.concat_tables([table.slice(0, 2), table.slice(2, 4)])
    assert chunked.column("answer").num_chunks == 2
    ctx = _ctx(table, "gsm8k", "main", "test")
    assert GSM8K(chunked, ctx).table.equals(GSM8K(table, ctx).table)


# --- catalog ---------------------------------------------------------------------------------


def test_math_catalog_entries():
    specs = {s.name: s for s in SPECS}
    assert list(specs) == ["gsm8k", "math500", "hendrycks_math", "deepmath", "polaris"]
    assert specs["gsm8k"].partition_keys == ["main/train", "main/test", "socratic/train", "socratic/test"]
    assert specs["gsm8k"].default_config == "main"
    assert specs["math500"].partition_keys == ["default/test"]
    assert len(specs["hendrycks_math"].partition_keys) == 14
    assert specs["hendrycks_math"].partition_keys[:2] == ["algebra/train", "algebra/test"]
    assert specs["deepmath"].repo_id == "zwhe99/DeepMath-103K"
    assert specs["polaris"].repo_id == "POLARIS-Project/Polaris-Dataset-53K"
    assert {s.license for s in SPECS} == {"MIT", "see dataset card"}
    assert all(s.family == "math" and s.converter.version == "2" and s.description for s in SPECS)
    assert [(d.name, d.source_split, d.seed) for d in specs["gsm8k"].dataset_dict] == [("train", "train", 0), ("test", "test", None)]
    assert [(d.name, d.seed) for d in specs["polaris"].dataset_dict] == [("train", 0)]
    assert specs["hendrycks_math"].dataset_dict == () and specs["math500"].dataset_dict == ()
