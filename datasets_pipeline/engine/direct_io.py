"""A write-only file that sends large files to disk without the page cache (``O_DIRECT``).

A durable write of a large file through the page cache copies every byte into freshly allocated
cache pages and then waits for ``fsync`` to send them out. :class:`DirectFile` keeps two aligned
blocks of :data:`BLOCK` bytes instead: the caller's bytes are copied into one while a background
thread writes the other. The first ``direct_after`` bytes (default :data:`DIRECT_AFTER`) go through
the page cache as usual, so small files behave like any other; past that, blocks are written with
``O_DIRECT`` straight from the aligned block to the device, and the process never holds more than
the two blocks however large the file grows. The last partial block is padded to the device
alignment and the file cut back to its length. Where ``O_DIRECT`` is refused (tmpfs, other
systems) every block goes through the page cache. Durability still comes from the caller's
``fsync`` (it also flushes the device's cache and the file's size).

Readers of the file (memory maps included) see the written bytes as usual: the kernel keeps direct
writes coherent with the page cache.
"""

from __future__ import annotations

import errno
import mmap
import os
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

__all__ = ["ALIGN", "BLOCK", "DIRECT_AFTER", "DirectFile", "fsync_file"]

BLOCK = 8 << 20
ALIGN = 4096  # file offsets, sizes and addresses of direct writes are multiples of this
DIRECT_AFTER = 64 << 20
_O_DIRECT = getattr(os, "O_DIRECT", 0)


class DirectFile:
    """A new file at ``path`` written sequentially, for ``pyarrow.PythonFile(DirectFile(path), mode="w")``.

    ``write`` copies into the current block; full blocks are written by one background thread
    (its errors, e.g. a full disk, are raised by the next ``write`` or by ``close``).
    ``direct_after`` and ``block`` default to :data:`DIRECT_AFTER` and :data:`BLOCK`; a negative
    ``direct_after`` never uses ``O_DIRECT``.
    """

    def __init__(self, path: str | os.PathLike, direct_after: int | None = None, block: int | None = None) -> None:
        block = BLOCK if block is None else block
        if block <= 0 or block % ALIGN:
            raise ValueError(f"block must be a positive multiple of {ALIGN}, got {block}")
        self.path = os.fspath(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        self.direct_fd: int | None = None
        direct_after = DIRECT_AFTER if direct_after is None else direct_after
        self.direct_after: int | None = direct_after if _O_DIRECT and direct_after >= 0 else None
        self.block = block
        self.blocks = [mmap.mmap(-1, block) for _ in range(2)]  # page-aligned
        self.views = [np.frombuffer(b, dtype=np.uint8) for b in self.blocks]
        self.current = self.fill = 0
        self.position = 0  # bytes written by the caller
        self.flushed = 0  # file offset of the next block
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="direct-write")
        self.pending: Future[None] | None = None
        self.closed = False
        self.direct_bytes = 0  # bytes written with O_DIRECT (for tests and statistics)

    # ------------------------------------------------------------------ file protocol

    def write(self, data: object) -> int:
        src = np.frombuffer(data, dtype=np.uint8)  # type: ignore[call-overload]
        n, at = len(src), 0
        while at < n:
            take = min(n - at, self.block - self.fill)
            self.views[self.current][self.fill : self.fill + take] = src[at : at + take]
            self.fill += take
            at += take
            if self.fill == self.block:
                self._submit(self.block)
        self.position += n
        return n

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        """Nothing to do: blocks are written as they fill, the rest at :meth:`close`."""

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        """Write what is left, wait for the writes and close the file (errors are raised here)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self.fill:
                self._wait()  # a failed direct write may have switched the file to the page cache
                if self._direct(self.flushed):
                    padded = -(-self.fill // ALIGN) * ALIGN
                    self.views[self.current][self.fill : padded] = 0
                    self._submit(padded)
                else:
                    self._submit(self.fill)
            self._wait()
            if self.flushed != self.position:
                os.ftruncate(self.fd, self.position)
        finally:
            self._wait(raise_errors=False)
            self.pool.shutdown(wait=True)
            for fd in (self.direct_fd, self.fd):
                if fd is not None:
                    os.close(fd)
            self.views.clear()  # the numpy views export the blocks' memory: drop them first
            for b in self.blocks:
                b.close()

    def __enter__(self) -> "DirectFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _direct(self, offset: int) -> bool:
        return self.direct_after is not None and offset >= self.direct_after

    def _submit(self, nbytes: int) -> None:
        self._wait()
        block, offset = self.blocks[self.current], self.flushed
        self.pending = self.pool.submit(self._pwrite, block, nbytes, offset)
        self.flushed += nbytes
        self.current ^= 1
        self.fill = 0

    def _wait(self, raise_errors: bool = True) -> None:
        pending, self.pending = self.pending, None
        if pending is None:
            return
        if raise_errors:
            pending.result()
        else:
            pending.exception()

    def _pwrite(self, block: mmap.mmap, nbytes: int, offset: int) -> None:
        view = memoryview(block)[:nbytes]
        fd = self.fd
        if self._direct(offset):
            fd = self._direct_fd()
        try:
            self._pwrite_all(fd, view, offset)
            if fd != self.fd:
                self.direct_bytes += nbytes
        except OSError as exc:
            if fd == self.fd or exc.errno != errno.EINVAL:
                raise
            self.direct_after = None  # the file system refuses direct writes: use the page cache
            self._pwrite_all(self.fd, view, offset)
        finally:
            view.release()

    def _direct_fd(self) -> int:
        if self.direct_fd is None:
            try:
                self.direct_fd = os.open(self.path, os.O_WRONLY | _O_DIRECT | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                self.direct_after = None
                return self.fd
        return self.direct_fd

    @staticmethod
    def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
        done = 0
        while done < len(view):
            done += os.pwrite(fd, view[done:], offset + done)


def fsync_file(path: str | os.PathLike) -> None:
    """Flush a written file's data and size to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
