"""``datasets.load_from_disk(dataset_dict_path(...))`` never mixes two versions while another process
republishes the DatasetDict: the real ``datasets`` library in a reader process, 10,000 loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from datasets_pipeline_tests.dagster_runs import REPO_ROOT

WRITER = r"""
import os, sys, time
import pyarrow as pa
from datasets_pipeline.engine import hf_disk
from datasets_pipeline.engine.versioned_dir import publish_dir

target, stop = sys.argv[1], sys.argv[2]

def split(version, n):
    return pa.table({"version": pa.array([version] * n, pa.int64()), "row": pa.array(range(n), pa.int64())})

version = 0
while not os.path.exists(stop):
    version += 1
    # each version's splits carry its number; their sizes differ from one version to the next
    publish_dir(target, lambda d: hf_disk.save_dataset_dict(
        {"train": split(version, 3 + version % 7), "test": split(version, 2 + version % 3)}, d))
    if version == 1:
        print("published 1", flush=True)
print(version)
"""

READER = r"""
import json, sys, time
import datasets
import pyarrow.compute as pc
import datasets_pipeline as dp

datasets.disable_progress_bars()
loads, mixed, versions, errors, paths = int(sys.argv[1]), [], set(), [], set()
for _ in range(loads):
    path = dp.dataset_dict_path("gsm8k", "main")
    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
        continue
    seen = {}
    for name in ("train", "test"):
        table = loaded[name].data.table
        marks = pc.unique(table["version"]).to_pylist()
        seen[name] = marks
        expected = (3 + marks[0] % 7) if name == "train" else (2 + marks[0] % 3)
        if len(marks) != 1 or table.num_rows != expected:
            mixed.append({name: marks, "rows": table.num_rows})
    if seen["train"] != seen["test"]:
        mixed.append(seen)
    versions.add(seen["train"][0])
    paths.add(str(path))
print(json.dumps({"mixed": mixed[:10], "n_mixed": len(mixed), "versions": len(versions), "errors": errors[:5],
                  "n_errors": len(errors), "paths": len(paths)}))
"""


def test_load_from_disk_of_dataset_dict_path_never_mixes_versions_during_republication(data_dir, tmp_path):
    env = {**os.environ, "DATASETS_PIPELINE_DATA": str(data_dir), "DATASETS_PIPELINE_VERSION_GRACE": "5",
           "HF_DATASETS_CACHE": str(tmp_path / "hf_datasets"), "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
    target = data_dir / "dataset_dict" / "gsm8k" / "main"
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(stop)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert writer.stdout.readline().strip() == "published 1", writer.stderr.read()[-3000:]
    try:
        reader = subprocess.run([sys.executable, "-c", READER, "10000"], env=env, capture_output=True, text=True,
                                timeout=1500)  # fmt: skip
    finally:
        stop.write_text("")
        out, writer_err = writer.communicate(timeout=120)
    published = out.strip().splitlines()[-1]
    assert reader.returncode == 0, reader.stderr[-3000:]
    assert writer.returncode == 0, writer_err[-3000:]
    report = json.loads(reader.stdout)
    assert report["n_mixed"] == 0, report["mixed"]
    assert report["n_errors"] == 0, report["errors"]
    assert report["versions"] > 20 and int(published) > 20  # the loads really ran across many republications
    assert report["paths"] == report["versions"]  # one immutable folder per version
    # replaced versions older than the grace period were removed along the way
    left = [p for p in target.parent.iterdir() if p.name.startswith(".main.")]
    assert 1 <= len(left) < int(published)
