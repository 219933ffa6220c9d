"""DirectFile: large durable writes past the page cache, byte-exact, on real files."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from datasets_pipeline.engine import direct_io
from datasets_pipeline.engine.direct_io import ALIGN, DirectFile
from datasets_pipeline.engine.ipc import read_table, stage_batches, write_table
from datasets_pipeline.errors import StorageFullError
from datasets_pipeline_tests.tmpfs import small_tmpfs


def _supports_direct(folder: Path) -> bool:
    probe = folder / ".direct-probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | getattr(os, "O_DIRECT", 0))
    except OSError:
        return False
    os.close(fd)
    probe.unlink()
    return hasattr(os, "O_DIRECT")


def _cached_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache (``mincore`` over a read-only mapping of it)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = path.stat().st_size
    vec = (ctypes.c_ubyte * -(-size // mmap.PAGESIZE))()
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), size, prot=mmap.PROT_READ) as mapped:
        view = np.frombuffer(mapped, dtype=np.uint8)
        failed = libc.mincore(view.ctypes.data, size, vec)
        del view
    if failed:
        raise OSError(ctypes.get_errno(), "mincore")
    return sum(b & 1 for b in vec) * mmap.PAGESIZE


def _pieces(total: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out, left = [], total
    while left:
        n = int(min(left, rng.integers(1, 5 * ALIGN)))
        out.append(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        left -= n
    return out


@pytest.mark.parametrize("total", [10 * ALIGN * 4, 10 * ALIGN * 4 + 1, 3 * ALIGN * 4 - 7])
def test_past_the_threshold_blocks_go_direct_and_the_file_is_exact(tmp_path, total):
    pieces = _pieces(total)
    path = tmp_path / "f.bin"
    sink = DirectFile(path, direct_after=2 * ALIGN, block=4 * ALIGN)
    for p in pieces:
        assert sink.write(p) == len(p)
    assert sink.tell() == total
    sink.close()
    assert path.read_bytes() == b"".join(pieces)  # padding of the last direct block cut off
    # everything from the first block boundary at or past 2 * ALIGN went direct (or nothing, where refused)
    expected = -(-(total - 4 * ALIGN) // ALIGN) * ALIGN if total > 4 * ALIGN else 0
    assert sink.direct_bytes == (expected if _supports_direct(tmp_path) else 0)


def test_a_small_file_stays_in_the_page_cache(tmp_path):
    path = tmp_path / "small.bin"
    with DirectFile(path, block=4 * ALIGN) as sink:
        sink.write(b"x" * (9 * ALIGN + 3))
    assert path.read_bytes() == b"x" * (9 * ALIGN + 3)
    assert sink.direct_bytes == 0
    with DirectFile(tmp_path / "never.bin", direct_after=-1, block=4 * ALIGN) as never:
        never.write(b"y" * (9 * ALIGN))
    assert never.direct_bytes == 0 and (tmp_path / "never.bin").read_bytes() == b"y" * (9 * ALIGN)


def test_a_block_size_off_the_alignment_is_refused(tmp_path):
    with pytest.raises(ValueError, match="block must be a positive multiple of 4096, got 5000"):
        DirectFile(tmp_path / "x", block=5000)


def test_stage_batches_writes_a_large_arrow_file_direct_and_it_reads_back(tmp_path, monkeypatch):
    monkeypatch.setattr(direct_io, "DIRECT_AFTER", 64 << 10)
    monkeypatch.setattr(direct_io, "BLOCK", 16 << 10)
    table = pa.table({"id": np.arange(200_000), "text": pa.array([f"row {i} " * (i % 7) for i in range(200_000)])})
    staged = stage_batches(tmp_path / "t.arrow", table.to_batches(max_chunksize=30_000))
    written = staged.publish()
    size = (tmp_path / "t.arrow").stat().st_size
    assert written.rows == 200_000 and written.bytes == size > 1 << 20
    if _supports_direct(tmp_path):  # only the first 64 KiB went through the page cache
        assert _cached_bytes(tmp_path / "t.arrow") <= 64 << 10
    assert read_table(tmp_path / "t.arrow").equals(table)
    assert [p.name for p in tmp_path.iterdir()] == ["t.arrow"]


def test_a_full_disk_during_direct_writes_is_storage_full_and_leaves_the_old_file(tmp_path, monkeypatch):
    monkeypatch.setattr(direct_io, "DIRECT_AFTER", 16 << 10)
    monkeypatch.setattr(direct_io, "BLOCK", 16 << 10)
    with small_tmpfs(tmp_path / "tiny", "256k") as folder:
        target = folder / "t.arrow"
        write_table(target, pa.table({"a": [1]}))
        batches = (pa.record_batch({"a": pa.array(np.arange(i, i + 20_000))}) for i in range(0, 400_000, 20_000))
        with pytest.raises(StorageFullError) as err:
            stage_batches(target, batches)
        assert err.value.file == str(target)
        assert sorted(p.name for p in folder.iterdir()) == ["t.arrow"]
        assert read_table(target).column("a").to_pylist() == [1]
