"""Malformed input at every public endpoint never gives a 5xx (Flask test client, no network).

A table of broken requests (bodies, content types, headers, query strings, path segments) and a
bounded hypothesis run of arbitrary JSON bodies go to the CDS Hooks service (dev mode, so bodies
reach the parser; and secure mode, so they reach the JWT check first) and to the SMART app.
FHIR servers named anywhere are closed local ports, so nothing leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CLOSED = "http://127.0.0.1:9"  # discard port: connection refused at once
# The SMART app's allowed iss per mode: outside dev mode the settings must name https URLs.
SMART_ISS = {"dev": f"{CLOSED}/fhir", "secure": "https://127.0.0.1:9/fhir"}
PV = "/cds-services/aa-jak-patient-view"
SIGN = "/cds-services/aa-jak-order-sign"
FEEDBACK = f"{PV}/feedback"
HUGE = "x" * 200_000
CARD = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
ODD = [
    "",
    " ",
    "\x00",
    "é",
    "😀",
    "\u202e",
    "%",
    "%00",
    "%ZZ",
    "..",
    "../../etc/passwd",
    "<script>",
    HUGE[:9000],
]


@pytest.fixture
def apps(app_factory: Callable[..., Any], tmp_path: Any) -> dict[str, Any]:
    from sandbox.keys import SigningKey

    jwks = SigningKey.generate().write_jwks(tmp_path / "jwks.json")
    issuers = [{"iss": "https://ehr.test", "jwks_file": str(jwks), "fhir_servers": []}]
    return {
        mode: app_factory(
            dev_mode=mode == "dev",
            cds_trusted_issuers=issuers,
            smart_clients=[{"iss": iss, "client_id": "c", "standalone": True}],
        )
        for mode, iss in SMART_ISS.items()
    }


class Checker:
    """Collects every 5xx of a test, so one run lists them all."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def __call__(self, response: Any, what: Any, *, upstream: bool = False) -> None:
        """No 5xx; a request that makes the app call an (unreachable) upstream may answer 502 or 504."""
        allowed = {502, 504} if upstream else set()
        if response.status_code >= 500 and response.status_code not in allowed:
            body = response.get_data(as_text=True)[:200].replace("\n", " ")
            self.failures.append(f"{response.status_code} for {what!r}: {body}")

    def done(self) -> None:
        assert not self.failures, f"{len(self.failures)} requests answered 5xx:\n" + "\n".join(
            f"  {f[:600]}" for f in self.failures
        )


def _hook(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/1", "patientId": "p1"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "p1"}},
    }
    body.update(overrides)
    return body


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


JSON_BODIES: list[Any] = [
    None,
    0,
    "string",
    [],
    {},
    [None],
    {"hook": None},
    _hook(hook=5),
    _hook(hook="order-sign"),
    _hook(hookInstance=None),
    _hook(hookInstance=["a"]),
    _hook(context=None),
    _hook(context=[]),
    _hook(context={"patientId": None}),
    _hook(context={"patientId": {"a": None}, "userId": 7}),
    _hook(context={"patientId": HUGE, "userId": HUGE}),
    _hook(context={"patientId": "p1", "userId": "Practitioner/1", "draftOrders": None}),
    _hook(context={"patientId": "p1", "userId": "Practitioner/1", "draftOrders": {"entry": None}}),
    _hook(context={"patientId": "p1", "userId": "Practitioner/1", "draftOrders": {"entry": [None, 1]}}),
    _hook(
        context={
            "patientId": "p1",
            "userId": "Practitioner/1",
            "draftOrders": {"entry": [{"resource": None}]},
        }
    ),
    _hook(prefetch=None),
    _hook(prefetch=[]),
    _hook(prefetch={"patient": None}),
    _hook(prefetch={"patient": []}),
    _hook(prefetch={"patient": {"resourceType": "Patient", "id": None}}),
    _hook(prefetch={"patient": {"resourceType": "Patient", "id": "p1", "birthDate": 12}}),
    _hook(
        prefetch={
            "patient": {"resourceType": "Patient", "id": "p1"},
            "labs": {"resourceType": "Bundle", "entry": None},
        }
    ),
    _hook(
        prefetch={
            "patient": {"resourceType": "Patient", "id": "p1"},
            "labs": {
                "resourceType": "Bundle",
                "entry": [
                    None,
                    3,
                    {
                        "resource": {
                            "resourceType": "Observation",
                            "valueQuantity": {"value": "x"},
                            "code": None,
                        }
                    },
                ],
            },
        }
    ),
    *(
        _hook(prefetch={"patient": {"resourceType": "Patient", "id": "p1"}, "labs": labs})
        for labs in (
            {"resourceType": "Bundle", "entry": 1},
            {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation"}, "search": 1}]},
            {"resourceType": "Bundle", "link": 1},
            {"resourceType": "Bundle", "link": [{"relation": "next", "url": "https://[::1"}]},
        )
    ),
    _hook(
        prefetch={
            "patient": {"resourceType": "Patient", "id": "p1"},
            "medicationRequests": {
                "resourceType": "Bundle",
                "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "m", "status": []}}],
            },
        }
    ),
    _hook(prefetch={"x" * 1000: None}),
    _hook(fhirServer=None),
    _hook(fhirServer=5),
    _hook(fhirServer="not a url"),
    _hook(fhirServer="ftp://x/fhir"),
    _hook(fhirServer="http://"),
    _hook(fhirServer=f"{CLOSED}/fhir?x=1"),
    _hook(fhirServer=f"{CLOSED}/fhir#f"),
    _hook(fhirServer="http://[::1"),
    _hook(fhirServer=f"{CLOSED}/fhir", fhirAuthorization=None),
    _hook(fhirServer=f"{CLOSED}/fhir", fhirAuthorization=[]),
    _hook(fhirServer=f"{CLOSED}/fhir", fhirAuthorization={"access_token": None}),
    *(
        _hook(
            fhirServer=f"{CLOSED}/fhir",
            fhirAuthorization={
                "access_token": "t",
                "token_type": "Bearer",
                "expires_in": expires_in,
                "scope": "s",
                "subject": "s",
            },
        )
        for expires_in in ("x", 1e308, True, float("inf"), float("nan"))  # no usable lifetime in seconds
    ),
    _hook(extension=None),
    _hook(extension="x"),
    _hook(fhirAuthorization={"access_token": "t"}),
    {"feedback": None},
    {"feedback": [None]},
    {"feedback": "x"},
    {"feedback": [{"card": None, "outcome": None}]},
    {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "not-a-date"}]},
    {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "9999-99-99T99:99:99Z"}]},
    *(
        {"feedback": [{"card": CARD, "outcome": "overridden", "outcomeTimestamp": timestamp}]}
        for timestamp in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")  # out of range in UTC
    ),
    {
        "feedback": [
            {
                "card": "c",
                "outcome": "accepted",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
                "acceptedSuggestions": [None, {"id": None}, "x"],
            }
        ]
    },
    {
        "feedback": [
            {
                "card": "c",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
                "overrideReason": {"reason": None, "userComment": 5},
            }
        ]
    },
    {
        "feedback": [
            {
                "card": "c",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
                "overrideReason": "x",
            }
        ]
    },
    {"feedback": [{"card": HUGE, "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}]},
    {"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-01-01T00:00:00Z"}] * 2000},
]

RAW_BODIES: list[tuple[bytes, str]] = [
    (b"", "application/json"),
    (b"{", "application/json"),
    (b"{'a': 1}", "application/json"),
    (b"NaN", "application/json"),
    (b'{"a": Infinity}', "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b'{"hook": "patient-view"}', "text/plain"),
    (b'{"hook": "patient-view"}', "application/x-www-form-urlencoded"),
    (b'{"hook": "patient-view"}', "multipart/form-data; boundary=x"),
    (b'{"hook": "patient-view"}', "application/json; charset=latin-1"),
    (b'{"hook": "patient-view"}', "application/fhir+json"),
    (b'{"hook": "patient-view"}', ""),
    ('{"hook": "patient-vi\u00e9w"}'.encode("utf-16"), "application/json"),
    (_nested(100_000).encode(), "application/json"),
    (('{"a":' * 50_000 + "1" + "}" * 50_000).encode(), "application/json"),
    (json.dumps({"x": HUGE * 30}).encode(), "application/json"),  # 6 MB
    (b'{"a": 1' + b" " * 10 + b"}" + b"garbage", "application/json"),
    (b'{"a": 1e999999}', "application/json"),
    (b'{"a": 123' + b"9" * 20_000 + b"}", "application/json"),
]

AUTH_HEADERS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic Zm9vOmJhcg==",
    "Bearer x.y.z",
    "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2Voci50ZXN0In0.",
    "Bearer " + "a" * 20_000,
    "Bearer \u00e9\u00e9",
]


@pytest.mark.parametrize("mode", ["dev", "secure"])
def test_cds_endpoints_with_broken_bodies_and_headers(apps: dict[str, Any], mode: str) -> None:
    client, _check = apps[mode].test_client(), Checker()
    for path in (PV, SIGN, FEEDBACK):
        for body in JSON_BODIES:
            _check(client.post(path, json=body), (mode, path, str(body)[-160:]))
        for raw, content_type in RAW_BODIES:
            headers = {"Content-Type": content_type} if content_type else {}
            _check(client.post(path, data=raw, headers=headers), (mode, path, raw[:80], content_type))
        for auth in AUTH_HEADERS:
            headers = {"Authorization": auth} if auth is not None else {}
            _check(client.post(path, json=_hook(), headers=headers), (mode, path, (auth or "")[:40]))
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"):
        for path in (
            "/cds-services",
            "/cds-services/",
            "/cds-services//feedback",
            PV,
            FEEDBACK,
            "/cds-services/openapi.json",
            "/cds-services/%00",
            "/cds-services/" + "x" * 5000,
            "/cds-services/%F0%9F%98%80/feedback",
            "/cds-services/../app/launch",
        ):
            headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
            _check(client.open(path, method=method, headers=headers), (mode, method, path[:80]))
    _check.done()


@pytest.mark.parametrize("mode", ["dev", "secure"])
def test_smart_endpoints_with_odd_query_strings_and_paths(apps: dict[str, Any], mode: str) -> None:
    client, _check = apps[mode].test_client(), Checker()
    smart_iss = SMART_ISS[mode]
    queries: list[Any] = [
        "",
        "iss=",
        "launch=",
        f"iss={smart_iss}",  # allowed iss, no launch; discovery fails (closed port)
        f"iss={smart_iss}&launch=abc",
        f"iss={smart_iss}&iss=https://evil.example/fhir&launch=a",
        "iss=https://evil.example/fhir&launch=a",
        "iss=%00&launch=%00",
        "iss=%ZZ&launch=%",
        "iss=" + "h" * 10_000 + "&launch=" + "l" * 10_000,
        "state=",
        "state=abc&code=def",
        "state=" + "s" * 10_000 + "&code=" + "c" * 10_000,
        "error=access_denied",
        "error=" + "e" * 5000 + "&error_description=" + "\u202e" * 2000 + "&state=x",
        "code=x&state=x&iss=https://evil.example",
        "a=%E9",
        "state=%C3%A9%F0%9F%98%80&code=%FF",
        {"iss": ["😀", "é"], "launch": ["\x00"]},
    ]
    for path in ("/app/launch", "/app/standalone", "/app/callback"):
        for query in queries:
            upstream = path != "/app/callback" and smart_iss in str(query)
            _check(client.get(path, query_string=query), (mode, path, str(query)[:100]), upstream=upstream)
    for segment in ODD:
        for suffix in ("/", "/print", "/salt"):
            path = f"/app/c/{segment}{suffix}"
            _check(client.get(path), (mode, "GET", path[:100]))
            _check(
                client.post(path, data={"csrf_token": segment, "form_id": segment}),
                (mode, "POST", path[:100]),
            )
    for path in (
        "/app/c/",
        "/app/c//salt",
        "/app/.well-known/jwks.json",
        "/app/static/%00",
        "/app/static/../../etc/passwd",
        "/app/nope",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        _check(client.get(path), (mode, path))
    _check.done()


def test_salt_form_with_odd_values_on_an_unknown_context(apps: dict[str, Any]) -> None:
    client, _check = apps["dev"].test_client(), Checker()
    for value in [*ODD, "-1", "101", "1e309", "nan", "inf", "0x10", "1,5"]:
        form = {f"loss_{k}": value for k in ("vertex", "posterior", "right", "left")}
        form.update(csrf_token=value, form_id=value)
        _check(client.post("/app/c/ctx/salt", data=form), ("salt", value[:40]))
    _check.done()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
HOOK_KEYS = [
    "hook",
    "hookInstance",
    "context",
    "prefetch",
    "fhirServer",
    "fhirAuthorization",
    "extension",
    "feedback",
]
HOOK_LIKE = st.dictionaries(st.sampled_from(HOOK_KEYS), JSON, max_size=len(HOOK_KEYS))
CONTEXT_LIKE = st.builds(
    lambda ctx, prefetch: _hook(context=ctx, prefetch=prefetch),
    st.dictionaries(
        st.sampled_from(["patientId", "userId", "encounterId", "draftOrders", "selections"]), JSON
    ),
    st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(["patient", "labs", "medications", "conditions", "salt"]), JSON),
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.one_of(JSON, HOOK_LIKE, CONTEXT_LIKE), path=st.sampled_from([PV, SIGN, FEEDBACK]))
def test_arbitrary_json_bodies_never_500(apps: dict[str, Any], body: Any, path: str) -> None:
    check = Checker()
    check(apps["dev"].test_client().post(path, json=body), (path, body))
    check.done()
