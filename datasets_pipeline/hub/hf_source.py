"""The Hugging Face Hub as a :class:`~datasets_pipeline.hub.source.Source`, through ``huggingface_hub``.

Every call pins the requested revision to its commit sha first (``dataset_info(revision=...).sha``,
which also carries the card's YAML as ``cardData``) and lists and downloads by that sha only, so a
branch moving mid-run cannot mix two commits. Split files come from the card's ``configs``, else
from the ``refs/convert/parquet`` branch (pinned through ``list_repo_refs``). Each download is
verified: sha256 and size against the tree's ``lfs`` entry for LFS files, git blob sha1 otherwise;
a mismatching cached copy is deleted and downloaded once more before :class:`ChecksumMismatch`.
Files are downloaded into the ``huggingface_hub`` cache layout by :mod:`.resumable`, which resumes
a partial download left by a failed attempt or a killed process with a ``Range`` request.

Endpoint, token and cache folder are passed explicitly to every client call (the library reads its
environment only at import). The token is cleaned as ``huggingface_hub`` cleans ``HF_TOKEN`` (line
breaks removed, surrounding whitespace stripped, empty means none) and never appears in errors or
logs, in any form (see :func:`~datasets_pipeline.hub.retry.scrub`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import quote

from huggingface_hub import HfApi
from huggingface_hub.utils import build_hf_headers
from huggingface_hub.errors import RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile

from .. import __version__
from ..errors import ChecksumMismatch, DatasetsPipelineError, SourceError
from ..settings import number_from_env
from .card import card_layout
from .checksum import Digest, file_digest
from .hf_errors import translate
from .layout import Layout, merge_splits, parquet_branch_layout, split_not_found
from .resumable import fetch_to_cache
from .retry import MAX_TOTAL_WAIT, Retrier, default_sleep, safe_cause
from .source import SourceFile, SplitFiles

T = TypeVar("T")
log = logging.getLogger("datasets_pipeline.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
PARQUET_REF = "refs/convert/parquet"
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_CHECKSUM_TRIES = 2  # a mismatching copy is evicted and downloaded once more
MAX_WAIT_ENV = "DATASETS_PIPELINE_HUB_MAX_WAIT"


def clean_token(token: str | None) -> str | None:
    """``token`` as ``huggingface_hub`` uses ``HF_TOKEN``: ``\\r``/``\\n`` removed, surrounding
    whitespace stripped, None when nothing is left (a token pasted from a file ends in a newline)."""
    if token is None:
        return None
    return token.replace("\r", "").replace("\n", "").strip() or None


def max_wait_from_env() -> float:
    """The total retry wait per step: ``DATASETS_PIPELINE_HUB_MAX_WAIT`` seconds, else :data:`MAX_TOTAL_WAIT`."""
    return number_from_env(MAX_WAIT_ENV, MAX_TOTAL_WAIT)


@dataclass(frozen=True)
class TreeFile:
    """A file of a commit's tree, with what its content must hash to."""

    path: str
    size: int
    oid: str  # git blob sha1 (of the LFS pointer for LFS files)
    lfs_sha256: str | None = None
    lfs_size: int | None = None

    @classmethod
    def of(cls, entry: RepoFile) -> "TreeFile":
        lfs = entry.lfs
        return cls(entry.path, entry.size, entry.blob_id, lfs.sha256 if lfs else None, lfs.size if lfs else None)

    @property
    def etag(self) -> str:
        """What the Hub's ETag (and the cache's blob name) is for this file: sha256 for LFS, else git sha1."""
        return self.lfs_sha256 if self.lfs_sha256 is not None else self.oid

    @property
    def expected_size(self) -> int:
        return self.lfs_size if self.lfs_sha256 is not None and self.lfs_size is not None else self.size

    def mismatch(self, digest: Digest) -> tuple[str, str, str] | None:
        """``(what, expected, actual)`` when ``digest`` is not this file's content, else None."""
        if self.lfs_sha256 is not None:
            if digest.sha256 != self.lfs_sha256:
                return "sha256", self.lfs_sha256, digest.sha256
            expected_size = self.lfs_size if self.lfs_size is not None else self.size
        else:
            if digest.git_sha1 != self.oid:
                return "git blob sha1", self.oid, digest.git_sha1
            expected_size = self.size
        if digest.size != expected_size:
            return "size", str(expected_size), str(digest.size)
        return None


def _default_cache_dir() -> str:
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return os.environ.get("HF_HUB_CACHE") or os.path.join(os.path.expanduser(hf_home), "hub")


class HubSource:
    """Dataset repos on the Hugging Face Hub (or any endpoint speaking its API)."""

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        cache_dir: str | None = None,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = default_sleep,
        max_workers: int = 4,
        max_total_wait: float = MAX_TOTAL_WAIT,
    ) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._token = clean_token(token)
        self.cache_dir = str(cache_dir) if cache_dir is not None else _default_cache_dir()
        self.max_workers = max(1, max_workers)
        self._retrier = Retrier(
            max_attempts, backoff, max_backoff, sleep, secret=self._token, max_total_wait=max_total_wait
        )
        self._api = HfApi(
            endpoint=self.endpoint,
            token=self._token or False,
            library_name="datasets_pipeline",
            library_version=__version__,
        )
        self._trees: dict[tuple[str, str], dict[str, TreeFile]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, **kwargs: Any) -> "HubSource":
        """A source configured from ``HF_ENDPOINT``, ``HF_TOKEN`` and ``HF_HOME`` (cache ``$HF_HOME/hub``,
        or ``HF_HUB_CACHE``) and ``DATASETS_PIPELINE_HUB_MAX_WAIT``, read now rather than at import."""
        kwargs.setdefault("max_total_wait", max_wait_from_env())
        return cls(
            endpoint=os.environ.get("HF_ENDPOINT") or None,
            token=os.environ.get("HF_TOKEN") or None,
            cache_dir=_default_cache_dir(),
            **kwargs,
        )

    @property
    def token(self) -> str | None:
        """The token sent to the Hub (never shown in ``repr``, errors or logs)."""
        return self._token

    @property
    def max_total_wait(self) -> float:
        """Seconds this source may wait between retries in total (one step of a run)."""
        return self._retrier.max_total_wait

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def __repr__(self) -> str:
        token = "set" if self._token else "none"
        return f"HubSource(endpoint={self.endpoint!r}, cache_dir={self.cache_dir!r}, token={token})"

    # --- guarded calls ---------------------------------------------------------------------

    def _guard(self, fn: Callable[[], T], *, what: str, repo_id: str, **where: Any) -> T:
        """``fn()`` with retries; any failure becomes a project error without the token."""
        try:
            return self._retrier.call(fn, what=what)
        except DatasetsPipelineError as exc:
            raise exc.with_context(**{k: v for k, v in where.items() if k in ("file", "config", "split")})
        except Exception as exc:
            refs_hint = self._refs_hint(repo_id) if isinstance(exc, RevisionNotFoundError) else None
            error = translate(
                exc, repo_id=repo_id, endpoint=self.endpoint, token=self._token, refs_hint=refs_hint, **where
            )
            raise error from safe_cause(exc, self._token)

    def _api_url(self, repo_id: str, tail: str) -> str:
        return f"{self.endpoint}/api/datasets/{repo_id}/{tail}"

    def _refs_hint(self, repo_id: str) -> str | None:
        """``"branches: main; tags: v1"`` for an error message (best effort, one attempt)."""
        try:
            refs = self._api.list_repo_refs(repo_id, repo_type="dataset")
        except Exception:
            return None
        parts = [f"branches: {', '.join(r.name for r in refs.branches) or 'none'}"]
        if refs.tags:
            parts.append(f"tags: {', '.join(r.name for r in refs.tags)}")
        return "; ".join(parts)

    def _info(self, repo_id: str, revision: str) -> tuple[str, dict[str, Any]]:
        """``(commit sha, card YAML)`` of ``revision``, from one ``dataset_info`` call."""
        info = self._guard(
            lambda: self._api.dataset_info(repo_id, revision=revision),
            what=f"GET {self._api_url(repo_id, 'revision/' + quote(revision, safe=''))}",
            repo_id=repo_id,
            revision=revision,
        )
        sha = getattr(info, "sha", None)
        if not isinstance(sha, str) or not SHA_RE.match(sha):
            raise SourceError(f"the Hub did not report a commit sha for {repo_id!r} at {revision!r} (got {sha!r})")
        card = info.card_data.to_dict() if getattr(info, "card_data", None) is not None else {}
        return sha, card

    def _tree(self, repo_id: str, sha: str) -> dict[str, TreeFile]:
        """Every file of commit ``sha`` (cached: a commit never changes)."""
        key = (repo_id, sha)
        with self._lock:
            cached = self._trees.get(key)
        if cached is not None:
            return cached

        def listing() -> dict[str, TreeFile]:
            entries = self._api.list_repo_tree(repo_id, repo_type="dataset", revision=sha, recursive=True)
            return {e.path: TreeFile.of(e) for e in entries if isinstance(e, RepoFile)}

        tree = self._guard(
            listing, what=f"GET {self._api_url(repo_id, 'tree/' + sha)}", repo_id=repo_id, revision=sha
        )
        with self._lock:
            self._trees[key] = tree
        return tree

    def _parquet_sha(self, repo_id: str) -> str | None:
        """The commit ``refs/convert/parquet`` points at now, or None when the repo has no conversion."""
        refs = self._guard(
            lambda: self._api.list_repo_refs(repo_id, repo_type="dataset"),
            what=f"GET {self._api_url(repo_id, 'refs')}",
            repo_id=repo_id,
        )
        return next((r.target_commit for r in refs.converts if r.ref == PARQUET_REF), None)

    # --- Source ----------------------------------------------------------------------------

    def resolve_revision(self, repo_id: str, revision: str = "main") -> str:
        """The commit sha ``revision`` (branch, tag or sha) points at."""
        return self._info(repo_id, revision)[0]

    def _card_layout(self, repo_id: str, sha: str, card: Mapping[str, Any]) -> tuple[dict[str, TreeFile], Layout]:
        """The commit's files, and config -> split -> files by the card's rules."""
        tree = self._tree(repo_id, sha)
        try:
            return tree, card_layout(card, list(tree))
        except DatasetsPipelineError as exc:
            raise exc.with_context(file="README.md")

    def _branch_layout(self, repo_id: str) -> tuple[str | None, dict[str, TreeFile], Layout]:
        """The parquet branch's commit, files, and config -> split -> shards (all empty without a branch)."""
        branch_sha = self._parquet_sha(repo_id)
        if branch_sha is None:
            return None, {}, {}
        tree = self._tree(repo_id, branch_sha)
        return branch_sha, tree, parquet_branch_layout(list(tree))

    def list_splits(self, repo_id: str, revision: str = "main") -> dict[str, list[str]]:
        """Config -> splits with data files: the card's, then those only the parquet branch has."""
        sha, card = self._info(repo_id, revision)
        _, from_card = self._card_layout(repo_id, sha, card)
        return merge_splits(from_card, self._branch_layout(repo_id)[2])

    def fetch_split(self, repo_id: str, config: str, split: str, revision: str = "main") -> SplitFiles:
        """Pin ``revision``, find the split's files (card, else parquet branch), download and verify them."""
        sha, card = self._info(repo_id, revision)
        tree, from_card = self._card_layout(repo_id, sha, card)
        paths = from_card.get(config, {}).get(split)
        if paths:
            origin, file_revision, entries = "card", sha, [tree[p] for p in paths]
        else:
            branch_sha, branch_tree, from_branch = self._branch_layout(repo_id)
            paths = from_branch.get(config, {}).get(split)
            if not paths or branch_sha is None:
                raise split_not_found(
                    f"dataset repo {repo_id!r} at {revision} ({sha[:12]})", card, list(tree), config, split, from_card, from_branch
                )
            origin, file_revision, entries = "parquet-branch", branch_sha, [branch_tree[p] for p in paths]
        files = self._download_all(repo_id, file_revision, entries, config=config, split=split)
        log.info(
            "fetched %s %s/%s at %s: %d file(s), %d bytes (%s)",
            repo_id, config, split, file_revision[:12], len(files), sum(f.size for f in files), origin,
        )
        return SplitFiles(repo_id, config, split, revision, sha, origin, tuple(files))

    # --- downloads -------------------------------------------------------------------------

    def _download_all(
        self, repo_id: str, revision: str, entries: list[TreeFile], *, config: str, split: str
    ) -> list[SourceFile]:
        def one(entry: TreeFile) -> SourceFile:
            return self.download(repo_id, entry, revision, config=config, split=split)

        if len(entries) == 1 or self.max_workers == 1:
            return [one(e) for e in entries]
        workers = min(self.max_workers, len(entries))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hub-download") as pool:
            return list(pool.map(one, entries))

    def download(
        self,
        repo_id: str,
        entry: TreeFile,
        revision: str,
        *,
        config: str | None = None,
        split: str | None = None,
        repo_type: str = "dataset",
    ) -> SourceFile:
        """Download one file at commit ``revision`` into the cache and verify it against its tree entry."""
        prefix = "datasets/" if repo_type == "dataset" else ""
        url = f"{self.endpoint}/{prefix}{repo_id}/resolve/{revision}/{quote(entry.path)}"

        def fetch() -> str:
            headers = build_hf_headers(
                token=self._token or False, library_name="datasets_pipeline", library_version=__version__
            )
            return str(
                fetch_to_cache(
                    url=url,
                    headers=headers,
                    cache_dir=self.cache_dir,
                    repo_id=repo_id,
                    revision=revision,
                    path=entry.path,
                    etag=entry.etag,
                    expected_size=entry.expected_size,
                    repo_type=repo_type,
                )
            )

        problem: tuple[str, str, str] | None = None
        for attempt in range(1, _CHECKSUM_TRIES + 1):
            local = self._guard(
                fetch,
                what=f"download of {url}",
                repo_id=repo_id,
                revision=revision,
                file=entry.path,
                config=config,
                split=split,
            )
            digest = file_digest(local)
            problem = entry.mismatch(digest)
            if problem is None:
                return SourceFile(entry.path, Path(local), digest.size, digest.sha256, revision)
            evict_cached(local)
            log.warning(
                "%s: %s of the downloaded copy is %s, expected %s; deleted it from the cache%s",
                url, problem[0], problem[2], problem[1], ", downloading again" if attempt < _CHECKSUM_TRIES else "",
            )
        assert problem is not None
        what, expected, actual = problem
        raise ChecksumMismatch(
            f"{repo_id}: {entry.path} at {revision} has {what} {actual}, expected {expected}",
            file=entry.path,
            config=config,
            split=split,
            hint="the corrupt copy was removed from the cache; retry, and report it if it persists",
        )

    def fetch_file(self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model") -> SourceFile:
        """One file of any repo (a model's ``tokenizer.json``): pin ``revision`` to its commit sha,
        look the file up at that commit, download and verify it as :meth:`download` does."""
        try:
            return self._fetch_file(repo_id, path, revision, repo_type)
        except DatasetsPipelineError as exc:
            if repo_type != "dataset":  # the error texts are written for dataset repos
                exc.reason = exc.reason.replace("dataset repo", f"{repo_type} repo")
                if exc.hint:
                    exc.hint = exc.hint.replace(f"{self.endpoint}/datasets/", f"{self.endpoint}/")
                exc.args = (str(exc),)
            raise

    def _fetch_file(self, repo_id: str, path: str, revision: str, repo_type: str) -> SourceFile:
        what = f"GET {self.endpoint}/api/{repo_type}s/{repo_id}/revision/{quote(revision, safe='')}"
        info = self._guard(
            lambda: self._api.repo_info(repo_id, repo_type=repo_type, revision=revision),
            what=what, repo_id=repo_id, revision=revision,
        )
        sha = getattr(info, "sha", None)
        if not isinstance(sha, str) or not SHA_RE.match(sha):
            raise SourceError(f"the Hub did not report a commit sha for {repo_id!r} at {revision!r} (got {sha!r})")
        entries = self._guard(
            lambda: self._api.get_paths_info(repo_id, [path], repo_type=repo_type, revision=sha),
            what=f"POST {self.endpoint}/api/{repo_type}s/{repo_id}/paths-info/{sha}",
            repo_id=repo_id, revision=sha, file=path,
        )
        files = [e for e in entries if isinstance(e, RepoFile) and e.path == path]
        if not files:
            raise SourceError(f"{repo_type} repo {repo_id!r} at {revision} ({sha[:12]}) has no file {path!r}", file=path)
        return self.download(repo_id, TreeFile.of(files[0]), sha, repo_type=repo_type)


def evict_cached(local: str | os.PathLike) -> None:
    """Remove a cached file: the snapshot entry and the blob it points at."""
    path = Path(local)
    targets = [path.resolve(), path] if path.is_symlink() else [path]
    for target in targets:
        try:
            target.unlink()
        except FileNotFoundError:
            pass
