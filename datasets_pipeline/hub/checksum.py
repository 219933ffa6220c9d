"""File digests: sha256 (LFS oid) and git blob sha1 (oid of a regular git file), in one read."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

_CHUNK = 4 << 20


@dataclass(frozen=True)
class Digest:
    size: int
    sha256: str
    git_sha1: str  # sha1 of b"blob <size>\\0" + content


def file_digest(path: str | os.PathLike) -> Digest:
    """Size, sha256 and git blob sha1 of a file, streamed in 4 MiB chunks."""
    size = os.path.getsize(path)
    sha256 = hashlib.sha256()
    git = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha256.update(chunk)
            git.update(chunk)
    return Digest(size, sha256.hexdigest(), git.hexdigest())


def sha256_of(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def combined_sha1(entries: list[tuple[str, str]]) -> str:
    """A commit-like 40-hex id over ``(path, sha256)`` pairs (sorted by path): changes when any file does."""
    h = hashlib.sha1(b"datasets_pipeline local revision\n")
    for path, digest in sorted(entries):
        h.update(f"{path}\0{digest}\n".encode())
    return h.hexdigest()
