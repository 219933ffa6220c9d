"""A write-only file object that hashes what it writes (a shard's digest without reading it back)."""

from __future__ import annotations

from typing import Any


class HashingFile:
    """A write-only file object that feeds everything written to an xxh3 hasher."""

    def __init__(self, fh: Any, hasher: Any) -> None:
        self.fh, self.hasher, self.pos, self.closed = fh, hasher, 0, False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hasher.update(view)
        self.fh.write(view)
        self.pos += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True
