"""The Hub token is cleaned like ``huggingface_hub`` cleans it and never shows, in any form, anywhere.

Real ``dagster asset materialize`` runs (multiprocess executor, so steps write compute logs) against
a gated loopback Hub; afterwards stdout/stderr, every file under ``DAGSTER_HOME`` (the SQLite
databases read as bytes, compute logs), the data folder and the HF cache are searched for the token.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from datasets_pipeline.engine.ipc import read_table
from datasets_pipeline.hub.retry import scrub, secret_forms
from datasets_pipeline_tests.dagster_runs import REPO_ROOT
from datasets_pipeline_tests.fixtures_data import gsm8k_repo_files
from datasets_pipeline_tests.hub_server import HubServer

REPO = "openai/gsm8k"
TOKEN = "hf_LeakCanary8c1f2e9dA7"
WRONG = "hf_WrongCanary5b7d3e1f"
CONTROL = "hf_CtrlCanary\x0bInnerPart42"  # a vertical tab inside: not strippable, illegal in a header


def _forms(secret: str) -> list[bytes]:
    """Byte strings that would reveal ``secret``: its printable runs of 8+ characters and their encodings."""
    pieces = [p for p in secret.replace("\x0b", " ").split() if len(p) >= 8]
    found = set()
    for piece in pieces:
        found.update({piece.encode(), quote(piece, safe="").encode(), piece.encode("utf-16-le")})
    return sorted(found)


def _search(secret: str, texts: dict[str, bytes]) -> list[str]:
    return [f"{where}: {form!r}" for where, data in texts.items() for form in _forms(secret) if form in data]


def _files(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots if root.exists() for p in root.rglob("*") if p.is_file()}


def _run(env: dict[str, str], partition: str = "main/test") -> subprocess.CompletedProcess:
    args = [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "datasets_pipeline.definitions",
            "--select", "raw/gsm8k", "--partition", partition]  # fmt: skip
    return subprocess.run(args, cwd=REPO_ROOT, env=env, capture_output=True, timeout=300)


@pytest.fixture
def gated_hub():
    with HubServer(token=TOKEN) as server:
        server.add_repo(REPO, gsm8k_repo_files(), gated=True)
        yield server


def test_secret_forms_cover_escaped_and_encoded_spellings():
    secret = "hf_ab cd\x0bEFGHIJKLMN/+é"
    text = (
        f"raw {secret} repr {secret!r} ascii {ascii(secret)} bytes {secret.encode()!r} "
        f"url {quote(secret, safe='')} header b'Bearer {secret}'"
    )
    cleaned = scrub(text, secret)
    assert "EFGHIJKLMN" not in cleaned and "hf_ab" not in cleaned.replace("***", "")
    assert cleaned.startswith("raw *** repr '***' ascii '***' bytes b'***' url *** header b'Bearer ***'")
    assert scrub("nothing here", secret) == "nothing here" and secret_forms(None) == []


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "  "], ids=["lf", "crlf", "spaces"])
def test_token_with_line_break_or_spaces_is_stripped_and_never_recorded(gated_hub, tmp_path, data_dir, suffix):
    home, hf_home = tmp_path / "dagster_home", tmp_path / "hf_home"
    home.mkdir()
    env = {**os.environ, "HF_ENDPOINT": gated_hub.url, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1",
           "DATASETS_PIPELINE_DATA": str(data_dir), "DAGSTER_HOME": str(home),
           "DATASETS_PIPELINE_EXECUTOR": "multiprocess"}  # fmt: skip

    env["HF_TOKEN"] = f"  {TOKEN}{suffix}" if suffix == "  " else TOKEN + suffix
    ok = _run(env)
    assert ok.returncode == 0, ok.stderr[-3000:]
    assert read_table(data_dir / "raw" / "gsm8k" / "main" / "test.arrow").num_rows == 1319
    assert {r.headers.get("authorization") for r in gated_hub.requests} == {f"Bearer {TOKEN}"}  # sent cleaned

    # A wrong token (also with a line break) is refused by the Hub: a clear message, no token.
    env["HF_TOKEN"] = WRONG + suffix
    denied = _run(env, "socratic/test")
    assert denied.returncode != 0
    assert b"is gated or restricted (HTTP 401)" in denied.stderr and b"check HF_TOKEN" in denied.stderr

    assert list((home / "storage").rglob("*.err")), "the steps wrote compute logs"
    texts = {"stdout": ok.stdout + denied.stdout, "stderr": ok.stderr + denied.stderr}
    texts.update(_files(home, data_dir, hf_home))
    assert any(name.endswith(".db") for name in texts)
    assert _search(TOKEN, texts) == [] and _search(WRONG, texts) == []


def test_token_with_a_control_character_fails_at_once_naming_the_problem_not_the_token(gated_hub, tmp_path, data_dir):
    home, hf_home = tmp_path / "dagster_home", tmp_path / "hf_home"
    home.mkdir()
    env = {**os.environ, "HF_ENDPOINT": gated_hub.url, "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1",
           "DATASETS_PIPELINE_DATA": str(data_dir), "DAGSTER_HOME": str(home), "HF_TOKEN": CONTROL + "\n",
           "DATASETS_PIPELINE_EXECUTOR": "multiprocess"}  # fmt: skip
    proc = _run(env)
    assert proc.returncode != 0
    stderr = proc.stderr.decode()
    assert "was not sent: the HTTP client refused it (LocalProtocolError: Illegal header value b'Bearer ***')" in stderr
    assert "HF_TOKEN must hold printable ASCII only" in stderr
    assert "retrying" not in stderr and "kept failing" not in stderr  # not taken for an overloaded Hub
    assert gated_hub.requests == []  # nothing could be sent
    texts = {"stdout": proc.stdout, "stderr": proc.stderr, **_files(home, data_dir, hf_home)}
    assert _search(CONTROL, texts) == []
