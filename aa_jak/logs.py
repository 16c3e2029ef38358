"""JSON logging: one JSON object per line on stderr, with secrets redacted.

What is never logged: request or response bodies, query strings, bearer
tokens, OAuth access/refresh/id tokens, authorization codes, PKCE verifiers,
client secrets and anything shaped like a JWT. `RedactingFilter` enforces this
on every record that reaches our handler, whichever library logged it (werkzeug
logs full request lines with query strings; we strip them). It works on text,
so it is a safety net: code should still not pass secrets to a logger.

Log context with `extra=`: `logger.info("cds call", extra={"hook_instance": ...})`
puts `hook_instance` into the JSON object.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

REDACTED = "[REDACTED]"

# Keys whose values are always secret, wherever they appear (extra fields, dicts, key=value text).
SECRET_KEYS = frozenset(
    {
        "authorization",
        "access_token",
        "refresh_token",
        "id_token",
        "code",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "password",
        "secret_key",
        "token",
        "jwt",
    }
)
_KEY_ALT = "|".join(sorted((re.escape(k) for k in SECRET_KEYS), key=len, reverse=True))

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer xyz / Basic xyz (header lines, repr of header dicts)
    (
        re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(bearer|basic|dpop)?\s*[^\s'\",}]+"),
        r"\1" + REDACTED,
    ),
    # a bare "Bearer xyz"
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1" + REDACTED),
    # JSON / repr: "access_token": "xyz"
    (re.compile(r"(?i)(['\"](?:" + _KEY_ALT + r")['\"]\s*:\s*['\"])[^'\"]*"), r"\1" + REDACTED),
    # form / query / kwargs: access_token=xyz, code=xyz
    (re.compile(r"(?i)(?<![A-Za-z0-9_])((?:" + _KEY_ALT + r")=)[^&\s'\",;)]+"), r"\1" + REDACTED),
    # anything shaped like a JWT (header.payload[.signature], base64url, header starts {" -> eyJ)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}(?:\.[A-Za-z0-9_-]*)?"), REDACTED),
    # query strings of URLs and request paths ("GET /app/callback?code=..&state=.. HTTP/1.1")
    (re.compile(r"((?:https?://[^\s?'\"]+|(?<![^\s'\"(])/[^\s?'\"]*))\?[^\s'\"]*"), r"\1?" + REDACTED),
]


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # terminal colours (werkzeug adds them)


def redact(text: str) -> str:
    """Remove secrets, query strings and terminal escape codes from one piece of text."""
    text = _ANSI.sub("", text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """Redact an `extra=` value: secret keys wholesale, strings by pattern, containers recursively."""
    if key.lower() in SECRET_KEYS or key.lower() in {"body", "data", "json", "query_string", "query"}:
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value("", v) for v in value]
    return value


# Attributes every LogRecord has; anything else came from `extra=`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)


class RedactingFilter(logging.Filter):
    """Rewrites a record in place so no handler or formatter ever sees the secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        for key in list(vars(record)):
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                setattr(record, key, redact_value(key, getattr(record, key)))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = redact_value(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


_HANDLER_MARK = "_aa_jak_handler"


def make_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    setattr(handler, _HANDLER_MARK, True)
    return handler


def configure_logging(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once; other handlers (pytest's) are left alone."""
    root = logging.getLogger()
    if not any(getattr(h, _HANDLER_MARK, False) for h in root.handlers):
        root.addHandler(make_handler())
    root.setLevel(level.upper())
    # werkzeug's request lines duplicate our own request log (and carry query strings, redacted above)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # urllib3 logs every request line at DEBUG with its path: FHIR ids (`GET /fhir/Patient/<id>`)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # alembic says "Context impl ..." at every schema check; storage.migrate logs real upgrades
    logging.getLogger("alembic").setLevel(logging.WARNING)


def gunicorn_logconfig(level: str = "INFO") -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its own error log in the same JSON shape; access log off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "aa_jak.logs.RedactingFilter"}},
        "formatters": {"json": {"()": "aa_jak.logs.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": []},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
