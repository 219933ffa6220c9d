"""What a mixture build produced, per source, and a statistical check of its proportions.

:class:`MixtureStats` holds, per source, the requested probability and the realized share of
the train rows, how often the source was drawn, whether it was exhausted and how many times it
was restarted (a with-replacement interleave starts a source over after its last row).

:func:`check_proportions` tests the realized shares against the requested probabilities. The
interleave draws each row's source independently with the requested probabilities, so the
number of draws of source ``s`` among ``N`` is binomial(``N``, ``p_s``). The bound: source ``s``
passes when ``|draws_s / N - p_s| <= z * sqrt(p_s * (1 - p_s) / N)`` with
``z = Φ⁻¹(1 - α / (2k))`` (two-sided normal approximation of the binomial, Bonferroni-corrected
over the ``k`` sources with ``p_s > 0``), and a source with ``p_s = 0`` must never be drawn. With
correct data the check fails with probability at most about ``α`` (default 0.001: ``z`` ≈ 3.29
for 1 source, 3.48 for 2, 3.59 for 3). Notes:

- The draws are counted, not the rows: with ``all_exhausted_without_replacement`` every row
  appears exactly once (the row shares are the source sizes by construction) and draws of an
  exhausted source are skipped, but every draw still follows the probabilities.
- ``first_exhausted``/``all_exhausted`` stop at a data-dependent draw; the bias this puts on the
  shares is of order ``1/N``, far inside the bound for any ``N`` worth checking.
- For small ``N`` (``N * p_s`` below ~10) the normal approximation is loose; the check still
  reports, but it is meant for real mixtures of thousands of rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

__all__ = ["DEFAULT_ALPHA", "MixtureStats", "ProportionCheck", "SourceBound", "SourceStats", "check_proportions"]

DEFAULT_ALPHA = 0.001


@dataclass(frozen=True)
class SourceStats:
    """One source of a built mixture."""

    label: str  # "<asset>@<partition>" as written in the file
    asset: str
    partitions: tuple[str, ...]
    source_rows: int  # rows the source has
    held_out: int  # of them, rows held out for the test split
    weight: float | None  # as given (None: unweighted, drawn in proportion to size)
    probability: float  # requested: the interleave probability
    draws: int  # times the interleave drew this source
    rows: int  # train rows from this source
    proportion: float  # realized: rows / train rows
    exhausted: bool  # every training row of the source was used at least once
    restarts: int  # times the source was started over after its last row

    @property
    def train_rows(self) -> int:
        """Rows of the source available to the interleave."""
        return self.source_rows - self.held_out


@dataclass(frozen=True)
class MixtureStats:
    """What :func:`~datasets_pipeline.mixtures.build.build_mixture` wrote."""

    name: str
    seed: int
    stopping_strategy: str
    sources: tuple[SourceStats, ...]
    total_rows: int  # train rows
    test_rows: int
    max_rows: int | None
    capped: bool  # max_rows stopped the interleave before its stopping strategy did
    train_path: str
    test_path: str | None
    train_bytes: int
    test_bytes: int
    columns: tuple[str, ...]
    staged_train: str | None = None  # set only while the files are staged (``before_publish``)
    staged_test: str | None = None

    @property
    def exhausted(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.sources if s.exhausted)

    @property
    def total_draws(self) -> int:
        return sum(s.draws for s in self.sources)

    def to_record(self) -> dict[str, Any]:
        """Every field as JSON values (staged paths left out); :meth:`from_record` reads it back."""
        record = asdict(self)
        record.pop("staged_train"), record.pop("staged_test")
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "MixtureStats":
        sources = tuple(SourceStats(**{**s, "partitions": tuple(s["partitions"])}) for s in record["sources"])
        return cls(**{**record, "sources": sources, "columns": tuple(record["columns"])})

    def to_metadata(self) -> dict[str, Any]:
        """JSON-ready values: totals, per-source table and the exhausted sources."""
        return {
            "mixture": self.name,
            "seed": self.seed,
            "stopping_strategy": self.stopping_strategy,
            "total_rows": self.total_rows,
            "test_rows": self.test_rows,
            "max_rows": self.max_rows,
            "capped": self.capped,
            "exhausted_sources": list(self.exhausted),
            "columns": list(self.columns),
            "sources": [
                {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(s).items()} for s in self.sources
            ],
        }


@dataclass(frozen=True)
class SourceBound:
    """The check of one source: requested vs realized share of the draws, and the allowed gap."""

    label: str
    requested: float
    realized: float
    deviation: float  # realized - requested
    tolerance: float
    passed: bool


@dataclass(frozen=True)
class ProportionCheck:
    """Result of :func:`check_proportions`."""

    passed: bool
    alpha: float
    z: float
    draws: int
    sources: tuple[SourceBound, ...]
    description: str

    @property
    def failures(self) -> tuple[SourceBound, ...]:
        return tuple(s for s in self.sources if not s.passed)


def check_proportions(stats: MixtureStats, alpha: float = DEFAULT_ALPHA) -> ProportionCheck:
    """Whether the realized source shares are within the module's bound of the requested ones."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = stats.total_draws
    k = max(1, sum(1 for s in stats.sources if s.probability > 0))
    z = NormalDist().inv_cdf(1 - alpha / (2 * k))
    bounds = []
    for s in stats.sources:
        p = s.probability
        realized = s.draws / n if n else 0.0
        if p <= 0:
            tolerance, ok = 0.0, s.draws == 0
        elif n == 0:
            tolerance, ok = math.inf, True
        else:
            tolerance = z * math.sqrt(p * (1 - p) / n)
            ok = abs(realized - p) <= tolerance + 1e-12
        bounds.append(SourceBound(s.label, p, realized, realized - p, tolerance, ok))
    passed = all(b.passed for b in bounds)
    verdict = "within" if passed else "NOT within"
    description = (
        f"source shares of {n:,} draws {verdict} z·sqrt(p(1-p)/N) of the requested probabilities, "
        f"z = {z:.3f} (alpha = {alpha:g}, two-sided, Bonferroni over {k} sources)"
    )
    if not passed:
        description += "; off: " + ", ".join(
            f"{b.label} {b.realized:.4f} vs {b.requested:.4f} (±{b.tolerance:.4f})" for b in bounds if not b.passed
        )
    return ProportionCheck(passed, alpha, z, n, tuple(bounds), description)
