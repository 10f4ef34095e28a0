"""Moderation of what listeners write, before anything is generated. A policy is a class named by
settings.EARSHOT_MODERATION_POLICY; `RuleModeration` (the default) refuses an empty or over-long prompt or lyrics,
control characters, and any word of the admin-kept block list (BlockedWord), each with a message saying which."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from arena.models import BlockedWord


@dataclass(frozen=True)
class ModerationOutcome:
    accepted: bool
    reason: str = ""  # empty | too_long | control_characters | blocked_word
    message: str = ""


ACCEPTED = ModerationOutcome(accepted=True)


class ModerationPolicy:
    def review(self, *, text: str, lyrics: str) -> ModerationOutcome:
        raise NotImplementedError


def _control_character(value: str, *, allowed: str) -> str | None:
    for char in value:
        if char not in allowed and unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            return f"U+{ord(char):04X}"
    return None


class RuleModeration(ModerationPolicy):
    def review(self, *, text: str, lyrics: str) -> ModerationOutcome:
        if not text.strip():
            return ModerationOutcome(False, "empty", "Write a prompt first: it is empty.")
        limit = settings.EARSHOT_PROMPT_MAX_CHARS
        if len(text) > limit:
            return ModerationOutcome(False, "too_long",
                                     f"The prompt is {len(text)} characters long; keep it under {limit}.")
        lyrics_limit = settings.EARSHOT_LYRICS_MAX_CHARS
        if len(lyrics) > lyrics_limit:
            return ModerationOutcome(False, "too_long",
                                     f"The lyrics are {len(lyrics)} characters long; keep them under {lyrics_limit}.")
        for name, value, allowed in (("prompt", text, ""), ("lyrics", lyrics, "\n\r\t")):
            found = _control_character(value, allowed=allowed)
            if found is not None:
                holds = "holds" if name == "prompt" else "hold"
                return ModerationOutcome(False, "control_characters",
                                         f"The {name} {holds} a control character ({found}); write plain text.")
        words = blocked_words()
        if words:
            for name, value in (("prompt", text), ("lyrics", lyrics)):
                match = words.search(value)
                if match is not None:
                    uses = "uses" if name == "prompt" else "use"
                    return ModerationOutcome(
                        False, "blocked_word",
                        f"The {name} {uses} a word this arena does not accept (\u201c{match.group(0)}\u201d): "
                        "please rephrase.",
                    )
        return ACCEPTED


def blocked_words() -> re.Pattern[str] | None:
    """The block list as one case-insensitive whole-word pattern (None when empty). Read each time: it is short."""
    words = [word.strip() for word in BlockedWord.objects.values_list("word", flat=True) if word.strip()]
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=4)
def _policy_class(path: str) -> type[ModerationPolicy]:
    found = import_string(path)
    if not (isinstance(found, type) and issubclass(found, ModerationPolicy)):
        raise TypeError(f"EARSHOT_MODERATION_POLICY={path!r} is not a ModerationPolicy subclass")
    return found


def moderation_get() -> ModerationPolicy:
    return _policy_class(settings.EARSHOT_MODERATION_POLICY)()
