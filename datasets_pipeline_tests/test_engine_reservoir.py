"""Reservoir sampling to a manifest: uniformity, determinism, filters, splits, manifest files."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow as pa
import pytest

from datasets_pipeline import __version__
from datasets_pipeline.engine import ipc
from datasets_pipeline.engine.reservoir import (
    RESERVOIR_ALGORITHM,
    assign_splits,
    reservoir_sample,
    sampling_stats,
    write_manifest,
)
from datasets_pipeline.engine.streaming import StreamingDataset
from datasets_pipeline.engine.uid import UID_ALGORITHM, compute_uids
from datasets_pipeline.errors import SchemaError

CHI2_49_Q999 = 85.351  # 0.999 quantile of the chi-square distribution with 49 degrees of freedom


def numbered(n: int, batch_rows: int = 7) -> StreamingDataset:
    table = pa.table({"id": pa.array(range(n), pa.int64()), "text": [f"item {i}" for i in range(n)]})
    return StreamingDataset.from_table(table, batch_rows=batch_rows)


def reference_algorithm_r(n: int, k: int, seed: int) -> list[int]:
    """Row-by-row Algorithm R with the same draws (one ``rng.random()`` per row after the first k)."""
    rng = np.random.default_rng(seed)
    slots = list(range(min(n, k)))
    for i in range(k, n):
        j = int(rng.random() * (i + 1))
        if j < k:
            slots[j] = i
    return sorted(slots)


@pytest.mark.parametrize(("n", "k", "batch_rows"), [(50, 10, 7), (300, 12, 1), (300, 12, 64), (9, 12, 4)])
def test_matches_row_by_row_algorithm_r(n, k, batch_rows):
    for seed in (0, 1, 12345):
        sample = reservoir_sample(numbered(n, batch_rows), k, seed)
        assert sample["id"].to_pylist() == reference_algorithm_r(n, k, seed)


def test_every_item_is_included_about_k_over_n_of_the_time():
    n_items, k, trials = 50, 10, 1200
    counts = np.zeros(n_items, dtype=np.int64)
    stream = numbered(n_items, batch_rows=7)
    for seed in range(trials):
        ids = reservoir_sample(stream, k, seed)["id"].to_numpy()
        assert len(ids) == k and len(set(ids.tolist())) == k
        counts[ids] += 1
    p = k / n_items
    expected = trials * p
    # Each count is Binomial(trials, k/N); the counts sum to trials*k, leaving N-1 degrees of freedom.
    statistic = float(np.sum((counts - expected) ** 2 / (trials * p * (1 - p))))
    assert statistic < CHI2_49_Q999, (statistic, counts.tolist())
    assert counts.min() > 0.75 * expected and counts.max() < 1.25 * expected


def test_deterministic_and_independent_of_batching():
    a = reservoir_sample(numbered(500, 3), 20, seed=7)
    b = reservoir_sample(numbered(500, 500), 20, seed=7)
    assert a["uid"].to_pylist() == b["uid"].to_pylist()
    assert a.column_names == ["id", "text", "uid"]
    assert a["uid"].to_pylist() == compute_uids(a, ["id", "text"]).to_pylist()
    assert reservoir_sample(numbered(500), 20, seed=8)["uid"].to_pylist() != a["uid"].to_pylist()
    batches = (batch for batch in numbered(500, 11).iter_batches())
    assert reservoir_sample(batches, 20, seed=7)["uid"].to_pylist() == a["uid"].to_pylist()


def test_text_filters_and_counts():
    texts = ["", "   ", None, "ok", " abc ", "abcdef", "x" * 10, "\tfine\n", "ab"]
    table = pa.table({"id": list(range(len(texts))), "text": texts})
    sample = reservoir_sample(StreamingDataset.from_table(table, batch_rows=2), 100, seed=0, text_column="text", min_chars=2, max_chars=5)
    assert sample["id"].to_pylist() == [3, 4, 7, 8]
    stats = sampling_stats(sample)
    assert stats == {
        "algorithm": RESERVOIR_ALGORITHM,
        "k": 100,
        "seed": 0,
        "filters": {"text_column": "text", "min_chars": 2, "max_chars": 5, "dedup": False},
        "seen": 9,
        "dropped_short": 3,
        "dropped_long": 2,
        "duplicates": 0,
        "eligible": 4,
        "sampled": 4,
    }
    with pytest.raises(SchemaError, match="text_column 'body' is not a column"):
        reservoir_sample(StreamingDataset.from_table(table), 3, seed=0, text_column="body")


def test_dedup_keeps_first_occurrence_by_uid():
    table = pa.table({"id": list(range(8)), "text": ["a", "b", "a", "c", "b", "d", "a", "e"]})
    stream = StreamingDataset.from_table(table, batch_rows=3)
    sample = reservoir_sample(stream, 10, seed=1, dedup=True, uid_fields=["text"])
    assert sample["id"].to_pylist() == [0, 1, 3, 5, 7]
    assert sample["uid"].to_pylist() == compute_uids(sample, ["text"]).to_pylist()
    assert sampling_stats(sample)["duplicates"] == 3
    kept = reservoir_sample(stream, 10, seed=1, uid_fields=["text"])
    assert kept.num_rows == 8 and len(set(kept["uid"].to_pylist())) == 5


def test_existing_uid_column_is_kept_and_small_cases():
    table = pa.table({"text": ["p", "q", "r"], "uid": ["u1", "u2", "u3"]})
    assert reservoir_sample(StreamingDataset.from_table(table), 5, seed=0)["uid"].to_pylist() == ["u1", "u2", "u3"]
    empty = reservoir_sample(numbered(10), 0, seed=0)
    assert empty.num_rows == 0 and empty.column_names == ["id", "text", "uid"]
    with pytest.raises(ValueError, match="k must be an integer >= 0"):
        reservoir_sample(numbered(10), -1, seed=0)


def test_assign_splits_each_row_exactly_once():
    sample = reservoir_sample(numbered(1000, 64), 120, seed=3)
    split = assign_splits(sample, seed=5)
    assert split.column_names == ["id", "text", "uid", "split"]
    assert split["uid"].to_pylist() == sample["uid"].to_pylist()  # row order kept
    groups = {name: {r["uid"] for r in split.to_pylist() if r["split"] == name} for name in ("train", "val", "test")}
    assert {name: len(uids) for name, uids in groups.items()} == {"train": 96, "val": 12, "test": 12}
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"]) and not (groups["val"] & groups["test"])
    assert groups["train"] | groups["val"] | groups["test"] == set(sample["uid"].to_pylist())
    assert assign_splits(sample, seed=5)["split"].equals(split["split"])
    assert not assign_splits(sample, seed=6)["split"].equals(split["split"])
    # The assignment follows the uids, not the row order.
    reversed_rows = assign_splits(sample.take(pa.array(np.arange(119, -1, -1))), seed=5)
    assert dict(zip(reversed_rows["uid"].to_pylist(), reversed_rows["split"].to_pylist())) == dict(
        zip(split["uid"].to_pylist(), split["split"].to_pylist())
    )
    counts = assign_splits(sample, {"train": 100, "test": 20}, seed=0)["split"].value_counts().to_pylist()
    assert {c["values"]: c["counts"] for c in counts} == {"train": 100, "test": 20}


def test_assign_splits_fractions_and_errors():
    table = pa.table({"x": list(range(7))})
    split = assign_splits(table, {"a": 0.5, "b": 0.25, "c": 0.25}, seed=0)["split"].to_pylist()
    # 3.5 / 1.75 / 1.75 → floors 3 / 1 / 1; the 2 leftover rows go to the largest remainders (b, c).
    assert (split.count("a"), split.count("b"), split.count("c")) == (3, 2, 2)
    tied = assign_splits(table, {"a": 0.5, "b": 0.5}, seed=0)["split"].to_pylist()
    assert (tied.count("a"), tied.count("b")) == (4, 3)  # equal remainders: the first split named wins
    with pytest.raises(ValueError, match="must be >= 0 and add up to the 7 rows"):
        assign_splits(table, {"train": 5, "test": 1})
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\] and sum to 1"):
        assign_splits(table, {"train": 0.7, "test": 0.2})
    with pytest.raises(ValueError, match="all row counts \\(int\\) or all fractions"):
        assign_splits(table, {"train": 6, "test": 0.1})


def test_write_manifest_jsonl_and_meta(tmp_path):
    sample = assign_splits(reservoir_sample(numbered(400, 50), 120, seed=11, text_column="text"), seed=11)
    filters = {"text_column": "text", "min_chars": 1}
    path = write_manifest(sample, tmp_path / "m", source="openai/gsm8k", revision="abc123", seed=11, k=120, filters=filters)
    assert path == tmp_path / "m" / "manifest.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == sample.to_pylist()
    meta = json.loads((tmp_path / "m" / "manifest.meta.json").read_text())
    assert meta["source"] == "openai/gsm8k" and meta["revision"] == "abc123"
    assert (meta["seed"], meta["k"], meta["filters"]) == (11, 120, filters)
    assert meta["algorithm"] == RESERVOIR_ALGORITHM and meta["uid_algorithm"] == UID_ALGORITHM
    assert sorted(meta["counts"].items()) == [("test", 12), ("train", 96), ("val", 12)]
    assert meta["rows"] == 120 and meta["sampling"]["eligible"] == 400 and meta["sampling"]["seen"] == 400
    assert meta["created_by"] == {"package": "datasets_pipeline", "version": __version__}
    assert meta["manifest"] == "manifest.jsonl"
    assert meta["manifest_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["manifest.jsonl", "manifest.meta.json"]


def test_write_manifest_arrow(tmp_path):
    sample = reservoir_sample(numbered(30), 5, seed=2)
    path = write_manifest(sample, tmp_path, source="local", revision=None, seed=2, k=5, filters=None, fmt="arrow")
    assert path.name == "manifest.arrow"
    assert ipc.read_table(path).equals(sample)
    meta = json.loads((tmp_path / "manifest.meta.json").read_text())
    assert meta["counts"] == {"all": 5} and meta["format"] == "arrow" and meta["revision"] is None
    with pytest.raises(ValueError, match="fmt must be 'jsonl' or 'arrow'"):
        write_manifest(sample, tmp_path, source="local", revision=None, seed=2, k=5, filters=None, fmt="csv")
