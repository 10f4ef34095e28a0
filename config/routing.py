"""Websocket routes of every app."""
from django.urls import URLPattern, re_path

from scoring.consumers import LeaderboardConsumer

websocket_urlpatterns: list[URLPattern] = [
    re_path(r"^ws/leaderboards/(?P<scope>[^/]+)/$", LeaderboardConsumer.as_asgi(), name="ws-leaderboard"),
]
