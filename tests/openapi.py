"""Checks an API answer against the OpenAPI schema drf-spectacular generates from the same serializers.

The schema is generated once per test session. `assert_matches_schema(response, method="post", path=...)` finds
the operation (by its templated path, e.g. "/api/battles/{battle_id}/vote/", or by a concrete one), takes the
JSON schema documented for the response's status code, and validates the body with openapi-schema-validator:
required fields, types, nullability, enums and formats (uuid, date-time, uri) are all checked. Properties the
schema does not name pass, as OpenAPI has it, unless the check is `closed`: then an answer holds nothing more
than its documented fields, at every level where the schema lists them.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from drf_spectacular.generators import SchemaGenerator
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

JSON = "application/json"


@lru_cache(maxsize=1)
def openapi_schema() -> dict[str, Any]:
    """The project's public OpenAPI schema, as /api/schema/ serves it."""
    return SchemaGenerator().get_schema(request=None, public=True)


def _template_for(path: str, paths: dict[str, Any]) -> str:
    """The schema's path template for `path`: itself when it is one, else the template a concrete path fits."""
    if path in paths:
        return path
    for template in paths:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"no operation in the OpenAPI schema serves {path!r}")


_NULL = {"enum": [None]}


def _nullable_refs(schema: Any) -> Any:
    """A copy of `schema` where drf-spectacular's nullable reference, {allOf: [ref], nullable: true}, admits null.

    OpenAPI 3.0.3 says `nullable` does not reach into allOf, and the validator follows it to the letter, so the
    null a documented `allow_null` field answers would be refused; spelled as anyOf it means what the schema says.
    """
    if isinstance(schema, list):
        return [_nullable_refs(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _nullable_refs(value) for key, value in schema.items()}
    if copy.get("nullable") is True and "allOf" in copy and "type" not in copy:
        copy.pop("nullable")
        return {"anyOf": [copy, _NULL]}
    return copy


def _closed(schema: Any) -> Any:
    """A copy of `schema` where every object that lists its properties admits no others."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _closed(value) for key, value in schema.items()}
    if "properties" in copy and "additionalProperties" not in copy:
        copy["additionalProperties"] = False
    return copy


def response_schema(*, method: str, path: str, status: int, closed: bool = False) -> dict[str, Any]:
    """The JSON schema documented for the answer with this status, with the components it refers to."""
    schema = openapi_schema()
    template = _template_for(path, schema["paths"])
    operation = schema["paths"][template].get(method.lower())
    assert operation is not None, f"the OpenAPI schema has no {method.upper()} {template}"
    responses = operation["responses"]
    documented = responses.get(str(status))
    assert documented is not None, (
        f"{method.upper()} {template} answered {status}, which its schema does not document "
        f"(documented: {', '.join(sorted(responses))})"
    )
    content = documented.get("content", {})
    assert JSON in content, f"{method.upper()} {template} documents no JSON body for {status}"
    # The body's schema at the root of a document that also holds the components, so that $ref resolves.
    document = _nullable_refs({**content[JSON]["schema"], "components": schema.get("components", {})})
    return _closed(document) if closed else document


def schema_errors(body: Any, *, method: str, path: str, status: int, closed: bool = False) -> list[str]:
    """Every way `body` departs from the documented answer (empty when it matches)."""
    # The read validator: a response must hold its readOnly properties too (the plain one lets them be missing).
    validator = OAS30ReadValidator(
        response_schema(method=method, path=path, status=status, closed=closed), format_checker=oas30_format_checker
    )
    errors = [leaf for error in validator.iter_errors(body) for leaf in _leaves(error)]
    return sorted(f"{'/'.join(str(part) for part in error.absolute_path) or '(body)'}: {error.message}"
                  for error in errors)


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors under an anyOf/allOf that say what is wrong, not "not valid under any of the given schemas"; the
    null branch of a nullable reference has nothing to say about a value that is not null."""
    if not error.context:
        return [error]
    found = [
        leaf for sub in error.context if sub.schema != _NULL for leaf in _leaves(sub)
    ]
    return found or [error]


def assert_matches_schema(
    response: Any, *, method: str | None = None, path: str | None = None, closed: bool = False
) -> Any:
    """Assert that a test client's response is an answer its operation documents; return the decoded body.

    `method` and `path` default to those of the request the response answers; `closed` refuses undocumented
    properties too.
    """
    method = method or response.wsgi_request.method
    path = path or response.wsgi_request.path
    assert method is not None and path is not None
    body = response.json()
    errors = schema_errors(body, method=method, path=path, status=response.status_code, closed=closed)
    assert not errors, f"{method.upper()} {path} answered {response.status_code} off its schema:\n" + "\n".join(
        errors
    )
    return body
