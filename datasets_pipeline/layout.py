"""Where materialized data lives: one root (a local folder or an fsspec URL) and every layer's paths under it.

:class:`DataLayout` is the single owner of locations: the Dagster IO manager, the assets and the
Python API (``load``, ``dataset_dict_path``) all ask it. The root is ``$DATASETS_PIPELINE_DATA``
(default ``./data``); a remote root is an fsspec URL such as ``s3://bucket/prefix``, reached with
``s3fs`` configured by the usual AWS variables (``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``, or a profile).

Layers on a remote root:

- ``raw``, ``cookbook`` (one Arrow file per split): written to a hidden temporary object, then
  copied onto the fixed key in one server-side copy (readers see the old object or the new one;
  reads are pinned to one ETag, so a replacement mid-read is an error, never a mix).
- ``dataset_dict`` (a folder per config): a new version prefix ``.<config>.<version id>/`` is written
  in full, then the pointer object ``<config>.pointer`` naming it is rewritten (one PUT).
- ``tokenized``, ``mixture``, ``sample``, ``tokenizer``: local roots only, refused up front
  (:class:`~datasets_pipeline.errors.UnsupportedStorageError`).

Local files are memory-mapped when read; remote ones are streamed through fsspec into an unlinked
local temporary file that is memory-mapped (bounded memory; see :func:`~.engine.ipc.read_table`).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import pyarrow as pa

from .engine.ipc import StagedFile, read_table, stage_batches
from .engine.versioned_dir import publish_dir, resolve_dir
from .errors import UnsafePathError
from .paths import (
    REMOTE_LAYERS,
    check_segment,
    data_root,
    is_remote,
    local_path,
    mixture_relpath,
    normalize_root,
    require_local,
    sample_relpath,
    split_relpath,
    tokenizer_relpath,
    tokenized_relpath,
)

T = TypeVar("T")

#: Read attempts of a remote file replaced while it was being read (its ETag changed).
REMOTE_READ_ATTEMPTS = 3


@dataclass(frozen=True)
class DataLayout:
    """A data root and the location of every layer's data under it."""

    root: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", normalize_root(self.root))

    @classmethod
    def from_env(cls) -> "DataLayout":
        """The layout of ``$DATASETS_PIPELINE_DATA`` (default ``./data``)."""
        return cls(data_root())

    @property
    def remote(self) -> bool:
        """True for an fsspec URL root (``s3://…``), False for a local folder."""
        return is_remote(self.root)

    # --- locations ---------------------------------------------------------------------------------

    def location(self, relpath: str) -> str:
        """``relpath`` under the root: a URL for a remote root, else a local path checked to stay inside."""
        if self.remote:
            if relpath.startswith("/") or ".." in relpath.split("/"):
                raise UnsafePathError(f"path {relpath!r} escapes the data root {self.root!r}")
            return f"{self.root}/{relpath}"
        return str(local_path(self.root, relpath))

    def require_local(self, layer: str, asset: str | None = None) -> None:
        """Refuse a remote root for a layer that is written to local files only (:data:`REMOTE_LAYERS`)."""
        if layer not in REMOTE_LAYERS:
            require_local(self.root, layer, asset)

    def split(self, layer: str, name: str, config: str, split: str) -> str:
        """The Arrow file of one split of ``layer/<name>``: ``<root>/<layer>/<name>/<config>/<split>.arrow``."""
        self.require_local(layer, f"{layer}/{name}")
        return self.location(split_relpath(layer, name, config, split))

    def tokenized(self, name: str, profile: str, config: str, split: str) -> str:
        """``<root>/tokenized/<name>/<profile>/<config>/<split>.arrow`` (local roots only)."""
        self.require_local("tokenized", f"tokenized/{name}")
        return self.location(tokenized_relpath(name, profile, config, split))

    def mixture(self, name: str, split: str) -> str:
        """``<root>/mixture/<name>/<split>.arrow`` (local roots only)."""
        self.require_local("mixture", f"mixture/{name}")
        return self.location(mixture_relpath(name, split))

    def sample(self, name: str, config: str, split: str) -> str:
        """``<root>/sample/<name>/<config>/<split>`` (a folder; local roots only)."""
        self.require_local("sample", f"sample/{name}")
        return self.location(sample_relpath(name, config, split))

    def tokenizer(self, profile: str) -> str:
        """``<root>/tokenizer/<profile>`` (a folder; local roots only)."""
        self.require_local("tokenizer", f"tokenizer/{profile}")
        return self.location(tokenizer_relpath(profile))

    def dataset_dict(self, name: str, config: str) -> str:
        """The published name of a DatasetDict config: ``<root>/dataset_dict/<name>/<config>``.

        Locally a symlink to the current version folder; remotely it does not exist as such: the
        pointer object ``<config>.pointer`` beside it names the version prefix (:meth:`resolve_dataset_dict`).
        """
        return self.location(f"dataset_dict/{check_segment(name)}/{check_segment(config, 'config')}")

    def resolve_dataset_dict(self, name: str, config: str) -> str | None:
        """The immutable version folder currently published for ``name``/``config`` (a local path or
        a URL), or None when nothing complete is published."""
        from .engine.hf_disk.folder import Folder

        published = self.dataset_dict(name, config)
        for _ in range(3):  # a publication may remove the resolved version between the two steps: resolve again
            folder = str(resolve_dir(published))
            if Folder(folder).exists("dataset_dict.json"):
                return folder
        return None

    # --- reading and writing -----------------------------------------------------------------------

    def read(self, location: str) -> pa.Table:
        """The Arrow IPC file at ``location``: memory-mapped when local; remotely streamed to a local
        spool file first (pinned to one object version; a file replaced mid-read is read again)."""
        if not self.remote:
            return read_table(location)
        for attempt in range(REMOTE_READ_ATTEMPTS):
            try:
                return read_table(location)
            except OSError as exc:  # s3fs's FileExpired (EBUSY): the object changed under the read
                if exc.errno != errno.EBUSY or attempt == REMOTE_READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def stage(self, location: str, batches: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema | None = None) -> StagedFile:
        """Write an Arrow file where readers cannot see it yet (:meth:`StagedFile.publish` moves it into place)."""
        return stage_batches(location, batches, schema)

    def publish_folder(self, target: str, write: Callable[[Path | str], T]) -> T:
        """Write a new version folder of ``target`` with ``write`` and switch readers to it atomically."""
        return publish_dir(target, write)

    # --- remote access -----------------------------------------------------------------------------

    def storage_options(self) -> dict[str, Any]:
        """fsspec ``storage_options`` that reach this root from the environment (for
        ``datasets.load_from_disk(url, storage_options=...)``); ``{}`` for a local root."""
        return storage_options(self.root)

    def filesystem(self) -> Any:
        """The fsspec filesystem of the root (``s3fs`` for ``s3://``)."""
        import fsspec

        return fsspec.core.url_to_fs(self.root)[0]


def storage_options(url: str) -> dict[str, Any]:
    """The fsspec options of ``url`` as the environment sets them: for ``s3://``, the endpoint
    (``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``), the keys and the region; ``{}`` otherwise.

    ``s3fs`` reads the same variables by itself; the explicit options are for tools that pass
    ``storage_options`` along (``datasets.load_from_disk``) and for other processes' configurations.
    """
    if not url.startswith(("s3://", "s3a://")):
        return {}
    options: dict[str, Any] = {}
    client: dict[str, Any] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        client["endpoint_url"] = endpoint
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        client["region_name"] = region
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        options["key"] = os.environ["AWS_ACCESS_KEY_ID"]
        options["secret"] = os.environ["AWS_SECRET_ACCESS_KEY"]
        if os.environ.get("AWS_SESSION_TOKEN"):
            options["token"] = os.environ["AWS_SESSION_TOKEN"]
    if client:
        options["client_kwargs"] = client
    return options
