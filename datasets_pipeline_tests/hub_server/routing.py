"""Maps a raw request path to a route.

The path is split on ``/`` before percent-decoding, so an encoded revision such
as ``refs%2Fconvert%2Fparquet`` stays one segment; the special refs
(``refs/convert/<name>``, ``refs/pr/<n>``) are also accepted unencoded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from .repos import SPECIAL_REF_RE

API_REPO_TYPES = {"datasets": "dataset", "models": "model"}
VIEWER_ROUTES = {"splits", "parquet", "is-valid"}
RESERVED_FIRST_SEGMENTS = {"api", "datasets", "spaces", "cdn", *VIEWER_ROUTES}


@dataclass(frozen=True)
class Route:
    """What a request asks for.

    ``name`` is one of: info, tree, paths_info, refs, resolve, parquet_index,
    harnesses, cdn, viewer, unknown.
    """

    name: str
    repo_type: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    path: str = ""
    extra: tuple[str, ...] = ()


UNKNOWN = Route("unknown")


def split_revision(segments: list[str]) -> tuple[str | None, list[str]]:
    """Take the revision off the front of raw path segments; return it and the rest."""
    if not segments or not segments[0]:
        return None, segments
    revision = unquote(segments[0])
    if revision == "refs" and len(segments) >= 3:
        candidate = "refs/" + unquote(segments[1]) + "/" + unquote(segments[2])
        if SPECIAL_REF_RE.match(candidate):
            return candidate, segments[3:]
    return revision, segments[1:]


def split_repo_id(segments: list[str], known: Callable[[str], bool]) -> tuple[str | None, list[str]]:
    """Take ``namespace/name`` (or a known one-segment id) off the front of the segments."""
    if len(segments) >= 2 and known(unquote(segments[0]) + "/" + unquote(segments[1])):
        return unquote(segments[0]) + "/" + unquote(segments[1]), segments[2:]
    if segments and known(unquote(segments[0])):
        return unquote(segments[0]), segments[1:]
    if len(segments) >= 2:
        return unquote(segments[0]) + "/" + unquote(segments[1]), segments[2:]
    return None, segments


def join_path(segments: list[str]) -> str:
    return unquote("/".join(segments)).strip("/")


def route(raw_path: str, known: Callable[[str, str], bool]) -> Route:
    """Route ``raw_path`` (no query string); ``known(repo_type, repo_id)`` says which repos exist."""
    segments = raw_path.lstrip("/").split("/")
    head = segments[0]
    if head == "api" and len(segments) >= 2:
        if segments[1] == "agent-harnesses" and len(segments) == 2:
            return Route("harnesses")
        repo_type = API_REPO_TYPES.get(segments[1])
        if repo_type is None:
            return UNKNOWN
        repo_id, rest = split_repo_id(segments[2:], lambda rid: known(repo_type, rid))
        if repo_id is None:
            return UNKNOWN
        return _api_route(repo_type, repo_id, rest)
    if head == "datasets":
        repo_id, rest = split_repo_id(segments[1:], lambda rid: known("dataset", rid))
        return _resolve_route("dataset", repo_id, rest)
    if head == "cdn" and len(segments) == 2:
        return Route("cdn", extra=(segments[1],))
    if head in VIEWER_ROUTES and len(segments) == 1:
        return Route("viewer", extra=(head,))
    if head not in RESERVED_FIRST_SEGMENTS:
        repo_id, rest = split_repo_id(segments, lambda rid: known("model", rid))
        return _resolve_route("model", repo_id, rest)
    return UNKNOWN


def _api_route(repo_type: str, repo_id: str, rest: list[str]) -> Route:
    if not rest or rest == [""]:
        return Route("info", repo_type, repo_id)
    action, rest = rest[0], rest[1:]
    if action in ("revision", "tree", "paths-info"):
        revision, rest = split_revision(rest)
        if revision is None:
            return UNKNOWN
        if action == "revision":
            return Route("info", repo_type, repo_id, revision) if not join_path(rest) else UNKNOWN
        if action == "tree":
            return Route("tree", repo_type, repo_id, revision, join_path(rest))
        return Route("paths_info", repo_type, repo_id, revision) if not join_path(rest) else UNKNOWN
    if action == "refs" and not rest:
        return Route("refs", repo_type, repo_id)
    if action == "parquet":
        return Route("parquet_index", repo_type, repo_id, extra=tuple(unquote(s) for s in rest if s))
    return UNKNOWN


def _resolve_route(repo_type: str, repo_id: str | None, rest: list[str]) -> Route:
    if repo_id is None or len(rest) < 2 or rest[0] != "resolve":
        return UNKNOWN
    revision, rest = split_revision(rest[1:])
    path = join_path(rest)
    if revision is None or not path:
        return UNKNOWN
    return Route("resolve", repo_type, repo_id, revision, path)
