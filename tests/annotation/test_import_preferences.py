"""`manage.py import_preferences` on PostgreSQL with real audio: small folders written in Music Arena's and CMI-Pref's
schemas, bad rows refused with their line and reason, idempotence, the "imported:<source>" board and export, and the
arena's board left alone until an admin lets a source count in it."""
from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.exports import ExportSpec, export_run
from annotation.models import ImportedVote, ImportSource
from arena.models import Battle, Choice, Clip, Prompt, Rater, System, Vote
from scoring.models import LeaderboardSnapshot
from scoring.scopes import scope_parse, vote_scopes
from scoring.services import leaderboard_recompute_run
from tests.arena.arena_support import arena_isolated  # noqa: F401
from tests.factories import write_tone

pytestmark = pytest.mark.django_db


def _jsonl(path: Path, rows: list[Any]) -> None:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))


def _run(folder: Path, fmt: str, source: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_preferences", str(folder), "--format", fmt, "--source", source, "--no-progress",
                 stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _cmi_row(a: str, b: str, **fields: Any) -> dict[str, Any]:
    row = {
        "audio-path": a, "audio2": b, "ref-audio-path": "", "prompt": "calm piano", "lyrics": "",
        "preference-musicality": "model_a", "preference-alignment": "model_b",
        "confidence_preference-musicality": 4, "confidence_preference-alignment": 3,
        "model_a": "sys-alpha", "model_b": "sys-beta", "user_id": "u1", "feedback": "the first one swings",
        "total_listening_time_a": 12.5, "total_listening_time_b": 8,
    }
    row.update(fields)
    return row


@pytest.fixture
def cmi_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cmi"
    (folder / "gen-audio").mkdir(parents=True)
    (folder / "ref-audio").mkdir()
    for seed, name in enumerate(("a1", "b1", "b2", "c2", "new"), start=1):
        write_tone(folder / "gen-audio" / f"{name}.wav", seconds=1.0, seed=seed, frequency=200 + 50 * seed)
    write_tone(folder / "ref-audio" / "r.wav", seconds=1.0, seed=40)
    write_tone(tmp_path / "outside.wav", seconds=1.0, seed=41)
    (folder / "gen-audio" / "garbage.wav").write_text("not audio at all")
    _jsonl(folder / "cmi_data.jsonl", [
        _cmi_row("gen-audio/a1.wav", "gen-audio/b1.wav"),
        _cmi_row("gen-audio/b2.wav", "gen-audio/c2.wav", model_a="sys-beta", model_b="sys-gamma", prompt="",
                 lyrics="la la la", **{"ref-audio-path": "ref-audio/r.wav", "preference-musicality": "model_b",
                                       "preference-alignment": "model_b", "user_id": "u2"}),
        _cmi_row("gen-audio/a1.wav", "gen-audio/b1.wav", user_id="u2", **{"preference-musicality": "model_b"}),
        _cmi_row("gen-audio/a1.wav", "gen-audio/b1.wav", **{"preference-musicality": "maybe"}),
        _cmi_row("gen-audio/a1.wav", "gen-audio/none.wav"),
        _cmi_row("../outside.wav", "gen-audio/b1.wav"),
        _cmi_row("gen-audio/a1.wav", "gen-audio/a1.wav"),
        _cmi_row("gen-audio/new.wav", "gen-audio/garbage.wav"),
        "{not json",
    ])
    # A split file beside cmi_data.jsonl is a subset of it: only cmi_data.jsonl is read.
    _jsonl(folder / "cmi_train.jsonl", [_cmi_row("gen-audio/a1.wav", "gen-audio/b1.wav")])
    return folder


def test_a_cmi_pref_folder_imports_its_good_rows_and_refuses_each_bad_one_with_its_line(
    cmi_folder: Path, media_root: Path
) -> None:
    out, err = _run(cmi_folder, "cmi-pref", "cmi")
    assert "imported 3, skipped 0 (already there), refused 6 into imported:cmi" in out
    lines = [line for line in err.splitlines() if line.startswith("refused")]
    assert lines == [
        "refused  cmi_data.jsonl line 4: 'preference-musicality' 'maybe' is not model_a or model_b",
        "refused  cmi_data.jsonl line 5: 'audio2' 'gen-audio/none.wav': no such file in the folder",
        "refused  cmi_data.jsonl line 6: 'audio-path' '../outside.wav' leaves the folder",
        "refused  cmi_data.jsonl line 7: the same clip is on both sides",
        lines[4],
        lines[5],
    ]
    assert lines[4].startswith("refused  cmi_data.jsonl line 8: gen-audio/garbage.wav:")
    assert lines[5].startswith("refused  cmi_data.jsonl line 9: not valid JSON")
    assert sorted(System.objects.values_list("name", flat=True)) == ["sys-alpha", "sys-beta", "sys-gamma"]
    assert Prompt.objects.count() == 2 and Clip.objects.count() == 4  # row 3 reuses row 1's clips
    # The refused row 8 imported its good clip first: rolled back, files and all.
    assert len(list((media_root / "originals").iterdir())) == 4
    assert len(list((media_root / "delivery").iterdir())) == 4
    assert Vote.objects.count() == 3 and Battle.objects.filter(mode=Battle.Mode.IMPORTED, status="voted").count() == 3
    first = Vote.objects.get(imported__source_row="cmi_data.jsonl:1")
    assert (first.choice, first.musicality, first.prompt_alignment) == (Choice.A, Choice.A, Choice.B)
    assert (first.ms_played_a, first.ms_played_b, first.reason) == (12500, 8000, "the first one swings")
    assert first.rater.external_id == "cmi:u1" and first.system_a.name == "sys-alpha"
    second = Vote.objects.get(imported__source_row="cmi_data.jsonl:2")
    assert second.prompt.lyrics == "la la la" and second.prompt.reference_audio
    assert sorted(Rater.objects.values_list("external_id", flat=True)) == ["cmi:u1", "cmi:u2"]
    assert ImportedVote.objects.filter(source__slug="cmi").count() == 3


def test_running_it_again_imports_nothing_twice(cmi_folder: Path) -> None:
    _run(cmi_folder, "cmi-pref", "cmi")
    out, _ = _run(cmi_folder, "cmi-pref", "cmi")
    assert "imported 0, skipped 3 (already there), refused 6" in out
    assert Vote.objects.count() == 3 and Clip.objects.count() == 4 and Prompt.objects.count() == 2


def _ma_record(uuid: str, a_url: str, b_url: str, preference: str = "A", **fields: Any) -> dict[str, Any]:
    record = {
        "uuid": uuid,
        "prompt": {"prompt": "upbeat synthwave"},
        "prompt_detailed": {"overall_prompt": "upbeat synthwave with a driving bass", "instrumental": True},
        "vote_user": {"salted_ip": "ip-hash", "salted_fingerprint": "fp-1"},
        "a_audio_url": a_url, "b_audio_url": b_url,
        "a_metadata": {"system_key": {"system_tag": "musicgen", "variant_tag": "small"}, "checksum": "x"},
        "b_metadata": {"system_key": {"system_tag": "stable-audio", "variant_tag": "open"}, "checksum": "y"},
        "vote": {
            "preference": preference, "preference_time": 1_700_000_000.0,
            "a_listen_data": [["PLAY", 100.0], ["TICK", 102.0], ["PAUSE", 105.0]],
            "b_listen_data": [["PLAY", 106.0], ["STOP", 110.5]],
            "feedback": "A has the better groove",
        },
    }
    record.update(fields)
    return record


@pytest.fixture
def arena_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "music-arena"
    (folder / "audio").mkdir(parents=True)
    (folder / "battles").mkdir()
    for seed, name in enumerate(("m1a", "m1b", "m2a", "m2b"), start=10):
        write_tone(folder / "audio" / f"{name}.wav", seconds=1.0, seed=seed, frequency=150 + 40 * seed)
    url = "https://storage.example.org/music-arena/audio/{}.wav"
    (folder / "battles" / "0001.json").write_text(json.dumps(
        _ma_record("u-1", url.format("m1a"), url.format("m1b"))
    ))
    (folder / "battles" / "0002.json").write_text(json.dumps(
        _ma_record("u-2", url.format("m1a"), url.format("missing"))
    ))
    anonymised = _ma_record("u-5", url.format("m2a"), url.format("m2b"))
    anonymised["a_metadata"] = {"lyrics": "", "checksum": "x"}
    _jsonl(folder / "battles" / "more.jsonl", [
        _ma_record("u-3", "../audio/m2a.wav", "../audio/m2b.wav", "TIE",
                   prompt_detailed={"overall_prompt": "a folk song", "instrumental": False, "lyrics": "oh my"}),
        _ma_record("u-4", url.format("m2a"), url.format("m2b"), "MAYBE"),
        anonymised,
    ])
    return folder


def test_a_music_arena_release_imports_battles_and_their_listening_times(arena_folder: Path) -> None:
    out, err = _run(arena_folder, "music-arena", "ma")
    assert "imported 2, skipped 0 (already there), refused 3 into imported:ma" in out
    assert [line for line in err.splitlines() if line.startswith("refused")] == [
        "refused  battles/0002.json record u-2: 'b_audio_url' "
        "'https://storage.example.org/music-arena/audio/missing.wav': no file 'missing.wav' in the folder",
        "refused  battles/more.jsonl record u-4: 'vote.preference' 'MAYBE' is not one of A, B, TIE, BOTH_BAD",
        "refused  battles/more.jsonl record u-5: 'a_metadata.system_key' is missing (an anonymised record names no "
        "system)",
    ]
    assert sorted(System.objects.values_list("name", flat=True)) == ["musicgen:small", "stable-audio:open"]
    assert Clip.objects.count() == 4 and Prompt.objects.count() == 2
    vote = Vote.objects.get(imported__source_row="u-1")
    assert (vote.choice, vote.musicality, vote.ms_played_a, vote.ms_played_b) == (Choice.A, "", 5000, 4500)
    assert vote.reason == "A has the better groove" and vote.rater.external_id == "ma:fp-1"
    assert vote.created_at.timestamp() == 1_700_000_000.0
    assert vote.prompt.text == "upbeat synthwave with a driving bass"
    tie = Vote.objects.get(imported__source_row="u-3")
    assert tie.choice == Choice.TIE and tie.prompt.lyrics == "oh my"
    assert "skipped 2" in _run(arena_folder, "music-arena", "ma")[0]


def test_imported_votes_form_their_own_board_and_join_the_arena_only_when_an_admin_says_so(
    cmi_folder: Path, admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _run(cmi_folder, "cmi-pref", "cmi")
    assert Vote.objects.filter(scope_parse("imported:cmi").votes_filter).count() == 3
    assert Vote.objects.filter(scope_parse("imported:cmi:prompt_alignment").votes_filter).count() == 3
    assert leaderboard_recompute_run(scope="imported:cmi").value == "written"
    board = LeaderboardSnapshot.objects.filter(scope="imported:cmi").latest("id")
    assert board.vote_count == 3 and {row["slug"] for row in board.rows} <= {"sys-alpha", "sys-beta", "sys-gamma"}

    answer = admin_client.get("/api/leaderboards/imported:cmi/")
    assert answer.status_code == 200 and answer.json()["scope"] == "imported:cmi"
    # Building the arena's filter reads nothing (it is built on the vote path and the event loop), and it counts
    # no imported vote until an admin says so.
    with CaptureQueriesContext(connection) as built:
        arena = scope_parse("arena").votes_filter
    assert built.captured_queries == [] and Vote.objects.filter(arena).count() == 0
    vote = Vote.objects.get(imported__source_row="cmi_data.jsonl:1")
    assert vote_scopes(vote) == [
        "imported:cmi", "imported:cmi:musicality", "imported:cmi:prompt_alignment", "imported:cmi:instrumental"
    ]

    source = ImportSource.objects.get(slug="cmi")
    page = f"/admin/annotation/importsource/{source.pk}/change/"
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(page, {"name": "CMI-Pref", "counts_in_arena": "on"})
    assert response.status_code == 302, response.content[:500]
    assert callbacks  # the arena's recompute is requested on commit
    source.refresh_from_db()
    assert source.counts_in_arena and LogEntry.objects.filter(object_id=str(source.pk)).exists()
    assert Vote.objects.filter(scope_parse("arena").votes_filter).count() == 3
    assert vote_scopes(vote)[:3] == ["arena", "arena:musicality", "arena:prompt_alignment"]
    assert leaderboard_recompute_run(scope="arena").value == "written"
    assert LeaderboardSnapshot.objects.filter(scope="arena").latest("id").vote_count == 3


def test_an_export_of_an_imported_source_carries_its_votes(arena_folder: Path, tmp_path: Path) -> None:
    _run(arena_folder, "music-arena", "ma")
    result = export_run(spec=ExportSpec(sources=("imported:ma",)), destination=tmp_path / "out")
    assert result.votes == 2
    rows = pq.read_table(tmp_path / "out" / "data" / "preferences.parquet").to_pylist()
    assert {row["source"] for row in rows} == {"imported:ma"} and {row["campaign"] for row in rows} == {None}
    assert sorted(row["winner"] for row in rows) == ["a", "tie"]


def test_bad_arguments_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such folder"):
        _run(tmp_path / "none", "cmi-pref", "cmi")
    with pytest.raises(CommandError, match="not a source slug"):
        _run(tmp_path, "cmi-pref", "Not A Slug")
    _run(tmp_path, "cmi-pref", "cmi")
    with pytest.raises(CommandError, match="was imported as cmi-pref"):
        _run(tmp_path, "music-arena", "cmi")
