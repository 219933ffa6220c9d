"""Realistic Hub repos built from the real public fixtures (see ../shared/fixtures/real/README.md).

GSM8K (MIT, (c) 2021 OpenAI) and HumanEval (MIT, (c) OpenAI) rows are used unchanged; they are
written in the Hub's own layouts (Parquet shards named as on the Hub, a card with ``configs``).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DEMO_DATA = Path(__file__).resolve().parent.parent / "datasets_pipeline" / "demo_data"
GSM8K_MAIN_TEST = DEMO_DATA / "openai/gsm8k/main/test-00000-of-00001.jsonl"
GSM8K_SOCRATIC_TEST = DEMO_DATA / "openai/gsm8k/socratic/test-00000-of-00001.jsonl"
HUMANEVAL_TEST = DEMO_DATA / "openai/openai_humaneval/openai_humaneval/test-00000-of-00001.jsonl.gz"

GSM8K_CARD = """---
license: mit
dataset_info:
- config_name: main
  features:
  - name: question
    dtype: string
  - name: answer
    dtype: string
configs:
- config_name: main
  data_files:
  - split: train
    path: main/train-*
  - split: test
    path: main/test-*
- config_name: socratic
  data_files:
  - split: train
    path: socratic/train-*
  - split: test
    path: socratic/test-*
---
# GSM8K
"""


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def gsm8k_rows(config: str = "main") -> list[dict]:
    return read_jsonl(GSM8K_MAIN_TEST if config == "main" else GSM8K_SOCRATIC_TEST)


def humaneval_rows() -> list[dict]:
    return read_jsonl(HUMANEVAL_TEST)


def hf_features_metadata(features: dict) -> dict[bytes, bytes]:
    """The ``huggingface`` schema metadata the Hub's Parquet files carry."""
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


def parquet_bytes(table: pa.Table, row_group_size: int | None = None) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=row_group_size)
    return sink.getvalue()


def gsm8k_table(rows: list[dict]) -> pa.Table:
    schema = pa.schema([("question", pa.string()), ("answer", pa.string())]).with_metadata(
        hf_features_metadata({"question": {"dtype": "string", "_type": "Value"}, "answer": {"dtype": "string", "_type": "Value"}})
    )
    return pa.Table.from_pylist(rows, schema=schema)


def gsm8k_repo_files(train_rows: int = 40) -> dict[str, bytes]:
    """openai/gsm8k as on the Hub: Parquet shards under ``main/`` and ``socratic/`` and a card.

    The test splits are the real 1,319-row files; the train splits (not bundled) are the last
    ``train_rows`` real test rows, enough to exercise every partition.
    """
    files = {"README.md": GSM8K_CARD.encode()}
    for config in ("main", "socratic"):
        rows = gsm8k_rows(config)
        files[f"{config}/test-00000-of-00001.parquet"] = parquet_bytes(gsm8k_table(rows), row_group_size=500)
        files[f"{config}/train-00000-of-00001.parquet"] = parquet_bytes(gsm8k_table(rows[-train_rows:]))
    return files
