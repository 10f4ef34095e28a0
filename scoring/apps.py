"""Django app configuration for scoring: the rating engine, leaderboard snapshots and their live push."""
from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scoring"

    def ready(self) -> None:
        from scoring import hooks

        hooks.register()
