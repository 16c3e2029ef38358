from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

Resource = dict[str, Any]


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Every HTTP call must be registered; an unregistered one fails with ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def _searchset(resources: list[Resource], next_url: str | None = None) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": next_url}] if next_url else [],
        "entry": [{"resource": resource, "search": {"mode": "match"}} for resource in resources],
    }


@pytest.fixture
def searchset() -> Callable[..., Resource]:
    """searchset(resources, next_url=None) -> a searchset Bundle."""
    return _searchset


@pytest.fixture
def observations() -> Callable[[range], list[Resource]]:
    return lambda numbers: [{"resourceType": "Observation", "id": f"obs-{n}"} for n in numbers]
