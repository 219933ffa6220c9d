#!/usr/bin/env bash
# The main job: install, materialize the demo datasets (the Hub when reachable, else the bundled
# offline mirror), then serve the Dagster UI on http://127.0.0.1:3000. Pass --no-serve to stop after
# materializing; any other flags go to `python -m datasets_pipeline demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m datasets_pipeline demo "$@"
