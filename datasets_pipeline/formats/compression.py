"""Open a data file as a byte stream, decompressing gzip / zstd / bz2 on the fly."""

from __future__ import annotations

import os

import pyarrow as pa

from ..errors import FormatError


def open_input(path: str | os.PathLike, codec: str | None, *, name: str) -> pa.NativeFile:
    """A sequential byte stream over ``path``, decompressed with ``codec`` (a pyarrow codec name) if given.

    Multi-member gzip and multi-frame zstd files are read to their end. Decompression is
    streamed: memory stays at the codec's window plus the caller's read size.
    """
    try:
        if codec is not None and not pa.Codec.is_available(codec):
            raise FormatError(f"compression {codec!r} is not available in this pyarrow build", file=name)
        return pa.input_stream(os.fspath(path), compression=codec)
    except FileNotFoundError:
        raise FormatError("data file not found", file=name, hint=f"expected at {os.fspath(path)}") from None
    except (OSError, pa.ArrowException) as exc:
        raise FormatError(f"cannot open data file: {exc}", file=name) from None


def read_all(path: str | os.PathLike, codec: str | None, *, name: str) -> bytes:
    """The whole (decompressed) content of a file."""
    with open_input(path, codec, name=name) as stream:
        try:
            return stream.read()
        except (OSError, pa.ArrowException) as exc:
            raise FormatError(f"cannot decompress data file ({codec}): {exc}", file=name) from None
