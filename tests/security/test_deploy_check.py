"""`manage.py check --deploy` is clean with production settings, and the check is live (it does catch a weakening).

tests/test_production_settings.py keeps the checklist green; here the same run is shown to fail when a
protection is turned off through the environment an operator controls, so a green run means something.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_production_settings import ROOT, _production_env


def _deploy_check(**overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=_production_env(**overrides), capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "warning"),
    [
        ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"DJANGO_SECRET_KEY": "short"}, "security.W009"),
    ],
)
def test_check_deploy_catches_a_weakened_setting(overrides, warning):
    result = _deploy_check(**overrides)
    assert result.returncode != 0 and warning in result.stdout + result.stderr
