"""``raw/<name>``: an exact Arrow mirror of one Hub (config, split), pinned to a commit sha."""


import hashlib
import warnings

import dagster as dg

from ..catalog.spec import DatasetSpec
from ..errors import DatasetsPipelineError
from ..paths import check_partition_key
from ..steps.raw import RAW_VERSION, raw_stream
from .partitions import split_partitions
from .resources import HubResource
from .spec_metadata import spec_metadata

HUB_POOL = "hf_hub"


def build_raw_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """The raw mirror asset of one catalog dataset, partitioned by ``"<config>/<split>"``."""

    @dg.asset(
        key=["raw", spec.name],
        partitions_def=split_partitions(spec.name),
        group_name=spec.group,
        kinds={"huggingface", "arrow"},
        description=f"Raw mirror of {spec.repo_id} ({spec.hub_url}), one (config, split) per partition, "
        f"pinned to the commit sha of revision {spec.revision!r}.",
        metadata=spec_metadata(spec),
        code_version=RAW_VERSION,
        pool=HUB_POOL,
        io_manager_key="arrow_io_manager",
        tags={"family": spec.family},
        check_specs=[dg.AssetCheckSpec("has_rows", asset=["raw", spec.name], description="The split has at least one row.")],
    )
    def _raw(context: dg.AssetExecutionContext, hub: HubResource):
        config, split = check_partition_key(context.partition_key)
        context.log.info(f"{spec.name}: fetching {spec.repo_id} {config}/{split} at {spec.revision!r} from {hub.describe()}")
        try:
            files = hub.source().fetch_split(spec.repo_id, config, split, revision=spec.revision)
            stream = raw_stream(spec, files)
        except DatasetsPipelineError as exc:
            raise exc.with_context(dataset=spec.name, config=config, split=split)
        context.log.info(f"{spec.name}: {len(files.files)} file(s) at commit {files.sha} ({files.origin})")
        version = hashlib.sha256("".join(f.sha256 for f in files.files).encode()).hexdigest()[:16]
        with warnings.catch_warnings():  # data_version is a beta parameter of Output
            warnings.simplefilter("ignore", dg.BetaWarning)
            output = dg.Output(stream, data_version=dg.DataVersion(version))
        yield output
        rows = sum(stream.stats.get("rows_per_file", {}).values())
        yield dg.AssetCheckResult(
            check_name="has_rows", passed=rows > 0, severity=dg.AssetCheckSeverity.WARN, metadata={"rows": rows}
        )

    return _raw
