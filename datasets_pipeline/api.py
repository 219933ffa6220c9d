"""Training-side Python API: open materialized data without Dagster running."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from .catalog import CATALOG, get_spec
from .errors import NotMaterializedError
from .layout import DataLayout
from .mixtures.recipes import CONFIG as RECIPE_CONFIG
from .mixtures.recipes import load_recipes
from .paths import check_segment
from .steps.mixture import load_mixture_file

LOAD_LAYERS = ("raw", "cookbook", "tokenized", "mixture")


def _materialize_hint(layer: str, name: str, config: str, split: str | None = None, profile: str | None = None) -> str:
    partition = f"{config}/{split}" if split is not None else config
    if profile is not None:
        partition = f'"{profile}|{partition}"'
    return (
        f"materialize it with: dagster asset materialize -m datasets_pipeline.definitions "
        f"--select {layer}/{name} --partition {partition}"
    )


def not_materialized(
    layer: str, name: str, config: str, split: str, location: str, profile: str | None = None
) -> NotMaterializedError:
    """The error ``load()`` (and a run missing an upstream partition) raises for an absent split."""
    what = f"{layer}/{name}" if profile is None else f"{layer}/{name} for profile {profile!r}"
    return NotMaterializedError(
        f"{what} is not materialized at {location}",
        dataset=name, config=config, split=split, hint=_materialize_hint(layer, name, config, split, profile),
    )


def _profile_names() -> str:
    """The profile names of the tokenizer profiles file, for error messages."""
    from .tokenize.profiles import ProfileError, load_profiles, profiles_path

    try:
        return f"profiles in {profiles_path()}: {', '.join(load_profiles())}"
    except ProfileError as exc:
        return f"the profiles file cannot be read: {exc}"


def load(
    name: str, config: str | None = None, split: str = "train", *, layer: str = "cookbook", profile: str | None = None
) -> pa.Table:
    """The materialized ``layer/<name>`` partition ``"<config>/<split>"`` as a memory-mapped ``pyarrow.Table``.

    ``config=None`` means the dataset's default config (``default`` if it has one, else the first
    config its card lists). ``layer="tokenized"`` needs ``profile`` (a profile name of
    ``tokenizers.yaml``): the partition ``"<profile>|<config>/<split>"``. Raises
    :class:`NotMaterializedError` naming the command to run when the partition has not been
    materialized, and ``KeyError``/``ValueError`` for unknown names.

    ``layer="mixture"``: ``name`` is a mixture of ``mixtures.yaml`` and ``split`` is ``"train"`` or
    ``"test"`` (see :func:`load_mixture`).
    """
    if layer == "mixture":
        if config is not None:
            raise ValueError(f"a mixture has no configs: call load({name!r}, split=..., layer='mixture')")
        return load_mixture(name, split)
    if layer not in LOAD_LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LOAD_LAYERS)}, not {layer!r}")
    if layer == "tokenized" and profile is None:
        raise ValueError(f"load(..., layer='tokenized') needs profile=<profile name>; {_profile_names()}")
    if layer != "tokenized" and profile is not None:
        raise ValueError(f"profile= applies to layer='tokenized' only, not layer={layer!r}")
    spec = get_spec(name)
    config = spec.default_config if config is None else config
    if config not in spec.splits:
        raise ValueError(f"{name} has no config {config!r}; configs: {', '.join(spec.configs)}")
    if split not in spec.splits[config]:
        raise ValueError(f"{name} config {config!r} has no split {split!r}; splits: {', '.join(spec.splits[config])}")
    layout = DataLayout.from_env()
    if profile is not None:
        location = layout.tokenized(name, profile, config, split)
    else:
        location = layout.split(layer, name, config, split)
    try:
        return layout.read(location)
    except FileNotFoundError:
        error = not_materialized(layer, name, config, split, location, profile)
        if profile is not None:
            error.hint = f"{error.hint} ({_profile_names()})"
            error.with_context()
        raise error from None


def load_mixture(name: str, split: str = "train") -> pa.Table:
    """The materialized ``mixture/<name>`` split (``train``, or ``test`` with ``test_size``) as a memory-mapped table.

    Its rows are the sources' columns plus ``source`` (``"<asset>@<partition>"``). Raises ``KeyError``
    listing the mixtures for an unknown name, :class:`~datasets_pipeline.mixtures.InvalidMixture`
    (the entry's error) for a broken entry, ``ValueError`` for a split the entry does not have,
    :class:`NotMaterializedError` naming the command to run, and
    :class:`~datasets_pipeline.errors.UnsupportedStorageError` for a remote ``DATASETS_PIPELINE_DATA``.
    """
    mixture = load_mixture_file().get(name)
    if split not in mixture.splits:
        held = "" if mixture.test_size else " (it holds no rows out: set test_size for a test split)"
        raise ValueError(f"mixture {name} has no split {split!r}; splits: {', '.join(mixture.splits)}{held}")
    layout = DataLayout.from_env()
    path = layout.mixture(name, split)
    try:
        return layout.read(path)
    except FileNotFoundError:
        raise NotMaterializedError(
            f"mixture/{name} is not materialized at {path}",
            dataset=name, split=split,
            hint=f"materialize it with: dagster asset materialize -m datasets_pipeline.definitions --select mixture/{name}",
        ) from None


def dataset_dict_path(name: str, config: str | None = None) -> Path | str:
    """The folder of the current version of ``dataset_dict/<name>`` for ``config``, for ``datasets.load_from_disk``.

    ``name`` is a catalog dataset or a recipe of ``mixtures.yaml`` (e.g. ``math_rl``; its only config
    is ``default``; a broken recipe entry raises its error). The path is that of one immutable
    version folder (``dataset_dict/<name>/.<config>.<version id>``), not of the ``<config>`` symlink
    that always points at the latest one: ``load_from_disk`` opens a folder file by file, and a
    republication between two of its opens would otherwise mix two versions' splits. Retention: a
    version stays on disk at least one hour (``DATASETS_PIPELINE_VERSION_GRACE`` seconds) after a
    newer one replaced it, and is removed by a publication after that; call this function again to
    get the newest version, and open the path within that time (opened files stay readable).

    On a remote root (``s3://…``) the result is the URL of the immutable version prefix that the
    pointer object names; open it with ``datasets.load_from_disk(url, storage_options=...)``
    (:func:`datasets_pipeline.layout.storage_options` gives the options the environment sets).
    """
    if name in CATALOG:
        configs: tuple[str, ...] = get_spec(name).configs
        default = get_spec(name).default_config
    else:
        try:
            load_recipes().get(name)
        except KeyError:
            get_spec(name)  # the catalog's error for an unknown name (it lists the datasets)
            raise
        configs, default = (RECIPE_CONFIG,), RECIPE_CONFIG
    config = default if config is None else config
    check_segment(config, "config")
    if config not in configs:
        raise ValueError(f"{name} has no config {config!r}; configs: {', '.join(configs)}")
    layout = DataLayout.from_env()
    published = layout.dataset_dict(name, config)
    folder = layout.resolve_dataset_dict(name, config)
    if folder is not None:
        return folder if layout.remote else Path(folder)
    raise NotMaterializedError(
        f"dataset_dict/{name} is not materialized at {published}",
        dataset=name, config=config, hint=_materialize_hint("dataset_dict", name, config),
    )
