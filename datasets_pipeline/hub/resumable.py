"""Downloads into the ``huggingface_hub`` cache that resume where a killed or failed one stopped.

What ``huggingface_hub`` 2.4 does: ``hf_hub_download`` writes each file to a process-unique
``blobs/<etag>.<8 hex>.incomplete`` and deletes it when the download fails; it resumes with a
``Range`` request only inside one call, after a dropped connection. A process killed mid-download
leaves its partial file behind for good, and the next download starts again from byte 0. Its GET
also retries 429 answers itself, sleeping whatever ``Retry-After`` asks (uncapped).

Here, under the same per-blob lock file as ``huggingface_hub`` (``.locks/<repo folder>/<etag>.lock``):

- a partial download is kept as ``blobs/<etag>.incomplete`` when the transfer fails (or the process
  dies), and the largest partial of that blob left by any earlier download (ours, or a killed
  ``hf_hub_download``'s ``<etag>.<8 hex>.incomplete``) is adopted; the others are deleted;
- the next download asks for the rest (``Range: bytes=<size>-``); a ``206`` answer starting there is
  appended, anything else (a ``200``: the server ignored the range) restarts the file from byte 0;
- a complete file becomes ``blobs/<etag>``, linked from ``snapshots/<commit>/<path>`` exactly as
  ``huggingface_hub`` lays out its cache (so its own readers find it).

Errors are raised as the client raises them (``hf_raise_for_status``), once: the caller's retrier
decides whether and when to try again. The caller verifies the bytes (sha256 / git sha1); a resumed
file with bad early bytes fails that check and is evicted, and the next attempt starts from zero.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Mapping

from huggingface_hub import constants
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import WeakFileLock, get_session, hf_raise_for_status

log = logging.getLogger("datasets_pipeline.hub")

INCOMPLETE = ".incomplete"


def cache_paths(
    cache_dir: str | os.PathLike, repo_id: str, revision: str, path: str, etag: str, repo_type: str = "dataset"
) -> tuple[Path, Path, Path]:
    """``(snapshot pointer, blob, lock file)`` of one file in the ``huggingface_hub`` cache layout."""
    folder = repo_folder_name(repo_id=repo_id, repo_type=repo_type)
    repo_dir = Path(cache_dir) / folder
    return (
        repo_dir / "snapshots" / revision / path,
        repo_dir / "blobs" / etag,
        Path(cache_dir) / ".locks" / folder / f"{etag}.lock",
    )


def adopt_partial(blob: Path) -> Path:
    """``<blob>.incomplete``, holding the largest partial download of ``blob`` left behind (others deleted)."""
    ours = blob.with_name(blob.name + INCOMPLETE)
    leftovers = [p for p in blob.parent.glob(f"{blob.name}*{INCOMPLETE}") if p.is_file()]
    if not leftovers:
        return ours
    best = max(leftovers, key=lambda p: p.stat().st_size)
    for other in leftovers:
        if other != best:
            other.unlink(missing_ok=True)
    if best != ours:
        os.replace(best, ours)
    return ours


def _range_start(content_range: str | None) -> int | None:
    """The first byte of ``Content-Range: bytes <start>-<end>/<total>``."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    start = content_range[6:].split("-", 1)[0].strip()
    return int(start) if start.isdigit() else None


def stream_to(partial: Path, url: str, headers: Mapping[str, str], expected_size: int | None) -> int:
    """Download ``url`` into ``partial``, resuming from its current size; returns the byte it resumed from."""
    have = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and have > expected_size:
        partial.unlink()
        have = 0
    if expected_size is not None and have == expected_size and have > 0:
        return have
    request_headers = dict(headers)
    if have:
        request_headers["Range"] = f"bytes={have}-"
    with get_session().stream(
        "GET", url, headers=request_headers, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT, follow_redirects=True
    ) as response:
        if response.status_code == 416 and have:  # the partial is not a prefix of this file
            partial.unlink(missing_ok=True)
            raise OSError(f"Consistency check failed: the server refused to resume {url} at byte {have}; restarting")
        hf_raise_for_status(response)
        resumed = have if response.status_code == 206 and _range_start(response.headers.get("Content-Range")) == have else 0
        if have and not resumed:
            log.info("%s: the server ignored the Range request; downloading the whole file again", url)
        with open(partial, "ab" if resumed else "wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
    size = partial.stat().st_size
    if expected_size is not None and size != expected_size:
        raise OSError(
            f"Consistency check failed: {url} should be {expected_size} bytes but {size} arrived; "
            "the partial file is kept and the next attempt resumes it"
        )
    return resumed


def fetch_to_cache(
    *,
    url: str,
    headers: Mapping[str, str],
    cache_dir: str | os.PathLike,
    repo_id: str,
    revision: str,
    path: str,
    etag: str,
    expected_size: int | None,
    repo_type: str = "dataset",
) -> Path:
    """The cached file of ``path`` at commit ``revision`` (a snapshot pointer), downloading it if needed."""
    pointer, blob, lock = cache_paths(cache_dir, repo_id, revision, path, etag, repo_type)
    if pointer.exists():
        return pointer
    lock.parent.mkdir(parents=True, exist_ok=True)
    blob.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(lock):
        if not blob.exists():
            partial = adopt_partial(blob)
            resumed = stream_to(partial, url, headers, expected_size)
            if resumed:
                log.info("%s: resumed a partial download at byte %d", url, resumed)
            os.chmod(partial, 0o644)
            os.replace(partial, blob)
        if not pointer.exists():
            link(blob, pointer)
    return pointer


def link(blob: Path, pointer: Path) -> None:
    """``pointer`` -> ``blob`` as a relative symlink (a copy where symlinks are not supported)."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_name(f".{pointer.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), tmp)
    except OSError:
        shutil.copyfile(blob, tmp)
    os.replace(tmp, pointer)
