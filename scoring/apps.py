"""Django app configuration for scoring."""
from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Scoring"

    def ready(self) -> None:
        # The reward model's admin lives apart from scoring/admin.py; admin autodiscovery only finds `admin` modules.
        from scoring import reward_admin  # noqa: F401
