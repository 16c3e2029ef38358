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

_HOOK_REQUEST = {
    "type": "object",
    "description": "CDS Hooks 2.0 request (https://cds-hooks.hl7.org/2.0/#http-request). "
    "Unknown members are accepted.",
    "required": ["hook", "hookInstance", "context"],
    "properties": {
        "hook": {"type": "string"},
        "hookInstance": {"type": "string", "format": "uuid"},
        "fhirServer": {"type": "string", "format": "uri"},
        "fhirAuthorization": {
            "type": "object",
            "required": ["access_token", "token_type", "expires_in", "scope", "subject"],
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
                "scope": {"type": "string"},
                "subject": {"type": "string"},
                "patient": {"type": "string"},
            },
        },
        "context": {"type": "object"},
        "prefetch": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "extension": {"type": "object"},
    },
}

_FEEDBACK_ITEM = {
    "type": "object",
    "required": ["card", "outcome", "outcomeTimestamp"],
    "properties": {
        "card": {"type": "string", "format": "uuid"},
        "outcome": {"enum": ["accepted", "overridden"]},
        "acceptedSuggestions": {
            "type": "array",
            "items": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
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


def openapi_document(version: str) -> dict[str, Any]:
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
                    "feedback": {"type": "array", "items": {"$ref": REF.format(model="FeedbackItem")}}
                },
            },
        }
    )
    service_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    auth = [{"cdsClientJwt": []}]
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
            "/cds-services/{id}": {
                "post": {
                    "operationId": "invokeService",
                    "summary": "Call a CDS service",
                    "security": auth,
                    "parameters": [service_id],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": REF.format(model="HookRequest")}}
                        },
                    },
                    "responses": {
                        "200": _json("CdsResponse", "Cards (possibly none)"),
                        "400": _error("Malformed request or hook not served by this id"),
                        **common_errors,
                        "412": _error("Data the service needs could not be obtained"),
                        "413": _error("Request body too large"),
                        "415": _error("Body is not JSON"),
                    },
                }
            },
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
