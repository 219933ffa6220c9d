"""DeepCoder converter: rows in the style of each real config (primeintellect, taco, lcbv5, codeforces)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from datasets_pipeline.catalog import CATALOG
from datasets_pipeline.convert.code import CODE_CONVERTER, convert_code, normalize_tests
from datasets_pipeline.convert.context import ConvertContext
from datasets_pipeline.errors import SchemaError
from datasets_pipeline.families import FAMILIES


def _ctx(table: pa.Table, config: str, split: str = "train") -> ConvertContext:
    return ConvertContext(dataset="deepcoder", config=config, split=split, raw_schema=table.schema)


def _case(inp: str, out: str, testtype: str = "stdin_stdout", fn_name: str | None = None, metadata: dict | None = None) -> dict:
    """A test case as the cookbook normalizes it: metadata kept as JSON, ``{"func_name": null}`` when empty."""
    metadata = {"func_name": fn_name} if metadata is None else metadata
    return {"input": inp, "output": out, "testtype": testtype, "fn_name": fn_name, "metadata": json.dumps(metadata)}


def test_primeintellect_style_json_tests_and_metadata():
    raw = pa.table(
        {
            "problem": [
                "Given n numbers, print their sum.",
                "Write a function add(a, b) returning a + b.",
                "Read a line and echo it.",
            ],
            "tests": [
                json.dumps(
                    [
                        {"input": "3\n1 2 3\n", "output": "6\n", "type": "stdin_stdout"},
                        {"input": "1\n5\n", "output": "5\n", "type": "stdin_stdout"},
                    ]
                ),
                json.dumps([{"input": [1, 2], "output": 3, "type": "function_call"}]),
                json.dumps({"input": "hi\n", "output": "hi\n"}),  # a single case dict
            ],
            "metadata": [json.dumps({"difficulty": 3}), json.dumps({"func_name": "add"}), None],
        }
    )
    out = CODE_CONVERTER(raw, _ctx(raw, "primeintellect"))
    assert out.dropped == {}
    assert out.table.schema == FAMILIES["code"].schema
    assert out.table.to_pylist() == [
        {
            "problem": "Given n numbers, print their sum.",
            "starter_code": None,
            "tests": [_case("3\n1 2 3\n", "6\n"), _case("1\n5\n", "5\n")],
        },
        {  # a PrimeIntellect function_call case has no testtype: the cookbook makes it stdin_stdout
            "problem": "Write a function add(a, b) returning a + b.",
            "starter_code": None,
            "tests": [_case("[1, 2]", "3")],
        },
        {"problem": "Read a line and echo it.", "starter_code": None, "tests": [_case("hi\n", "hi\n")]},
    ]


def test_taco_style_inputs_outputs_fn_name():
    raw = pa.table(
        {
            "problem": ["Print n + 1.", "Implement solve(a, b).", "Echo."],
            "tests": [
                json.dumps({"inputs": ["1\n", "2\n"], "outputs": ["2\n", "3\n"]}),
                json.dumps({"fn_name": "solve", "inputs": [[1, 2], [3, 4]], "outputs": [[3], [7]]}),
                # more inputs than outputs: the missing output repeats element 0
                json.dumps({"inputs": ["a\n", "b\n"], "outputs": ["a\n"]}),
            ],
            "metadata": [json.dumps({"source": "codechef"})] * 3,
        }
    )
    out = convert_code(raw, _ctx(raw, "taco"))
    assert out.dropped == {}
    assert out.table.column("tests").to_pylist() == [
        [_case("1\n", "2\n"), _case("2\n", "3\n")],
        [_case("[1, 2]", "3", "functional", "solve"), _case("[3, 4]", "7", "functional", "solve")],
        [_case("a\n", "a\n"), _case("b\n", "a\n")],
    ]
    assert out.table.column("problem").to_pylist() == ["Print n + 1.", "Implement solve(a, b).", "Echo."]


def test_lcbv5_style_nested_tests_and_struct_metadata():
    tests_type = pa.list_(
        pa.struct([("input", pa.string()), ("output", pa.string()), ("testtype", pa.string())])
    )
    raw = pa.table(
        {
            "question": ["Return the maximum of nums.", "Read two ints and print their product."],
            "starter_code": ["class Solution:\n    def maxOf(self, nums: List[int]) -> int:\n        ", ""],
            "tests": pa.array(
                [
                    [
                        {"input": "[1, 5, 2]", "output": "5", "testtype": "functional"},
                        {"input": "[-1]", "output": "-1", "testtype": "functional"},
                    ],
                    [{"input": "2 3\n", "output": "6\n", "testtype": "stdin_stdout"}],
                ],
                tests_type,
            ),
            "metadata": pa.array(
                [{"func_name": "maxOf"}, {"func_name": None}], pa.struct([("func_name", pa.string())])
            ),
        }
    )
    out = convert_code(raw, _ctx(raw, "lcbv5", "test"))
    assert out.dropped == {}
    assert out.table.to_pylist() == [
        {
            "problem": "Return the maximum of nums.",
            "starter_code": "class Solution:\n    def maxOf(self, nums: List[int]) -> int:\n        ",
            "tests": [_case("[1, 5, 2]", "5", "functional", "maxOf"), _case("[-1]", "-1", "functional", "maxOf")],
        },
        {
            "problem": "Read two ints and print their product.",
            "starter_code": None,
            "tests": [_case("2 3\n", "6\n")],
        },
    ]


def test_lcbv5_style_json_string_tests_with_case_metadata():
    raw = pa.table(
        {
            "question": ["Count the vowels."],
            "starter_code": ["class Solution:\n    def countVowels(self, s: str) -> int:\n        "],
            "tests": [
                json.dumps(
                    [
                        {
                            "input": '"abc"',
                            "output": "1",
                            "testtype": "functional",
                            "metadata": {"func_name": "countVowels"},
                        },
                        {"input": '"aei"', "output": "3", "testtype": "functional"},
                    ]
                )
            ],
            "metadata": [json.dumps({"func_name": "fallbackName"})],
        }
    )
    out = convert_code(raw, _ctx(raw, "lcbv5"))
    assert out.table.column("tests").to_pylist() == [
        [_case('"abc"', "1", "functional", "countVowels"), _case('"aei"', "3", "functional", "fallbackName")]
    ]


def test_codeforces_style_with_ground_truth_and_prompt_columns():
    raw = pa.table(
        {
            "prompt": ["", "You are given an array a of n integers."],
            "question": [None, None],
            "ground_truth": [
                json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin_stdout"}]),
                json.dumps([{"input": "3\n1 2 3\n", "output": "YES\n", "testtype": "stdin_stdout"}]),
            ],
        }
    )
    out = convert_code(raw, _ctx(raw, "codeforces", "test"))
    assert out.dropped == {"missing_problem": 1}
    assert out.table.to_pylist() == [
        {
            "problem": "You are given an array a of n integers.",
            "starter_code": None,
            "tests": [_case("3\n1 2 3\n", "YES\n")],
        }
    ]


def test_question_or_prompt_or_problem_and_tests_or_ground_truth():
    raw = pa.table(
        {
            "problem": ["from problem", "from problem", "from problem"],
            "prompt": ["from prompt", "from prompt", None],
            "question": ["from question", "  ", None],
            "tests": [json.dumps([{"input": "t", "output": "t"}]), "", None],
            "ground_truth": [json.dumps([{"input": "g", "output": "g"}])] * 3,
        }
    )
    out = convert_code(raw, _ctx(raw, "primeintellect"))
    # a whitespace-only question is truthy: chosen, then the row is dropped (no fallback to prompt)
    assert out.table.column("problem").to_pylist() == ["from question", "from problem"]
    assert out.table.column("tests").to_pylist() == [[_case("t", "t")], [_case("g", "g")]]
    assert out.dropped == {"missing_problem": 1} and out.rows.tolist() == [0, 2]


def test_drops_rows_without_problem_or_tests_with_reasons():
    raw = pa.table(
        {
            "problem": ["ok", None, "   \n", "bad json", "no tests", "empty list", "not dicts", "null", "ok too"],
            "tests": [
                json.dumps([{"input": "1", "output": "1"}]),
                json.dumps([{"input": "1", "output": "1"}]),
                json.dumps([{"input": "1", "output": "1"}]),
                '[{"input": "1", "output":',
                None,
                "[]",
                "[1, 2]",
                "null",
                json.dumps([{"input": "2", "output": "2"}]),
            ],
        }
    )
    out = convert_code(raw, _ctx(raw, "taco"))
    assert out.dropped == {"missing_problem": 2, "invalid_tests_json": 1, "missing_tests": 4}
    assert out.table.to_pylist() == [
        {"problem": "ok", "starter_code": None, "tests": [_case("1", "1")]},
        {"problem": "ok too", "starter_code": None, "tests": [_case("2", "2")]},
    ]


def test_all_rows_dropped_and_empty_batch_give_empty_tables():
    raw = pa.table({"problem": pa.array([None], pa.string()), "tests": ["[]"]})
    out = convert_code(raw, _ctx(raw, "taco"))
    assert out.table.num_rows == 0 and out.table.schema == FAMILIES["code"].schema
    assert out.dropped == {"missing_tests": 1}  # tests are checked first, as the cookbook does
    empty = raw.slice(0, 0)
    out = convert_code(empty, _ctx(empty, "taco"))
    assert out.table.num_rows == 0 and out.dropped == {}


def test_missing_columns_are_schema_errors():
    raw = pa.table({"tests": ["[]"], "metadata": ["{}"]})
    with pytest.raises(SchemaError) as err:
        convert_code(raw, _ctx(raw, "taco"))
    assert str(err.value) == (
        "none of the columns 'question', 'prompt', 'problem' is present; the source has tests, metadata "
        "[dataset 'deepcoder', config 'taco', split 'train', column 'question']"
    )
    raw = pa.table({"question": ["q"], "solutions": ["[]"]})
    with pytest.raises(SchemaError) as err:
        convert_code(raw, _ctx(raw, "lcbv5", "test"))
    assert str(err.value) == (
        "none of the columns 'tests', 'ground_truth' is present; the source has question, solutions "
        "[dataset 'deepcoder', config 'lcbv5', split 'test', column 'tests']"
    )


def test_normalize_tests_uses_python_str_of_values():
    assert normalize_tests(json.dumps([{"input": {"a": [1, "b", None]}, "output": True}])) == [
        ("{'a': [1, 'b', None]}", "True", "stdin_stdout", None, '{"func_name": null}')
    ]
    assert normalize_tests([{"input": "x", "output": None, "type": "stdin_stdout"}], {"func_name": "f"}) == [
        ("x", "None", "stdin_stdout", None, '{"func_name": null}')
    ]
    assert normalize_tests([{"output": 1.0, "testtype": "functional", "metadata": '{"func_name": 7, "k": "é"}'}]) == [
        ("", "1.0", "functional", "7", '{"func_name": "7", "k": "é"}')
    ]
    assert normalize_tests({"inputs": [[1]], "outputs": [[[2]]], "fn_name": None}, {"func_name": "row"}) == [
        ("[1]", "[2]", "functional", "row", '{"func_name": "row"}')
    ]


def test_deepcoder_catalog_entry():
    spec = CATALOG["deepcoder"]
    assert spec.repo_id == "agentica-org/DeepCoder-Preview-Dataset"
    assert spec.family == "code" and spec.license == "MIT"
    assert spec.partition_keys == [
        "primeintellect/train",
        "taco/train",
        "lcbv5/train",
        "lcbv5/test",
        "codeforces/test",
    ]
    assert spec.default_config == "primeintellect"
    assert spec.converter is CODE_CONVERTER and spec.converter.version == "2"
