"""``raw/<name>``: an exact Arrow mirror of one Hub (config, split), pinned to a commit sha.

The asset stages the file, evaluates its checks, and publishes only if the blocking ones pass
(:mod:`datasets_pipeline.steps.staging`); the IO manager loads it for ``cookbook/<name>``. When the
source files (sha256) and the reader version equal the published file's, nothing is rewritten and
the materialization is marked unchanged with the same data version. Transient Hub faults are
retried with exponential backoff; other errors and failed blocking checks are not.
"""


import os
import time
import warnings

import dagster as dg

from ..catalog.spec import DatasetSpec
from ..errors import RetryBudgetExceeded, TransientSourceError
from ..paths import check_partition_key
from ..steps.checks import RAW_CHECKS, raw_checks
from ..steps.raw import RAW_VERSION, raw_stream
from ..steps.staging import publish_checked, published_rows, stage_split
from ..steps.versions import UNCHANGED_NOTE, published_version, raw_version
from .checks import check_results, check_specs, gated
from .metadata import metadata_value, table_metadata
from .partitions import split_partitions
from .spec_metadata import layer_attributes

HUB_POOL = "hf_hub"
RETRY_DELAY_ENV = "DATASETS_PIPELINE_HUB_RETRY_DELAY"


def hub_retry_policy() -> dg.RetryPolicy:
    """Step retries for transient Hub faults (5xx, 429, dropped connections) that outlast the client's own
    retries: 3 more attempts, exponential backoff from ``DATASETS_PIPELINE_HUB_RETRY_DELAY`` seconds (10), jittered."""
    delay = float(os.environ.get(RETRY_DELAY_ENV, "10"))
    return dg.RetryPolicy(max_retries=3, delay=delay, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def is_retryable(exc: BaseException) -> bool:
    """A transient Hub fault the step may retry; not one that already spent the step's retry-wait budget."""
    return isinstance(exc, TransientSourceError) and not isinstance(exc, RetryBudgetExceeded)


def _result(**kwargs) -> dg.MaterializeResult:
    with warnings.catch_warnings():  # data_version is a beta parameter
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.MaterializeResult(**kwargs)


def build_raw_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """The raw mirror asset of one catalog dataset, partitioned by ``"<config>/<split>"``."""
    key = dg.AssetKey(["raw", spec.name])

    @dg.asset(
        key=key,
        partitions_def=split_partitions(spec.name),
        **layer_attributes(
            spec, "raw",
            f"Mirror of {spec.repo_id} ({spec.hub_url}), one (config, split) per partition, pinned to the "
            f"commit sha of revision {spec.revision!r}.",
        ),
        code_version=f"reader-{RAW_VERSION}",
        pool=HUB_POOL,
        retry_policy=hub_retry_policy(),
        io_manager_key="arrow_io_manager",
        required_resource_keys={"hub", "arrow_io_manager"},
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
            version = raw_version([{"path": f.path, "sha256": f.sha256} for f in files.files])
            if version == published_version(str(path), "raw"):
                rows = published_rows(str(path)) or 0
                return files, version, raw_checks(rows, rows), {
                    "unchanged": dg.MetadataValue.text(UNCHANGED_NOTE),
                    "dagster/row_count": dg.MetadataValue.int(rows),
                    "dagster/partition_row_count": dg.MetadataValue.int(rows),
                    "revision_sha": metadata_value(files.sha),
                }
            stream = raw_stream(spec, files)
            with stage_split(str(path), stream, started=started) as staged:
                if staged.removed_temporaries:
                    context.log.warning(f"removed stale temporaries of {path}: {staged.removed_temporaries}")
                outcomes = raw_checks(staged.stats.rows, staged.previous_rows)
                extra = {**stream.lineage, **stream.stats}
                metadata = table_metadata(staged.read(), staged.stats, extra, partitioned=True)
                publish_checked(staged, outcomes)
            return files, version, outcomes, metadata

        files, version, outcomes, metadata = yield from gated(
            run, key.to_user_string(), retry_only=is_retryable, dataset=spec.name, config=config, split=split
        )
        if "unchanged" in metadata:
            context.log.info(f"{spec.name} {config}/{split}: {UNCHANGED_NOTE} (commit {files.sha}, data version {version})")
        yield _result(metadata=metadata, check_results=check_results(outcomes), data_version=dg.DataVersion(version))

    return _raw
