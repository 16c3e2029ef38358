"""What the clinician sees: banner, status, checklists, timeline, findings, charts, gating, print."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from smart_fakes import ISS, FakeEhr, Launcher, fake_evaluate, make_app, make_settings
from smart_servers import integration_knowledge

from clinical_core.findings import ChecklistItem
from smart_app.oauth import TokenResponse


def _banner_flag(value: object) -> bool:
    """`need_patient_banner` as the app reads it from a token response carrying `value`."""
    return TokenResponse.parse(
        {"access_token": "a", "token_type": "Bearer", "need_patient_banner": value}
    ).need_patient_banner


def test_dashboard_shows_banner_status_checklists_timeline_and_findings(launcher: Launcher, client):
    body = client.get(launcher.launch()).get_data(as_text=True)
    assert 'id="patient-name">Alice Alpha<' in body
    assert "36 y" in body and "female" in body and "MRN-A" in body
    assert "On therapy" in body and "Baricitinib, 2 mg 1x daily, week 10" in body
    assert 'id="eligibility"' in body and 'id="baseline"' in body and 'id="timeline"' in body
    assert 'data-finding-id="monitoring.cbc_week12.overdue"' in body
    assert "Order a CBC &lt;now&gt;." in body  # finding text is escaped
    assert "TB screening (IGRA or TST)" in body  # the "cannot determine: missing" list
    assert "As of 2026-04-20" in body


def test_refresh_stays_in_the_same_launch_context(launcher: Launcher, client):
    path = launcher.launch()
    body = client.get(path).get_data(as_text=True)
    assert re.search(rf'id="refresh" href="{re.escape(path)}"', body)


def test_patient_banner_hidden_when_need_patient_banner_is_false(launcher: Launcher, client, ehr):
    ehr.token_extra = {"need_patient_banner": False}
    body = client.get(launcher.launch()).get_data(as_text=True)
    assert 'class="banner"' not in body
    assert "Alice Alpha" in body  # still said, for screen readers


def test_patient_banner_shown_when_need_patient_banner_is_absent(launcher: Launcher, client, ehr):
    ehr.token_extra = {"need_patient_banner": None}
    assert 'class="banner"' in client.get(launcher.launch()).get_data(as_text=True)


def test_patient_banner_hidden_when_need_patient_banner_is_the_string_false(launcher: Launcher, client, ehr):
    """Some EHRs send the flag as a string."""
    ehr.token_extra = {"need_patient_banner": "false"}
    assert 'class="banner"' not in client.get(launcher.launch()).get_data(as_text=True)


@pytest.mark.parametrize("value", [False, "false", "False", " FALSE ", "fAlSe\n"])
def test_need_patient_banner_false_in_any_case_or_spacing_hides_the_banner(value):
    assert _banner_flag(value) is False


@pytest.mark.parametrize("value", [True, "true", "True", None, "", "no", "0", 0, "false-ish", ["false"]])
def test_need_patient_banner_other_than_false_shows_the_banner(value):
    """Only an explicit false hides which patient is on screen; an odd value errs on showing it."""
    assert _banner_flag(value) is True


def test_salt_chart_has_stable_point_ids_target_line_and_therapy_marker(launcher: Launcher, client):
    body = client.get(launcher.launch()).get_data(as_text=True)
    assert 'id="chart-salt" data-point-count="1"' in body
    assert body.count('id="salt-point-') == 1
    assert "response target (SALT ≤ 20)" in body
    assert "start: Baricitinib 2 mg" in body
    assert "<script" not in body.split('id="charts"')[1].split("</section>")[0]


def test_lab_chart_draws_the_drug_threshold_from_knowledge(launcher: Launcher, client):
    body = client.get(launcher.launch()).get_data(as_text=True)
    assert 'id="chart-alc" data-point-count="2"' in body
    assert "do not start below / interrupt below (Baricitinib): 500" in body


def test_pages_reference_no_external_scripts_or_styles(launcher: Launcher, client):
    body = client.get(launcher.launch()).get_data(as_text=True)
    for src in re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="([^"]+)"', body):
        assert src.startswith("/app/"), src
    assert "cdn" not in body.lower()


def test_therapy_options_with_evidence_and_durability_caveat(launcher: Launcher, client):
    body = client.get(launcher.launch()).get_data(as_text=True)
    assert 'id="therapy-options"' in body and "BRAVE-AA1: SALT &lt;= 20 at week 36." in body
    assert 'href="https://example.org/label"' in body
    assert 'id="durability"' in body and "Relapse after stopping." in body


def test_write_control_shown_with_observation_create_scope(launcher: Launcher, client):
    assert 'id="record-salt"' in client.get(launcher.launch()).get_data(as_text=True)


def test_write_control_hidden_without_write_scope_and_incomplete_data_noted(launcher: Launcher, client, ehr):
    ehr.grant_scope = "launch openid fhirUser patient/Patient.r patient/Observation.rs patient/Condition.rs"
    path = launcher.launch()
    body = client.get(path).get_data(as_text=True)
    assert 'id="record-salt"' not in body
    assert 'id="incomplete"' in body and "Data may be incomplete" in body
    assert "patient/Observation.c" in body
    assert client.get(path + "salt").status_code == 403
    assert client.post(path + "salt", data={}).status_code == 403


def test_v1_write_scope_counts_as_observation_create(launcher: Launcher, client, ehr):
    ehr.grant_scope = "launch patient/Patient.read patient/Observation.read patient/Observation.write"
    assert 'id="record-salt"' in client.get(launcher.launch()).get_data(as_text=True)


def test_resource_types_without_read_scope_are_not_queried(launcher: Launcher, client, ehr):
    ehr.grant_scope = "launch patient/Patient.r patient/Observation.rs patient/Observation.c"
    client.get(launcher.launch())
    assert not any("/Condition" in r.url or "/Immunization" in r.url for r in ehr.fhir_requests)


def test_print_view_for_prior_authorization(launcher: Launcher, client):
    path = launcher.launch()
    r = client.get(path + "print")
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    for heading in ("Diagnosis and duration", "Severity", "Prior therapies", "Eligibility and baseline"):
        assert heading in body
    assert "Alice Alpha" in body


def test_security_headers_on_pages(launcher: Launcher, client):
    r = client.get(launcher.launch())
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]


def test_unknown_intent_shows_the_default_view(launcher: Launcher, client, ehr):
    """SC#launch-intent (R193): an intent the app does not know changes nothing."""
    ehr.token_extra = {"intent": "reconcile-medications-xyz"}
    r = client.get(launcher.launch())
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'id="patient-name">Alice Alpha<' in body and "On therapy" in body
    assert 'id="eligibility"' in body and 'id="timeline"' in body
    assert "reconcile-medications-xyz" not in body


# --- Checklist lines resting on unverified facts ------------------------------------------------

VERIFY_MARKER = '<span class="verify">Verify against current prescribing information.</span>'


@pytest.fixture
def inferred_cyp2c9_line(stub_core: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake assessment, plus a CYP2C9 line inferred from a genotype (an unverified mapping).

    Replaces `stub_core`'s evaluate, so it has to run after it.
    """
    import smart_app.data as data

    line = ChecklistItem(
        "cyp2c9",
        "CYP2C9 metabolizer status",
        "met",
        "normal metabolizer (inferred from CYP2C9 *1/*1, activity score 2)",
        date(2026, 1, 5),
        verified=False,
    )

    def evaluate(record, as_of, knowledge):
        assessment = fake_evaluate(record, as_of, knowledge)
        return replace(assessment, eligibility=(*assessment.eligibility, line))

    monkeypatch.setattr(data, "evaluate", evaluate)


def _row(body: str, table_id: str, key: str) -> str:
    table = body.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    match = re.search(rf'<tr [^>]*data-key="{re.escape(key)}"[^>]*>(.*?)</tr>', table, flags=re.DOTALL)
    assert match is not None, f"no {key} row in #{table_id}"
    return match.group(0)


def test_dashboard_marks_the_checklist_line_resting_on_an_inferred_cyp2c9_status(
    inferred_cyp2c9_line: None, launcher: Launcher, client
):
    body = client.get(launcher.launch()).get_data(as_text=True)
    row = _row(body, "eligibility", "cyp2c9")
    assert 'data-verified="false"' in row and VERIFY_MARKER in row
    assert "inferred from CYP2C9 *1/*1" in row
    verified_row = _row(body, "eligibility", "severity")
    assert 'data-verified="true"' in verified_row and "Verify against" not in verified_row


def test_print_view_marks_the_checklist_line_resting_on_an_inferred_cyp2c9_status(
    inferred_cyp2c9_line: None, launcher: Launcher, client
):
    body = client.get(launcher.launch() + "print").get_data(as_text=True)
    assert VERIFY_MARKER in _row(body, "print-eligibility", "cyp2c9")
    assert "Verify against" not in _row(body, "print-eligibility", "severity")


# --- Timeline rows done by results recognised only by unverified codes ---------------------------


def _with_week4_done_by(monkeypatch: pytest.MonkeyPatch, unverified_code: str) -> None:
    """The fake assessment, its done week-4 CBC resting on a result recognised only by `unverified_code`."""
    import smart_app.data as data

    def evaluate(record, as_of, knowledge):
        assessment = fake_evaluate(record, as_of, knowledge)
        week4, *rest = assessment.timeline
        done_by = replace(week4, reference="Observation/l1", unverified_code=unverified_code)
        return replace(assessment, timeline=(done_by, *rest))

    monkeypatch.setattr(data, "evaluate", evaluate)


def test_dashboard_marks_the_timeline_row_done_by_a_result_with_an_unverified_code(
    stub_core: None, monkeypatch: pytest.MonkeyPatch, launcher: Launcher, client
):
    _with_week4_done_by(monkeypatch, "LOINC 26474-7")
    body = client.get(launcher.launch()).get_data(as_text=True)
    row = _row(body, "timeline", "cbc_week4")
    assert 'data-verified="false"' in row and 'class="pill pill-done">done<' in row
    assert (
        '<span class="verify">Verify code LOINC 26474-7: '
        "the result was recognised by a code not yet verified.</span>" in row
    )
    overdue_row = _row(body, "timeline", "cbc_week12")
    assert 'data-verified="true"' in overdue_row and "Verify code" not in overdue_row


def test_dashboard_escapes_the_unverified_code_on_a_timeline_row(
    stub_core: None, monkeypatch: pytest.MonkeyPatch, launcher: Launcher, client
):
    _with_week4_done_by(monkeypatch, 'LOINC <img src=x onerror="alert(1)">')
    row = _row(client.get(launcher.launch()).get_data(as_text=True), "timeline", "cbc_week4")
    assert "Verify code LOINC &lt;img src=x onerror=&#34;alert(1)&#34;&gt;:" in row and "<img" not in row


def _with_verdict(monkeypatch: pytest.MonkeyPatch, *, verified: bool) -> None:
    """The fake assessment as an eligible patient whose verdict is (un)verified."""
    import smart_app.data as data
    from clinical_core.findings import Category, Finding, Severity

    verdict = Finding(
        "eligibility.eligible", Category.AGENT, Severity.INFO, "Eligible", "detail", verified=verified
    )

    def evaluate(record, as_of, knowledge):
        assessment = fake_evaluate(record, as_of, knowledge)
        return replace(assessment, status="eligible", findings=(*assessment.findings, verdict))

    monkeypatch.setattr(data, "evaluate", evaluate)


def test_status_headline_says_verify_when_the_eligibility_verdict_is_unverified(
    stub_core: None, monkeypatch: pytest.MonkeyPatch, launcher: Launcher, client
):
    _with_verdict(monkeypatch, verified=False)
    body = client.get(launcher.launch()).get_data(as_text=True)
    status = body.split('id="status"', 1)[1].split("</section>", 1)[0]
    assert "Eligible" in status and "Verify against current prescribing information" in status


def test_status_headline_has_no_verify_note_when_the_verdict_is_verified(
    stub_core: None, monkeypatch: pytest.MonkeyPatch, launcher: Launcher, client
):
    _with_verdict(monkeypatch, verified=True)
    body = client.get(launcher.launch()).get_data(as_text=True)
    assert 'id="status-verify"' not in body


def test_print_view_names_the_diagnosis_with_its_codes_icd10_first(tmp_path, rsps):
    app = make_app(make_settings(tmp_path))
    app.extensions["smart_app"].knowledge_loader = integration_knowledge
    ehr = FakeEhr(rsps, ISS)
    coding = [
        {"system": "http://snomed.info/sct", "code": "68225006"},
        {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "L63.9"},
    ]
    ehr.stored = [
        {
            "resourceType": "Condition",
            "id": "cond-aa",
            "subject": {"reference": "Patient/pat-a"},
            "clinicalStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
                ]
            },
            "code": {"coding": coding},
            "onsetDateTime": "2024-01-01",
        }
    ]
    client = app.test_client()
    body = client.get(Launcher(client, ehr).launch() + "print").get_data(as_text=True)
    assert "Alopecia areata, unspecified (ICD-10-CM L63.9, SNOMED CT 68225006)" in body


def test_pages_name_an_icon_the_app_serves(launcher: Launcher, client):
    body = client.get(launcher.launch()).get_data(as_text=True)
    href = re.search(r'<link rel="icon" href="([^"]+)"', body)
    assert href is not None and client.get(href.group(1)).status_code == 200
