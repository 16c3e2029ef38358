"""OpenAPI 3.1 description of the CDS Hooks endpoints, served at `/cds-services/openapi.json`.

Response schemas are generated from the pydantic models that build the
responses, so the document cannot drift from what the service emits. There
is no official CDS Hooks 2.0 OpenAPI (checklist §4); the HL7 logical models
are the normative machine-readable form.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from cds_hooks.models import CdsResponse, DiscoveryResponse
from cds_hooks.request import REFERENCE, REQUIRED_CONTEXT
from fhir_access import FHIR_ID

REF = "#/components/schemas/{model}"

_OPERATION_OUTCOME = {
    "type": "object",
    "description": "FHIR R4 OperationOutcome",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
}


def _context_required_by_hook() -> list[dict[str, Any]]:
    # One `if hook = X then context requires ...` per hook, from the table the parser enforces.
    return [
        {
            "if": {"properties": {"hook": {"const": hook}}, "required": ["hook"]},
            "then": {"properties": {"context": {"required": list(names)}}},
        }
        for hook, names in REQUIRED_CONTEXT.items()
    ]


_HOOK_REQUEST = {
    "type": "object",
    "description": "CDS Hooks 2.0 request (https://cds-hooks.hl7.org/2.0/#http-request). "
    "Unknown members are accepted. Each service answers only its own hook (400 otherwise).",
    "required": ["hook", "hookInstance", "context"],
    "properties": {
        "hook": {"enum": list(REQUIRED_CONTEXT)},
        "hookInstance": {"type": "string", "format": "uuid"},
        "fhirServer": {"type": "string", "format": "uri", "pattern": "^https?://"},
        "fhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
            "properties": {
                "access_token": {"type": "string", "minLength": 1},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string", "minLength": 1},
                "subject": {"type": "string", "minLength": 1},
                "patient": {"type": "string"},
            },
        },
        "context": {
            "type": "object",
            "properties": {
                "patientId": {"type": "string", "pattern": FHIR_ID.pattern},
                "userId": {"type": "string", "pattern": REFERENCE.pattern},
                "encounterId": {"type": "string", "pattern": FHIR_ID.pattern},
                "selections": {"type": "array", "items": {"type": "string"}},
                "draftOrders": {
                    "type": "object",
                    "required": ["resourceType"],
                    "properties": {"resourceType": {"const": "Bundle"}},
                },
            },
        },
        "prefetch": {
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["resourceType"],
                        "properties": {"resourceType": {"type": "string"}},
                    },
                ]
            },
        },
        "extension": {"type": "object"},
    },
    "dependentRequired": {"fhirAuthorization": ["fhirServer"]},
    "allOf": _context_required_by_hook(),
}

_FEEDBACK_ITEM = {
    "type": "object",
    "required": ["card", "outcome", "outcomeTimestamp"],
    "properties": {
        "card": {"type": "string", "format": "uuid"},
        "outcome": {"enum": ["accepted", "overridden"]},
        "acceptedSuggestions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string", "minLength": 1}},
            },
        },
        "overrideReason": {
            "type": "object",
            "properties": {
                "reason": {"$ref": REF.format(model="Coding")},
                "userComment": {"type": "string"},
            },
        },
        "outcomeTimestamp": {"type": "string", "format": "date-time"},
    },
    # 2.0: suggestions accepted only with "accepted" (and then required), a reason only with "overridden".
    "if": {"properties": {"outcome": {"const": "accepted"}}},
    "then": {
        "required": ["acceptedSuggestions"],
        "properties": {"acceptedSuggestions": {"minItems": 1}},
        "not": {"required": ["overrideReason"]},
    },
    "else": {"properties": {"acceptedSuggestions": {"maxItems": 0}}},
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="OperationOutcome")}}},
    }


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=schema_ref)}}},
    }


def _invoke(service_id: str, hook: str, auth: list[Any], common_errors: dict[str, Any]) -> dict[str, Any]:
    # One path per service, so that each request schema names the one hook the service answers.
    schema = {"allOf": [{"$ref": REF.format(model="HookRequest")}, {"properties": {"hook": {"const": hook}}}]}
    return {
        "post": {
            "operationId": f"invoke-{service_id}",
            "summary": f"Call the {hook} service",
            "security": auth,
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {
                "200": _json("CdsResponse", "Cards (possibly none)"),
                "400": _error("Malformed request, or a hook this service does not answer"),
                **common_errors,
                "412": _error("Data the service needs could not be obtained"),
                "413": _error("Request body too large"),
                "415": _error("Body is not JSON"),
            },
        }
    }


def openapi_document(version: str, services: list[tuple[str, str]]) -> dict[str, Any]:
    """The document for `services`, (id, hook) pairs in discovery order."""
    _, generated = models_json_schema(
        [(DiscoveryResponse, "serialization"), (CdsResponse, "serialization")], ref_template=REF
    )
    schemas: dict[str, Any] = dict(generated.get("$defs", {}))
    schemas.update(
        {
            "OperationOutcome": _OPERATION_OUTCOME,
            "HookRequest": _HOOK_REQUEST,
            "FeedbackItem": _FEEDBACK_ITEM,
            "FeedbackRequest": {
                "type": "object",
                "required": ["feedback"],
                "properties": {
                    "feedback": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"$ref": REF.format(model="FeedbackItem")},
                    }
                },
            },
        }
    )
    service_id = {
        "name": "id",
        "in": "path",
        "required": True,
        "schema": {"enum": [sid for sid, _ in services]},
    }
    auth: list[dict[str, list[str]]] = [{"cdsClientJwt": []}]
    common_errors = {"401": _error("Missing or invalid client JWT"), "404": _error("Unknown service")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AA-JAK CDS Hooks service",
            "version": version,
            "description": "CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/) services for JAK inhibitor "
            "therapy in alopecia areata.",
        },
        "paths": {
            "/cds-services": {
                "get": {
                    "operationId": "discovery",
                    "summary": "Discovery: the services this endpoint offers",
                    "security": auth,
                    "responses": {
                        "200": _json("DiscoveryResponse", "The services"),
                        "401": common_errors["401"],
                    },
                }
            },
            **{f"/cds-services/{sid}": _invoke(sid, hook, auth, common_errors) for sid, hook in services},
            "/cds-services/{id}/feedback": {
                "post": {
                    "operationId": "feedback",
                    "summary": "Report what the user did with cards",
                    "security": auth,
                    "parameters": [service_id],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": REF.format(model="FeedbackRequest")}}
                        },
                    },
                    "responses": {
                        "200": {"description": "Feedback stored"},
                        "400": _error("Malformed feedback"),
                        **common_errors,
                        "413": _error("Request body too large"),
                        "415": _error("Body is not JSON"),
                    },
                }
            },
            "/cds-services/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3.1 document"}},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cdsClientJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "CDS Hooks client JWT (ES384 or RS384), aud = the URL called.",
                }
            },
        },
    }
