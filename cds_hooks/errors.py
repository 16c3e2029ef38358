"""Typed errors of the CDS Hooks service, mapped to HTTP responses in one place.

Every non-2xx answer carries a FHIR OperationOutcome (checklist G2, a 3.0
SHOULD adopted now). Messages never contain tokens, patient data or stack
traces (G3); 401 carries no detail at all (F7).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify
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


def _handle_http_exception(error: HTTPException) -> Response:
    mapped: CdsError
    code = error.code or 500
    if code == 413:
        mapped = PayloadTooLarge("request body too large")
    elif code == 400:
        mapped = BadRequest("malformed request")
    elif code == 404:
        mapped = NotFound("not found")
    elif code == 405:
        mapped = MethodNotAllowed(
            "method not allowed", allow=", ".join(getattr(error, "valid_methods", []) or [])
        )
    else:
        mapped = CdsError(error.name)
        mapped.status = code
    return _handle_cds_error(mapped)


def _handle_unexpected(error: Exception) -> Response:
    # The type only: exception messages may carry patient data.
    log.error("cds_hooks unexpected error: %s", type(error).__name__)
    return _handle_cds_error(CdsError("internal error"))


def register_error_handlers(bp: Blueprint) -> None:
    bp.register_error_handler(CdsError, _handle_cds_error)
    bp.register_error_handler(HTTPException, _handle_http_exception)
    bp.register_error_handler(Exception, _handle_unexpected)
