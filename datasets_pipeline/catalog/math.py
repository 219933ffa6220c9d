"""Math datasets of the cookbook catalog: problems with a reference answer (RL environments)."""

from __future__ import annotations

from ..convert import math as convert
from .spec import DatasetSpec, DerivedSplit

# RL train shuffle(seed=0); a test split, where there is one, as it is.
RL_TRAIN = (DerivedSplit("train", "train", seed=0),)
RL_TRAIN_TEST = (*RL_TRAIN, DerivedSplit("test", "test", seed=None))

HENDRYCKS_CONFIGS = (
    "algebra",
    "counting_and_probability",
    "geometry",
    "intermediate_algebra",
    "number_theory",
    "prealgebra",
    "precalculus",
)

SPECS: list[DatasetSpec] = [
    DatasetSpec(
        name="gsm8k",
        repo_id="openai/gsm8k",
        family="math",
        splits={"main": ("train", "test"), "socratic": ("train", "test")},
        converter=convert.GSM8K,
        dataset_dict=RL_TRAIN_TEST,
        description=(
            "Grade School Math 8K: linguistically diverse grade-school word problems whose step-by-step "
            "answers end in a `#### <number>` line. The converter keeps the question as `problem`, "
            "takes the final answer from the last `####` line (stripped, optional leading colon and "
            "all commas removed; `####` alone gives `""`) and keeps the full answer text as `solution`; "
            "rows without a final answer are dropped, as the cookbook drops them. The card lists 7,473 train and 1,319 test rows in each config "
            "(`main`, and `socratic`, whose solutions interleave sub-questions)."
        ),
        license="MIT",
    ),
    DatasetSpec(
        name="math500",
        repo_id="HuggingFaceH4/MATH-500",
        family="math",
        splits={"default": ("test",)},
        converter=convert.MATH500,
        description=(
            "MATH-500: the 500-problem held-out subset of the MATH competition benchmark used as the "
            "math environment's test set. The converter takes the answer from the last brace-matched "
            "`\\boxed{...}` of the solution (not from the `answer` column, as the cookbook does), "
            "keeps `subject` and the integer `level`; rows without a box are dropped. 500 test rows."
        ),
        license="MIT",
    ),
    DatasetSpec(
        name="hendrycks_math",
        repo_id="EleutherAI/hendrycks_math",
        family="math",
        splits={config: ("train", "test") for config in HENDRYCKS_CONFIGS},
        converter=convert.HENDRYCKS_MATH,
        description=(
            "The MATH competition dataset (Hendrycks et al.) in seven subject configs. The converter "
            "takes the answer from the last brace-matched `\\boxed{...}` of the solution (falling back "
            "to a brace-less `\\boxed 2`), `subject` from `type` and `level` from \"Level 5\" (null for "
            "\"Level ?\"); rows without a box are dropped. The card lists 7,500 train and 5,000 test "
            "problems in all; the cookbook trains on both splits minus the MATH-500 problems (12,000)."
        ),
        license="MIT",
    ),
    DatasetSpec(
        name="deepmath",
        repo_id="zwhe99/DeepMath-103K",
        family="math",
        splits={"default": ("train",)},
        converter=convert.DEEPMATH,
        dataset_dict=RL_TRAIN,
        description=(
            "DeepMath-103K: challenging, decontaminated math problems with verifiable final answers "
            "and three R1 solutions each. The converter keeps `question` as `problem`, "
            "`final_answer` as `answer` and `topic` as `subject` (no solution, no level); rows with "
            "a null or `\"\"` question or answer are dropped (the cookbook's truthiness check). The card lists 103,110 train rows."
        ),
        license="MIT",
    ),
    DatasetSpec(
        name="polaris",
        repo_id="POLARIS-Project/Polaris-Dataset-53K",
        family="math",
        splits={"default": ("train",)},
        converter=convert.POLARIS,
        dataset_dict=RL_TRAIN,
        description=(
            "Polaris-53K: a difficulty-filtered set of math problems with short reference answers, "
            "used for RL on reasoning models. The converter keeps `problem` and `answer` as they are "
            "and drops rows with a null or `\"\"` problem or answer (the cookbook's truthiness check). About 53,291 train rows (third-party "
            "statistics; the card gives no count). The data license was not verified: read it on the "
            "dataset card before redistributing."
        ),
        license="see dataset card",
    ),
]
