"""Liveness probe: GET /healthz answers 200 {"status": "ok"} as soon as the process can serve a Django view.

It reads no database, cache or session, so a load balancer or a container healthcheck asks only "is this web process
answering?"; and bench/bench_arena.py uses it as the reference for what the server does with no work at all."""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
