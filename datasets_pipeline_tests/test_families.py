"""Family records: the uid algorithm pinned by golden values, every family rule on a failing row,
the records' consistency with the catalog and converters, and the import layering."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import unicodedata
from typing import Any, Callable

import pyarrow as pa
import pytest
import xxhash

from datasets_pipeline.catalog import CATALOG, FAMILY_MODULES
from datasets_pipeline.catalog.spec import DatasetSpec
from datasets_pipeline.convert.chat import MESSAGES as MESSAGES_CONVERTER
from datasets_pipeline.engine.uid import compute_uids
from datasets_pipeline.families import FAMILIES
from datasets_pipeline.steps.validate import family_violations, quality_filter, quality_violations

# --- uid: golden values ---------------------------------------------------------------------------

GOLDEN_ROWS: dict[str, list[dict[str, Any]]] = {
    "math": [
        {"problem": "What is 1 + 1?", "answer": "2", "solution": "1 + 1 = 2", "subject": "arithmetic", "level": 1},
        {"problem": "Find the ﬁrst prime above ２０.", "answer": "23", "solution": None, "subject": None, "level": None},
    ],
    "chat": [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]},
        {"messages": []},
    ],
    "preference": [
        {
            "prompt": [{"role": "user", "content": "Pick one"}],
            "completion_a": [{"role": "assistant", "content": "A"}],
            "completion_b": [{"role": "assistant", "content": None}],
            "label": "Tie",
        },
    ],
    "code": [
        {
            "problem": "Add two numbers.",
            "starter_code": None,
            "tests": [
                {"input": "1 2", "output": "3", "testtype": "stdin_stdout", "fn_name": None, "metadata": "{}"},
                {"input": "[1, 2]", "output": "3", "testtype": "functional", "fn_name": "add", "metadata": '{"func_name": "add"}'},
            ],
        },
    ],
    "vision": [{"image": {"bytes": b"\x89PNG\r\n\x1a\n", "path": "a.png"}, "label": 3, "label_name": "stop sign"}],
    "mcq": [{"question": "2 + 2 = ?", "choices": ["3", "4", "5", "6"], "answer": 1, "subject": "elementary_mathematics"}],
}
# Written down once from the implementation (and equal to the reference below): a change of the
# serialization, the normalization or the hash changes them, and needs a converter version bump.
GOLDEN_UIDS = {
    "math": ["104af3935167adbd47bb0e57cfb63e18", "3b033d9c3caa650496380c6461be7745"],
    "chat": ["0423782af70da24c4bc043abbe60a440", "6b1433c0585e0161cf5b6934e5b9cdc3"],
    "preference": ["1fc5b857327e25ca8b94186fce580cfd"],
    "code": ["aaf297508b62b0e588c2eeda0269ade7"],  # test cases with metadata (code converter v2)
    "vision": ["8939eeb891e138473c194dacb09a8c75"],
    "mcq": ["03e91147e3147ba488fd00708c4664d3"],
}


def _reference_serialize(value: Any, arrow_type: pa.DataType) -> bytes:
    """The documented serialization (``engine/uid.py``'s docstring), one Python value at a time."""
    if value is None:
        return b"N"
    if pa.types.is_string(arrow_type):
        return b"S" + xxhash.xxh3_128_digest(unicodedata.normalize("NFKC", value).encode())
    if pa.types.is_binary(arrow_type):
        return b"B" + xxhash.xxh3_128_digest(value)
    if pa.types.is_integer(arrow_type):
        return b"I" + str(value).encode()
    if pa.types.is_list(arrow_type):
        items = b"".join(_reference_serialize(v, arrow_type.value_type) for v in value)
        return b"L" + str(len(value)).encode() + b":" + items
    if pa.types.is_struct(arrow_type):
        fields = (arrow_type.field(i) for i in range(arrow_type.num_fields))
        return b"{" + b"".join(f.name.encode() + b"=" + _reference_serialize(value[f.name], f.type) + b";" for f in fields)
    raise TypeError(arrow_type)


def _reference_uid(row: dict[str, Any], schema: pa.Schema) -> str:
    record = b"".join(f.name.encode() + b"=" + _reference_serialize(row[f.name], f.type) + b";" for f in schema)
    return xxhash.xxh3_128_hexdigest(record)


@pytest.mark.parametrize("family", sorted(GOLDEN_ROWS))
def test_uid_golden_values(family):
    schema = FAMILIES[family].schema
    table = pa.Table.from_pylist(GOLDEN_ROWS[family], schema=schema)
    assert compute_uids(table, schema.names).to_pylist() == GOLDEN_UIDS[family]
    assert [_reference_uid(row, schema) for row in GOLDEN_ROWS[family]] == GOLDEN_UIDS[family]


def test_uid_is_nfkc_normalized_and_batch_independent():
    schema = FAMILIES["math"].schema
    compatible = dict(GOLDEN_ROWS["math"][1], problem="Find the first prime above 20.")
    table = pa.Table.from_pylist([compatible], schema=schema)
    assert compute_uids(table, schema.names).to_pylist() == GOLDEN_UIDS["math"][1:]
    two_batches = pa.Table.from_batches(pa.Table.from_pylist(GOLDEN_ROWS["math"], schema=schema).to_batches(max_chunksize=1))
    assert compute_uids(two_batches, schema.names).to_pylist() == GOLDEN_UIDS["math"]


# --- family rules: one failing row per rule ---------------------------------------------------------

USER = {"role": "user", "content": "Question?"}
ASSISTANT = {"role": "assistant", "content": "Answer."}
GOOD: dict[str, dict[str, Any]] = {
    "math": {"problem": "1 + 1?", "answer": "2", "solution": None, "subject": None, "level": None},
    "chat": {"messages": [USER, ASSISTANT]},
    "preference": {"prompt": [USER], "completion_a": [ASSISTANT], "completion_b": [ASSISTANT], "label": "A"},
    "code": {"problem": "Add.", "starter_code": None,
             "tests": [{"input": "1 2", "output": "3", "testtype": "stdin_stdout", "fn_name": None, "metadata": "{}"}]},
    "vision": {"image": {"bytes": b"png", "path": "a.png"}, "label": 2, "label_name": "cat"},
    "mcq": {"question": "Which?", "choices": ["a", "b", "c", "d"], "answer": 3, "subject": "logic"},
    "humaneval": {"task_id": "HumanEval/0", "prompt": "def f():", "canonical_solution": "  pass", "test": "def check(f): pass", "entry_point": "f"},
}
Bad = Callable[[dict[str, Any]], dict[str, Any]]


def _set(**changes: Any) -> Bad:
    return lambda row: {**row, **changes}


def _messages_cases(column: str) -> list[tuple[str, Bad]]:
    return [
        (f"{column}_empty", _set(**{column: []})),
        (f"{column}_invalid_role", _set(**{column: [{"role": "narrator", "content": "Once"}]})),
        (f"{column}_null_content", _set(**{column: [{"role": "assistant", "content": None}]})),
    ]


CASES: list[tuple[str, str, Bad]] = [  # blocking family rules: invariants of the cookbook's own output
    ("math", "null_answer", _set(answer=None)),
    ("preference", "label_not_A_B_Tie", _set(label="C")),
    ("preference", "completion_a_empty", _set(completion_a=[])),
    ("preference", "completion_b_empty", _set(completion_b=[])),
    ("code", "empty_problem", _set(problem="")),
    ("code", "no_tests", _set(tests=[])),
    ("vision", "label_out_of_range", _set(label=-1)),
    ("vision", "image_without_bytes", _set(image={"bytes": None, "path": "a.png"})),
    ("mcq", "empty_question", _set(question="\n")),
    ("mcq", "answer_not_a_choice", _set(answer=4)),
    *[("humaneval", f"empty_{c}", _set(**{c: " "})) for c in ("task_id", "prompt", "test", "entry_point")],
]
QUALITY_CASES: list[tuple[str, str, Bad]] = [  # opt-in quality rules: stricter than the cookbook
    ("math", "empty_problem", _set(problem="  ")),
    ("math", "empty_answer", _set(answer=" ")),
    *[("chat", rule, bad) for rule, bad in _messages_cases("messages")],
    *[("preference", rule, bad) for rule, bad in _messages_cases("prompt")],
    *[("preference", rule, bad) for c in ("completion_a", "completion_b") for rule, bad in _messages_cases(c)[1:]],
    ("code", "functional_without_fn_name",
     _set(tests=[{"input": "[1]", "output": "1", "testtype": "functional", "fn_name": None, "metadata": "{}"}])),
]


def _rules_table(family: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=FAMILIES[family].schema)


@pytest.mark.parametrize("family", sorted(GOOD))
def test_good_rows_break_no_rule(family):
    counts = family_violations(_rules_table(family, [GOOD[family]] * 3), family, num_classes=3)
    assert set(counts.values()) <= {0} and (counts or family == "chat")  # the chat builders keep every row


@pytest.mark.parametrize("family, rule, bad", CASES, ids=[f"{f}-{r}" for f, r, _ in CASES])
def test_each_rule_counts_exactly_its_failing_row(family, rule, bad):
    good = GOOD[family]
    table = _rules_table(family, [good, bad(good), good])
    counts = family_violations(table, family, num_classes=3)
    assert counts == {r: int(r == rule) for r in counts}
    assert rule in counts


def test_every_rule_of_every_family_has_a_failing_case():
    for family in FAMILIES:
        rules = set(family_violations(_rules_table(family, [GOOD[family]]), family))
        assert rules == {r for f, r, _ in CASES if f == family}, family
        quality = set(quality_violations(_rules_table(family, [GOOD[family]]), family))
        assert quality == {r for f, r, _ in QUALITY_CASES if f == family}, family


@pytest.mark.parametrize("family", sorted(GOOD))
def test_good_rows_break_no_quality_rule(family):
    counts = quality_violations(_rules_table(family, [GOOD[family]] * 3), family)
    assert set(counts.values()) <= {0}


@pytest.mark.parametrize("family, rule, bad", QUALITY_CASES, ids=[f"{f}-{r}" for f, r, _ in QUALITY_CASES])
def test_each_quality_rule_counts_exactly_its_failing_row_and_filter_drops_it(family, rule, bad):
    good = GOOD[family]
    table = _rules_table(family, [good, bad(good), good])
    counts = quality_violations(table, family)
    assert counts == {r: int(r == rule) for r in counts} and rule in counts
    assert family_violations(table, family, num_classes=3) == {r: 0 for r in family_violations(table, family)}
    assert quality_filter(table, family, rules=[rule]).to_pylist() == [good, good]


def test_vision_label_is_checked_against_the_class_count():
    table = _rules_table("vision", [GOOD["vision"], _set(label=3)(GOOD["vision"])])
    assert family_violations(table, "vision", num_classes=3)["label_out_of_range"] == 1
    assert family_violations(table, "vision", num_classes=4)["label_out_of_range"] == 0
    assert family_violations(table, "vision")["label_out_of_range"] == 0  # unknown class count: only >= 0


def test_unknown_family_is_an_error():
    with pytest.raises(ValueError, match="unknown family 'poetry'; families: math, chat, preference"):
        family_violations(pa.table({"a": [1]}), "poetry")
    with pytest.raises(ValueError, match="dataset 'x': unknown family 'poetry'"):
        DatasetSpec(name="x", repo_id="o/x", family="poetry", splits={"default": ("train",)},
                    converter=MESSAGES_CONVERTER, description="", license="")  # fmt: skip


# --- the records against the catalog and the converters ------------------------------------------------


def test_family_records():
    assert list(FAMILIES) == ["math", "chat", "preference", "code", "vision", "mcq", "humaneval"]
    assert {name: f.group for name, f in FAMILIES.items()} == {
        "math": "math", "chat": "chat", "preference": "preference", "code": "code", "vision": "vision",
        "mcq": "eval", "humaneval": "eval",
    }  # fmt: skip
    assert FAMILY_MODULES == ("math", "chat", "preference", "code", "vision", "eval")
    assert FAMILIES["mcq"].schema.names == ["question", "choices", "answer", "subject"]
    assert FAMILIES["chat"].cookbook_schema.names == ["messages", "source_row", "uid"]
    assert list(FAMILIES["chat"].cookbook_docs) == ["messages", "source_row", "uid"]
    for family in FAMILIES.values():
        assert list(family.column_docs) == family.schema.names
        assert all(doc and "\n" not in doc for doc in family.cookbook_docs.values())


def test_every_spec_uses_its_family_modules():
    for name, spec in CATALOG.items():
        family = FAMILIES[spec.family]
        assert spec in importlib.import_module(f"datasets_pipeline.catalog.{family.module}").SPECS, name
        fn = getattr(spec.converter.fn, "__wrapped__", spec.converter.fn)
        assert fn.__module__ == f"datasets_pipeline.convert.{family.module}", name
        assert spec.group == family.group and spec.schema == family.cookbook_schema


def test_column_docs_reach_the_cookbook_asset():
    import dagster as dg

    from datasets_pipeline.defs.cookbook import build_cookbook_asset

    asset = build_cookbook_asset(CATALOG["gsm8k"])
    columns = asset.metadata_by_key[dg.AssetKey(["cookbook", "gsm8k"])]["dagster/column_schema"].columns
    assert [(c.name, c.type, c.description) for c in columns][:2] == [
        ("problem", "string", "The problem statement."),
        ("answer", "string", "The final answer the reward is checked against."),
    ]
    assert columns[-1].name == "uid" and columns[-1].description.startswith("Hex xxh3-128")


def test_convert_never_imports_the_catalog():
    code = (
        "import sys, pkgutil, importlib, datasets_pipeline.convert as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module(f'datasets_pipeline.convert.{m.name}')\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith('datasets_pipeline.'))))"
    )
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert "datasets_pipeline.convert.vision" in loaded and "datasets_pipeline.families" in loaded
    assert not [n for n in loaded if n.startswith("datasets_pipeline.catalog")]
