"""Code RL converter (DeepCoder: primeintellect, taco, lcbv5, codeforces).

Follows the cookbook's ``code_rl`` loader (``load_deepcoder_tasks``, ``_normalize_tests``,
``taco_to_lcb_format``) row for row:

- ``tests``: ``tests or ground_truth`` (Python truthiness), a JSON string or already nested
  list/dict. A dict with ``inputs`` and ``outputs`` (TACO) gives one case per index (a missing
  index repeats element 0, a list output becomes its element 0; ``fn_name`` present makes the case
  ``functional`` with ``metadata.func_name``); a single case dict is wrapped in a list; non-dict
  items are skipped. Each case is ``{input, output, testtype, fn_name, metadata}``:
  ``input``/``output`` are ``str(value)`` with Python's semantics (``[1, 'a', True]``, a missing key
  → ``""``); ``testtype`` is the case's ``testtype`` or ``stdin_stdout`` (a PrimeIntellect
  ``{"type": "function_call", "fn_name": …}`` case is ``stdin_stdout`` as the cookbook yields it);
  ``metadata`` is the case's metadata dict, for a functional case with ``func_name`` filled from
  the row ``metadata`` when missing, ``{"func_name": null}`` when empty, kept as a JSON string
  (``json.dumps``, key order kept, non-ASCII unescaped); ``fn_name`` is that metadata's
  ``func_name`` (a string, or null).
- ``problem``: the first truthy of ``question``, ``prompt``, ``problem`` (the raw text; the
  LiveCodeBench prompt is built at training time).
- ``starter_code``: nullable; empty or whitespace-only → null.

Dropped rows, by reason (each row counted once, in the cookbook's order):

- ``invalid_tests_json``: the tests string is not valid JSON.
- ``missing_tests``: no tests/ground_truth value, or it yields no test case.
- ``missing_problem``: the first truthy question/prompt/problem is missing or whitespace only.

The tests payloads are JSON documents per row and the cookbook's values are Python ``str()`` of
the parsed values, so parsing and case normalization run in one Python pass per row, confined to
the ``tests`` column; every other step (problem choice, starter code, filtering, assembling the
output arrays) is vectorized.
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


def _truthy_text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A string column with ``""`` turned into null (Python's ``or`` skips only falsy values)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    column = column.cast(pa.string())
    return pc.if_else(pc.equal(pc.binary_length(column), 0), pa.scalar(None, pa.string()), column)


def _problem(table: pa.Table, ctx: ConvertContext) -> pa.Array:
    """``question or prompt or problem``, vectorized with ``coalesce``; null when it is blank."""
    present = _first_present(table, PROBLEM_COLUMNS, ctx)
    columns = [_truthy_text(table.column(c)) for c in present]
    first = columns[0] if len(columns) == 1 else pc.coalesce(*columns)
    blank = pc.equal(pc.utf8_trim_whitespace(first), "")
    return pc.if_else(pc.fill_null(blank, False), pa.scalar(None, pa.string()), first)


def _starter_code(table: pa.Table) -> pa.Array:
    if "starter_code" not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return _non_empty_text(table.column("starter_code"))


def _as_dict(value: Any) -> dict:
    """The cookbook's ``_ensure_dict``: a JSON string or dict as a dict; anything else → ``{}``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _row_metadata(table: pa.Table) -> list[dict]:
    """Each row's ``metadata`` as a dict (a struct column read by field, a JSON string parsed)."""
    if "metadata" not in table.column_names:
        return [{}] * table.num_rows
    return [_as_dict(m) for m in table.column("metadata").to_pylist()]


def _taco_cases(tests: dict) -> list[dict]:
    """TACO ``{inputs, outputs[, fn_name]}`` → LiveCodeBench-style cases (``taco_to_lcb_format``)."""
    inputs = tests.get("inputs") or []
    outputs = tests.get("outputs") or []
    functional = "fn_name" in tests
    cases = []
    for i in range(max(len(inputs), len(outputs))):
        inp = inputs[i] if i < len(inputs) else (inputs[0] if inputs else "")
        out = outputs[i] if i < len(outputs) else (outputs[0] if outputs else "")
        if isinstance(out, list):
            out = out[0] if out else ""
        case: dict[str, Any] = {"input": inp, "output": out, "metadata": {}}
        if functional:
            case["testtype"] = "functional"
            case["metadata"]["func_name"] = tests["fn_name"]
        else:
            case["testtype"] = "stdin_stdout"
        cases.append(case)
    return cases


Case = tuple[str, str, str, "str | None", str]


def _metadata_json(metadata: dict) -> str:
    return json.dumps(metadata, ensure_ascii=False, default=str)


def normalize_tests(raw: Any, row_metadata: dict | None = None) -> list[Case] | object:
    """One row's tests value → ``[(input, output, testtype, fn_name, metadata_json), ...]``.

    The cookbook's ``_normalize_tests``; ``_INVALID`` for a string that is not JSON.
    """
    row_metadata = row_metadata or {}
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
    out: list[Case] = []
    for case in tests:
        if not isinstance(case, dict):
            continue
        testtype = case.get("testtype") or "stdin_stdout"
        metadata = _as_dict(case.get("metadata", {}))
        if testtype == "functional":
            name = metadata.get("func_name") or row_metadata.get("func_name")
            if name is not None:
                metadata["func_name"] = str(name)
        metadata = metadata or {"func_name": None}
        fn_name = metadata.get("func_name")
        out.append(
            (
                str(case.get("input", "")),
                str(case.get("output", "")),
                str(testtype),
                None if fn_name is None else str(fn_name),
                _metadata_json(metadata),
            )
        )
    return out


def _tests_values(table: pa.Table, ctx: ConvertContext) -> list[Any]:
    """Per row: ``tests or ground_truth`` (Python objects; a falsy value falls through)."""
    present = _first_present(table, TESTS_COLUMNS, ctx)
    values = table.column(present[0]).to_pylist()
    for other in present[1:]:
        fallback = table.column(other).to_pylist()
        values = [v if v else f for v, f in zip(values, fallback)]
    return values


def _tests_array(rows: list[list[Case]]) -> pa.Array:
    """``list<struct<input, output, testtype, fn_name, metadata>>`` built from flat columns and offsets."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int32, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = [case for r in rows for case in r]
    fields = list(zip(*flat)) if flat else [()] * TEST_CASE.num_fields
    children = [pa.array(list(values), pa.string()) for values in fields]
    cases = pa.StructArray.from_arrays(children, fields=list(TEST_CASE))
    return pa.ListArray.from_arrays(pa.array(offsets), cases, type=pa.list_(TEST_CASE))


def convert_code(table: pa.Table, ctx: ConvertContext) -> Converted:
    """Raw DeepCoder rows → ``problem``, ``starter_code``, ``tests``."""
    problem = _problem(table, ctx)
    starter = _starter_code(table)
    raw_tests = _tests_values(table, ctx)
    metadata = _row_metadata(table)

    keep = np.zeros(table.num_rows, dtype=bool)
    invalid = np.zeros(table.num_rows, dtype=bool)
    parsed: list[list[Case]] = []
    for i, value in enumerate(raw_tests):  # one JSON parse + case normalization per row
        cases = normalize_tests(value, metadata[i]) if value else []
        if cases is _INVALID:
            invalid[i] = True
        elif cases:
            keep[i] = True
            parsed.append(cases)  # type: ignore[arg-type]
    has_problem = problem.is_valid().to_numpy(zero_copy_only=False)
    dropped: dict[str, int] = {}
    for reason, count in (
        ("invalid_tests_json", int(invalid.sum())),
        ("missing_tests", int((~keep & ~invalid).sum())),
        ("missing_problem", int((keep & ~has_problem).sum())),
    ):
        if count:
            dropped[reason] = count
    with_tests = np.flatnonzero(keep)
    parsed = [parsed[j] for j in np.flatnonzero(has_problem[with_tests]).tolist()]
    keep &= has_problem

    mask = pa.array(keep)
    out = pa.table(
        {
            "problem": problem.filter(mask),
            "starter_code": starter.filter(mask),
            "tests": _tests_array(parsed),
        }
    )
    return Converted(conform(out, FAMILY, ctx), dropped, None if keep.all() else np.flatnonzero(keep))


CODE_CONVERTER = FunctionConverter(convert_code, version="2")
