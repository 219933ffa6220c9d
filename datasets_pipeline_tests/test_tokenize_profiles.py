"""Tokenizer profiles: loading, validation errors, artifact hashes, and the tokenizers behind
them (trained with ``tokenizers`` and SentencePiece, a local file, one served by a loopback Hub)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pyarrow as pa
import pytest

from datasets_pipeline.errors import ChecksumMismatch
from datasets_pipeline.hub.hf_source import HubSource
from datasets_pipeline.tokenize import (
    ProfileError,
    ProfileTokenizer,
    load_profile,
    load_profiles,
    resolve_tokenizer,
    tokenize_table,
    train_profile_tokenizer,
)
from datasets_pipeline.tokenize.encoder import SentencePieceEncoder, TokenizersEncoder
from datasets_pipeline.tokenize.profiles import PROFILES_ENV, profiles_path
from datasets_pipeline_tests.hub_server import Fault

ROOT = Path(__file__).resolve().parents[1]
REF_TOKENIZER = Path(__file__).parent / "reference" / "tokenize_tokenizer.json"
WORDS = "the cat sat on a mat über naïve café 東京 data arrow token answer question".split()
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


def corpus(n: int = 600, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 20))) + "\n\n" for _ in range(n)]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tokenizers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def chats() -> pa.Table:
    convs = [
        [{"role": "user", "content": "the cat?"}, {"role": "assistant", "content": "sat on a mat, über naïve."}],
        [{"role": "system", "content": "data"}, {"role": "user", "content": "東京"}, {"role": "assistant", "content": "café"}],
    ]
    return pa.table({"messages": pa.array(convs, pa.list_(MESSAGE)), "uid": ["a", "b"]})


def test_shipped_profiles_load_and_default_trains_offline(monkeypatch):
    monkeypatch.delenv(PROFILES_ENV, raising=False)
    monkeypatch.chdir(ROOT)
    assert profiles_path() == ROOT / "tokenizers.yaml"
    profiles = load_profiles()
    default = profiles["default"]
    assert (default.tokenizer.kind, default.renderer, default.train_on_what) == ("train", "role_colon", "all_assistant_messages")
    assert default.tokenizer.train.sources == ("gsm8k@main/train",)
    assert profiles["qwen3_local"].tokenizer.train.special_tokens == ("<|im_start|>", "<|im_end|>")
    assert profiles["llama3_sentencepiece"].tokenizer.format == "sentencepiece"


def test_env_file_replaces_the_project_file(tmp_path, monkeypatch):
    path = write(tmp_path, "profiles:\n  only:\n    tokenizer: {path: tok.json}\n    renderer: llama3\n    max_length: 64\n")
    (tmp_path / "tok.json").write_bytes(REF_TOKENIZER.read_bytes())
    monkeypatch.setenv(PROFILES_ENV, str(path))
    profiles = load_profiles()
    assert list(profiles) == ["only"]
    only = profiles["only"]
    assert (only.tokenizer.path, only.train_on_what, only.max_length) == (tmp_path / "tok.json", "all_assistant_messages", 64)


@pytest.mark.parametrize(
    "entry, message",
    [
        ("tokenizer: {path: tok.json}\n    renderer: gpt9", "profile 'p', field 'renderer': 'gpt9' is not one of"),
        ("tokenizer: {path: tok.json}\n    renderer: llama3\n    train_on_what: everything", "profile 'p', field 'train_on_what': 'everything'"),
        ("tokenizer: {path: tok.json}\n    renderer: llama3\n    max_length: 1", "profile 'p', field 'max_length': must be an integer >= 2"),
        ("tokenizer: {path: missing.json}\n    renderer: llama3", "profile 'p', field 'tokenizer.path': no such file"),
        ("tokenizer: {repo: acme/tok, file: tokenizer.json}\n    renderer: llama3", "profile 'p', field 'tokenizer.revision': required with 'repo'"),
        ("tokenizer: {repo: a/b, revision: main, file: tokenizer.json, sha256: xyz}\n    renderer: llama3", "field 'tokenizer.sha256': must be 64"),
        ("tokenizer: {path: tok.json, repo: a/b}\n    renderer: llama3", "field 'tokenizer': needs exactly one of"),
        ("tokenizer: {train: {algorithm: wordpiece}}\n    renderer: llama3", "field 'tokenizer.train.algorithm': 'wordpiece'"),
        ("tokenizer: {train: {vocab_size: 10}}\n    renderer: llama3", "field 'tokenizer.train.vocab_size': must be an integer >= 64"),
        ("tokenizer: {train: {sources: [no_robots]}}\n    renderer: llama3", "field 'tokenizer.train.sources'"),
        ("tokenizer: {train: {vocab: 3}}\n    renderer: llama3", "field 'tokenizer.train.vocab': unknown field"),
        ("tokenizer: {path: tok.json}\n    renderer: llama3\n    colour: red", "profile 'p', field 'colour': unknown field"),
        ("renderer: llama3", "profile 'p', field 'tokenizer': missing"),
    ],
)
def test_invalid_profiles_name_profile_and_field(tmp_path, entry, message):
    (tmp_path / "tok.json").write_bytes(REF_TOKENIZER.read_bytes())
    path = write(tmp_path, f"profiles:\n  p:\n    {entry}\n")
    with pytest.raises(ProfileError) as err:
        load_profiles(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_file_level_errors(tmp_path):
    with pytest.raises(ProfileError, match="tokenizer profiles file not found"):
        load_profiles(tmp_path / "nope.yaml")
    with pytest.raises(ProfileError, match="must be a mapping with a 'profiles:' key"):
        load_profiles(write(tmp_path, "- a\n"))
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profiles(write(tmp_path, "profiles: [\n"))
    path = write(tmp_path, "profiles:\n  a:\n    tokenizer: {train: {}}\n    renderer: role_colon\n")
    with pytest.raises(ProfileError, match=r"no tokenizer profile 'b'.*profiles: a"):
        load_profile("b", path)


def test_artifact_hash_covers_file_bytes_and_every_setting(tmp_path):
    (tmp_path / "tok.json").write_bytes(REF_TOKENIZER.read_bytes())
    base = "profiles:\n  p:\n    tokenizer: {path: tok.json}\n    renderer: llama3\n    max_length: 64\n"
    p = load_profile("p", write(tmp_path, base))
    sha = hashlib.sha256(REF_TOKENIZER.read_bytes()).hexdigest()
    resolved = resolve_tokenizer(p)
    assert resolved.sha256 == sha
    h = resolved.artifact_hash
    assert len(h) == 64 and h == p.artifact_hash(sha)
    assert p.artifact_hash("0" * 64) != h  # tokenizer bytes
    for changed in (base.replace("64", "65"), base.replace("llama3", "qwen3"), base + "    train_on_what: all_tokens\n"):
        q = load_profile("p", write(tmp_path, changed))
        assert q.artifact_hash(sha) != h, changed
    # the same settings written differently hash the same
    same = "profiles:\n  p: {max_length: 64, renderer: llama3, train_on_what: all_assistant_messages, tokenizer: {path: ./tok.json}}\n"
    assert load_profile("p", write(tmp_path, same)).artifact_hash(sha) == h


@pytest.mark.parametrize("algorithm, cls", [("bpe", TokenizersEncoder), ("unigram", TokenizersEncoder), ("sentencepiece_unigram", SentencePieceEncoder)])
def test_trained_tokenizer_keeps_special_tokens_and_tokenizes(tmp_path, algorithm, cls):
    path = write(
        tmp_path,
        f"profiles:\n  t:\n    tokenizer: {{train: {{algorithm: {algorithm}, vocab_size: 300}}}}\n    renderer: qwen3\n",
    )
    profile = load_profile("t", path)
    with pytest.raises(ProfileError, match="materialize tokenizer/t first"):
        resolve_tokenizer(profile)
    trained = train_profile_tokenizer(profile, corpus(), tmp_path / "tokenizers")
    again = resolve_tokenizer(profile, trained_folder=tmp_path / "tokenizers")
    assert again.sha256 == trained.sha256 == hashlib.sha256(trained.path.read_bytes()).hexdigest()
    encoder = again.encoder()
    assert isinstance(encoder, cls)
    end = encoder.encode_one("<|im_end|>")
    assert len(end) == 1 and len(encoder.encode_one("<|im_start|>")) == 1
    text = "über naïve 東京 ☃"
    ids = encoder.encode_one(text)
    if cls is TokenizersEncoder:
        assert encoder.tokenizer.decode(ids) == text
    else:
        assert encoder.processor.decode(ids) == text  # byte fallback covers the unseen ☃
    out = tokenize_table(chats(), ProfileTokenizer(profile, encoder))
    tokens = out.column("tokens").to_pylist()
    assert out.column("length").to_pylist() == [len(t) for t in tokens]
    # <|im_end|> closes each of the 2 + 3 messages and is trained only after assistant content
    assert [t.count(end[0]) for t in tokens] == [2, 3]
    weights = out.column("weights").to_pylist()
    assert all(w[-1] == 1 and w[0] == 0 for w in weights)


def test_bpe_and_sentencepiece_training_is_reproducible(tmp_path):
    for algorithm in ("bpe", "sentencepiece_unigram"):
        path = write(tmp_path, f"profiles:\n  t:\n    tokenizer: {{train: {{algorithm: {algorithm}, vocab_size: 300}}}}\n    renderer: llama3\n")
        profile = load_profile("t", path)
        first = train_profile_tokenizer(profile, corpus(), tmp_path / "a")
        second = train_profile_tokenizer(profile, corpus(), tmp_path / "b")
        assert first.sha256 == second.sha256
        assert first.artifact_hash == second.artifact_hash
        assert train_profile_tokenizer(profile, corpus(seed=1), tmp_path / "c").sha256 != first.sha256


def test_sentencepiece_pieces_encode_as_the_processor_does(tmp_path):
    path = write(tmp_path, "profiles:\n  s:\n    tokenizer: {train: {algorithm: sentencepiece_unigram, vocab_size: 300}}\n    renderer: llama3\n")
    profile = load_profile("s", path)
    encoder = train_profile_tokenizer(profile, corpus(), tmp_path / "tok").encoder()
    out = tokenize_table(chats(), ProfileTokenizer(profile, encoder))
    sp = encoder.processor
    header = lambda role: sp.encode(f"<|start_header_id|>{role}<|end_header_id|>\n\n")  # noqa: E731
    expected = (
        sp.encode("<|begin_of_text|>")
        + header("user") + sp.encode("the cat?<|eot_id|>")
        + header("assistant") + sp.encode("sat on a mat, über naïve.<|eot_id|>")
    )
    assert out.column("tokens")[0].as_py() == expected
    n_trained = len(sp.encode("sat on a mat, über naïve.<|eot_id|>"))
    assert out.column("weights")[0].as_py() == [0] * (len(expected) - n_trained) + [1] * n_trained


def test_tokenizer_json_from_the_loopback_hub(hub_server, hf_env, tmp_path):
    data = REF_TOKENIZER.read_bytes()
    sha = hub_server.add_repo("acme/tiny-chat", {"tokenizer.json": data, "README.md": "tiny"}, repo_type="model")
    digest = hashlib.sha256(data).hexdigest()
    path = write(tmp_path, f"profiles:\n  hub:\n    tokenizer: {{repo: acme/tiny-chat, revision: main, file: tokenizer.json, sha256: '{digest}'}}\n    renderer: llama3\n")
    profile = load_profile("hub", path)
    source = HubSource(endpoint=hub_server.url, cache_dir=str(hf_env.cache_dir))
    resolved = resolve_tokenizer(profile, hub_source=source)
    assert (resolved.sha256, resolved.revision) == (digest, sha)
    assert resolved.path.read_bytes() == data
    assert any(f"/acme/tiny-chat/resolve/{sha}/tokenizer.json" in r.path for r in hub_server.requests)
    assert resolved.lineage()["tokenizer_revision"] == sha
    out = tokenize_table(chats(), ProfileTokenizer.from_resolved(resolved))
    local = tokenize_table(chats(), ProfileTokenizer(profile, TokenizersEncoder(REF_TOKENIZER)))
    assert out.column("tokens").to_pylist() == local.column("tokens").to_pylist()

    # a profile pinning other bytes is refused
    wrong = write(tmp_path, f"profiles:\n  hub:\n    tokenizer: {{repo: acme/tiny-chat, revision: main, file: tokenizer.json, sha256: '{'0' * 64}'}}\n    renderer: llama3\n")
    with pytest.raises(ChecksumMismatch, match="the profile pins 0000"):
        resolve_tokenizer(load_profile("hub", wrong), hub_source=source)


def test_corrupted_hub_download_is_retried_then_refused(hub_server, hf_env, tmp_path):
    data = REF_TOKENIZER.read_bytes()
    hub_server.add_repo("acme/tok", {"tokenizer.json": data}, repo_type="model")
    path = write(tmp_path, "profiles:\n  hub:\n    tokenizer: {repo: acme/tok, revision: main, file: tokenizer.json}\n    renderer: llama3\n")
    profile = load_profile("hub", path)
    source = HubSource(endpoint=hub_server.url, cache_dir=str(hf_env.cache_dir))
    once = hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="corrupt", times=1))
    resolved = resolve_tokenizer(profile, hub_source=source)
    assert once.hits == 1 and resolved.path.read_bytes() == data
    hub_server.add_fault(Fault(path=r"/resolve/", method="GET", kind="corrupt", times=None))
    with pytest.raises(ChecksumMismatch, match="tokenizer.json"):
        resolve_tokenizer(profile, hub_source=HubSource(endpoint=hub_server.url, cache_dir=str(tmp_path / "fresh")))


def test_hub_errors_name_the_model_repo_revision_and_file(hub_server, hf_env, tmp_path):
    from datasets_pipeline.errors import RepoNotFound, RevisionNotFound, SourceError

    hub_server.add_repo("acme/tok", {"tokenizer.json": REF_TOKENIZER.read_bytes()}, repo_type="model")
    source = HubSource(endpoint=hub_server.url, cache_dir=str(hf_env.cache_dir), max_attempts=1)

    def profile(repo: str, revision: str, file: str):
        text = f"profiles:\n  hub:\n    tokenizer: {{repo: {repo}, revision: {revision}, file: {file}}}\n    renderer: llama3\n"
        return load_profile("hub", write(tmp_path, text))

    with pytest.raises(RevisionNotFound, match="revision 'v9' not found in model repo 'acme/tok'"):
        resolve_tokenizer(profile("acme/tok", "v9", "tokenizer.json"), hub_source=source)
    with pytest.raises(RepoNotFound, match="model repo 'acme/nope' not found"):
        resolve_tokenizer(profile("acme/nope", "main", "tokenizer.json"), hub_source=source)
    with pytest.raises(SourceError, match=r"model repo 'acme/tok' at main \([0-9a-f]{12}\) has no file 'other.json'"):
        resolve_tokenizer(profile("acme/tok", "main", "other.json"), hub_source=source)


def test_read_profiles_file_keeps_good_profiles_and_locates_each_error(tmp_path):
    from datasets_pipeline.tokenize.profiles import read_profiles_file

    file = tmp_path / "tokenizers.yaml"
    file.write_text(
        "profiles:\n"
        "  ok:\n"
        "    tokenizer: {train: {vocab_size: 500}}\n"
        "    renderer: llama3\n"
        "  small:\n"
        "    tokenizer:\n"
        "      train:\n"
        "        algorithm: bpe\n"
        "        vocab_size: 10\n"
        "    renderer: qwen3\n"
        "  a|b:\n"
        "    renderer: qwen3\n"
    )
    read = read_profiles_file(file)
    assert read.error is None and read.names == ("ok", "small", "a|b") and list(read.profiles) == ["ok"]
    assert {n: str(e) for n, e in read.errors.items()} == {
        "small": f"{file}:9: profile 'small', field 'tokenizer.train.vocab_size': must be an integer >= 64, got 10",
        "a|b": f"{file}:11: profile 'a|b', field 'name': a profile name is letters, digits, '_', '-', '.' (no '/' or '|')",
    }
    assert read.samples is not None and read.samples_error is None
    with pytest.raises(ProfileError, match=r":9: profile 'small', field 'tokenizer.train.vocab_size'"):
        load_profile("small", file)
    assert load_profile("ok", file).tokenizer.train.vocab_size == 500
    file.write_text("profiles: {}\n")
    assert str(read_profiles_file(file).error) == f"{file}:1: 'profiles' must map profile names to entries (and not be empty)"
