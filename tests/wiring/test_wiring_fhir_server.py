"""sandbox/fhir_server.py and sandbox/loader.py against a real sekmet-fhir (own instance)."""

from __future__ import annotations

import json

import pytest
import requests
import yaml

from aa_jak import cli
from sandbox.fhir_server import FhirServerError, SekmetServer, free_port, port_in_use
from sandbox.loader import bundle_paths

pytestmark = pytest.mark.integration


@pytest.fixture
def own_sekmet(tmp_path):
    server = SekmetServer(free_port(), tmp_path / "fhir")
    try:
        server.start()
    except FhirServerError as exc:
        pytest.skip(f"sekmet-fhir could not start: {exc}")
    yield server
    server.stop()


def test_starts_on_loopback_with_the_simulator_off_and_stops(own_sekmet):
    metadata = requests.get(f"{own_sekmet.base_url}/metadata", timeout=5)
    assert metadata.status_code == 200
    assert metadata.json()["resourceType"] == "CapabilityStatement"
    settings = yaml.safe_load((own_sekmet.data_dir / "settings.yaml").read_text())
    assert settings["simulator"] == {"enabled": False}
    assert settings["host"] == "127.0.0.1"
    assert (own_sekmet.data_dir / "sekmet.db").exists()

    own_sekmet.stop()
    assert not own_sekmet.running
    assert not port_in_use(own_sekmet.port)
    own_sekmet.stop()  # idempotent


def test_refuses_a_port_in_use(own_sekmet, tmp_path):
    with pytest.raises(FhirServerError, match="in use"):
        SekmetServer(own_sekmet.port, tmp_path / "other").start()


def test_load_patients_command_posts_bundles_reanchored(own_sekmet, tmp_path, capsys):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1c1d8e-0c55-4f0e-8a43-2f4f3f7d1a10",
                "resource": {"resourceType": "Patient", "gender": "female", "birthDate": "1991-01-15"},
                "request": {"method": "POST", "url": "Patient"},
            }
        ],
    }
    (tmp_path / "one.json").write_text(json.dumps(bundle))
    (tmp_path / "one.expected.json").write_text("{}")  # a sidecar, not a bundle
    assert [p.name for p in bundle_paths(tmp_path)] == ["one.json"]

    assert cli.main(["load-patients", "--fhir", own_sekmet.base_url, "--dir", str(tmp_path)]) == 0
    assert "Loaded 1 bundles" in capsys.readouterr().out
    patients = requests.get(f"{own_sekmet.base_url}/Patient", timeout=5).json()
    assert patients["total"] == 1


def test_shared_fixture_loaded_every_synthetic_patient(fhir_base_url, loaded_patients):
    assert set(loaded_patients) == {p.stem for p in bundle_paths()}
    for ids in loaded_patients.values():
        for patient_id in ids:
            assert requests.get(f"{fhir_base_url}/Patient/{patient_id}", timeout=5).status_code == 200
