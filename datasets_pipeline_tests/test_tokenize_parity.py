"""Tokens and weights equal to the tinker cookbook's renderers (tinker-cookbook 0.6.1).

The reference outputs were made by ``reference/make_tokenize_reference.py`` with the real
cookbook package and the committed tokenizer ``reference/tokenize_tokenizer.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datasets_pipeline.tokenize.encoder import open_encoder
from datasets_pipeline.tokenize.profiles import Profile, TokenizerSpec
from datasets_pipeline.tokenize.tokenize_table import ProfileTokenizer, tokenize_table

REFERENCE = Path(__file__).parent / "reference"
REF = json.loads((REFERENCE / "tokenize_reference.json").read_text(encoding="utf-8"))
TOKENIZER_FILE = REFERENCE / "tokenize_tokenizer.json"
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGE_T = pa.struct([("role", pa.string()), ("content", pa.string()), ("trainable", pa.bool_())])


def profile(renderer: str, train_on_what: str = "all_assistant_messages", max_length: int | None = None) -> Profile:
    return Profile("ref", TokenizerSpec("path", path=TOKENIZER_FILE), renderer, train_on_what, max_length)


@pytest.fixture(scope="module")
def encoder():
    return open_encoder(TOKENIZER_FILE)


def chat_table(train_on_what: str) -> tuple[list[str], pa.Table]:
    names = list(REF["conversations"])
    convs = [REF["conversations"][n] for n in names]
    if train_on_what == "customized":
        convs = [[{**m, "trainable": i % 2 == 1} for i, m in enumerate(c)] for c in convs]
        column = pa.array(convs, pa.list_(MESSAGE_T))
    else:
        column = pa.array(convs, pa.list_(MESSAGE))
    return names, pa.table({"messages": column, "uid": [f"u{i}" for i in range(len(names))], "source_row": pa.array(range(len(names)), pa.int64())})


def cases(renderer: str, train_on_what: str) -> dict[str, dict]:
    return {
        c["conversation"]: c
        for c in REF["supervised"]
        if c["renderer"] == renderer and c["train_on_what"] == train_on_what
    }


TRAIN_ON_WHAT = sorted({c["train_on_what"] for c in REF["supervised"]})
RENDERERS = sorted({c["renderer"] for c in REF["supervised"]})


def test_reference_covers_what_the_acceptance_asks():
    assert REF["tinker_cookbook"] == "0.6.1"
    assert set(RENDERERS) == {"role_colon", "llama3", "qwen3", "qwen3_instruct"}
    assert len(TRAIN_ON_WHAT) == 7
    assert len(REF["supervised"]) == 4 * 7 * len(REF["conversations"])


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("train_on_what", TRAIN_ON_WHAT)
def test_supervised_example_equals_cookbook(encoder, renderer: str, train_on_what: str):
    names, table = chat_table(train_on_what)
    out = tokenize_table(table, ProfileTokenizer(profile(renderer, train_on_what), encoder), batch_rows=5)
    expected = cases(renderer, train_on_what)
    assert out.column("uid").to_pylist() == table.column("uid").to_pylist()
    assert out.column("source_row").to_pylist() == list(range(len(names)))
    assert out.schema.field("tokens").type == pa.list_(pa.int32())
    assert out.schema.field("weights").type == pa.list_(pa.uint8())
    for i, name in enumerate(names):
        ref = expected[name]
        assert out.column("tokens")[i].as_py() == ref["tokens"], (renderer, train_on_what, name)
        assert out.column("weights")[i].as_py() == ref["weights"], (renderer, train_on_what, name)
        assert out.column("length")[i].as_py() == len(ref["tokens"])


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("max_length", REF["max_lengths"])
@pytest.mark.parametrize("train_on_what", ["all_assistant_messages", "all_tokens", "last_assistant_message"])
def test_truncation_equals_datum_from_model_input_weights(encoder, renderer, max_length, train_on_what):
    names, table = chat_table(train_on_what)
    out = tokenize_table(table, ProfileTokenizer(profile(renderer, train_on_what, max_length), encoder))
    expected = cases(renderer, train_on_what)
    truncated = 0
    for i, name in enumerate(names):
        datum = expected[name]["datums"][str(max_length)]
        tokens = out.column("tokens")[i].as_py()
        weights = out.column("weights")[i].as_py()
        assert len(tokens) == min(max_length, len(expected[name]["tokens"]))
        truncated += len(expected[name]["tokens"]) > max_length
        # The datum is the stored row after the one-token shift.
        assert tokens[:-1] == datum["inputs"], (renderer, name)
        assert tokens[1:] == datum["targets"], (renderer, name)
        assert [float(w) for w in weights[1:]] == datum["weights"], (renderer, name)
    assert truncated > 0


@pytest.mark.parametrize("renderer", RENDERERS)
def test_generation_prompt_equals_cookbook(encoder, renderer):
    table = pa.table({"problem": REF["questions"], "answer": ["42", "sorted"]})
    out = tokenize_table(table, ProfileTokenizer(profile(renderer), encoder))
    expected = [p["tokens"] for p in REF["prompts"] if p["renderer"] == renderer]
    assert out.column("tokens").to_pylist() == expected
    assert out.column("answer").to_pylist() == ["42", "sorted"]
    assert "weights" not in out.schema.names


@pytest.mark.parametrize("renderer", RENDERERS)
def test_dpo_pairs_equal_cookbook(encoder, renderer):
    pairs = REF["pairs"]
    table = pa.table(
        {
            "prompt": pa.array([p["prompt"] for p in pairs], pa.list_(MESSAGE)),
            "completion_a": pa.array([p["completion_a"] for p in pairs], pa.list_(MESSAGE)),
            "completion_b": pa.array([p["completion_b"] for p in pairs], pa.list_(MESSAGE)),
            "label": [p["label"] for p in pairs],
        }
    )
    out = tokenize_table(table, ProfileTokenizer(profile(renderer), encoder))
    expected = [d for d in REF["dpo"] if d["renderer"] == renderer]
    for i, ref in enumerate(expected):
        for side in ("chosen", "rejected"):
            assert out.column(f"{side}_tokens")[i].as_py() == ref[side]["tokens"], (renderer, i, side)
            assert out.column(f"{side}_weights")[i].as_py() == ref[side]["weights"], (renderer, i, side)
        assert out.column("length")[i].as_py() == len(ref["chosen"]["tokens"]) + len(ref["rejected"]["tokens"])
