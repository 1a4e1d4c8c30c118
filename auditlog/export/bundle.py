"""`auditlog export`: gather the findings, the refund list and the evidence rows from the
database, write them in each requested format into one directory, and finish with the
manifest (written last, so an incomplete export never verifies).

The directory is written beside the target under a hidden name and renamed into place
only when complete, so a kill at any moment leaves the last good export intact and
nothing half-written at --out; the next export clears what a killed one left."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import duckdb

from auditlog import store
from auditlog.analysis.caveats import NEEDS, answer_caveats
from auditlog.analysis.findings import FindingFilter, list_findings
from auditlog.analysis.progress import Steps, no_progress
from auditlog.analysis.refunds import refund_report
from auditlog.analysis.review_decisions import decisions_export
from auditlog.errors import InputError, UsageError
from auditlog.export.evidence import evidence_frames, input_files
from auditlog.export.manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    CoverageSummary,
    Manifest,
    Tool,
    document_time,
    file_entry,
    last_run,
    read_manifest,
    rule_packs,
    tool_version,
    write_manifest,
)
from auditlog.export.model import ExportData
from auditlog.export.ocsf import OCSF_FILE, OCSF_VERSION
from auditlog.export.staging import install, recover, staging_dir
from auditlog.export.writers import PER_TABLE, WORKBOOK, Writer, writer_for
from auditlog.ingest.coverage import coverage
from auditlog.pack import load_rules


def gather(con: duckdb.DuckDBPyConnection, rules_dirs: Sequence[Path] = ()) -> ExportData:
    """Everything an export writes, read from one connection in a total order."""
    refunds = refund_report(con)
    evidence = {f"evidence_{kind}": frame for kind, frame in evidence_frames(con).items()}
    findings, rules = list_findings(con, FindingFilter()), {r.id: r for r in load_rules(rules_dirs)}
    # The manifest names the digest of every pack behind a finding (rule_packs): a finding
    # of a rule from no pack given would be exported unverifiable.
    unknown = sorted(set(findings["rule_id"].to_list()) - set(rules))
    if unknown:
        raise UsageError(f"findings of rule {', '.join(unknown)} come from a rule pack that is "
                         "neither built in nor given; pass the {rules_dirs} they were run from, "
                         "so the manifest carries the pack's digest", arguments=("rules_dirs",))
    return ExportData(
        tables={"findings": findings,
                "remediation": refunds["charges"], "refund_customers": refunds["customers"],
                "refund_issues": refunds["refund_issues"], **evidence,
                # the access review's decisions, when a campaign was imported
                **decisions_export(con)},
        rules=rules,
        tool_version=tool_version(),
        document_time=document_time(con),
        evidence_tables=tuple(evidence),
    )


def export_bundle(db_path: Path | str | None, out_dir: Path, formats: Iterable[str],
                  rules_dirs: Sequence[Path] = (), progress: Steps = no_progress) -> Manifest:
    """Write the export into out_dir in every format; return the manifest. `progress`
    hears of the reading of the database, then of each file as it starts."""
    out_dir = out_dir.resolve()  # "--out ." has a name and a parent to write beside
    chosen = sorted(set(formats))
    writers = {name: writer_for(name) for name in chosen}  # unknown names fail first
    if not writers:
        raise UsageError("no format given; use {formats}", arguments=("formats",))
    progress(0, 1, "reading the database")
    con = store.connect(db_path, read_only=True)
    try:
        data = gather(con, rules_dirs)
        run = last_run(con)
        inputs = input_files(con, {k: data.tables[k] for k in data.evidence_tables})
        covered = coverage_summary(con, data)
    finally:
        con.close()
    recover(out_dir)
    check_target(out_dir, export_names(data))  # only once everything is read
    steps = write_steps(writers, data)
    with staging_dir(out_dir) as staging:
        files = []
        for done, (label, fmt, write, part) in enumerate(steps):
            progress(done + 1, len(steps) + 1, label)
            files += [file_entry(staging, name, fmt, rows) for name, rows in write(part, staging)]
        progress(len(steps) + 1, len(steps) + 1, MANIFEST)
        manifest = Manifest(
            manifest_version=MANIFEST_VERSION,
            tool=Tool("auditlog", data.tool_version),
            formats=tuple(chosen),
            ocsf_version=OCSF_VERSION if "ocsf" in writers else None,
            tables=data.rows(),
            run=run,
            rule_packs=tuple(rule_packs(rules_dirs)),
            inputs=tuple(inputs),
            coverage=covered,
            files=tuple(sorted(files, key=lambda f: f.path)),
        )
        write_manifest(staging, manifest)
        install(staging, out_dir)
    return manifest


def write_steps(writers: dict[str, Writer], data: ExportData
                ) -> list[tuple[str, str, Writer, ExportData]]:
    """(file, format, writer, data) per file to write: a table-per-file format once per
    table (with only that table), the others once."""
    single = {"xlsx": WORKBOOK, "ocsf": OCSF_FILE}
    steps = []
    for fmt, write in writers.items():
        if fmt in PER_TABLE:
            steps += [(f"{name}.{fmt}", fmt, write, replace(data, tables={name: frame}))
                      for name, frame in data.tables.items()]
        else:
            steps.append((single.get(fmt, fmt), fmt, write, data))
    return steps


def coverage_summary(con: duckdb.DuckDBPyConnection, data: ExportData) -> CoverageSummary:
    """What the exported answer cannot see: the kinds it needs that hold no rows, the gaps
    in them, and the caveats in words (the same sentences the CLI prints)."""
    cov = coverage(con).needed_by(NEEDS["export"])
    charges = data.tables["remediation"].select("charge_id", "charged_at").iter_rows()
    return CoverageSummary(tuple(cov.missing), tuple(cov.gaps),
                           tuple(answer_caveats(con, NEEDS["export"], charges=charges,
                                                answer="export")))


def export_names(data: ExportData) -> set[str]:
    """Every name an export of these tables may write, in any format."""
    return ({f"{table}.{ext}" for table in data.tables
             for ext in ("csv", "json", "ndjson", "parquet")} | {WORKBOOK, OCSF_FILE})


def check_target(out_dir: Path, names: set[str]) -> None:
    """out_dir may be replaced: absent, empty, an earlier export, or what an export killed
    before exports were staged left (export files without a readable manifest). Anything
    else holds files of no export, which are not ours to remove."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{{out}} {out_dir} is a file; give a directory", arguments=("out",))
    if not out_dir.exists():
        return
    present = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*")
               if not p.is_dir()}
    try:
        ours, what = {e["path"] for e in read_manifest(out_dir)["files"]}, "holds files of no export"
    except InputError:
        ours, what = names, "is not empty and holds no earlier export"
    strangers = sorted(present - ours - {MANIFEST})
    if strangers:
        raise UsageError(f"{{out}} {out_dir} {what} ({', '.join(strangers[:3])}); "
                         "give a new or empty directory", arguments=("out",))
