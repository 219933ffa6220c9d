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
        "`problem` is the first truthy of question/prompt/problem; `tests` are `tests or ground_truth` "
        "(JSON string or nested) normalized as the cookbook's `_normalize_tests`: TACO `{inputs, outputs, "
        "fn_name}` expanded to one case per index, each case {input, output (Python `str()` of the "
        "values), testtype (default stdin_stdout), fn_name, metadata (the case metadata as JSON)}; "
        "empty `starter_code` becomes null. Rows the cookbook skips are dropped (invalid_tests_json, "
        "missing_tests, missing_problem). The "
        "card describes about 24K verified training problems and gives no per-config row counts."
    ),
)

SPECS: list[DatasetSpec] = [DEEPCODER]
