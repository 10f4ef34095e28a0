"""A request that waited past the connection pool's timeout answers 503 database_busy with Retry-After, from the
DRF exception handler and from the middleware for every other view; other database errors are left alone."""
from __future__ import annotations

import json

from django.db import OperationalError
from django.test import RequestFactory
from psycopg_pool import PoolTimeout

from core.api import exception_handler
from core.busy import DatabaseBusyMiddleware, database_busy_for


def _pool_timeout_as_django_raises_it() -> OperationalError:
    """Django's wrapper of a PoolTimeout, raised from it as ensure_connection does."""
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 5.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as wrapped:
        return wrapped


def test_the_api_answers_503_database_busy_with_retry_after() -> None:
    response = exception_handler(_pool_timeout_as_django_raises_it(), {})
    assert response is not None and response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.data["code"] == "database_busy" and response.data["message"]


def test_a_page_answers_503_database_busy_in_the_same_shape() -> None:
    middleware = DatabaseBusyMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    response = middleware.process_exception(RequestFactory().get("/leaderboard/"), _pool_timeout_as_django_raises_it())
    assert response is not None and response.status_code == 503 and response["Retry-After"] == "2"
    assert json.loads(response.content)["code"] == "database_busy"


def test_other_database_errors_are_not_taken_for_a_busy_pool() -> None:
    assert database_busy_for(OperationalError("server closed the connection unexpectedly")) is None
    middleware = DatabaseBusyMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    assert middleware.process_exception(RequestFactory().get("/"), OperationalError("gone")) is None
