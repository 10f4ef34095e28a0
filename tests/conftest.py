"""Shared fixtures: media in a temporary folder, real audio writers, the factories."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test writes media to a fresh folder (pure-module tests may run without pytest-django)."""
    if not request.config.pluginmanager.hasplugin("django"):
        return
    request.getfixturevalue("settings").MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture
def media_root(settings: pytest.FixtureRequest) -> Path:
    return Path(settings.MEDIA_ROOT)  # type: ignore[attr-defined]
