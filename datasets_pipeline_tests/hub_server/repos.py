"""Repositories served by the loopback Hub: blobs, commits, refs and card data.

Everything here is deterministic: blob oids are git sha1s (of the LFS pointer for
LFS files), LFS oids are sha256s, and a commit sha is a sha1 over the repo type,
repo id, revision, parent commit and the sorted ``(path, oid)`` pairs.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Union

import yaml

#: File name endings stored as LFS files whatever their size.
LFS_SUFFIXES = (".parquet", ".arrow", ".gz", ".zst", ".jsonl", ".json", ".csv")
#: Files larger than this many bytes are LFS files.
LFS_MIN_SIZE = 1024

REPO_TYPES = ("dataset", "model")
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
#: Refs the Hub accepts unencoded inside a URL path (as in huggingface_hub's ``_hf_uris``).
SPECIAL_REF_RE = re.compile(r"^refs/(?:convert/[\w.-]+|pr/\d+)$")
#: Same front-matter pattern as ``huggingface_hub.repocard.REGEX_YAML_BLOCK``.
YAML_BLOCK_RE = re.compile(r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))")
FIRST_COMMIT_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)

FileContent = Union[bytes, str, Path]
#: ``None`` = default rule, a bool = every file, a collection of paths or a predicate on the path.
LfsRule = Union[None, bool, Iterable[str], Callable[[str], bool]]


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob holding ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file stored in git in place of an LFS file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def iso_date(when: datetime) -> str:
    """The Hub's timestamp format (``2024-01-01T00:00:00.000Z``)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class Blob:
    """One file of a commit."""

    path: str
    data: bytes = field(repr=False)
    lfs: bool
    oid: str  # git blob sha1 (of the pointer file for LFS files)
    sha256: str
    pointer_size: int

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def etag(self) -> str:
        """What the client names the cached blob by: sha256 for LFS files, git sha1 otherwise."""
        return self.sha256 if self.lfs else self.oid

    def lfs_info(self) -> dict[str, Any]:
        return {"oid": self.sha256, "size": self.size, "pointerSize": self.pointer_size}


def make_blob(path: str, data: bytes, lfs: bool) -> Blob:
    sha256 = hashlib.sha256(data).hexdigest()
    if lfs:
        pointer = lfs_pointer(sha256, len(data))
        return Blob(path, data, True, git_blob_sha1(pointer), sha256, len(pointer))
    return Blob(path, data, False, git_blob_sha1(data), sha256, 0)


def is_lfs(path: str, size: int, rule: LfsRule, min_size: int = LFS_MIN_SIZE) -> bool:
    """Whether ``path`` is stored as an LFS file under ``rule``."""
    if rule is None:
        return path.endswith(LFS_SUFFIXES) or size > min_size
    if isinstance(rule, bool):
        return rule
    if callable(rule):
        return bool(rule(path))
    return path in set(rule)


def read_content(value: FileContent) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, Path):
        return value.read_bytes()
    raise TypeError(f"file content must be bytes, str or pathlib.Path, not {type(value).__name__}")


def check_repo_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid path in repo: {path!r}")
    return path


def card_data(readme: bytes) -> dict[str, Any] | None:
    """The YAML front matter of a dataset card, or None when it has none."""
    match = YAML_BLOCK_RE.search(readme.decode("utf-8", errors="replace"))
    if match is None:
        return None
    data = yaml.safe_load(match.group(2))
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Commit:
    """An immutable snapshot of a repo's files."""

    sha: str
    files: Mapping[str, Blob] = field(repr=False)
    title: str
    date: datetime
    parent: str | None = None

    def last_commit(self) -> dict[str, str]:
        return {"id": self.sha, "title": self.title, "date": iso_date(self.date)}

    def directories(self) -> set[str]:
        dirs: set[str] = set()
        for path in self.files:
            parts = path.split("/")[:-1]
            dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return dirs

    def _dir_oid(self, directory: str) -> str:
        prefix = directory + "/"
        h = hashlib.sha1(b"tree\0")
        for path in sorted(p for p in self.files if p.startswith(prefix)):
            h.update(f"{path[len(prefix):]}\0{self.files[path].oid}\n".encode())
        return h.hexdigest()

    def entry(self, path: str, expand: bool = False) -> dict[str, Any] | None:
        """The tree entry of a file or folder, or None when ``path`` is neither."""
        blob = self.files.get(path)
        if blob is not None:
            item: dict[str, Any] = {"type": "file", "oid": blob.oid, "size": blob.size, "path": path}
            if blob.lfs:
                item["lfs"] = blob.lfs_info()
        elif path in self.directories():
            item = {"type": "directory", "oid": self._dir_oid(path), "size": 0, "path": path}
        else:
            return None
        if expand:
            item["lastCommit"] = self.last_commit()
            if blob is not None:
                item["securityFileStatus"] = {
                    "status": "safe",
                    "avScan": {"virusFound": False},
                    "pickleImportScan": None,
                }
        return item

    def listing(self, path: str, recursive: bool, expand: bool = False) -> list[dict[str, Any]] | None:
        """Tree entries under ``path`` ("" = root), the file itself for a file, None if missing."""
        if path in self.files:
            return [self.entry(path, expand)]  # type: ignore[list-item]
        dirs = self.directories()
        if path and path not in dirs:
            return None
        prefix = f"{path}/" if path else ""
        names = [p for p in sorted(set(self.files) | dirs) if p.startswith(prefix)]
        if not recursive:
            names = [p for p in names if "/" not in p[len(prefix) :]]
        return [self.entry(p, expand) for p in names]  # type: ignore[misc]

    def siblings(self, blobs: bool) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.files):
            blob = self.files[path]
            item: dict[str, Any] = {"rfilename": path}
            if blobs:
                item.update(size=blob.size, blobId=blob.oid)
                if blob.lfs:
                    item["lfs"] = {"sha256": blob.sha256, "size": blob.size, "pointerSize": blob.pointer_size}
            out.append(item)
        return out

    def card_data(self) -> dict[str, Any] | None:
        readme = self.files.get("README.md")
        return card_data(readme.data) if readme is not None else None


def commit_sha(repo_type: str, repo_id: str, revision: str, parent: str | None, files: Mapping[str, Blob]) -> str:
    h = hashlib.sha1(f"{repo_type}\0{repo_id}\0{revision}\0{parent or ''}\n".encode())
    for path in sorted(files):
        h.update(f"{path}\0{files[path].oid}\n".encode())
    return h.hexdigest()


@dataclass
class Repo:
    """A repo: commits by sha and the refs pointing at them."""

    repo_type: str
    repo_id: str
    gated: bool | str = False
    private: bool = False
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    converts: dict[str, str] = field(default_factory=dict)
    pulls: dict[int, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def gated_value(self) -> bool | str:
        """``false``, ``"auto"`` or ``"manual"`` as the Hub reports it."""
        return "auto" if self.gated is True else self.gated

    @property
    def default_branch(self) -> str:
        return "main" if "main" in self.branches else next(iter(self.branches), "main")

    def ref_sha(self, revision: str) -> str | None:
        """The commit a ref (branch, tag, convert, pr; short or full name) points at."""
        if revision.startswith("refs/heads/"):
            return self.branches.get(revision[len("refs/heads/") :])
        if revision.startswith("refs/tags/"):
            return self.tags.get(revision[len("refs/tags/") :])
        if revision.startswith("refs/convert/"):
            return self.converts.get(revision[len("refs/convert/") :])
        if revision.startswith("refs/pr/"):
            num = revision[len("refs/pr/") :]
            return self.pulls.get(int(num)) if num.isdigit() else None
        return self.branches.get(revision) or self.tags.get(revision)

    def resolve(self, revision: str | None) -> Commit | None:
        revision = revision or self.default_branch
        if SHA_RE.match(revision) and revision in self.commits:
            return self.commits[revision]
        sha = self.ref_sha(revision)
        return self.commits.get(sha) if sha else None

    def set_ref(self, revision: str, sha: str) -> None:
        if revision.startswith("refs/convert/"):
            self.converts[revision[len("refs/convert/") :]] = sha
        elif revision.startswith("refs/pr/"):
            self.pulls[int(revision[len("refs/pr/") :])] = sha
        elif revision.startswith("refs/tags/"):
            self.tags[revision[len("refs/tags/") :]] = sha
        else:
            self.branches[revision.removeprefix("refs/heads/")] = sha

    def commit(self, revision: str, files: Mapping[str, Blob], title: str) -> str:
        """Add a commit holding exactly ``files`` on ``revision`` and move the ref to it."""
        parent = self.ref_sha(revision)
        sha = commit_sha(self.repo_type, self.repo_id, revision, parent, files)
        date = FIRST_COMMIT_DATE + timedelta(minutes=len(self.commits))
        self.commits[sha] = Commit(sha, dict(files), title, date, parent)
        self.set_ref(revision, sha)
        return sha

    def refs(self, include_prs: bool = False) -> dict[str, list[dict[str, str]]]:
        def item(name: str, ref: str, sha: str) -> dict[str, str]:
            return {"name": name, "ref": ref, "targetCommit": sha}

        out = {
            "branches": [item(n, f"refs/heads/{n}", s) for n, s in self.branches.items()],
            "converts": [item(n, f"refs/convert/{n}", s) for n, s in self.converts.items()],
            "tags": [item(n, f"refs/tags/{n}", s) for n, s in self.tags.items()],
        }
        if include_prs:
            out["pullRequests"] = [item(f"refs/pr/{n}", f"refs/pr/{n}", s) for n, s in sorted(self.pulls.items())]
        return out

    def revisions(self) -> dict[str, str]:
        """Every ref as a revision string a client passes, mapped to its commit sha."""
        out = dict(self.tags)
        out.update(self.branches)
        out.update({f"refs/convert/{n}": s for n, s in self.converts.items()})
        out.update({f"refs/pr/{n}": s for n, s in self.pulls.items()})
        return out

    def info(self, commit: Commit, blobs: bool) -> dict[str, Any]:
        """The ``/api/datasets/{id}[/revision/{rev}]`` payload for ``commit``."""
        first = min(c.date for c in self.commits.values())
        payload: dict[str, Any] = {
            "_id": hashlib.sha1(f"{self.repo_type}/{self.repo_id}".encode()).hexdigest()[:24],
            "id": self.repo_id,
            "author": self.repo_id.split("/")[0] if "/" in self.repo_id else None,
            "sha": commit.sha,
            "lastModified": iso_date(commit.date),
            "createdAt": iso_date(first),
            "private": self.private,
            "gated": self.gated_value,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": commit.siblings(blobs),
            "usedStorage": sum({b.sha256: b.size for c in self.commits.values() for b in c.files.values()}.values()),
        }
        card = commit.card_data()
        if card is not None:
            payload["cardData"] = card
        return payload


class RepoStore:
    """Repos by ``(repo_type, repo_id)``; callers hold ``lock`` while reading or changing them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}

    def get(self, repo_type: str, repo_id: str) -> Repo | None:
        return self.repos.get((repo_type, repo_id))

    def exists(self, repo_type: str, repo_id: str) -> bool:
        return (repo_type, repo_id) in self.repos

    def find_blob(self, sha256: str) -> Blob | None:
        """Any stored LFS blob with this sha256 (what a CDN serves)."""
        for repo in self.repos.values():
            for commit in repo.commits.values():
                for blob in commit.files.values():
                    if blob.lfs and blob.sha256 == sha256:
                        return blob
        return None
