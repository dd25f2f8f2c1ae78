#!/usr/bin/env python3
"""Check our DGOJ RUD/CJD files against the regulator's own published XSD.

We validate every run against OUR schema (apps/reports/xsd/dgoj_monitoring_v3_3.xsd); the regulator's file
is not kept in this repository (design/REPORTS.md). This script is how we check that what we produce is
also valid against the regulator's schema, which is how a submission is judged.

    python scripts/check_dgoj_against_regulator_xsd.py /path/to/DGOJ_Monitorizacion_3.3.xsd
        produces fresh sample files (every DGOJ type, daily and monthly, a rectification and a record split
        into sub-records) from the reports test world in your TEST database (needs DATABASE_URL,
        TEST_DATABASE_NAME, REDIS_URL as for the tests) and validates each against the given XSD.
    python scripts/check_dgoj_against_regulator_xsd.py XSD --files a.xml b.xml
        validates files you already have (e.g. from `manage.py report_run`), no database needed.
    --samples DIR keeps the produced sample files.

Exit status 0 when every file is valid, 1 otherwise (the schema errors are printed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def validate_files(xsd: Path, files: list[Path]) -> int:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(xsd)))
    failed = 0
    for path in files:
        ok = schema.validate(etree.parse(str(path)))
        print(f"{path}: {'VALID' if ok else 'INVALID'}")
        for error in list(schema.error_log)[:20]:
            print(f"    line {error.line}: {error.message}")
        failed += not ok
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("xsd", type=Path, help="a copy of the regulator's DGOJ_Monitorizacion 3.3 XSD (not committed)")
    parser.add_argument("--files", nargs="+", type=Path, help="validate these files instead of producing samples")
    parser.add_argument("--samples", type=Path, help="keep the produced sample files here")
    args = parser.parse_args()
    xsd = args.xsd.resolve()
    if not xsd.is_file():
        parser.error(f"no such file: {xsd}")
    if args.files:
        return validate_files(xsd, args.files)
    env = {**os.environ, "DGOJ_REGULATOR_XSD": str(xsd)}
    if args.samples:
        env["DGOJ_SAMPLES_DIR"] = str(args.samples.resolve())
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-rs",
               "apps/reports/tests/test_regulator_schema.py"]
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
