"""``dataset_dict/<name>``: one folder per config in the exact ``save_to_disk`` layout."""


from pathlib import Path
from typing import Any, Mapping

import dagster as dg
import pyarrow as pa

from ..catalog import get_spec
from ..catalog.spec import DatasetSpec
from ..paths import check_segment, data_root, local_path
from ..steps.dataset_dict import math_rl_tables, plan_splits, write_dataset_dict
from .partitions import config_partitions, splits_of_config
from .spec_metadata import spec_metadata


def dataset_dict_folder(name: str, config: str) -> Path:
    """``$DATASETS_PIPELINE_DATA/dataset_dict/<name>/<config>`` (a symlink to the current version)."""
    return local_path(data_root(), f"dataset_dict/{check_segment(name)}/{check_segment(config, 'config')}")


def _by_partition(context: dg.AssetExecutionContext, input_name: str, value: Any) -> dict[str, pa.Table]:
    """An input of one or many partitions as ``{partition_key: table}`` (missing partitions left out)."""
    keys = list(context.asset_partition_keys_for_input(input_name))
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if v is not None}
    return {keys[0]: value} if value is not None else {}


def _result(path: Path, written: dict[str, Any], splits: dict[str, int]) -> dg.MaterializeResult:
    stats = written["stats"]
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "splits": dg.MetadataValue.json(splits),
            "dagster/row_count": sum(splits.values()),
            "shards": dg.MetadataValue.json({s: len(v.files) for s, v in stats.splits.items()}),
            "bytes": stats.num_bytes,
            "features": dg.MetadataValue.json(written["features"]),
        }
    )


def build_dataset_dict_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """The DatasetDict asset of one dataset, partitioned by config."""

    @dg.asset(
        key=["dataset_dict", spec.name],
        ins={
            "splits": dg.AssetIn(
                key=["cookbook", spec.name],
                partition_mapping=splits_of_config(spec.name),
                metadata={"allow_missing_partitions": True},
            )
        },
        partitions_def=config_partitions(spec.name),
        group_name=spec.group,
        kinds={"huggingface", "arrow"},
        description=f"{spec.name} as a `datasets.DatasetDict` folder per config (open with `datasets.load_from_disk` "
        f"or `datasets_pipeline.dataset_dict_path`).",
        metadata=spec_metadata(spec),
        code_version="1",
    )
    def _dataset_dict(context: dg.AssetExecutionContext, splits) -> dg.MaterializeResult:
        config = check_segment(context.partition_key, "config")
        tables = {key.split("/", 1)[1]: t for key, t in _by_partition(context, "splits", splits).items()}
        missing = [s for s in spec.splits[config] if s not in tables]
        if not tables:
            raise dg.Failure(f"{spec.name} config {config!r}: no cookbook split is materialized yet")
        if missing:
            context.log.warning(f"{spec.name} {config}: cookbook splits not materialized, left out: {missing}")
        ordered = {s: tables[s] for s in spec.splits[config] if s in tables}
        planned = plan_splits(spec, ordered)
        path = dataset_dict_folder(spec.name, config)
        written = write_dataset_dict(path, planned)
        return _result(path, written, {name: p.num_rows for name, p in planned.items()})

    return _dataset_dict


def build_math_rl_asset() -> dg.AssetsDefinition:
    """``dataset_dict/math_rl``: the math RL recipe's train (12,000 rows) and MATH-500 test."""
    hendrycks, math500 = get_spec("hendrycks_math"), get_spec("math500")
    configs = hendrycks.configs

    @dg.asset(
        key=["dataset_dict", "math_rl"],
        ins={
            "hendrycks": dg.AssetIn(key=["cookbook", hendrycks.name], partition_mapping=dg.AllPartitionMapping()),
            "math500": dg.AssetIn(key=["cookbook", math500.name], partition_mapping=dg.AllPartitionMapping()),
            "hendrycks_raw": dg.AssetIn(key=["raw", hendrycks.name], partition_mapping=dg.AllPartitionMapping()),
            "math500_raw": dg.AssetIn(key=["raw", math500.name], partition_mapping=dg.AllPartitionMapping()),
        },
        group_name="math",
        kinds={"huggingface", "arrow"},
        description="Math RL recipe: hendrycks_math train+test of all configs minus MATH-500 problems, "
        "shuffled with seed 0, then rows without a boxed answer removed, as train; MATH-500 as test.",
        metadata=spec_metadata(hendrycks) | {"recipe": "math_rl"},
        code_version="2",
    )
    def _math_rl(context: dg.AssetExecutionContext, hendrycks, math500, hendrycks_raw, math500_raw) -> dg.MaterializeResult:
        h = _by_partition(context, "hendrycks", hendrycks)
        m = next(iter(_by_partition(context, "math500", math500).values()))
        h_raw = _by_partition(context, "hendrycks_raw", hendrycks_raw)
        m_raw = next(iter(_by_partition(context, "math500_raw", math500_raw).values()))
        planned = math_rl_tables(h, h_raw, m, m_raw, configs=configs)
        path = dataset_dict_folder("math_rl", "default")
        written = write_dataset_dict(path, planned)
        return _result(path, written, {name: p.num_rows for name, p in planned.items()})

    return _math_rl
