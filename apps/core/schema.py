"""OpenAPI postprocessing: the statuses every operation of a kind can answer, documented once.

schemathesis found 41 statuses the API answered but the schema did not list (issue 7). Most are
framework-wide rather than per view, so they are added here for every operation they apply to:

- 401 (not_authenticated / token_invalid) wherever a JWT is accepted (`security: jwtAuth`);
- 429 (rate_limited) on every view that is throttled (all but those with empty throttle_classes);
- 400 (validation_error) wherever a body is accepted: malformed, too deep or too large JSON;
- 404 (not_found) on cursor-paginated lists: a cursor that does not decode names no page;
- the Idempotency-Key header's format (1–64 printable ASCII characters), as apps.core.api checks it;
- 414 everywhere: a request line longer than gunicorn's limit_request_line is refused by the web
  server before Django (plain text, not the error shape: the API never sees it);
- 503 (service_unavailable, with Retry-After) everywhere: the database can fail mid-request on any
  operation (apps.core.api maps OperationalError/InterfaceError), and a client must know that a retry
  with the same Idempotency-Key is the answer to it (API.md).

What only some views answer (403, 404 on a path, 409, 422) stays with each view's extend_schema.
"""

from __future__ import annotations

from typing import Any

IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[\\x21-\\x7e]{1,64}$"}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_METHODS = {"get", "put", "post", "patch", "delete"}


_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait before retrying."}}


def _add(operation: dict[str, Any], status: str, description: str) -> None:
    operation.setdefault("responses", {}).setdefault(status, {"description": description, "content": _ERROR})


def _uses_jwt(operation: dict[str, Any]) -> bool:
    return any("jwtAuth" in requirement for requirement in operation.get("security", []))


def _unthrottled(generator) -> set[tuple[str, str]]:
    """(path, method) of the views that opt out of throttling (e.g. the PSP's signed webhook)."""
    found = set()
    for path, _, method, callback in getattr(generator, "endpoints", None) or []:
        view = getattr(callback, "cls", None)
        if view is not None and not view.throttle_classes:
            found.add((path, method.lower()))
    return found


def document_common_statuses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    unthrottled = _unthrottled(generator)
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            if _uses_jwt(operation):
                _add(operation, "401", "not_authenticated or token_invalid")
            if (path, method) not in unthrottled:
                _add(operation, "429", "rate_limited (throttling); see Retry-After")
            operation["responses"].setdefault("414", {"description": "URI too long: refused by the web server, not the API"})
            operation["responses"].setdefault("503", {
                "description": "service_unavailable: a dependency (the database) failed mid-request; nothing was half-done. "
                               "Retry after Retry-After seconds with the same Idempotency-Key.",
                "headers": dict(_RETRY_AFTER),
                "content": _ERROR,
            })
            if "requestBody" in operation:
                _add(operation, "400", "validation_error: the body is malformed, nested too deeply or too large")
            parameters = operation.get("parameters", [])
            if any(p.get("in") == "query" and p.get("name") == "cursor" for p in parameters):
                _add(operation, "404", "not_found: the cursor names no page")
            for parameter in parameters:
                if parameter.get("in") == "header" and parameter.get("name") == "Idempotency-Key":
                    parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)
                    # A key that breaks the format is refused before anything else.
                    _add(operation, "400", "validation_error")
    return result
