#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the locked dependencies plus this package (editable).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  rm -f .venv/.installed-* && touch "$stamp"
fi
.venv/bin/python -m datasets_pipeline init  # the Dagster instance ($DAGSTER_HOME, default .dagster_home), before any run
if [ ! -x /usr/bin/chromium ]; then
  bash scripts/install_browser.sh
fi
bash scripts/install_servers.sh
