"""dev.sh's install step, run for real against a fake .venv whose tools record their calls.

dev.sh is copied beside a stand-in pyproject.toml; `PYTHON` is a fake interpreter whose
`-m venv DIR` makes DIR/bin/{python,pip,aa-jak,ruff,mypy,pytest}, each a script that appends
its name and arguments to a log and succeeds (pip fails when FAKE_PIP_FAILS is set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_INSTALL = "pip install --quiet --disable-pip-version-check -e .[test]"

RECORDING_TOOL = """#!/usr/bin/env bash
echo "$(basename "$0")${*:+ $*}" >>"$CALLS"
if [ "$(basename "$0")" = pip ] && [ -n "${FAKE_PIP_FAILS:-}" ]; then exit 1; fi
"""

FAKE_PYTHON = """#!/usr/bin/env bash
# `python -m venv DIR`: a venv whose tools only record their calls.
echo "python $*" >>"$CALLS"
mkdir -p "$3/bin"
for tool in python pip aa-jak ruff mypy pytest; do
    cp "$RECORDING_TOOL" "$3/bin/$tool"
    chmod +x "$3/bin/$tool"
done
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    shutil.copy(ROOT / "dev.sh", work / "dev.sh")
    (work / "pyproject.toml").write_text('[project]\nname = "stand-in"\n')
    tool = tmp_path / "recording-tool"
    tool.write_text(RECORDING_TOOL)
    python = tmp_path / "fake-python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return work


def run(project: Path, *args: str, expect_code: int = 0, **env: str) -> list[str]:
    """Run `dev.sh ARGS` in `project`; returns the tool calls it made, one line each."""
    calls = project / "calls.log"
    calls.unlink(missing_ok=True)
    environment = {
        **os.environ,
        "PYTHON": str(project.parent / "fake-python"),
        "RECORDING_TOOL": str(project.parent / "recording-tool"),
        "CALLS": str(calls),
        **env,
    }
    completed = subprocess.run(
        ["bash", "dev.sh", *args], cwd=project, env=environment, capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == expect_code, completed.stderr
    return calls.read_text().splitlines() if calls.exists() else []


def change_pyproject(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('dependencies = ["requests"]\n')


def test_sandbox_on_a_new_venv_creates_it_installs_the_project_and_starts(project: Path) -> None:
    assert run(project, "sandbox", "--port", "9000") == [
        "python -m venv .venv",
        "pip install --quiet --upgrade pip",
        PROJECT_INSTALL,
        "aa-jak sandbox --port 9000",
    ]


def test_sandbox_does_not_call_pip_when_pyproject_is_unchanged_since_the_last_install(
    project: Path,
) -> None:
    """So it starts without a package index (offline, PIP_NO_INDEX=1) and without pip's delay."""
    run(project, "sandbox")
    assert run(project, "sandbox") == ["aa-jak sandbox"]


def test_sandbox_reinstalls_when_pyproject_changed_since_the_last_install(project: Path) -> None:
    run(project, "sandbox")
    change_pyproject(project)
    assert run(project, "sandbox") == [PROJECT_INSTALL, "aa-jak sandbox"]


def test_sandbox_installs_once_into_a_venv_made_before_install_stamps(project: Path) -> None:
    run(project, "sandbox")
    (project / ".venv" / ".aa-jak-installed").unlink()
    assert run(project, "sandbox") == [PROJECT_INSTALL, "aa-jak sandbox"]
    assert run(project, "sandbox") == ["aa-jak sandbox"]


def test_sandbox_retries_the_install_after_a_failed_one(project: Path) -> None:
    run(project, "sandbox")
    change_pyproject(project)
    assert run(project, "sandbox", expect_code=1, FAKE_PIP_FAILS="1") == [PROJECT_INSTALL]
    assert run(project, "sandbox") == [PROJECT_INSTALL, "aa-jak sandbox"]


def test_test_installs_the_project_every_time_then_runs_every_check(project: Path) -> None:
    run(project, "sandbox")
    assert run(project, "test", "-q") == [
        PROJECT_INSTALL,
        "ruff check .",
        "mypy",
        "aa-jak check-knowledge",
        "pytest -q",
    ]
