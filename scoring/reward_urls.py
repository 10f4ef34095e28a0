"""URLs of the reward model's pages and API: agreement, per-prompt rankings, versions."""
from django.urls import URLPattern, URLResolver, path

from scoring import reward_api, reward_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("agreement/", reward_views.agreement_page, name="agreement"),
    path("rankings/", reward_views.rankings_page, name="rankings"),
    path("prompts/<int:prompt_id>/ranking/", reward_views.prompt_ranking_page, name="prompt-ranking"),
    path("api/agreement/", reward_api.AgreementApi.as_view(), name="api-agreement"),
    path("api/prompts/<int:prompt_id>/ranking/", reward_api.PromptRankingApi.as_view(), name="api-prompt-ranking"),
    path("api/reward-models/", reward_api.RewardModelListApi.as_view(), name="api-reward-models"),
    path(
        "api/reward-models/<int:version_id>/activate/",
        reward_api.RewardModelActivateApi.as_view(),
        name="api-reward-model-activate",
    ),
]
