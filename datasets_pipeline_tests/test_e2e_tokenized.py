"""End to end: ``tokenized/<name>`` partitions (profile × split) materialized by Dagster from loopback-Hub data.

The reference for every cache is the engine's :func:`tokenize_table` over the published cookbook
rows (itself checked against the cookbook's renderers in test_tokenize_parity.py).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg
import datasets_pipeline as dp
import numpy as np
import pyarrow as pa
import pytest

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.errors import NotMaterializedError
from datasets_pipeline.tokenize.encoder import TokenizersEncoder
from datasets_pipeline.tokenize.profiles import load_profile
from datasets_pipeline.tokenize.tokenize_table import ProfileTokenizer, tokenize_table
from datasets_pipeline.hub.checksum import sha256_of
from datasets_pipeline_tests.dagster_runs import failure_message
from datasets_pipeline_tests.fixtures_data import parquet_bytes
from datasets_pipeline_tests.test_e2e_families import MESSAGE_LIST, card
from datasets_pipeline_tests.test_tokenize_table import conversations

TOKENIZER_FILE = Path(__file__).parent / "reference" / "tokenize_tokenizer.json"
PROFILES = """\
profiles:
  qwen3:
    tokenizer: {{path: {path}}}
    renderer: qwen3
    max_length: {max_length}
  llama3:
    tokenizer: {{path: {path}}}
    renderer: llama3
    train_on_what: last_assistant_message
    max_length: null
"""
SCHEMA = pa.schema([("prompt", pa.string()), ("prompt_id", pa.string()), ("messages", MESSAGE_LIST), ("category", pa.string())])


def no_robots_rows(n: int, seed: int = 0) -> list[dict]:
    return [{"prompt": c[0]["content"], "prompt_id": f"p{i}", "messages": c, "category": "Chat"}
            for i, c in enumerate(conversations(n, seed))]


def serve_no_robots(hub_server, rows: list[dict], *, update: bool = False) -> None:
    (hub_server.update_repo if update else hub_server.add_repo)("HuggingFaceH4/no_robots", {
        "README.md": card({"default": {"train": "data/train-*", "test": "data/test-*"}}),
        "data/train-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(rows, schema=SCHEMA)),
        "data/test-00000-of-00001.parquet": parquet_bytes(pa.Table.from_pylist(rows[:3], schema=SCHEMA)),
    })


def write_profiles(tmp_path: Path, monkeypatch, max_length: int = 48, tokenizer: Path = TOKENIZER_FILE) -> Path:
    path = tmp_path / "tokenizers.yaml"
    path.write_text(PROFILES.format(path=tokenizer, max_length=max_length))
    monkeypatch.setenv("DATASETS_PIPELINE_TOKENIZERS", str(path))
    return path


def run(selection, partition, instance=None, *, ok: bool = True) -> dg.ExecuteInProcessResult:
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.definitions import resources

    if isinstance(selection, dg.AssetSelection):  # checks only: a job of the selection, in the asset's partitions
        assets = catalog_assets()
        job = dg.define_asset_job("checks_only", selection=selection)
        defs = dg.Definitions(assets=assets, jobs=[job], resources=resources())
        profile, split = partition.split("|")  # Dagster 1.13 finds no partitions for a checks-only job: tag the run
        tags = {"dagster/partition": partition, "dagster/partition/profile": profile, "dagster/partition/split": split}
        result = defs.resolve_job_def("checks_only").execute_in_process(
            tags=tags, instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False
        )
    else:
        result = dg.materialize(
            catalog_assets(), selection=list(selection), partition_key=partition, resources=resources(),
            instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
        )
    if ok:
        assert result.success, failure_message(result)
    return result


def metadata(result, key: str) -> dict:
    (mat,) = [e.step_materialization_data.materialization for e in result.get_asset_materialization_events()
              if e.step_materialization_data.materialization.asset_key.to_user_string() == key]
    return {k: v.value for k, v in mat.metadata.items()}


def checks(result) -> dict[str, bool]:
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def reference(profile_file: Path, name: str, cookbook: pa.Table) -> pa.Table:
    profile = load_profile(name, profile_file)
    return tokenize_table(cookbook, ProfileTokenizer(profile, TokenizersEncoder(TOKENIZER_FILE)))


def cached(data_dir: Path, profile: str, split: str = "train") -> pa.Table:
    return read_table(data_dir / "tokenized" / "no_robots" / profile / "default" / f"{split}.arrow")


def test_tokenized_partition_equals_the_engine_and_records_its_statistics(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    serve_no_robots(hub_server, no_robots_rows(100))
    profiles = write_profiles(tmp_path, monkeypatch)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    result = run(["tokenized/no_robots"], "qwen3|default/train")
    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    table, want = cached(data_dir, "qwen3"), reference(profiles, "qwen3", cookbook)
    assert table.column_names == ["tokens", "weights", "length", "uid", "source_row"]
    assert table.cast(want.schema).equals(want) and table.num_rows == 100
    assert not (data_dir / "tokenized" / "no_robots" / "llama3").exists()

    meta = metadata(result, "tokenized/no_robots")
    lengths = want.column("length").to_numpy()
    profile = load_profile("qwen3", profiles)
    sha = sha256_of(TOKENIZER_FILE)
    full = tokenize_table(cookbook, ProfileTokenizer(replace(profile, max_length=None), TokenizersEncoder(TOKENIZER_FILE)))
    assert {k: meta[k] for k in ("profile", "renderer", "train_on_what", "max_length", "tokenizer_sha256", "artifact_hash")} == {
        "profile": "qwen3", "renderer": "qwen3", "train_on_what": "all_assistant_messages", "max_length": 48,
        "tokenizer_sha256": sha, "artifact_hash": profile.artifact_hash(sha)}
    assert (meta["rows"], meta["encoded_rows"], meta["reused_rows"], meta["dagster/row_count"]) == (100, 100, 0, 100)
    assert meta["tokens"] == int(lengths.sum())
    assert meta["trained_tokens"] == sum(sum(w) for w in want.column("weights").to_pylist())
    assert meta["truncated_rows"] == int((full.column("length").to_numpy() > 48).sum()) == 88
    for q in (50, 90, 99):
        assert meta[f"length_p{q}"] == int(np.percentile(lengths, q, method="lower"))
    assert meta["length_max"] == 48 == int(lengths.max())
    histogram = meta["length_histogram"].splitlines()
    assert histogram[:2] == ["| tokens | rows | |", "|---:|---:|---|"]
    assert sum(int(line.split("|")[2]) for line in histogram[2:]) == 100
    cookbook_version = metadata(run(["cookbook/no_robots"], "default/train"), "cookbook/no_robots")  # unchanged re-run
    assert meta["upstream_data_version"] == cookbook.schema.metadata[b"datasets_pipeline.data_version"].decode()
    assert cookbook_version["unchanged"]
    assert checks(result) == {"rows_match": True, "truncation": False, "drift": True}


def test_llama3_profile_without_max_length_and_unchanged_rerun(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    serve_no_robots(hub_server, no_robots_rows(40, seed=2))
    profiles = write_profiles(tmp_path, monkeypatch)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    first = metadata(run(["tokenized/no_robots"], "llama3|default/train"), "tokenized/no_robots")
    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    assert cached(data_dir, "llama3").equals(reference(profiles, "llama3", cookbook).cast(cached(data_dir, "llama3").schema))
    assert first["truncated_rows"] == 0 and first["train_on_what"] == "last_assistant_message"
    before = (data_dir / "tokenized/no_robots/llama3/default/train.arrow").stat().st_mtime_ns
    again = metadata(run(["tokenized/no_robots"], "llama3|default/train"), "tokenized/no_robots")
    assert again["unchanged"].startswith("inputs unchanged") and (again["encoded_rows"], again["reused_rows"]) == (0, 40)
    assert again["data_version"] == first["data_version"]
    assert (data_dir / "tokenized/no_robots/llama3/default/train.arrow").stat().st_mtime_ns == before

    # the training-side API
    loaded = dp.load("no_robots", split="train", layer="tokenized", profile="llama3")
    assert loaded.equals(cached(data_dir, "llama3"))
    names = f"profiles in {profiles}: qwen3, llama3"
    with pytest.raises(ValueError) as err:
        dp.load("no_robots", layer="tokenized")
    assert str(err.value) == f"load(..., layer='tokenized') needs profile=<profile name>; {names}"
    with pytest.raises(ValueError, match=r"^profile= applies to layer='tokenized' only, not layer='cookbook'$"):
        dp.load("no_robots", profile="llama3")
    with pytest.raises(NotMaterializedError) as missing:
        dp.load("no_robots", "default", "test", layer="tokenized", profile="qwen3")
    where = data_dir / "tokenized" / "no_robots" / "qwen3" / "default" / "test.arrow"
    assert str(missing.value) == (
        f"tokenized/no_robots for profile 'qwen3' is not materialized at {where} [dataset 'no_robots', config 'default', "
        f"split 'test']. materialize it with: dagster asset materialize -m datasets_pipeline.definitions --select "
        f'tokenized/no_robots --partition "qwen3|default/test" ({names})'
    )


def test_remote_data_root_is_refused_naming_the_layer(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    serve_no_robots(hub_server, no_robots_rows(5))
    write_profiles(tmp_path, monkeypatch)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    from datasets_pipeline.defs.io_manager import ArrowIOManager
    from datasets_pipeline.paths import require_local
    from datasets_pipeline.errors import UnsupportedStorageError

    with pytest.raises(UnsupportedStorageError) as err:
        require_local("s3://bucket/data", "tokenized", "tokenized/no_robots")
    assert str(err.value) == ("tokenized/no_robots: the tokenized layer needs a local DATASETS_PIPELINE_DATA folder, not "
                              "s3://bucket/data; a remote root is supported by the layers raw, cookbook, dataset_dict")
    # through Dagster: the cookbook input is read from the local folder, the run's data root is remote
    monkeypatch.setattr(ArrowIOManager, "root", property(lambda self: "s3://bucket/data"))
    result = run(["tokenized/no_robots"], "qwen3|default/train", ok=False)
    assert not result.success
    assert str(err.value) in failure_message(result)


def _status(instance, partition: str):
    from dagster._utils.test.data_versions import get_stale_status_resolver

    from datasets_pipeline.defs.assets import catalog_assets

    resolver = get_stale_status_resolver(instance, catalog_assets())  # definitions reloaded: profiles read again
    key = dg.AssetKey(["tokenized", "no_robots"])
    return resolver.get_status(key, partition).value, sorted({c.category.value for c in resolver.get_stale_causes(key, partition)})


def test_profile_change_marks_stale_and_changed_rows_are_the_only_ones_encoded(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    rows = no_robots_rows(200, seed=5)
    serve_no_robots(hub_server, rows)
    profiles = write_profiles(tmp_path, monkeypatch, max_length=48)
    part = "qwen3|default/train"
    with dg.instance_for_test() as instance:
        run(["raw/no_robots", "cookbook/no_robots"], "default/train", instance)
        first = metadata(run(["tokenized/no_robots"], part, instance), "tokenized/no_robots")
        assert _status(instance, part) == ("FRESH", [])
        assert _status(instance, "llama3|default/train")[0] == "MISSING"

        # a profile setting changes: the partition is stale (code version), and a re-run encodes every row
        write_profiles(tmp_path, monkeypatch, max_length=40)
        assert _status(instance, part) == ("STALE", ["CODE"])
        second = metadata(run(["tokenized/no_robots"], part, instance), "tokenized/no_robots")
        assert second["artifact_hash"] != first["artifact_hash"] and second["data_version"] != first["data_version"]
        assert (second["encoded_rows"], second["reused_rows"], second["incremental"], second["length_max"]) == (200, 0, "False", 40)
        assert _status(instance, part) == ("FRESH", [])

        # 1% of the upstream rows change at the Hub: raw → cookbook, the cache is stale (upstream data)
        changed = [dict(r) for r in rows]
        new_conversations = conversations(2, seed=77)
        for i, conv in zip((17, 150), new_conversations):
            changed[i]["messages"] = conv
        serve_no_robots(hub_server, changed, update=True)
        run(["raw/no_robots", "cookbook/no_robots"], "default/train", instance)
        status, causes = _status(instance, part)
        assert status == "STALE" and "DATA" in causes
        third = metadata(run(["tokenized/no_robots"], part, instance), "tokenized/no_robots")
        assert (third["encoded_rows"], third["reused_rows"], third["incremental"]) == (2, 198, "True")
        assert third["artifact_hash"] == second["artifact_hash"] and third["data_version"] != second["data_version"]
        cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
        want = reference(profiles, "qwen3", cookbook)
        table = cached(data_dir, "qwen3")
        assert table.cast(want.schema).equals(want)
        assert _status(instance, part) == ("FRESH", [])
        assert (third["tokens"], third["trained_tokens"]) == (int(pc_sum(want, "length")), int(pc_sum(want, "weights")))


def pc_sum(table: pa.Table, column: str) -> int:
    import pyarrow.compute as pc

    col = table.column(column)
    return pc.sum(pc.list_flatten(col) if pa.types.is_list(col.type) else col).as_py()


def test_drift_check_fails_when_the_tokenizer_file_changes(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    serve_no_robots(hub_server, no_robots_rows(120, seed=4))
    tokenizer = tmp_path / "tokenizer.json"
    shutil.copy(TOKENIZER_FILE, tokenizer)
    write_profiles(tmp_path, monkeypatch, max_length=1000, tokenizer=tokenizer)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    part = "qwen3|default/train"
    assert checks(run(["tokenized/no_robots"], part))["drift"] is True
    drift_only = dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey(["tokenized", "no_robots"]), "drift"))
    assert checks(run(drift_only, part)) == {"drift": True}

    data = json.loads(tokenizer.read_text(encoding="utf-8"))
    data["model"]["merges"] = data["model"]["merges"][:-200]  # one change of the file: some words split differently
    tokenizer.write_text(json.dumps(data), encoding="utf-8")
    result = run(drift_only, part, ok=False)
    (evaluation,) = [e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert (meta["checked"], meta["sample"], meta["tokenizer_sha256"], meta["cache_tokenizer_sha256"]) == (
        64, 64, sha256_of(tokenizer), sha256_of(TOKENIZER_FILE))
    # exactly the sampled rows the changed tokenizer encodes differently
    cache = cached(data_dir, "qwen3")
    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    profile = load_profile("qwen3", tmp_path / "tokenizers.yaml")
    again = tokenize_table(cookbook, ProfileTokenizer(profile, TokenizersEncoder(tokenizer)))
    differ = {i for i in range(120) if again.column("tokens")[i] != cache.column("tokens")[i]}
    picked = sorted(np.random.default_rng(0).choice(120, size=64, replace=False).tolist())
    assert meta["mismatched_rows"] == [i for i in picked if i in differ][:20] and differ
    assert "of 64 sampled rows encode differently with the current tokenizer" in evaluation.description
    # materializing again re-encodes with the new file (artifact hash changed) and the check passes
    again_run = run(["tokenized/no_robots"], part)
    assert checks(again_run)["drift"] is True and metadata(again_run, "tokenized/no_robots")["encoded_rows"] == 120


TRAINED = """\
profiles:
  small:
    tokenizer:
      train: {algorithm: bpe, vocab_size: 400, min_frequency: 2, sources: [no_robots@default/train, no_robots@default/test]}
    renderer: qwen3
    max_length: 64
"""


def test_trained_profile_tokenizer_asset_and_the_cli_partition(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    from datasets_pipeline.tokenize.training import table_texts, train_tokenizer
    from datasets_pipeline_tests.dagster_runs import cli_env, run_cli

    serve_no_robots(hub_server, no_robots_rows(60, seed=8))
    profiles = tmp_path / "tokenizers.yaml"
    profiles.write_text(TRAINED)
    monkeypatch.setenv("DATASETS_PIPELINE_TOKENIZERS", str(profiles))
    for split in ("train", "test"):
        run(["raw/no_robots", "cookbook/no_robots"], f"default/{split}")
    # the cache of a trained profile needs its tokenizer first: the error names the command
    early = run(["tokenized/no_robots"], "small|default/train", ok=False)
    assert ("its tokenizer is trained by the pipeline and tokenizer/small is not materialized" in failure_message(early)
            and "--select tokenizer/small" in failure_message(early))
    assert not (data_dir / "tokenized").exists()

    meta = metadata(run(["tokenizer/small"], None), "tokenizer/small")
    # the same corpus (train then test, in row order) trained directly gives the same bytes
    cook = {s: read_table(data_dir / "cookbook" / "no_robots" / "default" / f"{s}.arrow") for s in ("train", "test")}
    profile = load_profile("small", profiles)
    direct = tmp_path / "direct.json"
    sha = train_tokenizer(profile.tokenizer.train, [*table_texts(cook["train"]), *table_texts(cook["test"])], direct)
    stored = data_dir / "tokenizer" / "small" / sha / "tokenizer.json"
    assert meta["tokenizer_sha256"] == sha and stored.read_bytes() == direct.read_bytes()
    assert json.loads((data_dir / "tokenizer" / "small" / "current.json").read_text()) == {"sha256": sha, "file": "tokenizer.json"}
    assert meta["sources"] == ["no_robots@default/train", "no_robots@default/test"] and meta["source_rows"] == 63
    assert meta["artifact_hash"] == profile.artifact_hash(sha) and meta["settings"]["vocab_size"] == 400

    (tmp_path / "dagster_home").mkdir()
    done = run_cli(
        ["asset", "materialize", "-m", "datasets_pipeline.definitions", "--select", "tokenized/no_robots",
         "--partition", "small|default/train"],
        {**cli_env(hub_server.url, tmp_path, data_dir), "DATASETS_PIPELINE_TOKENIZERS": str(profiles)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = cached(data_dir, "small")
    want = tokenize_table(cook["train"], ProfileTokenizer(profile, TokenizersEncoder(stored)))
    assert table.cast(want.schema).equals(want) and table.num_rows == 60
    assert "RUN_SUCCESS" in done.stderr


SAMPLED = """\
samples: {{k: 120, seed: 3, splits: {{train: 96, val: 12, test: 12}}, min_chars: 1, max_chars: {max_chars}}}
profiles:
  qwen3s:
    tokenizer: {{path: {path}}}
    renderer: qwen3
    max_length: 64
    source: sample
"""


def test_sample_is_seeded_filtered_labelled_once_and_tokenizable(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    from datasets_pipeline.engine.reservoir import assign_splits, reservoir_sample

    rows = no_robots_rows(300, seed=9)
    for i in range(0, 300, 10):  # every tenth conversation is blank: the pre-filter drops it
        rows[i]["messages"] = [{"role": "user", "content": "  "}, {"role": "assistant", "content": ""}]
    serve_no_robots(hub_server, rows)
    profiles = tmp_path / "tokenizers.yaml"
    profiles.write_text(SAMPLED.format(path=TOKENIZER_FILE, max_chars=400))
    monkeypatch.setenv("DATASETS_PIPELINE_TOKENIZERS", str(profiles))
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    missing = run(["tokenized/no_robots"], "qwen3s|default/train", ok=False)
    assert "profile 'qwen3s' tokenizes sample/no_robots, which is not materialized" in failure_message(missing)
    assert "--select sample/no_robots --partition default/train" in failure_message(missing)

    result = run(["sample/no_robots"], "default/train")
    folder = data_dir / "sample" / "no_robots" / "default" / "train"
    sample = read_table(folder / "manifest.arrow")
    # reference: the same filter in Python, then the engine's reservoir and split assignment
    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    texts = ["\n".join(m["content"] for m in conv).strip() for conv in cookbook.column("messages").to_pylist()]
    keep = [1 <= len(t) <= 400 for t in texts]
    assert sum(keep) < 270  # blank rows and overlong rows were dropped
    want = reservoir_sample(cookbook.filter(pa.array(keep)).to_batches(max_chunksize=7), 120, 3)
    want = assign_splits(want, {"train": 96, "val": 12, "test": 12}, seed=3)
    assert sample.column("uid").to_pylist() == want.column("uid").to_pylist()
    assert sample.column("split").to_pylist() == want.column("split").to_pylist()
    assert sample.drop_columns(["split"]).select(cookbook.column_names).equals(want.select(cookbook.column_names))
    meta = metadata(result, "sample/no_robots")
    assert meta["splits"] == {"train": 96, "val": 12, "test": 12} and meta["dagster/row_count"] == 120
    assert (meta["rows_seen"], meta["dropped_short"], meta["dropped_long"]) == (300, 30, 300 - 30 - sum(keep))
    record = json.loads((folder / "manifest.meta.json").read_text())
    raw_sha = read_table(data_dir / "raw" / "no_robots" / "default" / "train.arrow").schema.metadata
    assert (record["source"], record["seed"], record["k"], record["counts"]) == (
        "cookbook/no_robots@default/train", 3, 120, {"train": 96, "val": 12, "test": 12})
    assert record["revision"] == meta["revision"] and len(record["revision"]) == 40 and record["revision"].encode() in b"".join(raw_sha.values())
    assert record["filters"]["max_chars"] == 400 and record["algorithm"] == "reservoir-R/numpy-pcg64-random-v1"

    # same inputs, same sample: the published manifest is kept as it is
    before = (folder / "manifest.arrow").read_bytes()
    again = metadata(run(["sample/no_robots"], "default/train"), "sample/no_robots")
    assert again["unchanged"].startswith("inputs unchanged") and (folder / "manifest.arrow").read_bytes() == before

    # a cache of the sample keeps each row's label
    run(["tokenized/no_robots"], "qwen3s|default/train")
    table = cached(data_dir, "qwen3s")
    ref = tokenize_table(sample, ProfileTokenizer(load_profile("qwen3s", profiles), TokenizersEncoder(TOKENIZER_FILE)))
    assert table.column_names == ["tokens", "weights", "length", "uid", "source_row", "split"]
    assert table.drop_columns(["split"]).cast(ref.schema).equals(ref) and table.column("split").equals(sample.column("split"))

    # a sample setting changes: a new sample (k = 60 of the same rows)
    profiles.write_text(SAMPLED.format(path=TOKENIZER_FILE, max_chars=400).replace("k: 120", "k: 60").replace(
        "{train: 96, val: 12, test: 12}", "{train: 0.5, val: 0.25, test: 0.25}"))
    changed = metadata(run(["sample/no_robots"], "default/train"), "sample/no_robots")
    assert changed["splits"] == {"train": 30, "val": 15, "test": 15} and changed["data_version"] != meta["data_version"]


def test_automation_refreshes_materialized_caches_only(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    from datasets_pipeline.defs.assets import catalog_assets
    from datasets_pipeline.definitions import resources

    rows = no_robots_rows(30, seed=11)
    serve_no_robots(hub_server, rows)
    write_profiles(tmp_path, monkeypatch)
    with dg.instance_for_test() as instance:
        run(["raw/no_robots", "cookbook/no_robots"], "default/train", instance)
        run(["tokenized/no_robots"], "qwen3|default/train", instance)
        selection = dg.AssetSelection.assets(["tokenized", "no_robots"], ["sample", "no_robots"])
        first = dg.evaluate_automation_conditions(dg.Definitions(assets=catalog_assets(), resources=resources()), instance, asset_selection=selection)
        assert first.total_requested == 0  # missing partitions (llama3, test, samples) are not built by automation

        changed = [dict(r) for r in rows]
        changed[4]["messages"] = conversations(1, seed=12)[0]
        serve_no_robots(hub_server, changed, update=True)
        run(["raw/no_robots", "cookbook/no_robots"], "default/train", instance)
        second = dg.evaluate_automation_conditions(dg.Definitions(assets=catalog_assets(), resources=resources()), instance, asset_selection=selection, cursor=first.cursor)
        requested = {
            (key.to_user_string(), str(p)) for key in (dg.AssetKey(["tokenized", "no_robots"]), dg.AssetKey(["sample", "no_robots"]))
            for p in second.get_requested_partitions(key)}
        assert requested == {("tokenized/no_robots", "qwen3|default/train")}


def test_math_preference_and_code_caches(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    import gzip

    from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files

    hub_server.add_repo("openai/gsm8k", gsm8k_repo_files())
    pairs = [{"chosen": f"\n\nHuman: What is {i}+{i}?\n\nAssistant: {2 * i}.", "rejected": f"\n\nHuman: What is {i}+{i}?\n\nAssistant: {i}."}
             for i in range(1, 13)]
    hub_server.add_repo("Anthropic/hh-rlhf", {
        "README.md": card({"default": {"train": "*/train.jsonl.gz", "test": "*/test.jsonl.gz"}}),
        "harmless-base/train.jsonl.gz": gzip.compress("\n".join(json.dumps(r) for r in pairs).encode()),
        "harmless-base/test.jsonl.gz": gzip.compress(json.dumps(pairs[0]).encode()),
    })
    code = pa.Table.from_pylist([
        {"problem": f"Print {i} times n.", "starter_code": "", "metadata": "{}",
         "tests": json.dumps([{"input": "3\n", "output": f"{3 * i}\n", "testtype": "stdin"}])} for i in range(5)])
    hub_server.add_repo("agentica-org/DeepCoder-Preview-Dataset", {
        "README.md": card({"lcbv5": {"train": "lcbv5/train-*", "test": "lcbv5/test-*"}}),
        "lcbv5/train-00000-of-00001.parquet": parquet_bytes(code),
        "lcbv5/test-00000-of-00001.parquet": parquet_bytes(code.slice(0, 1)),
    })
    profiles = write_profiles(tmp_path, monkeypatch, max_length=40)
    expected_columns = {
        "gsm8k": ["tokens", "answer", "length", "uid", "source_row"],
        "hh_rlhf": ["chosen_tokens", "chosen_weights", "rejected_tokens", "rejected_weights", "chosen_length",
                    "rejected_length", "length", "uid", "source_row"],
        "deepcoder": ["tokens", "tests", "length", "uid", "source_row"],
    }
    for name, split, rows in (("gsm8k", "main/test", 1319), ("hh_rlhf", "default/train", 12), ("deepcoder", "lcbv5/train", 5)):
        run([f"raw/{name}", f"cookbook/{name}"], split)
        meta = metadata(run([f"tokenized/{name}"], f"qwen3|{split}"), f"tokenized/{name}")
        config, part = split.split("/")
        cookbook = read_table(data_dir / "cookbook" / name / config / f"{part}.arrow")
        table = read_table(data_dir / "tokenized" / name / "qwen3" / config / f"{part}.arrow")
        want = reference(profiles, "qwen3", cookbook)
        assert table.column_names == expected_columns[name] and table.num_rows == rows
        assert table.cast(want.schema).equals(want), name
        assert meta["rows"] == rows and meta["trained_tokens"] == (0 if name != "hh_rlhf" else int(pc_sum(want, "chosen_weights") + pc_sum(want, "rejected_weights")))
        assert {c.name for c in meta["dagster/column_schema"].columns} == set(expected_columns[name])


BROKEN = """\
profiles:
  qwen3:
    tokenizer: {{path: {path}}}
    renderer: qwen3
    max_length: 48
  typo:
    tokenizer: {{path: {path}}}
    renderer: qwen3
    max_length: one
samples:
  k: 120
  splits: {{train: 0.5, val: 0.6}}
"""


def test_a_bad_profile_or_samples_entry_fails_only_itself(hub_server, hf_env, data_dir, tmp_path, monkeypatch, caplog):
    import logging

    from datasets_pipeline.definitions import build_defs

    serve_no_robots(hub_server, no_robots_rows(20, seed=3))
    profiles = tmp_path / "tokenizers.yaml"
    profiles.write_text(BROKEN.format(path=TOKENIZER_FILE))
    monkeypatch.setenv("DATASETS_PIPELINE_TOKENIZERS", str(profiles))
    typo = f"{profiles}:9: profile 'typo', field 'max_length': must be an integer >= 2 or null, got 'one'"
    samples = f"{profiles}:12: samples, field 'splits': fractions must lie in [0, 1] and sum to 1, got {{'train': 0.5, 'val': 0.6}}"
    with caplog.at_level(logging.ERROR, logger="datasets_pipeline.defs.tokenized"):
        defs = build_defs()
    assert [r.getMessage() for r in caplog.records if r.name == "datasets_pipeline.defs.tokenized"] == [samples, typo]
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    # the good profile keeps working; the bad one keeps its row of the grid
    tokenized = defs.resolve_assets_def(dg.AssetKey(["tokenized", "no_robots"]))
    assert tokenized.partitions_def.get_partition_keys() == [
        "qwen3|default/train", "qwen3|default/test", "typo|default/train", "typo|default/test"]
    assert specs["tokenized/no_robots"].description.endswith(f"INVALID PROFILES (their partitions fail until fixed): {typo}")
    assert specs["tokenized/no_robots"].metadata["invalid_profiles"].value == {"typo": typo}
    # the bad profile's placeholder and the bad samples entry's placeholders (same key and partitions)
    assert specs["tokenizer/typo"].description == f"INVALID TOKENIZER PROFILE: {typo}"
    assert specs["tokenizer/typo"].group_name == "tokenized_invalid" and specs["tokenizer/typo"].metadata["error"].value == f"```\n{typo}\n```"
    assert specs["sample/no_robots"].description == f"INVALID SAMPLE SETTINGS: {samples}"
    assert defs.resolve_assets_def(dg.AssetKey(["sample", "no_robots"])).partitions_def.get_partition_keys() == ["default/train", "default/test"]

    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    good = run(["tokenized/no_robots"], "qwen3|default/train")
    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    want = reference(profiles, "qwen3", cookbook)
    assert cached(data_dir, "qwen3").cast(want.schema).equals(want) and metadata(good, "tokenized/no_robots")["rows"] == 20
    for selection, partition, message in (
        (["tokenized/no_robots"], "typo|default/train", typo),
        (["tokenizer/typo"], None, typo),
        (["sample/no_robots"], "default/train", samples),
    ):
        failed = run(selection, partition, ok=False)
        assert not failed.success and failure_message(failed).strip() == f"dagster._core.definitions.events.Failure: {message}"
    assert not (data_dir / "tokenized" / "no_robots" / "typo").exists() and not (data_dir / "sample").exists()


def test_a_profiles_file_that_cannot_be_read_is_one_placeholder(tmp_path, monkeypatch, caplog):
    import logging

    from datasets_pipeline.definitions import build_defs

    profiles = tmp_path / "tokenizers.yaml"
    profiles.write_text("profiles:\n  qwen3: {renderer: qwen3\n")
    monkeypatch.setenv("DATASETS_PIPELINE_TOKENIZERS", str(profiles))
    with caplog.at_level(logging.ERROR, logger="datasets_pipeline.defs.tokenized"):
        defs = build_defs()
    (message,) = [r.getMessage() for r in caplog.records if r.name == "datasets_pipeline.defs.tokenized"]
    assert message == (f"{profiles}:3: tokenizer profiles file is not valid YAML, column 1: while parsing a flow mapping "
                       "expected ',' or '}', but got '<stream end>'")
    keys = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    built = sorted(k.to_user_string() for k in defs.resolve_asset_graph().materializable_asset_keys)
    assert [k for k in built if k.split("/")[0] in ("tokenized", "tokenizer", "sample")] == ["tokenized/invalid_profiles_file"]
    assert keys["tokenized/invalid_profiles_file"].description == (
        f"INVALID TOKENIZER PROFILES FILE (no tokenized, tokenizer or sample assets until it is fixed): {message}")
    assert "cookbook/no_robots" in keys and "mixture/chat_sft" in keys  # the rest of the code location loads
    failed = run(["tokenized/invalid_profiles_file"], None, ok=False)
    assert failure_message(failed).strip() == f"dagster._core.definitions.events.Failure: {message}"


def test_incremental_refresh_streams_batch_by_batch_and_equals_a_full_run(hub_server, hf_env, data_dir, tmp_path, monkeypatch):
    import pyarrow.ipc as ipc

    import datasets_pipeline.steps.tokenized as steps_tokenized
    from datasets_pipeline.tokenize.incremental import tokenize_incremental_batches

    rows = no_robots_rows(150, seed=21)
    serve_no_robots(hub_server, rows)
    profiles = write_profiles(tmp_path, monkeypatch, max_length=40)
    part = "qwen3|default/train"
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    run(["tokenized/no_robots"], part)
    previous = cached(data_dir, "qwen3")
    changed = [dict(r) for r in rows]
    for i, conv in zip((0, 15, 16, 149), conversations(4, seed=99)):  # at batch edges (16 rows a batch)
        changed[i]["messages"] = conv
    changed.insert(40, {**rows[3], "prompt_id": "new"})  # a duplicate row: same uid, reused
    del changed[100]
    serve_no_robots(hub_server, changed, update=True)
    run(["raw/no_robots", "cookbook/no_robots"], "default/train")
    monkeypatch.setattr(steps_tokenized, "INCREMENTAL_BATCH_ROWS", 16)
    meta = metadata(run(["tokenized/no_robots"], part), "tokenized/no_robots")
    assert (meta["encoded_rows"], meta["reused_rows"], meta["incremental"]) == (4, 146, "True")

    cookbook = read_table(data_dir / "cookbook" / "no_robots" / "default" / "train.arrow")
    path = data_dir / "tokenized" / "no_robots" / "qwen3" / "default" / "train.arrow"
    with ipc.open_file(path) as reader:  # written batch by batch: 16 rows of the new split each
        sizes = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
        schema = reader.schema
    assert sizes == [16] * 9 + [6]
    want = reference(profiles, "qwen3", cookbook)
    table = read_table(path)
    assert table.cast(want.schema).equals(want)  # the rows of a full run, in the cookbook's order
    assert schema.metadata[b"datasets_pipeline.data_version"].decode() == meta["data_version"]
    # the same rows the engine gives from the previous cache, whatever its batch size
    tokenizer = ProfileTokenizer(load_profile("qwen3", profiles), TokenizersEncoder(TOKENIZER_FILE))
    for batch_rows in (1, 7, 1000):
        streamed = pa.Table.from_batches(list(tokenize_incremental_batches(previous, cookbook, tokenizer, batch_rows=batch_rows)))
        assert streamed.cast(want.schema).equals(want), batch_rows
    assert (meta["tokens"], meta["trained_tokens"], meta["truncated_rows"]) == (
        pc_sum(want, "length"), pc_sum(want, "weights"), int((want.column("length").to_numpy() >= 40).sum()))


def test_dagster_cli_loads_the_code_location_with_a_bad_profile(tmp_path):
    from datasets_pipeline_tests.dagster_runs import run_cli

    profiles = tmp_path / "tokenizers.yaml"
    profiles.write_text(BROKEN.format(path=TOKENIZER_FILE).split("samples:")[0])
    done = run_cli(["asset", "list", "-m", "datasets_pipeline.definitions"], {"DATASETS_PIPELINE_TOKENIZERS": str(profiles)})
    assert done.returncode == 0, done.stderr
    listed = set(done.stdout.split())
    assert {"tokenized/no_robots", "tokenizer/typo", "sample/no_robots", "cookbook/no_robots"} <= listed
    assert f"{profiles}:9: profile 'typo', field 'max_length': must be an integer >= 2 or null, got 'one'" in done.stderr
