"""What `aa-jak sandbox` prints once everything is up (sandbox/runner.py `banner`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sandbox.runner import SandboxPorts, banner

PORTS = SandboxPorts(fhir=18090, sandbox=18091, product=18000)


def test_banner_prints_the_feedback_report_command_that_reads_the_sandbox_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain `aa-jak feedback-report` reads the default database, not the sandbox's."""
    monkeypatch.chdir(tmp_path)
    config_file = (tmp_path / "var" / "sandbox" / "aa-jak.yaml").resolve()
    text = banner(PORTS, config_file, tmp_path / ".venv" / "bin" / "aa-jak")
    assert "AA_JAK_CONFIG_FILE=var/sandbox/aa-jak.yaml .venv/bin/aa-jak feedback-report\n" in text


def test_banner_gives_the_settings_file_in_full_when_it_is_outside_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config_file = (tmp_path / "var" / "sandbox" / "aa-jak.yaml").resolve()
    command = tmp_path / ".venv" / "bin" / "aa-jak"
    assert f"AA_JAK_CONFIG_FILE={config_file} {command} feedback-report\n" in banner(
        PORTS, config_file, command
    )


def test_banner_names_the_aa_jak_beside_the_running_python_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # elsewhere than the venv, so the path is given in full
    text = banner(PORTS, tmp_path / "aa-jak.yaml")
    assert f"{Path(sys.executable).parent / 'aa-jak'} feedback-report" in text
