"""Every finding an export holds comes from a rule pack whose digest its manifest carries:
findings of a user's rules need the --rules-dir they were run from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditlog.analysis.findings import run_packs
from auditlog.cli.common import flag
from auditlog.engines.cases import build_fixture
from auditlog.errors import UsageError
from auditlog.export.bundle import export_bundle
from auditlog.pack import load_rules
from tests.test_rules import CHARGES_SQL, write_rule


def test_user_rule_findings_are_exported_only_with_their_packs_digest(tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    build_fixture(db, {"charges": [{"charge_id": "B", "ts": "2026-03-02T00:00:00Z",
                                    "account": "C2", "product": "P", "amount": "50.00"}]})
    write_rule(tmp_path, "big_charge", CHARGES_SQL, extra="[params]\nmin_amount = 10")
    pack = tmp_path / "custom"
    run_packs(db, load_rules([pack], builtin=False))
    with pytest.raises(UsageError) as info:
        export_bundle(db, tmp_path / "out", ["csv"])
    # The library names the argument (rules_dirs); the CLI its flag, as asserted.
    assert re.search(r"findings of rule big_charge .* --rules-dir", info.value.worded(flag))
    assert not (tmp_path / "out").exists()
    manifest = export_bundle(db, tmp_path / "out", ["csv"], [pack]).as_json()
    (entry,) = [p for p in manifest["rule_packs"] if p["source"] == str(pack)]
    assert entry["rules"] == ["big_charge"] and len(entry["sha256"]) == 64
