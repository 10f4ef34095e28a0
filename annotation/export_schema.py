"""The one schema of Earshot's preference exports: its columns, their types and meanings, per shape.

Plain Python plus pyarrow (no Django): the writers, the dataset card and the README read the same list, so the
files, the card and the documentation never disagree. Paths are relative to the export's folder (and to the
bundle's root): `audio/<clip>.mp3`, `reference/<prompt>.mp3`.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from core.axes import VOTE_AXES


class Shape(StrEnum):
    VOTES = "votes"  # one row per vote, as cast
    PAIRS = "pairs"  # one row per (prompt, clip pair): counts per choice and the majority
    CHOSEN_REJECTED = "chosen_rejected"  # one row per decided (vote, axis): for preference training


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    meaning: str


_TS = pa.timestamp("us", tz="UTC")
_PROMPT = [
    Column("prompt_id", pa.int64(), "Earshot's id of the prompt"),
    Column("prompt", pa.string(), "the text prompt both clips were made for"),
    Column("lyrics", pa.string(), "lyrics given with the prompt (null: instrumental)"),
    Column("reference_audio", pa.string(), "relative path of the prompt's reference audio, or null"),
    Column("prompt_origin", pa.string(), "bank (the arena's prompt bank) or listener (written by a listener and "
           "generated live)"),
]
# Per battle, not per prompt: the same prompt can be generated for with different routes (duration, tempo).
_DETAILED = Column(
    "prompt_detailed", pa.string(),
    "for a battle generated live, what the router made of the prompt, as a JSON object (Music Arena's prompt_detailed: "
    "overall_prompt, instrumental, lyrics, duration, bpm); null for imported clips",
)
_AXES = [
    Column(axis.value, pa.string(), f"{axis.label}: a, b, tie, both_bad, or null when not asked or not answered")
    for axis in VOTE_AXES
]

VOTE_COLUMNS = [
    Column("id", pa.string(), "the vote's id (its battle's public id)"),
    Column("created_at", _TS, "when the vote was recorded (UTC)"),
    Column("source", pa.string(),
           "the leaderboard scope the vote counts on: arena, campaign:<slug> or imported:<source>"),
    Column("campaign", pa.string(), "the campaign's slug, or null for the open arena"),
    *_PROMPT,
    _DETAILED,
    Column("system_a", pa.string(), "slug of the system that made clip A"),
    Column("system_b", pa.string(), "slug of the system that made clip B"),
    Column("audio_a", pa.string(), "relative path of clip A (as it was shown: sides are per vote)"),
    Column("audio_b", pa.string(), "relative path of clip B"),
    Column("winner", pa.string(), "overall choice: a, b, tie or both_bad"),
    *_AXES,
    Column("ms_played_a", pa.int64(), "milliseconds of clip A the server credited as heard"),
    Column("ms_played_b", pa.int64(), "milliseconds of clip B the server credited as heard"),
    Column("decision_ms", pa.int64(), "milliseconds from the battle's start to the vote (as the page reported)"),
    Column("feedback", pa.string(), "the rater's free-text reason; null unless the export includes feedback"),
    Column("rater", pa.string(), "the rater, as a keyed hash (HMAC-SHA256 with a salt secret to this export)"),
]

PAIR_COLUMNS = [
    Column("source", pa.string(), "the leaderboard scope: arena, campaign:<slug> or imported:<source>"),
    Column("campaign", pa.string(), "the campaign's slug, or null for the open arena"),
    *_PROMPT,
    Column("system_a", pa.string(), "slug of the system of clip A (clips in a fixed order per pair)"),
    Column("system_b", pa.string(), "slug of the system of clip B"),
    Column("audio_a", pa.string(), "relative path of clip A"),
    Column("audio_b", pa.string(), "relative path of clip B"),
    Column("votes", pa.int64(), "votes on the pair"),
    Column("a", pa.int64(), "votes for clip A"),
    Column("b", pa.int64(), "votes for clip B"),
    Column("tie", pa.int64(), "ties"),
    Column("both_bad", pa.int64(), "both bad"),
    Column("majority", pa.string(), "a, b, tie or both_bad with the most votes; null when the top counts are equal"),
    Column("first_vote_at", _TS, "the pair's first vote"),
    Column("last_vote_at", _TS, "the pair's last vote"),
]

CHOSEN_REJECTED_COLUMNS = [
    Column("id", pa.string(), "the vote's id (a vote answers one row per decided axis)"),
    Column("created_at", _TS, "when the vote was recorded (UTC)"),
    Column("source", pa.string(), "the leaderboard scope: arena, campaign:<slug> or imported:<source>"),
    Column("campaign", pa.string(), "the campaign's slug, or null for the open arena"),
    *_PROMPT,
    _DETAILED,
    Column("axis", pa.string(), "overall, musicality, prompt_alignment or lyrics_alignment"),
    Column("chosen", pa.string(), "relative path of the preferred clip"),
    Column("rejected", pa.string(), "relative path of the other clip"),
    Column("chosen_system", pa.string(), "slug of the preferred clip's system"),
    Column("rejected_system", pa.string(), "slug of the other clip's system"),
    Column("rater", pa.string(), "the rater, as a keyed hash (HMAC-SHA256 with a salt secret to this export)"),
]

COLUMNS: dict[Shape, list[Column]] = {
    Shape.VOTES: VOTE_COLUMNS,
    Shape.PAIRS: PAIR_COLUMNS,
    Shape.CHOSEN_REJECTED: CHOSEN_REJECTED_COLUMNS,
}


def arrow_schema(shape: Shape) -> pa.Schema:
    return pa.schema([pa.field(column.name, column.type) for column in COLUMNS[shape]])


def data_file_stem(shape: Shape) -> str:
    """The data files' name (before the format's suffix) for a shape, under data/."""
    return {Shape.VOTES: "preferences", Shape.PAIRS: "pairs", Shape.CHOSEN_REJECTED: "chosen_rejected"}[shape]


def clip_path(public_id: str) -> str:
    return f"audio/{public_id}.mp3"


def reference_path(prompt_id: int) -> str:
    return f"reference/{prompt_id}.mp3"
