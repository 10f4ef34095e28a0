"""The one DRF exception handler: EarshotError and DRF's own errors become JSON {code, message, details}."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.busy import RETRY_AFTER_SECONDS, database_busy_for
from core.errors import EarshotError


class BodyTooLarge(EarshotError):
    code = "body_too_large"
    status = 413
    default_message = "The request body is too large."


def body_too_large() -> BodyTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return BodyTooLarge(f"The request body is larger than the limit of {limit} bytes.", max_bytes=limit)


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer, for the OpenAPI schema of every app."""

    code = serializers.CharField(help_text="Stable machine-readable code, e.g. listening_too_short, unknown_scope.")
    message = serializers.CharField(help_text="What went wrong, in a sentence a person can act on.")
    details = serializers.JSONField(required=False, help_text="Extra facts about the error, when there are any.")


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(item) for item in detail)
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = body_too_large()
    if isinstance(exc, EarshotError):
        return Response(exc.as_dict(), status=exc.status)
    busy = database_busy_for(exc)
    if busy is not None:
        return Response(busy.as_dict(), status=busy.status, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.APIException):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "invalid_input"
        body: dict[str, Any] = {"code": code, "message": _flatten(exc.detail)}
        if isinstance(exc.detail, dict | list):
            body["details"] = exc.detail
        response.data = body
    return response
