"""The demo's errors."""
from __future__ import annotations

from core.errors import Conflict


class DatabaseNotEmpty(Conflict):
    code = "database_not_empty"
    default_message = (
        "The database already has votes: build the reward model on an empty scratch database (`make reward-model` "
        "makes one) so that the checkpoint is reproducible."
    )


class RealRecordingTargetsMissed(Conflict):
    code = "real_recording_targets_missed"
    default_message = "The checkpoint misses its real-recording targets (reward/ml/realtest.py) after stage 2."
