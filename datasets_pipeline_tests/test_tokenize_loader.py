"""The training loader: shapes, shift, masks, epoch order equal to ``datasets`` shuffle,
bucketing, packing, and a one-batch overfit of a tiny numpy model."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from datasets_pipeline.tokenize.loader import SupervisedLoader

VOCAB = 48


def token_table(n: int = 103, seed: int = 0, low: int = 2, high: int = 60) -> pa.Table:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(low, high, n)
    tokens = [rng.integers(1, VOCAB, L).tolist() for L in lengths]
    weights = [(rng.random(L) < 0.6).astype(np.uint8).tolist() for L in lengths]
    return pa.table(
        {
            "tokens": pa.array(tokens, pa.list_(pa.int32())),
            "weights": pa.array(weights, pa.list_(pa.uint8())),
            "uid": [f"r{i}" for i in range(n)],
        }
    )


def test_shapes_dtypes_shift_and_padding_masks():
    table = token_table()
    rows_tokens = table.column("tokens").to_pylist()
    rows_weights = table.column("weights").to_pylist()
    loader = SupervisedLoader(table, 8, pad_id=0)
    assert len(loader) == 103 // 8
    batch = loader.get_batch(3)
    assert batch.rows.tolist() == list(range(24, 32))
    T = max(len(rows_tokens[r]) for r in batch.rows) - 1
    assert batch.shape == (8, T)
    assert (batch.tokens.dtype, batch.targets.dtype, batch.weights.dtype, batch.attention_mask.dtype) == (
        np.int32, np.int32, np.float32, np.bool_,
    )
    for b, r in enumerate(batch.rows):
        row, w = rows_tokens[r], rows_weights[r]
        n = len(row) - 1
        assert batch.tokens[b, :n].tolist() == row[:-1]
        assert batch.targets[b, :n].tolist() == row[1:]
        assert batch.weights[b, :n].tolist() == [float(x) for x in w[1:]]
        assert batch.attention_mask[b].tolist() == [True] * n + [False] * (T - n)
        assert (batch.tokens[b, n:] == 0).all() and (batch.weights[b, n:] == 0).all()
        assert batch.position_ids[b, :n].tolist() == list(range(n))
    attention = batch.attention()
    assert attention.shape == (8, T, T)
    b = int(np.argmin(batch.attention_mask.sum(1)))
    n = int(batch.attention_mask[b].sum())
    assert (attention[b, :n, :n] == np.tril(np.ones((n, n), bool))).all()
    assert not attention[b, n:].any() and not attention[b, :, n:].any()


def test_fixed_length_drop_last_and_mean_reduction():
    table = token_table(n=10)
    loader = SupervisedLoader(table, 4, pad_to=16, drop_last=False, reduction="mean")
    assert len(loader) == 3
    last = loader.get_batch(2)
    assert last.shape == (2, 16) and last.rows.tolist() == [8, 9]
    for batch in loader:
        sums = batch.weights.sum(1)
        trained = (batch.weights > 0).any(1)
        assert np.allclose(sums[trained], 1.0) and (sums[~trained] == 0).all()
        assert batch.attention_mask.sum(1).max() <= 16
    assert len(SupervisedLoader(table, 4)) == 2
    with pytest.raises(IndexError):
        SupervisedLoader(table, 4).get_batch(2)


def test_epoch_order_is_datasets_shuffle():
    datasets = pytest.importorskip("datasets")
    table = token_table(n=57)
    ds = datasets.Dataset.from_dict({"row": list(range(57))})
    loader = SupervisedLoader(table, 5)
    assert np.concatenate([b.rows for b in loader]).tolist() == list(range(55))  # before set_epoch: table order
    for seed in (0, 1, 42):
        loader.set_epoch(seed)
        expected = ds.shuffle(seed=seed)["row"]
        assert len(loader) == 57 // 5
        for i in range(len(loader)):
            # the cookbook's batch i: rows [i*bs, (i+1)*bs) of hf_dataset.shuffle(seed)
            assert loader.get_batch(i).rows.tolist() == expected[i * 5 : (i + 1) * 5]
    first = SupervisedLoader(table, 5)
    first.set_epoch(7)
    second = SupervisedLoader(table, 5)
    second.set_epoch(7)
    assert all((a.tokens == b.tokens).all() and (a.weights == b.weights).all() for a, b in zip(first, second))
    second.set_epoch(8)
    assert first.get_batch(0).rows.tolist() != second.get_batch(0).rows.tolist()


def test_length_bucketing_cuts_pad_waste():
    table = token_table(n=400, low=2, high=300, seed=3)
    plain = SupervisedLoader(table, 8)
    bucketed = SupervisedLoader(table, 8, bucket_batches=10)
    plain.set_epoch(1)
    bucketed.set_epoch(1)

    def waste(loader):
        pads = [b.pad_fraction * b.tokens.size for b in loader]
        return sum(pads) / sum(b.tokens.size for b in loader)

    w_plain, w_bucketed = waste(plain), waste(bucketed)
    assert w_bucketed < w_plain / 3, (w_plain, w_bucketed)
    # the same rows are used, each once, and the batches stay deterministic per seed
    assert sorted(bucketed.order.tolist()) == list(range(400))
    again = SupervisedLoader(table, 8, bucket_batches=10)
    again.set_epoch(1)
    assert again.order.tolist() == bucketed.order.tolist()


def test_packing_keeps_documents_apart():
    table = token_table(n=60, low=2, high=40, seed=5)
    rows_tokens = table.column("tokens").to_pylist()
    loader = SupervisedLoader(table, 3, pad_to=64, pack=True, drop_last=False)
    loader.set_epoch(2)
    seen = []
    pairs = 0
    for batch in loader:
        assert batch.shape[1] == 64
        attention = batch.attention()
        for b in range(batch.shape[0]):
            docs = batch.document_ids[b]
            for d in np.unique(docs[docs >= 0]):
                where = np.flatnonzero(docs == d)
                assert (np.diff(where) == 1).all()  # a document is contiguous
                assert batch.position_ids[b, where].tolist() == list(range(len(where)))
                others = np.flatnonzero((docs != d) & (docs >= 0))
                assert not attention[b][np.ix_(where, others)].any()  # no attention across documents
                assert attention[b][np.ix_(where, where)].sum() == len(where) * (len(where) + 1) // 2
        seen.extend(batch.rows.tolist())
        pairs += int(batch.attention_mask.sum())
    assert seen == loader.order.tolist()  # every row packed once, in epoch order
    assert pairs == sum(len(t) - 1 for t in rows_tokens)
    # the packed pairs of a document are its shifted tokens
    batch = loader.get_batch(0)
    r = int(batch.rows[1])
    where = batch.document_ids[0] == 1
    assert batch.tokens[0, where].tolist() == rows_tokens[r][:-1]
    assert batch.targets[0, where].tolist() == rows_tokens[r][1:]
    plain = SupervisedLoader(table, 3, pad_to=64)
    assert sum(b.pad_fraction for b in loader) / len(loader) < sum(b.pad_fraction for b in plain) / len(plain)


def test_one_batch_overfit_with_a_tiny_numpy_model():
    """Softmax regression on (token, previous token, position) one-hot features, trained on one
    batch with the batch's weights: the weighted loss goes near zero."""
    table = token_table(n=16, low=10, high=30, seed=11)
    loader = SupervisedLoader(table, 4, reduction="none")
    loader.set_epoch(0)
    batch = loader.get_batch(0)
    B, T = batch.shape
    x, y, w = batch.tokens, batch.targets, batch.weights
    prev = np.concatenate([np.zeros((B, 1), np.int32), x[:, :-1]], axis=1) * (batch.position_ids > 0)
    rng = np.random.default_rng(0)
    params = {
        "cur": rng.normal(0, 0.01, (VOCAB, VOCAB)),
        "prev": rng.normal(0, 0.01, (VOCAB, VOCAB)),
        "pos": rng.normal(0, 0.01, (T, VOCAB)),
    }
    index = {"cur": x, "prev": prev, "pos": np.broadcast_to(np.arange(T), (B, T))}
    total = w.sum()
    assert total > 0

    def step() -> float:
        logits = params["cur"][x] + params["prev"][prev] + params["pos"][index["pos"]]
        logits -= logits.max(-1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(-1, keepdims=True)
        nll = -np.log(np.take_along_axis(probs, y[..., None], -1)[..., 0] + 1e-12)
        loss = float((nll * w).sum() / total)
        grad = probs
        np.put_along_axis(grad, y[..., None], np.take_along_axis(grad, y[..., None], -1) - 1, -1)
        grad *= (w / total)[..., None]
        for name, idx in index.items():
            g = np.zeros_like(params[name])
            np.add.at(g, idx, grad)
            params[name] -= 2.0 * g * B * T / 8
        return loss

    first = step()
    for _ in range(400):
        last = step()
    assert first > 3.0  # about log(VOCAB) at the start
    assert last < 0.05, last
