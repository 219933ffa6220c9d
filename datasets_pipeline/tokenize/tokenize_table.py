"""Cookbook rows -> tokenized rows, per family, a table or a stream of record batches at a time.

- chat (``messages``): ``tokens`` / ``weights`` of ``build_supervised_example(messages,
  train_on_what)``, right-truncated to ``max_length``.
- preference (``prompt``, ``completion_a``, ``completion_b``, ``label``): the cookbook's DPO pair,
  chosen = prompt + (completion_a if label == "A" else completion_b), rejected = the other, each
  built with ``last_assistant_message`` (the DPO builder's default): ``chosen_tokens``,
  ``chosen_weights``, ``rejected_tokens``, ``rejected_weights``, ``chosen_length``,
  ``rejected_length``; ``length`` is their sum.
- math / code (``problem``): ``tokens`` of ``build_generation_prompt([user: problem])``;
  ``answer`` (math) and ``tests`` (code) are kept as they are.

Every output row has ``length`` (int32), and ``uid`` / ``source_row`` when the input has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa

from .assemble import ConstantCache, Sequences, build
from .encoder import Encoder
from .messages import Messages, TokenizeError, choose, concat_conversations
from .profiles import Profile
from .renderers import Renderer, get_renderer
from .resolve import ResolvedTokenizer

PASS_THROUGH = ("uid", "source_row")
PROMPT_KEEP = ("answer", "tests")
DEFAULT_BATCH_ROWS = 4096
#: Input bytes per tokenized slice: the tokenizer's per-token objects of one encode call
#: (about 100 bytes a token) stay near 100 MB.
DEFAULT_BATCH_BYTES = 2 << 20


def family_of(schema: pa.Schema) -> str:
    """``"chat"``, ``"preference"`` or ``"prompt"`` (math and code) from the columns."""
    names = set(schema.names)
    if "messages" in names:
        return "chat"
    if {"prompt", "completion_a", "completion_b", "label"} <= names:
        return "preference"
    if "problem" in names:
        return "prompt"
    raise TokenizeError(f"no tokenizable columns: need 'messages', a preference pair or 'problem'; have {sorted(names)}")


class ProfileTokenizer:
    """A profile's renderer, loss mask and length limit over one encoder."""

    def __init__(self, profile: Profile, encoder: Encoder) -> None:
        self.profile = profile
        self.encoder = encoder
        self.renderer: Renderer = get_renderer(profile.renderer, profile.bos_token)
        self.constants = ConstantCache(encoder)
        if profile.renderer in ("qwen3", "qwen3_instruct"):
            end = self.constants.ids("<|im_end|>")
            if len(end) != 1:
                raise TokenizeError(
                    f"profile {profile.name!r}: the renderer {profile.renderer!r} needs '<|im_end|>' to be one token, "
                    f"the tokenizer gives {end.tolist()}"
                )

    @classmethod
    def from_resolved(cls, resolved: "ResolvedTokenizer") -> "ProfileTokenizer":
        return cls(resolved.profile, resolved.encoder())

    def supervised(self, msgs: Messages, train_on_what: str | None = None) -> Sequences:
        layout = self.renderer.supervised(msgs, train_on_what or self.profile.train_on_what)
        return build(layout, msgs, self.encoder, self.constants, self.profile.max_length)

    def generation_prompt(self, msgs: Messages) -> Sequences:
        layout = self.renderer.generation_prompt(msgs)
        return build(layout, msgs, self.encoder, self.constants, self.profile.max_length)

    # --- families ------------------------------------------------------------------------
    def tokenize(self, batch: pa.Table | pa.RecordBatch, family: str | None = None) -> tuple[pa.Table, dict]:
        """One batch -> ``(tokenized table, counts)``; counts has rows, tokens, trained_tokens,
        truncated_rows and the per-row ``lengths`` (numpy)."""
        family = family or family_of(batch.schema)
        columns: dict[str, pa.Array] = {}
        if family == "chat":
            seq = self.supervised(Messages.from_column(batch.column("messages")))
            columns = {"tokens": seq.tokens_array(), "weights": seq.weights_array()}
            lengths, trained, truncated, total = seq.lengths, int(seq.weights.sum()), seq.truncated, len(seq.tokens)
        elif family == "preference":
            prompt = Messages.from_column(batch.column("prompt"), "prompt")
            a = Messages.from_column(batch.column("completion_a"), "completion_a")
            b = Messages.from_column(batch.column("completion_b"), "completion_b")
            label = batch.column("label")
            is_a = np.asarray(label.to_numpy(zero_copy_only=False) == "A", dtype=bool)
            chosen = self.supervised(concat_conversations(prompt, choose(is_a, a, b)), "last_assistant_message")
            rejected = self.supervised(concat_conversations(prompt, choose(is_a, b, a)), "last_assistant_message")
            columns = {
                "chosen_tokens": chosen.tokens_array(),
                "chosen_weights": chosen.weights_array(),
                "rejected_tokens": rejected.tokens_array(),
                "rejected_weights": rejected.weights_array(),
                "chosen_length": pa.array(chosen.lengths.astype(np.int32)),
                "rejected_length": pa.array(rejected.lengths.astype(np.int32)),
            }
            lengths = chosen.lengths + rejected.lengths
            trained = int(chosen.weights.sum()) + int(rejected.weights.sum())
            truncated = chosen.truncated | rejected.truncated
            total = len(chosen.tokens) + len(rejected.tokens)
        elif family == "prompt":
            seq = self.generation_prompt(Messages.single_user(batch.column("problem")))
            columns = {"tokens": seq.tokens_array()}
            lengths, trained, truncated, total = seq.lengths, 0, seq.truncated, len(seq.tokens)
            for name in PROMPT_KEEP:
                if name in batch.schema.names:
                    columns[name] = _array(batch.column(name))
        else:
            raise TokenizeError(f"unknown family {family!r}")
        columns["length"] = pa.array(lengths.astype(np.int32))
        for name in PASS_THROUGH:
            if name in batch.schema.names:
                columns[name] = _array(batch.column(name))
        counts = {
            "rows": batch.num_rows,
            "tokens": total,
            "trained_tokens": trained,
            "truncated_rows": int(np.count_nonzero(truncated)),
            "lengths": lengths,
        }
        return pa.table(columns), counts


def _array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    return column


@dataclass
class TokenStats:
    """Totals over a tokenized split, for materialization metadata."""

    rows: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    truncated_rows: int = 0
    _lengths: list[np.ndarray] = field(default_factory=list, repr=False)

    def add(self, counts: dict) -> None:
        self.rows += counts["rows"]
        self.tokens += counts["tokens"]
        self.trained_tokens += counts["trained_tokens"]
        self.truncated_rows += counts["truncated_rows"]
        self._lengths.append(np.asarray(counts["lengths"], dtype=np.int32))

    @property
    def lengths(self) -> np.ndarray:
        return np.concatenate(self._lengths) if self._lengths else np.empty(0, np.int32)

    def percentiles(self, qs: tuple[int, ...] = (0, 50, 90, 95, 99, 100)) -> dict[str, int]:
        lengths = self.lengths
        if not len(lengths):
            return {}
        values = np.percentile(lengths, qs, method="lower")
        return {f"p{q}": int(v) for q, v in zip(qs, values)}

    def histogram(self, bins: int = 20) -> dict[str, list[int]]:
        """Equal-width bins over ``[0, max length]``: ``{"edges": [...], "counts": [...]}``."""
        lengths = self.lengths
        if not len(lengths):
            return {"edges": [], "counts": []}
        top = int(lengths.max())
        edges = np.unique(np.linspace(0, max(top, 1), bins + 1).round().astype(np.int64))
        counts, _ = np.histogram(lengths, bins=edges)
        return {"edges": edges.tolist(), "counts": counts.tolist()}

    def as_metadata(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "tokens": self.tokens,
            "trained_tokens": self.trained_tokens,
            "truncated_rows": self.truncated_rows,
            "length_percentiles": self.percentiles(),
            "length_histogram": self.histogram(),
        }


def tokenize_table(table: pa.Table, tokenizer: ProfileTokenizer, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> pa.Table:
    """Tokenize a whole table (in slices of at most ``batch_rows`` rows)."""
    parts = list(tokenize_batches(table.to_batches(), tokenizer, batch_rows=batch_rows))
    if not parts:
        empty, _ = tokenizer.tokenize(table.slice(0, 0))
        return empty
    return pa.Table.from_batches(parts)


def tokenize_batches(
    batches: Iterable[pa.RecordBatch],
    tokenizer: ProfileTokenizer,
    *,
    stats: TokenStats | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> Iterator[pa.RecordBatch]:
    """Tokenize a stream batch by batch, each input batch cut into slices of at most
    ``batch_rows`` rows and about ``batch_bytes`` bytes: memory stays bounded by one slice's
    pieces whatever the split's size; ``stats`` collects the totals."""
    family: str | None = None
    for batch in batches:
        if family is None:
            family = family_of(batch.schema)
        if not batch.num_rows:
            continue
        per_row = max(1, batch.nbytes // batch.num_rows)
        step = int(min(batch_rows, max(1, batch_bytes // per_row)))
        for start in range(0, batch.num_rows, step):
            piece = batch.slice(start, step)
            out, counts = tokenizer.tokenize(piece, family)
            if stats is not None:
                stats.add(counts)
            yield from out.to_batches()
