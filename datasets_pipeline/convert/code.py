"""Code RL converter (DeepCoder: primeintellect, taco, lcbv5, codeforces).

Follows the cookbook's ``code_rl`` normalization:

- ``problem``: the first non-empty of ``question``, ``prompt``, ``problem`` (the raw text; the
  LiveCodeBench prompt is built at training time).
- ``tests``: ``tests`` else ``ground_truth``, a JSON string or already nested list/dict. A TACO
  dict ``{inputs, outputs, fn_name}`` gives one case per index (a missing index repeats
  element 0, a list output becomes its element 0, a non-null ``fn_name`` makes the case
  ``functional``); a single case dict is wrapped in a list; non-dict items are skipped.
  A case is ``{input, output, testtype, fn_name}``: ``input``/``output`` as strings
  (non-strings JSON-encoded, missing → ``""``); ``testtype`` from ``testtype``, else the
  PrimeIntellect ``type`` key (``function_call`` → ``functional``), else ``stdin_stdout``;
  ``fn_name`` from the case (``fn_name``, ``func_name`` or its ``metadata.func_name``), else the
  row ``metadata``'s ``func_name`` (JSON string or struct), else null.
- ``starter_code``: nullable; empty or whitespace-only → null.

Dropped rows, by reason (each row counted once, checked in this order):

- ``missing_problem``: no non-empty question/prompt/problem.
- ``invalid_tests_json``: the tests string is not valid JSON.
- ``missing_tests``: no tests/ground_truth value, or it yields no test case.

The tests payloads are JSON documents per row, so parsing and case normalization run in one
Python pass per row (one ``json.loads`` per row); every column-level step (problem choice,
starter code, metadata of nested columns, filtering, assembling the output arrays) is
vectorized.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import SchemaError
from ..families.schemas import TEST_CASE
from .common import conform
from .context import ConvertContext, Converted, FunctionConverter

FAMILY = "code"
PROBLEM_COLUMNS = ("question", "prompt", "problem")
TESTS_COLUMNS = ("tests", "ground_truth")

_INVALID = object()  # marker: the tests string is not JSON


def _first_present(table: pa.Table, candidates: tuple[str, ...], ctx: ConvertContext) -> list[str]:
    """The candidate columns present in ``table``; SchemaError naming all of them when none is."""
    present = [c for c in candidates if c in table.column_names]
    if not present:
        raise SchemaError(
            f"none of the columns {', '.join(map(repr, candidates))} is present; "
            f"the source has {', '.join(table.column_names) or 'no columns'}",
            **ctx.where, column=candidates[0],
        )
    return present


def _non_empty_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A string column with empty / whitespace-only values turned into nulls."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_null(column.type):  # an all-null shard column
        return pa.nulls(len(column), pa.string())
    column = column.cast(pa.string())
    blank = pc.equal(pc.utf8_trim_whitespace(column), "")
    return pc.if_else(blank, pa.scalar(None, pa.string()), column)


def _problem(table: pa.Table, ctx: ConvertContext) -> pa.Array:
    """First non-empty of question | prompt | problem, vectorized with ``coalesce``."""
    present = _first_present(table, PROBLEM_COLUMNS, ctx)
    columns = [_non_empty_text(table.column(c)) for c in present]
    return columns[0] if len(columns) == 1 else pc.coalesce(*columns)


def _starter_code(table: pa.Table) -> pa.Array:
    if "starter_code" not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return _non_empty_text(table.column("starter_code"))


def _as_dict(value: Any) -> dict:
    """A metadata value (JSON string, dict, or anything else) as a dict; unreadable → ``{}``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _row_func_names(table: pa.Table) -> list[str | None]:
    """``metadata.func_name`` per row: a struct column is read by field, a string column parsed."""
    n = table.num_rows
    if "metadata" not in table.column_names:
        return [None] * n
    column = table.column("metadata").combine_chunks()
    if pa.types.is_struct(column.type):
        if column.type.get_field_index("func_name") < 0:
            return [None] * n
        names = pc.struct_field(column, "func_name")
        return names.cast(pa.string()).to_pylist()
    # JSON strings (or maps): one parse per row.
    return [_as_dict(m).get("func_name") if m is not None else None for m in column.to_pylist()]


def _text(value: Any) -> str:
    """A test input/output as a string: strings as-is, None → ``""``, anything else JSON-encoded."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def _taco_cases(tests: dict) -> list[dict]:
    """TACO ``{inputs, outputs[, fn_name]}`` → LiveCodeBench-style cases (``taco_to_lcb_format``)."""
    inputs = tests.get("inputs") or []
    outputs = tests.get("outputs") or []
    functional = tests.get("fn_name") is not None
    cases = []
    for i in range(max(len(inputs), len(outputs))):
        inp = inputs[i] if i < len(inputs) else (inputs[0] if inputs else "")
        out = outputs[i] if i < len(outputs) else (outputs[0] if outputs else "")
        if isinstance(out, list):
            out = out[0] if out else ""
        case = {"input": inp, "output": out, "testtype": "functional" if functional else "stdin_stdout"}
        if functional:
            case["fn_name"] = tests["fn_name"]
        cases.append(case)
    return cases


def _testtype(case: dict) -> str:
    testtype = case.get("testtype")
    if testtype:
        return str(testtype)
    kind = case.get("type")
    if kind:
        return "functional" if kind == "function_call" else str(kind)
    return "stdin_stdout"


def _fn_name(case: dict, row_fn_name: Any) -> str | None:
    name = case.get("fn_name") or case.get("func_name") or _as_dict(case.get("metadata")).get("func_name")
    name = name or row_fn_name
    return None if name is None else str(name)


def normalize_tests(raw: Any, row_fn_name: Any = None) -> list[tuple[str, str, str, str | None]] | object:
    """One row's tests value → ``[(input, output, testtype, fn_name), ...]``; ``_INVALID`` for bad JSON."""
    tests = raw
    if isinstance(tests, (str, bytes)):
        try:
            tests = json.loads(tests)
        except ValueError:
            return _INVALID
    if isinstance(tests, dict) and "inputs" in tests and "outputs" in tests:
        tests = _taco_cases(tests)
    if isinstance(tests, dict):
        tests = [tests]
    if not isinstance(tests, list):
        return []
    return [
        (_text(c.get("input")), _text(c.get("output")), _testtype(c), _fn_name(c, row_fn_name))
        for c in tests
        if isinstance(c, dict)
    ]


def _tests_values(table: pa.Table, ctx: ConvertContext) -> list[Any]:
    """Per row: the ``tests`` value, else ``ground_truth`` (Python objects; empty → next column)."""
    present = _first_present(table, TESTS_COLUMNS, ctx)
    values = table.column(present[0]).to_pylist()
    for other in present[1:]:
        fallback = table.column(other).to_pylist()
        values = [v if v else f for v, f in zip(values, fallback)]
    return values


def _tests_array(rows: list[list[tuple[str, str, str, str | None]]]) -> pa.Array:
    """``list<struct<input, output, testtype, fn_name>>`` built from flat columns and offsets."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int32, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = [case for r in rows for case in r]
    fields = list(zip(*flat)) if flat else [(), (), (), ()]
    children = [pa.array(list(values), pa.string()) for values in fields]
    cases = pa.StructArray.from_arrays(children, fields=list(TEST_CASE))
    return pa.ListArray.from_arrays(pa.array(offsets), cases, type=pa.list_(TEST_CASE))


def convert_code(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Raw DeepCoder rows → ``problem``, ``starter_code``, ``tests``."""
    problem = _problem(table, ctx)
    starter = _starter_code(table)
    raw_tests = _tests_values(table, ctx)
    fn_names = _row_func_names(table)

    has_problem = problem.is_valid().to_numpy(zero_copy_only=False)
    dropped: dict[str, int] = {}
    if not has_problem.all():
        dropped["missing_problem"] = int((~has_problem).sum())

    keep = has_problem.copy()
    parsed: list[list[tuple[str, str, str, str | None]]] = []
    invalid = missing = 0
    # One JSON parse + case normalization per row (the payloads are per-row JSON documents).
    for i in np.flatnonzero(has_problem).tolist():
        cases = normalize_tests(raw_tests[i], fn_names[i]) if raw_tests[i] else []
        if cases is _INVALID:
            invalid += 1
            keep[i] = False
        elif not cases:
            missing += 1
            keep[i] = False
        else:
            parsed.append(cases)
    if invalid:
        dropped["invalid_tests_json"] = invalid
    if missing:
        dropped["missing_tests"] = missing

    mask = pa.array(keep)
    out = pa.table(
        {
            "problem": problem.filter(mask),
            "starter_code": starter.filter(mask),
            "tests": _tests_array(parsed),
        }
    )
    return Converted(conform(out, FAMILY, ctx), dropped)


CODE_CONVERTER = FunctionConverter(convert_code, version="1")
