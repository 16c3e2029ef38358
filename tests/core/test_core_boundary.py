"""The clinical core is pure: no web framework, no network, no database, no clock.

A rule that read the clock or the network could not be tested with a frozen day
and would give different answers to the two front ends (architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "clinical_core"
FORBIDDEN_MODULES = {
    "flask",
    "requests",
    "urllib",
    "http",
    "socket",
    "sqlalchemy",
    "cds_hooks",
    "smart_app",
    "storage",
    "fhir_access",
    "aa_jak",
    "sandbox",
    "subprocess",
    "threading",
    "time",
}
FORBIDDEN_CALLS = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today")}


def core_modules() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_nothing_outside_the_core(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_never_reads_the_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, (
                f"{path.name}:{node.lineno} reads the clock ({node.value.id}.{node.attr}); take `as_of`"
            )
