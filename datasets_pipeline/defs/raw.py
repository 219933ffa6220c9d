"""``raw/<name>``: an exact Arrow mirror of one Hub (config, split), pinned to a commit sha.

The asset stages the file, evaluates its checks, and publishes only if the blocking ones pass
(:mod:`datasets_pipeline.steps.staging`); the IO manager loads it for ``cookbook/<name>``.
"""


import hashlib
import time
import warnings

import dagster as dg

from ..catalog.spec import DatasetSpec
from ..paths import check_partition_key
from ..steps.checks import RAW_CHECKS, raw_checks
from ..steps.raw import RAW_VERSION, raw_stream
from ..steps.staging import publish_checked, stage_split
from .checks import check_results, check_specs, gated
from .metadata import table_metadata
from .partitions import split_partitions
from .spec_metadata import spec_metadata

HUB_POOL = "hf_hub"


def build_raw_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """The raw mirror asset of one catalog dataset, partitioned by ``"<config>/<split>"``."""
    key = dg.AssetKey(["raw", spec.name])

    @dg.asset(
        key=key,
        partitions_def=split_partitions(spec.name),
        group_name=spec.group,
        kinds={"huggingface", "arrow"},
        description=f"Raw mirror of {spec.repo_id} ({spec.hub_url}), one (config, split) per partition, "
        f"pinned to the commit sha of revision {spec.revision!r}.",
        metadata=spec_metadata(spec),
        code_version=f"reader-{RAW_VERSION}",
        pool=HUB_POOL,
        io_manager_key="arrow_io_manager",
        required_resource_keys={"hub", "arrow_io_manager"},
        tags={"family": spec.family},
        check_specs=check_specs(key, RAW_CHECKS, split_partitions(spec.name)),
    )
    def _raw(context: dg.AssetExecutionContext):
        started = time.time()
        config, split = check_partition_key(context.partition_key)
        hub = context.resources.hub
        path = context.resources.arrow_io_manager.split_path(key.path, context.partition_key)
        context.log.info(f"{spec.name}: fetching {spec.repo_id} {config}/{split} at {spec.revision!r} from {hub.describe()}")

        def run():
            files = hub.source().fetch_split(spec.repo_id, config, split, revision=spec.revision)
            context.log.info(f"{spec.name}: {len(files.files)} file(s) at commit {files.sha} ({files.origin})")
            stream = raw_stream(spec, files)
            with stage_split(str(path), stream, started=started) as staged:
                if staged.removed_temporaries:
                    context.log.warning(f"removed stale temporaries of {path}: {staged.removed_temporaries}")
                outcomes = raw_checks(staged.stats.rows, staged.previous_rows)
                extra = {**stream.lineage, **stream.stats}
                metadata = table_metadata(staged.read(), staged.stats, extra, partitioned=True)
                publish_checked(staged, outcomes)
            return files, outcomes, metadata

        files, outcomes, metadata = yield from gated(run, key.to_user_string(), dataset=spec.name, config=config, split=split)
        version = hashlib.sha256("".join(f.sha256 for f in files.files).encode()).hexdigest()[:16]
        with warnings.catch_warnings():  # data_version is a beta parameter
            warnings.simplefilter("ignore", dg.BetaWarning)
            yield dg.MaterializeResult(
                metadata=metadata, check_results=check_results(outcomes), data_version=dg.DataVersion(version)
            )

    return _raw
