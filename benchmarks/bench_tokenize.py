"""Issue "tokenized caches": a chat split tokenized with one profile — ours vs the cookbook's
path, and vs raw ``Tokenizer.encode_batch`` of the same rendered pieces (the limit).

Input: ``--rows`` synthetic conversations (``chat_data.chat_table``: 2 turns, user ~40 words,
assistant ~160 words, lognormal lengths), stored as an Arrow IPC file (ours) and an Arrow IPC
stream (``datasets``). Tokenizer: a byte-level BPE (``--vocab`` entries) trained once by
``datasets_pipeline.tokenize.training`` on the first 20k conversations, with the renderer's
special tokens. Profile: renderer ``--renderer`` (llama3), ``all_assistant_messages``,
``max_length`` 2048.

ours:     ``ipc.read_table`` (memory-mapped) → ``tokenize_batches`` (4096-row batches: render
          with ``pyarrow.compute``, one ``encode_batch`` per batch, numpy assembly) →
          ``ipc.write_batches`` (atomic Arrow IPC file, no fsync).
raw:      the same per-message output strings, built beforehand, encoded with
          ``Tokenizer.encode_batch_fast(..., add_special_tokens=False)`` in the same batches, ids
          read out — only the encoding is timed (``out.encode_s``): the floor for ours.
cookbook: ``tinker-cookbook`` 0.6.1 in its own environment (``--cookbook-python``, see the
          project docs): ``Dataset.from_file`` rows, ``conversation_to_datum(messages, renderer,
          2048, ALL_ASSISTANT_MESSAGES)`` per row with ``get_renderer(name,
          PreTrainedTokenizerFast(tokenizer_file=...))``, as ``SupervisedDatasetFromHFDataset``
          maps rows. Skipped when that interpreter is missing.

Every side returns the sha256 of all its token ids (int32, in row order): they must be equal.

    .venv/bin/python -m benchmarks.bench_tokenize [--rows 100000] [--repeat 1] [--cookbook-python /tmp/cbvenv-tok/bin/python]

    .venv/bin/python -m benchmarks.bench_tokenize --incremental [--rows 100000]

``--incremental`` times a full run against a refresh after 1% of the rows changed, file to file as
the ``tokenized/`` step does it (results ``tokenize-incremental.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

WORK = Path(__file__).resolve().parent / "_work" / "tokenize"
MAX_LENGTH = 2048
BATCH_ROWS = 4096
OURS_IMPORTS = ["pyarrow", "numpy", "tokenizers", "datasets_pipeline.tokenize", "datasets_pipeline.engine.ipc"]
RAW_IMPORTS = ["pyarrow", "numpy", "tokenizers", "datasets_pipeline.tokenize"]
COOKBOOK_IMPORTS = ["datasets", "transformers", "tinker_cookbook.renderers", "tinker_cookbook.supervised.data"]


# ---------------------------------------------------------------- the measured work (child processes)


def _profile(tokenizer: str, renderer: str):
    from datasets_pipeline.tokenize.profiles import Profile, TokenizerSpec

    return Profile("bench", TokenizerSpec("path", path=Path(tokenizer)), renderer, "all_assistant_messages", MAX_LENGTH)


def ours(file: str, tokenizer: str, renderer: str, out: str) -> dict:
    import numpy as np
    import pyarrow.compute as pc

    from datasets_pipeline.engine.ipc import read_table, write_batches
    from datasets_pipeline.tokenize import ProfileTokenizer, TokenStats, tokenize_batches
    from datasets_pipeline.tokenize.encoder import open_encoder

    digest = hashlib.sha256()
    stats = TokenStats()
    tok = ProfileTokenizer(_profile(tokenizer, renderer), open_encoder(tokenizer))
    table = read_table(file)

    def hashed(batches):
        for batch in batches:
            digest.update(pc.list_flatten(batch.column("tokens")).to_numpy().astype(np.int32).tobytes())
            yield batch

    written = write_batches(out, hashed(tokenize_batches(table.to_batches(), tok, stats=stats, batch_rows=BATCH_ROWS)), durable=False)
    return {"rows": written.rows, "bytes": written.bytes, "tokens": stats.tokens, "trained_tokens": stats.trained_tokens,
            "truncated_rows": stats.truncated_rows, "sha256": digest.hexdigest()}


def raw(file: str, tokenizer: str, renderer: str) -> dict:
    import numpy as np

    from datasets_pipeline.engine.ipc import read_table
    from datasets_pipeline.tokenize.encoder import open_encoder
    from datasets_pipeline.tokenize.messages import Messages
    from datasets_pipeline.tokenize.renderers import get_renderer

    encoder = open_encoder(tokenizer)
    renderer_ = get_renderer(renderer)
    table = read_table(file)
    batches = []
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        layout = renderer_.supervised(Messages.from_column(batch.column("messages")), "all_assistant_messages")
        pieces: list[str] = []
        for slot in layout.slots:
            if slot.text is not None:
                pieces.extend(slot.text.to_pylist())
        batches.append(pieces)
    fast = encoder.tokenizer
    start = time.perf_counter()
    total = 0
    for pieces in batches:
        ids = [e.ids for e in fast.encode_batch_fast(pieces, add_special_tokens=False)]
        total += sum(map(len, ids))
    encode_s = time.perf_counter() - start
    return {"pieces": sum(map(len, batches)), "piece_tokens": total, "encode_s": round(encode_s, 3), "np": np.__version__}


def cookbook(stream: str, tokenizer: str, renderer: str) -> dict:
    import numpy as np
    from datasets import Dataset
    from transformers import PreTrainedTokenizerFast

    from tinker_cookbook.renderers import TrainOnWhat, get_renderer
    from tinker_cookbook.supervised.data import conversation_to_datum

    renderer_ = get_renderer(renderer, PreTrainedTokenizerFast(tokenizer_file=tokenizer))
    ds = Dataset.from_file(stream)
    digest = hashlib.sha256()
    tokens = trained = 0
    for row in ds:
        datum = conversation_to_datum(row["messages"], renderer_, MAX_LENGTH, TrainOnWhat.ALL_ASSISTANT_MESSAGES)
        targets = datum.loss_fn_inputs["target_tokens"].data
        ids = datum.model_input.to_ints() + [targets[-1]]
        digest.update(np.asarray(ids, dtype=np.int32).tobytes())
        tokens += len(ids)
        trained += sum(1 for w in datum.loss_fn_inputs["weights"].data if w > 0)
    return {"rows": len(ds), "tokens": tokens, "trained_tokens_after_shift": trained, "sha256": digest.hexdigest()}


# ---------------------------------------------------------------- setup and report (parent)


def prepare(rows: int, vocab: int, renderer: str) -> tuple[Path, Path, Path]:
    from benchmarks.chat_data import chat_table, write_arrow_pair
    from datasets_pipeline.tokenize.profiles import TrainSpec, renderer_special_tokens
    from datasets_pipeline.tokenize.training import table_texts, train_tokenizer

    WORK.mkdir(parents=True, exist_ok=True)
    file, stream = WORK / f"chat-{rows}.arrow", WORK / f"chat-{rows}.stream.arrow"
    if not file.exists() or not stream.exists():
        write_arrow_pair(file, stream, lambda start, n: chat_table(n, seed=start), rows)
    tok = WORK / f"bpe-{vocab}-{renderer}.json"
    if not tok.exists():
        spec = TrainSpec(algorithm="bpe", vocab_size=vocab, special_tokens=renderer_special_tokens(renderer))
        train_tokenizer(spec, table_texts(chat_table(20_000, seed=12345)), tok)
    return file, stream, tok


def main() -> None:
    from benchmarks.harness import Case, machine, measure_alternating, measure_once, now, save

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--grow", type=int, default=2, help="also run ours on rows*grow rows (memory as the split grows)")
    parser.add_argument("--vocab", type=int, default=16_384)
    parser.add_argument("--renderer", default="llama3")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--cookbook-python", default=os.environ.get("COOKBOOK_PYTHON", "/tmp/cbvenv-tok/bin/python"))
    parser.add_argument("--incremental", action="store_true", help="only the 1%%-changed refresh against a full run, file to file")
    args = parser.parse_args()

    file, stream, tok = prepare(args.rows, args.vocab, args.renderer)
    if args.incremental:
        result = incremental(str(file), str(tok), args.renderer)
        print(result)
        save("tokenize-incremental", {"when": now(), "machine": machine(), "rows": args.rows, "vocab": args.vocab,
                                      "renderer": args.renderer, "max_length": MAX_LENGTH, "result": result})
        return
    out = WORK / "ours-out.arrow"
    common = {"tokenizer": str(tok), "renderer": args.renderer}
    cases = [
        Case("ours", "benchmarks.bench_tokenize:ours", None,
             {"preimport": OURS_IMPORTS, "warm": [file], "file": str(file), "out": str(out), **common}),
        Case("raw encode_batch", "benchmarks.bench_tokenize:raw", None,
             {"preimport": RAW_IMPORTS, "warm": [file], "file": str(file), **common}),
    ]
    have_cookbook = Path(args.cookbook_python).exists()
    if have_cookbook:
        cases.append(Case("cookbook", "benchmarks.bench_tokenize:cookbook", None,
                          {"preimport": COOKBOOK_IMPORTS, "warm": [stream], "python": args.cookbook_python,
                           "allow_failure": True, "stream": str(stream), **common}))
    results = measure_alternating(cases, args.repeat)
    grown = None
    if args.grow > 1:
        gfile, _, _ = prepare(args.rows * args.grow, args.vocab, args.renderer)
        grown = measure_once(f"ours x{args.grow}", "benchmarks.bench_tokenize:ours", preimport=OURS_IMPORTS,
                             warm=[gfile], file=str(gfile), out=str(out), **common)
    ours_m, raw_m = results[0], results[1]
    cook_m = results[2] if have_cookbook else None
    if cook_m is not None and not cook_m.failed:
        assert cook_m.out["sha256"] == ours_m.out["sha256"], "the cookbook's tokens differ from ours"
        assert cook_m.out["tokens"] == ours_m.out["tokens"]
    summary = {
        "ours_s": ours_m.wall_s,
        "raw_encode_s": raw_m.out["encode_s"],
        "ours_over_raw": round(ours_m.wall_s / raw_m.out["encode_s"], 3),
        "cookbook_s": None if cook_m is None or cook_m.failed else cook_m.wall_s,
        "cookbook_over_ours": None if cook_m is None or cook_m.failed else round(cook_m.wall_s / ours_m.wall_s, 1),
        "ours_peak_anon_mb": ours_m.peak_anon_mb,
        "ours_grown_peak_anon_mb": grown.peak_anon_mb if grown else None,
    }
    print(summary)
    save("tokenize", {"when": now(), "machine": machine(), "rows": args.rows, "vocab": args.vocab,
                      "renderer": args.renderer, "max_length": MAX_LENGTH, "summary": summary,
                      "results": results + ([grown] if grown else [])})




def incremental(file: str, tokenizer: str, renderer: str, changed: float = 0.01, out_dir: str | None = None) -> dict:
    """File to file, as the ``tokenized/`` step does it: a full tokenization of the memory-mapped split
    into an Arrow file, then a refresh after ``changed`` of its rows got new content (and uids):
    ``tokenize_incremental_batches`` reads the previous file memory-mapped, copies the rows whose
    uid it holds, encodes the others and writes the new file batch by batch. Both timed in this
    process, each including its write; the refreshed file is checked against a full run on the
    changed rows."""
    import resource
    import tempfile

    import numpy as np
    import pyarrow as pa

    from benchmarks.chat_data import chat_table
    from datasets_pipeline.engine.ipc import read_table, write_batches
    from datasets_pipeline.tokenize import ProfileTokenizer, tokenize_batches, tokenize_table
    from datasets_pipeline.tokenize.encoder import open_encoder
    from datasets_pipeline.tokenize.incremental import IncrementalCounts, tokenize_incremental_batches

    folder = Path(out_dir or tempfile.mkdtemp(prefix="bench-tokenize-"))
    tok = ProfileTokenizer(_profile(tokenizer, renderer), open_encoder(tokenizer))
    table = read_table(file).select(["messages"])
    n = table.num_rows
    table = table.append_column("uid", pa.array([f"{i:016x}" for i in range(n)]))
    k = max(1, int(n * changed))
    where = np.random.default_rng(0).choice(n, k, replace=False)
    fresh = chat_table(k, seed=10**6).select(["messages"]).column("messages").combine_chunks()
    messages = table.column("messages").combine_chunks()
    index = np.arange(n)
    index[where] = n + np.arange(k)
    new_rows = pa.table({
        "messages": pa.concat_arrays([messages, fresh]).take(pa.array(index)),
        "uid": pa.array([f"{i:016x}" if i < n else f"new{i}" for i in index]),
    })
    first, second = folder / "full.arrow", folder / "refreshed.arrow"
    start = time.perf_counter()
    write_batches(first, tokenize_batches(table.to_batches(), tok, batch_rows=BATCH_ROWS))
    full_s = time.perf_counter() - start
    counts = IncrementalCounts()
    start = time.perf_counter()
    write_batches(second, tokenize_incremental_batches(read_table(str(first)), new_rows, tok, batch_rows=8192, counts=counts))
    refresh_s = time.perf_counter() - start
    refreshed = read_table(str(second))
    changed_rows = np.sort(where)
    expected = tokenize_table(new_rows.take(pa.array(changed_rows)), tok)
    got = refreshed.take(pa.array(changed_rows)).select(expected.column_names)
    assert got.equals(expected), "the refreshed rows differ from a full tokenization of them"
    assert refreshed.num_rows == n
    for path in (first, second):
        path.unlink()
    return {"rows": n, "changed_rows": k, "full_s": round(full_s, 2), "refresh_s": round(refresh_s, 2),
            "speedup": round(full_s / refresh_s, 1), "reused": counts.reused_rows, "tokenized": counts.tokenized_rows,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


if __name__ == "__main__":
    main()
