"""A folder that is a local path or an fsspec URL, with the few file operations the layout needs."""

from __future__ import annotations

import json
import os
import posixpath
from typing import Any

import fsspec
import pyarrow as pa

from datasets_pipeline.engine.ipc import spool_remote
from datasets_pipeline.errors import FormatError


class Folder:
    """A local folder or an fsspec URL; files are named relative to it."""

    def __init__(self, path: str | os.PathLike) -> None:
        text = os.fspath(path)
        self.remote = "://" in text and not text.startswith("file://")
        if self.remote:
            self.fs, self.root = fsspec.core.url_to_fs(text)
            self.root = self.root.rstrip("/")
            self.url = self.fs.unstrip_protocol(self.root)
        else:
            self.root = text.removeprefix("file://")
            self.url = self.root

    def join(self, name: str) -> str:
        return posixpath.join(self.root, name) if self.remote else os.path.join(self.root, name)

    def child(self, name: str) -> "Folder":
        return Folder(posixpath.join(self.url, name) if self.remote else os.path.join(self.root, name))

    def makedirs(self) -> None:
        if self.remote:
            self.fs.makedirs(self.root, exist_ok=True)
        else:
            os.makedirs(self.root, exist_ok=True)

    def exists(self, name: str) -> bool:
        return self.fs.isfile(self.join(name)) if self.remote else os.path.isfile(self.join(name))

    def write_text(self, name: str, text: str) -> None:
        if self.remote:
            self.fs.pipe_file(self.join(name), text.encode("utf-8"))
        else:
            with open(self.join(name), "w", encoding="utf-8") as fh:
                fh.write(text)

    def read_json(self, name: str) -> Any:
        try:
            if self.remote:
                raw = self.fs.cat_file(self.join(name))
            else:
                with open(self.join(name), "rb") as fh:
                    raw = fh.read()
            return json.loads(raw)
        except FileNotFoundError:
            raise
        except ValueError as exc:
            raise FormatError(f"invalid JSON ({exc})", file=self.join(name)) from None

    def read_arrow(self, name: str) -> pa.Table:
        """An Arrow IPC stream (or file) as a table: memory-mapped locally; remotely streamed to a
        local spool file that is memory-mapped (:func:`~datasets_pipeline.engine.ipc.spool_remote`)."""
        if self.remote:
            source: Any = spool_remote(self.fs.unstrip_protocol(self.join(name)))
        else:
            source = pa.memory_map(self.join(name), "r")
        try:
            return read_ipc(source)
        except pa.ArrowInvalid as exc:
            raise FormatError(f"not an Arrow IPC stream ({exc})", file=self.join(name)) from None

    def listdir(self) -> list[str]:
        if self.remote:
            if not self.fs.exists(self.root):
                return []
            return [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self.root, detail=False)]
        return os.listdir(self.root) if os.path.isdir(self.root) else []

    def remove(self, name: str) -> None:
        if self.remote:
            self.fs.rm_file(self.join(name))
        else:
            os.remove(self.join(name))


def read_ipc(source: pa.NativeFile) -> pa.Table:
    magic = source.read(6)
    source.seek(0)
    if magic == b"ARROW1":
        return pa.ipc.open_file(source).read_all()
    return pa.ipc.open_stream(source).read_all()
