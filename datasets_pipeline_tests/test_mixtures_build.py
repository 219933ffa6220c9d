"""Mixture builds: the rows of ``datasets.interleave_datasets`` and of the cookbook's builder, streamed to Arrow files."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from datasets import Dataset, interleave_datasets
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets_pipeline.engine.interleave import STOPPING_STRATEGIES, interleave_indices
from datasets_pipeline.engine.ipc import read_table, write_table
from datasets_pipeline.errors import SchemaError
from datasets_pipeline.mixtures import MixtureBuildError, build_mixture, check_proportions, parse_mixtures
from datasets_pipeline.mixtures.plan import InterleavePlan, probabilities
from datasets_pipeline_tests.reference.cookbook_mixture import SIZES, source_rows

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
REFERENCE = json.loads((Path(__file__).parent / "reference" / "cookbook_mixture.json").read_text())


def chat(prefix: str, n: int, start: int = 0) -> pa.Table:
    """``n`` chat rows with ``uid`` and ``source_row``; the user message is ``"<prefix> <i>"``."""
    i = np.arange(start, start + n)
    return pa.table(
        {
            "messages": pa.array(
                [[{"role": "user", "content": f"{prefix} {k}"}, {"role": "assistant", "content": "x" * (k % 7)}] for k in i],
                MESSAGES,
            ),
            "uid": pa.array([f"{prefix}-{k:06d}" for k in i]),
            "source_row": pa.array(i, pa.int64()),
        }
    )


class Store:
    """Partitions written as Arrow files and opened by memory map, as the pipeline stores them."""

    def __init__(self, root: Path, tables: dict[tuple[str, str], pa.Table]) -> None:
        self.root, self.opened = root, []
        self.paths = {}
        for (asset, partition), table in tables.items():
            path = root / "in" / asset.replace("/", "_") / f"{partition.replace('/', '_').replace('|', '_')}.arrow"
            write_table(path, table, max_chunksize=997)  # many record batches per source
            self.paths[(asset, partition)] = path

    def __call__(self, asset: str, partition: str) -> pa.Table:
        self.opened.append((asset, partition))
        return read_table(self.paths[(asset, partition)])


def mixture(body: str, name: str = "m"):
    mf = parse_mixtures("mixtures:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    assert mf.errors == {}, {k: v.message for k, v in mf.errors.items()}
    return mf.get(name)


def hf(table: pa.Table) -> Dataset:
    return Dataset(table)


def expected_rows(reference: Dataset) -> list[dict]:
    return reference.to_list()


THREE = {
    ("cookbook/tulu3_sft", "default/train"): chat("tulu", 4_000),
    ("cookbook/no_robots", "default/train"): chat("robots", 2_500),
    ("cookbook/openthoughts3", "default/train"): chat("thoughts", 900),
}
THREE_YAML = """\
m:
  sources:
    - {{asset: cookbook/tulu3_sft, partition: default/train, weight: 0.5}}
    - {{asset: cookbook/no_robots, partition: default/train, weight: 0.3}}
    - {{asset: cookbook/openthoughts3, partition: default/train, weight: 0.2}}
  seed: 42
  stopping_strategy: {strategy}
"""


# --- parity with datasets.interleave_datasets ------------------------------------------------------


@pytest.mark.parametrize("strategy", STOPPING_STRATEGIES)
def test_each_strategy_equals_interleave_datasets(tmp_path: Path, strategy: str) -> None:
    store = Store(tmp_path, THREE)
    m = mixture(THREE_YAML.format(strategy=strategy))
    stats = build_mixture(m, store, tmp_path / "train.arrow", chunk_rows=1_500, workers=2, durable=False)
    out = read_table(tmp_path / "train.arrow")
    reference = interleave_datasets(
        [hf(t) for t in THREE.values()], probabilities=[0.5, 0.3, 0.2], seed=42, stopping_strategy=strategy
    )
    assert out.num_rows == len(reference) == stats.total_rows
    assert out.column_names == ["messages", "uid", "source_row", "source"]
    assert out.drop_columns(["source"]).to_pylist() == expected_rows(reference)
    # Each row names the partition it came from.
    prefix = {"tulu": "cookbook/tulu3_sft@default/train", "robots": "cookbook/no_robots@default/train", "thoughts": "cookbook/openthoughts3@default/train"}
    assert out.column("source").to_pylist() == [prefix[u.split("-")[0]] for u in out.column("uid").to_pylist()]
    # Stats agree with the rows.
    counts = {label: out.column("source").to_pylist().count(label) for label in prefix.values()}
    assert [s.rows for s in stats.sources] == [counts[s.label] for s in stats.sources]
    assert [s.probability for s in stats.sources] == [0.5, 0.3, 0.2]
    assert sum(s.rows for s in stats.sources) == stats.total_rows
    assert [s.proportion for s in stats.sources] == [s.rows / stats.total_rows for s in stats.sources]
    lengths = [4_000, 2_500, 900]
    if strategy == "first_exhausted":
        assert [s.exhausted for s in stats.sources] == [r == n for r, n in zip(counts.values(), lengths)]
        assert sum(s.exhausted for s in stats.sources) == 1 and all(s.restarts == 0 for s in stats.sources)
        assert [s.draws for s in stats.sources] == [s.rows for s in stats.sources]
    elif strategy == "all_exhausted":
        assert all(s.exhausted for s in stats.sources)
        assert [s.restarts for s in stats.sources] == [-(-s.rows // n) - 1 for s, n in zip(stats.sources, lengths)]
        assert max(s.restarts for s in stats.sources) > 0
    else:
        assert [s.rows for s in stats.sources] == lengths and all(s.exhausted for s in stats.sources)
        assert all(s.draws >= s.rows for s in stats.sources) and any(s.draws > s.rows for s in stats.sources)
    assert check_proportions(stats).passed
    meta = stats.to_metadata()
    assert meta["total_rows"] == stats.total_rows and [s["rows"] for s in meta["sources"]] == [s.rows for s in stats.sources]
    json.dumps(meta)


def test_unweighted_uses_source_sizes_and_whole_configs(tmp_path: Path) -> None:
    tables = {
        ("cookbook/no_robots", "default/train"): chat("train", 1_200),
        ("cookbook/no_robots", "default/test"): chat("test", 300),
        ("cookbook/tulu3_sft", "default/train"): chat("tulu", 700),
    }
    store = Store(tmp_path, tables)
    m = mixture(
        """\
        m:
          sources:
            - {asset: cookbook/no_robots, partition: default}
            - {asset: cookbook/tulu3_sft, partition: default/train}
          seed: 3
        """
    )
    stats = build_mixture(m, store, tmp_path / "train.arrow", chunk_rows=1_024, workers=1, durable=False)
    out = read_table(tmp_path / "train.arrow")
    sizes = [1_500.0, 700.0]
    p = [sizes[0] / sum(sizes), sizes[1] / sum(sizes)]
    assert [s.probability for s in stats.sources] == p
    whole = pa.concat_tables([tables[("cookbook/no_robots", "default/train")], tables[("cookbook/no_robots", "default/test")]])
    reference = interleave_datasets([hf(whole), hf(tables[("cookbook/tulu3_sft", "default/train")])], probabilities=p, seed=3, stopping_strategy="all_exhausted")
    assert out.drop_columns(["source"]).to_pylist() == expected_rows(reference)
    labels = {"train": "cookbook/no_robots@default/train", "test": "cookbook/no_robots@default/test", "tulu": "cookbook/tulu3_sft@default/train"}
    assert out.column("source").to_pylist() == [labels[u.split("-")[0]] for u in out.column("uid").to_pylist()]
    assert [s.label for s in stats.sources] == ["cookbook/no_robots@default", "cookbook/tulu3_sft@default/train"]
    assert store.opened == [("cookbook/no_robots", "default/train"), ("cookbook/no_robots", "default/test"), ("cookbook/tulu3_sft", "default/train")]


# --- parity with the cookbook's InterleavedChatDatasetBuilder (tinker-cookbook 0.6.1) ---------------


@pytest.mark.parametrize("case", sorted(REFERENCE["cases"]))
def test_equals_the_cookbook_builder(tmp_path: Path, case: str) -> None:
    spec = REFERENCE["cases"][case]
    assets = {"alpha": "cookbook/tulu3_sft", "beta": "cookbook/no_robots", "gamma": "cookbook/openthoughts3"}
    tables = {(assets[n], "default/train"): pa.Table.from_pylist(source_rows(n), schema=pa.schema([("messages", MESSAGES)])) for n in SIZES}
    store = Store(tmp_path, tables)
    weights = spec["weights"] or [None] * 3
    lines = [f"    - {{asset: {assets[n]}, partition: default/train" + (f", weight: {w}}}" if w is not None else "}") for n, w in zip(SIZES, weights)]
    body = "m:\n  sources:\n" + "\n".join(lines) + f"\n  seed: {spec['seed']}\n  stopping_strategy: {spec['stopping_strategy']}\n"
    if spec["test_size"]:
        body += f"  test_size: {spec['test_size']}\n"
    m = mixture(body)
    stats = build_mixture(m, store, tmp_path / "train.arrow", tmp_path / "test.arrow", chunk_rows=1_024, durable=False)
    train = read_table(tmp_path / "train.arrow")
    users = lambda t: [m[0]["content"] for m in t.column("messages").to_pylist()]  # noqa: E731
    assert users(train) == spec["train"]
    if spec["test_size"]:
        test = read_table(tmp_path / "test.arrow")
        assert users(test) == spec["test"]
        assert stats.test_rows == spec["test_size"] == sum(s.held_out for s in stats.sources)
        # Held-out rows never appear in train.
        assert not set(users(test)) & set(users(train))
        assert test.column("source").to_pylist() == [f"{assets[u.split()[0]]}@default/train" for u in users(test)]
    else:
        assert not (tmp_path / "test.arrow").exists() and stats.test_rows == 0


def test_held_out_split_stats(tmp_path: Path) -> None:
    """weighted_zero: the source of weight 0 gives neither train nor test rows; counts add up."""
    spec = REFERENCE["cases"]["weighted_zero"]
    names = {"alpha": "cookbook/tulu3_sft", "beta": "cookbook/no_robots", "gamma": "cookbook/openthoughts3"}
    tables = {(names[n], "default/train"): pa.Table.from_pylist(source_rows(n), schema=pa.schema([("messages", MESSAGES)])) for n in SIZES}
    body = "m:\n  sources:\n" + "".join(
        f"    - {{asset: {names[n]}, partition: default/train, weight: {w}}}\n" for n, w in zip(SIZES, spec["weights"])
    ) + f"  seed: {spec['seed']}\n  test_size: {spec['test_size']}\n"
    stats = build_mixture(mixture(body), Store(tmp_path, tables), tmp_path / "train.arrow", tmp_path / "test.arrow", durable=False)
    alpha, beta, gamma = stats.sources
    assert (beta.probability, beta.draws, beta.rows, beta.held_out, beta.exhausted) == (0.0, 0, 0, 0, False)
    assert alpha.probability == pytest.approx(2 / 3) and gamma.probability == pytest.approx(1 / 3)
    assert alpha.held_out + gamma.held_out == spec["test_size"] == stats.test_rows
    assert (alpha.train_rows, gamma.train_rows) == (SIZES["alpha"] - alpha.held_out, SIZES["gamma"] - gamma.held_out)
    assert alpha.rows + gamma.rows == stats.total_rows == len(spec["train"])
    assert alpha.exhausted and gamma.exhausted


# --- schema alignment, selection, renames --------------------------------------------------------------


def test_missing_and_null_columns_are_filled_as_datasets_does(tmp_path: Path) -> None:
    a = chat("a", 1_500)
    b = chat("b", 1_100).drop_columns(["source_row"]).append_column("note", pa.nulls(1_100, pa.null()))
    c = chat("c", 800).append_column("note", pa.array([f"n{i}" for i in range(800)]))
    tables = {("cookbook/tulu3_sft", "default/train"): a, ("cookbook/no_robots", "default/train"): b, ("cookbook/openthoughts3", "default/train"): c}
    store = Store(tmp_path, tables)
    m = mixture(THREE_YAML.format(strategy="first_exhausted"))
    build_mixture(m, store, tmp_path / "train.arrow", chunk_rows=1_024, workers=2, durable=False)
    out = read_table(tmp_path / "train.arrow")
    reference = interleave_datasets([hf(a), hf(b), hf(c)], probabilities=[0.5, 0.3, 0.2], seed=42)
    assert out.schema.field("note").type == pa.string() and out.schema.field("source_row").type == pa.int64()
    assert out.drop_columns(["source"]).to_pylist() == expected_rows(reference)


def test_conflicting_types_name_both_sources_and_the_column(tmp_path: Path) -> None:
    a = chat("a", 100)
    b = chat("b", 100).set_column(2, "source_row", pa.array([str(i) for i in range(100)]))
    store = Store(tmp_path, {("cookbook/tulu3_sft", "default/train"): a, ("cookbook/no_robots", "default/train"): b})
    m = mixture(
        """\
        m:
          sources:
            - {asset: cookbook/tulu3_sft, partition: default/train}
            - {asset: cookbook/no_robots, partition: default/train}
        """
    )
    with pytest.raises(SchemaError) as info:
        build_mixture(m, store, tmp_path / "train.arrow")
    assert str(info.value) == (
        "mixture 'm': cannot align column 'source_row': source cookbook/tulu3_sft@default/train has int64, source "
        "cookbook/no_robots@default/train has string [column 'source_row']. Only missing and null-typed columns are filled in, as in datasets.interleave_datasets; "
        "rename or leave out the column ('rename:', 'columns:')"
    )
    assert not (tmp_path / "train.arrow").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]


def test_renames_and_column_selection_keep_uid_and_source_row(tmp_path: Path) -> None:
    a = chat("a", 900).append_column("extra", pa.array(np.arange(900)))
    b = chat("b", 600).rename_columns(["conversation", "uid", "source_row"])
    store = Store(tmp_path, {("cookbook/tulu3_sft", "default/train"): a, ("cookbook/no_robots", "default/train"): b})
    m = mixture(
        """\
        m:
          sources:
            - {asset: cookbook/tulu3_sft, partition: default/train, weight: 1}
            - {asset: cookbook/no_robots, partition: default/train, weight: 1, rename: {conversation: messages}}
          columns: [messages]
          seed: 9
        """
    )
    stats = build_mixture(m, store, tmp_path / "train.arrow", durable=False)
    out = read_table(tmp_path / "train.arrow")
    assert out.column_names == ["messages", "uid", "source_row", "source"] == list(stats.columns)
    reference = interleave_datasets(
        [hf(a.select(["messages", "uid", "source_row"])), hf(chat("b", 600))], probabilities=[0.5, 0.5], seed=9, stopping_strategy="all_exhausted"
    )
    assert out.drop_columns(["source"]).to_pylist() == expected_rows(reference)


@pytest.mark.parametrize(
    ("source_b", "body", "expected"),
    [
        (
            chat("b", 10),
            "    - {asset: cookbook/no_robots, partition: default/train, rename: {conversation: messages}}",
            "mixture 'm', source cookbook/no_robots@default/train: cannot rename column 'conversation': no such column "
            "(it has ['messages', 'uid', 'source_row']) [column 'conversation']",
        ),
        (
            chat("b", 10).rename_columns(["chat", "uid", "source_row"]),
            "    - {asset: cookbook/no_robots, partition: default/train}\n  columns: [messages]",
            "mixture 'm', source cookbook/no_robots@default/train: has no column 'messages' (it has ['chat', 'uid', "
            "'source_row']); rename one to it or change 'columns' [column 'messages']",
        ),
        (
            chat("b", 10).append_column("source", pa.array(["x"] * 10)),
            "    - {asset: cookbook/no_robots, partition: default/train}",
            "mixture 'm', source cookbook/no_robots@default/train: has a column 'source', which the mixture adds to "
            "every row; rename it ('rename:') or leave it out ('columns:') [column 'source']",
        ),
    ],
)
def test_column_errors_name_the_source(tmp_path: Path, source_b: pa.Table, body: str, expected: str) -> None:
    store = Store(tmp_path, {("cookbook/tulu3_sft", "default/train"): chat("a", 10), ("cookbook/no_robots", "default/train"): source_b})
    m = mixture("m:\n  sources:\n    - {asset: cookbook/tulu3_sft, partition: default/train}\n" + body + "\n")
    with pytest.raises(SchemaError) as info:
        build_mixture(m, store, tmp_path / "train.arrow")
    assert str(info.value) == expected


# --- test split, row cap, errors ------------------------------------------------------------------


def test_max_rows_keeps_the_first_rows(tmp_path: Path) -> None:
    store = Store(tmp_path, THREE)
    full = build_mixture(mixture(THREE_YAML.format(strategy="all_exhausted")), store, tmp_path / "full.arrow", chunk_rows=1_024, durable=False)
    capped_yaml = THREE_YAML.format(strategy="all_exhausted") + "  max_rows: 2345\n"
    stats = build_mixture(mixture(capped_yaml), store, tmp_path / "capped.arrow", chunk_rows=1_024, durable=False)
    assert full.total_rows > 2_345 and not full.capped
    assert stats.total_rows == 2_345 and stats.capped
    assert read_table(tmp_path / "capped.arrow").equals(read_table(tmp_path / "full.arrow").slice(0, 2_345))
    assert sum(s.draws for s in stats.sources) == 2_345
    exact = build_mixture(mixture(THREE_YAML.format(strategy="all_exhausted") + f"  max_rows: {full.total_rows}\n"), store, tmp_path / "exact.arrow", durable=False)
    assert exact.total_rows == full.total_rows and not exact.capped


def test_holdout_errors_are_the_cookbooks(tmp_path: Path) -> None:
    store = Store(tmp_path, {("cookbook/tulu3_sft", "default/train"): chat("a", 3), ("cookbook/no_robots", "default/train"): chat("b", 2)})
    body = "m:\n  sources:\n    - {asset: cookbook/tulu3_sft, partition: default/train}\n    - {asset: cookbook/no_robots, partition: default/train}\n  test_size: 4\n"
    with pytest.raises(MixtureBuildError) as info:
        build_mixture(mixture(body), store, tmp_path / "train.arrow", tmp_path / "test.arrow")
    assert str(info.value) == (
        "mixture 'm': cannot hold out test_size=4 rows: test_size (4) exceeds the maximum unique holdout size (3) "
        "while retaining one training row per positively weighted source"
    )
    with pytest.raises(ValueError, match=r"mixture 'm' holds out test_size=4 rows: pass test_path"):
        build_mixture(mixture(body), store, tmp_path / "train.arrow")


def test_empty_source_with_a_probability_fails_naming_the_sources(tmp_path: Path) -> None:
    store = Store(tmp_path, {("cookbook/tulu3_sft", "default/train"): chat("a", 30), ("cookbook/no_robots", "default/train"): chat("b", 0)})
    body = "m:\n  sources:\n    - {asset: cookbook/tulu3_sft, partition: default/train, weight: 1}\n    - {asset: cookbook/no_robots, partition: default/train, weight: 1}\n"
    with pytest.raises(MixtureBuildError) as info:
        build_mixture(mixture(body), store, tmp_path / "train.arrow")
    assert str(info.value) == (
        "mixture 'm': sources [1] have no rows but a probability > 0; they cannot be drawn from (sources in order: "
        "['cookbook/tulu3_sft@default/train', 'cookbook/no_robots@default/train'])"
    )


def test_failed_build_keeps_the_previous_files(tmp_path: Path) -> None:
    store = Store(tmp_path, THREE)
    m = mixture(THREE_YAML.format(strategy="first_exhausted") + "  test_size: 50\n")
    build_mixture(m, store, tmp_path / "out" / "train.arrow", tmp_path / "out" / "test.arrow")
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    broken = {**THREE, ("cookbook/no_robots", "default/train"): chat("robots", 2_500).drop_columns(["messages"]).append_column("messages", pa.array(["x"] * 2_500))}
    with pytest.raises(SchemaError):
        build_mixture(m, Store(tmp_path / "b", broken), tmp_path / "out" / "train.arrow", tmp_path / "out" / "test.arrow")

    # The test file cannot be written (its folder is a file): the train file written before it is not published.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(OSError):
        build_mixture(m, store, tmp_path / "out" / "train.arrow", blocker / "test.arrow")
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


# --- bounded memory: many batches, streamed ------------------------------------------------------------


def test_streamed_build_of_many_batches(tmp_path: Path) -> None:
    """A build of ~120 output batches: every batch is at most one chunk, the rows are exact."""
    sizes = [60_000, 35_000, 20_000]
    tables = {
        ("cookbook/tulu3_sft", "default/train"): pa.table({"x": pa.array(np.arange(sizes[0]) * 10), "uid": pa.array(np.arange(sizes[0]).astype(str))}),
        ("cookbook/no_robots", "default/train"): pa.table({"x": pa.array(np.arange(sizes[1]) * 10 + 1), "uid": pa.array(np.arange(sizes[1]).astype(str))}),
        ("cookbook/openthoughts3", "default/train"): pa.table({"x": pa.array(np.arange(sizes[2]) * 10 + 2), "uid": pa.array(np.arange(sizes[2]).astype(str))}),
    }
    store = Store(tmp_path, tables)
    m = mixture(THREE_YAML.format(strategy="all_exhausted"))
    stats = build_mixture(m, store, tmp_path / "train.arrow", chunk_rows=1_000, workers=2, durable=False)
    reader = pa.ipc.open_file(pa.memory_map(str(tmp_path / "train.arrow")))
    batch_rows = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
    assert len(batch_rows) >= 100 and max(batch_rows) <= 1_000 and sum(batch_rows) == stats.total_rows
    indices = interleave_indices(sizes, [0.5, 0.3, 0.2], 42, "all_exhausted")
    combined = pa.concat_tables(tables.values())
    out = reader.read_all()
    assert np.array_equal(out.column("x").to_numpy(), combined.column("x").take(pa.array(indices)).to_numpy())
    assert out.column("uid").equals(combined.column("uid").take(pa.array(indices)))


# --- the plan equals the engine's interleave ----------------------------------------------------


@settings(max_examples=80, deadline=None, database=None)
@given(
    lengths=st.lists(st.integers(0, 2_500), min_size=1, max_size=4),
    raw=st.lists(st.integers(0, 10), min_size=4, max_size=4),
    seed=st.integers(0, 2**32 - 1),
    strategy=st.sampled_from(STOPPING_STRATEGIES),
    chunk_blocks=st.integers(1, 3),
)
def test_plan_equals_interleave_indices(lengths, raw, seed, strategy, chunk_blocks) -> None:
    weights = raw[: len(lengths)]
    if sum(weights) == 0:
        weights[0] = 1
    p = probabilities(weights)
    try:
        expected = interleave_indices(lengths, p, seed, strategy)
    except ValueError:
        with pytest.raises(ValueError):
            InterleavePlan(lengths, p, seed, strategy, chunk_blocks)
        return
    plan = InterleavePlan(lengths, p, seed, strategy, chunk_blocks)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pieces = [offsets[s] + r for s, r in (plan.rows(d, k) for d, k in plan)]
    got = np.concatenate(pieces) if pieces else np.empty(0, np.int64)
    assert np.array_equal(got, expected)
    assert plan.finished


# --- the proportion check ------------------------------------------------------------------------------


def test_proportion_check_passes_for_good_data_and_fails_for_wrong_weights(tmp_path: Path) -> None:
    store = Store(tmp_path, THREE)
    stats = build_mixture(mixture(THREE_YAML.format(strategy="all_exhausted")), store, tmp_path / "train.arrow", durable=False)
    good = check_proportions(stats)
    assert good.passed and good.failures == ()
    assert good.draws == stats.total_rows
    assert good.z == pytest.approx(3.5879, abs=1e-4)  # Φ⁻¹(1 - 0.001 / 6): alpha 0.001 over 3 sources
    for bound, s in zip(good.sources, stats.sources):
        assert bound.tolerance == pytest.approx(good.z * np.sqrt(s.probability * (1 - s.probability) / stats.total_rows))
        assert abs(bound.deviation) <= bound.tolerance
    # The same rows, checked against the weights of another mixture (0.6 / 0.25 / 0.15): fails.
    wrong = replace(stats, sources=tuple(replace(s, probability=p) for s, p in zip(stats.sources, [0.6, 0.25, 0.15])))
    bad = check_proportions(wrong)
    assert not bad.passed
    assert [b.label for b in bad.failures] == ["cookbook/tulu3_sft@default/train", "cookbook/no_robots@default/train", "cookbook/openthoughts3@default/train"]
    assert bad.description.startswith(f"source shares of {stats.total_rows:,} draws NOT within z·sqrt(p(1-p)/N)")


def test_proportion_check_detects_a_source_drawn_with_probability_zero(tmp_path: Path) -> None:
    store = Store(tmp_path, THREE)
    stats = build_mixture(mixture(THREE_YAML.format(strategy="first_exhausted")), store, tmp_path / "train.arrow", durable=False)
    wrong = replace(stats, sources=tuple(replace(s, probability=p) for s, p in zip(stats.sources, [0.7, 0.3, 0.0])))
    check = check_proportions(wrong)
    assert not check.passed and [b.label for b in check.failures][-1] == "cookbook/openthoughts3@default/train"
    assert check.failures[-1].tolerance == 0.0
    with pytest.raises(ValueError, match="alpha must be in"):
        check_proportions(stats, alpha=0)


# --- the shipped examples build ------------------------------------------------------------------------


def test_shipped_examples_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datasets_pipeline.mixtures import load_mixtures
    from datasets_pipeline.mixtures.config import MIXTURES_ENV

    monkeypatch.delenv(MIXTURES_ENV, raising=False)
    mf = load_mixtures()

    def math(prefix: str, n: int) -> pa.Table:
        return pa.table(
            {
                "problem": pa.array([f"{prefix} problem {i}" for i in range(n)]),
                "answer": pa.array([str(i) for i in range(n)]),
                "solution": pa.nulls(n, pa.string()),
                "uid": pa.array([f"{prefix}-{i}" for i in range(n)]),
                "source_row": pa.array(np.arange(n)),
            }
        )

    tables = {(asset, part): chat(asset.split("/")[1], 1_500 + 500 * i) for i, (asset, part) in enumerate(mf.get("chat_sft").upstream)}
    tables.update({(asset, part): math(f"{asset}@{part}", 300 + 100 * i) for i, (asset, part) in enumerate(mf.get("math_rl_mix").upstream)})
    store = Store(tmp_path, tables)

    chat_stats = build_mixture(mf.get("chat_sft"), store, tmp_path / "chat" / "train.arrow", tmp_path / "chat" / "test.arrow", durable=False)
    train, test = read_table(tmp_path / "chat" / "train.arrow"), read_table(tmp_path / "chat" / "test.arrow")
    assert test.num_rows == 1_024 == chat_stats.test_rows
    assert not set(test.column("uid").to_pylist()) & set(train.column("uid").to_pylist())
    assert train.column_names == ["messages", "uid", "source_row", "source"]
    assert [s.probability for s in chat_stats.sources] == probabilities([s.train_rows for s in chat_stats.sources])

    math_stats = build_mixture(mf.get("math_rl_mix"), store, tmp_path / "math.arrow", durable=False)
    rows = read_table(tmp_path / "math.arrow")
    assert rows.column_names == ["problem", "answer", "uid", "source_row", "source"]
    assert rows.num_rows == math_stats.total_rows == 300 + 400 + 500 + 600  # without replacement: every row once
    assert sorted(rows.column("uid").to_pylist()) == sorted(u for t in list(tables.values())[2:] for u in t.column("uid").to_pylist())
    assert check_proportions(math_stats).passed
