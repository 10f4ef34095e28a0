"""DRF serializers of leaderboards: the snapshot as the API returns it and as the websocket pushes it."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from scoring.models import LeaderboardSnapshot


class LeaderboardRowSerializer(serializers.Serializer):
    system_id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    rating = serializers.FloatField(help_text="Bradley–Terry rating on the Elo scale (mean 1000).")
    ci_low = serializers.FloatField(help_text="Lower end of the 95% bootstrap interval.")
    ci_high = serializers.FloatField(help_text="Upper end of the 95% bootstrap interval.")
    rank = serializers.IntegerField(help_text="1 + the number of systems whose lower bound exceeds this upper bound.")
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField()
    both_bad = serializers.IntegerField()
    n = serializers.IntegerField(help_text="Votes involving the system, both-bad included.")
    win_rate = serializers.FloatField(allow_null=True, help_text="Share of decided votes won, a tie counting half.")
    elo = serializers.FloatField(allow_null=True, help_text="Online Elo (K = 4) over the votes in order.")
    controlled_rating = serializers.FloatField(
        allow_null=True, help_text="Rating controlled for loudness and duration differences (null when unfit)."
    )
    controlled_se = serializers.FloatField(allow_null=True)
    preliminary = serializers.BooleanField(help_text="Fewer votes than EARSHOT_LEADERBOARD_PRELIMINARY_VOTES.")
    votes_to_separate = serializers.IntegerField(
        allow_null=True, required=False,
        help_text="For this system and the next one down: further votes, at the current mix of pairs, until their "
        "95% intervals stop overlapping (median over simulated futures, widths shrinking with the Fisher "
        "information); 0 when they already do; null for the last row or beyond EARSHOT_SEPARATION_BUDGET_VOTES.",
    )
    separation = serializers.ChoiceField(
        choices=["separated", "projected", "beyond_budget"], allow_null=True, required=False,
        help_text="separated: the intervals already do not overlap; projected: votes_to_separate more votes; "
        "beyond_budget: too close to separate within the budget; null for the last row.",
    )


class WinRateSerializer(serializers.Serializer):
    systems = serializers.ListField(child=serializers.IntegerField(), help_text="System ids in row order.")
    win_rate = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text="win_rate[i][j]: share of i's decided votes against j that i won (null where none).",
    )
    battles = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))


class LeaderboardSnapshotSerializer(serializers.ModelSerializer):
    # DRF's metaclass takes declared fields off the class, so this does not shadow Field.label at run time.
    label = serializers.SerializerMethodField()  # type: ignore[assignment]
    rows = LeaderboardRowSerializer(many=True)
    win_rate = WinRateSerializer()

    class Meta:
        model = LeaderboardSnapshot
        # method: bradley_terry (the plain board) or crowd_bt (reliability-weighted, Fisher intervals, each rater's
        # reliability in extra.raters: rater id -> eta, eta_se, votes).
        fields = ["id", "scope", "label", "method", "computed_at", "vote_count", "last_vote_id", "digest", "rows",
                  "win_rate", "extra"]
        extra_kwargs = {
            "digest": {"help_text": "Fingerprint of the votes, systems and settings behind the snapshot: an unchanged "
                                    "digest means an unchanged leaderboard."},
        }

    def get_label(self, snapshot: LeaderboardSnapshot) -> str:
        return str(snapshot.extra.get("label", snapshot.scope))


class HistoryRatingSerializer(serializers.Serializer):
    system_id = serializers.IntegerField()
    name = serializers.CharField()
    rating = serializers.FloatField()
    ci_low = serializers.FloatField()
    ci_high = serializers.FloatField()


class HistoryPointSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    vote_count = serializers.IntegerField()
    ratings = HistoryRatingSerializer(many=True)


class LeaderboardDetailSerializer(serializers.Serializer):
    scope = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    snapshot = LeaderboardSnapshotSerializer(allow_null=True)
    history = HistoryPointSerializer(many=True)


class ScopeSummarySerializer(serializers.Serializer):
    scope = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    vote_count = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)


def snapshot_payload(snapshot: LeaderboardSnapshot) -> dict[str, Any]:
    """The snapshot as plain JSON-ready data: the API body and the websocket push are the same."""
    return dict(LeaderboardSnapshotSerializer(snapshot).data)
