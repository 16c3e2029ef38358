"""Operations endpoints and per-request instrumentation.

- `GET /`: what an integrator looks for first: links to discovery, the OpenAPI document, the
  finding catalogue, the app's standalone launch and the health checks.
- `GET /healthz`: the process is up (liveness). Touches nothing else.
- `GET /readyz`: the app's storage answers `ping()` (readiness); 503 when it does not.
- `GET /metrics`: Prometheus text format (request count and latency per endpoint and status,
  plus whatever other modules register in the default registry, e.g. `cds_hooks/metrics.py`);
  behind a bearer token when `settings.metrics_token` is set (checked in `aa_jak.app`).

Every request gets one log line (method, route, path without query string, status,
duration, request id) and is counted. The `endpoint` label is the route template
(`/cds-services/<service_id>`), never the raw path, so label cardinality stays bounded.

Several processes (gunicorn workers): each worker keeps its own counters, so a scrape
would see one random worker. `aa-jak serve` therefore sets `PROMETHEUS_MULTIPROC_DIR`
(a fresh temporary directory unless already set) before the workers start; `/metrics`
then aggregates all workers with `MultiProcessCollector`. The usual prometheus_client
multiprocess limitations apply: no custom collectors per worker, gauges need a
`multiprocess_mode`, and the directory must be emptied between runs (`serve` does this).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

from flask import Blueprint, Flask, Response, g, has_app_context, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

logger = logging.getLogger("aa_jak.request")

# Module-level on purpose: prometheus_client metrics live in one process-wide registry and
# cannot be registered twice, while apps are created many times (every test).
REQUESTS = Counter(
    "aa_jak_http_requests_total",
    "HTTP requests by route template, method and status code.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "aa_jak_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

bp = Blueprint("ops", __name__)


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>aa-jak</title></head><body>
<h1>aa-jak: JAK inhibitor decision support for alopecia areata</h1>
<ul>
<li><a href="/cds-services">CDS Hooks discovery</a> (<a href="/cds-services/openapi.json">OpenAPI</a>)</li>
<li><a href="/docs/findings">Finding catalogue</a></li>
<li><a href="/app/standalone">SMART app, standalone launch</a> (EHR launch: <code>/app/launch</code>)</li>
<li><a href="/healthz">Health</a>, <a href="/readyz">readiness</a></li>
</ul>
</body></html>
"""


@bp.get("/")
def index() -> Response:
    """Links for integrators; no data, no configuration details."""
    return Response(_INDEX, mimetype="text/html")


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: answers as long as the process serves requests."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: 200 when storage answers, 503 otherwise (the reason is logged, not returned)."""
    try:
        import storage

        ok = storage.get_storage().ping()
    except Exception:
        logger.exception("readiness check failed")
        ok = False
    if ok is False:
        return jsonify(status="unavailable", checks={"storage": "down"}), 503
    return jsonify(status="ok", checks={"storage": "up"}), 200


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition; aggregates all gunicorn workers when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, mimetype=CONTENT_TYPE_LATEST)


def _endpoint_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def _before() -> None:
    g.aa_jak_started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _after(response: Response) -> Response:
    started = g.pop("aa_jak_started", None)
    if started is None:  # a before_request hook failed before ours ran
        return response
    elapsed = time.perf_counter() - started
    endpoint = _endpoint_label()
    REQUESTS.labels(endpoint=endpoint, method=request.method, status=str(response.status_code)).inc()
    LATENCY.labels(endpoint=endpoint, method=request.method).observe(elapsed)
    response.headers.setdefault("X-Request-ID", g.request_id)
    level = logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO
    if response.status_code >= 500:
        level = logging.ERROR
    logger.log(
        level,
        "request",
        extra={
            "request_id": g.request_id,
            "method": request.method,
            "endpoint": endpoint,
            "path": request.path,  # never request.full_path: query strings may carry codes or tokens
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 1),
        },
    )
    return response


def init_app(app: Flask) -> None:
    """Register the ops endpoints and the request instrumentation hooks."""
    app.register_blueprint(bp)
    app.before_request(_before)
    app.after_request(_after)


def current_request_id() -> str | None:
    """The id of the request being served (also sent back as `X-Request-ID`), for log context."""
    return g.get("request_id") if has_app_context() else None
