"""A request that waited longer than the connection pool's timeout for a database connection answers 503
database_busy with Retry-After, in the API's {code, message, details} shape, instead of a 500."""
from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from psycopg_pool import PoolTimeout

from core.errors import EarshotError

RETRY_AFTER_SECONDS = 2


class DatabaseBusy(EarshotError):
    code = "database_busy"
    status = 503
    default_message = "The database is busy: try again in a few seconds (see Retry-After)."


def database_busy_for(exc: BaseException) -> DatabaseBusy | None:
    """DatabaseBusy when `exc` is, or was raised from, the pool's PoolTimeout (Django wraps it in its
    OperationalError); None for any other error."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, PoolTimeout):
            return DatabaseBusy(retry_after_s=RETRY_AFTER_SECONDS)
        seen = seen.__cause__ or seen.__context__
    return None


def database_busy_response(error: DatabaseBusy) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.status)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseBusyMiddleware:
    """The same 503 for pages and every other non-DRF view (the DRF exception handler answers for the API)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        busy = database_busy_for(exception)
        return None if busy is None else database_busy_response(busy)
