"""Chromium: launch -> dashboard (right patient) -> SALT entry -> Observation in FHIR -> new chart point."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from smart_fakes import make_app, make_settings
from smart_servers import core_or_standin, integration_knowledge, serve

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@dataclass(frozen=True)
class Launched:
    patient_id: str
    smart: Any
    product: Any
    launch: str
    url: str  # where the EHR sends the browser: /app/launch?iss=...&launch=...


@contextmanager
def launched(
    fhir_base_url: str, loaded_patients, tmp_path, monkeypatch, *, authorize_post: bool = False
) -> Iterator[Launched]:
    """The dev SMART server and the product, both serving, with an EHR launch of a loaded patient."""
    from sandbox.fhir_server import free_port
    from sandbox.smart_server import create_smart_server

    patient_id = next(ids[0] for ids in loaded_patients.values() if ids)
    core_or_standin(monkeypatch)
    app_port, smart_port = free_port(), free_port()
    app_base, smart_base = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{smart_port}"
    smart = create_smart_server(
        fhir_base_url,
        smart_base,
        clients=[{"client_id": "aa-jak-ui", "redirect_uris": [f"{app_base}/app/callback"]}],
        authorize_post=authorize_post,
    )
    product = make_app(
        make_settings(
            tmp_path,
            public_base_url=app_base,
            frozen_today=None,
            smart_clients=[{"iss": f"{smart_base}/fhir", "client_id": "aa-jak-ui"}],
        )
    )
    product.config["TESTING"] = False
    product.extensions["smart_app"].knowledge_loader = integration_knowledge

    with serve(smart, smart_port), serve(product, app_port):
        launch = requests.post(f"{smart_base}/auth/launches", json={"patient": patient_id}, timeout=5).json()[
            "launch"
        ]
        url = f"{app_base}/app/launch?iss={smart_base}/fhir&launch={launch}"
        yield Launched(patient_id, smart, product, launch, url)


def test_launch_dashboard_salt_entry_and_new_chart_point(
    browser, fhir_base_url, loaded_patients, tmp_path, monkeypatch
):
    with launched(fhir_base_url, loaded_patients, tmp_path, monkeypatch) as run:
        patient = requests.get(f"{fhir_base_url}/Patient/{run.patient_id}", timeout=5).json()
        family = patient["name"][0].get("family", "")
        page = browser.new_page(viewport={"width": 800, "height": 900})
        page.goto(run.url)
        page.wait_for_url(re.compile(r".*/app/c/[^/]+/$"))
        assert family in page.locator("#patient-name").inner_text()
        before = page.locator(".salt-point").count()

        page.click("#record-salt")
        page.fill("#loss_vertex", "50")
        page.fill("#loss_posterior", "50")
        page.fill("#loss_right", "50")
        page.fill("#loss_left", "50")
        assert page.locator("#salt-preview").inner_text() == "50"  # the local JS preview
        form_id = page.locator("input[name=form_id]").get_attribute("value")
        page.click("#save-salt")
        page.wait_for_url(re.compile(r".*saved=created"))
        assert "201 Created" in page.locator("#save-result").inner_text()

        system = run.product.config["SETTINGS"].smart_salt_identifier_system
        found = requests.get(
            f"{fhir_base_url}/Observation", params={"identifier": f"{system}|{form_id}"}, timeout=5
        ).json()
        assert len(found.get("entry", [])) == 1
        assert page.locator(".salt-point").count() == before + 1


def test_authorize_post_form_submits_itself_and_lands_on_the_dashboard(
    browser, fhir_base_url, loaded_patients, tmp_path, monkeypatch
):
    """authorize-post in a real browser: our script submits the form, the CSP lets it reach the EHR."""
    with launched(fhir_base_url, loaded_patients, tmp_path, monkeypatch, authorize_post=True) as run:
        page = browser.new_page()
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(run.url)
        page.wait_for_url(re.compile(r".*/app/c/[^/]+/$"), timeout=15000)
        assert page.locator("#patient-name").count() == 1
        assert blocked == []
        log = run.smart.config["SMART_LOG"]
        assert [a.get("launch") for a in log["authorize"]] == [run.launch]
        assert log["authorize_method"] == ["POST"]


def _tab_to(page, selector: str, limit: int = 40) -> int:
    """Press Tab until `selector` has the focus; the number of presses (fails past `limit`)."""
    target = page.locator(selector)
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return presses
    raise AssertionError(f"{selector} never took the keyboard focus in {limit} Tab presses")


def test_salt_score_can_be_recorded_with_the_keyboard_alone(
    browser, fhir_base_url, loaded_patients, tmp_path, monkeypatch
):
    """Keyboard users (and EHRs that embed the app): skip link first, then Tab/Enter all the way."""
    with launched(fhir_base_url, loaded_patients, tmp_path, monkeypatch) as run:
        page = browser.new_page(viewport={"width": 800, "height": 900})
        page.goto(run.url)
        page.wait_for_url(re.compile(r".*/app/c/[^/]+/$"))

        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        _tab_to(page, "#record-salt")
        page.keyboard.press("Enter")
        page.wait_for_selector("#salt-form")

        for region in ("vertex", "posterior", "right", "left"):
            _tab_to(page, f"#loss_{region}")
            page.keyboard.type("40")
        assert page.locator("#salt-preview").inner_text() == "40"
        _tab_to(page, "#save-salt")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*saved=created"))
        assert "201 Created" in page.locator("#save-result").inner_text()
