"""A database made by the code before the house restructure keeps every row through today's migrations.

data/pre_house.sql is a plain-SQL dump of a database that the code of commit b436483 (the reward model still in
the scoring app) migrated and filled with a small demo: systems, prompts, clips, battles, votes, leaderboard
snapshots, a reward model version with its clip scores and agreement reports. scripts/pre_house_dump.sh writes
it. Each test loads it into a scratch database, runs today's `manage.py migrate` there in a process of its own,
and reads the rows back through today's models (tests/migrations/house_probe.py).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.realstack, pytest.mark.usefixtures("real_stack")]

DUMP = Path(__file__).parent / "data" / "pre_house.sql"
MOVED_MODELS = ("rewardmodelversion", "clipscore", "agreementreport")
OLD_CLASS, NEW_CLASS = "scoring.reward.interface.BundledRewardModel", "reward.ml.interface.BundledRewardModel"
OLD_WEIGHTS, NEW_WEIGHTS = "/app/scoring/reward/weights", "/app/reward/ml/weights"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def scratch_url() -> Iterator[str]:
    """A fresh database holding the dump, dropped afterwards (the test database is not touched)."""
    url = os.environ["DATABASE_URL"]
    name = f"{urlsplit(url).path.lstrip('/')}_pre_house"
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    scratch = _with_database(url, name)
    try:
        with psycopg.connect(scratch, autocommit=True) as conn:
            conn.execute(DUMP.read_text())  # type: ignore[arg-type]  # a dump of plain statements, no parameters
        yield scratch
    finally:
        with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(url: str, *args: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DB_POOL": "0"}
    subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, check=True,
                   capture_output=True, text=True, timeout=300)


def _probe(url: str, tmp_path: Path) -> dict[str, Any]:
    """What today's models find in the database at `url`."""
    out = tmp_path / "probe.json"
    env = {**os.environ, "DATABASE_URL": url, "DB_POOL": "0"}
    subprocess.run([sys.executable, "-m", "tests.migrations.house_probe", str(out)], cwd=settings.BASE_DIR, env=env,
                   check=True, capture_output=True, text=True, timeout=300)
    return json.loads(out.read_text())


def _old_facts(url: str) -> dict[str, Any]:
    """The same facts read with plain SQL from the tables as the old code named them (scoring_* for the reward
    model), the digest still inside each snapshot's `extra`."""
    with psycopg.connect(url) as conn:
        def rows(sql: str) -> list[Any]:
            return [list(row) for row in conn.execute(sql).fetchall()]  # type: ignore[arg-type]

        def count(table: str) -> int:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]

        snapshots = []
        for pk, scope, extra, board, win_rate, votes, last in rows(
            "SELECT id, scope, extra, rows, win_rate, vote_count, last_vote_id "
            "FROM scoring_leaderboardsnapshot ORDER BY id"
        ):
            digest = extra.pop("digest")
            snapshots.append([pk, scope, digest, extra, board, win_rate, votes, last])
        types = sorted(rows(
            "SELECT model, id, app_label FROM django_content_type WHERE model IN "
            "('rewardmodelversion', 'clipscore', 'agreementreport')"
        ))
        facts = {
            "counts": {
                "systems": count("arena_system"),
                "prompts": count("arena_prompt"),
                "clips": count("arena_clip"),
                "raters": count("arena_rater"),
                "battles": count("arena_battle"),
                "votes": count("arena_vote"),
                "snapshots": count("scoring_leaderboardsnapshot"),
                "scope_recomputes": count("scoring_scoperecompute"),
                "versions": count("scoring_rewardmodelversion"),
                "clip_scores": count("scoring_clipscore"),
                "agreement_reports": count("scoring_agreementreport"),
            },
            "versions": rows("SELECT id, name, class_path, path, sha256, config, metrics, active "
                             "FROM scoring_rewardmodelversion ORDER BY id"),
            "clip_scores": rows("SELECT id, version_id, clip_id, axis, score FROM scoring_clipscore ORDER BY id"),
            "agreement_reports": rows("SELECT id, version_id, scope, vote_count, figures "
                                      "FROM scoring_agreementreport ORDER BY id"),
            "snapshots": snapshots,
            "content_types": types,
            "permissions": {
                f"{app}.{model}": sorted(code for (code,) in rows(
                    f"SELECT codename FROM auth_permission WHERE content_type_id = {pk}"  # noqa: S608
                ))
                for model, pk, app in types
            },
        }
    return json.loads(json.dumps(facts))


def _as_migrated(old: dict[str, Any]) -> dict[str, Any]:
    """The old facts as today's code should find them: the reward model's rows in the reward app, its checkpoint
    class and bundled weights at their new modules, the snapshot digest in its column."""
    new = json.loads(json.dumps(old))
    for version in new["versions"]:
        assert (version[2], version[3], version[5]["path"]) == (OLD_CLASS, OLD_WEIGHTS, OLD_WEIGHTS)
        version[2], version[3], version[5]["path"] = NEW_CLASS, NEW_WEIGHTS, NEW_WEIGHTS
    for entry in new["content_types"]:
        assert entry[2] == "scoring"
        entry[2] = "reward"
    new["permissions"] = {
        name.replace("scoring.", "reward.", 1): codes for name, codes in new["permissions"].items()
    }
    return new


# Row fields later snapshot formats added (format 2: the votes still needed to separate a system from the next).
ADDED_ROW_FIELDS = {"votes_to_separate", "separation"}


def _without_added_fields(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        assert ADDED_ROW_FIELDS <= row.keys(), row
    return [{key: value for key, value in row.items() if key not in ADDED_ROW_FIELDS} for row in rows]


def _assert_boards_unchanged(found: dict[str, Any]) -> None:
    """A recompute from the migrated votes gives each scope's stored snapshot: same digest (as the dump's code
    fingerprinted the votes), ratings, matrices; today's rows carry only the fields added since, besides."""
    assert {board["scope"] for board in found["boards"]} == {snapshot[1] for snapshot in found["snapshots"]}
    for board in found["boards"]:
        stored, fresh = board["stored"], board["recomputed"]
        fresh = {**fresh, "rows": _without_added_fields(fresh["rows"])}
        assert fresh["digest"] == stored["digest"], board["scope"]
        assert [(r["system_id"], r["rating"], r["ci_low"], r["ci_high"], r["rank"]) for r in fresh["rows"]] == [
            (r["system_id"], r["rating"], r["ci_low"], r["ci_high"], r["rank"]) for r in stored["rows"]
        ], board["scope"]
        assert fresh == stored, board["scope"]


def test_every_row_survives_the_migration_and_the_boards_stay_as_they_were(scratch_url: str, tmp_path: Path) -> None:
    old = _old_facts(scratch_url)
    assert old["counts"] == {
        "systems": 4, "prompts": 3, "clips": 12, "raters": 6, "battles": 80, "votes": 80, "snapshots": 4,
        "scope_recomputes": 4, "versions": 1, "clip_scores": 36, "agreement_reports": 2,
    }
    assert [model for model, _, _ in old["content_types"]] == sorted(MOVED_MODELS)

    _manage(scratch_url, "migrate", "--no-input")
    found = _probe(scratch_url, tmp_path)

    expected = _as_migrated(old)
    for key in ("counts", "versions", "clip_scores", "agreement_reports", "snapshots", "content_types",
                "permissions"):
        assert found[key] == expected[key], key
    assert found["version_classes"] == ["BundledRewardModel"]
    assert all(len(snapshot[2]) == 64 and "digest" not in snapshot[3] for snapshot in found["snapshots"])
    assert all(len(codes) == 4 for codes in found["permissions"].values())  # none lost, none made twice
    _assert_boards_unchanged(found)


def test_the_migration_runs_back_to_the_old_layout_and_forwards_again(scratch_url: str, tmp_path: Path) -> None:
    old = _old_facts(scratch_url)
    _manage(scratch_url, "migrate", "--no-input")

    _manage(scratch_url, "migrate", "--no-input", "scoring", "0003")
    _manage(scratch_url, "migrate", "--no-input", "reward", "zero")
    back = _old_facts(scratch_url)
    # The content types go back to scoring with their ids (and permissions). Django's post_migrate also made
    # reward ones while the reward app's state-only 0001 was still applied; stale, they stay until
    # remove_stale_contenttypes, and the next forward migration drops them.
    assert [entry for entry in back.pop("content_types") if entry[2] == "scoring"] == old["content_types"]
    assert {name: codes for name, codes in back.pop("permissions").items() if name.startswith("scoring.")} == (
        old["permissions"]
    )
    assert back == {key: value for key, value in old.items() if key not in ("content_types", "permissions")}

    _manage(scratch_url, "migrate", "--no-input")
    found = _probe(scratch_url, tmp_path)
    expected = _as_migrated(old)
    for key in ("counts", "versions", "clip_scores", "agreement_reports", "snapshots", "content_types",
                "permissions"):
        assert found[key] == expected[key], key
    _assert_boards_unchanged(found)
