"""What a data source provides: files of one (config, split) of a dataset repo, pinned to a commit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

#: Where a split's files were found.
ORIGINS = ("card", "parquet-branch", "local")


@dataclass(frozen=True)
class SourceFile:
    """One data file of a split, verified on the local disk."""

    path: str  # path in the repo, e.g. "main/test-00000-of-00001.parquet"
    local_path: Path  # verified local copy (the HF cache for the Hub)
    size: int
    sha256: str  # of the local bytes; for LFS files verified equal to the tree's lfs.oid
    revision: str  # 40-hex commit the file was read at (main's sha, or refs/convert/parquet's sha)


@dataclass(frozen=True)
class SplitFiles:
    """The files of one (config, split), in shard order, and the commit they come from."""

    repo_id: str
    config: str
    split: str
    requested_revision: str  # as asked: "main", a tag, or a sha
    sha: str  # the requested revision pinned to its commit sha
    origin: str  # "card" | "parquet-branch" | "local"
    files: tuple[SourceFile, ...]


@runtime_checkable
class Source(Protocol):
    """A place dataset repos are read from (the Hub, or a local folder laid out like it)."""

    def resolve_revision(self, repo_id: str, revision: str = "main") -> str:
        """The 40-hex commit sha a branch, tag or sha points at now."""
        ...

    def list_splits(self, repo_id: str, revision: str = "main") -> dict[str, list[str]]:
        """Config -> the splits that have data files, in card order, then the parquet branch's."""
        ...

    def fetch_split(self, repo_id: str, config: str, split: str, revision: str = "main") -> SplitFiles:
        """Pin ``revision``, find the split's files and return verified local copies."""
        ...
