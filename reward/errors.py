"""Domain errors of the reward model (versions, checkpoints, training, rankings, the agreement report), each with a
stable code a client can branch on. Plain classes: web processes import them without loading torch."""
from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound


class NoActiveRewardModel(NotFound):
    code = "no_active_reward_model"
    default_message = "No reward model version is active yet: an admin activates one."


class VersionNotFound(NotFound):
    code = "reward_model_not_found"
    default_message = "No such reward model version."


class PromptNotFound(NotFound):
    code = "prompt_not_found"
    default_message = "No such prompt."


class NoAgreementReport(NotFound):
    code = "no_agreement_report"
    default_message = "No agreement report yet: it is computed once a reward model is active and votes arrive."


class CheckpointMissing(InvalidInput):
    code = "checkpoint_missing"
    default_message = "The reward model checkpoint does not exist."


class VersionNotReady(Conflict):
    code = "reward_model_not_ready"
    default_message = "This reward model version has not finished training, so it cannot be activated."


class NotEnoughData(InvalidInput):
    code = "not_enough_training_data"
    default_message = "There is not enough data to train the reward model."
