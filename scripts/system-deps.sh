#!/usr/bin/env bash
# Installs what the OS must provide for the tests: Debian's Chromium (browser tests), nginx (the split stack's proxy,
# tests/splitstack.py), PostgreSQL, Redis, and LAME's library (the ingest's MP3 encoder, arena/audio_processing.py).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
/sbin/ldconfig -p 2>/dev/null | grep -q 'libmp3lame\.so\.0' || missing+=(libmp3lame0)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
