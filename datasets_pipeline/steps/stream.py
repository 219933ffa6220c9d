"""A single-use stream of record batches with a known schema and the statistics gathered while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa


@dataclass
class SplitStream:
    """Record batches of one split, to be written once (batch by batch) by :func:`.staging.stage_split`.

    ``lineage`` is known before the stream runs (source files, revision, versions); ``stats`` is
    filled while it is consumed (rows kept, rows dropped by reason, …). ``finish`` hooks run after
    the last batch, before the file's checks are evaluated and it is published.
    """

    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]
    lineage: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    on_finish: list[Callable[["SplitStream"], None]] = field(default_factory=list)
    consumed: bool = False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self.consumed:
            raise RuntimeError("a SplitStream can be consumed only once")
        self.consumed = True
        for batch in self.batches:
            if batch.num_rows:
                yield batch
        for hook in self.on_finish:
            hook(self)
