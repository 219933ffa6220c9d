"""Eval datasets of the cookbook catalog: MMLU (multiple choice) and HumanEval."""

from __future__ import annotations

from ..convert.eval import HUMANEVAL_CONVERTER, MCQ_CONVERTER
from .spec import DatasetSpec

# The 57 subject configs of cais/mmlu, in the card's order.
MMLU_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics", "econometrics",
    "electrical_engineering", "elementary_mathematics", "formal_logic", "global_facts",
    "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_european_history", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_mathematics", "high_school_microeconomics",
    "high_school_physics", "high_school_psychology", "high_school_statistics",
    "high_school_us_history", "high_school_world_history", "human_aging", "human_sexuality",
    "international_law", "jurisprudence", "logical_fallacies", "machine_learning", "management",
    "marketing", "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations", "security_studies",
    "sociology", "us_foreign_policy", "virology", "world_religions",
)

MMLU = DatasetSpec(
    name="mmlu",
    repo_id="cais/mmlu",
    family="mcq",
    splits={
        **{subject: ("test", "validation", "dev") for subject in MMLU_SUBJECTS},
        "all": ("auxiliary_train", "test", "validation", "dev"),
        "auxiliary_train": ("train",),
    },
    converter=MCQ_CONVERTER,
    license="MIT",
    default_config_name="all",
    description=(
        "MMLU (Hendrycks et al.): four-way multiple-choice questions in 57 subjects, one config per "
        "subject plus `all` (every subject, and the auxiliary training set) and `auxiliary_train`. "
        "Rows keep `question`, `choices` (4 strings) and `answer` (int64 ClassLabel A-D); `subject` is "
        "the row's subject, else the config name (`auxiliary_train` rows carry none). The "
        "`auxiliary_train` config's nested `train` struct is unnested. Rows without a question, "
        "without choices or with an answer that is not a choice index are dropped (missing_question, "
        "missing_choices, invalid_answer). Card: `all` has 14,042 test, 1,531 validation, 285 dev "
        "and 99,842 auxiliary_train rows."
    ),
)

HUMANEVAL = DatasetSpec(
    name="humaneval",
    repo_id="openai/openai_humaneval",
    family="humaneval",
    splits={"openai_humaneval": ("test",)},
    converter=HUMANEVAL_CONVERTER,
    license="MIT",
    description=(
        "HumanEval (Chen et al., 2021): 164 hand-written Python programming problems, each a function "
        "signature and docstring (`prompt`), a reference body (`canonical_solution`), a `check()` "
        "test program (`test`) and the function name (`entry_point`). The Hub columns are kept "
        "unchanged with `task_id` (HumanEval/0 … HumanEval/163); rows without a task id are dropped "
        "(missing_task_id). Card: 164 test rows."
    ),
)

SPECS: list[DatasetSpec] = [MMLU, HUMANEVAL]
