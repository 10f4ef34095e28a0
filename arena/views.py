"""Pages of the arena: the rater's listening page."""
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

# The page's script posts to these; the API answers with everything else it needs (clips, minimum listening).
BATTLES_API_PATH = "/api/battles/"
PROGRESS_EVENT_INTERVAL_MS = 1000
TELEMETRY_FLUSH_INTERVAL_MS = 4000
AXES = [
    ("musicality", "Musicality"),
    ("prompt_alignment", "Fits the prompt"),
    ("lyrics_alignment", "Follows the lyrics"),
]
AXIS_OPTIONS = [("a", "A"), ("b", "B"), ("tie", "Tie"), ("both_bad", "Both bad")]


@ensure_csrf_cookie
def arena_page(request: HttpRequest) -> HttpResponse:
    """The open arena: one blind battle at a time; the battle itself is fetched by the page's script."""
    return render(
        request,
        "arena/arena.html",
        {
            "battles_url": BATTLES_API_PATH,
            "min_listen_seconds": settings.EARSHOT_MIN_LISTEN_SECONDS,
            "progress_interval_ms": PROGRESS_EVENT_INTERVAL_MS,
            "flush_interval_ms": TELEMETRY_FLUSH_INTERVAL_MS,
            "axes": AXES,
            "axis_options": AXIS_OPTIONS,
        },
    )
