#!/usr/bin/env bash
# Install Debian's chromium for the browser test of the UI, when it is missing and we are root.
# Idempotent and quiet: does nothing when /usr/bin/chromium exists; says what to do when not root.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/install_browser.sh: /usr/bin/chromium is missing; install Debian's chromium (apt-get install chromium) for the browser test" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
