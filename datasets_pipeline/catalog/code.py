"""Code datasets of the cookbook catalog: DeepCoder (code RL)."""

from __future__ import annotations

from ..convert.code import CODE_CONVERTER
from .spec import DatasetSpec

DEEPCODER = DatasetSpec(
    name="deepcoder",
    repo_id="agentica-org/DeepCoder-Preview-Dataset",
    family="code",
    splits={
        "primeintellect": ("train",),
        "taco": ("train",),
        "lcbv5": ("train", "test"),
        "codeforces": ("test",),
    },
    converter=CODE_CONVERTER,
    license="MIT",
    description=(
        "DeepCoder-Preview: verifiable coding problems with test cases, used by the cookbook's code RL "
        "recipe (train = primeintellect + taco + lcbv5 train, test = codeforces + lcbv5 test). "
        "`problem` is the first non-empty of question/prompt/problem; `tests` come from `tests` else "
        "`ground_truth` (JSON string or nested), TACO `{inputs, outputs, fn_name}` expanded to one case "
        "per index, each case {input, output, testtype (default stdin_stdout), fn_name (the case's or "
        "the row metadata's func_name)}; empty `starter_code` becomes null. Rows without a problem or "
        "without any test case are dropped (missing_problem, invalid_tests_json, missing_tests). The "
        "card describes about 24K verified training problems and gives no per-config row counts."
    ),
)

SPECS: list[DatasetSpec] = [DEEPCODER]
