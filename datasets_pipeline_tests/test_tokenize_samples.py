"""The ``samples:`` section of the profiles file: defaults, validation errors, and the profile ``source`` field."""

from __future__ import annotations

from pathlib import Path

import pytest

from datasets_pipeline.tokenize.profiles import ProfileError, load_profiles
from datasets_pipeline.tokenize.samples import SampleSpec, load_samples

TOKENIZER_FILE = Path(__file__).parent / "reference" / "tokenize_tokenizer.json"
PROFILE = f"profiles:\n  p: {{tokenizer: {{path: {TOKENIZER_FILE}}}, renderer: qwen3}}\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokenizers.yaml"
    path.write_text(text)
    return path


def test_defaults_and_settings(tmp_path):
    assert load_samples(write(tmp_path, PROFILE)) == SampleSpec(120, 0, {"train": 0.8, "val": 0.1, "test": 0.1}, 1, None)
    got = load_samples(write(tmp_path, PROFILE + "samples: {k: 10, seed: 4, splits: {a: 7, b: 3}, max_chars: 50}\n"))
    assert got.settings() == {"k": 10, "seed": 4, "splits": {"a": 7, "b": 3}, "min_chars": 1, "max_chars": 50}
    assert got.sizes(10) == {"a": 7, "b": 3} and got.sizes(5) == {"a": 0.7, "b": 0.3}  # fewer rows: proportions
    assert load_profiles(write(tmp_path, PROFILE + "samples: {k: 10}\n"))["p"].source == "cookbook"


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        ("{k: 0}", "samples, field 'k': must be an integer >= 1, got 0"),
        ("{seed: -1}", "samples, field 'seed': must be an integer >= 0, got -1"),
        ("{k: 10, splits: {a: 7, b: 2}}", "samples, field 'splits': row counts must be >= 0 and add up to k (10), got {'a': 7, 'b': 2}"),
        ("{splits: {a: 0.5, b: 0.4}}", "samples, field 'splits': fractions must lie in [0, 1] and sum to 1, got {'a': 0.5, 'b': 0.4}"),
        ("{min_chars: 5, max_chars: 4}", "samples, field 'max_chars': must be an integer >= min_chars (5) or null, got 4"),
        ("{size: 3}", "samples, field 'size': unknown field; fields are ['k', 'max_chars', 'min_chars', 'seed', 'splits']"),
    ],
)
def test_invalid_samples_name_the_field(tmp_path, samples, message):
    path = write(tmp_path, PROFILE + f"samples: {samples}\n")
    with pytest.raises(ProfileError) as err:
        load_samples(path)
    assert str(err.value) == f"{message} [file {str(path)!r}]"


def test_profile_source_is_validated_and_hashed_only_when_set(tmp_path):
    base = load_profiles(write(tmp_path, PROFILE))["p"]
    sampled = load_profiles(write(tmp_path, PROFILE.replace("renderer: qwen3}", "renderer: qwen3, source: sample}")))["p"]
    assert "source" not in base.settings() and sampled.settings()["source"] == "sample"
    assert base.artifact_hash("0" * 64) != sampled.artifact_hash("0" * 64)
    path = write(tmp_path, PROFILE.replace("renderer: qwen3}", "renderer: qwen3, source: raw}"))
    with pytest.raises(ProfileError, match=r"profile 'p', field 'source': 'raw' is not one of \['cookbook', 'sample'\]"):
        load_profiles(path)
