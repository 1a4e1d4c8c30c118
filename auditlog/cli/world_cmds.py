"""The sample world: `generate` writes one at any size, `demo` loads the shipped one and
tells its story, ending with the answer a newcomer should see at a glance."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from auditlog.cli.common import (
    DbOption,
    FormatOption,
    OutputFormat,
    app,
    console,
    investigation,
    print_json,
)
from auditlog.cli.display import Clock
from auditlog.cli.trace_render import charge_tree
from auditlog.report import formatting as fmt
from auditlog.textsafe import terminal

if TYPE_CHECKING:
    import polars as pl
    from rich.progress import Progress

DEMO_DB = Path("auditlog-demo.duckdb")


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the world to.")],
    customers: Annotated[
        int, typer.Option("--customers", "--scale", help="Customers in the world; rows grow with it.")
    ] = 3000,
    seed: Annotated[int, typer.Option(help="Same seed, same world, in every format.")] = 7,
    days: Annotated[int, typer.Option(help="Days of logs around the incident.")] = 45,
    formats: Annotated[
        str, typer.Option(help="mixed (like sample_logs/), jsonl, csv, parquet or json.")
    ] = "mixed",
    billing_tz: Annotated[
        str, typer.Option("--billing-tz", help="Zone of the billing export's local times.")
    ] = "Europe/Amsterdam",
    second_currency: Annotated[
        str | None, typer.Option("--second-currency",
                                 help="Bill 15% of the customers in this currency too (e.g. USD).")
    ] = None,
    plain_billing: Annotated[
        bool, typer.Option("--plain-billing", help="A tidy billing export: clocks agree, most "
                           "charges name their order, every partner logs its subscribe.")
    ] = False,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Write the seeded carrier world, incident included, with its ground truth.

    Load it with `auditlog demo --world DIR`, or file by file as its sources.json says.
    """
    from auditlog.world import generate_world
    from auditlog.world.plan import BillingShape

    shape = BillingShape.plain() if plain_billing else BillingShape()
    if second_currency is not None:
        shape = replace(shape, second_currency=second_currency.strip().upper())
    summary = generate_world(out, customers=customers, seed=seed, formats=formats, days=days,
                             billing_tz=billing_tz, shape=shape)
    if output is OutputFormat.json:
        print_json(summary.to_dict())
        return
    table = Table(title=f"World written to {out} (seed {seed})", title_justify="left")
    for header in ("file", "kind", "zone", "rows"):
        table.add_column(header, justify="right" if header == "rows" else "left")
    for f in summary.files:
        table.add_row(f.path, f.kind, f.tz, f"{f.rows:,}")
    console.print(table)
    facts = summary.incident
    console.print(terminal("Incident: change ", (facts.change_id, "bold"), ", account ",
                           (facts.service_account, "bold"),
                           f", {facts.anomalous_charges:,} anomalous charges; ground truth in "
                           f"{out / 'ground_truth'}"))


@app.command()
def demo(
    world: Annotated[
        Path | None,
        typer.Option("--world", help="A directory written by 'auditlog generate' "
                     "(default: the shipped sample incident)."),
    ] = None,
    db: DbOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Load the sample incident, run every rule pack, and show who and what is responsible.

    Uses ./auditlog-demo.duckdb unless --db says otherwise, so your own database is never
    touched; loading twice changes nothing.
    """
    from auditlog.ingest.world import sample_logs_dir

    db_path = db or DEMO_DB
    root = world or sample_logs_dir()
    show = output is OutputFormat.table
    if show:
        console.rule(terminal(("1. Load the logs", "bold")))
        console.print(f"From {root}: what each system exported, in its own format and zone.")
    with _progress(enabled=show) as bar:
        task = bar.add_task("loading", total=None)
        answer = investigation(db_path).demo(root, progress=lambda i, n, r: bar.update(
            task, total=n, completed=i + 1, description=Path(r.path).name))
    if output is OutputFormat.json:
        print_json(answer.as_dict())
        return
    _render_loaded(answer.loaded, root)
    console.rule(terminal(("2. Run the rule packs", "bold")))
    report = answer.run
    severities = ", ".join(f"{n:,} {s}" for s, n in report.by_severity.items() if n)
    console.print(f"{report.findings:,} findings ({severities}).")
    console.rule(terminal(("3. Follow one charge back", "bold")))
    if answer.example_trace is not None:
        _render_trace(answer.example_trace)
    console.rule(terminal(("4. The answer", "bold")))
    console.print(_answer(answer.summary, answer.changes, _privilege_step(answer.example_trace),
                          db_path))


def _progress(*, enabled: bool) -> Progress:
    # Here, not at the top: `auditlog --help` imports this module, and rich.progress
    # (with rich.live) is ~5 ms of its start (issue 14); only generate and demo draw it.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    # The description is a file name: text, not markup.
    return Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                    MofNCompleteColumn(),
                    console=console, transient=True, disable=not enabled)


def _render_loaded(results: pl.DataFrame, root: Path) -> None:
    table = Table(title_justify="left", show_edge=False)
    for header in ("file", "kind", "rows read", "loaded", "duplicates", "quarantined"):
        table.add_column(header, justify="left" if header in ("file", "kind") else "right")
    for r in results.iter_rows(named=True):
        path = Path(r["path"])
        name = path.relative_to(root) if path.is_relative_to(root) else r["path"]
        quarantined = terminal((f"{r['quarantined']:,}", "yellow") if r["quarantined"]
                               else "0")
        table.add_row(str(name), r["kind"], f"{r['rows_read']:,}", f"{r['loaded']:,}",
                      f"{r['duplicates']:,}", quarantined)
    console.print(table)
    if results["quarantined"].sum():
        console.print(terminal((("Rows that broke the contract were quarantined, not dropped; "
                                "'auditlog quarantine' lists them with their reasons."),
                                "yellow")))


def _render_trace(doc: dict[str, Any]) -> None:
    console.print(charge_tree(doc, Clock()))


def _privilege_step(trace: dict[str, Any] | None) -> dict[str, Any] | None:
    """The grant that allowed the example charge's action, with its actor as `subject`."""
    steps = [s for s in (trace or {}).get("chain", []) if s["step"] == "privilege"]
    return steps[0] if steps else None


def _answer(summary: dict[str, Any], changes: dict[str, dict[str, Any]],
            grant: dict[str, Any] | None, db_path: Path) -> Panel:
    if not summary["parties"]:
        return Panel(Text("No anomalous charges: every charge was authorized by its customer "
                          "or is a recurring fee."), title=Text("The answer"),
                     border_style="green")
    headline = terminal((f"{summary['charges']:,}", "bold"), " charges that no customer "
                        "authorized, on ", (f"{summary['customers']:,}", "bold"), " customers: ",
                        (fmt.moneys(summary["by_currency"]), "bold"), "; still to refund ",
                        ((f"{summary['outstanding_charges']:,} charges, "
                          f"{fmt.moneys(summary['by_currency'], 'outstanding_amount')}"),
                         "bold red"), ".")
    # Ids never wrap: the account and the change are the answer.
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("account", no_wrap=True)
    table.add_column("change", no_wrap=True)
    for header in ("charges", "customers", "amount", "to refund"):
        table.add_column(header, justify="right", no_wrap=True)
    for p in summary["parties"]:
        table.add_row(terminal((str(p["actor"]), "bold")),
                      terminal(p["change_id"] or ("none", "dim")),
                      f"{p['charges']:,}",
                      f"{p['customers']:,}",
                      # a party is in one currency: the summary splits it per currency
                      terminal(fmt.money(p["amount"], " ".join(p["currencies"]))),
                      f"{p['outstanding_charges']:,}")
    details: list[Text] = []
    for p in _one_per_party(summary["parties"]):
        details += _party_lines(p, changes.get(p["change_id"] or ""), grant)
    hint = terminal(((f"Explore with --db {db_path}: auditlog remediation --format csv, "
                     "auditlog trace change ID, auditlog findings --severity high"), "dim"))
    return Panel(Group(headline, "", table, "", *details, "", hint), title=Text("The answer"),
                 border_style="red")


def _one_per_party(parties: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (change, account), its earliest cause first: the summary splits a party
    per currency, but the story of what it did is told once."""
    first: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for p in parties:
        key = (p["change_id"], p["actor"])
        if key not in first or p["first_cause_time"] < first[key]["first_cause_time"]:
            first[key] = p
    return list(first.values())


def _party_lines(party: dict[str, Any], change: dict[str, Any] | None,
                 grant: dict[str, Any] | None) -> list[Text]:
    lines = []
    if change is None:
        lines.append(terminal((str(party["actor"]), "bold"), " acted on its own from "
                              f"{party['first_cause_time']}: no change explains it."))
    else:
        approval = change["approval"]
        approved = (terminal(("approved by its own implementer", "red"))
                    if approval["self_approved"] else
                    terminal(f"approved by {approval['approver']}") if approval["approved"] else
                    terminal(("never approved", "red")))
        window = change["window"]
        timing = (terminal(("outside its window", "red")) if window["started_within"] is False
                  else terminal("within its window" if window["started_within"]
                                else "with no window"))
        lines.append(terminal(
            (str(change["change_id"]), "bold"), f", {change.get('kind') or 'change'} of "
            f"{change['system']} by ", (str(change["implementer"]), "bold"), ", ", approved,
            f", started {change['started_at']} ", timing, "; from ",
            (str(party["first_cause_time"]), "bold"), " ", (str(party["actor"]), "bold"),
            " charged customers who never ordered."))
    if grant is not None and grant["subject"] == party["actor"]:
        ticket = terminal(f"ticket {grant['ticket']}" if grant["ticket"]
                          else ("no ticket", "red"))
        lines.append(terminal((str(party["actor"]), "bold"), " held ",
                              (str(grant["privilege"]), "bold"), ", granted by ",
                              (str(grant["granter"]), "bold"), f" at {grant['time']}, ", ticket,
                              "."))
    return lines
