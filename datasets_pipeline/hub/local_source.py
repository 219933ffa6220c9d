"""A local folder laid out like Hub dataset repos, as a :class:`~datasets_pipeline.hub.source.Source`.

``<root>/<repo_id>/`` is the ``main`` branch (a README.md card plus data files, found by the same
card rules as on the Hub). Other revisions live beside it as ``<root>/<repo_id>@<revision>``
with the revision percent-encoded (``<root>/acme/tiny@refs%2Fconvert%2Fparquet/`` is the parquet
branch, ``<root>/acme/tiny@v1/`` a tag). A revision's sha is a sha1 over its files' paths and
sha256s, so it changes whenever a file does; asking for a sha that no folder has any more fails
with :class:`RevisionNotFound`. Files are read in place (``local_path`` is the file itself).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from ..errors import DatasetsPipelineError, RepoNotFound, RevisionNotFound
from ..paths import check_segment
from .card import card_layout, parse_card
from .checksum import combined_sha1, sha256_of
from .layout import merge_splits, parquet_branch_layout, split_not_found
from .source import SourceFile, SplitFiles

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
PARQUET_REVISION = "refs/convert/parquet"
_SKIP_DIRS = {".git"}


@dataclass(frozen=True)
class Snapshot:
    """The files of one revision folder: repo path -> (local path, size, sha256), and its sha."""

    folder: Path
    sha: str
    files: dict[str, tuple[Path, int, str]]

    def card(self) -> dict[str, Any]:
        readme = self.files.get("README.md")
        if readme is None:
            return {}
        try:
            return parse_card(readme[0].read_text(encoding="utf-8-sig"))
        except DatasetsPipelineError as exc:
            raise exc.with_context(file=str(readme[0]))

    def source_file(self, path: str) -> SourceFile:
        local, size, digest = self.files[path]
        return SourceFile(path, local, size, digest, self.sha)


class LocalFolderSource:
    """Dataset repos under ``root`` (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self._digests: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalFolderSource({str(self.root)!r})"

    # --- folders -------------------------------------------------------------------------

    def _repo_parts(self, repo_id: str) -> list[str]:
        parts = repo_id.split("/") if isinstance(repo_id, str) else []
        if not 1 <= len(parts) <= 2:
            raise RepoNotFound(f"repo id {repo_id!r} must be 'name' or 'owner/name'")
        return [check_segment(part, "repo id part") for part in parts]

    def _folder(self, repo_id: str, revision: str = "main") -> Path:
        parts = self._repo_parts(repo_id)
        if revision != "main":
            parts[-1] = f"{parts[-1]}@{quote(revision, safe='')}"
        return self.root.joinpath(*parts)

    def _revision_folders(self, repo_id: str) -> dict[str, Path]:
        """Revision name -> folder, ``main`` first."""
        main = self._folder(repo_id)
        out = {"main": main} if main.is_dir() else {}
        if main.parent.is_dir():
            prefix = main.name + "@"
            for child in sorted(main.parent.iterdir()):
                if child.name.startswith(prefix) and child.is_dir():
                    out[unquote(child.name[len(prefix) :])] = child
        return out

    def _digest(self, path: Path, stat: os.stat_result) -> str:
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._digests.get(key)
        if cached is None:
            cached = sha256_of(path)
            with self._lock:
                self._digests[key] = cached
        return cached

    def _snapshot(self, folder: Path) -> Snapshot:
        files: dict[str, tuple[Path, int, str]] = {}
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for filename in filenames:
                local = Path(dirpath) / filename
                if not local.is_file():
                    continue
                stat = local.stat()
                rel = local.relative_to(folder).as_posix()
                files[rel] = (local, stat.st_size, self._digest(local, stat))
        sha = combined_sha1([(path, digest) for path, (_, _, digest) in files.items()])
        return Snapshot(folder, sha, dict(sorted(files.items())))

    def _pinned(self, repo_id: str, revision: str) -> Snapshot:
        """The snapshot of ``revision`` (a revision name, or the sha of one of the revision folders)."""
        folders = self._revision_folders(repo_id)
        if "main" not in folders:
            raise RepoNotFound(
                f"dataset repo {repo_id!r} not found under {self.root}",
                hint=f"expected a folder {self._folder(repo_id)} holding the repo's files",
            )
        if revision in folders:
            return self._snapshot(folders[revision])
        if SHA_RE.match(revision):
            for folder in folders.values():
                snapshot = self._snapshot(folder)
                if snapshot.sha == revision:
                    return snapshot
        raise RevisionNotFound(
            f"revision {revision!r} not found in local dataset repo {repo_id!r}",
            hint=f"available revisions: {', '.join(folders)} (a sha names the current content of one of them)",
        )

    def _branch(self, repo_id: str) -> Snapshot | None:
        folder = self._folder(repo_id, PARQUET_REVISION)
        return self._snapshot(folder) if folder.is_dir() else None

    # --- Source --------------------------------------------------------------------------

    def resolve_revision(self, repo_id: str, revision: str = "main") -> str:
        """The sha of the revision folder's current content."""
        return self._pinned(repo_id, revision).sha

    def list_splits(self, repo_id: str, revision: str = "main") -> dict[str, list[str]]:
        """Config -> splits with data files: the card's, then those only the parquet branch folder has."""
        snapshot = self._pinned(repo_id, revision)
        from_card = card_layout(snapshot.card(), list(snapshot.files))
        branch = self._branch(repo_id)
        return merge_splits(from_card, parquet_branch_layout(list(branch.files)) if branch else {})

    def fetch_split(self, repo_id: str, config: str, split: str, revision: str = "main") -> SplitFiles:
        """The split's files in place, with their sha256s (``origin`` is ``"local"``)."""
        snapshot = self._pinned(repo_id, revision)
        from_card = card_layout(snapshot.card(), list(snapshot.files))
        paths = from_card.get(config, {}).get(split)
        files: tuple[SourceFile, ...]
        if paths:
            files = tuple(snapshot.source_file(p) for p in paths)
        else:
            branch = self._branch(repo_id)
            from_branch = parquet_branch_layout(list(branch.files)) if branch else {}
            paths = from_branch.get(config, {}).get(split)
            if not paths or branch is None:
                raise split_not_found(
                    f"local dataset repo {repo_id!r} at {revision}", snapshot.card(), list(snapshot.files), config, split,
                    from_card, from_branch,
                )
            files = tuple(branch.source_file(p) for p in paths)
        return SplitFiles(repo_id, config, split, revision, snapshot.sha, "local", files)
