"""Production's security settings: `check --deploy` is clean, and pages carry HSTS, the HTTPS redirect and a
Content-Security-Policy whose nonce is the import map's."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def run_manage(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY"} and not k.startswith("EARSHOT_")}
    clean.update({
        "DJANGO_SETTINGS_MODULE": "config.settings", "EARSHOT_DATA_DIR": str(tmp_path),
        "STATIC_ROOT": str(tmp_path / "static"), "EARSHOT_ENV": "production", "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "earshot.example.org",
    }, **env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_without_the_https_settings_check_deploy_warns(tmp_path: Path) -> None:
    result = run_manage(["check", "--deploy"], {"EARSHOT_SSL_REDIRECT": "0", "EARSHOT_HSTS_SECONDS": "0"}, tmp_path)
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_check_deploy_is_clean_in_production(tmp_path: Path) -> None:
    result = run_manage(["check", "--deploy", "--fail-level", "WARNING"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout + result.stderr


def test_the_proxy_header_and_hsts_come_from_the_environment(tmp_path: Path) -> None:
    probe = ("shell", "-c", "from django.conf import settings as s; "
             "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT, bool(s.SECURE_CSP))")
    result = run_manage(list(probe), {"EARSHOT_PROXY_SSL_HEADER": "X-Forwarded-Proto",
                                      "EARSHOT_HSTS_SECONDS": "600"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https') 600 True True"


@pytest.fixture
def production_headers(settings: Any) -> None:
    settings.SECURE_CSP = settings.EARSHOT_CSP
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.django_db
@pytest.mark.usefixtures("production_headers")
@pytest.mark.parametrize("path", ["/", "/leaderboard/", "/agreement/", "/admin/login/"])
def test_pages_carry_the_policy_and_hsts_behind_an_https_proxy(path: str) -> None:
    response = Client().get(path, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    nonce = re.search(r"script-src 'self' 'nonce-([^']+)'", policy)
    assert nonce is not None
    if path != "/admin/login/":  # the admin's own templates have no inline script
        assert f'<script type="importmap" nonce="{nonce.group(1)}">' in response.content.decode()
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


@pytest.mark.django_db
@pytest.mark.usefixtures("production_headers")
def test_plain_http_is_redirected_to_https() -> None:
    response = Client().get("/leaderboard/", HTTP_HOST="testserver")
    assert response.status_code == 301 and response["Location"] == "https://testserver/leaderboard/"


@pytest.mark.django_db
@pytest.mark.usefixtures("production_headers")
def test_the_health_probe_answers_over_plain_http() -> None:
    assert Client().get("/healthz").status_code == 200


@pytest.mark.django_db
def test_development_sends_no_policy() -> None:
    assert "Content-Security-Policy" not in Client().get("/leaderboard/")
