"""The axes people judge and the reward model scores: overall, musicality, prompt and lyrics alignment, defined once.

Plain Python (no Django): the reward model's torch code reads the names too. Serializers take `choices()`, pages
get `page_axes()` through json_script, leaderboard scopes and the reward model's axes take the tuples below.
"""
from __future__ import annotations

from enum import StrEnum


class Axis(StrEnum):
    OVERALL = "overall"
    MUSICALITY = "musicality"
    PROMPT_ALIGNMENT = "prompt_alignment"
    LYRICS_ALIGNMENT = "lyrics_alignment"

    @property
    def label(self) -> str:
        """The axis's name on leaderboards, reports and charts."""
        return _LABELS[self]

    @property
    def question(self) -> str:
        """What the rater's page asks under this axis."""
        return _QUESTIONS[self]

    @property
    def column(self) -> str:
        """The Vote field holding a vote's outcome on this axis: the overall outcome is the vote's `choice`."""
        return "choice" if self is Axis.OVERALL else self.value

    @property
    def needs_lyrics(self) -> bool:
        """Asked (and accepted) only for prompts with lyrics."""
        return self is Axis.LYRICS_ALIGNMENT


_LABELS = {
    Axis.OVERALL: "Overall",
    Axis.MUSICALITY: "Musicality",
    Axis.PROMPT_ALIGNMENT: "Prompt alignment",
    Axis.LYRICS_ALIGNMENT: "Lyrics alignment",
}
_QUESTIONS = {
    Axis.OVERALL: "Better overall",
    Axis.MUSICALITY: "Musicality",
    Axis.PROMPT_ALIGNMENT: "Fits the prompt",
    Axis.LYRICS_ALIGNMENT: "Follows the lyrics",
}

# Every axis, in the order pages and reports list them.
AXES: tuple[Axis, ...] = tuple(Axis)
# The axes a vote may answer one by one beside its overall choice (each in a Vote column of its own).
VOTE_AXES: tuple[Axis, ...] = (Axis.MUSICALITY, Axis.PROMPT_ALIGNMENT, Axis.LYRICS_ALIGNMENT)
# The axes the bundled reward model predicts: it has no lyrics head.
MODEL_AXES: tuple[Axis, ...] = (Axis.OVERALL, Axis.MUSICALITY, Axis.PROMPT_ALIGNMENT)


def choices(axes: tuple[Axis, ...] = AXES) -> list[tuple[str, str]]:
    """(value, label) pairs for Django and DRF choice fields."""
    return [(axis.value, axis.label) for axis in axes]


def page_axes(axes: tuple[Axis, ...] = AXES) -> list[dict[str, str | bool]]:
    """The axes as a page's script reads them (json_script): value, label, question, needs_lyrics."""
    return [
        {"value": axis.value, "label": axis.label, "question": axis.question, "needs_lyrics": axis.needs_lyrics}
        for axis in axes
    ]
