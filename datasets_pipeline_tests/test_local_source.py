"""LocalFolderSource and the card rules: files per (config, split) as the ``datasets`` library finds them.

Real data: the bundled GSM8K and HumanEval mirrors in ``datasets_pipeline/demo_data`` (MIT, (c) OpenAI;
see its ATTRIBUTION.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from datasets_pipeline.errors import RepoNotFound, RevisionNotFound, SourceError, SplitNotFound, UnsafePathError
from datasets_pipeline.formats import read_batches
from datasets_pipeline.hub import LocalFolderSource, Source, SplitFiles
from datasets_pipeline.hub.card import card_configs, card_layout, default_config_name, parse_card
from datasets_pipeline.hub.layout import parquet_branch_layout
from datasets_pipeline_tests.fixtures_data import DEMO_DATA, gsm8k_rows, gsm8k_table, humaneval_rows, parquet_bytes


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_files(root: Path, files: dict[str, bytes | str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def read_split(split: SplitFiles) -> pa.Table:
    return pa.Table.from_batches([b for f in split.files for b in read_batches(f.local_path, name=f.path)])


# --- the bundled real repos ----------------------------------------------------------------------------


def test_demo_gsm8k_splits_and_files() -> None:
    source = LocalFolderSource(DEMO_DATA)
    assert isinstance(source, Source)
    assert source.list_splits("openai/gsm8k") == {"main": ["test"], "socratic": ["test"]}
    split = source.fetch_split("openai/gsm8k", "main", "test")
    path = DEMO_DATA / "openai/gsm8k/main/test-00000-of-00001.jsonl"
    assert split.origin == "local"
    assert split.requested_revision == "main"
    assert split.sha == source.resolve_revision("openai/gsm8k") and len(split.sha) == 40
    assert [(f.path, f.local_path, f.size, f.sha256, f.revision) for f in split.files] == [
        ("main/test-00000-of-00001.jsonl", path, path.stat().st_size, sha256(path), split.sha)
    ]
    assert read_split(split).to_pylist() == gsm8k_rows("main")


def test_demo_humaneval_gz() -> None:
    source = LocalFolderSource(DEMO_DATA)
    assert source.list_splits("openai/openai_humaneval") == {"openai_humaneval": ["test"]}
    split = source.fetch_split("openai/openai_humaneval", "openai_humaneval", "test")
    assert [f.path for f in split.files] == ["openai_humaneval/test-00000-of-00001.jsonl.gz"]
    assert read_split(split).to_pylist() == humaneval_rows()


# --- a repo folder built in the test ------------------------------------------------------------------


@pytest.fixture
def repo_root(tmp_path: Path) -> Path:
    """acme/tiny: a card with one config, a parquet branch folder with full and partial splits, a tag folder."""
    rows = gsm8k_rows("main")
    card = "---\nconfigs:\n- config_name: main\n  data_files:\n  - split: train\n    path: main/train-*\n---\n# tiny\n"
    write_files(
        tmp_path / "acme/tiny",
        {
            "README.md": card,
            ".gitattributes": "*.parquet filter=lfs\n",
            "main/train-00000-of-00002.parquet": parquet_bytes(gsm8k_table(rows[:10])),
            "main/train-00001-of-00002.parquet": parquet_bytes(gsm8k_table(rows[10:15])),
        },
    )
    write_files(
        tmp_path / "acme/tiny@refs%2Fconvert%2Fparquet",
        {
            "main/train/0000.parquet": parquet_bytes(gsm8k_table(rows[:15])),
            "main/test/0000.parquet": parquet_bytes(gsm8k_table(rows[15:18])),
            "main/test/0001.parquet": parquet_bytes(gsm8k_table(rows[18:20])),
            "main/partial-validation/0000.parquet": parquet_bytes(gsm8k_table(rows[20:21])),
        },
    )
    write_files(tmp_path / "acme/tiny@v1", {"data/test.jsonl": '{"question": "q", "answer": "a"}\n'})
    return tmp_path


def test_card_split_first_then_parquet_branch(repo_root: Path) -> None:
    source = LocalFolderSource(repo_root)
    assert source.list_splits("acme/tiny") == {"main": ["train", "validation", "test"]}
    train = source.fetch_split("acme/tiny", "main", "train")
    assert [f.path for f in train.files] == ["main/train-00000-of-00002.parquet", "main/train-00001-of-00002.parquet"]
    assert read_split(train).to_pylist() == gsm8k_rows("main")[:15]
    test = source.fetch_split("acme/tiny", "main", "test")
    branch_sha = test.files[0].revision
    assert [f.path for f in test.files] == ["main/test/0000.parquet", "main/test/0001.parquet"]
    assert branch_sha != test.sha and test.sha == train.sha
    assert read_split(test).to_pylist() == gsm8k_rows("main")[15:20]
    partial = source.fetch_split("acme/tiny", "main", "validation")
    assert [f.path for f in partial.files] == ["main/partial-validation/0000.parquet"]


def test_revision_folders_and_sha_pinning(repo_root: Path) -> None:
    source = LocalFolderSource(repo_root)
    main_sha = source.resolve_revision("acme/tiny")
    assert source.resolve_revision("acme/tiny", main_sha) == main_sha
    v1 = source.fetch_split("acme/tiny", "default", "test", revision="v1")
    assert v1.sha == source.resolve_revision("acme/tiny", "v1") != main_sha
    assert read_split(v1).to_pylist() == [{"question": "q", "answer": "a"}]
    # the sha follows the content: a changed file gives a new sha and the old one no longer resolves
    (repo_root / "acme/tiny/main/extra.txt").write_text("changed")
    assert source.resolve_revision("acme/tiny") != main_sha
    with pytest.raises(RevisionNotFound) as info:
        source.fetch_split("acme/tiny", "main", "train", revision=main_sha)
    assert "available revisions: main, refs/convert/parquet, v1" in str(info.value)


def test_local_errors_name_what_is_missing(repo_root: Path) -> None:
    source = LocalFolderSource(repo_root)
    with pytest.raises(RepoNotFound, match="'acme/absent' not found"):
        source.list_splits("acme/absent")
    with pytest.raises(RevisionNotFound, match="revision 'v2' not found"):
        source.resolve_revision("acme/tiny", "v2")
    with pytest.raises(SplitNotFound) as info:
        source.fetch_split("acme/tiny", "main", "dev")
    assert str(info.value).endswith(
        "[config 'main', split 'dev']. available config/split pairs: main/train, main/validation, main/test"
    )
    with pytest.raises(UnsafePathError):
        source.list_splits("../etc")


def test_sha_is_deterministic_across_instances(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    copy = tmp_path_factory.mktemp("copy")
    shutil.copytree(repo_root / "acme", copy / "acme")
    assert LocalFolderSource(copy).resolve_revision("acme/tiny") == LocalFolderSource(repo_root).resolve_revision("acme/tiny")
    os.utime(copy / "acme/tiny/README.md", (0, 0))  # timestamps do not matter, content does
    assert LocalFolderSource(copy).resolve_revision("acme/tiny") == LocalFolderSource(repo_root).resolve_revision("acme/tiny")


# --- card parsing ---------------------------------------------------------------------------------------


def test_parse_card_and_default_config() -> None:
    text = (DEMO_DATA / "openai/gsm8k/README.md").read_text()
    card = parse_card(text)
    configs = card_configs(card)
    assert [c.name for c in configs] == ["main", "socratic"]
    assert configs[0].patterns == {"test": ("main/test-*",)}
    assert default_config_name(configs) is None
    assert parse_card("# no front matter\n") == {}
    one = card_configs({"configs": [{"config_name": "x", "data_files": "a.csv"}]})
    assert one[0].patterns == {"train": ("a.csv",)} and default_config_name(one) == "x"
    marked = card_configs({"configs": [{"config_name": "a", "data_files": ["a/*"]}, {"config_name": "b", "default": True}]})
    assert marked[0].patterns == {"train": ("a/*",)} and default_config_name(marked) == "b"


@pytest.mark.parametrize(
    "card, message",
    [
        ({"configs": [{"data_files": "x"}]}, "config_name"),
        ({"configs": [{"config_name": "a", "data_files": [{"split": "train"}]}]}, "{split, path}"),
        ({"configs": [{"config_name": "a", "data_files": 3}]}, "must be a string or a list"),
        ({"configs": [{"config_name": "a", "data_files": "**.csv"}]}, "invalid data_files pattern"),
        ({"configs": [{"config_name": "a", "data_files": ["a.csv", "b.csv"]}]}, "data file 'b.csv' named in the card is not in the repo"),
    ],
)
def test_bad_cards_fail_clearly(card: dict, message: str) -> None:
    with pytest.raises(SourceError) as info:
        card_layout(card, ["a.csv"])
    assert message in str(info.value)


def test_parquet_branch_layout_orders_shards_numerically() -> None:
    paths = [f"default/train/{i:04d}.parquet" for i in (10, 2, 0, 1)] + [
        "default/partial-train/0000.parquet",
        "default/partial-test/0000.parquet",
        "other/validation/0000.parquet",
        "default/train/notes.txt",
        "README.md",
    ]
    assert parquet_branch_layout(paths) == {
        "default": {
            "train": [f"default/train/{i:04d}.parquet" for i in (0, 1, 2, 10)],
            "test": ["default/partial-test/0000.parquet"],
        },
        "other": {"validation": ["other/validation/0000.parquet"]},
    }


# --- same files as the datasets library -------------------------------------------------------------------

LAYOUTS: list[tuple[str, dict[str, str], object]] = [
    ("flat split files", {"train.csv": "a\n1\n", "test.csv": "a\n2\n", "LICENSE": "x", "README.md": "# x"}, None),
    (
        "sharded data folder",
        {
            "data/train-00000-of-00002.parquet": "p",
            "data/train-00001-of-00002.parquet": "p",
            "data/test-00000-of-00001.parquet": "p",
            "data/random-00000-of-00001.parquet": "p",
            ".gitattributes": "x",
        },
        None,
    ),
    (
        "split folders with synonyms",
        {"data/training/a.jsonl": "{}", "data/training/b.jsonl": "{}", "dev/x.jsonl": "{}", "eval_set/y.jsonl": "{}"},
        None,
    ),
    ("one file", {"dataset.jsonl.gz": "x", "notes.txt": "y", "README.md": "# x"}, None),
    (
        "keywords inside names, hidden and special folders",
        {
            "my_train_1.csv": "a",
            "my-test.csv": "a",
            "train_train.csv": "a",
            ".hidden/train.csv": "a",
            "__cache__/test.csv": "a",
            "dataset_info.json": "{}",
        },
        None,
    ),
    ("dominant format wins", {"train/a.parquet": "p", "train/b.parquet": "p", "train/c.csv": "c"}, None),
    (
        "card: list of split/path with globs",
        {"main/train-00000-of-00001.parquet": "p", "main/test-00000-of-00001.parquet": "p", "other/x.parquet": "p"},
        [{"split": "train", "path": "main/train-*"}, {"split": "test", "path": ["main/test-*", "missing/*.parquet"]}],
    ),
    ("card: one string", {"data/a.jsonl": "x", "data/sub/b.jsonl": "x", "data/c.csv": "x"}, "data/**"),
    ("card: list of patterns", {"x/1.parquet": "p", "y/2.parquet": "p", "z/3.parquet": "p"}, ["y/*.parquet", "x/*"]),
    (
        "card: explicit hidden and ignored names",
        {".private/train.jsonl": "x", "README.md": "# x", "data/dataset_info.json": "{}"},
        [{"split": "train", "path": ".private/*.jsonl"}, {"split": "test", "path": "data/dataset_info.json"}],
    ),
]


def datasets_library_layout(folder: Path, data_files: object) -> dict[str, list[str]]:
    """What ``datasets`` 5.2 resolves for a folder (the reference this module mirrors)."""
    from datasets.data_files import DataFilesDict, get_data_patterns, sanitize_patterns
    from datasets.load import infer_module_for_data_files
    from datasets.packaged_modules import _ALL_ALLOWED_EXTENSIONS, _MODULE_TO_EXTENSIONS

    base = folder.as_posix()
    patterns = sanitize_patterns(data_files) if data_files is not None else get_data_patterns(base)
    resolved = DataFilesDict.from_patterns(patterns, base_path=base, allowed_extensions=_ALL_ALLOWED_EXTENSIONS)
    module, _ = infer_module_for_data_files(resolved)
    resolved = resolved.filter(extensions=_MODULE_TO_EXTENSIONS[module])
    out = {split: [Path(f).relative_to(folder).as_posix() for f in files] for split, files in resolved.items()}
    return {split: list(dict.fromkeys(files)) for split, files in out.items() if files}


@pytest.mark.parametrize("label, files, data_files", LAYOUTS, ids=[layout[0] for layout in LAYOUTS])
def test_card_layout_matches_the_datasets_library(tmp_path: Path, label: str, files: dict[str, str], data_files: object) -> None:
    folder = tmp_path / "acme/layout"
    write_files(folder, files)
    config = "cfg" if data_files is not None else "default"
    card = {"configs": [{"config_name": config, "data_files": data_files}]} if data_files is not None else None
    if card is not None:
        (folder / "README.md").write_text("---\n" + yaml.safe_dump(card) + "---\n")
    expected = datasets_library_layout(folder, data_files)
    assert expected, "every layout above has data files"
    assert card_layout(card, sorted(files)) == {config: expected}
    # the local source finds the same files in the folder
    source = LocalFolderSource(tmp_path)
    assert source.list_splits("acme/layout") == {config: list(expected)}
    for split, paths in expected.items():
        assert [f.path for f in source.fetch_split("acme/layout", config, split).files] == paths


def test_local_source_uses_card_layout_for_data_dir(tmp_path: Path) -> None:
    card = "---\nconfigs:\n- config_name: sub\n  data_dir: sub\n---\n"
    write_files(
        tmp_path / "acme/dirs",
        {"README.md": card, "sub/train.jsonl": '{"x": 1}\n', "sub/test.jsonl": '{"x": 2}\n', "train.jsonl": '{"x": 0}\n'},
    )
    source = LocalFolderSource(tmp_path)
    assert source.list_splits("acme/dirs") == {"sub": ["train", "test"]}
    assert read_split(source.fetch_split("acme/dirs", "sub", "test")).to_pylist() == [{"x": 2}]


def test_archive_only_repo_falls_back_to_the_parquet_branch(tmp_path: Path) -> None:
    rows = gsm8k_rows("main")[:4]
    write_files(tmp_path / "acme/zipped", {"README.md": "# data in an archive\n", "data/all.zip": b"PK\x03\x04", "gsm8k.py": "x"})
    write_files(tmp_path / "acme/zipped@refs%2Fconvert%2Fparquet", {"default/train/0000.parquet": parquet_bytes(gsm8k_table(rows))})
    source = LocalFolderSource(tmp_path)
    assert source.list_splits("acme/zipped") == {"default": ["train"]}
    split = source.fetch_split("acme/zipped", "default", "train")
    assert [f.path for f in split.files] == ["default/train/0000.parquet"]
    assert read_split(split).to_pylist() == rows
