#!/usr/bin/env bash
# Builds (or reuses) the virtualenv for this checkout, cached outside it and keyed by the requirements' hash,
# then points ./.venv at it. torch alone is several GB: a cache hit takes a second, a miss a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${EARSHOT_PYTHON:-}" python3.13 python3.12 \
      "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  echo "Earshot needs Python >= 3.12 (Django 6); set EARSHOT_PYTHON to its path" >&2
  return 1
}

PYTHON=$(find_python)
key=$( (cat requirements.txt; "$PYTHON" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)
cache_root="${EARSHOT_VENV_CACHE:-$HOME/.cache/earshot/venvs}"
venv="$cache_root/$key"
if [ ! -f "$venv/.complete" ]; then
  echo "==> building virtualenv $venv (first run for these requirements; torch makes this take minutes)"
  rm -rf "$venv" && mkdir -p "$cache_root"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
  "$venv/bin/pip" install --quiet -r requirements.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
  touch "$venv/.complete"
else
  echo "==> reusing cached virtualenv $venv"
fi
ln -sfn "$venv" .venv
