"""`auditlog export`: gather the findings, the refund list and the evidence rows from the
database, write them in each requested format into one directory, and finish with the
manifest (written last, so an interrupted export never verifies)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

from auditlog import store
from auditlog.errors import UsageError
from auditlog.export.evidence import evidence_frames, input_files
from auditlog.export.manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    document_time,
    file_entry,
    last_run,
    read_manifest,
    rule_packs,
    tool_version,
    write_manifest,
)
from auditlog.export.model import ExportData
from auditlog.export.ocsf import OCSF_VERSION
from auditlog.export.writers import writer_for
from auditlog.findings import FindingFilter, list_findings
from auditlog.refunds import refund_report
from auditlog.rules import load_rules


def gather(con: duckdb.DuckDBPyConnection, rules_dirs: Sequence[Path] = ()) -> ExportData:
    """Everything an export writes, read from one connection in a total order."""
    refunds = refund_report(con)
    evidence = {f"evidence_{kind}": frame for kind, frame in evidence_frames(con).items()}
    return ExportData(
        tables={"findings": list_findings(con, FindingFilter()),
                "remediation": refunds["charges"], "refund_customers": refunds["customers"],
                "refund_issues": refunds["refund_issues"], **evidence},
        rules={r.id: r for r in load_rules(rules_dirs)},
        tool_version=tool_version(),
        document_time=document_time(con),
        evidence_tables=tuple(evidence),
    )


def export_bundle(db_path: Path | str | None, out_dir: Path, formats: Iterable[str],
                  rules_dirs: Sequence[Path] = ()) -> dict[str, Any]:
    """Write the export into out_dir in every format; return the manifest."""
    chosen = sorted(set(formats))
    writers = {name: writer_for(name) for name in chosen}  # unknown names fail first
    if not writers:
        raise UsageError("no format given; use --format")
    con = store.connect(db_path, read_only=True)
    try:
        data = gather(con, rules_dirs)
        run = last_run(con)
        inputs = input_files(con, {k: data.tables[k] for k in data.evidence_tables})
    finally:
        con.close()
    prepare(out_dir)  # only once everything is read: a failed read leaves out_dir alone
    files = [file_entry(out_dir, name, fmt, rows)
             for fmt, write in writers.items() for name, rows in write(data, out_dir)]
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "auditlog", "version": data.tool_version},
        "formats": chosen,
        "ocsf_version": OCSF_VERSION if "ocsf" in writers else None,
        "tables": data.rows(),
        "run": run,
        "rule_packs": rule_packs(rules_dirs),
        "inputs": inputs,
        "files": sorted(files, key=lambda f: f["path"]),
    }
    write_manifest(out_dir, manifest)
    return manifest


def prepare(out_dir: Path) -> None:
    """Make out_dir ready: new, empty, or holding a previous export (whose files go)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    if not present:
        return
    if MANIFEST not in present:
        raise UsageError(f"--out {out_dir} is not empty and holds no earlier export; "
                         "give a new or empty directory")
    previous = {entry["path"] for entry in read_manifest(out_dir)["files"]} | {MANIFEST}
    strangers = sorted(present - previous)
    if strangers:
        raise UsageError(f"--out {out_dir} holds files of no export ({', '.join(strangers[:3])})"
                         "; give a new or empty directory")
    for name in present:
        (out_dir / name).unlink()

