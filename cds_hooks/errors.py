"""Typed errors of the CDS Hooks service, mapped to HTTP responses in one place.

Every non-2xx answer under `/cds-services` carries a FHIR OperationOutcome
(checklist G2, a 3.0 SHOULD adopted now), those of Flask's routing included
(no such path, a method the URL does not take). Messages never contain tokens,
patient data or stack traces (G3); 401 carries no detail at all (F7).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class CdsError(Exception):
    """Base of the service's errors: `status`, FHIR issue `code`, a safe message."""

    status = 500
    issue_code = "exception"

    def __init__(self, message: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(CdsError):
    """Malformed JSON, missing required members, wrong hook (400; B1-B4, A4)."""

    status = 400
    issue_code = "invalid"


class Unauthorized(CdsError):
    """Missing or invalid client JWT (401; F2-F7). Deliberately without detail."""

    status = 401
    issue_code = "login"

    def __init__(self, reason: str = "") -> None:
        # `reason` is for the log only; the response says nothing more than "unauthorized".
        super().__init__("", headers={"WWW-Authenticate": "Bearer"})
        self.reason = reason


class NotFound(CdsError):
    status = 404
    issue_code = "not-found"


class MethodNotAllowed(CdsError):
    status = 405
    issue_code = "not-supported"

    def __init__(self, message: str, allow: str) -> None:
        super().__init__(message, headers={"Allow": allow})


class PreconditionFailed(CdsError):
    """Data the service needs could not be obtained (412; C6)."""

    status = 412
    issue_code = "not-found"


class PayloadTooLarge(CdsError):
    status = 413
    issue_code = "too-costly"


class UnsupportedMediaType(CdsError):
    status = 415
    issue_code = "not-supported"


def operation_outcome(code: str, message: str, severity: str = "error") -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code}
    if message:
        issue["diagnostics"] = message
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def error_response(error: CdsError) -> Response:
    response = jsonify(operation_outcome(error.issue_code, error.message))
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _handle_cds_error(error: CdsError) -> Response:
    g.cds_status_reason = getattr(error, "reason", "") or error.message
    return error_response(error)


def _http_exception_handler(
    allowed_methods: Callable[[str], str],
) -> Callable[[HTTPException], Response | HTTPException]:
    def handle(error: HTTPException) -> Response | HTTPException:
        path = request.path
        if path != "/cds-services" and not path.startswith("/cds-services/"):
            return error  # the rest of the app keeps Flask's own answers
        mapped: CdsError
        code = error.code or 500
        if code == 413:
            mapped = PayloadTooLarge("request body too large")
        elif code == 400:
            mapped = BadRequest("malformed request")
        elif code == 404:
            mapped = NotFound("not found")
        elif code == 405:
            # Not the routing's list: it would name the methods of every rule matching the path.
            allow = allowed_methods(path)
            mapped = MethodNotAllowed(f"{request.method} is not allowed here; use {allow}", allow=allow)
        else:
            mapped = CdsError(error.name)
            mapped.status = code
        return _handle_cds_error(mapped)

    return handle


def _handle_unexpected(error: Exception) -> Response:
    # The type only: exception messages may carry patient data.
    log.error("cds_hooks unexpected error: %s", type(error).__name__)
    return _handle_cds_error(CdsError("internal error"))


def register_error_handlers(bp: Blueprint, allowed_methods: Callable[[str], str]) -> None:
    """`allowed_methods(path)` gives the Allow header of a 405 at a CDS URL.

    HTTP errors are handled app-wide (for CDS paths only): the routing raises its 404s and 405s
    before a view, and so a blueprint, is chosen. They are handled on the blueprint too, because
    Flask looks at the blueprint's handlers first: there the catch-all `Exception` would turn a
    view's HTTP error (a 413 or a client disconnect while reading the body) into a 500.
    """
    handle_http = _http_exception_handler(allowed_methods)
    bp.register_error_handler(CdsError, _handle_cds_error)
    bp.register_error_handler(HTTPException, handle_http)
    bp.app_errorhandler(HTTPException)(handle_http)
    bp.register_error_handler(Exception, _handle_unexpected)
