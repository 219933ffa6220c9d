"""``cookbook/<name>``: raw rows normalized to the dataset's family columns, each with a ``uid``.

Staged, checked (family rules and row count block; duplicate uids and quality warn), then published;
the materialization records the raw file's lineage (Hub revision sha, source files with sha256).
When the raw file's version and the converter's code version equal the published file's, nothing is
recomputed (:mod:`datasets_pipeline.steps.versions`). Follows ``raw/<name>`` by declarative automation.
"""

import time
import warnings

import dagster as dg
import pyarrow as pa

from ..catalog.spec import DatasetSpec
from ..engine.ipc import read_table
from ..engine.uid import UID_ALGORITHM
from ..paths import check_partition_key
from ..steps.checks import COOKBOOK_CHECKS, cookbook_checks
from ..steps.cookbook import convert_stream
from ..steps.raw import file_lineage
from ..steps.staging import publish_checked, stage_split
from ..steps.versions import UNCHANGED_NOTE, cookbook_stats, cookbook_version, published_version, with_version
from .automation_conditions import follow_upstream
from .checks import check_results, check_specs, gated
from .metadata import table_metadata
from .partitions import split_partitions
from .spec_metadata import layer_attributes


def build_cookbook_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """The normalized asset of one catalog dataset, with its family-rule, row-count, duplicate-uid and quality checks."""
    key = dg.AssetKey(["cookbook", spec.name])
    code_version = f"{spec.family}-{spec.converter.version}-{UID_ALGORITHM}"

    @dg.asset(
        key=key,
        ins={"raw": dg.AssetIn(key=["raw", spec.name])},
        partitions_def=split_partitions(spec.name),
        **layer_attributes(spec, "cookbook", f"{spec.family} columns: {', '.join(spec.schema.names)}."),
        code_version=code_version,
        automation_condition=follow_upstream(),
        io_manager_key="arrow_io_manager",
        required_resource_keys={"arrow_io_manager"},
        check_specs=check_specs(
            key, COOKBOOK_CHECKS, split_partitions(spec.name),
            family_rules=f"Every row satisfies the {spec.family} family's rules.",
        ),
    )
    def _cookbook(context: dg.AssetExecutionContext, raw: pa.Table):
        started = time.time()
        config, split = check_partition_key(context.partition_key)
        path = context.resources.arrow_io_manager.split_path(key.path, context.partition_key)
        upstream = file_lineage(raw.schema)
        if not upstream:
            context.log.warning(f"raw/{spec.name} {config}/{split} records no lineage: materialize it again to record it")
        version = cookbook_version(raw.schema, code_version)
        if version is not None and version == published_version(str(path), "cookbook"):
            published = read_table(str(path))
            rows = published.num_rows
            outcomes = cookbook_checks(cookbook_stats(published, spec.family), rows, rows)
            context.log.info(f"{spec.name} {config}/{split}: {UNCHANGED_NOTE} (data version {version}); checks re-evaluated")
            with warnings.catch_warnings():  # data_version is a beta parameter
                warnings.simplefilter("ignore", dg.BetaWarning)
                yield dg.MaterializeResult(
                    metadata={
                        "unchanged": dg.MetadataValue.text(UNCHANGED_NOTE),
                        "dagster/row_count": dg.MetadataValue.int(rows),
                        "dagster/partition_row_count": dg.MetadataValue.int(rows),
                    },
                    data_version=dg.DataVersion(version),
                    check_results=check_results(outcomes),
                )
            return

        def run():
            stream = convert_stream(spec, raw, config, split)
            stream.schema = with_version(stream.schema, version)
            with stage_split(str(path), stream, started=started) as staged:
                if staged.removed_temporaries:
                    context.log.warning(f"removed stale temporaries of {path}: {staged.removed_temporaries}")
                stats = stream.stats
                outcomes = cookbook_checks(stats, staged.stats.rows, staged.previous_rows)
                extra = {**upstream, **stream.lineage, **stats}
                metadata = table_metadata(staged.read(), staged.stats, extra, partitioned=True, family=spec.family)
                publish_checked(staged, outcomes)
            return stats, outcomes, metadata

        stats, outcomes, metadata = yield from gated(run, key.to_user_string(), dataset=spec.name, config=config, split=split)
        context.log.info(
            f"{spec.name} {config}/{split}: kept {stats['rows_kept']} of {stats['rows_in']} rows; dropped "
            f"{stats['dropped_by_reason'] or 'none'}; {stats['duplicate_uids']} duplicate uid(s)"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)
            yield dg.MaterializeResult(
                metadata=metadata, check_results=check_results(outcomes),
                data_version=dg.DataVersion(version) if version else None,
            )

    return _cookbook
