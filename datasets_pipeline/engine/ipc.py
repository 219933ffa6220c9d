"""Arrow IPC files on disk: atomic batch-by-batch writes and zero-copy memory-mapped reads."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import fsspec
import pyarrow as pa

from datasets_pipeline.engine.direct_io import DirectFile, fsync_file
from datasets_pipeline.errors import StorageFullError

TMP_PREFIX = ".tmp-"
# Which machine a temporary belongs to: its pid means something only there.
HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
_FULL = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class WriteStats:
    """What one atomic write produced."""

    path: str
    rows: int
    bytes: int
    batches: int
    schema: pa.Schema


def _is_local(path: str | os.PathLike) -> bool:
    text = str(path)
    return "://" not in text or text.startswith("file://")


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a directory entry (a rename into it) to disk; a no-op where unsupported."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temporary_name(name: str) -> str:
    """The hidden name a file ``name`` is written under: ``.tmp-<name>.<host>-<pid>-<uuid>``.

    Readers never open it; :func:`remove_stale_temporaries` can tell from it whether its writer still runs.
    """
    return f"{TMP_PREFIX}{name}.{HOST_TAG}-{os.getpid()}-{uuid.uuid4().hex}"


def _temporary_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(TMP_PREFIX + name)}\.(?:(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)-)?[0-9a-f]{{32}}")


def _pid_alive(pid: int) -> bool:
    """True if process ``pid`` of this machine exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        with open(f"/proc/{pid}/stat", "rb") as fh:
            if fh.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                return False
    return True


def remove_stale_temporaries(path: str | os.PathLike, *, older_than: float | None = None) -> list[str]:
    """Remove temporaries of the local file ``path`` whose writer is gone (e.g. killed with ``kill -9``).

    Only ``.tmp-<name>.*`` files beside ``path`` are considered. One is stale when the process named
    in it ran on this machine and no longer runs, or, when that cannot be told (a temporary of another
    machine or of an older naming scheme), when it was last modified before ``older_than`` (a
    ``time.time()`` value; ``None`` leaves those alone). Returns the names removed. Remote paths
    (object storage) follow the same rules, with the object's modification time.
    """
    if not _is_local(path):
        return _remove_stale_remote(str(path), older_than)
    target = Path(str(path).removeprefix("file://"))
    pattern = _temporary_re(target.name)
    removed: list[str] = []
    try:
        entries = list(os.scandir(target.parent))
    except FileNotFoundError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        if match["host"] == HOST_TAG:
            stale = int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"]))
        else:
            try:
                stale = older_than is not None and entry.stat(follow_symlinks=False).st_mtime < older_than
            except FileNotFoundError:
                continue
        if stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def _remove_stale_remote(url: str, older_than: float | None) -> list[str]:
    fs, fs_path = fsspec.core.url_to_fs(url)
    parent, name = fs_path.rsplit("/", 1)
    pattern = _temporary_re(name)
    removed: list[str] = []
    try:
        fs.invalidate_cache(parent)
        entries = fs.ls(parent, detail=True)
    except (FileNotFoundError, OSError):
        return []
    for entry in entries:
        base = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        match = pattern.fullmatch(base)
        if match is None or entry.get("type") != "file":
            continue
        if match["host"] == HOST_TAG:
            stale = int(match["pid"]) != os.getpid() and not _pid_alive(int(match["pid"]))
        else:
            try:
                stale = older_than is not None and fs.modified(entry["name"]).timestamp() < older_than
            except (FileNotFoundError, OSError, NotImplementedError):
                continue
        if stale:
            with contextlib.suppress(FileNotFoundError, OSError):
                fs.rm_file(entry["name"])
                removed.append(base)
    return removed


def is_storage_full(exc: BaseException) -> bool:
    """True for the OSError of a full disk or an exhausted quota."""
    return isinstance(exc, OSError) and exc.errno in _FULL


@contextlib.contextmanager
def atomic_local_file(path: str | os.PathLike, durable: bool = True) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; on success fsync and rename it into place.

    On any error the temporary file is removed and ``path`` keeps its previous content.
    A process killed mid-write leaves only a ``.tmp-*`` file, which readers never open.
    ``durable=False`` skips the fsyncs: readers still never see a partial file, but after a power
    loss the file may be empty (scratch outputs, and the ``datasets`` library's own behaviour).
    """
    target = Path(str(path).removeprefix("file://"))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / temporary_name(target.name)
    try:
        yield tmp
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        if durable:
            fsync_dir(target.parent)
    except OSError as exc:
        if is_storage_full(exc):
            raise storage_full_error(target, exc) from exc
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def storage_full_error(target: Path | str, exc: OSError) -> StorageFullError:
    """The error of a write to ``target`` that filled the disk (the caller adds dataset, config, split)."""
    return StorageFullError(
        f"no space left on the device while writing {str(target)!r} ({os.strerror(exc.errno or errno.ENOSPC)}); "
        "the published version, if any, is kept",
        file=str(target),
    )


def _write(
    sink: pa.NativeFile | object,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema | None,
) -> tuple[int, int, pa.Schema]:
    it = iter(batches)
    first: pa.RecordBatch | None = None
    if schema is None:
        first = next(it, None)
        if first is None:
            raise ValueError("cannot write an Arrow file without a schema and with no record batches")
        schema = first.schema
    rows = count = 0
    with pa.ipc.new_file(sink, schema) as writer:
        for batch in _chain(first, it):
            if not batch.schema.equals(schema):
                batch = _conform(batch, schema)
            writer.write_batch(batch)
            rows += batch.num_rows
            count += 1
    return rows, count, schema


def _chain(first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    if first is not None:
        yield first
    yield from rest


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Accept a batch whose schema differs only in metadata; anything else is an error."""
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    raise pa.ArrowInvalid(f"record batch schema {batch.schema} does not match the file schema {schema}")


@dataclass
class StagedFile:
    """A complete Arrow file written under a hidden temporary name beside ``target``, not yet visible.

    :meth:`publish` moves it into place in one rename (readers see the old file or the new one,
    never a mix); :meth:`discard` removes it and leaves ``target`` as it was.
    """

    target: str
    tmp: str
    stats: WriteStats
    durable: bool = True
    done: bool = False

    def read(self) -> pa.Table:
        """The staged rows (memory-mapped when local), e.g. to evaluate checks before publishing."""
        return read_table(self.tmp)

    def publish(self) -> WriteStats:
        if self.done:
            raise RuntimeError(f"{self.tmp} was already published or discarded")
        self.done = True
        try:
            if _is_local(self.target):
                target = Path(self.target.removeprefix("file://"))
                os.replace(self.tmp, target)
                if self.durable:
                    fsync_dir(target.parent)
            else:
                fs, fs_path = fsspec.core.url_to_fs(self.target)
                fs.mv(fsspec.core.url_to_fs(self.tmp)[1], fs_path)
        except BaseException as exc:
            self._remove()
            if is_storage_full(exc):
                raise storage_full_error(self.target, exc) from exc
            raise
        return self.stats

    def discard(self) -> None:
        if not self.done:
            self.done = True
            self._remove()

    def _remove(self) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            if _is_local(self.tmp):
                os.unlink(self.tmp.removeprefix("file://"))
            else:
                fs, fs_path = fsspec.core.url_to_fs(self.tmp)
                if fs.exists(fs_path):
                    fs.rm(fs_path)


def stage_batches(
    path: str | os.PathLike,
    batches: Iterable[pa.RecordBatch | pa.Table],
    schema: pa.Schema | None = None,
    durable: bool = True,
) -> StagedFile:
    """Write record batches to a hidden temporary beside ``path``, one batch at a time, and stop there.

    Memory stays bounded by one batch. Durable local writes send large files to disk past the
    page cache (see :mod:`.direct_io`) and fsync them; ``durable=False`` leaves the pages to the
    kernel. On any error the temporary is removed; a full disk raises :class:`~datasets_pipeline.errors.StorageFullError` naming ``path``.
    """
    flat = _flatten_tables(batches)
    if _is_local(path):
        target = Path(str(path).removeprefix("file://"))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / temporary_name(target.name)
        try:
            # durable: large files go to disk past the page cache (see .direct_io), then fsync
            with pa.PythonFile(DirectFile(tmp), mode="w") if durable else pa.OSFile(str(tmp), "wb") as sink:
                rows, count, schema = _write(sink, flat, schema)
            if durable:
                fsync_file(tmp)
            size = tmp.stat().st_size
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            if is_storage_full(exc):
                raise storage_full_error(target, exc) from exc
            raise
        return StagedFile(str(path), str(tmp), WriteStats(str(path), rows, size, count, schema), durable)
    fs, fs_path = fsspec.core.url_to_fs(str(path))
    parent = fs_path.rsplit("/", 1)[0]
    tmp_path = f"{parent}/{temporary_name(fs_path.rsplit('/', 1)[-1])}"
    fs.makedirs(parent, exist_ok=True)
    try:
        with fs.open(tmp_path, "wb") as fh:
            sink = pa.PythonFile(fh, mode="w")
            rows, count, schema = _write(sink, flat, schema)
        size = fs.size(tmp_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError, OSError):
            if fs.exists(tmp_path):
                fs.rm(tmp_path)
        raise
    staged = StagedFile(str(path), fs.unstrip_protocol(tmp_path), WriteStats(str(path), rows, int(size), count, schema))
    return staged


def write_batches(
    path: str | os.PathLike,
    batches: Iterable[pa.RecordBatch | pa.Table],
    schema: pa.Schema | None = None,
    durable: bool = True,
) -> WriteStats:
    """Write record batches to an Arrow IPC file atomically, one batch at a time.

    Memory stays bounded by one batch. ``path`` may be local or an fsspec URL; a local write is
    temp file + fsync + rename (a large file goes to disk as it grows, see
    :mod:`.direct_io`), a remote one writes a temporary object and moves it into place.
    ``durable=False`` leaves out the fsync (see :func:`atomic_local_file`).
    """
    return stage_batches(path, batches, schema, durable).publish()


def _flatten_tables(items: Iterable[pa.RecordBatch | pa.Table]) -> Iterator[pa.RecordBatch]:
    for item in items:
        if isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            yield item


def write_table(path: str | os.PathLike, table: pa.Table, max_chunksize: int | None = 65_536) -> WriteStats:
    """Write a whole table atomically (in record batches of at most ``max_chunksize`` rows)."""
    return write_batches(path, table.to_batches(max_chunksize=max_chunksize), schema=table.schema)


#: Bytes per request when a remote file is copied to the local spool (memory held at once by the copy).
SPOOL_BLOCK = 8 << 20


def read_table(path: str | os.PathLike) -> pa.Table:
    """Read an Arrow IPC file: memory-mapped (zero copy) when local.

    A remote file (an fsspec URL) is streamed in :data:`SPOOL_BLOCK` requests into an unlinked
    temporary file of the local temporary folder (``TMPDIR``), which is then memory-mapped: memory
    stays bounded by one block whatever the file's size, and the pages are the kernel's to evict.
    The requests of one read are pinned to one object version where the filesystem supports it
    (s3fs: the ETag), so a file replaced mid-read is an error (``errno.EBUSY``), never a mix.
    """
    if _is_local(path):
        source = pa.memory_map(str(path).removeprefix("file://"), "r")
        return pa.ipc.open_file(source).read_all()
    return pa.ipc.open_file(spool_remote(str(path))).read_all()


def spool_remote(url: str) -> pa.MemoryMappedFile:
    """Copy the remote file ``url`` to an unlinked local temporary and memory-map it."""
    fs, fs_path = fsspec.core.url_to_fs(url)
    fd, spool = tempfile.mkstemp(prefix=".spool-", suffix=".arrow")
    try:
        with os.fdopen(fd, "wb") as out, fs.open(fs_path, "rb", block_size=SPOOL_BLOCK, cache_type="none") as src:
            shutil.copyfileobj(src, out, SPOOL_BLOCK)
        return pa.memory_map(spool, "r")
    finally:
        os.unlink(spool)  # the mapping keeps the pages; the name goes at once


def iter_batches(path: str | os.PathLike) -> Iterator[pa.RecordBatch]:
    """Stream the record batches of an Arrow IPC file (memory-mapped when local)."""
    if _is_local(path):
        reader = pa.ipc.open_file(pa.memory_map(str(path).removeprefix("file://"), "r"))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)
        return
    with fsspec.open(str(path), "rb") as fh:
        reader = pa.ipc.open_file(pa.PythonFile(fh, mode="r"))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)


def read_schema(path: str | os.PathLike) -> pa.Schema:
    """The schema of an Arrow IPC file without reading its batches."""
    if _is_local(path):
        return pa.ipc.open_file(pa.memory_map(str(path).removeprefix("file://"), "r")).schema
    with fsspec.open(str(path), "rb") as fh:
        return pa.ipc.open_file(pa.PythonFile(fh, mode="r")).schema


def count_rows(path: str | os.PathLike) -> int:
    """Rows of an Arrow IPC file, from its record batch headers (memory-mapped when local)."""
    if _is_local(path):
        reader = pa.ipc.open_file(pa.memory_map(str(path).removeprefix("file://"), "r"))
        return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    return sum(batch.num_rows for batch in iter_batches(path))
