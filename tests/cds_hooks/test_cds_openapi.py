"""The OpenAPI 3.1 document at /cds-services/openapi.json: valid structure, every $ref resolves."""

from __future__ import annotations

import re
from typing import Any

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_openapi_document_is_openapi_3_1(call):
    response = call("/cds-services/openapi.json", method="GET", token=None)
    assert response.status_code == 200
    document = response.get_json()
    assert re.fullmatch(r"3\.1\.\d+", document["openapi"])
    assert document["info"]["title"] and document["info"]["version"]
    assert set(document["paths"]) == {
        "/cds-services",
        "/cds-services/aa-jak-patient-view",
        "/cds-services/aa-jak-order-select",
        "/cds-services/aa-jak-order-sign",
        "/cds-services/{id}/feedback",
        "/cds-services/openapi.json",
    }
    for path, item in document["paths"].items():
        assert path.startswith("/")
        for method, operation in item.items():
            assert method in HTTP_METHODS
            assert operation["responses"], (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5]\d\d|default", status)
            for parameter in operation.get("parameters", ()):
                assert parameter["in"] in ("path", "query", "header", "cookie")
                if parameter["in"] == "path":
                    assert parameter["required"] is True and "{" + parameter["name"] + "}" in path
            for scheme in operation.get("security", ()):
                assert set(scheme) <= set(document["components"]["securitySchemes"])
    for ref in refs(document):
        resolve(document, ref)


def test_openapi_schemas_describe_the_real_responses(call):
    document = call("/cds-services/openapi.json", method="GET", token=None).get_json()
    schemas = document["components"]["schemas"]
    assert {"Card", "CdsResponse", "DiscoveryResponse", "OperationOutcome", "FeedbackRequest"} <= set(schemas)
    card = schemas["Card"]
    assert set(card["required"]) >= {"summary", "indicator", "source"}
    assert card["properties"]["summary"].get("maxLength") == 139


def test_openapi_request_schema_of_each_service_names_its_hook_and_required_context(call):
    document = call("/cds-services/openapi.json", method="GET", token=None).get_json()
    discovery = call("/cds-services", method="GET").get_json()
    for service in discovery["services"]:
        operation = document["paths"][f"/cds-services/{service['id']}"]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert {"properties": {"hook": {"const": service["hook"]}}} in schema["allOf"]
    rules = document["components"]["schemas"]["HookRequest"]["allOf"]
    required = {
        r["if"]["properties"]["hook"]["const"]: r["then"]["properties"]["context"]["required"] for r in rules
    }
    assert required["order-select"] == ["userId", "patientId", "selections", "draftOrders"]
