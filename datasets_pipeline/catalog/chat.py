"""Chat datasets of the cookbook catalog: conversations for supervised fine-tuning."""

from __future__ import annotations

from ..convert import chat as convert
from .spec import DatasetSpec, DerivedSplit, held_out

SPECS: list[DatasetSpec] = [
    DatasetSpec(
        name="tulu3_sft",
        repo_id="allenai/tulu-3-sft-mixture",
        family="chat",
        splits={"default": ("train",)},
        converter=convert.MESSAGES,
        description=(
            "Tulu 3 SFT mixture: AllenAI's instruction-tuning mixture of public and synthetic "
            "conversations. The converter casts `messages` to role/content messages (dropping extra "
            "fields); every row is kept, as the cookbook keeps it. The card lists 939,343 train rows; the "
            "cookbook holds out the first 1,024 rows after `shuffle(seed=0)` as its test set."
        ),
        license="ODC-BY",
        dataset_dict=held_out(1024, seed=0),
    ),
    DatasetSpec(
        name="no_robots",
        repo_id="HuggingFaceH4/no_robots",
        family="chat",
        splits={"default": ("train", "test")},
        converter=convert.MESSAGES,
        description=(
            "No Robots: instructions and demonstrations written by skilled human annotators. The "
            "converter casts `messages` to role/content messages (dropping extra fields); every row "
            "is kept. The card lists 9,500 train and 500 test rows; the cookbook shuffles train "
            "with seed 0."
        ),
        license="CC-BY-NC-4.0",
        dataset_dict=(DerivedSplit("train", "train", seed=0), DerivedSplit("test", "test", seed=None)),
    ),
    DatasetSpec(
        name="openthoughts3",
        repo_id="open-thoughts/OpenThoughts3-1.2M",
        family="chat",
        splits={"default": ("train",)},
        converter=convert.OPENTHOUGHTS,
        description=(
            "OpenThoughts3-1.2M: reasoning traces for math, code and science questions, used for "
            "off-policy reasoning distillation. The converter maps `conversations` of {from, value} "
            "to messages: `human` → user, anything else → assistant. The asset holds the whole train "
            "split (the card lists 1.2M rows); the cookbook's 384,000-row shuffled prefix is not "
            "derived here."
        ),
        license="apache-2.0",
    ),
]
