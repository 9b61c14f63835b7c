"""The package layers of DESIGN.md hold (import-linter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert "0 broken" in result.stdout


def test_pure_packages_import_alone() -> None:
    code = (
        "import sys, review_rules, pricing_monitor;"
        "bad = {'litestar', 'sqlalchemy', 'arq', 'mall'} & {m.split('.')[0] for m in sys.modules};"
        "sys.exit(1 if bad else 0)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, timeout=60).returncode
        == 0
    )
