"""``cookbook/<name>``: raw rows normalized to the dataset's family columns, each with a ``uid``."""


import dagster as dg
import pyarrow as pa

from ..catalog.spec import DatasetSpec
from ..errors import DatasetsPipelineError
from ..families import FAMILIES
from ..paths import check_partition_key
from ..steps.cookbook import convert_stream
from .metadata import column_schema
from .partitions import split_partitions
from .spec_metadata import spec_metadata


def build_cookbook_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """The normalized asset of one catalog dataset, with its family-rule and duplicate-uid checks."""
    key = dg.AssetKey(["cookbook", spec.name])
    checks = [
        dg.AssetCheckSpec(
            "family_rules", asset=key, blocking=True, description=f"Every row satisfies the {spec.family} family's rules."
        ),
        dg.AssetCheckSpec(
            "duplicate_uids", asset=key, description="Rows whose uid repeats (a warning: dedup is an explicit step)."
        ),
    ]

    @dg.asset(
        key=key,
        ins={"raw": dg.AssetIn(key=["raw", spec.name])},
        partitions_def=split_partitions(spec.name),
        group_name=spec.group,
        kinds={"arrow"},
        description=f"{spec.name} as {spec.family} rows ({', '.join(spec.schema.names)}).\n\n{spec.description}",
        metadata=spec_metadata(spec)
        | {"dagster/column_schema": column_schema(spec.schema, FAMILIES[spec.family].cookbook_docs)},
        code_version=f"{spec.family}-{spec.converter.version}",
        io_manager_key="arrow_io_manager",
        tags={"family": spec.family},
        check_specs=checks,
    )
    def _cookbook(context: dg.AssetExecutionContext, raw: pa.Table):
        config, split = check_partition_key(context.partition_key)
        try:
            stream = convert_stream(spec, raw, config, split)
            yield dg.Output(stream)
        except DatasetsPipelineError as exc:
            raise exc.with_context(dataset=spec.name, config=config, split=split)
        stats = stream.stats
        context.log.info(
            f"{spec.name} {config}/{split}: kept {stats['rows_kept']} of {stats['rows_in']} rows; dropped "
            f"{stats['dropped_by_reason'] or 'none'}; {stats['duplicate_uids']} duplicate uid(s)"
        )
        broken = {rule: n for rule, n in stats["rule_violations"].items() if n}
        yield dg.AssetCheckResult(
            check_name="family_rules", passed=not broken, metadata={"violations": stats["rule_violations"]}
        )
        yield dg.AssetCheckResult(
            check_name="duplicate_uids",
            passed=stats["duplicate_uids"] == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"duplicate_uids": stats["duplicate_uids"], "rows": stats["rows_kept"]},
        )

    return _cookbook
