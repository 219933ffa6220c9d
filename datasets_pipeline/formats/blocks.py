"""Newline-aligned blocks of a byte stream, with the 1-based line number each block starts at."""

from __future__ import annotations

import codecs
from typing import Iterator

import pyarrow as pa

from ..errors import FormatError

DEFAULT_BLOCK_BYTES = 8 << 20


def iter_line_blocks(
    stream: pa.NativeFile, *, name: str, block_size: int = DEFAULT_BLOCK_BYTES
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(first_line, block)``: each block holds whole lines (ends with ``\\n`` or at end of file).

    Blocks are about ``block_size`` bytes; a single line longer than that makes its block longer.
    A leading UTF-8 byte-order mark is dropped.
    """
    line = 1
    pieces: list[bytes] = []
    first = True
    while True:
        try:
            chunk = stream.read(block_size)
        except (OSError, pa.ArrowException) as exc:
            raise FormatError(f"cannot read or decompress data file near line {line}: {exc}", file=name) from None
        if first:
            first = False
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
        if not chunk:
            if pieces:
                tail = b"".join(pieces)
                if tail.strip():
                    yield line, tail
            return
        cut = chunk.rfind(b"\n")
        if cut < 0:
            pieces.append(chunk)
            continue
        pieces.append(chunk[: cut + 1])
        block = b"".join(pieces)
        pieces = [chunk[cut + 1 :]] if cut + 1 < len(chunk) else []
        yield line, block
        line += block.count(b"\n")
