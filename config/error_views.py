"""Django's error views (URLconf handler400/404/500): under /api/ they answer the API's JSON error shape
{code, message, details}; every other path keeps Django's pages."""
from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from core.api import body_too_large

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        error = body_too_large()
        return JsonResponse(error.as_dict(), status=error.status)
    return JsonResponse({"code": "bad_request", "message": "The request could not be understood."}, status=400)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    # Also a malformed id in a path (the battle id is a UUID): no such resource, whatever the reason.
    return JsonResponse(
        {"code": "not_found", "message": "No such API resource.", "details": {"path": request.path}}, status=404
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    return JsonResponse(
        {"code": "server_error", "message": "The server failed to answer this request; it was logged."}, status=500
    )
