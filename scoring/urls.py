"""URLs of the scoring app: the leaderboard page and the leaderboards' REST API."""
from django.urls import URLPattern, URLResolver, path

from scoring import api, views

app_name = "scoring"
urlpatterns: list[URLPattern | URLResolver] = [
    path("leaderboard/", views.leaderboard_page, name="leaderboard"),
    path("api/leaderboards/", api.LeaderboardListApi.as_view(), name="api-leaderboards"),
    path("api/leaderboards/<str:scope>/", api.LeaderboardDetailApi.as_view(), name="api-leaderboard"),
]
