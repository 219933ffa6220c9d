"""Tokenizers the pipeline trains itself (the offline default): ``tokenizers`` BPE or Unigram
over bytes, or a SentencePiece Unigram model with byte fallback.

Training reads texts in the order given. BPE and SentencePiece (one thread, no sampling of the
input) give the same file for the same corpus and
:class:`~datasets_pipeline.tokenize.profiles.TrainSpec`, so the file's sha256 — and the profile's
artifact hash — is stable across runs. The ``tokenizers`` Unigram trainer is not bit-reproducible
(its scores are summed in a varying order), so a retrained Unigram file gets a new hash.
``byte_fallback`` applies to SentencePiece; the ``tokenizers`` models start from all 256 bytes.
"""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path
from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from ..engine.ipc import atomic_local_file
from ..hub.checksum import sha256_of
from .profiles import TrainSpec


def trained_file_name(spec: TrainSpec) -> str:
    """``tokenizer.model`` for SentencePiece, else ``tokenizer.json``."""
    return "tokenizer.model" if spec.algorithm == "sentencepiece_unigram" else "tokenizer.json"


def _limited(texts: Iterable[str], spec: TrainSpec) -> Iterator[str]:
    items = (t for t in texts if t)
    return itertools.islice(items, spec.max_texts) if spec.max_texts is not None else iter(items)


def train_tokenizer(spec: TrainSpec, texts: Iterable[str], path: str | os.PathLike) -> str:
    """Train a tokenizer on ``texts`` as ``spec`` says, write it atomically to ``path``; return its sha256."""
    target = Path(path)
    with atomic_local_file(target, durable=False) as tmp:
        if spec.algorithm == "sentencepiece_unigram":
            tmp.write_bytes(_train_sentencepiece(spec, _limited(texts, spec)))
        else:
            _train_tokenizers(spec, _limited(texts, spec)).save(str(tmp))
    return sha256_of(target)


def _train_tokenizers(spec: TrainSpec, texts: Iterator[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if spec.algorithm == "bpe":
        tokenizer = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(
            vocab_size=spec.vocab_size,
            min_frequency=spec.min_frequency,
            special_tokens=list(spec.special_tokens),
            initial_alphabet=alphabet,
            show_progress=False,
        )
    else:
        tokenizer = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=spec.vocab_size,
            special_tokens=list(spec.special_tokens),
            initial_alphabet=alphabet,
            show_progress=False,
        )
    # Bytes as the base alphabet: every text encodes, no unknown token is needed.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def _train_sentencepiece(spec: TrainSpec, texts: Iterator[str]) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=texts,
        model_writer=model,
        model_type="unigram",
        vocab_size=spec.vocab_size,
        hard_vocab_limit=False,
        byte_fallback=spec.byte_fallback,
        character_coverage=spec.character_coverage,
        user_defined_symbols=list(spec.special_tokens),
        # Keep the text as it is: no normalization, no added or merged whitespace.
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        split_by_whitespace=True,
        max_sentence_length=1 << 16,
        num_threads=1,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    return model.getvalue()


def table_texts(table: pa.Table | pa.RecordBatch) -> Iterator[str]:
    """The text of cookbook rows for tokenizer training: every message content (chat), every
    prompt and completion message (preference), ``problem`` and ``solution`` / ``answer``
    (math), ``problem`` (code); in row order."""
    names = set(table.schema.names)
    columns: list[pa.Array | pa.ChunkedArray] = []
    for name in ("messages", "prompt", "completion_a", "completion_b"):
        if name in names:
            column = table.column(name)
            chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
            columns.extend(pc.list_flatten(c).field("content") for c in chunks)
    for name in ("problem", "solution", "answer", "question", "starter_code"):
        if name in names and pa.types.is_string(table.schema.field(name).type):
            columns.append(table.column(name))
    for column in columns:
        for value in column.to_pylist():
            if value:
                yield value


__all__ = ["train_tokenizer", "trained_file_name", "table_texts"]
