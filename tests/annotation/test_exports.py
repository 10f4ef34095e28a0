"""Preference exports on PostgreSQL: the round trip through pyarrow and Hugging Face `datasets`, every filter and
shape, anonymisation checked on every output byte, the embargo, the refit to the published board, the bundle and
manifest, and a failure that leaves nothing behind."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from annotation.errors import ExportFailed, ExportInvalid
from annotation.export_schema import COLUMNS, Shape
from annotation.exports import ExportSpec, export_run
from annotation.models import CampaignRater
from arena.models import Battle, Choice, PromptOrigin, Rater, Vote
from scoring.errors import UnknownScope
from scoring.scopes import scope_parse
from scoring.services import leaderboard_recompute_run
from tests.annotation.campaign_support import item_vote, member_join, small_campaign
from tests.arena.arena_support import arena_isolated  # noqa: F401
from tests.factories import PromptFactory, SystemFactory
from tests.realstack import VoteWriter

pytest_plugins = ["tests.realstack"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def arena_votes(vote_writer: VoteWriter) -> list[Vote]:
    """24 arena votes among three systems, with per-axis answers, reasons, an address hash, spread over 24 days."""
    alpha, beta, gamma = SystemFactory(slug="alpha"), SystemFactory(slug="beta"), SystemFactory(slug="gamma")
    plan = [(alpha, beta, Choice.A)] * 6 + [(beta, gamma, Choice.A)] * 5 + [(gamma, alpha, Choice.B)] * 5
    plan += [(alpha, beta, Choice.B)] * 2 + [(beta, gamma, Choice.TIE)] * 3 + [(alpha, gamma, Choice.BOTH_BAD)] * 3
    votes = vote_writer.cast(plan, musicality=Choice.A, reason="secret reason text", ip_hash="f" * 64)
    now = timezone.now()
    for days, vote in enumerate(reversed(votes)):
        Vote.objects.filter(pk=vote.pk).update(created_at=now - timedelta(days=days, hours=1))
    return list(Vote.objects.order_by("id"))


def _export(tmp_path: Path, name: str = "out", **spec: Any) -> Any:
    return export_run(spec=ExportSpec(**spec), destination=tmp_path / name)


def test_the_rows_read_back_with_pyarrow_and_datasets_equal_the_database(
    arena_votes: list[Vote], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _export(tmp_path)
    assert result.rows == result.votes == 24
    data = tmp_path / "out" / "data"
    table = pq.read_table(data / "preferences.parquet")
    assert table.column_names == [column.name for column in COLUMNS[Shape.VOTES]]
    rows = table.to_pylist()
    by_id = {str(vote.battle.public_id): vote for vote in arena_votes}
    for row in rows:
        vote = by_id[row["id"]]
        assert (row["system_a"], row["system_b"], row["winner"]) == (vote.system_a.slug, vote.system_b.slug,
                                                                      vote.choice)
        assert row["prompt"] == vote.prompt.text and row["source"] == "arena" and row["campaign"] is None
        assert row["audio_a"] == f"audio/{vote.battle.clip_a.public_id}.mp3"
        assert row["created_at"] == vote.created_at and row["musicality"] == "a" and row["feedback"] is None
    jsonl = [json.loads(line) for line in (data / "preferences.jsonl").read_text().splitlines()]
    assert [row["id"] for row in jsonl] == [row["id"] for row in rows]
    csv_rows = pa_csv.read_csv(data / "preferences.csv").to_pylist()
    assert [row["winner"] for row in csv_rows] == [row["winner"] for row in rows]

    import datasets

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for kind, path in (("parquet", "preferences.parquet"), ("json", "preferences.jsonl"), ("csv", "preferences.csv")):
        loaded = datasets.load_dataset(kind, data_files=str(data / path), split="train",
                                       cache_dir=str(tmp_path / f"hf-{kind}"))
        assert loaded.num_rows == 24
        assert loaded["winner"] == [row["winner"] for row in rows]
        assert loaded["system_a"] == [row["system_a"] for row in rows]
    # The card's own metadata names the Parquet file, so the folder loads as it is.
    folder = datasets.load_dataset(str(tmp_path / "out"), split="train", cache_dir=str(tmp_path / "hf-folder"))
    assert folder.num_rows == 24


def test_each_filter_chooses_its_votes(arena_votes: list[Vote], tmp_path: Path) -> None:
    now = timezone.now()
    recent = _export(tmp_path, "recent", since=now - timedelta(days=5))
    assert recent.votes == 5
    older = _export(tmp_path, "older", until=now - timedelta(days=20))
    assert older.votes == 4
    embargoed = export_run(spec=ExportSpec(embargo=timedelta(days=10)), destination=tmp_path / "public", now=now)
    assert embargoed.votes == 14
    newest = max(pq.read_table(tmp_path / "public/data/preferences.parquet")["created_at"].to_pylist())
    assert newest < now - timedelta(days=10)
    no_axes = _export(tmp_path, "no-axes", axes=(), formats=("parquet",))
    assert set(pq.read_table(no_axes.folder / "data/preferences.parquet")["musicality"].to_pylist()) == {None}
    Rater.objects.update(excluded_from_boards=True)
    assert _export(tmp_path, "flagged-out").votes == 0
    assert _export(tmp_path, "flagged-in", include_flagged=True).votes == 24


def test_min_votes_and_the_pairs_and_chosen_rejected_shapes(arena_votes: list[Vote], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = _export(tmp_path, "pairs", shape=Shape.PAIRS, formats=("parquet",))
    rows = pq.read_table(pairs.folder / "data/pairs.parquet").to_pylist()
    # Counted in many small chunks merged again and again, the pairs come out the same.
    import annotation.exports as exports

    monkeypatch.setattr(exports, "BATCH_ROWS", 5)
    monkeypatch.setattr(exports._PairTable, "COMPACT_AT", 7)
    chunked = _export(tmp_path, "pairs-chunked", shape=Shape.PAIRS, formats=("parquet",))
    assert pq.read_table(chunked.folder / "data/pairs.parquet").to_pylist() == rows
    monkeypatch.undo()
    # Three clip pairs of one prompt, 8 votes each (gamma–alpha shown in both orders is one pair).
    assert sum(row["votes"] for row in rows) == 24 and sorted(row["votes"] for row in rows) == [8, 8, 8]
    alpha_beta = next(row for row in rows if {row["system_a"], row["system_b"]} == {"alpha", "beta"})
    wins_alpha = alpha_beta["a"] if alpha_beta["system_a"] == "alpha" else alpha_beta["b"]
    assert (alpha_beta["votes"], wins_alpha) == (8, 6)
    assert alpha_beta["majority"] == ("a" if alpha_beta["system_a"] == "alpha" else "b")
    gamma_alpha = next(row for row in rows if {row["system_a"], row["system_b"]} == {"gamma", "alpha"})
    assert (gamma_alpha["both_bad"], gamma_alpha["votes"]) == (3, 8)
    # Two more votes on a pair of another prompt: min_votes keeps or drops that pair as a whole.
    alpha, beta = arena_votes[0].system_a, arena_votes[0].system_b
    VoteWriter(rater=arena_votes[0].rater, _clips={}).cast([(alpha, beta, Choice.A), (beta, alpha, Choice.A)])
    assert _export(tmp_path, "all-pairs", formats=("parquet",)).votes == 26
    assert _export(tmp_path, "enough", min_votes=3, formats=("parquet",)).votes == 24
    assert _export(tmp_path, "none", min_votes=9, formats=("parquet",)).votes == 0
    preference = _export(tmp_path, "cr", shape=Shape.CHOSEN_REJECTED, formats=("parquet",))
    table = pq.read_table(preference.folder / "data/chosen_rejected.parquet").to_pylist()
    decided = [vote for vote in Vote.objects.all() if vote.choice in ("a", "b")]
    musicality = Vote.objects.filter(musicality__in=("a", "b")).count()
    assert len(table) == len(decided) + musicality
    overall = [(row["chosen_system"], row["rejected_system"]) for row in table if row["axis"] == "overall"]
    assert overall.count(("alpha", "gamma")) == 5 and ("gamma", "alpha") not in overall
    chosen = next(row for row in table if row["axis"] == "overall" and row["chosen_system"] == "alpha")
    assert chosen["chosen"].startswith("audio/") and chosen["chosen"] != chosen["rejected"]


def test_a_generated_battle_carries_its_detailed_prompt_and_origin(arena_votes: list[Vote], tmp_path: Path) -> None:
    """A listener's prompt generated live: its rows say where the prompt came from and what the router made of it
    (Music Arena's prompt_detailed), in every format and in the chosen/rejected shape; imported clips have none."""
    alpha, beta = arena_votes[0].system_a, arena_votes[0].system_b
    prompt = PromptFactory(text="a slow waltz for a rainy harbour", origin=PromptOrigin.LISTENER)
    generated = VoteWriter(rater=arena_votes[0].rater, _clips={}).cast(
        [(alpha, beta, Choice.A), (beta, alpha, Choice.B)], prompt=prompt)
    detailed = {"overall_prompt": "a slow waltz for a rainy harbour", "instrumental": True, "lyrics": None,
                "duration": 8.0, "bpm": 84}
    Battle.objects.filter(vote__in=generated).update(prompt_detailed=detailed)
    ours = {str(vote.battle.public_id) for vote in generated}

    result = _export(tmp_path, "votes")
    data = result.folder / "data"
    readers = {
        "parquet": pq.read_table(data / "preferences.parquet").to_pylist(),
        "jsonl": [json.loads(line) for line in (data / "preferences.jsonl").read_text().splitlines()],
        "csv": pa_csv.read_csv(data / "preferences.csv",  # an empty field is CSV's null
                               convert_options=pa_csv.ConvertOptions(strings_can_be_null=True)).to_pylist(),
    }
    for fmt, rows in readers.items():
        assert len(rows) == 26, fmt
        for row in rows:
            if row["id"] in ours:
                assert row["prompt_origin"] == "listener" and json.loads(row["prompt_detailed"]) == detailed, fmt
            else:
                assert row["prompt_origin"] == "bank" and row["prompt_detailed"] is None, fmt
    preference = _export(tmp_path, "cr", shape=Shape.CHOSEN_REJECTED, formats=("parquet",))
    rows = pq.read_table(preference.folder / "data/chosen_rejected.parquet").to_pylist()
    mine = [row for row in rows if row["id"] in ours]
    assert len(mine) == 2 and all(json.loads(row["prompt_detailed"]) == detailed for row in mine)
    assert all(row["prompt_detailed"] is None for row in rows if row["id"] not in ours)


def test_nothing_personal_is_in_any_byte_of_the_output(arena_votes: list[Vote], tmp_path: Path) -> None:
    made = small_campaign(slug="study", crowd_id_param="PROLIFIC_PID")
    member = member_join(made.campaign, crowd_id="PROLIFIC-5f3c9e21ab")
    Rater.objects.filter(pk=member.rater_id).update(ip_hash="e" * 64)
    lease = CampaignRater.objects.get(pk=member.pk)
    from annotation.assignment import assignment_next

    item_vote(assignment_next(member=lease).assignment, "a", reason="campaign secret")  # type: ignore[arg-type]
    result = _export(tmp_path, "all", sources=("arena", "campaign:study"), bundle=True)
    assert result.votes == 25
    forbidden = [b"f" * 64, b"e" * 64, b"PROLIFIC-5f3c9e21ab", b"secret reason text", b"campaign secret"]
    forbidden += [str(rater.public_id).encode() for rater in Rater.objects.all()]
    forbidden += [str(rater.pk).encode().join([b'"rater": "', b'"']) for rater in Rater.objects.all()]
    outputs = [path for path in result.folder.rglob("*") if path.is_file()] + [result.bundle]
    for path in outputs:
        content = path.read_bytes()
        for needle in forbidden:
            assert needle not in content, f"{needle!r} found in {path.name}"
    rater_keys = set(pq.read_table(result.folder / "data/preferences.parquet")["rater"].to_pylist())
    assert len(rater_keys) == 2 and all(len(key) == 64 for key in rater_keys)
    with_feedback = _export(tmp_path, "feedback", include_feedback=True, formats=("jsonl",))
    assert b"secret reason text" in (with_feedback.folder / "data/preferences.jsonl").read_bytes()
    again = _export(tmp_path, "again", formats=("parquet",))
    assert not rater_keys & set(pq.read_table(again.folder / "data/preferences.parquet")["rater"].to_pylist())


def test_the_refit_from_the_rows_alone_gives_the_published_board_to_the_last_digit(
    arena_votes: list[Vote], tmp_path: Path
) -> None:
    leaderboard_recompute_run(scope="arena")
    result = _export(tmp_path, formats=("parquet", "jsonl"))
    board = result.boards["arena"]
    assert board["live_snapshot"] is not None  # the rows are exactly the live board's votes
    from scoring.selectors import snapshot_current

    live = snapshot_current(scope="arena")
    assert live is not None and live.digest == board["digest"]
    assert [(r["slug"], r["rating"], r["ci_low"], r["ci_high"], r["rank"]) for r in board["rows"]] == [
        (r["slug"], r["rating"], r["ci_low"], r["ci_high"], r["rank"]) for r in live.rows]
    out = io.StringIO()
    call_command("refit_board", str(result.folder), stdout=out)
    assert "every figure of every board matches" in out.getvalue()
    # A changed row is caught.
    path = result.folder / "data/preferences.parquet"
    table = pq.read_table(path).to_pylist()
    for row in table[:3]:
        row["winner"] = "b" if row["winner"] == "a" else "a"
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(table, schema=pq.read_schema(path)), path)
    with pytest.raises(CommandError, match="differ from the published board"):
        call_command("refit_board", str(result.folder), stdout=io.StringIO())


def test_the_bundle_holds_the_audio_the_rows_name_and_the_manifest_checks(arena_votes: list[Vote],
                                                                          tmp_path: Path) -> None:
    result = _export(tmp_path, bundle=True, formats=("parquet",))
    rows = pq.read_table(result.folder / "data/preferences.parquet").to_pylist()
    named = {row["audio_a"] for row in rows} | {row["audio_b"] for row in rows}
    with tarfile.open(result.bundle) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert named <= members and "README.md" in members and "MANIFEST.sha256" in members
    for line in (result.folder / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((result.folder / name).read_bytes()).hexdigest() == digest
    card = (result.folder / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0") and "| alpha | 16 |" in card and "Krippendorff" in card


def test_a_failure_half_way_leaves_nothing_that_looks_complete(arena_votes: list[Vote], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import annotation.exports as exports

    monkeypatch.setattr(exports, "BATCH_ROWS", 5)

    def fail_half_way(done: int, total: int) -> None:
        if done >= 10:
            raise OSError("disk full")

    with pytest.raises(ExportFailed, match="disk full"):
        export_run(spec=ExportSpec(), destination=tmp_path / "out", progress=fail_half_way)
    assert list(tmp_path.iterdir()) == []


def test_bad_specs_are_refused_before_anything_is_written(arena_votes: list[Vote], tmp_path: Path) -> None:
    with pytest.raises(UnknownScope):
        _export(tmp_path, sources=("campaign:nope",))
    with pytest.raises(ExportInvalid, match="Formats"):
        _export(tmp_path, formats=("xlsx",))
    with pytest.raises(ExportInvalid, match="view of a board"):
        _export(tmp_path, sources=("arena:musicality",))
    (tmp_path / "taken").mkdir()
    with pytest.raises(ExportInvalid, match="already exists"):
        _export(tmp_path, "taken")
    assert [path.name for path in tmp_path.iterdir()] == ["taken"]
    assert scope_parse("arena").name == "arena"


def test_the_command_shows_progress_and_names_its_files(arena_votes: list[Vote], tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_preferences", str(tmp_path / "cmd"), "--format", "jsonl", "--embargo-days", "3",
                 stdout=out, stderr=err)
    assert "exported 21 row(s) from 21 vote(s)" in out.getvalue()
    assert "data/preferences.jsonl" in out.getvalue() and "board arena: digest" in out.getvalue()
    with pytest.raises(CommandError, match="not a date"):
        call_command("export_preferences", str(tmp_path / "bad"), "--since", "yesterday", stdout=io.StringIO())
