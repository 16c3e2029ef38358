"""`FhirClient`: the one FHIR R4 client, used by the CDS Hooks fallback, the SMART app and the sandbox loader.

Every request goes through `_send`, which refuses URLs outside the base URL, so the bearer
token can only reach the server it was issued for (SMART App Launch 1.7, CDS Hooks C4 and C7).
Each public call has one overall deadline (CDS Hooks I5): pages and retries stop when it passes.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from fhir_access.bundles import bundle_resources, next_link, require_bundle
from fhir_access.errors import (
    FhirBadResponse,
    FhirError,
    FhirForbidden,
    FhirNotFound,
    FhirTimeout,
    FhirUnauthorized,
    FhirUnavailable,
    OffOriginUrl,
)
from fhir_access.ids import FHIR_ID, RESOURCE_TYPE
from fhir_access.transport import deadline_scope, retrying_session
from fhir_access.urls import BaseUrl

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"

SearchParams = Mapping[str, str | Sequence[str]]
Resource = dict[str, Any]


@dataclass(frozen=True)
class CreateResult:
    """The answer to a (conditional) create.

    `status` is 201 when created, 200 when `If-None-Exist` matched an existing resource.
    `resource` is None when the server sent no representation (an empty or non-JSON body).
    `location` is the `Location` header as sent; it is never requested (a proxy may name its
    upstream server there), so read the resource by type and id through the client instead.
    """

    status: int
    resource: Resource | None
    location: str | None
    operation_outcome: Resource | None


class FhirClient:
    """A FHIR R4 server at `base_url`, optionally with a bearer `token`.

    `timeout_s` bounds each connect and each read; `deadline_s` bounds a whole call
    (every page of a search, every query of `search_many`, retries included).
    Pass `session` to supply your own transport; it is then used as it is, without our retries.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 2.0,
        deadline_s: float = 4.0,
        max_workers: int = 8,
        session: requests.Session | None = None,
    ) -> None:
        if timeout_s <= 0 or deadline_s <= 0 or max_workers < 1:
            raise ValueError("timeout_s and deadline_s must be positive and max_workers at least 1")
        self._base = BaseUrl.parse(base_url)
        self._token = token
        self._timeout_s = timeout_s
        self._deadline_s = deadline_s
        self._max_workers = max_workers
        self._owns_session = session is None
        self._session = session if session is not None else retrying_session(max_workers)

    def __repr__(self) -> str:
        # Never the token.
        return f"FhirClient({self._base.url!r}, token={'set' if self._token else None})"

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections, unless the session was passed in (its owner closes it)."""
        if self._owns_session:
            self._session.close()

    @property
    def base_url(self) -> str:
        return self._base.url

    def read(self, resource_type: str, resource_id: str) -> Resource:
        """`GET [base]/{resource_type}/{resource_id}`."""
        _check_type(resource_type)
        if not FHIR_ID.fullmatch(resource_id):
            raise ValueError("resource id must be a FHIR id: 1-64 letters, digits, '-' or '.'")
        url = f"{self._base.url}/{resource_type}/{resource_id}"
        return self._read_at(url, resource_type, self._new_deadline())

    def search(self, resource_type: str, params: SearchParams | None = None) -> list[Resource]:
        """`GET [base]/{resource_type}?{params}` and every `next` page; the resources of all pages.

        A list value repeats the parameter (`{"date": ["ge2024-01-01", "lt2025-01-01"]}`).
        """
        _check_type(resource_type)
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        url = f"{self._base.url}/{resource_type}{query}"
        return self._search_at(url, resource_type, self._new_deadline())

    def search_url(self, query: str) -> list[Resource]:
        """A CDS prefetch-style query, relative ("Observation?patient=1") or an absolute URL under the base.

        An instance read ("Patient/1") gives a one-item list, so any prefetch template can be used.
        """
        url, resource_type = self._target(query)
        return self._fetch(url, resource_type, self._new_deadline())

    def search_many(self, queries: Mapping[str, str]) -> dict[str, list[Resource]]:
        """`search_url` for each value, in parallel, under one deadline; results keyed like `queries`.

        On the first failure, raises that query's error with `.key` set to its key; when the
        deadline passes first, raises `FhirTimeout` with `.key` set to a query still running.
        """
        deadline = self._new_deadline()
        targets = {}
        for key, query in queries.items():
            try:
                targets[key] = self._target(query)
            except FhirError as error:
                error.key = key
                raise
        if not targets:
            return {}
        executor = ThreadPoolExecutor(
            max_workers=min(self._max_workers, len(targets)), thread_name_prefix="fhir-search"
        )
        try:
            futures = {
                key: executor.submit(self._fetch, url, resource_type, deadline)
                for key, (url, resource_type) in targets.items()
            }
            done, _ = wait(
                futures.values(), timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION
            )
            return _results_or_raise(futures, done, self._deadline_s)
        finally:
            # Don't wait for stragglers: their own request timeouts end them shortly after the deadline.
            executor.shutdown(wait=False, cancel_futures=True)

    def continue_bundle(self, bundle: Mapping[str, Any]) -> list[Resource]:
        """The resources of a searchset Bundle (e.g. a paginated CDS prefetch) and of its later pages."""
        first = require_bundle(dict(bundle), "Bundle", "continue")
        resource_type = _resource_type_of(first)
        return self._follow(first, resource_type, self._new_deadline())

    def create(self, resource: Mapping[str, Any], *, if_none_exist: str | None = None) -> CreateResult:
        """`POST [base]/{resourceType}`; conditional when `if_none_exist` is a query ("identifier=sys|val").

        Never retried: a POST that reached the server may have created the resource. A 2xx answer
        whose body is empty or not JSON still counts: the status says what happened, the body is
        only a courtesy (`Prefer: return=representation` may be ignored).
        """
        resource_type = str(resource.get("resourceType", ""))
        _check_type(resource_type)
        headers = {"Content-Type": FHIR_JSON, "Prefer": "return=representation"}
        if if_none_exist:
            headers["If-None-Exist"] = if_none_exist
        response = self._send(
            "POST",
            f"{self._base.url}/{resource_type}",
            resource_type,
            self._new_deadline(),
            interaction="create",
            headers=headers,
            body=json.dumps(resource).encode(),
        )
        body = _json_or_none(response)
        returned_type = body.get("resourceType") if isinstance(body, dict) else None
        return CreateResult(
            status=response.status_code,
            resource=body if returned_type == resource_type else None,
            location=response.headers.get("Location"),
            operation_outcome=body if returned_type == "OperationOutcome" else None,
        )

    def _new_deadline(self) -> float:
        return time.monotonic() + self._deadline_s

    def _target(self, query: str) -> tuple[str, str]:
        url = self._base.resolve(query)
        segments = self._base.segments(url)
        if not segments or not RESOURCE_TYPE.fullmatch(segments[0]):
            raise ValueError("query must start with a FHIR resource type, e.g. 'Observation?patient=1'")
        return url, segments[0]

    def _fetch(self, url: str, resource_type: str, deadline: float) -> list[Resource]:
        if len(self._base.segments(url)) == 2:
            return [self._read_at(url, resource_type, deadline)]
        return self._search_at(url, resource_type, deadline)

    def _read_at(self, url: str, resource_type: str, deadline: float) -> Resource:
        body = self._get_json(url, resource_type, deadline, "read")
        if isinstance(body, dict) and body.get("resourceType") == resource_type:
            return body
        outcome = body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
        raise FhirBadResponse(
            f"FHIR read {resource_type}: the server returned a different kind of content",
            resource_type=resource_type,
            operation_outcome=outcome,
        )

    def _search_at(self, url: str, resource_type: str, deadline: float) -> list[Resource]:
        page = self._get_json(url, resource_type, deadline, "search")
        bundle = require_bundle(page, resource_type, "search")
        return self._follow(bundle, resource_type, deadline)

    def _follow(self, bundle: dict[str, Any], resource_type: str, deadline: float) -> list[Resource]:
        resources = bundle_resources(bundle)
        visited: set[str] = set()
        while (link := next_link(bundle)) is not None:
            url = self._base.resolve(link, resource_type=resource_type)
            if url in visited:
                raise FhirBadResponse(
                    f"FHIR search {resource_type}: a next link leads back to a page already read",
                    resource_type=resource_type,
                )
            visited.add(url)
            page = self._get_json(url, resource_type, deadline, "search")
            bundle = require_bundle(page, resource_type, "search")
            resources.extend(bundle_resources(bundle))
        return resources

    def _get_json(self, url: str, resource_type: str, deadline: float, interaction: str) -> Any:
        response = self._send("GET", url, resource_type, deadline, interaction=interaction)
        return _json(response, resource_type, interaction)

    def _send(
        self,
        method: str,
        url: str,
        resource_type: str,
        deadline: float,
        *,
        interaction: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> requests.Response:
        if not self._base.contains(url):
            raise OffOriginUrl(
                f"FHIR {interaction} {resource_type}: URL is outside the FHIR base URL; not requested",
                resource_type=resource_type,
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FhirTimeout(
                f"FHIR {interaction} {resource_type}: deadline of {self._deadline_s:g} s passed",
                resource_type=resource_type,
            )
        all_headers = {"Accept": FHIR_JSON, **(headers or {})}
        if self._token:
            all_headers["Authorization"] = f"Bearer {self._token}"
        timeout = min(self._timeout_s, remaining)
        started = time.monotonic()
        outcome = "error"
        try:
            with deadline_scope(deadline):
                response = self._session.request(
                    method,
                    url,
                    headers=all_headers,
                    data=body,
                    timeout=(timeout, timeout),
                    allow_redirects=False,  # a redirect could lead the token elsewhere
                )
            outcome = str(response.status_code)
        # `from None`: requests' messages contain the URL with its query, i.e. patient ids.
        except requests.Timeout:
            raise FhirTimeout(
                f"FHIR {interaction} {resource_type}: no answer within {timeout:.3g} s",
                resource_type=resource_type,
            ) from None
        except requests.RequestException as error:
            raise FhirUnavailable(
                f"FHIR {interaction} {resource_type}: request failed ({type(error).__name__})",
                resource_type=resource_type,
            ) from None
        finally:
            elapsed_ms = (time.monotonic() - started) * 1000
            logger.debug("FHIR %s %s -> %s in %.0f ms", method, resource_type, outcome, elapsed_ms)
        _raise_for_status(response, resource_type, interaction)
        return response


def _check_type(resource_type: str) -> None:
    if not RESOURCE_TYPE.fullmatch(resource_type):
        raise ValueError("resource type must be a FHIR resource type name such as 'Observation'")


def _resource_type_of(bundle: dict[str, Any]) -> str:
    """The type of a Bundle's first resource, to name it in errors and logs."""
    resources = bundle_resources(bundle)
    kind = resources[0].get("resourceType") if resources else None
    return kind if isinstance(kind, str) and RESOURCE_TYPE.fullmatch(kind) else "Bundle"


def _json(response: requests.Response, resource_type: str, interaction: str) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        raise FhirBadResponse(
            f"FHIR {interaction} {resource_type}: HTTP {response.status_code} body is not JSON",
            resource_type=resource_type,
            status=response.status_code,
        ) from None


def _json_or_none(response: requests.Response) -> Any:
    """The body as JSON; None when it is empty or not JSON."""
    try:
        return response.json() if response.content else None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
        return None


_ERRORS_BY_STATUS: dict[int, type[FhirError]] = {
    401: FhirUnauthorized,
    403: FhirForbidden,
    404: FhirNotFound,
    410: FhirNotFound,
    429: FhirUnavailable,
}


def _raise_for_status(response: requests.Response, resource_type: str, interaction: str) -> None:
    status = response.status_code
    if status < 300:
        return
    if status >= 500:
        error_class: type[FhirError] = FhirUnavailable
    elif status < 400:
        error_class = FhirBadResponse  # redirects are not followed
    else:
        error_class = _ERRORS_BY_STATUS.get(status, FhirError)
    body = _json_or_none(response)
    outcome = body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
    raise error_class(
        f"FHIR {interaction} {resource_type}: HTTP {status}",
        resource_type=resource_type,
        status=status,
        operation_outcome=outcome,
    )


def _results_or_raise(
    futures: Mapping[str, Future[list[Resource]]], done: set[Future[list[Resource]]], deadline_s: float
) -> dict[str, list[Resource]]:
    # A failure is reported before the deadline: `wait` returns early on the first one.
    for key, future in futures.items():
        error = future.exception() if future in done else None
        if isinstance(error, FhirError):
            error.key = key
        if error is not None:
            raise error
    for key, future in futures.items():
        if not future.done():
            raise FhirTimeout(f"FHIR search_many: deadline of {deadline_s:g} s passed", key=key)
    return {key: future.result() for key, future in futures.items()}
