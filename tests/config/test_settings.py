"""Settings in both modes: the embedded default and the real stack, and production's refusals."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; from config.celery import app; "
    "print(json.dumps({'db': s.DATABASES['default']['ENGINE'], 'layer': s.CHANNEL_LAYERS['default']['BACKEND'], "
    "'eager': app.conf.task_always_eager, 'broker': app.conf.broker_url, 'debug': s.DEBUG, "
    "'hosts': s.ALLOWED_HOSTS, 'target': s.EARSHOT_TARGET_LUFS}))"
)


def run_settings(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"}}
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", "EARSHOT_DATA_DIR": str(tmp_path)}, **env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=120)


def test_with_nothing_set_it_runs_embedded(tmp_path: Path) -> None:
    result = run_settings({}, tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.sqlite3"
    assert values["layer"] == "channels.layers.InMemoryChannelLayer"
    assert values["eager"] is True and values["debug"] is True


def test_with_database_and_redis_it_runs_the_real_stack(tmp_path: Path) -> None:
    result = run_settings(
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/earshot", "REDIS_URL": "redis://127.0.0.1:6379/0"},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["db"] == "django.db.backends.postgresql"
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"
    assert values["eager"] is False and values["broker"] == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EARSHOT_ENV": "production", "DEBUG": "1", "SECRET_KEY": "x" * 50}, "DEBUG must be off"),
        ({"EARSHOT_ENV": "production", "DEBUG": "0"}, "SECRET_KEY"),
        ({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
        ({"EARSHOT_TARGET_LUFS": "loud"}, "EARSHOT_TARGET_LUFS='loud' is not a number"),
        ({"EARSHOT_ENV": "staging"}, "EARSHOT_ENV='staging'"),
    ],
)
def test_it_refuses_to_start_with_bad_settings(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = run_settings(env, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_a_secret_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-" * 8)
    result = run_settings(
        {"EARSHOT_ENV": "production", "SECRET_KEY_FILE": str(secret), "ALLOWED_HOSTS": "earshot.example"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["debug"] is False and values["hosts"] == ["earshot.example"]
