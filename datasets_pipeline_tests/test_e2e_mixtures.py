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
from datasets_pipeline.errors import NotMaterializedError, UnsupportedStorageError
from datasets_pipeline.mixtures import InvalidMixture
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


def _materialization(result, key: str):
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return event.materialization


def test_metadata_lineage_and_data_version(sources, data_dir):
    result = materialize(["mixture/all_exhausted"], None)
    assert result.success, failure_message(result)
    mat = _materialization(result, "mixture/all_exhausted")
    meta = {k: v.value for k, v in mat.metadata.items()}
    # upstream data versions: those the cookbook files record
    assert meta["upstream_data_versions"] == {
        "@".join(PARTITIONS[n]): cookbook(data_dir, n).schema.metadata[VERSION_KEY].decode() for n in SIZES
    }
    assert meta["path"] == str(data_dir / "mixture" / "all_exhausted" / "train.arrow") and "test_path" not in meta
    assert [c.name for c in meta["dagster/column_schema"].columns] == ["messages", "source_row", "uid", "source"]
    assert meta["preview"].count("\n") == 6 and "alpha" in meta["preview"]  # header, rule, 5 rows
    assert meta["proportions"].splitlines()[2].startswith("| `cookbook/tulu3_sft@default/train` |")
    assert meta["bytes"] == (data_dir / "mixture" / "all_exhausted" / "train.arrow").stat().st_size
    version = mat.tags["dagster/data_version"]
    train = data_dir / "mixture" / "all_exhausted" / "train.arrow"
    assert read_table(train).schema.metadata == {VERSION_KEY: version.encode()} and meta["data_version"] == version
    assert "unchanged" not in meta
    stat = train.stat()
    # same sources and entry: the same data version, and the published file is kept as it is
    again = materialize(["mixture/all_exhausted"], None)
    assert _materialization(again, "mixture/all_exhausted").tags["dagster/data_version"] == version
    kept = metadata(again, "mixture/all_exhausted")
    assert kept["unchanged"] == "inputs unchanged since the published version: nothing was recomputed"
    assert (train.stat().st_ino, train.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)
    assert {k: kept[k] for k in ("total_rows", "sources", "exhausted_sources", "restarts", "bytes")} == {
        k: meta[k] for k in ("total_rows", "sources", "exhausted_sources", "restarts", "bytes")}
    assert checks(again) == {"proportions": True, "row_count": True}
    from datasets_pipeline.defs.mixtures import mixture_assets

    before = {a.key.to_user_string(): a.code_versions_by_key[a.key] for a in mixture_assets()}
    sources.write_text(sources.read_text().replace("seed: 42\n    stopping_strategy: all_exhausted\n", "seed: 43\n    stopping_strategy: all_exhausted\n"))
    after = {a.key.to_user_string(): a.code_versions_by_key[a.key] for a in mixture_assets()}
    assert [k for k in before if before[k] != after[k]] == ["mixture/all_exhausted"]
    edited = materialize(["mixture/all_exhausted"], None)
    assert _materialization(edited, "mixture/all_exhausted").tags["dagster/data_version"] != version
    assert metadata(edited, "mixture/all_exhausted")["seed"] == 43 and "unchanged" not in metadata(edited, "mixture/all_exhausted")
    assert train.stat().st_ino != stat.st_ino
    tables = [datasets.Dataset(cookbook(data_dir, n)) for n in SIZES]
    reference = datasets.interleave_datasets(tables, probabilities=WEIGHTS, seed=43, stopping_strategy="all_exhausted")
    assert read_table(train).drop_columns(["source"]).to_pylist() == reference.to_list()


def test_a_blocked_mixture_keeps_the_last_good_version(sources, data_dir):
    result = materialize(["mixture/all_exhausted", "mixture/cookbook_unweighted_test"], None)
    assert result.success, failure_message(result)
    folder = data_dir / "mixture" / "all_exhausted"
    published = (folder / "train.arrow").read_bytes()
    rows = read_table(folder / "train.arrow").num_rows
    # a cap that loses more than half of the published rows: row_count blocks the publication
    sources.write_text(sources.read_text().replace("  all_exhausted:\n", "  all_exhausted:\n    max_rows: 5\n", 1))
    blocked = materialize(["mixture/all_exhausted"], None)
    assert not blocked.success
    assert failure_message(blocked).strip() == (
        f"dagster._core.definitions.events.Failure: mixture/all_exhausted: blocking check row_count: 5 rows where the "
        f"published version has {rows:,} ({1 - 5 / rows:.0%} lost, more than the 50% allowed by "
        "DATASETS_PIPELINE_MAX_ROW_LOSS) — nothing was published; the published version, if any, is kept "
        "[dataset 'all_exhausted']"
    )
    assert checks(blocked) == {"proportions": True, "row_count": False}
    assert (folder / "train.arrow").read_bytes() == published and sorted(p.name for p in folder.iterdir()) == ["stats.json", "train.arrow"]
    assert dp.load("all_exhausted", layer="mixture").num_rows == rows
    # an entry that stops holding rows out: its published test split goes with the next publication
    test_file = data_dir / "mixture" / "cookbook_unweighted_test" / "test.arrow"
    assert read_table(test_file).num_rows == 25
    sources.write_text(sources.read_text().replace("  test_size: 25\n", ""))
    result = materialize(["mixture/cookbook_unweighted_test"], None)
    assert result.success, failure_message(result)
    assert not test_file.exists() and metadata(result, "mixture/cookbook_unweighted_test")["test_rows"] == 0
    with pytest.raises(ValueError, match="has no split 'test'"):
        dp.load("cookbook_unweighted_test", split="test", layer="mixture")


BAD_ENTRY = """\
  broken:
    sources:
      - {asset: cookbook/no_robots, partition: default/train, weight: 1}
      - {asset: cookbook/tulu3_sft, partition: default/train, weight: -2}
    seed: 0
"""
BAD_LINE = len(mixtures_yaml().splitlines()) + 1  # the line of "broken:"


def bad_entry_error(file: Path) -> str:
    return (f"{file}:{BAD_LINE}: mixture 'broken' is invalid: sources[1].weight (line {BAD_LINE + 3}): must not be "
            "negative, got -2")


def test_load_errors(tmp_path, monkeypatch, data_dir):
    file = tmp_path / "mixtures.yaml"
    file.write_text(mixtures_yaml() + BAD_ENTRY)
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(file))
    with pytest.raises(KeyError, match=rf"no mixture 'nope' in {file}; defined: first_exhausted, all_exhausted, "
                       r"all_exhausted_without_replacement, cookbook_unweighted, cookbook_unweighted_test, broken"):
        dp.load("nope", layer="mixture")
    with pytest.raises(InvalidMixture) as info:
        dp.load("broken", layer="mixture")
    assert str(info.value) == bad_entry_error(file)
    with pytest.raises(NotMaterializedError) as missing:
        dp.load("first_exhausted", layer="mixture")
    assert str(missing.value) == (
        f"mixture/first_exhausted is not materialized at {data_dir / 'mixture' / 'first_exhausted' / 'train.arrow'} "
        "[dataset 'first_exhausted', split 'train']. materialize it with: dagster asset materialize -m "
        "datasets_pipeline.definitions --select mixture/first_exhausted"
    )
    with pytest.raises(ValueError, match=r"a mixture has no configs: call load\('first_exhausted', split=..., layer='mixture'\)"):
        dp.load("first_exhausted", "default", layer="mixture")
    # a missing source partition fails the asset with the command that makes it
    result = materialize(["mixture/first_exhausted"], None)
    assert not result.success
    source = data_dir / "cookbook" / "tulu3_sft" / "default" / "train.arrow"
    assert (f"cookbook/tulu3_sft partition default/train is not materialized at {source} [dataset 'first_exhausted', "
            f"file '{source}']. materialize it with: dagster asset materialize -m datasets_pipeline.definitions "
            "--select cookbook/tulu3_sft --partition 'default/train'") in failure_message(result)


def test_remote_data_is_refused_up_front(tmp_path, monkeypatch):
    file = tmp_path / "mixtures.yaml"
    file.write_text(mixtures_yaml())
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(file))
    monkeypatch.setenv("DATASETS_PIPELINE_DATA", "s3://bucket/data")
    expected = (
        "mixture/all_exhausted: the mixture layer needs a local DATASETS_PIPELINE_DATA folder, not s3://bucket/data; "
        "a remote root is supported by the layers raw, cookbook, dataset_dict"
    )
    with pytest.raises(UnsupportedStorageError) as info:
        dp.load("all_exhausted", layer="mixture")
    assert str(info.value) == expected
    result = materialize(["mixture/all_exhausted"], None)
    assert not result.success
    assert f"datasets_pipeline.errors.UnsupportedStorageError: {expected} [dataset 'all_exhausted']" in failure_message(result).splitlines()


def test_code_location_with_a_bad_mixture_loads_the_others(tmp_path, monkeypatch, caplog, data_dir):
    from datasets_pipeline.definitions import build_defs  # imported (it builds the shipped definitions) before the bad file is set

    file = tmp_path / "mixtures.yaml"
    file.write_text(mixtures_yaml() + BAD_ENTRY)
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(file))
    expected = bad_entry_error(file)
    with caplog.at_level(logging.ERROR, logger="datasets_pipeline.defs.mixtures"):
        defs = build_defs()
    assert [r.getMessage() for r in caplog.records] == [expected]
    graph = defs.resolve_asset_graph()
    good = dg.AssetKey(["mixture", "all_exhausted"])
    assert {k.to_user_string() for k in graph.get(good).parent_keys} == {"cookbook/tulu3_sft", "cookbook/no_robots"}
    mixture = defs.resolve_assets_def(good)
    assert list(mixture.get_partition_mapping(dg.AssetKey(["cookbook", "tulu3_sft"])).partition_keys) == ["default/train"]
    assert list(mixture.get_partition_mapping(dg.AssetKey(["cookbook", "no_robots"])).partition_keys) == ["default/train", "default/test"]
    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == good)
    assert spec.kinds == {"mixture", "arrow"} and spec.owners == ["team:datasets"] and spec.group_name == "mixtures"
    assert {k: v for k, v in spec.tags.items() if not k.startswith("dagster/")} == {"family": "chat", "layer": "mixture", "mixture": "all_exhausted"}
    assert spec.automation_condition is not None and "follow_upstream" in spec.automation_condition.get_label()
    assert [c.name for c in defs.resolve_assets_def(good).check_specs] == ["proportions", "row_count"]
    broken_key = dg.AssetKey(["mixture", "broken"])
    broken = next(s for s in defs.resolve_all_asset_specs() if s.key == broken_key)
    assert broken.description == f"INVALID MIXTURE: {expected}"
    assert broken.group_name == "mixtures_invalid" and not graph.get(broken_key).parent_keys
    assert broken.metadata["error"].value == f"```\n{expected}\n```"
    result = materialize(["mixture/broken"], None)
    assert not result.success and failure_message(result).strip() == f"dagster._core.definitions.events.Failure: {expected}"
    assert not (data_dir / "mixture" / "broken").exists()


def test_dagster_cli_loads_the_code_location_with_a_bad_mixture(tmp_path):
    bad = tmp_path / "mixtures.yaml"
    bad.write_text(
        "mixtures:\n"
        "  ok:\n"
        "    sources: [{asset: cookbook/gsm8k, partition: main/train}]\n"
        "  typo:\n"
        "    sources: [{asset: cookbook/gsm8k, partition: main/trian}]\n"
    )
    done = run_cli(["asset", "list", "-m", "datasets_pipeline.definitions"], {"DATASETS_PIPELINE_MIXTURES": str(bad)})
    assert done.returncode == 0, done.stderr
    listed = done.stdout.split()
    assert {"mixture/ok", "mixture/typo", "cookbook/gsm8k"} <= set(listed)
    assert "mixture/chat_sft" not in listed and "dataset_dict/math_rl" not in listed  # the file replaces mixtures.yaml
    assert (f"{bad}:4: mixture 'typo' is invalid: sources[0].partition (line 5): unknown partition 'main/trian' of "
            "cookbook/gsm8k (did you mean 'main/train'?); known: main/train, main/test, socratic/train, socratic/test "
            "(or a config: main, socratic)") in done.stderr


# --- a mixture of tokenized sources -------------------------------------------------------------------

TOKENIZER_FILE = Path(__file__).parent / "reference" / "tokenize_tokenizer.json"
TOKENIZED_MIXTURE = """\
mixtures:
  tokens:
    sources:
      - {asset: tokenized/tulu3_sft, partition: "qwen3|default/train", weight: 2}
      - {asset: tokenized/no_robots, partition: "qwen3|default", weight: 1}
    seed: 5
    stopping_strategy: all_exhausted
    test_size: 16
"""


def _qwen3_profile_and_mixtures(tmp_path: Path, monkeypatch, mixtures: str) -> Path:
    """A ``qwen3`` tokenizer profile (the reference tokenizer, max_length 64) and a mixtures file
    holding ``mixtures``, both in use through the environment; returns the mixtures file."""
    profiles = tmp_path / "tokenizers.yaml"
    profiles.write_text(f"profiles:\n  qwen3:\n    tokenizer: {{path: {TOKENIZER_FILE}}}\n    renderer: qwen3\n    max_length: 64\n")
    monkeypatch.setenv("DATASETS_PIPELINE_TOKENIZERS", str(profiles))
    file = tmp_path / "mixtures.yaml"
    file.write_text(mixtures)
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(file))
    return file


def test_a_mixture_of_tokenized_sources_feeds_the_loader(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    from datasets_pipeline.tokenize.loader import SupervisedLoader
    from datasets_pipeline.mixtures.plan import holdout

    _qwen3_profile_and_mixtures(tmp_path, monkeypatch, TOKENIZED_MIXTURE)
    serve_sources(hub_server)
    materialize_sources()
    for name, (asset, partition) in PARTITIONS.items():
        result = materialize([f"tokenized/{asset.split('/')[1]}"], f"qwen3|{partition}")
        assert result.success, failure_message(result)
    result = materialize(["mixture/tokens"], None)
    assert result.success, failure_message(result)

    tokenized = {n: read_table(data_dir / "tokenized" / PARTITIONS[n][0].split("/")[1] / "qwen3" / f"{PARTITIONS[n][1]}.arrow") for n in SIZES}
    assert tokenized["alpha"].column_names == ["tokens", "weights", "length", "uid", "source_row"]
    train, test = dp.load("tokens", layer="mixture"), dp.load("tokens", split="test", layer="mixture")
    assert train.column_names == ["tokens", "weights", "length", "uid", "source_row", "source"]
    # the reference: the cookbook's held-out split, then interleave_datasets on the rest (weights 2:1)
    sources = [tokenized["alpha"], pa.concat_tables([tokenized["beta"], tokenized["gamma"]])]
    split = holdout([t.num_rows for t in sources], [2.0, 1.0], 16, 5, uniform_rows=False)
    rest = [datasets.Dataset(t.take(pa.array(rows))) for t, rows in zip(sources, split.train_rows)]
    reference = datasets.interleave_datasets(rest, probabilities=[2 / 3, 1 / 3], seed=5, stopping_strategy="all_exhausted")
    assert train.drop_columns(["source"]).to_pylist() == reference.to_list()
    assert test.num_rows == 16 and not set(test.column("uid").to_pylist()) & set(train.column("uid").to_pylist())
    labels = {"tokenized/tulu3_sft@qwen3|default/train", "tokenized/no_robots@qwen3|default/train", "tokenized/no_robots@qwen3|default/test"}
    assert set(train.column("source").to_pylist()) == labels
    meta = metadata(result, "mixture/tokens")
    assert meta["upstream_data_versions"] == {
        f"{PARTITIONS[n][0].replace('cookbook', 'tokenized')}@qwen3|{PARTITIONS[n][1]}": t.schema.metadata[VERSION_KEY].decode()
        for n, t in tokenized.items()
    }
    # lineage: exactly the tokenized partitions
    from datasets_pipeline.defs.mixtures import mixture_assets

    (asset,) = mixture_assets()
    mapping = asset.get_partition_mapping(dg.AssetKey(["tokenized", "no_robots"]))
    assert list(mapping.partition_keys) == ["qwen3|default/train", "qwen3|default/test"]
    # the loader takes the mixture as it is
    loader = SupervisedLoader(train, batch_size=8)
    batches = list(loader)
    assert len(batches) == train.num_rows // 8
    first = batches[0]
    row = train.slice(0, 1).to_pylist()[0]
    assert first.tokens[0, : row["length"] - 1].tolist() == row["tokens"][:-1]
    assert first.targets[0, : row["length"] - 1].tolist() == row["tokens"][1:]


def test_shipped_chat_mixtures_materialize(hub_server, hf_env, data_dir, monkeypatch):
    """``chat_sft`` and ``chat_sft_tokens`` of the shipped mixtures.yaml, with the shipped tokenizers.yaml (qwen3_local
    trains its tokenizer from gsm8k in the pipeline)."""
    from datasets_pipeline.tokenize.loader import SupervisedLoader
    from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files

    monkeypatch.delenv("DATASETS_PIPELINE_MIXTURES", raising=False)
    monkeypatch.delenv("DATASETS_PIPELINE_TOKENIZERS", raising=False)
    monkeypatch.chdir(data_dir.parent)  # no ./tokenizers.yaml here: the project's is used
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    chat = {n: pa.Table.from_pylist([{"messages": [{"role": "user", "content": f"{n} {i}"}, {"role": "assistant", "content": f"reply {i} " * (i % 9)}]}
                                     for i in range(size)]) for n, size in (("tulu", 1_400), ("robots", 600))}
    hub_server.add_repo("allenai/tulu-3-sft-mixture", {
        "README.md": card({"default": {"train": "data/train-*"}}), "data/train-00000-of-00001.parquet": parquet_bytes(chat["tulu"])})
    hub_server.add_repo("HuggingFaceH4/no_robots", {
        "README.md": card({"default": {"train": "data/train-*", "test": "data/test-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(chat["robots"]), "data/test-00000-of-00001.parquet": parquet_bytes(chat["robots"].slice(0, 5))})
    for name, partition in (("gsm8k", "main/train"), ("tulu3_sft", "default/train"), ("no_robots", "default/train")):
        result = materialize([f"raw/{name}", f"cookbook/{name}"], partition)
        assert result.success, failure_message(result)
    result = materialize(["tokenizer/qwen3_local"], None)
    assert result.success, failure_message(result)
    for name in ("tulu3_sft", "no_robots"):
        result = materialize([f"tokenized/{name}"], "qwen3_local|default/train")
        assert result.success, failure_message(result)
    result = materialize(["mixture/chat_sft", "mixture/chat_sft_tokens"], None)
    assert result.success, failure_message(result)
    for name in ("chat_sft", "chat_sft_tokens"):
        meta = metadata(result, f"mixture/{name}")
        assert (meta["total_rows"], meta["test_rows"]) == (dp.load(name, layer="mixture").num_rows, 1_024)
        assert meta["exhausted_sources"] == [s["source"] for s in meta["sources"]]  # all_exhausted
    texts, tokens = dp.load("chat_sft", layer="mixture"), dp.load("chat_sft_tokens", layer="mixture")
    # same sources, seed and sizes: the same rows in the same order, as text and as tokens
    assert texts.column("uid").to_pylist() == tokens.column("uid").to_pylist()
    assert [s.replace("cookbook/", "") for s in texts.column("source").to_pylist()] == [
        s.replace("tokenized/", "").replace("qwen3_local|", "") for s in tokens.column("source").to_pylist()]
    batch = next(iter(SupervisedLoader(tokens, batch_size=4)))
    assert batch.tokens.shape[0] == 4 and batch.weights.sum() > 0


def _readme_error_rows() -> list[tuple[str, str, str]]:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = text.split("<!-- mixture-errors -->\n", 1)[1].split("<!-- /mixture-errors -->", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")]
        rows.append((cells[0], cells[1].strip("`"), cells[2].strip("`")))
    return rows


@pytest.mark.parametrize("case, text, message", _readme_error_rows(), ids=lambda v: v if " " not in str(v) else None)
def test_readme_error_table(case, text, message, tmp_path):
    """Each invalid case documented in the README gives its documented error."""
    from datasets_pipeline.mixtures import MixturesFileError, load_mixtures

    file = tmp_path / "mixtures.yaml"
    file.write_text(text)
    try:
        loaded = load_mixtures(file, profiles=("default", "qwen3_local"))
        (error,) = loaded.errors.values()
        got = error.message
    except MixturesFileError as exc:
        got = str(exc)
    got = got.replace(str(file), "mixtures.yaml")
    if message.endswith("…"):
        assert got.startswith(message[:-1]), case
    else:
        assert got == message, case


UI_ASSETS = """
{ assetNodes(assetKeys: [{path: ["mixture", "broken"]}, {path: ["mixture", "all_exhausted"]}]) {
    assetKey { path } description groupName dependencyKeys { path } } }
"""
UI_RUN = """
query ($runId: ID!) {
  runOrError(runId: $runId) { ... on Run { status } }
  logsForRun(runId: $runId) { ... on EventConnection { events {
    __typename ... on ExecutionStepFailureEvent { error { message } } } } }
}
"""


@pytest.mark.slow
def test_the_webserver_graphql_shows_a_bad_mixture(tmp_path, monkeypatch, data_dir):
    """What the UI reads: the code location loaded out of process as the webserver loads it (workspace.yaml,
    gRPC), queried through the webserver's GraphQL schema; the run launched as the UI's Materialize button does."""
    import time

    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql, materialize_assets

    from datasets_pipeline_tests.dagster_runs import REPO_ROOT

    file = tmp_path / "mixtures.yaml"
    file.write_text(mixtures_yaml() + BAD_ENTRY)
    monkeypatch.setenv("DATASETS_PIPELINE_MIXTURES", str(file))
    monkeypatch.setenv("DATASETS_PIPELINE_EXECUTOR", "in_process")
    expected = bad_entry_error(file)
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home"), synchronous_run_coordinator=True) as instance:
        with define_out_of_process_context(str(REPO_ROOT / "workspace.yaml"), None, instance) as context:
            nodes = execute_dagster_graphql(context, UI_ASSETS).data["assetNodes"]
            shown = {"/".join(n["assetKey"]["path"]): n for n in nodes}
            assert shown["mixture/broken"]["description"] == f"INVALID MIXTURE: {expected}"
            assert shown["mixture/broken"]["groupName"] == "mixtures_invalid" and shown["mixture/broken"]["dependencyKeys"] == []
            assert shown["mixture/all_exhausted"]["description"].startswith("mixture layer: ")
            assert sorted("/".join(k["path"]) for k in shown["mixture/all_exhausted"]["dependencyKeys"]) == [
                "cookbook/no_robots", "cookbook/tulu3_sft"]
            launched = materialize_assets(context, [dg.AssetKey(["mixture", "broken"])])
            run_id = launched.data["launchPipelineExecution"]["run"]["runId"]
            deadline = time.monotonic() + 120
            while not instance.get_run_by_id(run_id).is_finished:
                assert time.monotonic() < deadline, instance.get_run_by_id(run_id).status
                time.sleep(0.5)
            run = execute_dagster_graphql(context, UI_RUN, variables={"runId": run_id}).data
            assert run["runOrError"]["status"] == "FAILURE"
            failures = [e["error"]["message"] for e in run["logsForRun"]["events"] if e["__typename"] == "ExecutionStepFailureEvent"]
            assert [m.strip() for m in failures] == [f"dagster._core.definitions.events.Failure: {expected}"]


MATH_TOKENS = """\
mixtures:
  math_tokens:
    sources:
      - {asset: tokenized/gsm8k, partition: "qwen3|main/train", weight: 3}
      - {asset: tokenized/math500, partition: "qwen3|default/test", weight: 1}
    seed: 11
    stopping_strategy: all_exhausted
"""


def test_a_mixture_of_tokenized_math_sources_equals_interleave_datasets(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files
    from datasets_pipeline_tests.test_e2e_automation import math500_files

    file = _qwen3_profile_and_mixtures(tmp_path, monkeypatch, MATH_TOKENS)
    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files(40))
    hub_server.add_repo("HuggingFaceH4/MATH-500", math500_files(25))
    for name, partition in (("gsm8k", "main/train"), ("math500", "default/test")):
        for selection, key in (([f"raw/{name}", f"cookbook/{name}"], partition), ([f"tokenized/{name}"], f"qwen3|{partition}")):
            result = materialize(selection, key)
            assert result.success, failure_message(result)
    result = materialize(["mixture/math_tokens"], None)
    assert result.success, failure_message(result)

    tables = [read_table(data_dir / "tokenized" / "gsm8k" / "qwen3" / "main" / "train.arrow"),
              read_table(data_dir / "tokenized" / "math500" / "qwen3" / "default" / "test.arrow")]
    assert [t.num_rows for t in tables] == [40, 25] and tables[0].column_names == ["tokens", "answer", "length", "uid", "source_row"]
    out = dp.load("math_tokens", layer="mixture")
    reference = datasets.interleave_datasets([datasets.Dataset(t) for t in tables], probabilities=[0.75, 0.25], seed=11,
                                             stopping_strategy="all_exhausted")
    assert out.column_names == ["tokens", "answer", "length", "uid", "source_row", "source"]
    assert out.num_rows == len(reference) > 40 and out.drop_columns(["source"]).to_pylist() == reference.to_list()
    labels = ["tokenized/gsm8k@qwen3|main/train", "tokenized/math500@qwen3|default/test"]
    assert sorted(set(out.column("source").to_pylist())) == labels
    assert [s["source"] for s in metadata(result, "mixture/math_tokens")["sources"]] == labels

    # tokenized chat and preference sources: refused when the file loads, naming both and their columns
    file.write_text(MATH_TOKENS + "  mixed:\n    sources:\n      - {asset: tokenized/no_robots, partition: \"qwen3|default/train\"}\n"
                    "      - {asset: tokenized/hh_rlhf, partition: \"qwen3|default/train\"}\n")
    broken = materialize(["mixture/mixed"], None)
    assert failure_message(broken).strip() == (
        f"dagster._core.definitions.events.Failure: {file}:8: mixture 'mixed' is invalid: sources (line 9): mixes tokenized "
        "families ['chat', 'preference'] (sources[0] (tokenized/no_robots), sources[1] (tokenized/hh_rlhf)), whose token "
        "columns differ (chat: tokens, weights; preference: chosen_tokens, chosen_weights, rejected_tokens, rejected_weights, "
        "chosen_length, rejected_length); mix tokenized sources of one family, or select the columns they share with 'columns:'"
    )
