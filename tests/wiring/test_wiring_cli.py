"""The `aa-jak` command line (in-process through `main(argv)`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import Path

import pytest

import clinical_core
from aa_jak import cli
from clinical_core.bundles import split_drafts

PATIENTS = Path(__file__).resolve().parents[2] / "synthetic_patients"


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["serve", "sandbox", "load-patients", "assess", "feedback-report", "db", "check-knowledge"]
)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: aa-jak " + command in capsys.readouterr().out


def test_bad_date_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["assess", str(tmp_path / "x.json"), "--as-of", "01/06/2026"])
    assert "not a date" in capsys.readouterr().err


def test_check_knowledge_prints_version_and_counts(capsys):
    assert cli.main(["check-knowledge"]) == 0
    out = capsys.readouterr().out
    version = clinical_core.load_knowledge().version
    assert f"version:      {version}" in out
    assert "value sets:" in out
    assert "codes:" in out


def test_check_knowledge_fails_with_the_loaders_error(tmp_path, capsys):
    broken = tmp_path / "protocol.yaml"
    broken.write_text("version: '1'\nno_such_key: 1\n", encoding="utf-8")
    assert cli.main(["check-knowledge", "--file", str(broken)]) == 1
    assert "no_such_key" in capsys.readouterr().err


class Sev(Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass
class FakeFinding:
    id: str
    severity: Sev
    summary: str


def test_findings_table_lists_most_severe_first():
    table = cli.findings_table(
        [
            FakeFinding("monitoring.lipids-due", Sev.INFO, "Lipids due at week 12"),
            FakeFinding("safety.platelets-low", Sev.CRITICAL, "Platelets 42 x10^9/L: interrupt ritlecitinib"),
            FakeFinding("baseline.tb-missing", Sev.WARNING, "No TB screening on record"),
        ]
    ).splitlines()
    assert table[0].split() == ["SEVERITY", "ID", "SUMMARY"]
    assert [line.split()[0] for line in table[2:]] == ["critical", "warning", "info"]
    assert table[2].split(None, 2)[1:] == [
        "safety.platelets-low",
        "Platelets 42 x10^9/L: interrupt ritlecitinib",
    ]


def test_jsonable_turns_dataclasses_enums_and_dates_into_json():
    @dataclass
    class Thing:
        when: date
        sev: Sev
        items: tuple[str, ...]

    assert cli._jsonable(Thing(date(2026, 1, 15), Sev.WARNING, ("a",))) == {
        "when": "2026-01-15",
        "sev": "warning",
        "items": ["a"],
    }


def _needs_core() -> None:
    if not all(hasattr(clinical_core, name) for name in ("build_record", "evaluate", "load_knowledge")):
        pytest.skip("clinical_core does not export build_record/evaluate yet")


def _a_patient_bundle(tmp_path: Path) -> Path:
    bundles = sorted(p for p in PATIENTS.glob("*.json") if not p.name.endswith(".expected.json"))
    if bundles:
        return bundles[0]
    path = tmp_path / "minimal.json"
    path.write_text(
        json.dumps(
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "fullUrl": "urn:uuid:0b6a2c57-7e0e-4a59-9a5e-6e7f5b0f1a01",
                        "resource": {
                            "resourceType": "Patient",
                            "gender": "female",
                            "birthDate": "1990-04-02",
                        },
                        "request": {"method": "POST", "url": "Patient"},
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    return path


def test_assess_prints_a_table_of_findings_and_the_status(tmp_path, capsys):
    _needs_core()
    from clinical_core.anchoring import ANCHOR_DATE

    bundle = _a_patient_bundle(tmp_path)
    assert cli.main(["assess", str(bundle), "--as-of", ANCHOR_DATE.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"as of {ANCHOR_DATE.isoformat()}" in out
    assert "Status:" in out
    assert "SEVERITY" in out or "No findings." in out


def test_assess_json_has_status_and_findings(tmp_path, capsys):
    _needs_core()
    from clinical_core.anchoring import ANCHOR_DATE

    bundle = _a_patient_bundle(tmp_path)
    assert cli.main(["assess", str(bundle), "--as-of", ANCHOR_DATE.isoformat(), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["as_of"] == ANCHOR_DATE.isoformat()
    assert "status" in document
    assert isinstance(document["findings"], list)
    for finding in document["findings"]:
        assert finding["severity"] in ("info", "warning", "critical")


def test_assess_reports_an_unreadable_file(tmp_path, capsys):
    _needs_core()
    path = tmp_path / "bad.json"
    path.write_text("{not json", encoding="utf-8")
    assert cli.main(["assess", str(path)]) == 1
    assert "bad.json" in capsys.readouterr().err


BUNDLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
            "resource": {"resourceType": "Patient"},
        },
        {
            "fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222",
            "resource": {
                "resourceType": "MedicationRequest",
                "status": "draft",
                "subject": {"reference": "urn:uuid:11111111-1111-4111-8111-111111111111"},
            },
        },
        {
            "fullUrl": "urn:uuid:33333333-3333-4333-8333-333333333333",
            "resource": {"resourceType": "MedicationRequest", "status": "active"},
        },
    ],
}


def test_split_drafts_takes_status_draft_and_resolves_fullurl_references():
    record, drafts = split_drafts(BUNDLE, None)
    assert [r["resourceType"] for r in record] == ["Patient", "MedicationRequest"]
    assert record[0]["id"] == "11111111-1111-4111-8111-111111111111"
    (draft,) = drafts
    assert draft["subject"] == {"reference": "Patient/11111111-1111-4111-8111-111111111111"}


def test_split_drafts_follows_the_sidecar_when_it_names_the_drafts():
    record, drafts = split_drafts(BUNDLE, ["urn:uuid:33333333-3333-4333-8333-333333333333"])
    assert [d["status"] for d in drafts] == ["active"]
    assert len(record) == 2
