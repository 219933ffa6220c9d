"""Asset checks of every layer, evaluated on staged data before anything is published.

Each check is a :class:`CheckDef` (name, whether it blocks publication, what it verifies); evaluating
it gives a :class:`CheckOutcome`. A *blocking* outcome that fails stops publication: the staged data
is discarded, the previous version stays what readers see, and :class:`BlockingCheckFailed` carries
every outcome so the failure is recorded. Non-blocking checks only warn.

The row-count rule (``row_count``): a result with no rows where the published version has rows, or
one that lost more than ``DATASETS_PIPELINE_MAX_ROW_LOSS`` (a fraction, default ``0.5``: more than
half) of the published version's rows, fails and blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ..errors import DatasetsPipelineError
from ..settings import number_from_env

MAX_ROW_LOSS_ENV = "DATASETS_PIPELINE_MAX_ROW_LOSS"
DEFAULT_MAX_ROW_LOSS = 0.5


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check on staged data."""

    name: str
    passed: bool
    blocking: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class CheckDef:
    """A check an asset declares: ``blocking`` ones stop publication when they fail."""

    name: str
    blocking: bool
    description: str

    def outcome(self, passed: bool, description: str = "", **metadata: Any) -> CheckOutcome:
        return CheckOutcome(self.name, bool(passed), self.blocking, metadata, description)


HAS_ROWS = CheckDef("has_rows", False, "The split has at least one row (a warning).")
ROW_COUNT = CheckDef(
    "row_count",
    True,
    "Blocks a result with no rows, or one that lost more than DATASETS_PIPELINE_MAX_ROW_LOSS (default 0.5) "
    "of the published version's rows: the published version is kept.",
)
FAMILY_RULES = CheckDef("family_rules", True, "Every row satisfies the family's rules.")
DUPLICATE_UIDS = CheckDef("duplicate_uids", False, "Rows whose uid repeats (a warning: dedup is an explicit step).")
QUALITY = CheckDef("quality", False, "Rows breaking the stricter quality rules, counted by rule (a warning; rows are kept).")
COMPLETE_SPLITS = CheckDef("complete_splits", True, "Every split the DatasetDict needs is materialized upstream.")
SPLIT_ROWS = CheckDef("split_rows", True, "Each written split has the rows its plan selected.")
LOADABLE = CheckDef(
    "loadable", True, "The written folder opens with the reader (datasets_pipeline.engine.load_dataset_dict), "
    "every split with its planned rows."
)

RAW_CHECKS = (HAS_ROWS, ROW_COUNT)
COOKBOOK_CHECKS = (FAMILY_RULES, ROW_COUNT, DUPLICATE_UIDS, QUALITY)
DATASET_DICT_CHECKS = (COMPLETE_SPLITS, SPLIT_ROWS, LOADABLE)


class BlockingCheckFailed(DatasetsPipelineError):
    """A blocking check failed: nothing was published and the previous version is kept."""

    def __init__(self, outcomes: Iterable[CheckOutcome], **where: Any) -> None:
        self.outcomes = list(outcomes)
        self.failed = [o for o in self.outcomes if o.blocking and not o.passed]
        reasons = "; ".join(f"{o.name}: {o.description}" if o.description else o.name for o in self.failed)
        super().__init__(
            f"blocking check {reasons} — nothing was published; the published version, if any, is kept", **where
        )


def raise_if_blocked(outcomes: Sequence[CheckOutcome]) -> None:
    """Raise :class:`BlockingCheckFailed` if any blocking outcome failed."""
    if any(o.blocking and not o.passed for o in outcomes):
        raise BlockingCheckFailed(outcomes)


def max_row_loss() -> float:
    """The fraction of the published version's rows a new version may lose (``DATASETS_PIPELINE_MAX_ROW_LOSS``)."""
    return number_from_env(MAX_ROW_LOSS_ENV, DEFAULT_MAX_ROW_LOSS, high=1.0, what="a fraction")


def row_count(rows: int, previous: int | None, max_loss: float | None = None) -> CheckOutcome:
    """``row_count``: no collapse against the published version (``previous`` rows, None if there is none)."""
    loss = max_row_loss() if max_loss is None else max_loss
    meta = {"rows": rows, "previous_rows": previous, "max_row_loss": loss}
    if not previous:
        return ROW_COUNT.outcome(True, **meta)
    if rows == 0:
        return ROW_COUNT.outcome(False, f"0 rows where the published version has {previous:,}", **meta)
    if rows < previous * (1.0 - loss):
        lost = 1.0 - rows / previous
        return ROW_COUNT.outcome(
            False,
            f"{rows:,} rows where the published version has {previous:,} ({lost:.0%} lost, more than the "
            f"{loss:.0%} allowed by {MAX_ROW_LOSS_ENV})",
            **meta,
        )
    return ROW_COUNT.outcome(True, **meta)


def raw_checks(rows: int, previous: int | None) -> list[CheckOutcome]:
    """Outcomes of the raw layer's checks for a staged split of ``rows`` rows."""
    return [HAS_ROWS.outcome(rows > 0, "" if rows else "the split has no rows", rows=rows), row_count(rows, previous)]


def cookbook_checks(stats: Mapping[str, Any], rows: int, previous: int | None) -> list[CheckOutcome]:
    """Outcomes of the cookbook layer's checks from the conversion statistics of a staged split."""
    violations = dict(stats.get("rule_violations", {}))
    broken = {rule: n for rule, n in violations.items() if n}
    quality = {rule: int(n) for rule, n in dict(stats.get("quality", {})).items()}
    flagged = {rule: n for rule, n in quality.items() if n}
    duplicates = int(stats.get("duplicate_uids", 0))
    return [
        FAMILY_RULES.outcome(
            not broken, f"rows break family rules {broken}" if broken else "", violations=violations
        ),
        row_count(rows, previous),
        DUPLICATE_UIDS.outcome(
            duplicates == 0, f"{duplicates} duplicate uid(s)" if duplicates else "", duplicate_uids=duplicates, rows=rows
        ),
        QUALITY.outcome(not flagged, f"rows flagged {flagged}" if flagged else "", counts=quality),
    ]


def complete_splits(needed: Sequence[str], present: Iterable[str]) -> CheckOutcome:
    """``complete_splits``: every needed upstream split is there."""
    have = set(present)
    missing = [s for s in needed if s not in have]
    text = f"upstream splits not materialized: {', '.join(missing)}" if missing else ""
    return COMPLETE_SPLITS.outcome(not missing, text, needed=list(needed), missing=missing)


def split_rows(planned: Mapping[str, int], written: Mapping[str, int]) -> CheckOutcome:
    """``split_rows``: each written split has the planned number of rows."""
    wrong = {s: {"planned": n, "written": written.get(s)} for s, n in planned.items() if written.get(s) != n}
    return SPLIT_ROWS.outcome(not wrong, f"splits differ from their plan: {wrong}" if wrong else "", splits=dict(written))


def loadable(planned: Mapping[str, int], read: Mapping[str, int] | Exception) -> CheckOutcome:
    """``loadable``: the reader opened the written folder (``read``: rows per split, or its error) as planned."""
    if isinstance(read, Exception):
        return LOADABLE.outcome(False, f"the reader cannot open the written folder: {read}")
    wrong = {s: {"planned": n, "read": read.get(s)} for s, n in planned.items() if read.get(s) != n}
    extra = sorted(set(read) - set(planned))
    text = f"read back {wrong}" if wrong else (f"unplanned splits {extra}" if extra else "")
    return LOADABLE.outcome(not wrong and not extra, text, splits=dict(read))
