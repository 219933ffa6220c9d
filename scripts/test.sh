#!/usr/bin/env bash
# Install and run the test suite (PYTEST_WORKERS processes, default 2). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
set +e
# two workers, each test file on one of them (its fixtures and servers stay with it)
.venv/bin/python -m pytest -q -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" --dist loadfile --durations=25 "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "pytest collected no tests"
  exit 0
fi
exit "$code"
