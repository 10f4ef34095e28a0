"""What today's code finds in a migrated database, as JSON: run by test_house_migration in a process of its own
(`python -m tests.migrations.house_probe OUT.json`, DATABASE_URL naming the scratch database)."""
from __future__ import annotations


import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

MOVED_MODELS = ("rewardmodelversion", "clipscore", "agreementreport")


def probe() -> dict[str, Any]:
    """Rows of every table the restructure touched, read through today's models, and each board recomputed."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.utils.module_loading import import_string

    from arena.models import Battle, Clip, Prompt, Rater, System, Vote
    from reward.models import AgreementReport, ClipScore, RewardModelVersion
    from scoring.models import LeaderboardSnapshot, ScopeRecompute

    types = ContentType.objects.filter(model__in=MOVED_MODELS)
    return {
        "counts": {
            "systems": System.objects.count(),
            "prompts": Prompt.objects.count(),
            "clips": Clip.objects.count(),
            "raters": Rater.objects.count(),
            "battles": Battle.objects.count(),
            "votes": Vote.objects.count(),
            "snapshots": LeaderboardSnapshot.objects.count(),
            "scope_recomputes": ScopeRecompute.objects.count(),
            "versions": RewardModelVersion.objects.count(),
            "clip_scores": ClipScore.objects.count(),
            "agreement_reports": AgreementReport.objects.count(),
        },
        "versions": [
            [v.pk, v.name, v.class_path, v.path, v.sha256, v.config, v.metrics, v.active]
            for v in RewardModelVersion.objects.order_by("pk")
        ],
        "version_classes": [
            import_string(v.class_path).__name__ for v in RewardModelVersion.objects.order_by("pk")
        ],
        "clip_scores": [
            [s.pk, s.version_id, s.clip_id, s.axis, s.score] for s in ClipScore.objects.order_by("pk")
        ],
        "agreement_reports": [
            [r.pk, r.version_id, r.scope, r.vote_count, r.figures] for r in AgreementReport.objects.order_by("pk")
        ],
        "snapshots": [
            [s.pk, s.scope, s.digest, s.extra, s.rows, s.win_rate, s.vote_count, s.last_vote_id]
            for s in LeaderboardSnapshot.objects.order_by("pk")
        ],
        "content_types": sorted([t.model, t.pk, t.app_label] for t in types),
        "permissions": {
            f"{t.app_label}.{t.model}": sorted(
                Permission.objects.filter(content_type=t).values_list("codename", flat=True)
            )
            for t in types
        },
        "boards": _boards_recomputed(),
    }


def _dump_code_digest(tallies: list[Any], systems: dict[int, Any], settings: Any) -> str:
    """The votes' fingerprint as the code that wrote tests/migrations/data/pre_house.sql (b436483) computed it
    (snapshot format 1): later formats fingerprint more (e.g. the separation budget), so today's digest differs."""
    basis = {
        "format": 1,
        "tallies": [[t.system_a, t.system_b, t.wins_a, t.wins_b, t.ties, t.both_bad, t.last_vote_id] for t in tallies],
        "systems": [[pk, systems[pk].name, systems[pk].slug] for pk in sorted(systems)],
        "settings": [settings.EARSHOT_LEADERBOARD_MIN_VOTES, settings.EARSHOT_LEADERBOARD_PRELIMINARY_VOTES,
                     settings.EARSHOT_BOOTSTRAP_ROUNDS],
    }
    return hashlib.sha256(json.dumps(basis, separators=(",", ":")).encode()).hexdigest()


def _boards_recomputed() -> list[dict[str, Any]]:
    """Each scope's current snapshot beside a recompute from the votes now, under the settings it was made with."""
    from django.test.utils import override_settings

    from scoring.models import LeaderboardSnapshot
    from scoring.scopes import scope_parse
    from scoring.selectors import snapshot_current
    from scoring.selectors import scope_pair_tallies
    from scoring.services import _snapshot_from, _systems_of

    boards = []
    for name in sorted(set(LeaderboardSnapshot.objects.values_list("scope", flat=True))):
        stored = snapshot_current(scope=name)
        assert stored is not None
        method = stored.extra["method"]
        with override_settings(
            EARSHOT_BOOTSTRAP_ROUNDS=method["rounds"],
            EARSHOT_LEADERBOARD_MIN_VOTES=method["min_votes"],
            EARSHOT_LEADERBOARD_PRELIMINARY_VOTES=method["preliminary_votes"],
        ):
            from django.conf import settings

            # The same votes, systems and settings as the dump's code saw: the same fingerprint, hence the same
            # bootstrap seed, which the board below is computed with.
            scope = scope_parse(name)
            tallies = scope_pair_tallies(scope=scope)
            systems = _systems_of(tallies)
            digest = _dump_code_digest(tallies, systems, settings)
            fresh = _snapshot_from(scope, tallies, systems, stored.digest, with_battle_rows=True)
        boards.append({
            "scope": name,
            "stored": {"digest": stored.digest, "rows": stored.rows, "win_rate": stored.win_rate,
                       "extra": stored.extra, "vote_count": stored.vote_count, "last_vote_id": stored.last_vote_id},
            "recomputed": {"digest": digest, "rows": fresh.rows, "win_rate": fresh.win_rate,
                           "extra": fresh.extra, "vote_count": fresh.vote_count, "last_vote_id": fresh.last_vote_id},
        })
    return boards


def main(out: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    out.write_text(json.dumps(probe()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
