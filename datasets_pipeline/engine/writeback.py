"""Start writing a file's dirty pages to disk while the file is still being written.

An atomic write ends with ``fsync``; left to itself the kernel holds gigabytes of dirty pages and
the ``fsync`` then waits for all of them. :class:`Writeback` asks the kernel to start writing each
completed stretch of the file (Linux ``sync_file_range(SYNC_FILE_RANGE_WRITE)``, asynchronous), so
the disk works while the process computes and the final ``fsync`` has little left to flush. Where
the call does not exist it does nothing; durability still comes from the ``fsync``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Callable

__all__ = ["STEP_BYTES", "Writeback"]

STEP_BYTES = 32 << 20
SYNC_FILE_RANGE_WRITE = 2


def _load() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _load()


class Writeback:
    """Track how far a file descriptor has been written and start writeback every ``step`` bytes."""

    def __init__(self, fd: int, step: int = STEP_BYTES) -> None:
        self.fd, self.step, self.started = fd, step, 0
        self.enabled = _SYNC_FILE_RANGE is not None

    def advance(self, position: int) -> None:
        """The file now holds ``position`` bytes; start writing back the new ones once a step is full."""
        if self.enabled and position - self.started >= self.step:
            if _SYNC_FILE_RANGE(self.fd, self.started, position - self.started, SYNC_FILE_RANGE_WRITE) != 0:
                self.enabled = False  # e.g. a file system that refuses it: leave it to fsync
            self.started = position
