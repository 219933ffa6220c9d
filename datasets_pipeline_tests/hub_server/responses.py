"""The loopback Hub's answers: a routed request in, a status, headers and body out."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from . import viewer
from .repos import Blob, Commit, Repo, RepoStore
from .routing import Route

ANONYMOUS, VALID, INVALID = "anonymous", "valid", "invalid"
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
EMPTY_HARNESS_REGISTRY = {"standardEnvVars": [], "harnesses": {}}
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
TRUE_VALUES = ("1", "true", "True")


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Request:
    """What the answer depends on, taken from one HTTP request."""

    method: str
    route: Route
    raw_path: str
    params: dict[str, list[str]]
    body: bytes
    content_type: str
    auth: str  # ANONYMOUS, VALID or INVALID
    range: str | None
    ignore_range: bool
    base_url: str
    cdn_url: str | None  # set in LFS redirect mode

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params.get(name)
        return values[-1] if values else default

    def flag(self, name: str) -> bool:
        return self.param(name, "") in TRUE_VALUES


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload, default=str).encode()
    return Reply(status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body)


def error_reply(status: int, code: str | None, message: str, headers: dict[str, str] | None = None) -> Reply:
    extra = {"X-Error-Message": message, **(headers or {})}
    if code:
        extra["X-Error-Code"] = code
    return json_reply(status, {"error": message}, extra)


def not_found_page() -> Reply:
    return json_reply(404, {"error": "Sorry, we can't find the page you are looking for."})


def respond(store: RepoStore, req: Request, page_size: int) -> Reply:
    """Answer ``req`` from ``store`` (the caller holds ``store.lock``)."""
    name = req.route.name
    allowed = {"paths_info": ("POST",)}.get(name, ("GET", "HEAD"))
    if name == "unknown":
        return not_found_page()
    if req.method not in allowed:
        return json_reply(405, {"error": f"Method {req.method} not allowed"}, {"Allow": ", ".join(allowed)})
    if name == "harnesses":
        return json_reply(200, EMPTY_HARNESS_REGISTRY)
    if name == "cdn":
        blob = store.find_blob(req.route.extra[0])
        return file_reply(req, blob, {}) if blob is not None else not_found_page()
    if name == "viewer":
        return viewer_reply(store, req)
    if req.auth == INVALID:
        return error_reply(401, None, INVALID_CREDENTIALS)
    repo = store.get(req.route.repo_type or "dataset", req.route.repo_id or "")
    denied = access_error(repo, req, download=name == "resolve")
    if denied is not None:
        return denied
    assert repo is not None
    if name == "refs":
        return json_reply(200, repo.refs(include_prs=req.flag("include_prs")))
    if name == "parquet_index":
        return parquet_index_reply(repo, req)
    commit = repo.resolve(req.route.revision)
    if commit is None:
        return error_reply(404, "RevisionNotFound", f"Invalid rev id: {req.route.revision}")
    if name == "info":
        return info_reply(repo, commit, req)
    if name == "tree":
        return tree_reply(commit, req, page_size)
    if name == "paths_info":
        return paths_info_reply(commit, req)
    return resolve_reply(repo, commit, req)


def repo_label(repo_type: str | None) -> str:
    return "dataset" if repo_type == "dataset" else "model"


def access_error(repo: Repo | None, req: Request, download: bool) -> Reply | None:
    """401/404 with the Hub's error codes for missing, private or (on downloads) gated repos."""
    if repo is None:
        return error_reply(404, "RepoNotFound", "Repository not found")
    if repo.private and req.auth != VALID:
        return error_reply(401, "RepoNotFound", "Repository not found")
    if download and repo.gated and req.auth != VALID:
        message = (
            f"Access to {repo_label(repo.repo_type)} {repo.repo_id} is restricted. "
            "You must have access to it and be authenticated to access it. Please log in."
        )
        return error_reply(401, "GatedRepo", message)
    return None


def info_reply(repo: Repo, commit: Commit, req: Request) -> Reply:
    payload = repo.info(commit, blobs=req.flag("blobs"))
    expand = [v for value in req.params.get("expand", []) for v in value.split(",") if v]
    if expand:
        payload = {k: v for k, v in payload.items() if k in ("_id", "id", *expand)}
    return json_reply(200, payload)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except ValueError:
        return None
    kind, _, value = text.partition(":")
    return int(value) if kind == "offset" and value.isdigit() else None


def tree_reply(commit: Commit, req: Request, page_size: int) -> Reply:
    path = req.route.path
    entries = commit.listing(path, recursive=req.flag("recursive"), expand=req.flag("expand"))
    if entries is None:
        return error_reply(404, "EntryNotFound", f'{path} does not exist on "{req.route.revision}"')
    offset = 0
    if (cursor := req.param("cursor")) is not None:
        decoded = decode_cursor(cursor)
        if decoded is None:
            return error_reply(400, None, "Invalid cursor")
        offset = decoded
    page = entries[offset : offset + page_size]
    headers = {}
    if offset + page_size < len(entries):
        params = {k: v for k, v in req.params.items() if k != "cursor"}
        params["cursor"] = [encode_cursor(offset + page_size)]
        headers["Link"] = f'<{req.base_url}{req.raw_path}?{urlencode(params, doseq=True)}>; rel="next"'
    return json_reply(200, page, headers)


def paths_info_reply(commit: Commit, req: Request) -> Reply:
    if req.content_type.startswith("application/json"):
        form = json.loads(req.body or b"{}")
        paths, expand = list(form.get("paths", [])), bool(form.get("expand", False))
    else:
        form = parse_qs(req.body.decode(), keep_blank_values=True)
        paths, expand = form.get("paths", []), form.get("expand", ["false"])[-1] in TRUE_VALUES
    entries = [commit.entry(p.strip("/"), expand=expand) for p in dict.fromkeys(paths)]
    return json_reply(200, [e for e in entries if e is not None])


def blob_headers(blob: Blob) -> dict[str, str]:
    headers = {"ETag": f'"{blob.etag}"', "Accept-Ranges": "bytes"}
    if blob.lfs:
        headers.update({"X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(blob.size)})
    return headers


def resolve_reply(repo: Repo, commit: Commit, req: Request) -> Reply:
    blob = commit.files.get(req.route.path)
    commit_header = {"X-Repo-Commit": commit.sha}
    if blob is None:
        message = f"Entry not found: {req.route.path} does not exist on {req.route.revision}"
        return error_reply(404, "EntryNotFound", message, commit_header)
    if blob.lfs and req.cdn_url is not None:
        location = f"{req.cdn_url}/cdn/{blob.sha256}"
        return Reply(302, {**commit_header, **blob_headers(blob), "Location": location})
    return file_reply(req, blob, commit_header)


def parse_range(header: str | None, total: int) -> tuple[int, int] | None | bool:
    """``(start, end)`` inclusive for a satisfiable single range, None to send the whole
    body (no or unsupported Range), False when it is unsatisfiable (416)."""
    if not header:
        return None
    match = RANGE_RE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        return (max(total - length, 0), total - 1) if length and total else False
    start = int(first)
    end = min(int(last), total - 1) if last else total - 1
    if start >= total or (last and int(last) < start):
        return False
    return start, end


def file_reply(req: Request, blob: Blob, headers: dict[str, str]) -> Reply:
    headers = {**headers, **blob_headers(blob), "Content-Type": "application/octet-stream"}
    span = None if req.ignore_range else parse_range(req.range, blob.size)
    if span is False:
        return Reply(416, {**headers, "Content-Range": f"bytes */{blob.size}"})
    if span is None:
        return Reply(200, headers, blob.data)
    start, end = span  # type: ignore[misc]
    return Reply(206, {**headers, "Content-Range": f"bytes {start}-{end}/{blob.size}"}, blob.data[start : end + 1])


def parquet_index_reply(repo: Repo, req: Request) -> Reply:
    convert = repo.resolve("refs/convert/parquet")
    narrow = req.route.extra
    if len(narrow) == 3:
        location = viewer.shard_redirect(repo.repo_id, convert, req.base_url, *narrow)
        if location is None:
            return error_reply(404, "EntryNotFound", "Parquet shard not found")
        return Reply(302, {"Location": location})
    if len(narrow) > 3:
        return not_found_page()
    payload = viewer.hub_parquet_index(repo.repo_id, convert, req.base_url, narrow)
    if payload is None:
        return error_reply(404, None, "Config or split not found in the parquet conversion")
    return json_reply(200, payload)


def viewer_reply(store: RepoStore, req: Request) -> Reply:
    dataset = req.param("dataset")
    if not dataset:
        return error_reply(422, "MissingRequiredParameter", "Parameter 'dataset' is required")
    repo = store.get("dataset", dataset)
    if repo is None or ((repo.private or repo.gated) and req.auth != VALID):
        message = (
            "The dataset does not exist, or is not accessible without authentication (private or gated). "
            "Please check the spelling of the dataset name or retry with authentication."
        )
        return error_reply(404, "DatasetNotFoundError", message)
    convert = repo.resolve("refs/convert/parquet")
    kind = req.route.extra[0]
    if kind == "is-valid":
        return json_reply(200, viewer.is_valid_payload(convert))
    if kind == "splits":
        return json_reply(200, viewer.splits_payload(dataset, convert))
    return json_reply(200, viewer.parquet_payload(dataset, convert, req.base_url, req.param("config")))

