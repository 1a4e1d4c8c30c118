"""Compliance exports: every format written with a manifest whose digests are true,
verify catching one changed byte, byte-identical re-exports, no formula surviving into
CSV or XLSX, exact amounts, evidence rows per finding; and the refund list with its
check of every refund, on a hand-made fixture."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import sys
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.analysis.findings import run_packs
from auditlog.analysis.refunds import refund_report
from auditlog.cli import app, main
from auditlog.engines.cases import build_fixture
from auditlog.errors import InputError, UsageError
from auditlog.export.bundle import export_bundle
from auditlog.export.manifest import MANIFEST, rule_packs, verify
from auditlog.export.model import FIXED_DOCUMENT_TIME
from auditlog.export.safety import FORMULA_TRIGGERS, neutralize, safe_cell_text
from auditlog.export.workbook import MAX_CELL, write_workbook
from auditlog.export.writers import WORKBOOK, WRITERS
from auditlog.ingest.world import load_world
from auditlog.pack import load_rules
from auditlog.values import as_json
from auditlog.world.generate import generate_world
from tests.test_attribution import D1, INCIDENT, charge

ALL_FORMATS = sorted(WRITERS)


def world_database(root: Path, seed: int = 13) -> Path:
    """A generated world (not the sample's seed), loaded as its sources say, rules run."""
    world = generate_world(root / "world", customers=300, seed=seed, days=22, formats="mixed",
                           billing_tz="America/Chicago")
    db = root / "world.duckdb"
    con = store.connect(db)
    load_world(con, world.out_dir)
    con.close()
    run_packs(db, load_rules())
    return db


@pytest.fixture(scope="module")
def world_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_database(tmp_path_factory.mktemp("export-world"))


@pytest.fixture(scope="module")
def world_export(world_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "out"
    export_bundle(world_db, out, ALL_FORMATS)
    return out


def manifest_of(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / MANIFEST).read_text(encoding="utf-8")))


def data_rows(sheet: Any) -> int:
    """A sheet's rows below the header and above the blank row before its totals."""
    rows = 0
    for row in sheet.iter_rows(min_row=2, values_only=True):
        if all(value is None for value in row):
            break
        rows += 1
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_in(path: Path) -> dict[str, int]:
    """Rows per table of a written file, counted by reading it back in its format."""
    name = path.name
    if name.endswith(".xlsx"):
        book = openpyxl.load_workbook(path, read_only=True)
        return {sheet.title: data_rows(sheet) for sheet in book.worksheets}
    table = name.split(".")[0]
    if name.endswith(".csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            return {table: sum(1 for _ in csv.reader(handle)) - 1}
    if name.endswith(".parquet"):
        return {table: pq.read_metadata(path).num_rows}
    if name.endswith(".json"):
        return {table: len(json.loads(path.read_text(encoding="utf-8")))}
    return {table: len(path.read_text(encoding="utf-8").splitlines())}  # ndjson, ocsf jsonl


# --- every format, and a manifest that tells the truth --------------------------------

def test_every_format_is_written_and_the_manifest_is_true(world_export: Path) -> None:
    manifest = manifest_of(world_export)
    assert manifest["formats"] == ALL_FORMATS
    assert {f["format"] for f in manifest["files"]} == set(ALL_FORMATS)
    written = sorted(p.name for p in world_export.iterdir() if p.name != MANIFEST)
    assert written == sorted(f["path"] for f in manifest["files"])
    for entry in manifest["files"]:
        path = world_export / entry["path"]
        assert entry["sha256"] == sha256(path), entry["path"]
        assert entry["bytes"] == path.stat().st_size
        assert rows_in(path) == entry["tables"], entry["path"]
        assert entry["rows"] == sum(entry["tables"].values())
    tables = manifest["tables"]
    assert tables["findings"] > 0 and tables["remediation"] > 0
    assert tables["evidence_charges"] > 0 and tables["evidence_actions"] > 0


def test_manifest_names_versions_run_and_input_digests(world_db: Path,
                                                       world_export: Path) -> None:
    manifest = manifest_of(world_export)
    assert manifest["tool"]["name"] == "auditlog" and manifest["tool"]["version"]
    assert manifest["ocsf_version"] == "1.8.0"
    assert manifest["run"]["run_id"] == "R-000001"
    assert manifest["run"]["rules"] == sorted(r.id for r in load_rules())
    assert manifest["run"]["params"] == {}
    packs = {p["pack"]: p for p in manifest["rule_packs"]}
    assert {"billing", "change", "operator", "privilege", "shared"} <= set(packs)
    assert "stacked_subscription" in packs["billing"]["rules"]
    assert manifest["rule_packs"] == as_json(rule_packs())  # recomputable from the rule files
    # Every input file's digest is the SHA-256 of the file on disk, and the evidence
    # rows' source digests are all among them.
    inputs = manifest["inputs"]
    assert inputs and all(i["paths"] for i in inputs)
    for item in inputs:
        for path in item["paths"]:
            assert sha256(Path(path)) == item["sha256"]
    sources = set()
    for name in ("evidence_actions", "evidence_charges", "evidence_changes"):
        with (world_export / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
            sources |= {row["source_sha256"] for row in csv.DictReader(handle)}
    assert sources <= {i["sha256"] for i in inputs if i["evidence_rows"]}


def test_pack_digest_is_the_sha256_of_a_sha256sum_listing() -> None:
    from importlib.resources import files
    root = Path(str(files("auditlog.queries"))) / "change"
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.is_file() and p.suffix in (".sql", ".toml"))
    listing = "".join(f"{sha256(root / name)}  {name}\n" for name in names)
    (change,) = [p for p in as_json(rule_packs()) if p["pack"] == "change"]
    assert change["sha256"] == hashlib.sha256(listing.encode()).hexdigest()


# --- verify -----------------------------------------------------------------------------

def test_verify_catches_one_changed_byte_a_missing_and_an_extra_file(
        world_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_bundle(world_db, out, ["parquet", "csv"])
    assert verify(out).intact
    target = out / "findings.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    result = verify(out)
    assert (result.intact, result.changed, result.missing, result.extra) == (
        False, ["findings.parquet"], [], [])
    (out / "remediation.csv").unlink()
    (out / "notes.txt").write_text("added later")
    result = verify(out)
    assert (result.changed, result.missing, result.extra) == (
        ["findings.parquet"], ["remediation.csv"], ["notes.txt"])


def test_verify_cli_exit_codes(world_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    done = runner.invoke(app, ["export", "--db", str(world_db), "--out", str(out),
                               "-f", "csv", "-f", "ocsf"])
    assert done.exit_code == 0, done.output
    ok = runner.invoke(app, ["verify", str(out)])
    assert ok.exit_code == 0 and "intact" in ok.output
    with (out / "findings.csv").open("a", encoding="utf-8") as handle:
        handle.write("x")
    bad = runner.invoke(app, ["verify", str(out), "--format", "json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["changed"] == ["findings.csv"]
    with pytest.raises(InputError, match="no manifest.json"):
        verify(tmp_path)


def test_verify_inputs_recomputes_the_input_files(tmp_path: Path) -> None:
    world = generate_world(tmp_path / "world", customers=120, seed=31, days=21, formats="csv")
    db = tmp_path / "w.duckdb"
    con = store.connect(db)
    load_world(con, world.out_dir)
    con.close()
    out = tmp_path / "out"
    export_bundle(db, out, ["json"])
    assert verify(out, inputs=True).intact
    paths = sorted(p for i in manifest_of(out)["inputs"] for p in i["paths"])
    with Path(paths[0]).open("a", encoding="utf-8") as handle:
        handle.write("\n")
    Path(paths[1]).unlink()
    assert verify(out).intact  # the export itself is untouched
    result = verify(out, inputs=True)
    assert (result.intact, result.inputs_changed, result.inputs_missing) == (
        False, [paths[0]], [paths[1]])


def test_verify_refuses_a_manifest_pointing_outside(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text(json.dumps(
        {"files": [{"path": "../secret", "sha256": "0" * 64}]}))
    with pytest.raises(InputError, match="outside the export"):
        verify(tmp_path)


# --- determinism ------------------------------------------------------------------------

def test_exporting_twice_gives_byte_identical_files(world_db: Path, world_export: Path,
                                                    tmp_path: Path) -> None:
    again = tmp_path / "again"
    export_bundle(world_db, again, ALL_FORMATS)
    first = {p.name: p.read_bytes() for p in world_export.iterdir()}
    second = {p.name: p.read_bytes() for p in again.iterdir()}
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
    # The workbook's date is the last run's start, not the time of the export.
    run_day = manifest_of(world_export)["run"]["started_at"][:10]
    core = zipfile.ZipFile(world_export / WORKBOOK).read("docProps/core.xml").decode()
    assert f"<dcterms:created xsi:type=\"dcterms:W3CDTF\">{run_day}" in core


def test_reexport_replaces_an_earlier_export_but_not_other_files(world_db: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_bundle(world_db, out, ["json"])
    export_bundle(world_db, out, ["ndjson"])
    assert sorted(p.suffix for p in out.iterdir()) == [".json"] + [".ndjson"] * 8
    assert verify(out).intact
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        export_bundle(world_db, other, ["csv"])
    assert [p.name for p in other.iterdir()] == ["keep.txt"]
    with pytest.raises(UsageError, match="use one of: csv, json, ndjson, ocsf, parquet, xlsx"):
        export_bundle(world_db, tmp_path / "x", ["xls"])


def test_export_cli_unknown_format_is_one_sentence(world_db: Path, tmp_path: Path) -> None:
    argv = sys.argv
    sys.argv = ["auditlog", "export", "--db", str(world_db), "--out", str(tmp_path / "o"),
                "--format", "xls"]
    try:
        with pytest.raises(SystemExit) as stop:
            main()
    finally:
        sys.argv = argv
    assert stop.value.code == 2
    assert not (tmp_path / "o").exists()


# --- spreadsheet safety -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "safe"), [
    ("=1+2", "'=1+2"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("\tTAB", "'\tTAB"), ("\rCR", "'\rCR"), ("plain", "plain"), ("", ""),
    ("-4.99", "-4.99"), ("+12", "+12"), ("a=b", "a=b"),
])
def test_neutralize(text: str, safe: str) -> None:
    assert neutralize(text) == safe


def test_cells_keep_types_apart() -> None:
    assert safe_cell_text(["=a", "b"]) == "'=a;b"
    assert safe_cell_text(Decimal("-4.9900")) == "-4.99"
    assert safe_cell_text(True) == "true" and safe_cell_text(None) == ""


EVIL_ACCOUNT, EVIL_ACTOR, EVIL_PRODUCT = "=HYPERLINK(\"http://x\",\"y\")", "-op+bad", "@SUM(A1)"


@pytest.fixture(scope="module")
def evil_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made incident with an operator, a customer and a product whose names a
    spreadsheet would run as formulas, and a refund list to check."""
    tables = copy.deepcopy(INCIDENT)
    for row in tables["actions"]:
        if row["event_id"] == "E-op":
            row |= {"actor": EVIL_ACTOR, "target_account": EVIL_ACCOUNT, "object": EVIL_PRODUCT,
                    "session_id": "\tsess", "source_ip": "\r10.0.0.1"}
    for row in tables["charges"]:
        if row["charge_id"] == "CH-6":
            row |= {"account": EVIL_ACCOUNT, "product": EVIL_PRODUCT}
    tables["accounts"] = [a for a in tables["accounts"] if a["account"] != "op-bad"]
    tables["accounts"].append({"account": EVIL_ACTOR, "account_type": "human"})
    tables["charges"] += REFUNDS
    db = tmp_path_factory.mktemp("evil") / "evil.duckdb"
    build_fixture(db, tables)
    run_packs(db, load_rules())
    return db


def all_csv_cells(out: Path) -> list[str]:
    cells = []
    for path in sorted(out.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            cells += [cell for row in csv.reader(handle) for cell in row]
    return cells


def test_no_formula_survives_in_csv(evil_db: Path, tmp_path: Path) -> None:
    export_bundle(evil_db, tmp_path, ["csv"])
    cells = all_csv_cells(tmp_path)
    assert "'" + EVIL_ACCOUNT in cells and "'" + EVIL_ACTOR in cells
    assert "'" + EVIL_PRODUCT in cells and "'\tsess" in cells and "'\r10.0.0.1" in cells
    live = [c for c in cells if c.startswith(FORMULA_TRIGGERS) and neutralize(c) != c]
    assert live == []


def test_no_formula_survives_in_xlsx_and_amounts_stay_exact(evil_db: Path,
                                                            tmp_path: Path) -> None:
    export_bundle(evil_db, tmp_path, ["xlsx"])
    book = openpyxl.load_workbook(tmp_path / WORKBOOK)
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    assert neutralize(cell.value) == cell.value
    assert "'" + EVIL_ACCOUNT in texts and "'" + EVIL_ACTOR in texts
    remediation = book["remediation"]
    header = [c.value for c in remediation[1]]
    amounts = {r[0].value: r[header.index("amount")].value
               for r in remediation.iter_rows(min_row=2, max_row=1 + data_rows(remediation))}
    assert amounts == {"CH-1": 4.99, "CH-2": 4.99, "CH-3": 4.99, "CH-6": 9.9}
    assert all(Decimal(str(v)) in (Decimal("4.99"), Decimal("9.90")) for v in amounts.values())


def test_csv_and_parquet_amounts_are_exact_decimals(evil_db: Path, tmp_path: Path) -> None:
    export_bundle(evil_db, tmp_path, ["csv", "parquet"])
    with (tmp_path / "remediation.csv").open(newline="", encoding="utf-8") as handle:
        amounts = {r["charge_id"]: r["amount"] for r in csv.DictReader(handle)}
    assert amounts == {"CH-1": "4.99", "CH-2": "4.99", "CH-3": "4.99", "CH-6": "9.90"}
    table = pq.read_table(tmp_path / "remediation.parquet")
    assert str(table.schema.field("amount").type) == "decimal128(18, 4)"
    assert table.column("amount").to_pylist()[0] == Decimal("4.9900")


def test_evidence_rows_are_the_rows_each_finding_names(evil_db: Path, tmp_path: Path) -> None:
    export_bundle(evil_db, tmp_path, ["json"])
    findings = json.loads((tmp_path / "findings.json").read_text())
    (order,) = [f for f in findings if f["rule_id"] == "unauthorized_order_charge"
                and f["evidence"][0] == "CH-1"]
    evidence: dict[str, list[dict[str, Any]]] = {}
    for kind in ("actions", "privileges", "changes", "charges"):
        rows = json.loads((tmp_path / f"evidence_{kind}.json").read_text())
        evidence[kind] = [r for r in rows if r["finding_id"] == order["finding_id"]]
    assert [r["charge_id"] for r in evidence["charges"]] == ["CH-1"]
    assert [r["event_id"] for r in evidence["actions"]] == ["E-s1"]
    assert [r["change_id"] for r in evidence["changes"]] == ["CHG-up"]
    assert evidence["charges"][0]["amount"] == "4.99"
    assert set(order["evidence"]) == {"CH-1", "E-s1", "CHG-up"}


# --- the refund list and the refund check ---------------------------------------------------

REFUNDS = [
    # CH-1 (4.99, C1) is refunded, then refunded again.
    charge("RF-1b", "2026-03-16T10:00:00Z", "C1", "ADDON", "4.99", type="refund",
           refund_of="CH-1"),
    # CH-2 (4.99, C2) already has RF-2a of 2.00 in the incident; 3.50 more is too much.
    charge("RF-2b", "2026-03-16T11:00:00Z", "C2", "ADDON", "3.50", type="refund",
           refund_of="CH-2"),
    # CH-3 (4.99) refunded 20.00.
    charge("RF-3", "2026-03-16T12:00:00Z", "C2", "ADDON", "20.00", type="refund",
           refund_of="CH-3"),
    # CH-5 was authorized by the customer: no refund was owed.
    charge("RF-5", "2026-03-16T13:00:00Z", "C4", "TV", "9.90", type="refund", refund_of="CH-5"),
    # A refund of a charge that does not exist, and one that names no charge.
    charge("RF-ghost", "2026-03-16T14:00:00Z", "C7", "TV", "1.00", type="refund",
           refund_of="CH-404"),
    charge("RF-none", "2026-03-16T15:00:00Z", "C7", "TV", "1.00", type="refund"),
    # CH-6 refunded in full, but to another customer and in another currency.
    {**charge("RF-6", f"{D1}T20:00:00Z", "C9", "TV", "9.90", type="refund", refund_of="CH-6"),
     "currency": "USD"},
]


def test_refund_check_names_every_refund_that_matches_no_charge_needing_it(
        evil_db: Path) -> None:
    con = store.connect(evil_db, read_only=True)
    issues = refund_report(con)["refund_issues"]
    con.close()
    found = sorted((r["refund_id"], r["issue"]) for r in issues.iter_rows(named=True))
    assert found == [
        ("RF-1b", "double_refund"), ("RF-2b", "over_refund"),
        ("RF-3", "exceeds_charge"), ("RF-5", "not_anomalous"),
        ("RF-6", "account_mismatch"), ("RF-6", "currency_mismatch"),
        ("RF-ghost", "unknown_charge"), ("RF-none", "unknown_charge"),
    ]


def test_refund_lists_per_charge_and_per_customer(evil_db: Path) -> None:
    con = store.connect(evil_db, read_only=True)
    lists = refund_report(con)
    con.close()
    charges = {r["charge_id"]: r for r in lists["charges"].iter_rows(named=True)}
    assert {c: (str(r["refunded_amount"]), str(r["outstanding"]), r["refunded"])
            for c, r in charges.items()} == {
        "CH-1": ("9.9800", "0.0000", True), "CH-2": ("5.5000", "0.0000", True),
        "CH-3": ("20.0000", "0.0000", True),
        # RF-6 paid another customer in another currency: CH-6's customer is still owed.
        "CH-6": ("0.0000", "9.9000", False)}
    customers = {r["account"]: r for r in lists["customers"].iter_rows(named=True)}
    c2 = customers["C2"]
    assert (c2["charges"], str(c2["charged"]), str(c2["refunded"]), str(c2["outstanding"])) == (
        2, "9.9800", "25.5000", "0.0000")


def test_refund_outstanding_on_the_plain_incident(tmp_path: Path) -> None:
    db = tmp_path / "plain.duckdb"
    build_fixture(db, INCIDENT)
    con = store.connect(db, read_only=True)
    lists = refund_report(con)
    con.close()
    outstanding = {r["charge_id"]: str(r["outstanding"])
                   for r in lists["charges"].iter_rows(named=True)}
    assert outstanding == {"CH-1": "0.0000", "CH-2": "2.9900", "CH-3": "4.9900",
                           "CH-6": "9.9000"}
    customers = {r["account"]: str(r["outstanding"])
                 for r in lists["customers"].iter_rows(named=True)}
    assert customers == {"C1": "0.0000", "C2": "7.9800", "C5": "9.9000"}
    assert lists["refund_issues"].height == 0


def test_remediation_cli_lists_and_workbook(evil_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["remediation", "--db", str(evil_db)]
    issues = runner.invoke(app, [*base, "--list", "refund-issues", "--format", "json"])
    assert issues.exit_code == 0, issues.output
    assert {r["issue"] for r in json.loads(issues.output)} >= {"double_refund", "unknown_charge"}
    rows = runner.invoke(app, [*base, "--format", "csv"])
    assert rows.exit_code == 0
    assert rows.output.splitlines()[0] == ("charge_id,account,product,amount,currency,"
                                           "charged_at,refunded,refund_id,change_id,actor,"
                                           "cause_time,rules,refunded_amount,outstanding")
    assert f"'{EVIL_ACCOUNT}" in next(csv.reader([rows.output.splitlines()[-1]]))
    customers = runner.invoke(app, [*base, "--list", "customers", "--format", "json"])
    assert {r["account"] for r in json.loads(customers.output)} == {"C1", "C2", EVIL_ACCOUNT}
    missing_out = runner.invoke(app, [*base, "--format", "xlsx"])
    assert isinstance(missing_out.exception, UsageError)  # main() makes it exit 2
    book_path = tmp_path / "refunds.xlsx"
    wrote = runner.invoke(app, [*base, "--format", "xlsx", "--out", str(book_path)])
    assert wrote.exit_code == 0, wrote.output
    book = openpyxl.load_workbook(book_path)
    assert book.sheetnames == ["charges", "customers", "refund_issues"]
    assert data_rows(book["refund_issues"]) == 8
    assert not any(c.data_type == "f" for s in book.worksheets for r in s.iter_rows() for c in r)


def test_a_cell_too_long_for_a_spreadsheet_says_it_was_cut(tmp_path: Path) -> None:
    ids = [f"CH-{i:07d}" for i in range(4000)]
    frame = pl.DataFrame({"evidence": [ids]})
    write_workbook(tmp_path / "long.xlsx", {"findings": frame}, FIXED_DOCUMENT_TIME)
    cell = openpyxl.load_workbook(tmp_path / "long.xlsx")["findings"]["A2"].value
    assert len(cell) == MAX_CELL and cell.startswith("CH-0000000;CH-0000001")
    assert cell.endswith(f"[cut: {len(';'.join(ids))} characters]")
