"""Write a split where readers cannot see it, check it, then publish it (or keep the previous version).

Every file layer (``raw/``, ``cookbook/``) runs the same three steps inside its asset:

1. :func:`stage_split`: remove temporaries of the same file left by killed writers, note the published
   version's row count, and write the new rows to a hidden temporary beside the target;
2. evaluate the layer's checks (:mod:`.checks`) on the staged rows and their statistics;
3. :func:`publish_checked`: one rename into place if no blocking check failed, else discard the
   temporary and raise :class:`~.checks.BlockingCheckFailed` (the published file is untouched).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Sequence

import pyarrow as pa

from ..engine.ipc import StagedFile, WriteStats, count_rows, remove_stale_temporaries, stage_batches
from .checks import BlockingCheckFailed, CheckOutcome
from .stream import SplitStream


@dataclass
class StagedSplit:
    """A split written to a temporary beside ``file.target``, with the published version's row count."""

    file: StagedFile
    previous_rows: int | None
    removed_temporaries: list[str]

    @property
    def stats(self) -> WriteStats:
        return self.file.stats

    def read(self) -> pa.Table:
        return self.file.read()

    def __enter__(self) -> "StagedSplit":
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.discard()  # a no-op once published; otherwise nothing of it stays


def published_rows(path: str | os.PathLike) -> int | None:
    """Rows of the version published at ``path``; None when there is none (or it cannot be read)."""
    with contextlib.suppress(FileNotFoundError, OSError, pa.ArrowInvalid):
        return count_rows(path)
    return None


def stage_split(path: str | os.PathLike, stream: SplitStream, *, started: float | None = None) -> StagedSplit:
    """Steps 1 of the module docstring: clean stale temporaries, count the published rows, stage ``stream``.

    ``started`` (a ``time.time()``, e.g. when the step began) lets temporaries whose writer cannot be
    identified be removed when they were last modified before it.
    """
    removed = remove_stale_temporaries(path, older_than=started)
    previous = published_rows(path)
    staged = stage_batches(path, stream, schema=stream.schema)
    return StagedSplit(staged, previous, removed)


def publish_checked(staged: StagedSplit, outcomes: Sequence[CheckOutcome]) -> WriteStats:
    """Step 3: publish when every blocking outcome passed; otherwise discard and raise."""
    if any(o.blocking and not o.passed for o in outcomes):
        staged.file.discard()
        raise BlockingCheckFailed(outcomes)
    return staged.file.publish()
