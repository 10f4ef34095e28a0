"""Routers: a listener's input (prompt text, optional lyrics, form fields) → the detailed prompt the generators get.

A router is a class named by settings.EARSHOT_PROMPT_ROUTER. `RuleRouter` (the default) reads by rules: the form's
lyrics, or lyrics after a "lyrics:" line; "instrumental" or words asking for a voice; a duration ("30 s", "2
minutes") and a tempo ("120 bpm") in the text or the form. An LLM router can replace it by subclassing Router.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from arena.generation.signature import DetailedPrompt


@dataclass(frozen=True)
class ListenerInput:
    text: str
    lyrics: str = ""
    duration_s: float | None = None  # the form's, if it has one
    instrumental: bool | None = None  # the form's tick box, if it has one


class Router:
    def route(self, given: ListenerInput) -> DetailedPrompt:
        raise NotImplementedError


_LYRICS_SECTION = re.compile(r"(?:^|\n)\s*lyrics\s*:\s*\n?(.*)\Z", re.IGNORECASE | re.DOTALL)
_INSTRUMENTAL = re.compile(r"\b(instrumental|no vocals?|without vocals?|no singing)\b", re.IGNORECASE)
_VOCAL = re.compile(r"\b(vocals?|singing|singer|sung|sings?|choir|rap|rapping|a cappella|song with words)\b",
                    re.IGNORECASE)
_SECONDS = re.compile(r"\b(\d{1,4}(?:\.\d+)?)\s*(?:s|sec|secs|second|seconds)\b", re.IGNORECASE)
_MINUTES = re.compile(r"\b(\d{1,3}(?:\.\d+)?)\s*(?:min|mins|minute|minutes)\b", re.IGNORECASE)
_BPM = re.compile(r"\b(\d{2,3})\s*bpm\b", re.IGNORECASE)
BPM_RANGE = (30, 300)


class RuleRouter(Router):
    def route(self, given: ListenerInput) -> DetailedPrompt:
        text = given.text.strip()
        lyrics = given.lyrics.strip()
        section = _LYRICS_SECTION.search(text)
        if section is not None:
            if not lyrics:
                lyrics = section.group(1).strip()
            text = text[: section.start()].strip() or text
        # Words that only ask for a voice ("no vocals") are read before those that ask for one ("vocals").
        if lyrics:
            instrumental = False
        elif given.instrumental is not None:
            instrumental = given.instrumental
        elif _INSTRUMENTAL.search(text):
            instrumental = True
        else:
            instrumental = _VOCAL.search(text) is None
        duration = given.duration_s
        if duration is None:
            if (minutes := _MINUTES.search(text)) is not None:
                duration = float(minutes.group(1)) * 60
            elif (seconds := _SECONDS.search(text)) is not None:
                duration = float(seconds.group(1))
        if duration is not None and duration <= 0:
            duration = None
        bpm = None
        if (tempo := _BPM.search(text)) is not None and BPM_RANGE[0] <= int(tempo.group(1)) <= BPM_RANGE[1]:
            bpm = int(tempo.group(1))
        return DetailedPrompt(
            overall_prompt=text, instrumental=instrumental, lyrics=lyrics or None, duration=duration, bpm=bpm
        )


@lru_cache(maxsize=4)
def _router_class(path: str) -> type[Router]:
    found = import_string(path)
    if not (isinstance(found, type) and issubclass(found, Router)):
        raise TypeError(f"EARSHOT_PROMPT_ROUTER={path!r} is not a Router subclass")
    return found


def router_get() -> Router:
    return _router_class(settings.EARSHOT_PROMPT_ROUTER)()


def router_name() -> str:
    return str(settings.EARSHOT_PROMPT_ROUTER)
