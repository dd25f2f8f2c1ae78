"""Issue #11: rules come from `policy_for(player)`, never from `if player.country == "GB"` in a service.

Parsed from the source: any comparison in a services module against a two-letter upper-case literal
(or a collection of them) is a country branch and fails this test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

APPS = Path(__file__).resolve().parents[2]
COUNTRY = re.compile(r"^[A-Z]{2}$")


def _country_literals(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and COUNTRY.match(node.value):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [v for elt in node.elts for v in _country_literals(elt)]
    return []


def _service_files() -> list[Path]:
    return sorted({*APPS.glob("*/services.py"), *APPS.glob("*/services/*.py"), *APPS.glob("*/services_*.py")})


def country_branches(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                found += [(node.lineno, literal) for literal in _country_literals(operand)]
        elif isinstance(node, ast.Match):
            for case in node.cases:
                if isinstance(case.pattern, ast.MatchValue):
                    found += [(case.pattern.lineno, lit) for lit in _country_literals(case.pattern.value)]
    return found


def test_the_detector_catches_a_country_branch():
    assert country_branches('if player.country == "GB":\n    pass\n') == [(1, "GB")]
    assert country_branches('if country in ("ES", "PT"):\n    pass\n') == [(1, "ES"), (1, "PT")]
    assert country_branches('if player.currency == "GBP":\n    pass\n') == []


def test_no_service_branches_on_a_country_code():
    files = _service_files()
    assert len(files) >= 6  # the glob finds the services
    offenders = [
        f"{path.relative_to(APPS)}:{line} compares with {literal!r}"
        for path in files
        for line, literal in country_branches(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "read the rule from apps.markets.selectors.policy_for(player) instead"
