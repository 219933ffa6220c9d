"""``mixture/<name>``: one asset per entry of the ``mixtures:`` section of ``mixtures.yaml``.

The asset depends on exactly its source partitions (``cookbook/<name>`` ``"<config>/<split>"`` or
``tokenized/<name>`` ``"<profile>|<config>/<split>"``), so lineage shows in the UI. It opens the
source files by memory map and writes ``mixture/<name>/train.arrow`` (and ``test.arrow``) through
stage → check → publish (:func:`datasets_pipeline.steps.mixture.write_mixture`): the blocking
``proportions`` and ``row_count`` checks run on the staged files, and a failure keeps the
published version. The data version (sources' versions, entry, code version) is recorded in the
files' schema; when the published files already carry it nothing is rewritten (``unchanged``).

A broken entry does not fail the code location: it becomes an asset of the same key without
dependencies whose description is the error (file, line, entry, field) and whose materialization
fails with that message; the error is also logged when the code location loads.
"""

import json
import logging
import re
import time
import warnings
from collections import defaultdict

import dagster as dg

from ..catalog import get_spec
from ..engine.ipc import read_schema, read_table
from ..mixtures.config import Mixture, MixtureError
from ..steps.mixture import (
    MIXTURE_CHECKS,
    code_version,
    load_mixture_file,
    mixture_data_version,
    require_local,
    source_markdown,
    source_table,
    upstream_versions,
    write_mixture,
)
from ..steps.presentation import LAYER_KINDS, LAYER_SUMMARY, OWNER, human_bytes
from ..steps.preview import markdown_preview
from ..steps.versions import UNCHANGED_NOTE
from .automation_conditions import follow_upstream
from .checks import check_results, check_specs, gated
from .metadata import column_schema
from .placeholders import broken_asset

log = logging.getLogger(__name__)
GROUP = "mixtures"
_ASSET_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _family(mixture: Mixture) -> str:
    families = {get_spec(s.dataset).family for s in mixture.sources}
    return families.pop() if len(families) == 1 else "mixed"


def _description(mixture: Mixture) -> str:
    text = f"mixture layer: {LAYER_SUMMARY['mixture']}. The mixture `{mixture.name}` of {mixture.file}"
    text += f": {mixture.description}." if mixture.description else "."
    sources = ", ".join(f"`{s.label}`" + (f" (weight {s.weight:g})" if s.weight is not None else "") for s in mixture.sources)
    return (
        f"{text}\n\nSources: {sources}; seed {mixture.seed}, {mixture.stopping_strategy}"
        + (f", {mixture.test_size:,} held-out rows" if mixture.test_size else "")
        + f". Load it with `datasets_pipeline.load({mixture.name!r}, layer='mixture')`."
    )


def build_mixture_asset(mixture: Mixture) -> dg.AssetsDefinition:
    """The asset of ``mixture``: unpartitioned, one dependency per source asset on exactly its partitions."""
    key = dg.AssetKey(["mixture", mixture.name])
    by_asset: dict[str, list[str]] = defaultdict(list)
    for asset, partition in mixture.upstream:
        by_asset[asset].append(partition)

    @dg.asset(
        key=key,
        deps=[
            dg.AssetDep(dg.AssetKey(asset.split("/")), partition_mapping=dg.SpecificPartitionsPartitionMapping(partitions))
            for asset, partitions in by_asset.items()
        ],
        group_name=GROUP,
        kinds=set(LAYER_KINDS["mixture"]),
        owners=[OWNER],
        tags={"family": _family(mixture), "layer": "mixture", "mixture": mixture.name},
        description=_description(mixture),
        metadata={
            "layer": "mixture",
            "mixture": mixture.name,
            "mixture_file": str(mixture.file),
            "mixture_line": mixture.line or 0,
            "mixture_definition": dg.MetadataValue.json(json.loads(mixture.canonical())),
            "splits": dg.MetadataValue.json(list(mixture.splits)),
        },
        automation_condition=follow_upstream(),
        code_version=code_version(mixture),
        required_resource_keys={"arrow_io_manager"},
        check_specs=check_specs(key, MIXTURE_CHECKS),
    )
    def _mixture(context: dg.AssetExecutionContext):
        started = time.time()
        root = context.resources.arrow_io_manager.root

        def run():
            require_local(root, mixture.name)
            upstream = upstream_versions(mixture, root)
            return upstream, write_mixture(mixture, root, started=started, version=mixture_data_version(mixture, upstream))

        upstream, written = yield from gated(run, key.to_user_string(), dataset=mixture.name)
        if written.removed_temporaries:
            context.log.warning(f"removed stale temporaries of {written.train.parent}: {written.removed_temporaries}")
        stats = written.stats
        context.log.info(
            f"mixture/{mixture.name}: {stats.total_rows:,} train rows, {stats.test_rows:,} test rows; "
            f"exhausted: {', '.join(stats.exhausted) or 'none'}" + ("; unchanged, nothing rewritten" if written.unchanged else "")
        )
        version = mixture_data_version(mixture, upstream)
        metadata = {
            "path": dg.MetadataValue.path(str(written.train)),
            "dagster/row_count": dg.MetadataValue.int(stats.total_rows),
            "dagster/column_schema": column_schema(read_schema(written.train)),
            "total_rows": dg.MetadataValue.int(stats.total_rows),
            "test_rows": dg.MetadataValue.int(stats.test_rows),
            "seed": dg.MetadataValue.int(stats.seed),
            "stopping_strategy": dg.MetadataValue.text(stats.stopping_strategy),
            "max_rows": dg.MetadataValue.text(str(stats.max_rows)),
            "capped": dg.MetadataValue.bool(stats.capped),
            "sources": dg.MetadataValue.json(source_table(stats)),
            "proportions": dg.MetadataValue.md(source_markdown(stats)),
            "exhausted_sources": dg.MetadataValue.json(list(stats.exhausted)),
            "restarts": dg.MetadataValue.json({s.label: s.restarts for s in stats.sources}),
            "upstream_data_versions": dg.MetadataValue.json(upstream),
            "entry_version": dg.MetadataValue.text(mixture.version()),
            "bytes": dg.MetadataValue.int(stats.train_bytes + stats.test_bytes),
            "size": dg.MetadataValue.text(human_bytes(stats.train_bytes + stats.test_bytes)),
            "preview": dg.MetadataValue.md(markdown_preview(read_table(written.train).slice(0, 5))),
        }
        if version is not None:
            metadata["data_version"] = dg.MetadataValue.text(version)
        if written.unchanged:
            metadata["unchanged"] = dg.MetadataValue.text(UNCHANGED_NOTE)
        if written.test is not None:
            metadata["test_path"] = dg.MetadataValue.path(str(written.test))
        with warnings.catch_warnings():  # data_version is a beta parameter
            warnings.simplefilter("ignore", dg.BetaWarning)
            yield dg.MaterializeResult(
                metadata=metadata,
                check_results=check_results(written.outcomes),
                data_version=dg.DataVersion(version) if version else None,
            )

    return _mixture


def build_broken_mixture_asset(error: MixtureError) -> dg.AssetsDefinition:
    """An asset that shows ``error`` in the UI and fails with it when materialized."""
    return broken_asset(
        ["mixture", error.name], error.message, title="INVALID MIXTURE", group=f"{GROUP}_invalid",
        kinds=set(LAYER_KINDS["mixture"]), tags={"layer": "mixture", "mixture": error.name},
        metadata={"mixture": error.name},
    )


def mixture_assets() -> list[dg.AssetsDefinition]:
    """An asset per mixture of the mixtures file; broken entries as failing assets (and a logged error)."""
    mixtures = load_mixture_file()
    assets = []
    for name in mixtures.names:
        if name in mixtures.mixtures:
            assets.append(build_mixture_asset(mixtures.mixtures[name]))
        elif name in mixtures.errors:
            log.error("%s", mixtures.errors[name].message)
            if _ASSET_NAME.match(name):  # else the name cannot be an asset key: the log is all there is
                assets.append(build_broken_mixture_asset(mixtures.errors[name]))
    return assets
