"""URLs of the reward model's pages and API: agreement, per-prompt rankings, versions."""
from django.urls import URLPattern, URLResolver, path

from reward import api, views

app_name = "reward"
urlpatterns: list[URLPattern | URLResolver] = [
    path("agreement/", views.agreement_page, name="agreement"),
    path("rankings/", views.rankings_page, name="rankings"),
    path("prompts/<int:prompt_id>/ranking/", views.prompt_ranking_page, name="prompt-ranking"),
    path("api/agreement/", api.AgreementApi.as_view(), name="api-agreement"),
    path("api/prompts/<int:prompt_id>/ranking/", api.PromptRankingApi.as_view(), name="api-prompt-ranking"),
    path("api/reward-models/", api.RewardModelListApi.as_view(), name="api-reward-models"),
    path(
        "api/reward-models/<int:version_id>/activate/",
        api.RewardModelActivateApi.as_view(),
        name="api-reward-model-activate",
    ),
]
