"""``sample/<name>``: a seeded reservoir sample of each cookbook split, labelled train / val / test.

Settings: the ``samples:`` section of ``tokenizers.yaml`` (:mod:`datasets_pipeline.tokenize.samples`);
the work: :mod:`datasets_pipeline.steps.sample`.
"""

import warnings

import dagster as dg
import pyarrow as pa

from ..catalog.spec import DatasetSpec
from ..engine.reservoir import RESERVOIR_ALGORITHM, sampling_stats
from ..paths import check_partition_key
from ..steps.checks import raise_if_blocked
from ..steps.presentation import OWNER
from ..steps.sample import (
    SAMPLE_CODE_VERSION,
    SAMPLE_ROWS,
    draw_sample,
    published_sample_version,
    publish_sample,
    raw_revision,
    read_sample,
    sample_checks,
    sample_folder,
    sample_version,
)
from ..steps.tokenized import upstream_version
from ..steps.versions import UNCHANGED_NOTE, digest
from ..tokenize.samples import SampleSpec
from .automation_conditions import refresh_materialized
from .checks import check_results, check_specs, gated
from .metadata import metadata_value
from .partitions import split_partitions
from .placeholders import broken_asset


def build_sample_asset(spec: DatasetSpec, samples: SampleSpec) -> dg.AssetsDefinition:
    key = dg.AssetKey(["sample", spec.name])
    parts = split_partitions(spec.name)

    @dg.asset(
        key=key,
        ins={"rows": dg.AssetIn(key=["cookbook", spec.name])},
        partitions_def=parts,
        group_name="samples",
        kinds={"sample", "arrow"},
        owners=[OWNER],
        tags={"family": spec.family, "layer": "sample"},
        description=(
            f"sample layer: a seeded reservoir sample of {samples.k} rows of each cookbook split of {spec.name}, "
            f"each row labelled with a split ({', '.join(samples.splits)}); settings: the samples: section of tokenizers.yaml."
        ),
        metadata={"layer": "sample", "settings": dg.MetadataValue.json(samples.settings()), "algorithm": RESERVOIR_ALGORITHM},
        code_version=f"{SAMPLE_CODE_VERSION}-{digest(samples.canonical())}",
        automation_condition=refresh_materialized(),
        required_resource_keys={"arrow_io_manager"},
        check_specs=check_specs(key, (SAMPLE_ROWS,), parts),
    )
    def _sample(context: dg.AssetExecutionContext, rows: pa.Table):
        config, split = check_partition_key(context.partition_key)
        root = context.resources.arrow_io_manager.root

        def run():
            folder = sample_folder(root, spec.name, config, split)
            version = sample_version(upstream_version(rows), samples)
            unchanged = version is not None and published_sample_version(folder) == version
            table = read_sample(folder) if unchanged else draw_sample(rows, samples)
            outcomes = sample_checks(table, samples)
            raise_if_blocked(outcomes)
            if not unchanged:
                publish_sample(table, folder, version=version, source=f"cookbook/{spec.name}@{config}/{split}",
                               revision=raw_revision(root, spec.name, config, split), spec=samples)
            return folder, version, unchanged, table, outcomes

        folder, version, unchanged, table, outcomes = yield from gated(
            run, key.to_user_string(), dataset=spec.name, config=config, split=split
        )
        stats = sampling_stats(table) or {}
        counts = outcomes[0].metadata["splits"]
        meta = {
            "path": dg.MetadataValue.path(str(folder / "manifest.arrow")),
            "dagster/row_count": table.num_rows,
            "dagster/partition_row_count": table.num_rows,
            "splits": counts,
            "seed": samples.seed, "k": samples.k,
            "filters": {"min_chars": samples.min_chars, "max_chars": samples.max_chars},
            "algorithm": RESERVOIR_ALGORITHM,
            "rows_seen": stats.get("seen"), "dropped_short": stats.get("dropped_short"), "dropped_long": stats.get("dropped_long"),
            "revision": raw_revision(root, spec.name, config, split),
            "data_version": version,
        }
        if unchanged:
            meta["unchanged"] = UNCHANGED_NOTE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)
            yield dg.MaterializeResult(
                metadata={k: v if isinstance(v, dg.MetadataValue) else metadata_value(v) for k, v in meta.items()},
                check_results=check_results(outcomes),
                data_version=dg.DataVersion(version) if version else None,
            )

    return _sample


def build_broken_sample_asset(spec: DatasetSpec, message: str) -> dg.AssetsDefinition:
    """``sample/<name>`` when the ``samples:`` settings are invalid: same key and partitions, the error as its
    description, and every partition's materialization fails with it."""
    return broken_asset(
        ["sample", spec.name], message, title="INVALID SAMPLE SETTINGS", group="samples", kinds={"sample", "arrow"},
        tags={"family": spec.family, "layer": "sample"},
        ins={"rows": dg.AssetIn(key=["cookbook", spec.name], dagster_type=dg.Nothing)},
        partitions_def=split_partitions(spec.name),
    )
