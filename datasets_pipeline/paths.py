"""Where materialized data lives, and refusal of names that would escape it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import UnsafePathError, UnsupportedStorageError

DATA_ENV = "DATASETS_PIPELINE_DATA"
DEFAULT_DATA_DIR = "data"
#: Layers whose files may live under a remote (fsspec) root.
REMOTE_LAYERS = ("raw", "cookbook", "dataset_dict")
LAYERS = ("raw", "cookbook", "dataset_dict", "tokenized", "mixture", "sample", "tokenizer")

# A path segment we accept: no separators, no "..", no control characters, not empty.
_SEGMENT = re.compile(r"^(?!\.{1,2}$)[^/\\\x00-\x1f]+$")


def normalize_root(root: str | os.PathLike) -> str:
    """A URL without its trailing ``/``, or an absolute local path (``~`` expanded, ``file://`` removed)."""
    text = os.fspath(root)
    if is_remote(text):
        return text.rstrip("/")
    return os.path.abspath(Path(text.removeprefix("file://")).expanduser())


def data_root() -> str:
    """The root folder (or fsspec URL) of materialized data: ``$DATASETS_PIPELINE_DATA`` or ``./data``."""
    return normalize_root(os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR)


def is_remote(root: str) -> bool:
    """True for an fsspec URL other than ``file://``."""
    return "://" in root and not root.startswith("file://")


def check_segment(value: str, what: str = "name") -> str:
    """Return ``value`` if it is one safe path segment, else raise :class:`UnsafePathError`."""
    if not isinstance(value, str) or not _SEGMENT.match(value) or value.startswith(("~",)):
        raise UnsafePathError(
            f"{what} {value!r} is not a safe path segment (no '/', '\\', '..', absolute paths or control characters)"
        )
    return value


def check_partition_key(key: str) -> tuple[str, str]:
    """Split a ``"<config>/<split>"`` partition key into its two safe segments."""
    parts = key.split("/") if isinstance(key, str) else []
    if len(parts) != 2:
        raise UnsafePathError(f"partition key {key!r} must be '<config>/<split>'")
    return check_segment(parts[0], "config"), check_segment(parts[1], "split")


def split_relpath(layer: str, name: str, config: str, split: str) -> str:
    """Relative path of one materialized split: ``<layer>/<name>/<config>/<split>.arrow``."""
    if layer not in LAYERS:
        raise UnsafePathError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    for value, what in ((name, "dataset name"), (config, "config"), (split, "split")):
        check_segment(value, what)
    return f"{layer}/{name}/{config}/{split}.arrow"


def tokenized_relpath(name: str, profile: str, config: str, split: str) -> str:
    """Relative path of one tokenized split: ``tokenized/<name>/<profile>/<config>/<split>.arrow``."""
    check_segment(profile, "profile")
    return f"tokenized/{name}/{profile}/{split_relpath('tokenized', name, config, split).split('/', 2)[2]}"


def tokenizer_relpath(profile: str, sha256: str | None = None, file: str | None = None) -> str:
    """``tokenizer/<profile>``, or one stored file of it: ``tokenizer/<profile>/<sha256>/<file>``."""
    check_segment(profile, "profile")
    if sha256 is None:
        return f"tokenizer/{profile}"
    return f"tokenizer/{profile}/{check_segment(sha256, 'sha256')}/{check_segment(file or '', 'tokenizer file')}"


def sample_relpath(name: str, config: str, split: str) -> str:
    """Relative folder of one sampled split: ``sample/<name>/<config>/<split>`` (``manifest.arrow``, ``manifest.meta.json``)."""
    return split_relpath("sample", name, config, split).removesuffix(".arrow")


def require_local(root: str, layer: str, asset: str | None = None) -> None:
    """Refuse a remote data root for a layer that writes local files only."""
    if is_remote(root):
        raise UnsupportedStorageError(
            f"{asset or layer}: the {layer} layer needs a local DATASETS_PIPELINE_DATA folder, not {root}; "
            f"a remote root is supported by the layers {', '.join(REMOTE_LAYERS)}"
        )


def mixture_relpath(name: str, split: str) -> str:
    """Relative path of one split of a mixture: ``mixture/<name>/<split>.arrow``."""
    check_segment(name, "mixture name")
    check_segment(split, "split")
    return f"mixture/{name}/{split}.arrow"


def partition_relpath(asset: str, partition: str) -> str:
    """Relative path of one partition of a file asset (``"<layer>/<name>"``).

    ``tokenized/<name>`` partitions read ``"<profile>|<config>/<split>"`` (:func:`tokenized_relpath`),
    the other layers' ``"<config>/<split>"`` (:func:`split_relpath`).
    """
    layer, _, name = asset.partition("/")
    if layer == "tokenized":
        profile, sep, key = partition.partition("|")
        if not sep:
            raise UnsafePathError(f"partition key {partition!r} of {asset} must be '<profile>|<config>/<split>'")
        return tokenized_relpath(name, profile, *check_partition_key(key))
    return split_relpath(layer, name, *check_partition_key(partition))


def local_path(root: str, relpath: str) -> Path:
    """Join a relative data path under a local root and make sure it stays inside.

    The check is on the normalized text (``..`` segments, absolute parts), so links inside the data
    folder (a DatasetDict's current-version symlink) are kept as links, not followed.
    """
    base = Path(os.path.abspath(root.removeprefix("file://")))
    path = Path(os.path.normpath(base / relpath))
    if Path(relpath).is_absolute() or (base != path and base not in path.parents):
        raise UnsafePathError(f"path {relpath!r} escapes the data folder {str(base)!r}")
    return path
