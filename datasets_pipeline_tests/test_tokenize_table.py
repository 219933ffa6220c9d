"""tokenize_table / tokenize_batches: streaming equals the whole-table result, statistics,
pass-through columns, edge rows and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datasets_pipeline.tokenize.encoder import TokenizersEncoder
from datasets_pipeline.tokenize.messages import TokenizeError
from datasets_pipeline.tokenize.profiles import Profile, TokenizerSpec
from datasets_pipeline.tokenize.tokenize_table import ProfileTokenizer, TokenStats, tokenize_batches, tokenize_table

TOKENIZER_FILE = Path(__file__).parent / "reference" / "tokenize_tokenizer.json"
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


class CountingEncoder(TokenizersEncoder):
    """The real encoder, counting its batch calls."""

    calls: list[int]

    def encode(self, pieces, *, literal=False):
        self.calls.append(len(pieces))
        return super().encode(pieces, literal=literal)


def encoder() -> CountingEncoder:
    enc = CountingEncoder(TOKENIZER_FILE)
    enc.calls = []
    return enc


def tok(renderer: str = "llama3", max_length: int | None = None, train_on_what: str = "all_assistant_messages", enc=None):
    profile = Profile("t", TokenizerSpec("path", path=TOKENIZER_FILE), renderer, train_on_what, max_length)
    return ProfileTokenizer(profile, enc or encoder())


def conversations(n: int, seed: int = 0) -> list[list[dict]]:
    rng = np.random.default_rng(seed)
    words = ["token", "arrow", "über", "東京", "the", "answer", "is", "42", "pipeline", "☕"]
    out = []
    for _ in range(n):
        turns = []
        for t in range(int(rng.integers(1, 4))):
            turns.append({"role": "user", "content": " ".join(rng.choice(words, int(rng.integers(1, 12))))})
            turns.append({"role": "assistant", "content": " ".join(rng.choice(words, int(rng.integers(1, 30))))})
        out.append(turns)
    return out


def chat_table(n: int, seed: int = 0) -> pa.Table:
    return pa.table(
        {
            "messages": pa.array(conversations(n, seed), pa.list_(MESSAGE)),
            "uid": [f"{i:016x}" for i in range(n)],
            "source_row": pa.array(np.arange(n) * 2, pa.int64()),
        }
    )


def test_stream_equals_whole_table_and_stats_add_up():
    table = chat_table(500)
    whole = tokenize_table(table, tok(max_length=40), batch_rows=10_000)
    stats = TokenStats()
    enc = encoder()
    batches = table.to_batches(max_chunksize=64)
    streamed = pa.Table.from_batches(list(tokenize_batches(batches, tok(max_length=40, enc=enc), stats=stats, batch_rows=50)))
    assert streamed.equals(whole)
    assert streamed.schema.names == ["tokens", "weights", "length", "uid", "source_row"]
    assert streamed.column("uid").equals(table.column("uid"))
    assert streamed.column("source_row").to_pylist() == list(range(0, 1000, 2))
    # one encode call per batch for all message outputs; constants (headers, BOS) encoded once each
    per_batch = [c for c in enc.calls if c > 1]
    assert len(per_batch) == sum(-(-b.num_rows // 50) for b in batches)
    lengths = streamed.column("length").to_numpy()
    weights = streamed.column("weights").to_pylist()
    assert stats.rows == 500
    assert stats.tokens == int(lengths.sum())
    assert stats.trained_tokens == sum(map(sum, weights)) > 0
    assert lengths.max() == 40
    assert stats.truncated_rows == int((tokenize_table(table, tok()).column("length").to_numpy() > 40).sum()) > 0
    meta = stats.as_metadata()
    assert meta["length_percentiles"]["p50"] == int(np.percentile(lengths, 50, method="lower"))
    assert meta["length_percentiles"]["p100"] == 40
    assert sum(meta["length_histogram"]["counts"]) == 500
    assert meta["length_histogram"]["edges"][-1] == 40


def test_stream_is_lazy():
    consumed = []

    def source():
        for i, batch in enumerate(chat_table(300).to_batches(max_chunksize=100)):
            consumed.append(i)
            yield batch

    stream = tokenize_batches(source(), tok(), batch_rows=100)
    first = next(stream)
    assert first.num_rows == 100 and consumed == [0]
    assert sum(b.num_rows for b in stream) == 200 and consumed == [0, 1, 2]


def test_chunked_columns_and_empty_rows():
    convs = conversations(6)
    convs[2] = []
    column = pa.chunked_array([pa.array(convs[:3], pa.list_(MESSAGE)), pa.array(convs[3:], pa.list_(MESSAGE))])
    table = pa.table({"messages": column})
    out = tokenize_table(table, tok("llama3"))
    bos = encoder().encode_one("<|begin_of_text|>")
    assert out.column("tokens")[2].as_py() == bos
    assert out.column("weights")[2].as_py() == [0]
    single = [tokenize_table(pa.table({"messages": pa.array([c], pa.list_(MESSAGE))}), tok("llama3")) for c in convs]
    assert out.column("tokens").to_pylist() == [s.column("tokens")[0].as_py() for s in single]
    assert tokenize_table(table, tok("role_colon")).column("tokens")[2].as_py() == []
    empty = tokenize_table(table.slice(0, 0), tok())
    assert empty.num_rows == 0 and empty.schema.field("tokens").type == pa.list_(pa.int32())


def test_errors_name_the_row():
    convs = conversations(4)
    convs[3][1]["content"] = None
    table = pa.table({"messages": pa.array(convs, pa.list_(MESSAGE))})
    with pytest.raises(TokenizeError, match=r"message 1 has no content \[row 3, column 'messages'\]"):
        tokenize_table(table, tok())
    with pytest.raises(TokenizeError, match="customized' needs a 'trainable' field"):
        tokenize_table(chat_table(3), tok(train_on_what="customized"))
    with pytest.raises(TokenizeError, match="no tokenizable columns"):
        tokenize_table(pa.table({"x": [1]}), tok())


def test_qwen3_needs_a_single_end_token(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    plain = Tokenizer(models.WordLevel({"<unk>": 0, "a": 1}, unk_token="<unk>"))
    plain.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "plain.json"
    plain.save(str(path))
    with pytest.raises(TokenizeError, match="needs '<\\|im_end\\|>' to be one token"):
        tok("qwen3", enc=TokenizersEncoder(path))


def test_preference_and_prompt_families_keep_columns():
    pref = pa.table(
        {
            "prompt": pa.array([[{"role": "user", "content": "q?"}]] * 2, pa.list_(MESSAGE)),
            "completion_a": pa.array([[{"role": "assistant", "content": "yes"}]] * 2, pa.list_(MESSAGE)),
            "completion_b": pa.array([[{"role": "assistant", "content": "no way"}]] * 2, pa.list_(MESSAGE)),
            "label": ["A", "B"],
            "uid": ["x", "y"],
            "source_row": pa.array([5, 9], pa.int64()),
        }
    )
    out = tokenize_table(pref, tok("qwen3"))
    assert out.column("chosen_tokens")[0].as_py() == out.column("rejected_tokens")[1].as_py()
    assert out.column("chosen_tokens")[1].as_py() == out.column("rejected_tokens")[0].as_py()
    assert out.column("length").to_pylist() == [
        len(out.column("chosen_tokens")[i].as_py()) + len(out.column("rejected_tokens")[i].as_py()) for i in range(2)
    ]
    assert out.column("source_row").to_pylist() == [5, 9]
    code = pa.table({"problem": ["Write f.", None], "tests": pa.array([[], []], pa.list_(pa.string())), "uid": ["c", "d"]})
    got = tokenize_table(code, tok("role_colon"))
    assert got.schema.names == ["tokens", "tests", "length", "uid"]
    expected = encoder()
    assert got.column("tokens")[0].as_py() == (
        expected.encode_one("User:") + expected.encode_one(" Write f.\n\n") + expected.encode_one("Assistant:")
    )
