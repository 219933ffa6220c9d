"""The tokenized layer: one cookbook split → token ids and loss weights under one tokenizer profile.

A partition's file is ``tokenized/<name>/<profile>/<config>/<split>.arrow`` under a local data root
(:func:`tokenized_file`). Its data version is a hash of the cookbook file's data version, the
profile's artifact hash (tokenizer file sha256 + every setting) and :data:`CODE_VERSION`; it is
written into the file's schema metadata with the artifact hash, so a run can tell:

- unchanged inputs (same data version as the published file): nothing is recomputed;
- same profile and code, changed rows: only rows whose ``uid`` the published file lacks are encoded
  (:func:`~datasets_pipeline.tokenize.incremental.tokenize_incremental_batches`), the rest are taken
  from the memory-mapped published file, batch by batch of :data:`INCREMENTAL_BATCH_ROWS` rows;
- anything else: every row is encoded, streaming from the memory-mapped cookbook file.

Checks: ``rows_match`` (blocking: one row per cookbook row, same ``uid`` and ``source_row``, in
order), ``truncation`` (a warning: rows cut at ``max_length``), and the standalone ``drift`` check
(:func:`drift_outcome`, blocking, severity ERROR): a seeded random sample of the published cache is
re-encoded with the profile's *current* tokenizer file and compared exactly; a mismatch means the
cache no longer is what the tokenizer gives, so training on it would silently use other tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine.ipc import read_schema
from ..errors import NotMaterializedError
from ..hub.checksum import sha256_of
from ..layout import DataLayout
from ..tokenize.incremental import IncrementalCounts, drift_check, tokenize_incremental_batches
from ..tokenize.profiles import Profile, canonical_json
from ..tokenize.resolve import ResolvedTokenizer, resolve_tokenizer
from ..tokenize.store import resolve_trained
from ..tokenize.tokenize_table import ProfileTokenizer, TokenStats, tokenize_batches
from .checks import CheckDef, CheckOutcome
from .sample import read_sample, sample_folder
from .stream import SplitStream
from .versions import VERSION_KEY, digest, published_schema

#: Bumped whenever the same profile and rows would give other tokens (renderers, assembly, columns).
CODE_VERSION = "tokenized-1"
#: Catalog families a tokenized cache is built for.
TOKENIZED_FAMILIES = ("chat", "preference", "math", "code")
ARTIFACT_KEY = b"datasets_pipeline.tokenizer_artifact"
TOKENIZER_SHA_KEY = b"datasets_pipeline.tokenizer_sha256"
CODE_KEY = b"datasets_pipeline.tokenized_code"
DRIFT_SAMPLE = 64  # rows the drift check re-encodes
INCREMENTAL_BATCH_ROWS = 8192  # rows of the new split per written batch of an incremental run
DRIFT_SEED = 0
HISTOGRAM_BINS = 12

ROWS_MATCH = CheckDef(
    "rows_match", True,
    "One tokenized row per cookbook row of the split, in its order (same uid and source_row); blocks publication otherwise.",
)
TRUNCATION = CheckDef(
    "truncation", False, "Rows cut from the right at the profile's max_length (a warning; they are kept, cut as the cookbook cuts them).",
)
DRIFT = CheckDef(
    "drift", True,
    f"Re-encodes {DRIFT_SAMPLE} seeded random rows of the published cache with the profile's current tokenizer file and "
    "renderer and compares tokens and weights exactly. Fails (severity ERROR) when they differ: the cache no longer matches "
    "its tokenizer; materialize the partition again.",
)
TOKENIZED_CHECKS = (ROWS_MATCH, TRUNCATION)


def tokenized_file(root: str, name: str, profile: str, config: str, split: str) -> Path:
    """The published file of one partition (local roots only: :meth:`~datasets_pipeline.layout.DataLayout.tokenized`)."""
    return Path(DataLayout(root).tokenized(name, profile, config, split))


def profiles_code_version(profiles: Mapping[str, Profile]) -> str:
    """The asset's code version: :data:`CODE_VERSION` and a hash of every profile's settings (and a
    local tokenizer file's sha256), so editing ``tokenizers.yaml`` marks the asset's partitions stale."""
    parts = []
    for name in sorted(profiles):
        profile = profiles[name]
        settings: dict[str, Any] = profile.settings()
        if profile.tokenizer.kind == "path" and profile.tokenizer.path is not None:
            with contextlib.suppress(OSError):
                settings["sha256"] = sha256_of(profile.tokenizer.path)
        parts.append(settings)
    return f"{CODE_VERSION}-{hashlib.sha256(canonical_json(parts).encode()).hexdigest()[:16]}"


def resolve_profile(profile: Profile, root: str) -> ResolvedTokenizer:
    """The profile's tokenizer file, verified: local, Hub (pinned, sha256-checked) or trained by ``tokenizer/<profile>``."""
    if profile.tokenizer.kind == "train":
        return resolve_trained(profile, root)
    return resolve_tokenizer(profile)


def source_rows(profile: Profile, cookbook: pa.Table, root: str, name: str, config: str, split: str) -> pa.Table:
    """The rows a profile tokenizes: the cookbook split, or its published sample (``source: sample``)."""
    if profile.source != "sample":
        return cookbook
    folder = sample_folder(root, name, config, split)
    try:
        return read_sample(folder)
    except FileNotFoundError:
        raise NotMaterializedError(
            f"profile {profile.name!r} tokenizes sample/{name}, which is not materialized at {folder}",
            dataset=name, config=config, split=split,
            hint=f"materialize it with: dagster asset materialize -m datasets_pipeline.definitions --select sample/{name} "
            f"--partition {config}/{split}",
        ) from None


def tokenized_version(upstream: str | None, artifact_hash: str) -> str | None:
    """The data version of a tokenized split (None when the cookbook file records no version)."""
    return None if upstream is None else digest("tokenized", upstream, artifact_hash, CODE_VERSION)


def upstream_version(rows: pa.Table | pa.Schema) -> str | None:
    """The data version the cookbook file records in its schema metadata."""
    schema = rows if isinstance(rows, pa.Schema) else rows.schema
    value = (schema.metadata or {}).get(VERSION_KEY)
    return value.decode() if value else None


def file_record(schema: pa.Schema | None) -> dict[str, str]:
    """``data_version``, ``artifact_hash``, ``tokenizer_sha256`` and ``code`` recorded in a tokenized file's schema."""
    meta = (schema.metadata if schema is not None else None) or {}
    keys = {"data_version": VERSION_KEY, "artifact_hash": ARTIFACT_KEY, "tokenizer_sha256": TOKENIZER_SHA_KEY, "code": CODE_KEY}
    return {name: meta[key].decode() for name, key in keys.items() if key in meta}


@dataclass
class TokenizeRun:
    """What a run of one partition does: the stream to stage and what it reuses."""

    stream: SplitStream
    incremental: bool


def _with_record(schema: pa.Schema, version: str | None, resolved: ResolvedTokenizer) -> pa.Schema:
    meta = {ARTIFACT_KEY: resolved.artifact_hash.encode(), TOKENIZER_SHA_KEY: resolved.sha256.encode(), CODE_KEY: CODE_VERSION.encode()}
    if version is not None:
        meta[VERSION_KEY] = version.encode()
    return schema.with_metadata(meta)


def table_stats(table: pa.Table, max_length: int | None) -> TokenStats:
    """Token totals of a tokenized table from its columns (vectorized). Truncated rows are those whose
    sequence (each of chosen / rejected for preference pairs) reached ``max_length``."""
    stats = TokenStats()
    lengths = table.column("length").to_numpy().astype(np.int64) if table.num_rows else np.empty(0, np.int64)
    trained = 0
    for name in table.column_names:
        if name.endswith("weights") and table.num_rows:
            trained += int(pc.sum(pc.list_flatten(table.column(name))).as_py() or 0)
    truncated = 0
    if max_length is not None and table.num_rows:
        names = [n for n in ("chosen_length", "rejected_length") if n in table.column_names] or ["length"]
        hit = np.zeros(table.num_rows, dtype=bool)
        for name in names:
            hit |= table.column(name).to_numpy() >= max_length
        truncated = int(hit.sum())
    stats.add({"rows": table.num_rows, "tokens": int(lengths.sum()), "trained_tokens": trained, "truncated_rows": truncated, "lengths": lengths})
    return stats


def _with_labels(batches: Iterator[pa.RecordBatch], labels: pa.ChunkedArray) -> Iterator[pa.RecordBatch]:
    """Append each row's sample ``split`` label to the tokenized batches (in row order)."""
    offset = 0
    for batch in batches:
        yield batch.append_column("split", labels.slice(offset, batch.num_rows).combine_chunks())
        offset += batch.num_rows


def plan_tokenize(
    rows: pa.Table, tokenizer: ProfileTokenizer, resolved: ResolvedTokenizer, path: str | os.PathLike, version: str | None
) -> TokenizeRun:
    """The stream of one partition's run: incremental when the published file was made with the same
    artifact hash and code version, else every row streamed from ``rows`` (memory-mapped). Rows of a
    sample keep their ``split`` label (and are always encoded: a sample is small)."""
    record = file_record(published_schema(path))
    empty, _ = tokenizer.tokenize(rows.slice(0, 0))
    labelled = "split" in rows.column_names
    if labelled:
        empty = empty.append_column("split", pa.array([], pa.string()))
    schema = _with_record(empty.schema, version, resolved)
    if (
        record.get("artifact_hash") == resolved.artifact_hash
        and record.get("code") == CODE_VERSION
        and "uid" in rows.column_names
        and not labelled
    ):
        from ..engine.ipc import read_table

        counts, token_stats = IncrementalCounts(), TokenStats()
        max_length = resolved.profile.max_length

        def batches() -> Iterator[pa.RecordBatch]:
            # the previous file stays memory-mapped; one batch of the new split at a time
            for batch in tokenize_incremental_batches(read_table(str(path)), rows, tokenizer, batch_rows=INCREMENTAL_BATCH_ROWS, counts=counts):
                one = table_stats(pa.Table.from_batches([batch]), max_length)
                token_stats.add({"rows": one.rows, "tokens": one.tokens, "trained_tokens": one.trained_tokens,
                                 "truncated_rows": one.truncated_rows, "lengths": one.lengths})
                yield batch

        stream = SplitStream(schema=schema, batches=batches())

        def finish_incremental(done: SplitStream) -> None:
            done.stats.update(encoded_rows=counts.tokenized_rows, reused_rows=counts.reused_rows, token_stats=token_stats)

        stream.on_finish.append(finish_incremental)
        return TokenizeRun(stream, True)
    stats = TokenStats()
    batches = tokenize_batches(rows.to_batches(), tokenizer, stats=stats)
    if labelled:
        batches = _with_labels(batches, rows.column("split"))
    stream = SplitStream(schema=schema, batches=batches)

    def finish(done: SplitStream) -> None:
        done.stats.update(encoded_rows=stats.rows, reused_rows=0, token_stats=stats)

    stream.on_finish.append(finish)
    return TokenizeRun(stream, False)


def tokenized_checks(staged: pa.Table, rows: pa.Table, stats: TokenStats) -> list[CheckOutcome]:
    """``rows_match`` and ``truncation`` on a staged tokenized split against its cookbook rows."""
    problems = []
    if staged.num_rows != rows.num_rows:
        problems.append(f"{staged.num_rows} tokenized rows for {rows.num_rows} cookbook rows")
    else:
        for name in ("uid", "source_row"):
            if name in rows.column_names and not staged.column(name).equals(rows.column(name)):
                problems.append(f"column {name} differs from the cookbook split's")
    truncated = stats.truncated_rows
    return [
        ROWS_MATCH.outcome(not problems, "; ".join(problems), rows=staged.num_rows, cookbook_rows=rows.num_rows),
        TRUNCATION.outcome(
            truncated == 0, f"{truncated} of {stats.rows} rows cut at max_length" if truncated else "",
            truncated_rows=truncated, rows=stats.rows,
        ),
    ]


def drift_outcome(cache: pa.Table, rows: pa.Table, resolved: ResolvedTokenizer) -> CheckOutcome:
    """The ``drift`` check of a published cache against its cookbook rows and the current tokenizer."""
    record = file_record(cache.schema)
    meta = {"sample": DRIFT_SAMPLE, "seed": DRIFT_SEED, "tokenizer_sha256": resolved.sha256,
            "cache_tokenizer_sha256": record.get("tokenizer_sha256")}
    if cache.num_rows != rows.num_rows or ("uid" in rows.column_names and not cache.column("uid").equals(rows.column("uid"))):
        return DRIFT.outcome(
            False, "the cache was built from other cookbook rows than the published split's: materialize the partition again",
            **meta, checked=0, mismatched_rows=[],
        )
    report = drift_check(cache, rows, ProfileTokenizer.from_resolved(resolved), sample=DRIFT_SAMPLE, seed=DRIFT_SEED)
    text = "" if report.ok else (
        f"{len(report.mismatched_rows)} of {report.checked} sampled rows encode differently with the current tokenizer "
        f"(sha256 {resolved.sha256[:12]}…, the cache was built with {str(record.get('tokenizer_sha256', '?'))[:12]}…); "
        f"first rows {report.mismatched_rows[:5]}"
    )
    return DRIFT.outcome(report.ok, text, **meta, checked=report.checked, mismatched_rows=report.mismatched_rows[:20])


def histogram_markdown(stats: TokenStats, bins: int = HISTOGRAM_BINS) -> str:
    """The length histogram as a small Markdown table (token range, rows, a bar)."""
    hist = stats.histogram(bins)
    edges, counts = hist["edges"], hist["counts"]
    if not counts:
        return "no rows"
    top = max(counts) or 1
    lines = ["| tokens | rows | |", "|---:|---:|---|"]
    for i, count in enumerate(counts):
        high = f"{edges[i + 1]}]" if i == len(counts) - 1 else f"{edges[i + 1]})"
        lines.append(f"| [{edges[i]}, {high} | {count} | {'█' * round(20 * count / top)} |")
    return "\n".join(lines)


def tokenized_summary(resolved: ResolvedTokenizer, stats: TokenStats, upstream: str | None, version: str | None) -> dict[str, Any]:
    """Plain metadata of a tokenized materialization (the histogram under ``length_histogram``, as Markdown)."""
    pct = stats.percentiles((50, 90, 99, 100))
    return {
        **resolved.lineage(),
        "rows": stats.rows,
        "truncated_rows": stats.truncated_rows,
        "tokens": stats.tokens,
        "trained_tokens": stats.trained_tokens,
        "length_p50": pct.get("p50", 0),
        "length_p90": pct.get("p90", 0),
        "length_p99": pct.get("p99", 0),
        "length_max": pct.get("p100", 0),
        "length_histogram": histogram_markdown(stats),
        "upstream_data_version": upstream,
        "data_version": version,
        "tokenized_code_version": CODE_VERSION,
    }


def published_record(path: str | os.PathLike) -> dict[str, str]:
    """The record of the file published at ``path`` (empty when there is none)."""
    with contextlib.suppress(FileNotFoundError, OSError, pa.ArrowInvalid):
        return file_record(read_schema(path))
    return {}


_TOKENS = pa.list_(pa.int32())
_WEIGHTS = pa.list_(pa.uint8())
_COMMON = [
    ("length", pa.int32(), "Tokens in the row (chosen + rejected for a preference pair), after truncation."),
    ("uid", pa.string(), "The cookbook row's uid (same content, same uid)."),
    ("source_row", pa.int64(), "The row's index in the raw split it came from."),
]
#: The columns of a tokenized split per family: (name, Arrow type, what it holds).
TOKENIZED_COLUMNS: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "chat": [
        ("tokens", _TOKENS, "The renderer's build_supervised_example(messages, train_on_what) tokens, cut from the right at max_length."),
        ("weights", _WEIGHTS, "Per-token loss weights (0/1) aligned with tokens, before the one-token shift."),
        *_COMMON,
    ],
    "preference": [
        ("chosen_tokens", _TOKENS, "prompt + the chosen completion, as the cookbook's DPO builder renders it (last_assistant_message)."),
        ("chosen_weights", _WEIGHTS, "Loss weights of chosen_tokens."),
        ("rejected_tokens", _TOKENS, "prompt + the rejected completion."),
        ("rejected_weights", _WEIGHTS, "Loss weights of rejected_tokens."),
        ("chosen_length", pa.int32(), "Tokens in chosen_tokens."),
        ("rejected_length", pa.int32(), "Tokens in rejected_tokens."),
        *_COMMON,
    ],
    "math": [
        ("tokens", _TOKENS, "The renderer's generation prompt for the problem as a user message."),
        ("answer", pa.string(), "The reference answer, kept as text."),
        *_COMMON,
    ],
    "code": [
        ("tokens", _TOKENS, "The renderer's generation prompt for the problem as a user message."),
        ("tests", pa.list_(pa.struct([("input", pa.string()), ("output", pa.string()), ("testtype", pa.string()),
                                      ("fn_name", pa.string())])), "The problem's tests, kept as they are."),
        *_COMMON,
    ],
}
