#!/usr/bin/env bash
# The test command (the README's second command; .ci/run calls it). Installs what the tests need, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use: Chromium (browser tests), espeak-ng (voices), poppler (PDF pages), fonts.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing system packages (${need[*]}): tests that need them will skip (or fail under CI=true)"
  fi
fi

PY=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
.venv/bin/ruff check src tests bench
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
