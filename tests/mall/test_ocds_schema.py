"""The vendored OCDS 1.1.5 schemas (Apache 2.0, with their licence) load and are valid schemas.

The e-mall's OCDS export of completed orders is validated against them in
``test_order_disclosure.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft4Validator

OCDS = Path(__file__).resolve().parents[1] / "data" / "ocds-1.1.5"


def test_vendored_ocds_schemas_are_valid_draft_4() -> None:
    assert (OCDS / "LICENSE").read_text().count("Apache License") >= 1
    for name in ("release-package-schema.json", "release-schema.json"):
        schema = json.loads((OCDS / name).read_text())
        Draft4Validator.check_schema(schema)
    package = json.loads((OCDS / "release-package-schema.json").read_text())
    assert set(package["required"]) >= {"releases", "version"}
