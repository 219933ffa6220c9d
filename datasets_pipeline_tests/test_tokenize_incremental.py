"""Incremental re-tokenization by uid, and the drift check against a changed tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from datasets_pipeline.tokenize.encoder import TokenizersEncoder
from datasets_pipeline.tokenize.incremental import drift_check, tokenize_incremental
from datasets_pipeline.tokenize.profiles import Profile, TokenizerSpec
from datasets_pipeline.tokenize.tokenize_table import ProfileTokenizer, tokenize_table
from datasets_pipeline_tests.test_tokenize_table import CountingEncoder, chat_table

TOKENIZER_FILE = Path(__file__).parent / "reference" / "tokenize_tokenizer.json"


def tok(path: Path = TOKENIZER_FILE, enc=None) -> ProfileTokenizer:
    profile = Profile("t", TokenizerSpec("path", path=path), "qwen3", "all_assistant_messages", 64)
    return ProfileTokenizer(profile, enc or TokenizersEncoder(path))


def test_only_new_uids_are_tokenized_and_the_result_equals_a_full_run():
    base = chat_table(200, seed=1)
    previous = tokenize_table(base, tok())
    # 1% of the rows change (new content, new uid), rows move, and source rows shift by one
    changed = chat_table(2, seed=99)
    changed = changed.set_column(1, "uid", pa.array(["new-a", "new-b"]))
    rows = pa.concat_tables([base.slice(0, 50), changed, base.slice(52)]).combine_chunks()
    order = np.random.default_rng(3).permutation(rows.num_rows)
    rows = rows.take(pa.array(order))
    rows = rows.set_column(2, "source_row", pa.array(np.arange(rows.num_rows) + 1, pa.int64()))
    enc = CountingEncoder(TOKENIZER_FILE)
    enc.calls = []
    result = tokenize_incremental(previous, rows, tok(enc=enc))
    assert (result.reused_rows, result.tokenized_rows) == (198, 2)
    # the content pieces encoded are those of the 2 new rows only
    n_messages = sum(len(m) for m in changed.column("messages").to_pylist())
    assert sum(c for c in enc.calls if c > 1) == n_messages
    assert result.table.equals(tokenize_table(rows, tok()))


def test_drift_check_passes_then_fails_when_the_tokenizer_file_changes(tmp_path):
    rows = chat_table(120, seed=4)
    cache = tokenize_table(rows, tok())
    report = drift_check(cache, rows, tok(), sample=40, seed=1)
    assert report.ok and report.checked == 40
    # a tokenizer with one merge fewer encodes some rows differently
    data = json.loads(TOKENIZER_FILE.read_text(encoding="utf-8"))
    data["model"]["merges"] = data["model"]["merges"][:-200]
    changed = tmp_path / "tokenizer.json"
    changed.write_text(json.dumps(data), encoding="utf-8")
    drifted = drift_check(cache, rows, tok(changed), sample=40, seed=1)
    assert not drifted.ok
    again = tokenize_table(rows, tok(changed))
    differ = [i for i in range(rows.num_rows) if again.column("tokens")[i].as_py() != cache.column("tokens")[i].as_py()]
    picked = sorted(np.random.default_rng(1).choice(120, size=40, replace=False).tolist())
    assert drifted.mismatched_rows == [i for i in picked if i in differ]
