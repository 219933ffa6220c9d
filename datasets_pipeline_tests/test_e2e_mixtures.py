"""End to end: mixtures declared in a mixtures file become ``mixture/<name>`` through Dagster.

Sources are chat repos served by the loopback Hub and materialized (raw, cookbook) by Dagster; the
references are ``datasets.interleave_datasets`` on the same cookbook tables, seed and probabilities,
and the rows the cookbook's ``InterleavedChatDatasetBuilder`` gave on the same messages
(``reference/cookbook_mixture.json``).
"""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import dagster as dg
import datasets
import pyarrow as pa
import pytest

import datasets_pipeline as dp
from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.errors import NotMaterializedError
from datasets_pipeline.mixtures import InvalidMixture
from datasets_pipeline.steps.mixture import RemoteDataNotSupported
from datasets_pipeline.steps.versions import VERSION_KEY
from datasets_pipeline_tests.dagster_runs import failure_message, materialize, run_cli
from datasets_pipeline_tests.fixtures_data import parquet_bytes
from datasets_pipeline_tests.reference.cookbook_mixture import SIZES, source_rows
from datasets_pipeline_tests.test_e2e_families import card, checks, metadata

REFERENCE = json.loads((Path(__file__).parent / "reference" / "cookbook_mixture.json").read_text())
# The reference's three sources, as three chat partitions of the catalog.
PARTITIONS = {
    "alpha": ("cookbook/tulu3_sft", "default/train"),
    "beta": ("cookbook/no_robots", "default/train"),
    "gamma": ("cookbook/no_robots", "default/test"),
}
WEIGHTS = [0.5, 0.3, 0.2]
STRATEGIES = ("first_exhausted", "all_exhausted", "all_exhausted_without_replacement")


def _sources(weights: list[float] | None) -> str:
    lines = []
    for name, w in zip(SIZES, weights or [None] * 3):
        asset, partition = PARTITIONS[name]
        lines.append(f"    - {{asset: {asset}, partition: {partition}" + (f", weight: {w}}}" if w is not None else "}"))
    return "  sources:\n" + "\n".join(lines) + "\n"


def mixtures_yaml() -> str:
    """One entry per stopping strategy (weighted), and the reference's two unweighted cases."""
    text = "mixtures:\n"
    for strategy in STRATEGIES:
        text += textwrap.indent(f"{strategy}:\n" + _sources(WEIGHTS) + f"  seed: 42\n  stopping_strategy: {strategy}\n", "  ")
    for case in ("unweighted", "unweighted_test"):
        spec = REFERENCE["cases"][case]
        body = f"cookbook_{case}:\n" + _sources(None) + f"  seed: {spec['seed']}\n  stopping_strategy: {spec['stopping_strategy']}\n"
        if spec["test_size"]:
            body += f"  test_size: {spec['test_size']}\n"
        text += textwrap.indent(body, "  ")
    return text


def serve_sources(hub_server) -> None:
    """tulu3_sft default/train = alpha, no_robots default/train = beta and default/test = gamma."""
    tables = {name: pa.Table.from_pylist(source_rows(name)) for name in SIZES}
    hub_server.add_repo("allenai/tulu-3-sft-mixture", {
        "README.md": card({"default": {"train": "data/train-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(tables["alpha"]),
    })
    hub_server.add_repo("HuggingFaceH4/no_robots", {
        "README.md": card({"default": {"train": "data/train-*", "test": "data/test-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(tables["beta"]),
        "data/test-00000-of-00001.parquet": parquet_bytes(tables["gamma"]),
    })


def materialize_sources() -> None:
    for asset, partition in PARTITIONS.values():
        name = asset.split("/")[1]
        result = materialize([f"raw/{name}", asset], partition)
        assert result.success, failure_message(result)


def cookbook(data_dir: Path, name: str) -> pa.Table:
    asset, partition = PARTITIONS[name]
    return read_table(data_dir / asset / f"{partition}.arrow")


def users(table: pa.Table) -> list[str]:
    return [m[0]["content"] for m in table.column("messages").to_pylist()]


@pytest.fixture
def sources(hub_server, hf_env, data_dir, tmp_path, monkeypatch) -> Path:
    """The three chat partitions materialized by Dagster, and a mixtures file with :func:`mixtures_yaml`."""
    serve_sources(hub_server)
    materialize_sources()
    file = tmp_path / "mixtures.yaml"
    file.write_text(mixtures_yaml())
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(file))
    return file


def test_mixtures_equal_interleave_datasets_and_the_cookbook_builder(sources, data_dir):
    names = [*STRATEGIES, "cookbook_unweighted", "cookbook_unweighted_test"]
    result = materialize([f"mixture/{n}" for n in names], None)
    assert result.success, failure_message(result)
    tables = {n: cookbook(data_dir, n) for n in SIZES}
    assert [t.num_rows for t in tables.values()] == list(SIZES.values())
    label = {n: "@".join(PARTITIONS[n]) for n in SIZES}
    by_uid = {uid: n for n, t in tables.items() for uid in t.column("uid").to_pylist()}

    for strategy in STRATEGIES:
        out = dp.load(strategy, layer="mixture")
        reference = datasets.interleave_datasets(
            [datasets.Dataset(t) for t in tables.values()], probabilities=WEIGHTS, seed=42, stopping_strategy=strategy
        )
        assert out.column_names == ["messages", "source_row", "uid", "source"]
        assert out.num_rows == len(reference) > 0, strategy
        assert out.drop_columns(["source"]).to_pylist() == reference.to_list(), strategy
        # every row names its partition and keeps its cookbook uid and source_row
        assert out.column("source").to_pylist() == [label[by_uid[u]] for u in out.column("uid").to_pylist()]
        assert out.column("source_row").to_pylist() == [int(u.split()[1]) for u in users(out)]
        meta = metadata(result, f"mixture/{strategy}")
        assert meta["total_rows"] == meta["dagster/row_count"] == out.num_rows and meta["test_rows"] == 0
        assert (meta["seed"], meta["stopping_strategy"]) == (42, strategy)
        counts = [out.column("source").to_pylist().count(label[n]) for n in SIZES]
        assert [s["rows"] for s in meta["sources"]] == counts
        assert [s["requested"] for s in meta["sources"]] == WEIGHTS
        assert [s["realized"] for s in meta["sources"]] == [c / out.num_rows for c in counts]
        exhausted = [label[n] for n, s in zip(SIZES, meta["sources"]) if s["exhausted"]]
        assert meta["exhausted_sources"] == exhausted
        if strategy == "first_exhausted":
            assert len(exhausted) == 1 and all(r == 0 for r in meta["restarts"].values())
        elif strategy == "all_exhausted":
            assert exhausted == list(label.values())
            assert list(meta["restarts"].values()) == [-(-c // n) - 1 for c, n in zip(counts, SIZES.values())]
        else:
            assert counts == list(SIZES.values()) and exhausted == list(label.values())

    for case in ("unweighted", "unweighted_test"):
        spec = REFERENCE["cases"][case]
        train = dp.load(f"cookbook_{case}", layer="mixture")
        assert users(train) == spec["train"], case
        meta = metadata(result, f"mixture/cookbook_{case}")
        sizes = [n - s["held_out"] for n, s in zip(SIZES.values(), meta["sources"])]
        assert [s["requested"] for s in meta["sources"]] == [n / sum(sizes) for n in sizes]
        if spec["test_size"]:
            test = dp.load(f"cookbook_{case}", split="test", layer="mixture")
            assert users(test) == spec["test"] and meta["test_rows"] == spec["test_size"] == test.num_rows
            assert test.column("source").to_pylist() == [label[u.split()[0]] for u in users(test)]
            assert meta["test_path"] == str(data_dir / "mixture" / f"cookbook_{case}" / "test.arrow")
        else:
            with pytest.raises(ValueError, match=r"mixture cookbook_unweighted has no split 'test'; splits: train \(it holds no rows out"):
                dp.load(f"cookbook_{case}", split="test", layer="mixture")
    assert checks(result) == {"proportions": True, "row_count": True}
    evaluations = [e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert len(evaluations) == 2 * len(names) and all(e.passed for e in evaluations)
