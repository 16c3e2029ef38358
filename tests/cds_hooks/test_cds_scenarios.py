"""Every synthetic patient through the real clinical core: card invariants and the sidecars' findings.

patient-view for every scenario; order-select and order-sign for scenarios with
draft orders. The findings behind the cards (recorded for feedback at response
time) must be every finding the core produced that the hook shows, so every
sidecar `must` id the core produced is on a card and no `must_not` id is. Whether
the core produces the sidecar's findings is the core's own test (tests/core).
"""

from __future__ import annotations

from typing import Any

import pytest
from cds_support import PUBLIC, MemoryStorage, scenario_names, scenario_request
from test_cds_cards import check_card_invariants
from test_cds_conformance_endpoints import walk_no_empty

from cds_hooks.render import RenderContext, select_findings

SCENARIOS = scenario_names()
PATHS = {
    "patient-view": "/cds-services/aa-jak-patient-view",
    "order-select": "/cds-services/aa-jak-order-select",
    "order-sign": "/cds-services/aa-jak-order-sign",
}


class Recording:
    """Wraps the real engine and keeps the last assessment it returned."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.last: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def assess(self, *args: Any) -> Any:
        self.last = self.engine.assess(*args)
        return self.last


@pytest.fixture(scope="module")
def scenario_storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture(scope="module")
def real(tmp_path_factory, scenario_storage):
    """One app for the module (building one per case dominates the run time)."""
    from aa_jak.app import create_app
    from aa_jak.settings import Settings
    from clinical_core.anchoring import ANCHOR_DATE

    db = tmp_path_factory.mktemp("scenarios") / "aa-jak.db"
    app = create_app(
        Settings(
            dev_mode=True,
            secret_key="test-secret-key-not-for-production",
            database_url=f"sqlite:///{db}",
            public_base_url=PUBLIC,
            frozen_today=ANCHOR_DATE.isoformat(),
        )
    )
    state = app.extensions["cds_hooks"]
    state.storage = lambda: scenario_storage
    state.engine = Recording(state.engine)
    return app, app.test_client(), state


@pytest.fixture
def memory_storage(scenario_storage):
    return scenario_storage


def run(real: Any, memory_storage: Any, name: str, hook: str) -> tuple[dict[str, Any], set[str], dict, set]:
    _app, client, state = real
    codes = set(state.engine.observation_codes())
    salt = set(state.engine.salt_codes())
    body, expected = scenario_request(name, hook, codes, salt)
    response = client.post(PATHS[hook], json=body)
    response.close()
    assert response.status_code == 200, (name, hook, response.get_json())
    answer = response.get_json()
    if answer["cards"]:
        walk_no_empty(answer)
    for card in answer["cards"]:
        check_card_invariants(card)
    uuids = {c["uuid"] for c in answer["cards"]}
    shown = {fid for uuid, rows in memory_storage.cards.items() if uuid in uuids for (_, _, fid) in rows}
    assessment, orders = state.engine.last
    ctx = RenderContext(hook=hook, public_base_url="https://x", patient_id="p", new_uuid=str, proposed=orders)
    selected = {f.id for f in select_findings(assessment, ctx)}
    assert shown == selected  # rendering drops and adds nothing
    return answer, shown, expected, {f.id for f in assessment.findings}


@pytest.mark.skipif(not SCENARIOS, reason="no synthetic patients yet")
@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_patient_view_cards(real, memory_storage, name):
    answer, shown, expected, produced = run(real, memory_storage, name, "patient-view")
    if expected["status"] == "not-applicable":
        assert answer == {"cards": []}
        return
    if expected.get("draft_orders"):
        return  # the sidecar describes the order; see the order-sign test
    assert set(expected["must"]) & produced <= shown, sorted(shown)
    assert not set(expected["must_not"]) & shown
    indicators = [c["indicator"] for c in answer["cards"]]
    assert indicators == sorted(indicators, key=["critical", "warning", "info"].index) or any(
        c["summary"].startswith(("Eligible", "Not eligible")) for c in answer["cards"]
    )


DRAFT_SCENARIOS = [
    n
    for n in SCENARIOS
    if '"draft_orders"'
    in (
        __import__("pathlib").Path(__file__).resolve().parents[2]
        / "synthetic_patients"
        / f"{n}.expected.json"
    ).read_text()
]


@pytest.mark.parametrize("name", DRAFT_SCENARIOS)
@pytest.mark.parametrize("hook", ["order-select", "order-sign"])
def test_scenario_order_hooks_cards(real, memory_storage, name, hook):
    answer, shown, expected, produced = run(real, memory_storage, name, hook)
    order_findings = {f for f in expected["must"] if not f.startswith(("monitoring.", "response.salt"))}
    assert order_findings & produced <= shown, sorted(shown)
    assert not set(expected["must_not"]) & shown
    if hook == "order-sign":
        for card in answer["cards"]:
            if card["indicator"] == "critical":
                assert card.get("overrideReasons")
