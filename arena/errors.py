"""The arena's errors (battles, votes, sampling, clip uploads), each with a stable code a client can branch on."""
from __future__ import annotations

from core.errors import Conflict, EarshotError, InvalidInput, NotFound


class BattleNotFound(NotFound):
    # Also the answer for another rater's battle: whether it exists is not given away.
    code = "battle_not_found"
    default_message = "No such battle."


class BattleExpired(EarshotError):
    code = "battle_expired"
    status = 410
    default_message = "This battle has expired: start a new one."


class BattleAbandoned(EarshotError):
    code = "battle_abandoned"
    status = 410
    default_message = (
        "This battle was closed because you opened newer ones (a rater keeps only a few battles open): "
        "start a new one."
    )


class RaterGone(Conflict):
    # An anonymous rater pruned by the sweep (nothing voted, nothing open) while its session still pointed at it.
    code = "rater_gone"
    default_message = "Your listening session has ended: reload the page to start a new one."


class BattleVoted(Conflict):
    code = "battle_voted"
    default_message = "This battle already has a vote: start a new one."


class VoteConflict(Conflict):
    code = "vote_conflict"
    default_message = "This battle already has a different vote; a vote cannot be changed."


class BattleTooYoung(InvalidInput):
    code = "battle_too_young"
    default_message = "The battle is younger than the time it takes to listen to both clips."


class ListeningTooShort(InvalidInput):
    code = "listening_too_short"
    default_message = "Listen to both clips for the minimum time before voting."


class AudioNotFetched(InvalidInput):
    code = "audio_not_fetched"
    default_message = "Fetch and play both clips through the battle's audio URLs before voting."


class AxisNotApplicable(InvalidInput):
    code = "axis_not_applicable"
    default_message = "This axis does not apply to this battle."


class NoPairAvailable(EarshotError):
    code = "no_pair_available"
    status = 503
    default_message = "The arena has no prompt with clips from two active systems yet: try again later."


class ClipRefused(EarshotError):
    code = "clip_refused"
    status = 400

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class ClipUploadNotFound(NotFound):
    code = "clip_upload_not_found"
    default_message = "No such upload."


class PromptRefused(InvalidInput):
    """Moderation refused what the listener wrote; `details.reason` says why in one word."""

    code = "prompt_refused"
    default_message = "This prompt cannot be used: please rephrase it."


class NoGeneratorAvailable(EarshotError):
    code = "no_generator_available"
    status = 503
    default_message = "No two systems can make music for this prompt right now."


class GenerationNotFound(NotFound):
    code = "generation_not_found"
    default_message = "No such prompt request."
