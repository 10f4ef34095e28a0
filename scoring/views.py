"""Pages of scoring: the live leaderboard."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import EarshotError
from scoring.scopes import ARENA, scope_parse
from scoring.selectors import leaderboard_detail, leaderboards_summary
from scoring.serializers import LeaderboardDetailSerializer

HISTORY_ON_PAGE = 100


def leaderboard_page(request: HttpRequest) -> HttpResponse:
    """/leaderboard/?scope=<scope>: the table and plots render from embedded data, then follow the websocket."""
    name = request.GET.get("scope", ARENA)
    try:
        scope = scope_parse(name)
    except EarshotError as error:
        return render(request, "scoring/leaderboard.html",
                      {"error": error.message, "scopes": leaderboards_summary()}, status=error.status)
    detail = LeaderboardDetailSerializer(leaderboard_detail(scope=scope, history=HISTORY_ON_PAGE)).data
    return render(
        request,
        "scoring/leaderboard.html",
        {"scope": scope, "scopes": leaderboards_summary(), "detail": detail, "history_length": HISTORY_ON_PAGE},
    )
