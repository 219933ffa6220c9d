"""Interleaved mixtures declared in ``mixtures.yaml`` (no Dagster imports).

:mod:`.config` parses and validates the file, :mod:`.plan` decides which source rows go where
(the interleave of ``datasets.interleave_datasets`` and the cookbook's held-out split),
:mod:`.build` writes the rows to Arrow IPC files batch by batch, :mod:`.stats` reports them.
"""

from .build import MixtureBuildError, OpenSource, build_mixture
from .config import (
    InvalidMixture,
    Mixture,
    MixtureError,
    MixtureSource,
    MixturesFile,
    MixturesFileError,
    load_mixtures,
    mixtures_path,
    parse_mixtures,
)
from .stats import MixtureStats, ProportionCheck, SourceStats, check_proportions

__all__ = [
    "InvalidMixture", "Mixture", "MixtureBuildError", "MixtureError", "MixtureSource", "MixtureStats", "MixturesFile",
    "MixturesFileError", "OpenSource", "ProportionCheck", "SourceStats", "build_mixture", "check_proportions",
    "load_mixtures", "mixtures_path", "parse_mixtures",
]
