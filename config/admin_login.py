"""The admin sign-in, limited: after EARSHOT_LOGIN_RATE_LIMIT failed attempts for one user name from one address
(salted hashes of both) in a window, further attempts answer 429 until the window ends."""
from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from arena.raters import ip_hash, ip_hash_for_request
from arena.throttles import rate_parse
from core.client_limits import failure_count, failures_over

LIMIT_NAME = "login-failures"


def admin_login(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    rate = rate_parse(settings.EARSHOT_LOGIN_RATE_LIMIT, setting="EARSHOT_LOGIN_RATE_LIMIT")
    if request.method != "POST" or rate is None:
        return admin.site.login(request, extra_context)
    limit, seconds = rate
    # The user name is hashed with the address's salt, so the cache holds neither in clear.
    identity = ip_hash(f"{ip_hash_for_request(request)}:{request.POST.get('username', '')}")
    wait = failures_over(name=LIMIT_NAME, identity=identity, limit=limit, seconds=seconds)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        refused = HttpResponse(
            f"Too many failed sign-ins for this user name from this address: try again in {minutes} minute(s).",
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        refused["Retry-After"] = str(math.ceil(wait))
        return refused
    response = admin.site.login(request, extra_context)
    if not request.user.is_authenticated:
        failure_count(name=LIMIT_NAME, identity=identity, seconds=seconds)
    return response
