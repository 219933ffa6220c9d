"""Chat DatasetDict in the ``save_to_disk`` layout: ``datasets_pipeline`` vs the ``datasets`` library.

A synthetic chat DatasetDict (``messages: list<struct<role, content>>``; 90% train / 10% test;
1-4 user/assistant exchanges, an optional system prompt, log-normal message lengths; fixed seed)
is generated with pyarrow and written once as Arrow IPC stream files. Then, each in its own
subprocess (wall time of the operation and the child's peak RSS; each step runs ``--repeat`` times,
alternating the two libraries, and the fastest run is reported):

- save: ``save_dataset_dict`` vs ``DatasetDict.save_to_disk`` (both start from memory-mapped inputs);
- load: ``load_dataset_dict`` vs ``datasets.load_from_disk``, each followed by the same full read
  of the loaded Arrow table (total messages and total content bytes), so loading is compared like
  for like.

Each step starts after ``os.sync()``, so no step pays for the disk writeback of the one before.

Usage: ``python benchmarks/bench_dataset_dict.py [--rows 1000000] [--workdir DIR]``. Prints a
Markdown table and writes ``benchmarks/results/dataset_dict.json``.
"""

from __future__ import annotations

import argparse
import json
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
OPS = ("hf_save", "ours_save", "hf_load", "ours_load")
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
    # position of each message inside its conversation, shifted so that 0 = system, 1 = user, 2 = assistant
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


def write_inputs(rows: int, folder: Path) -> dict[str, dict]:
    rng = np.random.default_rng(SEED)
    sizes = {"train": rows * 9 // 10, "test": rows - rows * 9 // 10}
    out = {}
    for split, n in sizes.items():
        path = folder / f"{split}.arrow"
        nbytes = 0
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, SCHEMA) as writer:
            for start in range(0, n, GEN_BLOCK):  # bounded memory: one block at a time
                block = chat_table(min(GEN_BLOCK, n - start), rng)
                writer.write_table(block, max_chunksize=65_536)
                nbytes += block.nbytes
        out[split] = {"rows": n, "nbytes": nbytes, "file_bytes": path.stat().st_size}
    return out


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
    inputs = {s: workdir / "input" / f"{s}.arrow" for s in ("train", "test")}
    check: dict = {}
    if op == "ours_save":
        from datasets_pipeline.engine.hf_disk import save_dataset_dict

        base = _rss_now()
        t0 = time.perf_counter()
        tables = {s: pa.ipc.open_stream(pa.memory_map(str(p))).read_all() for s, p in inputs.items()}
        stats = save_dataset_dict(tables, workdir / "ours")
        seconds = time.perf_counter() - t0
        check = {"shards": {s: len(v.files) for s, v in stats.splits.items()}}
    elif op == "hf_save":
        import datasets

        datasets.disable_progress_bars()
        base = _rss_now()
        t0 = time.perf_counter()
        dd = datasets.DatasetDict({s: datasets.Dataset.from_file(str(p)) for s, p in inputs.items()})
        dd.save_to_disk(str(workdir / "theirs"))
        seconds = time.perf_counter() - t0
        check = {"shards": {s: len(os.listdir(workdir / "theirs" / s)) - 2 for s in inputs}}
    elif op == "ours_load":
        from datasets_pipeline.engine.hf_disk import load_dataset_dict

        base = _rss_now()
        t0 = time.perf_counter()
        tables = load_dataset_dict(workdir / "ours")
        check = _full_read(tables)
        seconds = time.perf_counter() - t0
    elif op == "hf_load":
        import datasets

        datasets.disable_progress_bars()
        base = _rss_now()
        t0 = time.perf_counter()
        dd = datasets.load_from_disk(str(workdir / "theirs"))
        check = _full_read({s: d.data.table for s, d in dd.items()})
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step (best reported)")
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workdir)))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-dataset-dict-"))
    (workdir / "input").mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        inputs = write_inputs(args.rows, workdir / "input")
        gen_seconds = time.perf_counter() - t0
        attempts: dict[str, list[dict]] = {op: [] for op in OPS}
        for _ in range(args.repeat):  # alternate the two libraries; the best run of each step is reported
            for op in OPS:
                if op.endswith("_save"):
                    shutil.rmtree(workdir / ("ours" if op.startswith("ours") else "theirs"), ignore_errors=True)
                attempts[op].append(run_child(op, workdir))
        runs = {op: min(tries, key=lambda r: r["seconds"]) for op, tries in attempts.items()}
        same_files = _same_shards(workdir / "ours", workdir / "theirs")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if runs["ours_load"]["check"] != runs["hf_load"]["check"]:
        raise SystemExit(f"loaded data differs: {runs['ours_load']['check']} vs {runs['hf_load']['check']}")

    rows = []
    for what in ("save", "load"):
        hf, ours = runs[f"hf_{what}"], runs[f"ours_{what}"]
        rows.append(
            f"| {what} | {hf['seconds']:.2f} s | {ours['seconds']:.2f} s | {hf['seconds'] / ours['seconds']:.1f}× "
            f"| {_mb(hf['peak_rss'])} | {_mb(ours['peak_rss'])} | {ours['peak_rss'] / hf['peak_rss']:.2f} |"
        )
    total_bytes = sum(v["file_bytes"] for v in inputs.values())
    print(f"\n{args.rows:,} chat rows (train {inputs['train']['rows']:,} / test {inputs['test']['rows']:,}), "
          f"{_mb(total_bytes)} of Arrow; generated in {gen_seconds:.1f} s; shard files byte-identical: {same_files}\n")  # fmt: skip
    print("| step | datasets | datasets_pipeline | speed-up | datasets peak RSS | ours peak RSS | RSS ratio |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    result = {
        "rows": args.rows,
        "inputs": inputs,
        "generate_seconds": gen_seconds,
        "runs": runs,
        "all_seconds": {op: [r["seconds"] for r in tries] for op, tries in attempts.items()},
        "save_speedup": runs["hf_save"]["seconds"] / runs["ours_save"]["seconds"],
        "load_speedup": runs["hf_load"]["seconds"] / runs["ours_load"]["seconds"],
        "save_rss_ratio": runs["ours_save"]["peak_rss"] / runs["hf_save"]["peak_rss"],
        "load_rss_ratio": runs["ours_load"]["peak_rss"] / runs["hf_load"]["peak_rss"],
        "shard_files_identical": same_files,
        "machine": {"python": platform.python_version(), "pyarrow": pa.__version__, "cpus": os.cpu_count(),
                    "note": f"shared machine; best of {args.repeat} runs per step"},  # fmt: skip
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


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


if __name__ == "__main__":
    main()
