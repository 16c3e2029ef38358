"""Generated requests against the OpenAPI document: no 500, every answer documented (G1, G3).

Schemathesis builds requests from `/cds-services/openapi.json`, valid and
invalid, and sends them to the real app (clinical core, SQLite storage) in
process. The app runs in dev mode so that generated bodies reach the parsers
instead of stopping at the JWT check, which has its own matrix in
test_cds_security.py. A generated request has no patient data, so it ends at
412; the third variant swaps in a real scenario's prefetch, so generated
contexts and draft orders reach the clinical core. A fixed seed and a small
example budget keep the run short and repeatable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from cds_support import scenario_request
from hypothesis import HealthCheck, given, settings, strategies
from schemathesis import GenerationMode, checks
from schemathesis.specs.openapi import checks as openapi_checks

from clinical_core.anchoring import ANCHOR_DATE


@pytest.fixture
def cds_app(app_factory: Callable[..., Any]) -> Any:
    return app_factory(frozen_today=ANCHOR_DATE.isoformat())


@pytest.fixture
def cds_schema(cds_app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/cds-services/openapi.json", cds_app)


@pytest.fixture
def real_prefetch(cds_app: Any) -> tuple[str, dict[str, Any]]:
    engine = cds_app.extensions["cds_hooks"].engine
    body, _ = scenario_request(
        "baricitinib_2mg_week13_salt60_escalate",
        "patient-view",
        set(engine.observation_codes()),
        set(engine.salt_codes()),
    )
    return body["context"]["patientId"], body["prefetch"]


_CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]
_FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@_FUZZ
@given(data=strategies.data())
def test_generated_requests_get_documented_answers_and_never_a_server_error(
    cds_schema: Any, mode: GenerationMode, data: strategies.DataObject
) -> None:
    case = data.draw(cds_schema.as_strategy(mode))
    case.call_and_validate(checks=_CHECKS)


@_FUZZ
@given(data=strategies.data())
def test_generated_contexts_and_draft_orders_with_a_real_prefetch_never_get_a_server_error(
    cds_schema: Any, real_prefetch: tuple[str, dict[str, Any]], data: strategies.DataObject
) -> None:
    patient_id, prefetch = real_prefetch
    invoke = cds_schema.include(path_regex=r"^/cds-services/aa-jak-")
    case = data.draw(invoke.as_strategy(GenerationMode.POSITIVE))
    case.body["prefetch"] = prefetch
    case.body["context"]["patientId"] = patient_id
    case.body.pop("fhirServer", None)
    case.body.pop("fhirAuthorization", None)
    if case.headers:
        case.headers.pop("Authorization", None)  # dev mode: unauthenticated, so the body is what is tested
    response = case.call_and_validate(checks=_CHECKS)
    assert response.status_code in (200, 400), response.text
