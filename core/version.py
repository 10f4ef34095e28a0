"""The code version exports and reports name: EARSHOT_VERSION if set (images built without .git), else the git
commit of the checkout, else "unknown"."""
from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

_GIT = ("git", "rev-parse", "--short=12", "HEAD")


@cache
def code_version() -> str:
    given = os.environ.get("EARSHOT_VERSION", "").strip()
    if given:
        return given
    try:
        found = subprocess.run(  # noqa: S603 - fixed arguments; git as found on PATH
            _GIT, cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return found.stdout.strip() or "unknown"
