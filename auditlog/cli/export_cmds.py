"""Commands for compliance: export the findings, refund list and evidence with a
manifest; verify that an export is intact."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    ProgressBar,
    app,
    console,
    err_console,
    investigation,
    print_json,
)

# The names of export/writers.py's WRITERS, written out so that parsing the command line
# does not load the exporters (tests/test_cli_commands.py checks they agree).
FORMATS = ("csv", "json", "ndjson", "parquet", "xlsx", "ocsf")
ExportFormatOption = Annotated[
    list[str] | None,
    typer.Option("--format", "-f", help=f"{'|'.join(FORMATS)} (repeatable; default csv)."),
]
ExportRulesDirOption = Annotated[
    list[Path] | None,
    typer.Option("--rules-dir", help="Extra rule pack directory the findings came from."),
]


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write (new or empty, "
                                      "or an earlier export, which is replaced).")],
    formats: ExportFormatOption = None,
    rules_dir: ExportRulesDirOption = None,
    db: DbOption = None,
) -> None:
    """Write findings, refund list and evidence rows with a manifest of digests."""
    with ProgressBar("export", enabled=True) as bar:
        manifest = investigation(db).export(out, formats or ["csv"], rules_dir or [],
                                            progress=bar.steps)
    if manifest["run"] is None:
        err_console.print("note: no 'auditlog run' yet, so the export holds no findings")
    tables = ", ".join(f"{rows} {name}" for name, rows in manifest["tables"].items())
    console.print(f"wrote {len(manifest['files'])} files and manifest.json to {out}: {tables}",
                  soft_wrap=True)
    digest = manifest["manifest_sha256"]
    console.print(f"manifest.json sha256 {digest}", soft_wrap=True)
    err_console.print("record this digest elsewhere: 'auditlog verify DIR --manifest-sha256 "
                      "DIGEST' then also fails when the manifest itself was edited",
                      soft_wrap=True)


@app.command("verify")
def verify_cmd(
    directory: Annotated[Path, typer.Argument(help="A directory written by 'auditlog export'.")],
    inputs: Annotated[bool, typer.Option(
        "--inputs", help="Also check the input files, where they were loaded from (or "
        "beside the export, when moved with it).")] = False,
    manifest_sha256: Annotated[str | None, typer.Option(
        "--manifest-sha256", metavar="HEX", help="The manifest's digest as 'export' printed "
        "it, recorded elsewhere: fail if manifest.json is not that one.")] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Recompute an export's digests; exit 1 unless every file is as the manifest says."""
    result = investigation(None).verify(directory, inputs=inputs,
                                        manifest_sha256=manifest_sha256)
    if output is OutputFormat.json:
        print_json(result.as_dict())
        if not result.intact:
            raise typer.Exit(1)
        return
    console.print(f"manifest.json sha256 {result.manifest_sha256}"
                  + (" (as recorded)" if manifest_sha256 and not result.manifest_changed
                     else ""), soft_wrap=True)
    if result.intact:
        what = " and its inputs" if inputs else ""
        console.print(f"{directory}: intact ({result.checked} files{what} match manifest.json)")
    else:
        for label, name in result.problems():
            console.print(f"{label}: {name}", highlight=False, markup=False)
        count = len(result.problems())
        console.print(f"{directory}: NOT intact ({count} problem{'s' if count != 1 else ''})")
    if not result.intact:
        raise typer.Exit(1)
