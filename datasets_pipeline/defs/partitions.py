"""Partitions: each dataset's real ``"<config>/<split>"`` pairs, and its configs."""

from __future__ import annotations

from functools import cache

import dagster as dg

from ..catalog import get_spec


@cache
def split_partitions(name: str) -> dg.StaticPartitionsDefinition:
    """``raw/``, ``cookbook/`` and ``tokenized/`` partitions: ``"<config>/<split>"`` with the Hub's names."""
    return dg.StaticPartitionsDefinition(get_spec(name).partition_keys)


@cache
def config_partitions(name: str) -> dg.StaticPartitionsDefinition:
    """``dataset_dict/`` partitions: one per config."""
    return dg.StaticPartitionsDefinition(list(get_spec(name).configs))


def splits_of_config(name: str) -> dg.StaticPartitionMapping:
    """Maps each ``"<config>/<split>"`` partition to its ``<config>`` partition."""
    keys = get_spec(name).partition_keys
    return dg.StaticPartitionMapping({key: key.split("/", 1)[0] for key in keys})
