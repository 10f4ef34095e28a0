"""Django app configuration for the reward model: versions, clip scores, suggestions and agreement reports."""
from django.apps import AppConfig


class RewardConfig(AppConfig):
    name = "reward"
    verbose_name = "Reward model"

    def ready(self) -> None:
        from reward import hooks

        hooks.register()
