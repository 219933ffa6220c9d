"""Chat DatasetDict in the ``save_to_disk`` layout: ``datasets_pipeline`` vs the ``datasets`` library.

A synthetic 1M-row chat table (``messages: list<struct<role, content>>``; 1-4 user/assistant
exchanges, an optional system prompt, log-normal message lengths; fixed seed) is generated with
pyarrow and written once as an Arrow IPC stream file. Both libraries start from that file,
memory-mapped, and make a 90% train / 10% test DatasetDict of it in two ways:

- **contiguous**: the first 90% and the last 10% of the rows (``Dataset.select(range(...))``,
  no indices mapping, vs ``Table.slice``);
- **shuffled**: ``Dataset.train_test_split(test_size=0.1, seed=42)`` (an indices mapping, the
  library's usual way to derive a test split) vs the same ``default_rng(42)`` permutation given to
  ``save_dataset_dict`` as ``(table, indices)``.

Steps, each in its own subprocess (wall time of the step and the child's peak RSS):

- save: ``save_dataset_dict`` vs ``DatasetDict.save_to_disk``, for both DatasetDicts;
- load: ``load_dataset_dict`` vs ``datasets.load_from_disk`` of the contiguous folders, each followed
  by the same full read of the loaded Arrow tables (total messages and total content characters,
  which reads every byte), so loading is compared like for like; "open" is the load call alone.

Every step runs ``--repeat`` times, alternating the two libraries, and the fastest run is reported;
each starts after ``os.sync()``, so no step pays for the disk writeback of the one before. The
shard files of the two libraries are compared byte for byte; the shuffled folders are then removed
so that the page cache keeps the input (at 1M rows, 3.7 GB per folder).

Usage: ``python benchmarks/bench_dataset_dict.py [--rows 1000000] [--repeat 3] [--workdir DIR]``.
Prints a Markdown table and writes ``benchmarks/results/dataset_dict.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

SEED = 1234
SPLIT_SEED = 42
TEST_SIZE = 0.1
OPS = ("hf_shuffled", "ours_shuffled", "hf_save", "ours_save", "hf_load", "ours_load")
OUTPUTS = {"hf_save": "theirs", "ours_save": "ours", "hf_shuffled": "theirs_shuffled", "ours_shuffled": "ours_shuffled"}
RESULTS = Path(__file__).resolve().parent / "results" / "dataset_dict.json"
ROLES = pa.array(["system", "user", "assistant"])
MEDIAN_CHARS = np.array([150.0, 250.0, 700.0])  # per role: system, user, assistant
SIGMA = 0.9
GEN_BLOCK = 100_000
SCHEMA = pa.schema([pa.field("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())])))])
ALPHABET = np.frombuffer(b"etaoinshrdlucmfwypvbgkjqxz      ,.", dtype=np.uint8)


# --- data -------------------------------------------------------------------------------------------


def chat_table(rows: int, rng: np.random.Generator) -> pa.Table:
    """``rows`` conversations with realistic message counts and lengths, built column-wise."""
    exchanges = rng.integers(1, 5, rows)
    system = rng.random(rows) < 0.2
    counts = 2 * exchanges + system
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    # position of each message inside its conversation, shifted so that 0 = system, odd = user, even = assistant
    pos = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], counts)
    pos = pos + np.repeat(~system, counts)
    role_ids = np.where(pos == 0, 0, np.where(pos % 2 == 1, 1, 2)).astype(np.int8)
    lengths = np.maximum(1, rng.lognormal(np.log(MEDIAN_CHARS[role_ids]), SIGMA)).astype(np.int64)
    lengths = np.minimum(lengths, 20_000)
    text_offsets = np.zeros(total + 1, dtype=np.int64)
    np.cumsum(lengths, out=text_offsets[1:])
    chars = ALPHABET[rng.integers(0, len(ALPHABET), int(text_offsets[-1]), dtype=np.uint8)]
    content = pa.LargeStringArray.from_buffers(total, pa.py_buffer(text_offsets), pa.py_buffer(chars)).cast(pa.string())
    role = ROLES.take(pa.array(role_ids))
    messages = pa.ListArray.from_arrays(
        pa.array(offsets), pa.StructArray.from_arrays([role, content], names=["role", "content"])
    )
    return pa.table({"messages": messages})


def write_input(rows: int, path: Path) -> dict:
    """Write the chat table block by block (bounded memory) as an IPC stream file."""
    rng = np.random.default_rng(SEED)
    nbytes = 0
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, SCHEMA) as writer:
        for start in range(0, rows, GEN_BLOCK):
            block = chat_table(min(GEN_BLOCK, rows - start), rng)
            writer.write_table(block, max_chunksize=65_536)
            nbytes += block.nbytes
    return {"rows": rows, "nbytes": nbytes, "file_bytes": path.stat().st_size}


# --- children ---------------------------------------------------------------------------------------------


def _rss_now() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _full_read(tables: dict[str, pa.Table]) -> dict[str, int]:
    import pyarrow.compute as pc

    messages = content = 0
    for table in tables.values():
        col = table.column("messages")
        messages += pc.sum(pc.list_value_length(col)).as_py() or 0
        flat = pc.list_flatten(col)
        content += pc.sum(pc.utf8_length(pc.struct_field(flat, "content"))).as_py() or 0  # reads every byte
    return {"messages": messages, "content_chars": content}


def child(op: str, workdir: Path) -> dict:
    source = str(workdir / "input" / "chat.arrow")
    check: dict = {}
    lib = op.startswith("hf_")
    if lib:
        import datasets

        datasets.disable_progress_bars()
    else:
        from datasets_pipeline.engine.hf_disk import load_dataset_dict, save_dataset_dict
    base = _rss_now()
    t0 = time.perf_counter()
    if op in OUTPUTS:
        out = workdir / OUTPUTS[op]
        if lib:
            ds = datasets.Dataset.from_file(source)
            n = len(ds)
            if op == "hf_shuffled":
                dd = ds.train_test_split(test_size=TEST_SIZE, seed=SPLIT_SEED)
            else:
                n_train = n - math.ceil(TEST_SIZE * n)
                dd = datasets.DatasetDict({"train": ds.select(range(n_train)), "test": ds.select(range(n_train, n))})
            dd.save_to_disk(str(out))
            check = {"shards": {s: len(list((out / s).glob("*.arrow"))) for s in dd}}
        else:
            table = pa.ipc.open_stream(pa.memory_map(source)).read_all()
            n = table.num_rows
            n_test = math.ceil(TEST_SIZE * n)
            if op == "ours_shuffled":
                perm = np.random.default_rng(SPLIT_SEED).permutation(n)
                splits = {"train": (table, perm[n_test:]), "test": (table, perm[:n_test])}
            else:
                splits = {"train": table.slice(0, n - n_test), "test": table.slice(n - n_test)}
            stats = save_dataset_dict(splits, out)
            check = {"shards": {s: len(v.files) for s, v in stats.splits.items()}}
        seconds = time.perf_counter() - t0
    elif op == "ours_load":
        tables = load_dataset_dict(workdir / "ours")
        check = {"open_seconds": time.perf_counter() - t0, **_full_read(tables)}
        seconds = time.perf_counter() - t0
    elif op == "hf_load":
        dd = datasets.load_from_disk(str(workdir / "theirs"))
        check = {"open_seconds": time.perf_counter() - t0, **_full_read({s: d.data.table for s, d in dd.items()})}
        seconds = time.perf_counter() - t0
    else:
        raise SystemExit(f"unknown operation {op}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_rss": peak, "rss_before": base, "check": check}


def run_child(op: str, workdir: Path) -> dict:
    os.sync()  # start every step with no dirty pages of the previous one waiting for writeback
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", op, "--workdir", str(workdir)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - t0
    return result


# --- main -------------------------------------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def _content(run: dict) -> dict:
    return {k: v for k, v in run["check"].items() if k != "open_seconds"}


def _same_shards(ours: Path, theirs: Path) -> bool:
    """Whether every ``.arrow`` shard of the two folders is byte-identical (same names)."""
    a = sorted(p.relative_to(ours) for p in ours.rglob("*.arrow"))
    b = sorted(p.relative_to(theirs) for p in theirs.rglob("*.arrow"))
    if a != b:
        return False
    for rel in a:
        with open(ours / rel, "rb") as fa, open(theirs / rel, "rb") as fb:
            while True:
                x, y = fa.read(1 << 24), fb.read(1 << 24)
                if x != y:
                    return False
                if not x:
                    break
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (the fastest is reported)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workdir)))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-dataset-dict-"))
    (workdir / "input").mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        inputs = write_input(args.rows, workdir / "input" / "chat.arrow")
        gen_seconds = time.perf_counter() - t0
        attempts: dict[str, list[dict]] = {op: [] for op in OPS}
        identical = {"contiguous": True, "shuffled": True}
        for _ in range(args.repeat):  # alternate the two libraries
            for op in OPS:
                if op in OUTPUTS:
                    shutil.rmtree(workdir / OUTPUTS[op], ignore_errors=True)
                attempts[op].append(run_child(op, workdir))
                if op == "ours_shuffled":  # compare, then free the page cache the next steps need
                    same = _same_shards(workdir / "ours_shuffled", workdir / "theirs_shuffled")
                    identical["shuffled"] = identical["shuffled"] and same
                    for name in ("ours_shuffled", "theirs_shuffled"):
                        shutil.rmtree(workdir / name, ignore_errors=True)
                elif op == "ours_save":
                    identical["contiguous"] = identical["contiguous"] and _same_shards(workdir / "ours", workdir / "theirs")
        runs = {op: min(tries, key=lambda r: r["seconds"]) for op, tries in attempts.items()}
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if _content(runs["ours_load"]) != _content(runs["hf_load"]):
        raise SystemExit(f"loaded data differs: {runs['ours_load']['check']} vs {runs['hf_load']['check']}")

    lines = []
    for label, hf_op, ours_op in (("save, contiguous splits", "hf_save", "ours_save"),
                                  ("save, shuffled split", "hf_shuffled", "ours_shuffled"),
                                  ("load + full read", "hf_load", "ours_load")):  # fmt: skip
        hf, ours = runs[hf_op], runs[ours_op]
        lines.append(
            f"| {label} | {hf['seconds']:.2f} s | {ours['seconds']:.2f} s | {hf['seconds'] / ours['seconds']:.1f}× "
            f"| {_mb(hf['peak_rss'])} | {_mb(ours['peak_rss'])} | {ours['peak_rss'] / hf['peak_rss']:.2f} |"
        )
    hf_open, ours_open = runs["hf_load"]["check"]["open_seconds"], runs["ours_load"]["check"]["open_seconds"]
    lines.append(f"| load (open only) | {hf_open * 1e3:.1f} ms | {ours_open * 1e3:.1f} ms | {hf_open / ours_open:.1f}× | | | |")
    n_test = math.ceil(TEST_SIZE * args.rows)
    print(f"\n{args.rows:,} chat rows (train {args.rows - n_test:,} / test {n_test:,}), {_mb(inputs['file_bytes'])} "
          f"of Arrow; generated in {gen_seconds:.1f} s; best of {args.repeat}; shard files byte-identical: {identical}\n")  # fmt: skip
    print("| step | datasets | datasets_pipeline | speed-up | datasets peak RSS | ours peak RSS | RSS ratio |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    result = {
        "rows": args.rows,
        "input": inputs,
        "generate_seconds": gen_seconds,
        "runs": runs,
        "all_seconds": {op: [r["seconds"] for r in tries] for op, tries in attempts.items()},
        "speedup": {
            "save_contiguous": runs["hf_save"]["seconds"] / runs["ours_save"]["seconds"],
            "save_shuffled": runs["hf_shuffled"]["seconds"] / runs["ours_shuffled"]["seconds"],
            "load_full_read": runs["hf_load"]["seconds"] / runs["ours_load"]["seconds"],
            "open": hf_open / ours_open,
        },
        "rss_ratio": {
            "save_contiguous": runs["ours_save"]["peak_rss"] / runs["hf_save"]["peak_rss"],
            "save_shuffled": runs["ours_shuffled"]["peak_rss"] / runs["hf_shuffled"]["peak_rss"],
            "load_full_read": runs["ours_load"]["peak_rss"] / runs["hf_load"]["peak_rss"],
        },
        "shard_files_identical": identical,
        "machine": {"python": platform.python_version(), "pyarrow": pa.__version__, "cpus": os.cpu_count(),
                    "note": f"shared machine (other test runs in parallel); best of {args.repeat} runs per step"},  # fmt: skip
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
