"""Atomic publication of a whole folder (a DatasetDict) under a fixed name.

A folder cannot be replaced by one rename, so each publication writes a new hidden *version
folder* beside the target and then switches a pointer to it in one atomic step:

- **symlink mode** (local filesystems that support symlinks, the default): ``<name>`` is a relative
  symlink to ``.<name>.<version-id>``; the switch is ``os.symlink`` to a temporary name followed by
  ``os.replace`` over ``<name>``. Tools that only know the path (``datasets.load_from_disk``) open
  ``<name>`` directly.
- **pointer mode** (fsspec remote roots such as ``s3://``, or local filesystems without symlinks):
  a small file ``<name>.pointer`` holds the version folder's name and is rewritten atomically
  (temporary file + rename locally, one object PUT remotely). ``<name>`` itself does not exist;
  :func:`resolve_dir` gives the folder to open.

Version ids are ``<16 hex digits of time_ns>-<8 random hex>``, so they sort by creation time.
On any error (or interrupt) while writing, the new version folder is removed and the published
one stays as it was.

A reader resolves the pointer once (:func:`resolve_dir`) and reads every file of that version, so
it never mixes files of two versions. Tools that only take a path (``datasets.load_from_disk``)
must be given the resolved version folder, not ``<name>``: they resolve a symlink once per file,
so a switch in between would mix versions.

**Retention.** A version folder is immutable and stays on disk for at least ``grace`` seconds
(:data:`DEFAULT_GRACE_SECONDS`, one hour; ``DATASETS_PIPELINE_VERSION_GRACE`` overrides it) after a
newer version replaced it, so a reader that resolved it just before a switch can still open it.
Each publication removes the versions replaced longer ago than that (locally: a version's
publication time is its folder's mtime, set at the switch). Files already opened or memory-mapped
stay readable after removal (POSIX keeps unlinked files alive). Remote targets (object storage)
keep the same grace, timed by the store's clock: the pointer object's modification time is the
publication time of the version it names, so each publication reads it before rewriting it and
removes the versions replaced at least ``grace`` seconds before. Objects being read when removed
fail the read (no POSIX unlink semantics): open a resolved version within the grace period.
One writer per target at a time is expected; the switch and
the cleanup hold a lock file ``.<name>.lock`` so that concurrent writers never publish a folder
another writer has removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable, Iterator, Literal, TypeVar

import fsspec

from datasets_pipeline.engine.ipc import atomic_local_file, fsync_dir
from datasets_pipeline.errors import DatasetsPipelineError
from datasets_pipeline.settings import number_from_env

T = TypeVar("T")
Mode = Literal["auto", "symlink", "pointer"]

POINTER_SUFFIX = ".pointer"
GRACE_ENV = "DATASETS_PIPELINE_VERSION_GRACE"
#: Seconds a replaced version stays readable by default.
DEFAULT_GRACE_SECONDS = 3600.0
_VERSION_ID = r"[0-9a-f]{16}-[0-9a-f]{8}"
_LEGACY_ID = "0000000000000000-00000000"  # a plain folder found at the target sorts oldest


def grace_seconds() -> float:
    """How long a replaced version is kept: ``DATASETS_PIPELINE_VERSION_GRACE`` seconds, else one hour."""
    return number_from_env(GRACE_ENV, DEFAULT_GRACE_SECONDS)


def new_version_id() -> str:
    """A fresh version id that sorts after every earlier one (``<time_ns hex>-<random hex>``)."""
    return f"{time.time_ns():016x}-{uuid.uuid4().hex[:8]}"


def version_name(name: str, version_id: str) -> str:
    """The hidden folder name of one version of ``name``."""
    return f".{name}.{version_id}"


def pointer_name(name: str) -> str:
    """The pointer file name of ``name`` (pointer mode)."""
    return f"{name}{POINTER_SUFFIX}"


def _version_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.({_VERSION_ID})")


def _is_remote(target: str | os.PathLike) -> bool:
    text = str(target)
    return "://" in text and not text.startswith("file://")


def _local(target: str | os.PathLike) -> Path:
    return Path(str(target).removeprefix("file://"))


# --- reading ---------------------------------------------------------------------------------------


def resolve_dir(target: str | os.PathLike) -> Path | str:
    """The folder currently published at ``target``: the pointer's version folder, the symlink's
    destination, or ``target`` itself for a plain folder. Remote targets give a URL string."""
    if _is_remote(target):
        fs, path = fsspec.core.url_to_fs(str(target))
        parent, name = path.rstrip("/").rsplit("/", 1)
        pointer = f"{parent}/{pointer_name(name)}"
        if fs.isfile(pointer):
            version = _checked_version(name, fs.cat_file(pointer).decode(), pointer)
            return fs.unstrip_protocol(f"{parent}/{version}")
        return str(target)
    path = _local(target)
    pointer = path.parent / pointer_name(path.name)
    if pointer.is_file():
        return path.parent / _checked_version(path.name, pointer.read_text(), str(pointer))
    if path.is_symlink():
        return path.parent / os.readlink(path)
    return path


def _checked_version(name: str, text: str, where: str) -> str:
    version = text.strip()
    if not _version_re(name).fullmatch(version):
        raise DatasetsPipelineError(f"pointer file holds {version!r}, not a version folder of {name!r}", file=where)
    return version


def list_versions(target: str | os.PathLike) -> list[str]:
    """Names of the version folders of ``target`` that exist, oldest first."""
    pattern = _version_re(_name_of(target))
    if _is_remote(target):
        fs, path = fsspec.core.url_to_fs(str(target))
        parent = path.rstrip("/").rsplit("/", 1)[0]
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(parent, detail=False)] if fs.exists(parent) else []
    else:
        parent_dir = _local(target).parent
        names = os.listdir(parent_dir) if parent_dir.is_dir() else []
    return sorted(n for n in names if pattern.fullmatch(n))


def _name_of(target: str | os.PathLike) -> str:
    return str(target).rstrip("/").rsplit("/", 1)[-1]


# --- publishing ---------------------------------------------------------------------------------------


def publish_dir(
    target: str | os.PathLike, write: Callable[[Path | str], T], *, mode: Mode = "auto", grace: float | None = None
) -> T:
    """Run ``write(folder)`` into a new version folder, then atomically publish it at ``target``.

    ``write`` receives a local :class:`~pathlib.Path` (or a URL string for a remote target) of an
    empty folder and returns anything; its result is returned. ``mode="auto"`` uses a symlink on
    local filesystems that support one (and keeps pointer mode once a pointer file exists), a pointer
    file otherwise. Versions replaced more than ``grace`` seconds ago (default :func:`grace_seconds`)
    are removed afterwards.
    """
    grace = grace_seconds() if grace is None else grace
    if _is_remote(target):
        return _publish_remote(str(target), write, grace)
    return _publish_local(_local(target), write, mode, grace)


def _publish_local(target: Path, write: Callable[[Path], T], mode: Mode, grace: float) -> T:
    parent, name = target.parent, target.name
    if not name or name in (".", ".."):
        raise DatasetsPipelineError(f"cannot publish a folder at {str(target)!r}")
    parent.mkdir(parents=True, exist_ok=True)
    pointer = parent / pointer_name(name)
    use_pointer = mode == "pointer" or (mode == "auto" and (pointer.exists() or not _symlinks_work(parent)))
    version = parent / version_name(name, new_version_id())
    version.mkdir()
    try:
        result = write(version)
        _fsync_tree(version)
        with _lock(parent / f".{name}.lock"):
            if not version.is_dir():
                raise DatasetsPipelineError(
                    "the new version folder was removed by a concurrent publication", file=str(version)
                )
            os.utime(version)  # its mtime is now its publication time (see _remove_replaced)
            if use_pointer:
                _switch_pointer(target, version.name)
            else:
                _switch_symlink(target, version.name)
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    with contextlib.suppress(OSError), _lock(parent / f".{name}.lock"):
        _remove_replaced(parent, name, version.name, grace)
    return result


def _symlinks_work(parent: Path) -> bool:
    probe = parent / f".symlink-probe-{uuid.uuid4().hex}"
    try:
        os.symlink(".", probe)
    except (OSError, NotImplementedError):
        return False
    probe.unlink()
    return True


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` (and ``folder`` itself) to disk."""
    for root, dirs, files in os.walk(folder):
        for fname in files:
            fd = os.open(os.path.join(root, fname), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)
    fsync_dir(folder.parent)


def _switch_symlink(target: Path, version: str) -> None:
    parent, name = target.parent, target.name
    if target.exists() and not target.is_symlink():
        if not target.is_dir():
            raise DatasetsPipelineError("the publication target exists and is not a folder", file=str(target))
        # A plain folder from before versioning: move it aside as the oldest version (brief gap).
        os.replace(target, parent / version_name(name, _LEGACY_ID))
    tmp = parent / f".{name}.tmp-{uuid.uuid4().hex}"
    os.symlink(version, tmp)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(parent)
    (parent / pointer_name(name)).unlink(missing_ok=True)


def _switch_pointer(target: Path, version: str) -> None:
    with atomic_local_file(target.parent / pointer_name(target.name)) as tmp:
        tmp.write_text(version + "\n")
    if target.is_symlink():
        target.unlink()


def _remove_replaced(parent: Path, name: str, current: str, grace: float, now: float | None = None) -> None:
    """Remove the versions older than ``current`` that were replaced more than ``grace`` seconds ago.

    A version was replaced when the next newer one was published (that folder's mtime).
    """
    now = time.time() if now is None else now
    pattern = _version_re(name)
    versions = sorted(entry for entry in os.listdir(parent) if pattern.fullmatch(entry) and entry <= current)
    for older, newer in zip(versions, versions[1:]):
        try:
            replaced_at = (parent / newer).stat().st_mtime
        except FileNotFoundError:
            continue
        if now - replaced_at > grace:
            shutil.rmtree(parent / older, ignore_errors=True)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (a no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _publish_remote(target: str, write: Callable[[str], T], grace: float) -> T:
    """Pointer mode on object storage: write ``.<name>.<version>/`` in full, then one PUT of ``<name>.pointer``."""
    fs, path = fsspec.core.url_to_fs(target)
    parent, name = path.rstrip("/").rsplit("/", 1)
    pointer = f"{parent}/{pointer_name(name)}"
    version = version_name(name, new_version_id())
    version_path = f"{parent}/{version}"
    fs.makedirs(version_path, exist_ok=True)
    try:
        result = write(fs.unstrip_protocol(version_path))
        fs.invalidate_cache(parent)
        previous, previous_at = _remote_pointer(fs, pointer, name)
        fs.pipe_file(pointer, (version + "\n").encode())
    except BaseException:
        with contextlib.suppress(OSError, FileNotFoundError):
            fs.rm(version_path, recursive=True)
        raise
    with contextlib.suppress(OSError, FileNotFoundError):
        _remove_replaced_remote(fs, parent, name, version, previous, previous_at, grace)
    return result


def _remote_pointer(fs: fsspec.AbstractFileSystem, pointer: str, name: str) -> tuple[str | None, float | None]:
    """The version a remote pointer names and when it was written (the store's clock), or ``(None, None)``.

    A pointer that names no version of ``name`` (damaged) counts as naming none: the new one replaces it.
    """
    try:
        text = fs.cat_file(pointer).decode(errors="replace")
        written = fs.modified(pointer).timestamp()
    except FileNotFoundError:
        return None, None
    version = text.strip()
    return (version if _version_re(name).fullmatch(version) else None), written


def _remove_replaced_remote(
    fs: fsspec.AbstractFileSystem, parent: str, name: str, current: str, previous: str | None, previous_at: float | None, grace: float
) -> None:
    """Remove the versions older than ``current`` replaced at least ``grace`` seconds ago.

    Times are the store's own (the pointer object's modification time). The version just replaced
    (``previous``) was replaced now: it goes only with ``grace == 0``. Every older one was replaced
    no later than ``previous`` was published (``previous_at``), so it goes once that is ``grace`` old.
    """
    fs.invalidate_cache(parent)
    now = fs.modified(f"{parent}/{pointer_name(name)}").timestamp()
    pattern = _version_re(name)
    for entry in fs.ls(parent, detail=False):
        base = entry.rstrip("/").rsplit("/", 1)[-1]
        if not pattern.fullmatch(base) or base >= current:
            continue
        replaced_at = now if base == previous else (previous_at if previous_at is not None else float("-inf"))
        if now - replaced_at >= grace:
            fs.rm(entry, recursive=True)
