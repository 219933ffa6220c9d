"""``dataset_dict/<name>``: one folder per config in the exact ``save_to_disk`` layout.

Checks first (every split the plan needs is materialized), then a new version folder is written and
checked, and only then switched in (:func:`datasets_pipeline.steps.dataset_dict.write_dataset_dict`).
"""


from pathlib import Path
from typing import Any, Mapping

import dagster as dg
import pyarrow as pa

from ..catalog.spec import DatasetSpec
from ..layout import DataLayout
from ..paths import check_segment
from ..steps.checks import DATASET_DICT_CHECKS, complete_splits
from ..steps.dataset_dict import WRITER_VERSION, plan_splits, plan_version, required_splits, write_dataset_dict
from ..steps.presentation import human_bytes
from .automation_conditions import follow_upstream
from .checks import check_results, check_specs, gated
from .partitions import config_partitions, splits_of_config
from .spec_metadata import layer_attributes


def dataset_dict_folder(root: str, name: str, config: str) -> Path | str:
    """``<root>/dataset_dict/<name>/<config>`` (a symlink to the current version, or a pointer when remote)."""
    layout = DataLayout(root)
    target = layout.dataset_dict(name, config)
    return target if layout.remote else Path(target)


def _by_partition(context: dg.AssetExecutionContext, input_name: str, value: Any) -> dict[str, pa.Table]:
    """An input of one or many partitions as ``{partition_key: table}`` (missing partitions left out)."""
    keys = list(context.asset_partition_keys_for_input(input_name))
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if v is not None}
    return {keys[0]: value} if value is not None else {}


def _result(path: Path | str, written: dict[str, Any], splits: dict[str, int]) -> dg.MaterializeResult:
    stats = written["stats"]
    return dg.MaterializeResult(
        check_results=check_results(written["outcomes"]),
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "splits": dg.MetadataValue.json(splits),
            "dagster/row_count": sum(splits.values()),
            "shards": dg.MetadataValue.json({s: len(v.files) for s, v in stats.splits.items()}),
            "bytes": stats.num_bytes,
            "size": dg.MetadataValue.text(human_bytes(stats.num_bytes)),
            "features": dg.MetadataValue.json(written["features"]),
        }
    )


def build_dataset_dict_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """The DatasetDict asset of one dataset, partitioned by config."""
    key = dg.AssetKey(["dataset_dict", spec.name])

    @dg.asset(
        key=key,
        ins={
            "splits": dg.AssetIn(
                key=["cookbook", spec.name],
                partition_mapping=splits_of_config(spec.name),
                metadata={"allow_missing_partitions": True},
            )
        },
        partitions_def=config_partitions(spec.name),
        **layer_attributes(
            spec, "dataset_dict",
            f"{spec.name}: one folder per config; open it with `datasets.load_from_disk` or "
            f"`datasets_pipeline.dataset_dict_path`.",
        ),
        code_version=f"writer-{WRITER_VERSION}-{plan_version(spec)}",
        automation_condition=follow_upstream(),
        required_resource_keys={"arrow_io_manager"},
        check_specs=check_specs(key, DATASET_DICT_CHECKS, config_partitions(spec.name)),
    )
    def _dataset_dict(context: dg.AssetExecutionContext, splits):
        config = check_segment(context.partition_key, "config")
        tables = {key.split("/", 1)[1]: t for key, t in _by_partition(context, "splits", splits).items()}
        path = dataset_dict_folder(context.resources.arrow_io_manager.root, spec.name, config)

        def run():
            complete = complete_splits([f"{config}/{s}" for s in required_splits(spec, config)], (f"{config}/{s}" for s in tables))
            ordered = {s: tables[s] for s in spec.splits[config] if s in tables}
            planned = plan_splits(spec, ordered) if complete.passed else {}
            return planned, write_dataset_dict(path, planned, checks=[complete])

        planned, written = yield from gated(run, key.to_user_string(), dataset=spec.name, config=config)
        yield _result(path, written, {name: p.num_rows for name, p in planned.items()})

    return _dataset_dict
