#!/usr/bin/env bash
# Install Debian's Redis and PostgreSQL servers for the scale-out tests (Celery broker, shared
# Dagster instance), when they are missing and we are root. Idempotent; says what to do when not root.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/install_servers.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]}) for the scale-out tests" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
