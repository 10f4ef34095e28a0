"""Shared fixtures: media in a temporary folder, real audio writers, the factories."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")  # type: ignore[attr-defined]


@pytest.fixture
def media_root(settings: pytest.FixtureRequest) -> Path:
    return Path(settings.MEDIA_ROOT)  # type: ignore[attr-defined]
