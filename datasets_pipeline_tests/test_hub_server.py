"""The loopback Hub against the real huggingface_hub client: routes, caching, auth and faults."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from pathlib import Path

import httpx2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from datasets_pipeline_tests.hub_server import Fault, HubServer

TOKEN = "hf_test_token"
REPO = "openai/gsm8k"
MAIN_FILE = "main/test-00000-of-00001.parquet"
CONVERT = "refs/convert/parquet"

# A trimmed copy of the YAML header of the openai/gsm8k dataset card.
README = b"""---
language:
- en
license: mit
pretty_name: Grade School Math 8K
task_categories:
- text2text-generation
configs:
- config_name: main
  data_files:
  - split: train
    path: main/train-*
  - split: test
    path: main/test-*
- config_name: socratic
  data_files:
  - split: train
    path: socratic/train-*
  - split: test
    path: socratic/test-*
---

# Dataset Card for GSM8K
"""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz ", dtype="S1")
    text = [rng.choice(letters, 300).tobytes().decode() for _ in range(rows)]
    return pa.table({"idx": pa.array(np.arange(rows), pa.int64()), "question": text})


def parquet_bytes(table: pa.Table, row_group_size: int = 100) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=row_group_size, compression="none")
    return buf.getvalue()


TABLE = make_table(400)
PARQUET = parquet_bytes(TABLE)  # ~130 KB, 4 row groups
SOCRATIC = parquet_bytes(make_table(20, seed=1))


def add_gsm8k(server: HubServer, **flags: object) -> tuple[str, str]:
    """openai/gsm8k with a card and parquet files on main and on refs/convert/parquet."""
    main = server.add_repo(
        REPO,
        {"README.md": README, MAIN_FILE: PARQUET, "socratic/test-00000-of-00001.parquet": SOCRATIC},
        **flags,  # type: ignore[arg-type]
    )
    shards = {"main/test/0000.parquet": PARQUET, "socratic/test/0000.parquet": SOCRATIC}
    convert = server.add_revision(REPO, CONVERT, shards)
    return main, convert


def download(env, filename: str = MAIN_FILE, repo_id: str = REPO, **kwargs) -> Path:
    kwargs.setdefault("repo_type", "dataset")
    return Path(hf_hub_download(repo_id, filename, cache_dir=env.cache_dir, endpoint=env.endpoint, **kwargs))


def resolve_requests(server: HubServer, method: str) -> list:
    return [r for r in server.requests if r.method == method and "/resolve/" in r.path]


# -- metadata routes ----------------------------------------------------------------------


def test_dataset_info_on_main_and_on_convert_revision(hub_server, hf_env):
    main, convert = add_gsm8k(hub_server)
    api = HfApi(endpoint=hf_env.endpoint)

    info = api.dataset_info(REPO)
    assert (info.id, info.sha, info.private, info.gated) == (REPO, main, False, False)
    assert [c["config_name"] for c in info.card_data.configs] == ["main", "socratic"]
    assert info.card_data.configs[0]["data_files"][1] == {"split": "test", "path": "main/test-*"}
    assert [s.rfilename for s in info.siblings] == ["README.md", MAIN_FILE, "socratic/test-00000-of-00001.parquet"]

    info = api.dataset_info(REPO, revision=CONVERT, files_metadata=True)
    assert info.sha == convert
    assert info.card_data is None  # no README on the convert ref
    sibling = info.siblings[0]
    assert (sibling.rfilename, sibling.size) == ("main/test/0000.parquet", len(PARQUET))
    assert sibling.lfs.sha256 == sha256(PARQUET)
    assert hub_server.requests[-1].path == "/api/datasets/openai/gsm8k/revision/refs%2Fconvert%2Fparquet"
    assert hub_server.requests[-1].query == {"blobs": ["true"]}

    assert api.dataset_info(REPO, revision=main).sha == main  # by commit sha
    payload = httpx2.get(f"{hf_env.endpoint}/api/datasets/{REPO}?expand=sha&expand=gated").json()
    assert set(payload) == {"_id", "id", "sha", "gated"}


def test_list_repo_refs_lists_branches_converts_tags_and_prs(hub_server, hf_env):
    main, convert = add_gsm8k(hub_server)
    hub_server.add_tag(REPO, "v1.0", main)
    pr = hub_server.add_revision(REPO, "refs/pr/1", {"README.md": README})
    refs = HfApi(endpoint=hf_env.endpoint).list_repo_refs(REPO, repo_type="dataset", include_pull_requests=True)
    assert [(b.name, b.ref, b.target_commit) for b in refs.branches] == [("main", "refs/heads/main", main)]
    assert [(c.name, c.ref, c.target_commit) for c in refs.converts] == [("parquet", CONVERT, convert)]
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1.0", "refs/tags/v1.0", main)]
    assert [(p.ref, p.target_commit) for p in refs.pull_requests] == [("refs/pr/1", pr)]
    assert hub_server.commits(REPO) == {"main": main, CONVERT: convert, "v1.0": main, "refs/pr/1": pr}


def test_recursive_tree_is_paginated_with_link_headers(hf_env):
    files = {f"data/part-{i}/shard.jsonl": f'{{"i": {i}}}\n'.encode() for i in range(4)}
    with HubServer(page_size=3) as server:
        server.add_repo("acme/paged", {"README.md": b"# paged\n", **files})
        api = HfApi(endpoint=server.url)
        entries = list(api.list_repo_tree("acme/paged", repo_type="dataset", recursive=True))
        tree_requests = [r for r in server.requests if "/tree/" in r.path]
    assert [(type(e).__name__, e.path) for e in entries] == [
        ("RepoFile", "README.md"),
        ("RepoFolder", "data"),
        ("RepoFolder", "data/part-0"),
        ("RepoFile", "data/part-0/shard.jsonl"),
        ("RepoFolder", "data/part-1"),
        ("RepoFile", "data/part-1/shard.jsonl"),
        ("RepoFolder", "data/part-2"),
        ("RepoFile", "data/part-2/shard.jsonl"),
        ("RepoFolder", "data/part-3"),
        ("RepoFile", "data/part-3/shard.jsonl"),
    ]
    assert entries[3].lfs.sha256 == sha256(b'{"i": 0}\n')  # .jsonl files are LFS files
    assert entries[0].lfs is None and entries[0].blob_id == hashlib.sha1(b"blob 8\0# paged\n").hexdigest()
    assert len(tree_requests) == 4  # 10 entries, 3 per page
    assert "cursor" not in tree_requests[0].query
    assert all("cursor" in r.query and r.query["recursive"] == ["true"] for r in tree_requests[1:])


def test_tree_of_encoded_subpath_file_and_missing_path(hub_server, hf_env):
    _, convert = add_gsm8k(hub_server)
    api = HfApi(endpoint=hf_env.endpoint)
    listed = list(api.list_repo_tree(REPO, "main/test", repo_type="dataset", revision=CONVERT))
    assert [(e.path, e.size, e.lfs.sha256) for e in listed] == [
        ("main/test/0000.parquet", len(PARQUET), sha256(PARQUET))
    ]
    assert hub_server.requests[-1].path == "/api/datasets/openai/gsm8k/tree/refs%2Fconvert%2Fparquet/main%2Ftest"
    top = list(api.list_repo_tree(REPO, repo_type="dataset", revision=CONVERT))
    assert [(type(e), e.path) for e in top] == [(RepoFolder, "main"), (RepoFolder, "socratic")]
    itself = list(api.list_repo_tree(REPO, MAIN_FILE, repo_type="dataset"))
    assert [e.path for e in itself] == [MAIN_FILE]
    expanded = list(api.list_repo_tree(REPO, "main", repo_type="dataset", expand=True))
    assert expanded[0].last_commit.oid == hub_server.commits(REPO)["main"]
    with pytest.raises(RemoteEntryNotFoundError) as err:
        list(api.list_repo_tree(REPO, "nope", repo_type="dataset"))
    assert err.value.response.status_code == 404
    assert hub_server.requests[-1].status == 404


def test_paths_info_returns_known_paths_only(hub_server, hf_env):
    add_gsm8k(hub_server)
    api = HfApi(endpoint=hf_env.endpoint)
    infos = api.get_paths_info(REPO, [MAIN_FILE, "main", "missing.txt"], repo_type="dataset")
    assert [(type(i), i.path) for i in infos] == [(RepoFile, MAIN_FILE), (RepoFolder, "main")]
    assert (infos[0].size, infos[0].lfs.sha256) == (len(PARQUET), sha256(PARQUET))
    assert hub_server.requests[-1].method == "POST"
    assert hub_server.requests[-1].path == "/api/datasets/openai/gsm8k/paths-info/main"


def test_unencoded_special_refs_are_routed(hub_server, hf_env):
    _, convert = add_gsm8k(hub_server)
    base = f"{hf_env.endpoint}/api/datasets/{REPO}"
    assert httpx2.get(f"{base}/revision/refs/convert/parquet").json()["sha"] == convert
    tree = httpx2.get(f"{base}/tree/refs/convert/parquet/main/test").json()
    assert [e["path"] for e in tree] == ["main/test/0000.parquet"]
    response = httpx2.get(f"{hf_env.endpoint}/datasets/{REPO}/resolve/refs/convert/parquet/main/test/0000.parquet")
    assert (response.status_code, response.headers["x-repo-commit"], response.content) == (200, convert, PARQUET)


def test_harness_registry_route_is_empty(hub_server):
    assert httpx2.get(f"{hub_server.url}/api/agent-harnesses").json() == {"standardEnvVars": [], "harnesses": {}}


# -- downloads ----------------------------------------------------------------------------


def test_downloads_from_main_and_convert_match_lfs_oids(hub_server, hf_env):
    main, convert = add_gsm8k(hub_server)
    api = HfApi(endpoint=hf_env.endpoint)
    tree = api.list_repo_tree(REPO, repo_type="dataset", revision=CONVERT, recursive=True)
    oids = {e.path: e.lfs.sha256 for e in tree if isinstance(e, RepoFile)}

    on_main = download(hf_env)
    on_convert = download(hf_env, "main/test/0000.parquet", revision=CONVERT)
    assert sha256(on_main.read_bytes()) == sha256(PARQUET)
    assert sha256(on_convert.read_bytes()) == oids["main/test/0000.parquet"]
    repo_cache = hf_env.cache_dir / "datasets--openai--gsm8k"
    assert (repo_cache / "refs" / "main").read_text() == main
    assert (repo_cache / "refs" / "refs" / "convert" / "parquet").read_text() == convert
    assert on_convert == repo_cache / "snapshots" / convert / "main" / "test" / "0000.parquet"
    assert (repo_cache / "blobs" / sha256(PARQUET)).is_file()

    head = resolve_requests(hub_server, "HEAD")[-1]
    assert head.path == "/datasets/openai/gsm8k/resolve/refs%2Fconvert%2Fparquet/main/test/0000.parquet"
    assert head.headers["accept-encoding"] == "identity"
    response = httpx2.head(f"{hf_env.endpoint}{head.path}")
    assert response.headers["content-length"] == str(len(PARQUET))
    assert response.headers["x-linked-size"] == str(len(PARQUET))
    assert response.headers["x-linked-etag"] == f'"{sha256(PARQUET)}"'
    assert not [h for h in response.headers if h.lower().startswith("x-xet")] and "link" not in response.headers
    readme = httpx2.head(f"{hf_env.endpoint}/datasets/{REPO}/resolve/main/README.md")
    git_oid = hashlib.sha1(b"blob %d\0" % len(README) + README).hexdigest()
    assert readme.headers["etag"] == f'"{git_oid}"'
    assert "x-linked-etag" not in readme.headers


def test_snapshot_download_of_one_convert_config(hub_server, hf_env):
    _, convert = add_gsm8k(hub_server)
    folder = Path(
        snapshot_download(
            REPO,
            repo_type="dataset",
            revision=CONVERT,
            allow_patterns=["main/*"],
            cache_dir=hf_env.cache_dir,
            endpoint=hf_env.endpoint,
        )
    )
    assert folder.name == convert
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["main/test/0000.parquet"]
    assert (folder / "main" / "test" / "0000.parquet").read_bytes() == PARQUET
    assert [(r.method, r.path) for r in hub_server.requests] == [
        ("GET", "/api/datasets/openai/gsm8k/revision/refs%2Fconvert%2Fparquet"),
        ("GET", f"/api/datasets/openai/gsm8k/tree/{convert}"),
        ("HEAD", f"/datasets/openai/gsm8k/resolve/{convert}/main/test/0000.parquet"),
        ("GET", f"/datasets/openai/gsm8k/resolve/{convert}/main/test/0000.parquet"),
    ]


@pytest.mark.parametrize("cdn_redirect", [False, True])
def test_hf_file_system_reads_one_row_group_with_two_ranges(hf_env, cdn_redirect):
    with HubServer(cdn_redirect=cdn_redirect) as server:
        add_gsm8k(server)
        fs = HfFileSystem(endpoint=server.url, token=False, skip_instance_cache=True)
        path = f"datasets/{REPO}@{CONVERT}/main/test/0000.parquet"
        server.clear_requests()
        with fs.open(path, block_size=16 * 1024) as f:
            row_group = pq.ParquetFile(f).read_row_group(2)
        assert row_group.equals(TABLE.slice(200, 100))
        gets = resolve_requests(server, "GET")
        assert len(gets) == 2
        status = 302 if cdn_redirect else 206
        assert all(r.range and r.range.startswith("bytes=") and r.status == status for r in gets)
        if cdn_redirect:
            cdn = [r for r in server.requests if r.path.startswith("/cdn/")]
            expected = [(f"/cdn/{sha256(PARQUET)}", g.range, 206) for g in gets]
            assert [(r.path, r.range, r.status) for r in cdn] == expected

        assert fs.info(path)["size"] == len(PARQUET)
        assert sorted(fs.glob(f"datasets/{REPO}@{CONVERT}/**/*.parquet")) == [
            f"datasets/{REPO}@{CONVERT}/main/test/0000.parquet",
            f"datasets/{REPO}@{CONVERT}/socratic/test/0000.parquet",
        ]
        assert pq.read_table(path, filesystem=fs).equals(TABLE)
        with fs.open(path, block_size=0) as f:  # streamed
            assert f.read() == PARQUET


def test_cdn_redirect_download_goes_to_the_other_origin(hf_env):
    with HubServer(cdn_redirect=True) as server:
        add_gsm8k(server)
        path = hf_hub_download(REPO, MAIN_FILE, repo_type="dataset", cache_dir=hf_env.cache_dir, endpoint=server.url)
        assert Path(path).read_bytes() == PARQUET
        assert [(r.method, r.path, r.status, r.headers["host"]) for r in server.requests] == [
            ("HEAD", f"/datasets/{REPO}/resolve/main/{MAIN_FILE}", 302, f"127.0.0.1:{server.port}"),
            ("GET", f"/cdn/{sha256(PARQUET)}", 200, f"localhost:{server.port}"),
        ]
        assert "authorization" not in server.requests[1].headers


def test_tag_and_old_commit_stay_resolvable_after_update(hub_server, hf_env):
    first, _ = add_gsm8k(hub_server)
    hub_server.add_tag(REPO, "v1.0", "main")
    newer = parquet_bytes(make_table(10, seed=7))
    second = hub_server.update_repo(REPO, {MAIN_FILE: newer, "socratic/test-00000-of-00001.parquet": None})
    assert second != first
    assert hub_server.commits(REPO)["main"] == second
    assert download(hf_env, revision="v1.0").read_bytes() == PARQUET
    assert download(hf_env).read_bytes() == newer
    assert download(hf_env, revision=first).read_bytes() == PARQUET
    api = HfApi(endpoint=hf_env.endpoint)
    assert [s.rfilename for s in api.dataset_info(REPO).siblings] == ["README.md", MAIN_FILE]
    assert api.dataset_info(REPO, revision="v1.0").sha == first


def test_add_folder_and_model_repos(hub_server, hf_env, tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "tokenizer.json").write_text('{"version": "1.0"}')
    (tmp_path / "src" / "sub" / "notes.txt").write_text("x" * 2000)
    sha = hub_server.add_folder("acme/tok", tmp_path / "src", repo_type="model")
    path = hf_hub_download("acme/tok", "tokenizer.json", cache_dir=hf_env.cache_dir, endpoint=hf_env.endpoint)
    assert Path(path).read_text() == '{"version": "1.0"}'
    assert hub_server.requests[-1].path == "/acme/tok/resolve/main/tokenizer.json"
    info = HfApi(endpoint=hf_env.endpoint).model_info("acme/tok", files_metadata=True)
    assert info.sha == sha
    assert {s.rfilename: s.lfs is not None for s in info.siblings} == {"sub/notes.txt": True, "tokenizer.json": True}


# -- access control -----------------------------------------------------------------------


def test_gated_repo_needs_the_token_to_download(hub_server, hf_env):
    add_gsm8k(hub_server, gated=True)
    api = HfApi(endpoint=hf_env.endpoint)
    assert api.dataset_info(REPO).gated == "auto"
    assert len(list(api.list_repo_tree(REPO, repo_type="dataset", recursive=True))) == 5
    with pytest.raises(GatedRepoError) as err:
        download(hf_env)
    assert err.value.response.status_code == 401
    assert err.value.response.headers["x-error-code"] == "GatedRepo"
    assert download(hf_env, token=TOKEN).read_bytes() == PARQUET
    assert resolve_requests(hub_server, "GET")[-1].headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(HfHubHTTPError) as err:
        api.dataset_info(REPO, token="hf_wrong")
    assert err.value.response.status_code == 401
    assert err.value.server_message == "Invalid credentials in Authorization header"


def test_private_repo_is_not_found_without_the_token(hub_server, hf_env):
    add_gsm8k(hub_server, private=True)
    api = HfApi(endpoint=hf_env.endpoint)
    calls = (
        lambda: api.dataset_info(REPO),
        lambda: api.list_repo_refs(REPO, repo_type="dataset"),
        lambda: download(hf_env),
    )
    for call in calls:
        with pytest.raises(RepositoryNotFoundError) as err:
            call()
        assert (err.value.response.status_code, err.value.response.headers["x-error-code"]) == (401, "RepoNotFound")
    assert api.dataset_info(REPO, token=TOKEN).private is True
    assert download(hf_env, token=TOKEN).read_bytes() == PARQUET
    fs = HfFileSystem(endpoint=hf_env.endpoint, token=False, skip_instance_cache=True)
    with pytest.raises(FileNotFoundError):
        fs.info(f"datasets/{REPO}/{MAIN_FILE}")


def test_missing_repo_revision_and_file(hub_server, hf_env):
    add_gsm8k(hub_server)
    with pytest.raises(RepositoryNotFoundError) as repo_err:
        download(hf_env, repo_id="openai/nope")
    assert repo_err.value.response.status_code == 404
    with pytest.raises(RevisionNotFoundError):
        download(hf_env, revision="v9")
    with pytest.raises(RevisionNotFoundError):
        HfApi(endpoint=hf_env.endpoint).dataset_info(REPO, revision="v9")
    with pytest.raises(RemoteEntryNotFoundError) as entry_err:
        download(hf_env, "main/missing.parquet")
    assert isinstance(entry_err.value, EntryNotFoundError)
    commit = hub_server.commits(REPO)["main"]
    no_exist = hf_env.cache_dir / "datasets--openai--gsm8k" / ".no_exist" / commit / "main" / "missing.parquet"
    assert no_exist.is_file()


# -- ranges and the dataset viewer ---------------------------------------------------------


def test_range_requests(hub_server):
    add_gsm8k(hub_server)
    url = f"{hub_server.url}/datasets/{REPO}/resolve/main/{MAIN_FILE}"
    size = len(PARQUET)
    with httpx2.Client() as client:
        part = client.get(url, headers={"Range": "bytes=10-19"})
        expected = (206, f"bytes 10-19/{size}", PARQUET[10:20])
        assert (part.status_code, part.headers["content-range"], part.content) == expected
        tail = client.get(url, headers={"Range": "bytes=-8"})
        assert (tail.headers["content-range"], tail.content) == (f"bytes {size - 8}-{size - 1}/{size}", PARQUET[-8:])
        rest = client.get(url, headers={"Range": f"bytes={size - 4}-"})
        assert (rest.status_code, rest.content) == (206, PARQUET[-4:])
        past = client.get(url, headers={"Range": f"bytes={size}-"})
        assert (past.status_code, past.headers["content-range"], past.content) == (416, f"bytes */{size}", b"")
        head = client.head(url, headers={"Range": "bytes=0-9"})
        assert (head.status_code, head.headers["content-length"]) == (206, "10")
    ranges = ["bytes=10-19", "bytes=-8", f"bytes={size - 4}-", f"bytes={size}-", "bytes=0-9"]
    assert [r.range for r in hub_server.requests] == ranges


def test_dataset_viewer_routes(hub_server):
    _, convert = add_gsm8k(hub_server)
    partial = {"main/partial-train/0000.parquet": b"PAR1", "main/partial-train/0001.parquet": b"PAR1"}
    hub_server.update_repo(REPO, partial, revision=CONVERT)
    base = hub_server.url
    with httpx2.Client() as client:
        splits = client.get(f"{base}/splits", params={"dataset": REPO}).json()
        assert splits == {
            "splits": [
                {"dataset": REPO, "config": "main", "split": "train"},
                {"dataset": REPO, "config": "main", "split": "test"},
                {"dataset": REPO, "config": "socratic", "split": "test"},
            ],
            "pending": [],
            "failed": [],
        }
        parquet = client.get(f"{base}/parquet", params={"dataset": REPO, "config": "socratic"}).json()
        assert parquet == {
            "parquet_files": [
                {
                    "dataset": REPO,
                    "config": "socratic",
                    "split": "test",
                    "url": f"{base}/datasets/{REPO}/resolve/refs%2Fconvert%2Fparquet/socratic/test/0000.parquet",
                    "filename": "0000.parquet",
                    "size": len(SOCRATIC),
                }
            ],
            "pending": [],
            "failed": [],
            "partial": False,
        }
        assert client.get(f"{base}/parquet", params={"dataset": REPO}).json()["partial"] is True
        assert client.get(f"{base}/is-valid", params={"dataset": REPO}).json()["viewer"] is True
        missing = client.get(f"{base}/is-valid", params={"dataset": "acme/none"})
        assert missing.status_code == 404

        index = client.get(f"{base}/api/datasets/{REPO}/parquet").json()
        assert index["main"]["partial-train"] == [
            f"{base}/api/datasets/{REPO}/parquet/main/partial-train/0.parquet",
            f"{base}/api/datasets/{REPO}/parquet/main/partial-train/1.parquet",
        ]
        assert client.get(f"{base}/api/datasets/{REPO}/parquet/socratic/test").json() == [
            f"{base}/api/datasets/{REPO}/parquet/socratic/test/0.parquet"
        ]
        redirect = client.get(f"{base}/api/datasets/{REPO}/parquet/socratic/test/0.parquet")
        assert (redirect.status_code, redirect.headers["location"]) == (
            302,
            f"{base}/datasets/{REPO}/resolve/refs%2Fconvert%2Fparquet/socratic/test/0000.parquet",
        )
        shard = client.get(redirect.headers["location"])
        assert (shard.content, shard.headers["x-repo-commit"]) == (SOCRATIC, hub_server.commits(REPO)[CONVERT])
        assert hub_server.commits(REPO)[CONVERT] != convert


# -- faults -------------------------------------------------------------------------------


def test_tree_500_then_200_is_retried(hub_server, hf_env, no_backoff_sleep):
    add_gsm8k(hub_server)
    fault = hub_server.add_fault(Fault(path=r"/tree/", status=500))
    files = HfApi(endpoint=hf_env.endpoint).list_repo_files(REPO, repo_type="dataset")
    assert files == ["README.md", MAIN_FILE, "socratic/test-00000-of-00001.parquet"]
    assert fault.hits == 1
    assert no_backoff_sleep == [1]
    assert [(r.status, r.fault) for r in hub_server.requests] == [(500, fault), (200, None)]


def test_tree_429_waits_retry_after_plus_one(hub_server, hf_env, no_backoff_sleep):
    add_gsm8k(hub_server)
    fault = hub_server.add_fault(Fault(path=r"/tree/", status=429, headers={"Retry-After": "3"}, times=2))
    files = HfApi(endpoint=hf_env.endpoint).list_repo_files(REPO, repo_type="dataset")
    assert len(files) == 3
    assert (fault.hits, no_backoff_sleep) == (2, [4.0, 4.0])


def test_dataset_info_500_is_not_retried(hub_server, hf_env):
    add_gsm8k(hub_server)
    hub_server.add_fault(Fault(path=r"^/api/datasets/", status=503, headers={"X-Error-Message": "maintenance"}))
    with pytest.raises(HfHubHTTPError) as err:
        HfApi(endpoint=hf_env.endpoint).dataset_info(REPO)
    assert (err.value.response.status_code, err.value.server_message) == (503, "maintenance")
    assert len(hub_server.requests) == 1


def test_persistent_head_500_gives_local_entry_not_found(hub_server, hf_env, no_backoff_sleep):
    add_gsm8k(hub_server)
    fault = hub_server.add_fault(Fault(path=r"/resolve/", method="HEAD", status=500, times=None))
    with pytest.raises(LocalEntryNotFoundError) as err:
        download(hf_env)
    assert isinstance(err.value.__cause__, HfHubHTTPError)
    assert no_backoff_sleep == [1, 2, 4, 8, 8]
    assert fault.hits == 7  # the fast first try, then a second pass with 5 retries
    assert resolve_requests(hub_server, "GET") == []


def test_head_error_or_refused_connection_falls_back_to_the_cache(hub_server, hf_env, no_backoff_sleep):
    add_gsm8k(hub_server)
    first = download(hf_env)
    hub_server.add_fault(Fault(path=r"/resolve/", method="HEAD", status=500, times=None))
    assert download(hf_env) == first
    hub_server.stop()
    assert download(hf_env) == first  # connection refused: the cache answers too
    with pytest.raises(LocalEntryNotFoundError) as err:
        download(hf_env, "README.md")
    assert isinstance(err.value.__cause__, httpx2.ConnectError)


def test_offline_mode_serves_the_cache_only(hub_server, hf_env, monkeypatch):
    from huggingface_hub import constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    add_gsm8k(hub_server)
    first = download(hf_env, "main/test/0000.parquet", revision=CONVERT)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    hub_server.clear_requests()
    assert download(hf_env, "main/test/0000.parquet", revision=CONVERT) == first
    with pytest.raises(LocalEntryNotFoundError):
        download(hf_env)
    with pytest.raises(OfflineModeIsEnabled):
        HfApi(endpoint=hf_env.endpoint).dataset_info(REPO)
    assert hub_server.requests == []


def test_dropped_head_raises_remote_protocol_error(hub_server, hf_env):
    add_gsm8k(hub_server)
    fault = hub_server.add_fault(Fault(path=r"/resolve/", method="HEAD", kind="drop"))
    with pytest.raises(httpx2.RemoteProtocolError):
        download(hf_env)
    assert (fault.hits, hub_server.requests[-1].status, hub_server.requests[-1].fault) == (1, None, fault)


def test_dropped_or_truncated_get_is_restarted(hub_server, hf_env, no_backoff_sleep):
    add_gsm8k(hub_server)
    drop = hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="drop"))
    cut = hub_server.add_fault(Fault(path=r"/resolve/", kind="truncate", nbytes=1000))
    assert sha256(download(hf_env).read_bytes()) == sha256(PARQUET)
    assert (drop.hits, cut.hits, no_backoff_sleep) == (1, 1, [1, 1])
    expected = [("HEAD", None), ("GET", drop), ("GET", cut), ("GET", None)]
    assert [(r.method, r.fault) for r in hub_server.requests] == expected


def test_always_truncated_body_raises_after_five_resumes(hub_server, hf_env, no_backoff_sleep):
    add_gsm8k(hub_server)
    fault = hub_server.add_fault(Fault(path=r"/resolve/", kind="truncate_after", nbytes=100, times=None))
    with pytest.raises(httpx2.RemoteProtocolError, match="peer closed connection"):
        download(hf_env)
    assert (fault.hits, no_backoff_sleep) == (6, [1, 1, 1, 1, 1])


def test_short_body_fails_the_size_check(hub_server, hf_env):
    add_gsm8k(hub_server)
    hub_server.add_fault(Fault(path=r"/resolve/", kind="short", nbytes=1234))
    message = f"Consistency check failed: file should be of size {len(PARQUET)} but has size 1234"
    with pytest.raises(OSError, match=message):
        download(hf_env)


def test_corrupt_body_downloads_silently_with_another_sha256(hub_server, hf_env):
    add_gsm8k(hub_server)
    hub_server.add_fault(Fault(path=r"/resolve/", kind="corrupt", nbytes=4))
    data = download(hf_env).read_bytes()
    assert len(data) == len(PARQUET)
    assert sha256(data) != sha256(PARQUET)
    assert sum(a != b for a, b in zip(data, PARQUET)) == 4


def test_ignored_range_breaks_hf_file_system_block_reads(hub_server):
    add_gsm8k(hub_server)
    fault = hub_server.add_fault(Fault(path=r"/resolve/", kind="ignore_range", times=None))
    response = httpx2.get(f"{hub_server.url}/datasets/{REPO}/resolve/main/{MAIN_FILE}", headers={"Range": "bytes=0-9"})
    assert (response.status_code, response.content) == (200, PARQUET)
    fs = HfFileSystem(endpoint=hub_server.url, token=False, skip_instance_cache=True)
    with pytest.raises(pa.ArrowInvalid):
        with fs.open(f"datasets/{REPO}/{MAIN_FILE}", block_size=16 * 1024) as f:
            pq.ParquetFile(f).read_row_group(2)
    assert fault.hits >= 2


def test_gated_status_fault_and_skip(hub_server, hf_env):
    add_gsm8k(hub_server)
    gated = Fault(path=r"/resolve/", method="HEAD", status=403, headers={"X-Error-Code": "GatedRepo"}, skip=1)
    fault = hub_server.add_fault(gated)
    assert download(hf_env).read_bytes() == PARQUET
    with pytest.raises(GatedRepoError):
        download(hf_env, "socratic/test-00000-of-00001.parquet")
    assert (fault.seen, fault.hits) == (2, 1)
    hub_server.clear_faults()
    assert hub_server.faults == []


def test_requests_are_recorded_on_arrival(hub_server):
    add_gsm8k(hub_server)
    hub_server.add_fault(Fault(path=r"/refs$", kind="delay", delay=1.0))
    result: dict[str, int] = {}
    url = f"{hub_server.url}/api/datasets/{REPO}/refs"
    thread = threading.Thread(target=lambda: result.setdefault("status", httpx2.get(url).status_code))
    thread.start()
    deadline = time.monotonic() + 0.9
    while not hub_server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    in_flight = [(r.path, r.status, r.fault.kind) for r in hub_server.requests]
    thread.join()
    assert in_flight == [(f"/api/datasets/{REPO}/refs", None, "delay")]
    assert (result["status"], hub_server.requests[0].status) == (200, 200)


def test_stop_closes_keep_alive_connections(hub_server):
    add_gsm8k(hub_server)
    with httpx2.Client() as client:
        assert client.get(f"{hub_server.url}/api/datasets/{REPO}").status_code == 200
        hub_server.stop()
        with pytest.raises(httpx2.TransportError):
            client.get(f"{hub_server.url}/api/datasets/{REPO}")
    with pytest.raises(httpx2.ConnectError):
        HfApi(endpoint=hub_server.url).dataset_info(REPO)


def test_fault_and_repo_arguments_are_checked(hub_server):
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")
    hub_server.add_repo("acme/a", {"x.txt": b"x"})
    with pytest.raises(ValueError, match="exists"):
        hub_server.add_repo("acme/a", {})
    with pytest.raises(ValueError, match="invalid path"):
        hub_server.add_repo("acme/b", {"../x": b""})
    with pytest.raises(KeyError):
        hub_server.add_tag("acme/a", "v1", "0" * 40)
