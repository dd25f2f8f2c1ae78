"""Our DGOJ files against the regulator's OWN published XSD, on demand only.

The regulator's file is not kept in this repository (REPORTS.md: we write our own XSD). This module runs
only when DGOJ_REGULATOR_XSD names a copy of it; scripts/check_dgoj_against_regulator_xsd.py sets that and
runs it. Every DGOJ type, a rectification and a record split into sub-records are produced from the seeded
world and validated against that schema.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from lxml import etree

from apps.reports.models import RunStatus

from .conftest import DAY1, run_report

REGULATOR_XSD = os.environ.get("DGOJ_REGULATOR_XSD", "")
pytestmark = pytest.mark.skipif(not REGULATOR_XSD, reason="set DGOJ_REGULATOR_XSD (scripts/check_dgoj_against_regulator_xsd.py)")


def _check(schema: etree.XMLSchema, path: str, label: str) -> None:
    document = etree.parse(path)
    ok = schema.validate(document)
    errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    print(f"{label}: {'VALID' if ok else 'INVALID'} against {REGULATOR_XSD}")
    for error in errors[:20]:
        print(f"    {error}")
    samples = os.environ.get("DGOJ_SAMPLES_DIR")
    if samples:
        Path(samples).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(samples) / f"{label}.xml")
    assert ok, (label, errors[:20])


def test_our_dgoj_files_are_valid_against_the_regulators_xsd(world, monkeypatch):
    schema = etree.XMLSchema(etree.parse(REGULATOR_XSD))
    for code, period in (("dgoj_rud_daily", DAY1.isoformat()), ("dgoj_cjd_daily", DAY1.isoformat()),
                         ("dgoj_rud_monthly", "2026-11"), ("dgoj_cjd_monthly", "2026-11")):
        run = run_report(code, period)
        assert run.status == RunStatus.DONE, (code, run.error)  # valid against our own schema first
        _check(schema, run.file.path, f"{code}_{period}")
    rectification = run_report("dgoj_cjd_daily", DAY1.isoformat())  # version 2 rectifies version 1
    assert rectification.supersedes_id and rectification.status == RunStatus.DONE
    _check(schema, rectification.file.path, f"dgoj_cjd_daily_{DAY1.isoformat()}_rectification")
    from apps.reports import dgoj

    monkeypatch.setattr(dgoj, "SUBRECORD_PLAYERS", 1)  # one player per sub-record: several Registro elements
    split = run_report("dgoj_rud_monthly", "2026-11")
    assert split.status == RunStatus.DONE, split.error
    assert len(etree.parse(split.file.path).getroot().findall(f"{{{dgoj.NS}}}Registro")) > 1
    _check(schema, split.file.path, "dgoj_rud_monthly_2026-11_subrecords")
