"""HubServer: a loopback Hugging Face Hub for tests, driven by the real ``huggingface_hub`` client."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from email.message import Message
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .faults import Fault, FaultSet, RecordedRequest
from .handler import HubRequestHandler
from .repos import (
    LFS_MIN_SIZE,
    REPO_TYPES,
    Blob,
    FileContent,
    LfsRule,
    Repo,
    RepoStore,
    check_repo_path,
    is_lfs,
    make_blob,
    read_content,
)
from .responses import ANONYMOUS, INVALID, VALID, Reply, Request, respond
from .routing import route


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that can close its open keep-alive connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], hub: HubServer) -> None:
        self.hub = hub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, HubRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HubServer:
    """A Hugging Face Hub-compatible HTTP server on 127.0.0.1, with fault injection.

    ``token`` unlocks gated and private repos (None: any bearer token does; a wrong
    token gets the Hub's 401 "Invalid credentials"). ``page_size`` is the tree
    listing page size. With ``cdn_redirect`` LFS files are answered by a 302 to
    ``http://localhost:<port>/cdn/<sha256>``, a different origin. Files whose name
    ends in an LFS suffix or larger than ``lfs_min_size`` bytes are LFS files unless
    a call passes its own ``lfs`` rule.
    """

    def __init__(
        self,
        page_size: int = 50,
        token: str | None = "hf_test_token",
        *,
        cdn_redirect: bool = False,
        lfs_min_size: int = LFS_MIN_SIZE,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.token = token
        self.cdn_redirect = cdn_redirect
        self.lfs_min_size = lfs_min_size
        self.host = host
        self._port = port
        self.store = RepoStore()
        self.fault_set = FaultSet()
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._httpd: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> HubServer:
        if self._httpd is not None:
            return self
        self._httpd = LoopbackHTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (later requests are refused)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("HubServer is not started")
        return self._port

    @property
    def url(self) -> str:
        """The endpoint, ``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def cdn_url(self) -> str:
        """The other origin LFS redirects point at (same server, reached as ``localhost``)."""
        return f"http://localhost:{self.port}"

    # -- repos -------------------------------------------------------------------------

    def _blobs(self, files: Mapping[str, FileContent | None], lfs: LfsRule) -> dict[str, Blob | None]:
        out: dict[str, Blob | None] = {}
        for path, value in files.items():
            path = check_repo_path(path)
            if value is None:
                out[path] = None
                continue
            data = read_content(value)
            out[path] = make_blob(path, data, is_lfs(path, len(data), lfs, self.lfs_min_size))
        return out

    def _repo(self, repo_id: str, repo_type: str) -> Repo:
        repo = self.store.get(repo_type, repo_id)
        if repo is None:
            raise KeyError(f"no {repo_type} repo {repo_id!r} on this server")
        return repo

    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, FileContent],
        revision: str = "main",
        *,
        gated: bool | str = False,
        private: bool = False,
        repo_type: str = "dataset",
        lfs: LfsRule = None,
        message: str = "Initial commit",
    ) -> str:
        """Create a repo whose ``revision`` holds ``files`` (bytes, str or Path); return the commit sha."""
        if repo_type not in REPO_TYPES:
            raise ValueError(f"repo_type must be one of {REPO_TYPES}")
        check_repo_path(repo_id)
        if repo_id.count("/") > 1:
            raise ValueError(f"repo id must be 'name' or 'namespace/name': {repo_id!r}")
        blobs = self._blobs(files, lfs)
        with self.store.lock:
            if self.store.exists(repo_type, repo_id):
                raise ValueError(f"{repo_type} repo {repo_id!r} exists; use update_repo or add_revision")
            repo = Repo(repo_type, repo_id, gated=gated, private=private)
            sha = repo.commit(revision, blobs, message)  # type: ignore[arg-type]
            self.store.repos[(repo_type, repo_id)] = repo
        return sha

    def add_revision(
        self,
        repo_id: str,
        revision: str,
        files: Mapping[str, FileContent],
        *,
        repo_type: str = "dataset",
        lfs: LfsRule = None,
        message: str = "Update files",
    ) -> str:
        """Point ``revision`` (a branch, ``refs/convert/<name>``, ``refs/pr/<n>``) at a new commit
        holding exactly ``files``; return its sha."""
        blobs = self._blobs(files, lfs)
        with self.store.lock:
            return self._repo(repo_id, repo_type).commit(revision, blobs, message)  # type: ignore[arg-type]

    def update_repo(
        self,
        repo_id: str,
        files: Mapping[str, FileContent | None],
        revision: str = "main",
        *,
        replace: bool = False,
        repo_type: str = "dataset",
        lfs: LfsRule = None,
        message: str = "Update files",
    ) -> str:
        """Add a commit on ``revision``: ``files`` are added or overwritten (None deletes a
        path) on top of the current tree, or replace it with ``replace=True``. Earlier
        commits stay resolvable by sha. Returns the new sha."""
        blobs = self._blobs(files, lfs)
        with self.store.lock:
            repo = self._repo(repo_id, repo_type)
            current = repo.resolve(revision) if repo.ref_sha(revision) else None
            tree: dict[str, Blob] = dict(current.files) if current is not None and not replace else {}
            for path, blob in blobs.items():
                if blob is None:
                    tree.pop(path, None)
                else:
                    tree[path] = blob
            return repo.commit(revision, tree, message)

    def add_folder(
        self,
        repo_id: str,
        path: str | Path,
        revision: str = "main",
        *,
        repo_type: str = "dataset",
        lfs: LfsRule = None,
        gated: bool | str = False,
        private: bool = False,
    ) -> str:
        """Commit every file under the local folder ``path`` (creating the repo if needed)."""
        root = Path(path)
        if not root.is_dir():
            raise NotADirectoryError(str(root))
        files: dict[str, FileContent] = {
            p.relative_to(root).as_posix(): p
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts
        }
        with self.store.lock:
            if not self.store.exists(repo_type, repo_id):
                return self.add_repo(
                    repo_id, files, revision, gated=gated, private=private, repo_type=repo_type, lfs=lfs
                )
            return self.update_repo(repo_id, files, revision, repo_type=repo_type, lfs=lfs, message="Upload folder")

    def add_tag(self, repo_id: str, tag: str, revision: str, *, repo_type: str = "dataset") -> str:
        """Tag an existing commit (given by sha or by a ref); return its sha."""
        with self.store.lock:
            repo = self._repo(repo_id, repo_type)
            commit = repo.resolve(revision)
            if commit is None:
                raise KeyError(f"{revision!r} is not a commit or ref of {repo_id!r}")
            repo.tags[tag] = commit.sha
            return commit.sha

    def set_access(
        self, repo_id: str, *, gated: bool | str | None = None, private: bool | None = None, repo_type: str = "dataset"
    ) -> None:
        """Change a repo's gated (False, True/"auto", "manual") or private flag."""
        with self.store.lock:
            repo = self._repo(repo_id, repo_type)
            if gated is not None:
                repo.gated = gated
            if private is not None:
                repo.private = private

    def commits(self, repo_id: str, *, repo_type: str = "dataset") -> dict[str, str]:
        """Every ref of the repo (branch and tag names, ``refs/convert/...``, ``refs/pr/...``) → sha."""
        with self.store.lock:
            return self._repo(repo_id, repo_type).revisions()

    def file_bytes(self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "dataset") -> bytes:
        """The content of ``path`` at ``revision`` (a ref or commit sha)."""
        with self.store.lock:
            commit = self._repo(repo_id, repo_type).resolve(revision)
            if commit is None or path not in commit.files:
                raise KeyError(f"{path!r} not in {repo_id!r} at {revision!r}")
            return commit.files[path].data

    # -- faults and the request log ----------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        """Activate ``fault`` (after the ones already added); returns it for ``hits``."""
        return self.fault_set.add(fault)

    def clear_faults(self) -> None:
        self.fault_set.clear()

    @property
    def faults(self) -> list[Fault]:
        return self.fault_set.all()

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, in arrival order (a copy of the list)."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    # -- called by the request handler -------------------------------------------------

    def log_arrival(
        self, method: str, raw_path: str, query: str, headers: Message, fault: Fault | None
    ) -> RecordedRequest:
        record = RecordedRequest(
            method=method,
            path=raw_path,
            query=parse_qs(query, keep_blank_values=True),
            range=headers.get("Range"),
            headers={name.lower(): value for name, value in headers.items()},
            fault=fault,
        )
        with self._requests_lock:
            self._requests.append(record)
        return record

    def auth_state(self, authorization: str | None) -> str:
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token and (self.token is None or token == self.token):
            return VALID
        return INVALID

    def answer(
        self, method: str, raw_path: str, query: str, body: bytes, headers: Message, ignore_range: bool
    ) -> Reply:
        with self.store.lock:
            req = Request(
                method=method,
                route=route(raw_path, self.store.exists),
                raw_path=raw_path,
                params=parse_qs(query, keep_blank_values=True),
                body=body,
                content_type=headers.get("Content-Type", ""),
                auth=self.auth_state(headers.get("Authorization")),
                range=headers.get("Range"),
                ignore_range=ignore_range,
                base_url=self.url,
                cdn_url=self.cdn_url if self.cdn_redirect else None,
            )
            return respond(self.store, req, self.page_size)

