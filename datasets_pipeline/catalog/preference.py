"""Preference datasets of the cookbook catalog: labeled comparisons of two completions."""

from __future__ import annotations

from ..convert import preference as convert
from .spec import DatasetSpec, DerivedSplit, held_out


def helpsteer2_test_size(n: int) -> int:
    """HelpSteer2's held-out size: ``min(1024, n // 10)`` of the converted pairs."""
    return min(1024, n // 10)


SPECS: list[DatasetSpec] = [
    DatasetSpec(
        name="hh_rlhf",
        repo_id="Anthropic/hh-rlhf",
        family="preference",
        splits={"default": ("train", "test")},
        converter=convert.HH_RLHF,
        description=(
            "Anthropic HH-RLHF: helpfulness and harmlessness comparisons, each a chosen and a "
            "rejected `Human:`/`Assistant:` transcript. The converter splits both transcripts into "
            "messages and keeps rows whose transcripts differ only in the last message: prompt = the "
            "shared turns, A = the chosen reply, B = the rejected reply, label A. The card lists "
            "160,800 train and 8,552 test rows; the cookbook shuffles train with seed 0 and tests on "
            "the first 1,024 rows of the shuffled test split."
        ),
        license="MIT",
        dataset_dict=(DerivedSplit("train", "train", seed=0), DerivedSplit("test", "test", seed=0, take=1024)),
    ),
    DatasetSpec(
        name="helpsteer3",
        repo_id="nvidia/HelpSteer3",
        family="preference",
        splits={"preference": ("train", "validation")},
        converter=convert.HELPSTEER3,
        description=(
            "HelpSteer3 (preference config): human preferences between two responses to a "
            "multi-turn context. The converter uses `context` as the prompt, `response1` as A and "
            "`response2` as B; `overall_preference` < 0 → A, > 0 → B, ties dropped. The card lists "
            "40,476 preference rows in all (about 38,459 train and 2,017 validation); the cookbook "
            "shuffles train with seed 0 and tests on the first 1,024 rows of the shuffled validation split."
        ),
        license="CC-BY-4.0",
        dataset_dict=(DerivedSplit("train", "train", seed=0), DerivedSplit("test", "validation", seed=0, take=1024)),
    ),
    DatasetSpec(
        name="helpsteer2",
        repo_id="nvidia/HelpSteer2",
        family="preference",
        splits={"default": ("train", "validation")},
        converter=convert.HELPSTEER2,
        description=(
            "HelpSteer2: responses rated 0–4 for helpfulness and four other attributes, two or "
            "more responses per prompt. The converter works on the whole split: per prompt, the "
            "most helpful response (first on ties) is A and the least helpful (last on ties) is B "
            "when their scores differ; label A. The card lists 20,324 train and 1,038 validation "
            "rows; the cookbook builds the pairs from train, shuffles them with seed 0 and holds out "
            "the first min(1024, n // 10)."
        ),
        license="CC-BY-4.0",
        dataset_dict=held_out(helpsteer2_test_size, seed=0, after_convert=True),
    ),
    DatasetSpec(
        name="ultrafeedback",
        repo_id="argilla/ultrafeedback-binarized-preferences",
        family="preference",
        splits={"default": ("train",)},
        converter=convert.ULTRAFEEDBACK,
        description=(
            "UltraFeedback binarized by Argilla: per instruction, the highest-rated response against "
            "a random lower-rated one. The converter makes [user: instruction], A = "
            "`chosen_response`, B = `rejected_response`, label A. The card lists 63,619 train rows; "
            "the cookbook holds out the first 1,024 after `shuffle(seed=0)`."
        ),
        license="MIT",
        dataset_dict=held_out(1024, seed=0),
    ),
    DatasetSpec(
        name="arena140k",
        repo_id="lmarena-ai/arena-human-preference-140k",
        family="preference",
        splits={"default": ("train",)},
        converter=convert.ARENA,
        description=(
            "LMArena human preference 140k: text-arena votes between two anonymous models on the "
            "same conversation. The converter keeps decided votes (model_a or model_b) on text-only "
            "conversations that end with an assistant turn: prompt = the first turn, A and B = the "
            "rest of each side, label from the winner. About 136,000 train rows (the Hub viewer); "
            "the cookbook holds out the first 1,024 after `shuffle(seed=0)`. User prompts are "
            "CC-BY-4.0; model outputs fall under their providers' terms of use."
        ),
        license="CC-BY-4.0",
        dataset_dict=held_out(1024, seed=0),
    ),
    DatasetSpec(
        name="tulu3_preference",
        repo_id="allenai/llama-3.1-tulu-3-8b-preference-mixture",
        family="preference",
        splits={"default": ("train",)},
        converter=convert.TULU3_PREFERENCE,
        description=(
            "The preference mixture AllenAI used for Llama 3.1 Tulu 3 8B DPO. The converter makes "
            "[user: prompt], A = the assistant message of `chosen`, B = that of `rejected` (each "
            "list's second message), label A. The card lists 271,409 train rows; the cookbook holds "
            "out the first 1,024 after `shuffle(seed=0)`."
        ),
        license="ODC-BY",
        dataset_dict=held_out(1024, seed=0),
    ),
]
