"""mixtures.yaml: parsing, validation against the catalog, per-entry errors, file-level errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from datasets_pipeline.mixtures import (
    InvalidMixture,
    MixtureError,
    MixturesFileError,
    load_mixtures,
    mixtures_path,
    parse_mixtures,
)
from datasets_pipeline.mixtures.config import MIXTURES_ENV, Problem

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
  good:
    sources:
      - {asset: cookbook/gsm8k, partition: main/train}
      - {asset: cookbook/math500, partition: default/test}
"""


def parse(text: str, **kw):
    return parse_mixtures(textwrap.dedent(text), file="mixtures.yaml", **kw)


def entry_error(body: str, name: str = "bad", **kw) -> MixtureError:
    """The error of entry ``bad`` in a file that also holds a good entry (which must still load)."""
    mf = parse("mixtures:\n" + GOOD + textwrap.indent(textwrap.dedent(body), "  "), **kw)
    assert list(mf.mixtures) == ["good"]
    assert list(mf.errors) == [name]
    return mf.errors[name]


def problems(body: str, **kw) -> list[str]:
    return [str(p) for p in entry_error(body, **kw).problems]


# --- a valid file ------------------------------------------------------------------------------------


def test_full_entry_parses_into_frozen_dataclasses() -> None:
    mf = parse(
        """\
        mixtures:
          chat:
            description: chat SFT mix
            sources:
              - asset: cookbook/tulu3_sft
                partition: default/train
                weight: 2
              - asset: cookbook/no_robots
                partition: default
                weight: 1.5
                rename: {messages: conversation}
            seed: 7
            stopping_strategy: first_exhausted
            test_size: 100
            max_rows: 5000
            columns: [conversation]
        recipes:
          math_rl: {steps: [concatenate]}
        """
    )
    assert mf.errors == {}
    m = mf.get("chat")
    assert m.asset_key == "mixture/chat"
    assert (m.seed, m.stopping_strategy, m.test_size, m.max_rows, m.columns) == (7, "first_exhausted", 100, 5000, ("conversation",))
    assert m.weights == (2.0, 1.5)
    assert m.splits == ("train", "test")
    assert [s.label for s in m.sources] == ["cookbook/tulu3_sft@default/train", "cookbook/no_robots@default"]
    assert m.sources[1].partitions == ("default/train", "default/test")
    assert m.sources[1].partition_labels == ("cookbook/no_robots@default/train", "cookbook/no_robots@default/test")
    assert m.sources[1].rename == (("messages", "conversation"),)
    assert m.upstream == (
        ("cookbook/tulu3_sft", "default/train"),
        ("cookbook/no_robots", "default/train"),
        ("cookbook/no_robots", "default/test"),
    )
    assert (m.file, m.line, m.sources[0].line) == ("mixtures.yaml", 2, 5)
    assert mf.recipes == {"math_rl": {"steps": ["concatenate"]}}
    with pytest.raises(AttributeError):
        m.seed = 1  # type: ignore[misc]


def test_defaults_are_the_cookbook_builders() -> None:
    m = parse("mixtures:\n" + GOOD).get("good")
    assert (m.seed, m.stopping_strategy, m.test_size, m.max_rows, m.columns, m.weights) == (0, "all_exhausted", None, None, None, None)
    assert m.splits == ("train",)


def test_weights_list_form_and_tokenized_sources() -> None:
    mf = parse(
        """\
        mixtures:
          tok:
            sources:
              - {asset: tokenized/no_robots, partition: "qwen3|default/train"}
              - {asset: tokenized/tulu3_sft, partition: "qwen3|default"}
            weights: [1, 3]
        """,
        profiles=["qwen3", "llama3"],
    )
    m = mf.get("tok")
    assert m.weights == (1.0, 3.0)
    assert m.upstream == (("tokenized/no_robots", "qwen3|default/train"), ("tokenized/tulu3_sft", "qwen3|default/train"))


def test_empty_file_and_no_mixtures_section() -> None:
    assert parse("").mixtures == {}
    mf = parse("recipes: {}\n")
    assert (mf.mixtures, mf.errors, mf.recipes) == ({}, {}, {})


# --- per-entry isolation ---------------------------------------------------------------------------


def test_bad_entry_is_isolated_and_reported_on_use() -> None:
    mf = parse(
        """\
        mixtures:
          first:
            sources: [{asset: cookbook/gsm8k, partition: main/train}]
          broken:
            sources: [{asset: cookbook/gsm8k, partition: main/trian}]
          last:
            sources: [{asset: cookbook/deepmath, partition: default/train}]
        """
    )
    assert mf.names == ("first", "broken", "last")
    assert sorted(mf.mixtures) == ["first", "last"]
    error = mf.errors["broken"]
    assert error.asset_key == "mixture/broken"
    expected = (
        "mixtures.yaml:4: mixture 'broken' is invalid: sources[0].partition (line 5): unknown partition 'main/trian' "
        "of cookbook/gsm8k (did you mean 'main/train'?); known: main/train, main/test, socratic/train, "
        "socratic/test (or a config: main, socratic)"
    )
    assert error.message == expected
    with pytest.raises(InvalidMixture) as info:
        mf.get("broken")
    assert str(info.value) == expected and info.value.error is error
    with pytest.raises(KeyError, match="no mixture 'nope' in mixtures.yaml; defined: first, broken, last"):
        mf.get("nope")


def test_every_problem_of_an_entry_is_listed() -> None:
    error = entry_error(
        """\
        bad:
          sources:
            - {asset: cookbook/gsm8k, partition: main/train, weight: -1}
            - {asset: cookbook/deepmath, partition: default/train, weight: 1}
          stopping_strategy: all_exausted
          seed: -3
        """
    )
    assert error.message == (
        "mixtures.yaml:6: mixture 'bad' is invalid:\n"
        "  - stopping_strategy (line 10): unknown stopping strategy 'all_exausted' (did you mean 'all_exhausted'?); "
        "expected one of ['first_exhausted', 'all_exhausted', 'all_exhausted_without_replacement']\n"
        "  - seed (line 11): must be a non-negative integer, got int (-3)\n"
        "  - sources[0].weight (line 8): must not be negative, got -1"
    )


def test_name_defined_twice_is_an_error_of_that_name() -> None:
    mf = parse(
        "mixtures:\n"
        + GOOD
        + "  twice:\n    sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
        + "  twice:\n    sources: [{asset: cookbook/gsm8k, partition: main/test}]\n"
    )
    assert list(mf.mixtures) == ["good"]
    assert [str(p) for p in mf.errors["twice"].problems] == [
        "name (line 8): the name is defined twice (lines 6 and 8); rename one"
    ]


# --- each documented entry error ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "bad: [1, 2]",
            ["entry (line 6): must be a mapping with at least 'sources', got a list"],
        ),
        (
            "bad: {seed: 1}",
            ["sources (line 6): missing: list at least one source ({asset: cookbook/<name>, partition: <config>/<split>})"],
        ),
        (
            "bad: {sources: []}",
            ["sources (line 6): must be a non-empty list of sources, got a list"],
        ),
        (
            "bad:\n  sources: [{asset: raw/gsm8k, partition: main/train}]",
            ["sources[0].asset (line 7): 'raw/gsm8k' is not a source asset; expected 'cookbook/<name>' or 'tokenized/<name>'"],
        ),
        (
            "bad:\n  sources: [{asset: cookbook/tulu3, partition: default/train}]",
            [
                "sources[0].asset (line 7): unknown dataset 'tulu3' in 'cookbook/tulu3' (did you mean 'tulu3_sft'?); the "
                "catalog has: arena140k, caltech101, deepcoder, deepmath, gsm8k, helpsteer2, helpsteer3, hendrycks_math, "
                "hh_rlhf, humaneval, math500, mmlu, no_robots, openthoughts3, oxford_flowers102, oxford_iiit_pet, polaris, "
                "stanford_cars, tulu3_preference, tulu3_sft, ultrafeedback"
            ],
        ),
        (
            "bad:\n  sources: [{asset: cookbook/no_robots, partition: default/tset}]",
            [
                "sources[0].partition (line 7): unknown partition 'default/tset' of cookbook/no_robots (did you mean "
                "'default/test'?); known: default/train, default/test (or a config: default)"
            ],
        ),
        (
            "bad:\n  sources: [{asset: cookbook/gsm8k}]",
            ["sources[0] (line 7): missing partition"],
        ),
        (
            "bad:\n  sources: [{asset: tokenized/no_robots, partition: default/train}]",
            [
                "sources[0].partition (line 7): 'default/train': a tokenized partition is '<profile>|<config>/<split>' "
                "(or '<profile>|<config>')"
            ],
        ),
        (
            "bad:\n  sources: [{asset: tokenized/caltech101, partition: 'qwen3|default/train'}]",
            ["sources[0].asset (line 7): 'tokenized/caltech101': only chat/preference/math/code datasets are tokenized (caltech101 is vision)"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, wieght: 1}",
            [
                "sources[0].wieght (line 8): unknown field (did you mean 'weight'?); expected one of "
                "['asset', 'partition', 'weight', 'rename']"
            ],
        ),
        (
            "bad:\n  sources: [{asset: cookbook/gsm8k, partition: main/train}]\n  stoping_strategy: first_exhausted",
            [
                "stoping_strategy (line 8): unknown field (did you mean 'stopping_strategy'?); expected one of "
                "['sources', 'weights', 'seed', 'stopping_strategy', 'test_size', 'max_rows', 'columns', 'description']"
            ],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, weight: 1}\n"
            "    - {asset: cookbook/deepmath, partition: default/train}",
            [
                "sources (line 7): weights are set for some sources but not for sources[1]: set a weight for every "
                "source, or for none (then sources are drawn in proportion to their sizes)"
            ],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train}\n"
            "    - {asset: cookbook/deepmath, partition: default/train}\n  weights: [1, 2, 3]",
            ["weights (line 10): has 3 values for 2 sources; give exactly one per source"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train}\n"
            "    - {asset: cookbook/deepmath, partition: default/train}\n  weights: [1, -2]",
            ["weights[1] (line 10): must not be negative, got -2"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, weight: 0}\n"
            "    - {asset: cookbook/deepmath, partition: default/train, weight: 0.0}\n  stopping_strategy: first_exhausted",
            ["sources (line 7): the weights sum to 0: at least one source needs a positive weight"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, weight: .nan}",
            ["sources[0].weight (line 8): must be a finite number, got nan"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, weight: heavy}",
            ["sources[0].weight (line 8): must be a number, got a string ('heavy')"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, weight: 1}\n  weights: [1]",
            ["weights (line 9): give the weights either as 'weights:' or per source 'weight:', not both"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, weight: 1}\n"
            "    - {asset: cookbook/deepmath, partition: default/train, weight: 0}",
            [
                "sources[1].weight (line 9): weight 0 with stopping_strategy 'all_exhausted': a source that is never "
                "drawn can never be exhausted; remove the source or give it a positive weight"
            ],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/hendrycks_math, partition: algebra}\n"
            "    - {asset: cookbook/hendrycks_math, partition: algebra/test}",
            [
                "sources[1].partition (line 9): cookbook/hendrycks_math@algebra/test is already read by sources[0]; "
                "list each partition once"
            ],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/no_robots, partition: default/train}\n"
            "    - {asset: tokenized/no_robots, partition: 'qwen3|default/test'}",
            ["sources (line 7): mixes layers ['cookbook', 'tokenized']: all sources must be cookbook/ or all tokenized/"],
        ),
        (
            "bad:\n  sources: [{asset: cookbook/gsm8k, partition: main/train}]\n  seed: '42'",
            ["seed (line 8): must be a non-negative integer, got a string ('42')"],
        ),
        (
            "bad:\n  sources: [{asset: cookbook/gsm8k, partition: main/train}]\n  test_size: 0.1\n  max_rows: 0",
            [
                "test_size (line 8): must be a non-negative integer (rows held out), got float (0.1)",
                "max_rows (line 9): must be a positive integer, got int (0)",
            ],
        ),
        (
            "bad:\n  sources: [{asset: cookbook/gsm8k, partition: main/train}]\n  columns: [problem, source]",
            ["columns (line 8): 'source' is added to every row by the mixture; do not list it"],
        ),
        (
            "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train, rename: {problem: source}}",
            ["sources[0].rename (line 8): 'source' is the mixture's own column; rename to another name"],
        ),
    ],
)
def test_entry_errors(body: str, expected: list[str]) -> None:
    assert problems(body) == expected


def test_invalid_name_and_unknown_profile() -> None:
    assert problems("bad-name:\n  sources: [{asset: cookbook/gsm8k, partition: main/train}]", name="bad-name") == [
        "name (line 6): 'bad-name' is not a valid asset name (letters, digits and '_' only)"
    ]
    assert problems(
        "bad:\n  sources: [{asset: tokenized/no_robots, partition: 'qwen|default/train'}]", profiles=["qwen3", "llama3"]
    ) == ["sources[0].partition (line 7): unknown tokenizer profile 'qwen' (did you mean 'qwen3'?); known: qwen3, llama3"]


def test_zero_weight_in_a_weights_list() -> None:
    body = (
        "bad:\n  sources:\n    - {asset: cookbook/gsm8k, partition: main/train}\n"
        "    - {asset: cookbook/deepmath, partition: default/train}\n  weights: [1, 0]\n"
        "  stopping_strategy: all_exhausted_without_replacement"
    )
    assert problems(body) == [
        "weights[1] (line 10): weight 0 with stopping_strategy 'all_exhausted_without_replacement': a source that is "
        "never drawn can never be exhausted; remove the source or give it a positive weight"
    ]


def test_zero_weight_is_allowed_where_it_can_stop_or_is_held_out() -> None:
    body = "sources:\n  - {asset: cookbook/gsm8k, partition: main/train, weight: 1}\n  - {asset: cookbook/deepmath, partition: default/train, weight: 0}\n"
    for extra in ("stopping_strategy: first_exhausted", "test_size: 10"):
        mf = parse("mixtures:\n  ok:\n" + textwrap.indent(body + extra, "    "))
        assert mf.errors == {} and mf.get("ok").weights == (1.0, 0.0)


# --- file-level errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "mixtures:\n  a:\n    sources: [\n",
            "mixtures.yaml:4: not valid YAML, column 1: while parsing a flow node expected the node content, but found '<stream end>'",
        ),
        ("mixtures:\n\ta: 1\n", "mixtures.yaml:2: not valid YAML, column 1: while scanning for the next token found character '\\t' that cannot start any token"),
        ("- a\n- b\n", "mixtures.yaml:1: the top level must be a mapping with keys ['mixtures', 'recipes'], got a list"),
        ("recipes: {}\nmixture:\n  a: {}\n", "mixtures.yaml:2: unknown top-level key 'mixture' (did you mean 'mixtures'?); expected ['mixtures', 'recipes']"),
        ("mixtures: [a, b]\n", "mixtures.yaml:1: 'mixtures' must map names to entries, got a list"),
        ("mixtures: {}\nmixtures: {}\n", "mixtures.yaml:2: top-level key 'mixtures' is given twice (lines 1 and 2)"),
    ],
)
def test_file_errors(text: str, expected: str) -> None:
    with pytest.raises(MixturesFileError) as info:
        parse_mixtures(text, file="mixtures.yaml")
    assert str(info.value) == expected
    assert info.value.file == "mixtures.yaml" and info.value.line == int(expected.split(":")[1])


def test_environment_variable_replaces_the_project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MIXTURES_ENV, raising=False)
    assert mixtures_path() == ROOT / "mixtures.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text("mixtures:\n" + GOOD)
    monkeypatch.setenv(MIXTURES_ENV, str(own))
    assert mixtures_path() == own
    mf = load_mixtures()
    assert (mf.path, list(mf.mixtures)) == (str(own), ["good"])
    monkeypatch.setenv(MIXTURES_ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(MixturesFileError, match=r"missing.yaml: the mixtures file does not exist"):
        load_mixtures()


def test_missing_default_file_means_no_mixtures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MIXTURES_ENV, raising=False)
    import datasets_pipeline.mixtures.config as config

    monkeypatch.setattr(config, "mixtures_path", lambda: tmp_path / "mixtures.yaml")
    mf = config.load_mixtures()
    assert (mf.mixtures, mf.errors) == ({}, {})


def test_shipped_file_loads_against_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MIXTURES_ENV, raising=False)
    mf = load_mixtures()
    assert mf.errors == {}
    chat, math = mf.get("chat_sft"), mf.get("math_rl_mix")
    assert [s.asset for s in chat.sources] == ["cookbook/tulu3_sft", "cookbook/no_robots"]
    assert chat.weights is None and chat.stopping_strategy == "all_exhausted"
    assert math.upstream == (
        ("cookbook/gsm8k", "main/train"),
        ("cookbook/hendrycks_math", "algebra/train"),
        ("cookbook/hendrycks_math", "prealgebra/train"),
        ("cookbook/deepmath", "default/train"),
    )
    assert math.weights == (2.0, 1.0, 1.0, 1.0)


def test_problem_rendering() -> None:
    assert str(Problem("seed", "must be an integer", 3)) == "seed (line 3): must be an integer"
    assert str(Problem("seed", "must be an integer")) == "seed: must be an integer"
