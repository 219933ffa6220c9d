"""Tokenizer files -> :class:`Encoder`: batch encoding of text pieces into one flat id buffer.

Two formats: a ``tokenizers`` ``tokenizer.json`` and a SentencePiece ``.model``. Pieces are
encoded without special tokens added (``add_special_tokens=False``), as the cookbook's renderers
encode them, and come back as one int32 buffer plus per-piece lengths, so callers assemble
sequences with numpy offset arithmetic instead of per-token Python work.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..hub.checksum import sha256_of


@dataclass(frozen=True)
class Encoded:
    """Pieces encoded: ``ids[starts[i]:starts[i] + lengths[i]]`` are piece ``i``'s tokens."""

    ids: np.ndarray  # int32
    lengths: np.ndarray  # int64

    @property
    def starts(self) -> np.ndarray:
        out = np.zeros(len(self.lengths), dtype=np.int64)
        np.cumsum(self.lengths[:-1], out=out[1:])
        return out

    @classmethod
    def concat(cls, parts: Sequence["Encoded"]) -> "Encoded":
        if not parts:
            return cls(np.empty(0, np.int32), np.empty(0, np.int64))
        return cls(np.concatenate([p.ids for p in parts]), np.concatenate([p.lengths for p in parts]))


def _flatten(id_lists: Sequence[Sequence[int]]) -> Encoded:
    lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists))
    total = int(lengths.sum())
    ids = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int32, count=total)
    return Encoded(ids, lengths)


class Encoder:
    """Encodes text pieces with one tokenizer file; ``literal=True`` encodes special-token text
    inside the pieces as ordinary text (the cookbook's Qwen3 content encoding)."""

    format: str
    path: Path
    sha256: str

    def encode(self, pieces: Sequence[str], *, literal: bool = False) -> Encoded:  # pragma: no cover
        raise NotImplementedError

    def encode_one(self, text: str, *, literal: bool = False) -> list[int]:
        enc = self.encode([text], literal=literal)
        return enc.ids.tolist()

    @property
    def vocab_size(self) -> int:  # pragma: no cover
        raise NotImplementedError


class TokenizersEncoder(Encoder):
    """A ``tokenizers`` ``Tokenizer`` from a ``tokenizer.json``."""

    format = "tokenizers"

    def __init__(self, path: str | os.PathLike, sha256: str | None = None) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.sha256 = sha256 or sha256_of(self.path)
        self.tokenizer = Tokenizer.from_file(str(self.path))
        self._literal: object | None = None

    def _literal_tokenizer(self):
        if self._literal is None:
            from tokenizers import Tokenizer

            literal = Tokenizer.from_str(self.tokenizer.to_str())
            literal.encode_special_tokens = True
            self._literal = literal
        return self._literal

    def encode(self, pieces: Sequence[str], *, literal: bool = False) -> Encoded:
        tokenizer = self._literal_tokenizer() if literal else self.tokenizer
        if not isinstance(pieces, list):
            pieces = list(pieces)
        if not pieces:
            return Encoded(np.empty(0, np.int32), np.empty(0, np.int64))
        encodings = tokenizer.encode_batch_fast(pieces, add_special_tokens=False)
        return _flatten([e.ids for e in encodings])

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)


class SentencePieceEncoder(Encoder):
    """A SentencePiece ``.model``. Its user-defined symbols always match whole, so ``literal``
    has no effect (SentencePiece has no switch for it)."""

    format = "sentencepiece"

    def __init__(self, path: str | os.PathLike, sha256: str | None = None) -> None:
        import sentencepiece as spm

        self.path = Path(path)
        self.sha256 = sha256 or sha256_of(self.path)
        self.processor = spm.SentencePieceProcessor(model_file=str(self.path))

    def encode(self, pieces: Sequence[str], *, literal: bool = False) -> Encoded:
        if not isinstance(pieces, list):
            pieces = list(pieces)
        if not pieces:
            return Encoded(np.empty(0, np.int32), np.empty(0, np.int64))
        return _flatten(self.processor.encode(pieces, out_type=int))

    @property
    def vocab_size(self) -> int:
        return int(self.processor.get_piece_size())


def open_encoder(path: str | os.PathLike, sha256: str | None = None) -> Encoder:
    """The encoder for a ``.model`` (SentencePiece) or ``.json`` (``tokenizers``) file."""
    path = Path(path)
    if path.name.endswith(".model"):
        return SentencePieceEncoder(path, sha256)
    return TokenizersEncoder(path, sha256)
