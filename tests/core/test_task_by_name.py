"""Tasks queued by name (so that web code never imports them) still run in the embedded demo, where Celery is eager
and the web process is its own worker."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from celery import current_app, signals
from core.oncommit import task_by_name
imports = []
signals.import_modules.connect(lambda **kwargs: imports.append(1), weak=False)
names = [
    "scoring.tasks.leaderboard_recompute", "scoring.tasks.leaderboards_recompute_all",
    "reward.tasks.clips_score_task", "reward.tasks.agreement_recompute_task", "reward.tasks.version_rescore_task",
    "arena.tasks.clip_upload_task",
]
resolved = {name: task_by_name(name).type.name for name in names}
resolved_again = {name: task_by_name(name).type.name for name in names}
print(json.dumps({"eager": current_app.conf.task_always_eager, "resolved": resolved, "again": resolved_again,
                  "module_loads": len(imports)}))
"""


@pytest.mark.slow
def test_every_task_queued_by_name_resolves_to_its_task_in_the_embedded_demo(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env["EARSHOT_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["eager"] is True
    assert seen["resolved"] == {name: name for name in seen["resolved"]}
    assert seen["again"] == seen["resolved"]
    # Loaded once per process: Celery's loader (and its Django fixup's system checks, ~0.1 s) ran on every call,
    # four times per demo vote.
    assert seen["module_loads"] == 1
