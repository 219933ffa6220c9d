"""``mixture/<name>``: open its sources, stage the files, check them, publish (no Dagster imports).

:func:`write_mixture` runs :func:`~datasets_pipeline.mixtures.build.build_mixture` into hidden
temporaries beside ``mixture/<name>/train.arrow`` (and ``test.arrow``), evaluates the blocking
checks of :data:`MIXTURE_CHECKS` on the staged result, and renames the files into place only if
they pass; otherwise the published files stay as they were and
:class:`~.checks.BlockingCheckFailed` carries every outcome.

Sources are opened by memory map from ``cookbook/<name>/<config>/<split>.arrow`` or
``tokenized/<name>/<profile>/<config>/<split>.arrow`` (:func:`datasets_pipeline.paths.partition_relpath`).
Mixtures need a local ``DATASETS_PIPELINE_DATA``: a remote root is refused up front
(:func:`require_local`, an :class:`~datasets_pipeline.errors.UnsupportedStorageError`).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pyarrow as pa

from ..engine.ipc import atomic_local_file, fsync_dir, read_schema, read_table, remove_stale_temporaries
from ..errors import DatasetsPipelineError, NotMaterializedError
from ..mixtures.build import OpenSource, build_mixture
from ..mixtures.config import Mixture, MixturesFile, load_mixtures
from ..mixtures.stats import MixtureStats, check_proportions
from ..layout import DataLayout
from ..paths import partition_relpath
from .checks import ROW_COUNT, CheckDef, CheckOutcome, raise_if_blocked, row_count
from .staging import published_rows
from .versions import VERSION_KEY, digest

MIXTURE_VERSION = "1"  # bump when the rows build_mixture writes for the same inputs change
STATS_FILE = "stats.json"
PROPORTIONS = CheckDef(
    "proportions",
    True,
    "The realized share of each source's draws is within z·sqrt(p(1-p)/N) of its requested probability "
    "(two-sided, alpha 0.001, Bonferroni over the sources; datasets_pipeline.mixtures.stats).",
)
MIXTURE_CHECKS = (PROPORTIONS, ROW_COUNT)


def require_local(root: str, mixture: str) -> None:
    """Raise :class:`~datasets_pipeline.errors.UnsupportedStorageError` when ``root`` is remote (before anything is read or written)."""
    DataLayout(root).require_local("mixture", f"mixture/{mixture}")


def mixture_file(root: str, name: str, split: str) -> Path:
    """``<root>/mixture/<name>/<split>.arrow`` (local roots only)."""
    return Path(DataLayout(root).mixture(name, split))


def source_hint(asset: str, partition: str) -> str:
    return f"materialize it with: dagster asset materialize -m datasets_pipeline.definitions --select {asset} --partition '{partition}'"


def partition_opener(root: str) -> OpenSource:
    """``open_source(asset, partition)`` over the files under ``root`` (memory-mapped when local)."""

    def open_source(asset: str, partition: str) -> pa.Table:
        path = DataLayout(root).location(partition_relpath(asset, partition))
        try:
            return read_table(path)
        except FileNotFoundError:
            raise NotMaterializedError(
                f"{asset} partition {partition} is not materialized at {path}", file=path, hint=source_hint(asset, partition)
            ) from None

    return open_source


def upstream_versions(mixture: Mixture, root: str) -> dict[str, str | None]:
    """``"<asset>@<partition>"`` → the data version recorded in that partition's file (None: not recorded or absent)."""
    out: dict[str, str | None] = {}
    for asset, partition in mixture.upstream:
        version = None
        with contextlib.suppress(FileNotFoundError, OSError, pa.ArrowInvalid):
            value = (read_schema(DataLayout(root).location(partition_relpath(asset, partition))).metadata or {}).get(VERSION_KEY)
            version = value.decode() if value else None
        out[f"{asset}@{partition}"] = version
    return out


def code_version(mixture: Mixture) -> str:
    """The asset's code version: the build's and the entry's (editing the entry marks the asset stale)."""
    return f"mixture-{MIXTURE_VERSION}-{mixture.version()}"


def mixture_data_version(mixture: Mixture, upstream: Mapping[str, str | None]) -> str | None:
    """A hash of the sources' data versions, the entry and the build's version; None if a source records none."""
    if any(v is None for v in upstream.values()):
        return None
    return digest("mixture", sorted(upstream.items()), mixture.canonical(), code_version(mixture))


def mixture_checks(stats: MixtureStats, previous: int | None) -> list[CheckOutcome]:
    """Outcomes of :data:`MIXTURE_CHECKS` for a staged mixture (``previous``: published train rows)."""
    check = check_proportions(stats)
    bounds = {
        b.label: {"requested": b.requested, "realized": b.realized, "tolerance": b.tolerance, "passed": b.passed}
        for b in check.sources
    }
    return [
        PROPORTIONS.outcome(check.passed, check.description, draws=check.draws, z=check.z, alpha=check.alpha, sources=bounds),
        row_count(stats.total_rows, previous),
    ]


@dataclass(frozen=True)
class MixtureWritten:
    """A published mixture: its stats, the check outcomes, the train rows it replaced, cleaned temporaries;
    ``unchanged`` when the published files already had the data version (nothing was rewritten)."""

    stats: MixtureStats
    outcomes: list[CheckOutcome]
    previous_rows: int | None
    removed_temporaries: list[str]
    train: Path
    test: Path | None
    unchanged: bool = False


def stats_file(train: Path) -> Path:
    """``mixture/<name>/stats.json``: the published build's data version and :class:`MixtureStats`."""
    return train.parent / STATS_FILE


def _file_version(path: Path) -> str | None:
    with contextlib.suppress(FileNotFoundError, OSError, pa.ArrowInvalid):
        value = (read_schema(path).metadata or {}).get(VERSION_KEY)
        return value.decode() if value else None
    return None


def published_stats(mixture: Mixture, train: Path, test: Path, version: str | None) -> MixtureStats | None:
    """The stats of the published build when its files and record all carry ``version`` (else None)."""
    if version is None or _file_version(train) != version:
        return None
    if mixture.test_size and _file_version(test) != version:
        return None
    if not mixture.test_size and test.exists():
        return None
    with contextlib.suppress(FileNotFoundError, OSError, ValueError, KeyError, TypeError):
        record = json.loads(stats_file(train).read_text(encoding="utf-8"))
        if record.get("data_version") == version:
            return MixtureStats.from_record(record["stats"])
    return None


def write_mixture(
    mixture: Mixture, root: str, *, started: float | None = None, workers: int | None = None, version: str | None = None
) -> MixtureWritten:
    """Stage, check and publish ``mixture`` under ``root`` (see the module docstring).

    ``version`` (:func:`mixture_data_version`) is written into both files' schema metadata and
    ``stats.json``; when the published files already carry it, nothing is rewritten: the checks are
    evaluated again on the recorded stats and ``unchanged`` is set. A published ``test.arrow`` of an
    entry that no longer holds rows out is removed with the publication.
    """
    require_local(root, mixture.name)
    train, test = mixture_file(root, mixture.name, "train"), mixture_file(root, mixture.name, "test")
    removed = remove_stale_temporaries(train, older_than=started) + remove_stale_temporaries(test, older_than=started)
    removed += remove_stale_temporaries(stats_file(train), older_than=started)
    previous = published_rows(train)
    recorded = published_stats(mixture, train, test, version)
    if recorded is not None:
        outcomes = mixture_checks(recorded, previous)
        raise_if_blocked(outcomes)
        return MixtureWritten(recorded, outcomes, previous, removed, train, test if mixture.test_size else None, unchanged=True)
    train.parent.mkdir(parents=True, exist_ok=True)
    outcomes: list[CheckOutcome] = []

    def gate(stats: MixtureStats) -> None:
        outcomes.extend(mixture_checks(stats, previous))
        raise_if_blocked(outcomes)

    stats = build_mixture(
        mixture, partition_opener(root), train, test if mixture.test_size else None, workers=workers, before_publish=gate,
        schema_metadata={VERSION_KEY: version.encode()} if version is not None else None,
    )
    if not mixture.test_size:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(test)
            fsync_dir(test.parent)
    with atomic_local_file(stats_file(train)) as tmp:  # after the files: a crash in between only costs a rebuild
        tmp.write_text(json.dumps({"data_version": version, "stats": stats.to_record()}, sort_keys=True), encoding="utf-8")
    return MixtureWritten(stats, outcomes, previous, removed, train, test if mixture.test_size else None)


def source_table(stats: MixtureStats) -> list[dict[str, Any]]:
    """Per source: rows, requested and realized proportion, draws, exhausted, restarts (for metadata)."""
    return [
        {
            "source": s.label,
            "source_rows": s.source_rows,
            "held_out": s.held_out,
            "weight": s.weight,
            "requested": s.probability,
            "rows": s.rows,
            "realized": s.proportion,
            "draws": s.draws,
            "exhausted": s.exhausted,
            "restarts": s.restarts,
        }
        for s in stats.sources
    ]


def source_markdown(stats: MixtureStats) -> str:
    """:func:`source_table` as a Markdown table."""
    head = "| source | rows | requested | realized | draws | exhausted | restarts |\n|---|---:|---:|---:|---:|---|---:|"
    lines = [
        f"| `{r['source']}` | {r['rows']:,} | {r['requested']:.4f} | {r['realized']:.4f} | {r['draws']:,} | "
        f"{'yes' if r['exhausted'] else 'no'} | {r['restarts']} |"
        for r in source_table(stats)
    ]
    return "\n".join([head, *lines])


def known_profiles() -> tuple[str, ...] | None:
    """The tokenizer profile names, broken ones included (their partitions exist and fail with the profile's error);
    None when the profiles file cannot be read."""
    from ..tokenize.profiles import read_profiles_file

    try:
        read = read_profiles_file()
    except (DatasetsPipelineError, OSError, ValueError):
        return None
    return None if read.error is not None else read.names


def load_mixture_file() -> MixturesFile:
    """The mixtures file as the code location and ``load()`` see it (tokenized sources checked against the profiles)."""
    return load_mixtures(profiles=known_profiles())
