"""``tokenized/<name>`` (profile × split), its ``drift`` check, and ``tokenizer/<profile>`` for trained profiles.

Profiles come from ``tokenizers.yaml`` (or ``DATASETS_PIPELINE_TOKENIZERS``) when the code location
loads. The work is in :mod:`datasets_pipeline.steps.tokenized` and :mod:`datasets_pipeline.tokenize`.

A broken profile does not fail the code location, nor the other profiles: it keeps its row of the
``profile`` × ``split`` grid of every ``tokenized/<name>`` (those partitions fail with the error) and
becomes an asset ``tokenizer/<profile>`` in the group ``tokenized_invalid`` whose description is
the error (file, line, profile, field) and whose materialization fails with it. A broken
``samples:`` entry makes every ``sample/<name>`` such a placeholder (same key and partitions). A
file that cannot be read at all defines one placeholder, ``tokenized/invalid_profiles_file``. Each
error is also logged when the code location loads.
"""


import itertools
import re
import logging
import time
import warnings
from collections import defaultdict

import dagster as dg
import pyarrow as pa

from ..catalog import CATALOG
from ..catalog.spec import DatasetSpec
from ..engine.ipc import read_table
from .sample import build_broken_sample_asset, build_sample_asset
from ..paths import check_partition_key, local_path, split_relpath
from ..steps.checks import CheckOutcome
from ..steps.presentation import OWNER
from ..steps.staging import publish_checked, stage_split
from ..steps.tokenized import (
    DRIFT,
    TOKENIZED_CHECKS,
    TOKENIZED_COLUMNS,
    TOKENIZED_FAMILIES,
    drift_outcome,
    plan_tokenize,
    profiles_code_version,
    published_record,
    resolve_profile,
    source_rows,
    table_stats,
    tokenized_checks,
    tokenized_file,
    tokenized_summary,
    tokenized_version,
    upstream_version,
)
from ..steps.versions import UNCHANGED_NOTE, digest
from ..tokenize.profiles import Profile, ProfileError, canonical_json, read_profiles_file
from ..tokenize.store import publish_trained
from ..tokenize.tokenize_table import ProfileTokenizer
from ..tokenize.training import table_texts
from .automation_conditions import refresh_materialized
from .checks import check_result, check_results, check_specs, gated
from .dataset_dict import _by_partition
from .metadata import column_schema, metadata_value, table_metadata
from .spec_metadata import layer_attributes
from .placeholders import broken_asset

log = logging.getLogger(__name__)
PROFILE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a profile name usable as a partition key and asset key part
#: The UI group of every tokenized/<name> and tokenizer/<profile> asset.
TOKENIZED_GROUP = "tokenized"
#: The UI group of the placeholders of broken profiles (and of a profiles file that cannot be read).
INVALID_GROUP = "tokenized_invalid"
#: The placeholder asset of a profiles file that cannot be read at all.
INVALID_FILE_KEY = dg.AssetKey(["tokenized", "invalid_profiles_file"])


def tokenized_partitions(name: str, profiles: tuple[str, ...]) -> dg.MultiPartitionsDefinition:
    """``profile`` × ``split`` (``"<config>/<split>"``): keys read ``"<profile>|<config>/<split>"``."""
    from .partitions import split_partitions

    return dg.MultiPartitionsDefinition({"profile": dg.StaticPartitionsDefinition(list(profiles)), "split": split_partitions(name)})


def _partition(context) -> tuple[str, str, str]:
    """``(profile, config, split)`` of the running partition."""
    profile, split_key = str(context.partition_key).split("|", 1)
    config, split = check_partition_key(split_key)
    return profile, config, split


def _column_schema(family: str) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(n, str(t), description=d) for n, t, d in TOKENIZED_COLUMNS[family]])


def _metadata(summary: dict, extra: dict) -> dict:
    out = {k: (dg.MetadataValue.md(v) if k == "length_histogram" else metadata_value(v)) for k, v in summary.items()}
    return {**out, **{k: metadata_value(v) for k, v in extra.items()}}


def build_tokenized_asset(
    spec: DatasetSpec, profiles: dict[str, Profile], code_version: str, broken: dict[str, ProfileError] | None = None
) -> list[dg.AssetsDefinition]:
    """``tokenized/<name>`` and its ``drift`` check; the partitions of a ``broken`` profile fail with its error."""
    key = dg.AssetKey(["tokenized", spec.name])
    broken = broken or {}
    parts = tokenized_partitions(spec.name, (*profiles, *broken))
    trained = [p.name for p in profiles.values() if p.tokenizer.kind == "train"]
    sampled = any(p.source == "sample" for p in profiles.values())
    attributes = layer_attributes(
        spec, "tokenized",
        f"Token ids and loss weights of each cookbook split under each profile of tokenizers.yaml "
        f"({', '.join(profiles)}); partitions `<profile>|<config>/<split>`.",
    )
    with warnings.catch_warnings():  # MultiToSingleDimensionPartitionMapping is a beta class of Dagster 1.13
        warnings.simplefilter("ignore", dg.BetaWarning)
        by_split = dg.MultiToSingleDimensionPartitionMapping("split")
    attributes["group_name"] = TOKENIZED_GROUP  # the families' groups stay raw → cookbook → dataset_dict
    attributes["metadata"] = {**attributes["metadata"], "partitions": (len(profiles) + len(broken)) * len(spec.partition_keys),
                              "profiles": dg.MetadataValue.json(sorted(profiles)),
                              "dagster/column_schema": _column_schema(spec.family)}
    if broken:
        attributes["description"] += "\n\nINVALID PROFILES (their partitions fail until fixed): " + "; ".join(
            str(e) for e in broken.values())
        attributes["metadata"]["invalid_profiles"] = dg.MetadataValue.json({n: str(e) for n, e in broken.items()})

    @dg.asset(
        key=key,
        ins={"rows": dg.AssetIn(key=["cookbook", spec.name], partition_mapping=by_split)},
        deps=[dg.AssetDep(dg.AssetKey(["tokenizer", name])) for name in trained]
        + ([dg.AssetDep(dg.AssetKey(["sample", spec.name]), partition_mapping=by_split)] if sampled else []),
        partitions_def=parts,
        **attributes,
        code_version=code_version,
        automation_condition=refresh_materialized(),
        required_resource_keys={"arrow_io_manager"},
        check_specs=check_specs(key, TOKENIZED_CHECKS, parts),
    )
    def _tokenized(context: dg.AssetExecutionContext, rows: pa.Table):
        cookbook = rows
        started = time.time()
        name, (profile_name, config, split) = spec.name, _partition(context)
        root = context.resources.arrow_io_manager.root
        where = dict(dataset=name, config=config, split=split)
        if profile_name in broken:
            raise dg.Failure(description=str(broken[profile_name]), allow_retries=False)

        def run():
            path = tokenized_file(root, name, profile_name, config, split)
            resolved = resolve_profile(profiles[profile_name], root)
            rows = source_rows(profiles[profile_name], cookbook, root, name, config, split)
            upstream = upstream_version(rows)
            version = tokenized_version(upstream, resolved.artifact_hash)
            if version is not None and published_record(path).get("data_version") == version:
                published = read_table(str(path))
                stats = table_stats(published, resolved.profile.max_length)
                outcomes = tokenized_checks(published, rows, stats)
                summary = tokenized_summary(resolved, stats, upstream, version)
                meta = {"unchanged": UNCHANGED_NOTE, "encoded_rows": 0, "reused_rows": published.num_rows,
                        "dagster/row_count": published.num_rows, "dagster/partition_row_count": published.num_rows,
                        "path": str(path)}
                return version, outcomes, _metadata(summary, meta)
            planned = plan_tokenize(rows, ProfileTokenizer.from_resolved(resolved), resolved, path, version)
            with stage_split(str(path), planned.stream, started=started) as staged:
                table = staged.read()
                stats = planned.stream.stats
                outcomes = tokenized_checks(table, rows, stats["token_stats"])
                summary = tokenized_summary(resolved, stats["token_stats"], upstream, version)
                meta = table_metadata(table, staged.stats, {}, partitioned=True)
                docs = {n: d for n, _, d in TOKENIZED_COLUMNS[spec.family]} | {"split": "The sample's label (train / val / test)."}
                meta["dagster/column_schema"] = column_schema(table.schema, docs)
                meta.update(_metadata(summary, {"encoded_rows": stats["encoded_rows"], "reused_rows": stats["reused_rows"],
                                                "incremental": planned.incremental, "path": str(path)}))
                publish_checked(staged, outcomes)
            context.log.info(
                f"{key.to_user_string()} {context.partition_key}: encoded {stats['encoded_rows']} row(s), reused "
                f"{stats['reused_rows']}; {summary['tokens']} tokens"
            )
            return version, outcomes, meta

        version, outcomes, meta = yield from gated(run, key.to_user_string(), **where)
        with warnings.catch_warnings():  # data_version is a beta parameter
            warnings.simplefilter("ignore", dg.BetaWarning)
            yield dg.MaterializeResult(
                metadata=meta, check_results=check_results(outcomes), data_version=dg.DataVersion(version) if version else None
            )

    with warnings.catch_warnings():  # partitioned asset checks are a preview feature of Dagster 1.13
        warnings.simplefilter("ignore", dg.PreviewWarning)

        @dg.asset_check(
            asset=key, name=DRIFT.name, blocking=DRIFT.blocking, description=DRIFT.description,
            partitions_def=parts, required_resource_keys={"arrow_io_manager"},
        )
        def _drift(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            profile_name, config, split = _partition(context)
            if profile_name in broken:
                return check_result(DRIFT.outcome(False, str(broken[profile_name])))
            root = context.resources.arrow_io_manager.root
            path = tokenized_file(root, spec.name, profile_name, config, split)
            try:
                cache = read_table(str(path))
            except FileNotFoundError:
                return check_result(DRIFT.outcome(False, f"not materialized: {path}"))
            cookbook = read_table(str(local_path(root, split_relpath("cookbook", spec.name, config, split))))
            rows = source_rows(profiles[profile_name], cookbook, root, spec.name, config, split)
            outcome: CheckOutcome = drift_outcome(cache, rows, resolve_profile(profiles[profile_name], root))
            return check_result(outcome)

    return [_tokenized, _drift]


def _sources(profile: Profile) -> dict[str, list[str]]:
    """``{dataset: [partition, ...]}`` of a trained profile's sources, checked against the catalog."""
    assert profile.tokenizer.train is not None
    by_dataset: dict[str, list[str]] = defaultdict(list)
    for source in profile.tokenizer.train.sources:
        dataset, partition = source.split("@", 1)
        if dataset not in CATALOG or partition not in CATALOG[dataset].partition_keys:
            raise ProfileError(
                f"profile {profile.name!r}, field 'tokenizer.train.sources': {source!r} is not a cookbook partition "
                f"(a catalog name and one of its '<config>/<split>' keys)", file=str(profile.source_file)
            )
        by_dataset[dataset].append(partition)
    return dict(by_dataset)


def build_tokenizer_asset(profile: Profile) -> dg.AssetsDefinition:
    """``tokenizer/<profile>``: the profile's tokenizer trained on its source cookbook splits."""
    key = dg.AssetKey(["tokenizer", profile.name])
    sources = _sources(profile)
    assert profile.tokenizer.train is not None
    settings = profile.tokenizer.train.settings()

    @dg.asset(
        key=key,
        ins={ds: dg.AssetIn(key=["cookbook", ds], partition_mapping=dg.SpecificPartitionsPartitionMapping(keys))
             for ds, keys in sources.items()},
        group_name=TOKENIZED_GROUP,
        kinds={"tokenizer"},
        owners=[OWNER],
        tags={"layer": "tokenizer", "profile": profile.name},
        description=(f"tokenizer layer: the `{profile.tokenizer.train.algorithm}` tokenizer of profile `{profile.name}` "
                     f"({profile.source_file}), trained on {', '.join(profile.tokenizer.train.sources) or 'no sources'}; "
                     "stored by its sha256 under tokenizer/<profile>/<sha256>/."),
        metadata={"layer": "tokenizer", "profile": profile.name, "settings": dg.MetadataValue.json(settings)},
        code_version=f"train-{digest(canonical_json(settings))}",
        automation_condition=refresh_materialized(),
        required_resource_keys={"arrow_io_manager"},
    )
    def _tokenizer(context: dg.AssetExecutionContext, **inputs):
        if not sources:
            raise dg.Failure(description=f"profile {profile.name!r}: tokenizer.train.sources is empty", allow_retries=False)
        order = {source: i for i, source in enumerate(profile.tokenizer.train.sources)}
        tables = sorted(
            ((f"{ds}@{p}", t) for ds in sources for p, t in _by_partition(context, ds, inputs[ds]).items()),
            key=lambda item: order[item[0]],
        )
        texts = itertools.chain.from_iterable(table_texts(t) for _, t in tables)
        resolved = publish_trained(profile, texts, context.resources.arrow_io_manager.root)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.BetaWarning)
            return dg.MaterializeResult(
                metadata={
                    "tokenizer_sha256": resolved.sha256,
                    "path": dg.MetadataValue.path(str(resolved.path)),
                    "bytes": resolved.path.stat().st_size,
                    "artifact_hash": resolved.artifact_hash,
                    "sources": dg.MetadataValue.json([s for s, _ in tables]),
                    "source_rows": sum(t.num_rows for _, t in tables),
                    "settings": dg.MetadataValue.json(settings),
                },
                data_version=dg.DataVersion(resolved.sha256[:16]),
            )

    return _tokenizer


def build_broken_asset(key: dg.AssetKey, message: str, what: str) -> dg.AssetsDefinition:
    """A placeholder that shows ``message`` in the UI and fails with it when materialized."""
    return broken_asset(key, message, title=what, group=INVALID_GROUP, kinds={"tokenizer"}, tags={"layer": key.path[0]})


def tokenized_assets() -> list[dg.AssetsDefinition]:
    """``tokenizer/<profile>`` per trained profile, ``sample/<name>`` and ``tokenized/<name>`` per chat,
    preference, math and code dataset; placeholders for what is broken (see the module docstring)."""
    read = read_profiles_file()
    if read.error is not None:
        log.error("%s", read.error)
        return [build_broken_asset(INVALID_FILE_KEY, str(read.error),
                                   "INVALID TOKENIZER PROFILES FILE (no tokenized, tokenizer or sample assets until it is fixed)")]
    families = [spec for spec in CATALOG.values() if spec.family in TOKENIZED_FAMILIES]
    if read.samples_error is not None:
        log.error("%s", read.samples_error)
        assets: list[dg.AssetsDefinition] = [build_broken_sample_asset(spec, str(read.samples_error)) for spec in families]
    else:
        assets = [build_sample_asset(spec, read.samples) for spec in families]
    usable = dict(read.profiles)
    broken = dict(read.errors)
    for profile in read.profiles.values():
        if profile.tokenizer.kind == "train":
            try:
                assets.append(build_tokenizer_asset(profile))
            except ProfileError as exc:
                broken[profile.name] = exc
                usable.pop(profile.name)
    for name in read.names:  # file order
        if name in broken:
            log.error("%s", broken[name])
    broken = {n: broken[n] for n in read.names if n in broken and PROFILE_KEY.match(n)}  # else the log is all there is
    assets += [build_broken_asset(dg.AssetKey(["tokenizer", n]), str(e), "INVALID TOKENIZER PROFILE") for n, e in broken.items()]
    if not usable and not broken:
        return assets
    code_version = profiles_code_version(usable) + (f"-invalid-{digest(sorted((n, str(e)) for n, e in broken.items()))}" if broken else "")
    for spec in families:
        assets += build_tokenized_asset(spec, usable, code_version, broken)
    return assets
