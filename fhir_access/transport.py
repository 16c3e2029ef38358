"""The HTTP session behind `FhirClient`: pooled connections and bounded retries.

Retries happen inside urllib3, out of the client's sight, so the caller's deadline travels to
them in a context variable: a retry whose backoff would end after the deadline is not made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

_deadline: ContextVar[float | None] = ContextVar("fhir_access_deadline", default=None)


@contextmanager
def deadline_scope(deadline: float) -> Iterator[None]:
    """Bound the retries of requests made inside the block by `deadline` (a `time.monotonic()` value)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


class DeadlineRetry(Retry):
    """urllib3 `Retry` that respects the caller's deadline and never resends a non-idempotent method."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> DeadlineRetry:
        # Stock Retry retries connect errors for every method; a POST is never sent twice here.
        idempotent = self._is_method_retryable(method or "")
        if error is not None and self._is_connection_error(error) and not idempotent:
            raise MaxRetryError(_pool, url or "", error) from error  # type: ignore[arg-type]  # as urllib3's own Retry: no pool on some paths
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def is_exhausted(self) -> bool:
        deadline = _deadline.get()
        if deadline is not None and time.monotonic() + self.get_backoff_time() >= deadline:
            return True
        return super().is_exhausted()


def retrying_session(pool_size: int) -> requests.Session:
    """A session that retries GETs twice on connect errors and 502/503/504, with a short backoff."""
    retry = DeadlineRetry(
        total=2,
        connect=2,
        read=False,  # a read timeout is re-raised as such, so it maps to FhirTimeout
        status=2,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=frozenset({502, 503, 504}),
        backoff_factor=0.2,
        backoff_max=1.0,
        raise_on_status=False,  # hand back the last 5xx so the client maps it to FhirUnavailable
        respect_retry_after_header=False,  # a server's Retry-After could outlast any CDS budget
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
