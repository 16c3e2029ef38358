"""Prometheus metrics of the CDS Hooks endpoints (served by the wiring's /metrics).

Labels are bounded: service id (unknown ids are folded into "unknown"),
endpoint kind and HTTP status. No patient data in labels.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "aa_jak_cds_requests",
    "CDS Hooks requests by service, endpoint and HTTP status",
    ["service", "endpoint", "status"],
)
LATENCY = Histogram(
    "aa_jak_cds_request_seconds",
    "CDS Hooks request latency by service and endpoint",
    ["service", "endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0),
)
CARDS = Counter("aa_jak_cds_cards", "Cards returned, by service and indicator", ["service", "indicator"])


def observe(service: str, endpoint: str, status: int, seconds: float) -> None:
    REQUESTS.labels(service, endpoint, str(status)).inc()
    LATENCY.labels(service, endpoint).observe(seconds)
