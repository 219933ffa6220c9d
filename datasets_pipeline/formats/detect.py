"""Which reader a file needs, from its name: format and compression suffix."""

from __future__ import annotations

from pathlib import PurePosixPath

from ..errors import FormatError

# Compression suffix -> pyarrow codec name. Streams are decompressed on the fly.
COMPRESSION_SUFFIXES: dict[str, str] = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}

# Data suffix -> format name.
FORMAT_SUFFIXES: dict[str, str] = {
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
}

FORMATS = ("parquet", "jsonl", "json", "csv", "tsv")


def split_compression(name: str) -> tuple[str, str | None]:
    """``"a/b.jsonl.gz"`` -> ``("a/b.jsonl", "gzip")``; names without a compression suffix -> ``(name, None)``."""
    suffix = PurePosixPath(name).suffix.lower()
    codec = COMPRESSION_SUFFIXES.get(suffix)
    if codec is None:
        return name, None
    return name[: -len(suffix)], codec


def detect_format(name: str) -> str:
    """The format of a data file by its name: ``"parquet"``, ``"jsonl"``, ``"json"``, ``"csv"`` or ``"tsv"``.

    A compression suffix (``.gz``, ``.zst``, ``.bz2``) after the format suffix is allowed
    (``test.jsonl.gz``). Raises :class:`FormatError` for anything else.
    """
    base, _ = split_compression(str(name))
    fmt = FORMAT_SUFFIXES.get(PurePosixPath(base).suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMAT_SUFFIXES))
        raise FormatError(
            f"unsupported data file type (known suffixes: {known}, optionally followed by "
            f"{', '.join(sorted(COMPRESSION_SUFFIXES))})",
            file=str(name),
        )
    return fmt
