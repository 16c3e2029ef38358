"""JSON logging and the redaction filter."""

from __future__ import annotations

import io
import json
import logging

import pytest

from aa_jak.logs import REDACTED, JsonFormatter, RedactingFilter, make_handler, redact


@pytest.fixture
def captured():
    """A logger whose records go through our handler (filter + JSON formatter) into a buffer."""
    stream = io.StringIO()
    logger = logging.getLogger("tests.wiring.redaction")
    logger.handlers[:] = [make_handler(stream)]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines
    logger.handlers.clear()


SECRETS = [
    ("Authorization: Bearer abc.def.ghi-123", "abc.def.ghi-123"),
    ("headers={'Authorization': 'Bearer tok_12345'}", "tok_12345"),
    ('token response {"access_token": "at-999", "token_type": "Bearer"}', "at-999"),
    ('{"refresh_token":"rt-777","id_token":"it-555"}', "rt-777"),
    ('{"refresh_token":"rt-777","id_token":"it-555"}', "it-555"),
    ("grant_type=authorization_code&code=authcode42&code_verifier=verif43", "authcode42"),
    ("grant_type=authorization_code&code=authcode42&code_verifier=verif43", "verif43"),
    ("calling with eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl", "eyJhbGciOiJFUzM4NCJ9"),
    ('"GET /app/callback?code=zzz&state=yyy HTTP/1.1" 302', "state=yyy"),
    ("GET https://fhir.example.org/Observation?patient=123&code=718-7", "patient=123"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_redact_removes_the_secret(text, secret):
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


def test_redact_strips_terminal_colours():
    assert redact('"\x1b[32mPOST /feedback HTTP/1.1\x1b[0m" 302') == '"POST /feedback HTTP/1.1" 302'


def test_redact_leaves_ordinary_text_alone():
    text = "patient-view answered 200 in 41 ms for code 718-7 (LOINC)"
    assert redact(text) == text


def test_log_record_with_a_bearer_token_is_redacted(captured):
    logger, lines = captured
    logger.info("outbound request Authorization: Bearer %s", "secret-token-value")
    (entry,) = lines()
    assert "secret-token-value" not in json.dumps(entry)
    assert entry["message"] == f"outbound request Authorization: {REDACTED}"


def test_log_record_with_an_access_token_in_extra_is_redacted(captured):
    logger, lines = captured
    logger.info(
        "token", extra={"access_token": "at-1", "token_response": {"refresh_token": "rt-1", "scope": "x"}}
    )
    (entry,) = lines()
    assert entry["access_token"] == REDACTED
    assert entry["token_response"] == {"refresh_token": REDACTED, "scope": "x"}


def test_bodies_and_query_strings_in_extra_are_never_logged(captured):
    logger, lines = captured
    logger.info("request", extra={"body": {"prefetch": {"patient": "..."}}, "query_string": "code=abc"})
    (entry,) = lines()
    assert entry["body"] == REDACTED
    assert entry["query_string"] == REDACTED


def test_exception_text_is_redacted(captured):
    logger, lines = captured
    try:
        raise RuntimeError("token endpoint said access_token=leaky")
    except RuntimeError:
        logger.exception("failed")
    (entry,) = lines()
    assert "leaky" not in entry["exception"]


def test_one_json_object_per_line_with_standard_fields(captured):
    logger, lines = captured
    logger.warning("first\nsecond line", extra={"hook_instance": "abc"})
    logger.error("third")
    first, second = lines()
    assert first["message"] == "first\nsecond line"
    assert first["level"] == "WARNING"
    assert first["logger"] == "tests.wiring.redaction"
    assert first["hook_instance"] == "abc"
    assert "time" in first
    assert second["level"] == "ERROR"


def test_filter_rewrites_the_record_itself():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "Bearer %s", ("abcdef123",), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"Bearer {REDACTED}"
    assert "abcdef123" not in JsonFormatter().format(record)
