"""Pages of the arena: the rater's listening page."""
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from core.axes import VOTE_AXES

PROGRESS_EVENT_INTERVAL_MS = 1000
TELEMETRY_FLUSH_INTERVAL_MS = 4000
AXIS_OPTIONS = [("a", "A"), ("b", "B"), ("tie", "Tie"), ("both_bad", "Both bad")]
_ANY_BATTLE = uuid.UUID(int=0)


def _battle_url_template(name: str) -> str:
    """A battle's API URL with `{id}` where the page's script puts the battle id."""
    return reverse(name, kwargs={"battle_id": _ANY_BATTLE}).replace(str(_ANY_BATTLE), "{id}")


def arena_page_context() -> dict[str, Any]:
    """What templates/arena/arena.html needs (a campaign's page adds its own keys to it)."""
    return {
        "battles_url": reverse("arena:battle-create"),
        "events_url": _battle_url_template("arena:battle-events"),
        "vote_url": _battle_url_template("arena:battle-vote"),
        "min_listen_seconds": settings.EARSHOT_MIN_LISTEN_SECONDS,
        "progress_interval_ms": PROGRESS_EVENT_INTERVAL_MS,
        "flush_interval_ms": TELEMETRY_FLUSH_INTERVAL_MS,
        "axes": VOTE_AXES,
        "axis_options": AXIS_OPTIONS,
        "generations_url": reverse("arena:generation-create"),
        "generation_poll_ms": settings.EARSHOT_GENERATION_POLL_MS,
        "prompt_max_chars": settings.EARSHOT_PROMPT_MAX_CHARS,
        "lyrics_max_chars": settings.EARSHOT_LYRICS_MAX_CHARS,
    }


@ensure_csrf_cookie
def arena_page(request: HttpRequest) -> HttpResponse:
    """The open arena: one blind battle at a time; the battle itself is fetched by the page's script."""
    return render(request, "arena/arena.html", arena_page_context())
