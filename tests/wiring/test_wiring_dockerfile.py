"""The Dockerfile, checked statically (no Docker engine in CI)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def instructions(name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", DOCKERFILE, re.MULTILINE)]


def test_runs_as_a_non_root_user_on_python_311_slim():
    assert instructions("FROM") == ["python:3.11-slim"]
    (user,) = instructions("USER")
    assert user not in ("root", "0")


def test_serves_on_port_8000_with_gunicorn_through_the_cli():
    assert instructions("EXPOSE") == ["8000"]
    (cmd,) = instructions("CMD")
    assert json.loads(cmd) == ["aa-jak", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]  # noqa: S104


def test_healthcheck_probes_healthz_with_python():
    assert "HEALTHCHECK" in DOCKERFILE
    assert '"python", "-c"' in DOCKERFILE
    assert "http://127.0.0.1:8000/healthz" in DOCKERFILE


def test_installs_the_postgres_extra():
    assert 'pip install ".[postgres]"' in DOCKERFILE


def test_copies_every_product_package_and_not_the_sandbox():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {line.split()[0] for line in instructions("COPY")}
    assert packages - {"sandbox"} <= copied
    assert "sandbox" not in copied
    for name in copied:
        assert (ROOT / name).exists(), name


def test_the_finding_catalogue_cards_link_to_is_package_data_the_image_installs():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "findings.md" in pyproject["tool"]["setuptools"]["package-data"]["clinical_core"]
    assert (ROOT / "clinical_core" / "findings.md").is_file()
