"""HubSource against the loopback Hub: discovery, pinning, retries, clear errors, checksums, no token leaks.

Real rows: GSM8K (MIT, (c) 2021 OpenAI), bundled in ``datasets_pipeline/demo_data``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from datasets_pipeline.errors import (
    ChecksumMismatch,
    DatasetsPipelineError,
    GatedRepo,
    RepoNotFound,
    RevisionNotFound,
    SplitNotFound,
    TransientSourceError,
)
from datasets_pipeline.formats import read_batches
from datasets_pipeline.hub import HubSource, Source, SplitFiles
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files, gsm8k_rows, gsm8k_table, parquet_bytes
from datasets_pipeline_tests.hub_server import Fault, HubServer

GSM8K = "openai/gsm8k"
TEST_FILE = "main/test-00000-of-00001.parquet"
CONVERT = "refs/convert/parquet"


@pytest.fixture
def waits() -> list[float]:
    """Our own backoff waits, recorded instead of slept."""
    return []


@pytest.fixture
def source(hub_server: HubServer, hf_env, waits: list[float], no_backoff_sleep) -> HubSource:
    return HubSource(endpoint=hub_server.url, cache_dir=str(hf_env.cache_dir), sleep=waits.append, max_attempts=3)


@pytest.fixture
def gsm8k(hub_server: HubServer) -> str:
    """openai/gsm8k as on the Hub (card configs + Parquet shards); returns main's sha."""
    return hub_server.add_repo(GSM8K, gsm8k_repo_files(train_rows=20))


def rows_of(split: SplitFiles) -> list[dict]:
    return pa.Table.from_batches([b for f in split.files for b in read_batches(f.local_path, name=f.path)]).to_pylist()


def resolve_requests(server: HubServer) -> list[str]:
    return [r.path for r in server.requests if "/resolve/" in r.path]


def error_chain_text(exc: BaseException) -> str:
    parts, seen, current = [], set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


# --- discovery ------------------------------------------------------------------------------------------


def test_card_data_files_discovery(hub_server: HubServer, source: HubSource, gsm8k: str, hf_env) -> None:
    assert isinstance(source, Source)
    assert source.resolve_revision(GSM8K) == gsm8k
    assert source.list_splits(GSM8K) == {"main": ["train", "test"], "socratic": ["train", "test"]}
    split = source.fetch_split(GSM8K, "main", "test")
    assert (split.repo_id, split.config, split.split, split.requested_revision, split.sha, split.origin) == (
        GSM8K, "main", "test", "main", gsm8k, "card",
    )
    data = hub_server.file_bytes(GSM8K, TEST_FILE)
    [file] = split.files
    assert (file.path, file.size, file.sha256, file.revision) == (
        TEST_FILE, len(data), hashlib.sha256(data).hexdigest(), gsm8k,
    )
    assert file.local_path == hf_env.cache_dir / "datasets--openai--gsm8k" / "snapshots" / gsm8k / TEST_FILE
    assert rows_of(split) == gsm8k_rows("main")
    # every download was made by the pinned sha
    assert resolve_requests(hub_server) and all(f"/resolve/{gsm8k}/" in p for p in resolve_requests(hub_server))


def test_parquet_branch_discovery_full_and_partial(hub_server: HubServer, tmp_path: Path) -> None:
    rows = gsm8k_rows("main")
    main_sha = hub_server.add_repo("acme/converted", {"README.md": "---\nlicense: mit\n---\n# no data files here\n"})
    branch_sha = hub_server.add_revision(
        "acme/converted",
        CONVERT,
        {
            "default/train/0001.parquet": parquet_bytes(gsm8k_table(rows[5:8])),
            "default/train/0000.parquet": parquet_bytes(gsm8k_table(rows[:5])),
            "default/partial-test/0000.parquet": parquet_bytes(gsm8k_table(rows[8:9])),
            "default/partial-train/0000.parquet": parquet_bytes(gsm8k_table(rows[:1])),
        },
    )
    source = HubSource(endpoint=hub_server.url, cache_dir=str(tmp_path))
    assert source.list_splits("acme/converted") == {"default": ["train", "test"]}
    train = source.fetch_split("acme/converted", "default", "train")
    assert (train.origin, train.sha) == ("parquet-branch", main_sha)
    assert [(f.path, f.revision) for f in train.files] == [
        ("default/train/0000.parquet", branch_sha),
        ("default/train/0001.parquet", branch_sha),
    ]
    assert rows_of(train) == rows[:8]
    test = source.fetch_split("acme/converted", "default", "test")
    assert [f.path for f in test.files] == ["default/partial-test/0000.parquet"]
    assert rows_of(test) == rows[8:9]
    # the branch is read by its sha, never by name
    assert all(f"/resolve/{branch_sha}/" in p for p in resolve_requests(hub_server))
    assert not any("tree/refs" in r.path for r in hub_server.requests)


def test_card_split_beats_parquet_branch_and_pagination(tmp_path: Path) -> None:
    rows = gsm8k_rows("main")
    files = {f"data/train-{i:05d}-of-00012.parquet": parquet_bytes(gsm8k_table(rows[i : i + 1])) for i in range(12)}
    with HubServer(page_size=3) as server:
        sha = server.add_repo("acme/many", files)  # no card: split names from file names
        server.add_revision("acme/many", CONVERT, {"default/train/0000.parquet": parquet_bytes(gsm8k_table(rows[:2]))})
        source = HubSource(endpoint=server.url, cache_dir=str(tmp_path))
        split = source.fetch_split("acme/many", "default", "train")
        assert split.origin == "card" and split.sha == sha
        assert [f.path for f in split.files] == sorted(files)
        assert rows_of(split) == rows[:12]
        assert sum(1 for r in server.requests if "/tree/" in r.path) == 5  # 13 entries (12 files + data/) in pages of 3


def test_cdn_redirect_downloads_are_verified(tmp_path: Path) -> None:
    with HubServer(cdn_redirect=True) as server:
        sha = server.add_repo(GSM8K, gsm8k_repo_files(train_rows=5))
        split = HubSource(endpoint=server.url, cache_dir=str(tmp_path)).fetch_split(GSM8K, "socratic", "train")
        assert split.sha == sha and rows_of(split) == gsm8k_rows("socratic")[-5:]
        assert any(r.path.startswith("/cdn/") for r in server.requests)


# --- pinning --------------------------------------------------------------------------------------------


def test_branch_moving_mid_fetch_does_not_mix_commits(hub_server: HubServer, source: HubSource, gsm8k: str) -> None:
    new_rows = gsm8k_rows("main")[:3]
    moved = threading.Event()

    def move_main() -> None:
        time.sleep(0.2)
        hub_server.update_repo(GSM8K, {TEST_FILE: parquet_bytes(gsm8k_table(new_rows))})
        moved.set()

    # the tree listing is held up while main moves to a new commit
    hub_server.add_fault(Fault(path=r"/tree/", kind="delay", delay=0.6))
    mover = threading.Thread(target=move_main)
    mover.start()
    split = source.fetch_split(GSM8K, "main", "test")
    mover.join()
    assert moved.is_set() and hub_server.commits(GSM8K)["main"] != gsm8k
    assert split.sha == gsm8k
    assert rows_of(split) == gsm8k_rows("main")  # the old commit's file, not the new one
    # a later fetch of main sees the new commit; the old sha still gives the old file
    assert rows_of(source.fetch_split(GSM8K, "main", "test")) == new_rows
    assert rows_of(source.fetch_split(GSM8K, "main", "test", revision=gsm8k)) == gsm8k_rows("main")


def test_tag_resolves_to_its_sha(hub_server: HubServer, source: HubSource, gsm8k: str) -> None:
    hub_server.add_tag(GSM8K, "v1", gsm8k)
    hub_server.update_repo(GSM8K, {"main/train-00000-of-00001.parquet": parquet_bytes(gsm8k_table(gsm8k_rows("main")[:2]))})
    assert source.resolve_revision(GSM8K, "v1") == gsm8k != source.resolve_revision(GSM8K)
    split = source.fetch_split(GSM8K, "main", "train", revision="v1")
    assert (split.requested_revision, split.sha) == ("v1", gsm8k)
    assert rows_of(split) == gsm8k_rows("main")[-20:]


# --- retries --------------------------------------------------------------------------------------------


def test_500_then_200_is_retried(hub_server: HubServer, source: HubSource, gsm8k: str, waits: list[float]) -> None:
    info_fault = hub_server.add_fault(Fault(path=r"^/api/datasets/openai/gsm8k/revision/", status=500))
    get_fault = hub_server.add_fault(Fault(path=r"/resolve/", method="GET", status=502))
    split = source.fetch_split(GSM8K, "main", "test")
    assert rows_of(split) == gsm8k_rows("main")
    assert (info_fault.hits, get_fault.hits) == (1, 1)
    assert waits == [1.0, 1.0]


def test_429_honours_retry_after(hub_server: HubServer, source: HubSource, gsm8k: str, waits: list[float]) -> None:
    hub_server.add_fault(Fault(path=r"/revision/main", status=429, headers={"Retry-After": "7"}))
    hub_server.add_fault(Fault(path=r"/api/datasets/openai/gsm8k/refs", status=503, times=2))
    assert source.list_splits(GSM8K) == {"main": ["train", "test"], "socratic": ["train", "test"]}
    assert waits == [7.0, 1.0, 2.0]


def test_dropped_connections_are_retried(hub_server: HubServer, source: HubSource, gsm8k: str, waits: list[float]) -> None:
    info_drop = hub_server.add_fault(Fault(path=r"/revision/main", kind="drop"))
    refs_drop = hub_server.add_fault(Fault(path=r"/refs$", kind="drop"))
    assert source.list_splits(GSM8K)["main"] == ["train", "test"]
    assert (info_drop.hits, refs_drop.hits) == (1, 1)
    assert waits == [1.0, 1.0]


def test_persistent_5xx_gives_up_naming_the_url(hub_server: HubServer, source: HubSource, gsm8k: str, waits: list[float]) -> None:
    hub_server.add_fault(Fault(path=r"/revision/main", status=503, times=None))
    with pytest.raises(TransientSourceError) as info:
        source.resolve_revision(GSM8K)
    text = str(info.value)
    assert f"GET {hub_server.url}/api/datasets/openai/gsm8k/revision/main kept failing after 3 attempts" in text
    assert "last error: HfHubHTTPError: Server error '503 Service Unavailable'" in text
    assert sum(1 for r in hub_server.requests if r.path.endswith("/revision/main")) == 3
    assert waits == [1.0, 2.0]


def test_persistent_download_5xx_gives_up_naming_the_file(hub_server: HubServer, source: HubSource, gsm8k: str) -> None:
    hub_server.add_fault(Fault(path=r"/resolve/.*/main/test-", status=500, times=None))
    with pytest.raises(TransientSourceError) as info:
        source.fetch_split(GSM8K, "main", "test")
    text = str(info.value)
    assert f"download of {hub_server.url}/datasets/openai/gsm8k/resolve/{gsm8k}/{TEST_FILE} kept failing" in text
    assert f"file '{TEST_FILE}'" in text and "split 'test'" in text


@pytest.mark.parametrize("kind", ["truncate", "short", "drop"])
def test_truncated_or_dropped_body_is_recovered(hub_server: HubServer, source: HubSource, gsm8k: str, kind: str) -> None:
    fault = hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind=kind))
    split = source.fetch_split(GSM8K, "main", "test")
    assert fault.hits == 1
    assert split.files[0].sha256 == hashlib.sha256(hub_server.file_bytes(GSM8K, TEST_FILE)).hexdigest()
    assert rows_of(split) == gsm8k_rows("main")


def test_always_truncated_body_fails_clearly(hub_server: HubServer, source: HubSource, gsm8k: str, hf_env) -> None:
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="truncate", times=None))
    with pytest.raises(TransientSourceError) as info:
        source.fetch_split(GSM8K, "main", "test")
    assert "RemoteProtocolError" in str(info.value) and TEST_FILE in str(info.value)
    assert not list((hf_env.cache_dir / "datasets--openai--gsm8k" / "snapshots").rglob("*.parquet"))


# --- checksums ------------------------------------------------------------------------------------------


def test_corrupt_body_of_right_size_is_rejected_and_evicted(hub_server: HubServer, source: HubSource, gsm8k: str, hf_env) -> None:
    data = hub_server.file_bytes(GSM8K, TEST_FILE)
    good = hashlib.sha256(data).hexdigest()
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="corrupt", times=None))
    with pytest.raises(ChecksumMismatch) as info:
        source.fetch_split(GSM8K, "main", "test")
    text = str(info.value)
    assert f"openai/gsm8k: {TEST_FILE} at {gsm8k} has sha256 " in text
    assert f", expected {good}" in text
    repo_cache = hf_env.cache_dir / "datasets--openai--gsm8k"
    assert not (repo_cache / "snapshots" / gsm8k / TEST_FILE).exists()
    assert not (repo_cache / "blobs" / good).exists()
    assert not [p for p in (repo_cache / "blobs").iterdir() if p.stat().st_size == len(data)]
    # nothing left that a second call would trust: it downloads again and gets the right bytes
    hub_server.clear_faults()
    split = source.fetch_split(GSM8K, "main", "test")
    assert split.files[0].sha256 == good and rows_of(split) == gsm8k_rows("main")


def test_one_corrupt_download_is_downloaded_again(hub_server: HubServer, source: HubSource, gsm8k: str, caplog) -> None:
    fault = hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="corrupt"))
    with caplog.at_level(logging.WARNING, logger="datasets_pipeline.hub"):
        split = source.fetch_split(GSM8K, "main", "test")
    assert fault.hits == 1 and rows_of(split) == gsm8k_rows("main")
    assert "deleted it from the cache, downloading again" in caplog.text


def test_non_lfs_files_are_checked_by_git_blob_sha1(hub_server: HubServer, source: HubSource) -> None:
    sha = hub_server.add_repo("acme/small", {"data/train.csv": "a,b\n1,x\n"}, lfs=False)
    split = source.fetch_split("acme/small", "default", "train")
    assert rows_of(split) == [{"a": 1, "b": "x"}] and split.sha == sha
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="corrupt", times=None))
    hub_server.update_repo("acme/small", {"data/train.csv": "a,b\n2,y\n"}, lfs=False)
    with pytest.raises(ChecksumMismatch, match="has git blob sha1 [0-9a-f]{40}, expected [0-9a-f]{40}"):
        source.fetch_split("acme/small", "default", "train")


# --- clear errors ---------------------------------------------------------------------------------------


def test_gated_repo_needs_a_token(hub_server: HubServer, hf_env, no_backoff_sleep) -> None:
    hub_server.add_repo("acme/gated", gsm8k_repo_files(train_rows=3), gated=True)
    anonymous = HubSource(endpoint=hub_server.url, cache_dir=str(hf_env.cache_dir))
    assert anonymous.list_splits("acme/gated") == {"main": ["train", "test"], "socratic": ["train", "test"]}
    with pytest.raises(GatedRepo) as info:
        anonymous.fetch_split("acme/gated", "main", "train")
    assert f"request access on {hub_server.url}/datasets/acme/gated and set HF_TOKEN" in str(info.value)
    assert "'acme/gated' is gated" in str(info.value)
    authorized = HubSource(endpoint=hub_server.url, token=hub_server.token, cache_dir=str(hf_env.cache_dir))
    assert rows_of(authorized.fetch_split("acme/gated", "main", "train")) == gsm8k_rows("main")[-3:]


def test_missing_repo_revision_and_split(hub_server: HubServer, source: HubSource, gsm8k: str) -> None:
    with pytest.raises(RepoNotFound) as info:
        source.fetch_split("acme/absent", "default", "train")
    assert f"dataset repo 'acme/absent' not found on {hub_server.url}" in str(info.value)
    hub_server.add_tag(GSM8K, "v1", gsm8k)
    with pytest.raises(RevisionNotFound) as info:
        source.fetch_split(GSM8K, "main", "test", revision="v9")
    assert "revision 'v9' not found in dataset repo 'openai/gsm8k'" in str(info.value)
    assert "(branches: main; tags: v1)" in str(info.value)
    with pytest.raises(SplitNotFound) as info:
        source.fetch_split(GSM8K, "main", "validation")
    assert str(info.value).endswith(
        "[config 'main', split 'validation']. available config/split pairs: main/train, main/test, socratic/train, socratic/test"
    )


def test_missing_file_on_download_is_split_not_found(hub_server: HubServer, source: HubSource, gsm8k: str) -> None:
    hub_server.add_fault(
        Fault(path=r"/resolve/", status=404, headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": gsm8k}, times=None)
    )
    with pytest.raises(SplitNotFound) as info:
        source.fetch_split(GSM8K, "main", "test")
    assert f"file '{TEST_FILE}'" in str(info.value) and "missing on the server" in str(info.value)


# --- the token ------------------------------------------------------------------------------------------

SECRET = "hf_secret_value_never_shown_123"


def test_token_never_appears_in_errors_logs_or_files(tmp_path: Path, caplog, no_backoff_sleep) -> None:
    caplog.set_level(logging.DEBUG)
    with HubServer(token=SECRET) as server:
        sha = server.add_repo("acme/private", gsm8k_repo_files(train_rows=2), private=True)
        source = HubSource(endpoint=server.url, token=SECRET, cache_dir=str(tmp_path), sleep=lambda s: None, max_attempts=2)
        assert SECRET not in repr(source)
        assert rows_of(source.fetch_split("acme/private", "main", "train")) == gsm8k_rows("main")[-2:]
        assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
        errors: list[DatasetsPipelineError] = []

        def expect(exc_type: type, fn) -> None:
            with pytest.raises(exc_type) as info:
                fn()
            errors.append(info.value)

        expect(RepoNotFound, lambda: source.list_splits("acme/absent"))
        expect(RevisionNotFound, lambda: source.resolve_revision("acme/private", "nope"))
        expect(SplitNotFound, lambda: source.fetch_split("acme/private", "main", "nope"))
        server.add_fault(Fault(path=r"/revision/", status=500, times=2))
        expect(TransientSourceError, lambda: source.resolve_revision("acme/private"))
        server.add_fault(Fault(path=r"/resolve/", method="GET", kind="corrupt", times=None))
        expect(ChecksumMismatch, lambda: source.fetch_split("acme/private", "main", "test"))
        server.clear_faults()
        server.add_fault(Fault(path=r"/resolve/", status=401, times=None))
        expect(GatedRepo, lambda: source.fetch_split("acme/private", "socratic", "test"))
        wrong = HubSource(endpoint=server.url, token=SECRET + "x", cache_dir=str(tmp_path), max_attempts=1)
        expect(GatedRepo, lambda: wrong.resolve_revision("acme/private"))
        assert "the token in HF_TOKEN was refused" in str(errors[-1])
        assert sha
    for error in errors:
        assert SECRET not in error_chain_text(error)
    assert SECRET not in caplog.text
    assert all(SECRET not in record.getMessage() for record in caplog.records)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_from_env_reads_the_environment_at_call_time(hub_server: HubServer, hf_env, monkeypatch) -> None:
    hub_server.add_repo("acme/gated", gsm8k_repo_files(train_rows=1), gated=True)
    monkeypatch.setenv("HF_TOKEN", hub_server.token)
    source = HubSource.from_env()
    assert (source.endpoint, source.cache_dir, source.has_token) == (hub_server.url, str(hf_env.hf_home / "hub"), True)
    split = source.fetch_split("acme/gated", "main", "train")
    assert split.files[0].local_path.is_relative_to(hf_env.hf_home / "hub")
    monkeypatch.delenv("HF_TOKEN")
    assert not HubSource.from_env().has_token
