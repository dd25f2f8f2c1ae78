"""ARCHITECTURE.md "Layers": an app imports only from apps in lower layers, imports inside functions included.

Parsed from the source (not imported), so a lazy import in a rarely-run branch is caught as surely as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APPS = Path(__file__).resolve().parent.parent / "apps"
LAYER = {
    "core": 1,
    "players": 2,
    "markets": 2,
    "ledger": 3,
    "kyc": 3,
    "limits": 4,
    "payments": 5,
    "games": 5,
    "bonus": 5,
    "aml": 6,
    "reports": 6,
    "backoffice": 7,
}


def _cross_app_imports() -> list[tuple[str, str, int, str]]:
    """(importing app, file, line, imported module) for every import of another app outside tests and migrations."""
    found = []
    for path in sorted(APPS.rglob("*.py")):
        parts = path.relative_to(APPS).parts
        if len(parts) < 2 or "tests" in parts or "migrations" in parts:
            continue
        app = parts[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                bits = module.split(".")
                if bits[0] == "apps" and len(bits) >= 2 and bits[1] != app:
                    found.append((app, str(path.relative_to(APPS)), node.lineno, module))
    return found


def test_every_app_is_placed_in_a_layer():
    apps = {p.name for p in APPS.iterdir() if (p / "apps.py").exists()}
    assert apps <= set(LAYER), f"add {sorted(apps - set(LAYER))} to ARCHITECTURE.md's layers and to this test"


def test_no_app_imports_from_its_own_layer_or_above():
    imports = _cross_app_imports()
    assert imports, "the parser found no cross-app import at all: it is broken"
    upward = [
        f"{file}:{line}: {app} (layer {LAYER[app]}) imports {module}"
        for app, file, line, module in imports
        if LAYER.get(module.split(".")[1], 99) >= LAYER[app]
    ]
    assert upward == []


@pytest.mark.parametrize("app", ["players"])
def test_players_imports_only_core(app):
    others = {module.split(".")[1] for importer, _, _, module in _cross_app_imports() if importer == app}
    assert others <= {"core"}
