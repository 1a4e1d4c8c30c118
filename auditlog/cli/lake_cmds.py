"""`auditlog lake`: the database's logs as a Parquet lake for other engines (Spark)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    investigation,
    print_json,
)

lake_app = typer.Typer(help="Write the logs as a Parquet lake (for --engine spark).",
                       no_args_is_help=True)
app.add_typer(lake_app, name="lake")


@lake_app.command("export")
def lake_export(
    out: Annotated[Path, typer.Option("--out", help="Directory of the new lake.")],
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Write every kind as Parquet, partitioned by UTC day (day=YYYY-MM-DD)."""
    rows = investigation(db).lake_export(out)
    if output is OutputFormat.json:
        print_json({"lake": str(out), "rows": rows})
    else:
        counts = ", ".join(f"{n:,} {kind}" for kind, n in rows.items())
        console.print(f"lake {out}: {counts}")
