"""Fixtures of the scoring tests."""
from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def lenient(settings: Any) -> Any:
    """Boards for a handful of votes: no minimum vote count, and a bootstrap short enough for a test."""
    settings.EARSHOT_LEADERBOARD_MIN_VOTES = 0
    settings.EARSHOT_BOOTSTRAP_ROUNDS = 100
    return settings
