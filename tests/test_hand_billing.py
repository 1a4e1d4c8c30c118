"""Billing exports shaped unlike the generator's, through the command line: a small world
of orders by a service account after an upgrade, and charges files written the ways real
billing systems write them, each checked against an answer worked out on paper from
docs/attribution.md."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.errors import AuditlogError

runner = CliRunner()


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def ingest(db: str, path: Path, body: str, *args: str) -> None:
    path.write_text(body.strip() + "\n", encoding="utf-8")
    cli("ingest", str(path), "--kind", path.name.split(".")[0].split("-")[0], "--db", db,
        *args)


ACCOUNTS = """
account,account_type,owner
svc-order,service,alice
"""

CHANGES = """
change_id,system,kind,implementer,approver,started_at
CHG-UP,orders,upgrade,bob,carol,2026-04-01T22:00:00Z
"""


def order(eid: str, ts: str, actor: str, customer: str, order_id: str,
          action: str = "subscribe") -> str:
    return json.dumps({"event_id": eid, "ts": ts, "actor": actor, "action": action,
                       "system": "orders", "target_account": customer, "object": "ADDON",
                       "order_id": order_id})


# C1 subscribes itself before the upgrade; after it, the service account subscribes C2,
# C3, C5 and C6 without them.
ACTIONS = "\n".join([
    order("A1", "2026-03-30T10:00:00Z", "C1", "C1", "O-1"),
    order("A2", "2026-04-02T01:00:00Z", "svc-order", "C2", "O-2"),
    order("A3", "2026-04-02T03:00:00Z", "svc-order", "C3", "O-3"),
    order("A5", "2026-04-02T05:00:00Z", "svc-order", "C5", "O-5"),
    order("A6", "2026-04-02T06:00:00Z", "svc-order", "C6", "O-6"),
])


def world(tmp_path: Path) -> str:
    db = str(tmp_path / "w.duckdb")
    ingest(db, tmp_path / "accounts.csv", ACCOUNTS)
    ingest(db, tmp_path / "changes.csv", CHANGES)
    ingest(db, tmp_path / "actions.jsonl", ACTIONS)
    return db


def refund_state(db: str) -> dict[str, tuple[str, str, bool]]:
    rows = json.loads(cli("remediation", "--list", "charges", "--format", "json",
                          "--db", db))
    return {r["charge_id"]: (r["refunded_amount"], r["outstanding"], r["refunded"])
            for r in rows}


SALES = """
charge_id,ts,account,product,amount,currency,type,refund_of
Z1,2026-03-30T10:01:00Z,C1,ADDON,4.99,EUR,one_time,
Z2,2026-04-02T01:01:00Z,C2,ADDON,4.99,EUR,one_time,
Z3,2026-04-02T03:01:00Z,C3,ADDON,4.99,EUR,one_time,
Z5,2026-04-02T05:01:00Z,C5,ADDON,4.99,EUR,one_time,
Z6,2026-04-02T06:01:00Z,C6,ADDON,4.99,EUR,one_time,
"""

# Z2 is refunded in full; Z5's refund went to another customer, Z6's is in dollars.
REFUNDS = """
charge_id,ts,account,product,amount,currency,type,refund_of
R2,2026-04-05T09:00:00Z,C2,ADDON,4.99,EUR,refund,Z2
R5,2026-04-05T09:00:00Z,C55,ADDON,4.99,EUR,refund,Z5
R6,2026-04-05T09:00:00Z,C6,ADDON,4.99,USD,refund,Z6
"""

PAPER = {"Z2": ("4.99", "0.00", True), "Z3": ("0.00", "4.99", False),
         "Z5": ("0.00", "4.99", False), "Z6": ("0.00", "4.99", False)}


def test_a_refund_to_another_account_or_in_another_currency_leaves_its_charge_unrefunded(
        tmp_path: Path) -> None:
    db = world(tmp_path)
    ingest(db, tmp_path / "charges.csv", SALES + REFUNDS.strip().split("\n", 1)[1])
    cli("run", "--db", db)
    assert refund_state(db) == PAPER
    customers = json.loads(cli("remediation", "--list", "customers", "--format", "json",
                               "--db", db))
    assert {(c["account"], c["refunded"], c["outstanding"]) for c in customers} == {
        ("C2", "4.99", "0.00"), ("C3", "0.00", "4.99"), ("C5", "0.00", "4.99"),
        ("C6", "0.00", "4.99")}
    issues = json.loads(cli("remediation", "--list", "refund-issues", "--format", "json",
                            "--db", db))
    assert {(i["issue"], i["refund_id"]) for i in issues} == {
        ("account_mismatch", "R5"), ("currency_mismatch", "R6")}
    trace = cli("trace", "charge", "Z6", "--format", "json", "--db", db)
    assert json.loads(trace)["chain"][0]["refunded"] is False
    impact = json.loads(cli("trace", "change", "CHG-UP", "--format", "json",
                            "--db", db))["impact"]
    assert (impact["charges"], impact["unrefunded_charges"]) == (4, 3)


def test_refunds_loaded_after_the_run_or_before_their_charges_are_judged_alike(
        tmp_path: Path) -> None:
    # After a run, the refunds file is ingested on its own: the stored attribution is
    # refreshed for it. In a second database the refunds come first, then the charges.
    db = world(tmp_path)
    ingest(db, tmp_path / "charges-sales.csv", SALES)
    cli("run", "--db", db)
    ingest(db, tmp_path / "charges-refunds.csv", REFUNDS)
    assert refund_state(db) == PAPER
    cli("run", "--db", db)
    assert refund_state(db) == PAPER

    other = tmp_path / "other"
    other.mkdir()
    db = world(other)
    ingest(db, other / "charges-refunds.csv", REFUNDS)
    cli("run", "--db", db)
    ingest(db, other / "charges-sales.csv", SALES)
    assert refund_state(db) == PAPER


def shifted(rows: str, minutes: int) -> str:
    """The charges CSV with every ts moved by `minutes` (billing's clock off)."""
    from datetime import datetime, timedelta

    lines = rows.strip().splitlines()
    out = [lines[0]]
    for row in lines[1:]:
        fields = row.split(",")
        at = datetime.fromisoformat(fields[1]) + timedelta(minutes=minutes)
        fields[1] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(",".join(fields))
    return "\n".join(out)


def test_a_billing_clock_far_behind_the_order_systems_is_said_with_the_skew_that_pairs(
        tmp_path: Path) -> None:
    # No charge names its order, and billing's clock runs 40 minutes behind: each charge
    # is written 39 minutes before its order, beyond the model's 5 minutes. C1's own
    # order then pairs with nothing, and its charge looks anomalous; the answer says so.
    db = world(tmp_path)
    ingest(db, tmp_path / "charges.csv", shifted(SALES, -40))
    cli("run", "--db", db)
    result = runner.invoke(app, ["remediation", "--format", "json", "--db", db])
    assert result.exit_code == 0, result.output
    assert {r["charge_id"] for r in json.loads(result.stdout)} == {
        "Z1", "Z2", "Z3", "Z5", "Z6"}
    warning = " ".join(result.stderr.split())
    assert ("5 anomalous charges (Z1, Z2, Z3, Z5, Z6) were billed 39 minutes before an "
            "order of their customer and product that no charge bills") in warning
    assert "auditlog run --param clock_skew_minutes=40" in warning
    trace = runner.invoke(app, ["trace", "charge", "Z1", "--format", "json", "--db", db])
    assert "1 anomalous charge (Z1) was billed 39 minutes" in " ".join(trace.stderr.split())
    # The change's own answer says it too: paired, these charges may be its.
    change = runner.invoke(app, ["trace", "change", "CHG-UP", "--db", db])
    assert "clock_skew_minutes=40" in " ".join(change.stderr.split())

    # With the skew named, the answer is the one on paper, and the warning is gone.
    cli("run", "--param", "clock_skew_minutes=40", "--db", db)
    result = runner.invoke(app, ["remediation", "--format", "json", "--db", db])
    rows = {r["charge_id"]: (r["change_id"], r["actor"], r["cause_time"])
            for r in json.loads(result.stdout)}
    assert rows == {"Z2": ("CHG-UP", "svc-order", "2026-04-02T01:00:00Z"),
                    "Z3": ("CHG-UP", "svc-order", "2026-04-02T03:00:00Z"),
                    "Z5": ("CHG-UP", "svc-order", "2026-04-02T05:00:00Z"),
                    "Z6": ("CHG-UP", "svc-order", "2026-04-02T06:00:00Z")}
    assert "clock_skew_minutes" not in result.stderr


def test_a_charge_nothing_ordered_is_not_taken_for_a_clock_skew(tmp_path: Path) -> None:
    # Z4 bills C4, whose only order is C1-like but for another product, and Z7 bills C7
    # with no order at all: both anomalous, neither followed by an unbilled order of its
    # own product, so there is no skew to suggest.
    db = world(tmp_path)
    ingest(db, tmp_path / "actions-more.jsonl",
           order("A4", "2026-04-02T08:20:00Z", "C4", "C4", "O-4").replace("ADDON", "OTHER"))
    ingest(db, tmp_path / "charges.csv", SALES + "\n"
           "Z4,2026-04-02T08:00:00Z,C4,ADDON,4.99,EUR,one_time,\n"
           "Z7,2026-04-02T08:00:00Z,C7,ADDON,4.99,EUR,one_time,")
    cli("run", "--db", db)
    result = runner.invoke(app, ["remediation", "--format", "json", "--db", db])
    assert {"Z4", "Z7"} <= {r["charge_id"] for r in json.loads(result.stdout)}
    assert "clock_skew_minutes" not in result.stderr


def ledger_with_a_negative_refund(tmp_path: Path) -> Path:
    """A ledger-style export: no type column, Z2's refund written as its negative."""
    rows = SALES.replace(",type,refund_of", ",refund_of").replace(",one_time,", ",") + (
        "R2,2026-04-05T09:00:00Z,C2,ADDON,-4.99,EUR,Z2")
    path = tmp_path / "charges.csv"
    path.write_text(rows.strip() + "\n", encoding="utf-8")
    return path


def test_refunds_written_as_negative_amounts_are_quarantined_saying_how_to_write_them(
        tmp_path: Path) -> None:
    # A ledger-style export: no type column, a refund is the negative of its charge.
    db = world(tmp_path)
    path = ledger_with_a_negative_refund(tmp_path)
    done = json.loads(cli("ingest", str(path), "--db", db, "--format", "json"))
    assert [(f["rows_read"], f["loaded"], f["quarantined"]) for f in done] == [(6, 5, 1)]
    (held,) = json.loads(cli("quarantine", "--format", "json", "--db", db))
    assert (held["location"], held["reason"]) == (
        "line 7", ("negative amount in amount: -4.99 (a refund is written as a positive "
                   "amount with type refund and refund_of naming the charge it refunds)"))
    cli("run", "--db", db)
    assert refund_state(db)["Z2"] == ("0.00", "4.99", False)


def test_an_export_in_other_case_order_and_time_format_sent_twice_gives_the_paper_answer(
        tmp_path: Path) -> None:
    # The same sales and refunds as a vendor writes them: columns in other case and
    # order with a vendor column, epoch milliseconds three minutes behind, order ids on
    # one row only, ids with leading zeros, and the export sent twice with an overlap.
    from datetime import datetime, timedelta

    db = world(tmp_path)
    header = ("AMOUNT,Charge_ID,TS,Vendor_Note,ACCOUNT,Product,Currency,TYPE,"
              "Refund_Of,Order_ID")
    body = []
    for row in (SALES + REFUNDS.strip().split("\n", 1)[1]).strip().splitlines()[1:]:
        charge, ts, account, product, amount, currency, kind, refund_of = row.split(",")
        at = datetime.fromisoformat(ts) - timedelta(minutes=3)
        body.append(",".join([
            amount, "00" + charge, str(int(at.timestamp() * 1000)), '"late, resent"',
            account, product, currency, kind.upper(), "00" + refund_of if refund_of else "",
            "O-2" if charge == "Z2" else ""]))
    ingest(db, tmp_path / "charges-1.csv",
           "\n".join([header, *body[:6]]))
    ingest(db, tmp_path / "charges-2.csv",
           "\n".join([header, *body[3:]]))
    status = json.loads(cli("status", "--format", "json", "--db", db))
    files = {Path(f["path"]).name: (f["rows_read"], f["loaded"], f["duplicates"])
             for f in status["files"] if f["kind"] == "charges"}
    assert files == {"charges-1.csv": (6, 6, 0), "charges-2.csv": (5, 2, 3)}
    cli("run", "--db", db)
    assert {charge.removeprefix("00"): state
            for charge, state in refund_state(db).items()} == PAPER
    rows = json.loads(cli("remediation", "--format", "json", "--db", db))
    assert {r["charge_id"]: (r["change_id"], r["actor"]) for r in rows} == {
        f"00{c}": ("CHG-UP", "svc-order") for c in PAPER}


def test_an_export_without_a_type_column_reads_a_row_naming_refund_of_as_a_refund(
        tmp_path: Path) -> None:
    # Many billing exports have no type: a refund is the row that names the charge it
    # refunds. Read as one-time charges, the refunds would be anomalous charges of
    # their own, to be refunded in turn, and their charges would stay outstanding.
    db = world(tmp_path)
    rows = (SALES + REFUNDS.strip().split("\n", 1)[1]).replace(",type,", ",").replace(
        ",one_time,", ",").replace(",refund,", ",")
    ingest(db, tmp_path / "charges.csv", rows)
    cli("run", "--db", db)
    assert refund_state(db) == PAPER
    issues = json.loads(cli("remediation", "--list", "refund-issues", "--format", "json",
                            "--db", db))
    assert {(i["issue"], i["refund_id"]) for i in issues} == {
        ("account_mismatch", "R5"), ("currency_mismatch", "R6")}


def test_invoice_dates_without_a_time_of_day_are_said_at_ingest_and_pair_by_order_id(
        tmp_path: Path) -> None:
    # An export that writes the invoice date only: each charge lands at midnight, hours
    # before its order. The ingest says so; charges that name their order still pair.
    db = world(tmp_path)
    dated = "\n".join(
        row if n == 0 else ",".join([row.split(",")[0], row.split(",")[1][:10],
                                     *row.split(",")[2:]]) + f",O-{row.split(',')[0][1:]}"
        for n, row in enumerate(SALES.strip().replace("refund_of", "refund_of,order_id")
                                .splitlines()))
    path = tmp_path / "charges.csv"
    path.write_text(dated + "\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "--db", db, "--tz", "UTC"])
    assert result.exit_code == 0, result.output
    assert (f"note: 5 timestamp(s) in {path} are dates without a time of day, read as that "
            "day's midnight") in " ".join(result.stderr.split())
    cli("run", "--db", db)
    rows = json.loads(cli("remediation", "--format", "json", "--db", db))
    assert {r["charge_id"]: r["charged_at"] for r in rows} == {
        "Z2": "2026-04-02T00:00:00Z", "Z3": "2026-04-02T00:00:00Z",
        "Z5": "2026-04-02T00:00:00Z", "Z6": "2026-04-02T00:00:00Z"}


def test_tracing_a_refund_names_the_charge_it_refunds(tmp_path: Path) -> None:
    db = world(tmp_path)
    ingest(db, tmp_path / "charges.csv", SALES + REFUNDS.strip().split("\n", 1)[1])
    cli("run", "--db", db)
    result = runner.invoke(app, ["trace", "charge", "R2", "--db", db])
    assert isinstance(result.exception, AuditlogError)  # main() prints it, exit 2
    assert result.exception.exit_code == 2
    assert str(result.exception) == (
        "R2 is a refund, not a charge; refunds are not traced: trace the charge it "
        "refunds: auditlog trace charge Z2")


def test_types_spelled_as_vendors_spell_them_are_read_and_an_unknown_one_is_not(
        tmp_path: Path) -> None:
    # Zuora writes OneTime and Recurring, other exports one-time or "One Time": the same
    # words. A usage charge is no type auditlog knows: quarantined, not taken for one.
    db = world(tmp_path)
    rows = SALES.replace(",one_time,", ",OneTime,", 2).replace(",one_time,", ",one-time,", 1)
    rows += ("\nZ8,2026-04-01T00:00:00Z,C8,PLAN,19.00,EUR,Recurring,"
             "\nZ9,2026-04-01T00:00:00Z,C8,DATA,1.20,EUR,Usage,"
             "\nR2,2026-04-05T09:00:00Z,C2,ADDON,4.99,EUR,REFUND,Z2")
    path = tmp_path / "charges.csv"
    path.write_text(rows.strip() + "\n", encoding="utf-8")
    done = json.loads(cli("ingest", str(path), "--db", db, "--format", "json"))
    assert [(f["rows_read"], f["loaded"], f["quarantined"]) for f in done] == [(8, 7, 1)]
    (held,) = json.loads(cli("quarantine", "--format", "json", "--db", db))
    assert held["reason"] == "unknown value Usage for type (expected one_time, recurring, refund)"
    cli("run", "--db", db)
    assert refund_state(db) == {"Z2": ("4.99", "0.00", True), "Z3": ("0.00", "4.99", False),
                                "Z5": ("0.00", "4.99", False), "Z6": ("0.00", "4.99", False)}


def test_a_refund_list_read_after_ingest_says_rows_it_needs_were_quarantined(
        tmp_path: Path) -> None:
    # Ingest said so once; days later the refund list, the report and the export must
    # still say that a quarantined refund is not counted, or Z2 reads as simply owed.
    db = world(tmp_path)
    path = ledger_with_a_negative_refund(tmp_path)
    cli("ingest", str(path), "--db", db)
    cli("run", "--db", db)
    said = ("warning: 1 row of charges was quarantined at ingest (from 1 file) and is not in "
            "this answer: a charge among them is not judged, a refund among them is not "
            "counted (auditlog quarantine lists them).")
    for answer in (["remediation"], ["report", "accountability"]):
        result = runner.invoke(app, [*answer, "--db", db])
        assert result.exit_code == 0 and said in result.stderr.splitlines(), result.output
    # An answer that reads no charges says nothing of them.
    account = runner.invoke(app, ["trace", "account", "svc-order", "--db", db])
    assert account.exit_code == 0 and "quarantined" not in account.stderr


def test_a_reexport_with_other_extra_columns_repeats_its_charges_and_conflicts_where_they_differ(
        tmp_path: Path) -> None:
    # The same sales exported twice: the first with an invoice column, the second with a
    # payment method instead and with Z3's invoice given otherwise. The contract's
    # columns decide the identity: extra columns one export lacks make no conflict, a
    # value both give and that differs does (both versions kept), and forgetting the
    # first export alone would hand its rows to the second with the first's extras.
    db = world(tmp_path)
    lines = SALES.strip().splitlines()
    first = [lines[0] + ",invoice"] + [f"{row},in_{row.split(',')[0]}" for row in lines[1:]]
    second = [lines[0] + ",payment_method,invoice"] + [
        f"{row},card,{'in_other' if row.startswith('Z3,') else ''}" for row in lines[1:]]
    ingest(db, tmp_path / "charges-1.csv", "\n".join(first))
    path = tmp_path / "charges-2.csv"
    path.write_text("\n".join(second) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert (report["rows_read"], report["loaded"], report["duplicates"],
            report["quarantined"]) == (5, 0, 4, 1)
    assert (f"4 row(s) of {path} repeat rows already loaded from another export (or "
            "earlier in the file) with other extra columns") in " ".join(result.stderr.split())
    (conflict,) = json.loads(cli("quarantine", "--db", db, "-f", "json"))
    assert "conflict: charge_id Z3 is already loaded from" in conflict["reason"]
    assert "in_other" in conflict["raw"]
    forget = runner.invoke(app, ["forget", str(tmp_path / "charges-1.csv"), "--db", db])
    assert isinstance(forget.exception, AuditlogError)  # main() prints it, exit 2
    assert "cannot be forgotten alone: 5 row(s) of" in str(forget.exception)
    assert "with other extra columns" in str(forget.exception)
    cli("forget", str(tmp_path / "charges-1.csv"), str(path), "--db", db)
    (again,) = json.loads(cli("ingest", str(path), "--db", db, "--format", "json"))
    assert (again["loaded"], again["duplicates"], again["quarantined"]) == (5, 0, 0)


def test_charges_with_dates_only_and_no_order_are_said_to_pair_by_the_day_not_by_a_skew(
        tmp_path: Path) -> None:
    # An export of invoice dates without order ids, read in Paris: each charge lands at
    # its day's local midnight, 1 to 10 hours before its order. No clock runs behind,
    # so no clock_skew_minutes is suggested; the answer says the charges carry dates.
    db = world(tmp_path)
    dated = "\n".join(
        row if n == 0 else ",".join([row.split(",")[0], "2026-03-30"
                                     if row.startswith("Z1,") else "2026-04-02",
                                     *row.split(",")[2:]])
        for n, row in enumerate(SALES.strip().splitlines()))
    ingest(db, tmp_path / "charges.csv", dated, "--tz", "Europe/Paris")
    cli("run", "--db", db)
    result = runner.invoke(app, ["remediation", "--format", "json", "--db", db])
    assert result.exit_code == 0, result.output
    assert {r["charge_id"] for r in json.loads(result.stdout)} == {
        "Z1", "Z2", "Z3", "Z5", "Z6"}
    warning = " ".join(result.stderr.split())
    assert ("5 anomalous charges (Z1, Z2, Z3, Z5, Z6) carry a date only (no time of day, "
            "read as their day's midnight) and were billed about 3 to 12 hours before an "
            "order of their customer and product that no charge bills: their pairing with "
            "an order rests on the day") in warning
    assert "export the order_id with each charge, or its time of day" in warning
    assert "--param clock_skew_minutes" not in warning
    trace = runner.invoke(app, ["trace", "charge", "Z1", "--db", db])
    assert "1 anomalous charge (Z1) carries a date only" in " ".join(trace.stderr.split())


def test_one_charge_told_with_and_without_an_extra_key_is_one_charge_in_any_format(
        tmp_path: Path) -> None:
    # JSON Lines leave a key out where a row has no value for it: the same charge twice
    # in one file, once with a note and once without, is a duplicate, and a third time
    # with another note a conflict. A CSV export of it whose note is the text "5" (JSON's
    # 5) and that adds a column is a duplicate too.
    db = world(tmp_path)
    base = {"charge_id": "Z9", "ts": "2026-04-02T07:01:00Z", "account": "C9",
            "product": "ADDON", "amount": "4.99", "currency": "EUR"}
    rows = [{**base, "note": 5}, base, {**base, "note": 6}]
    path = tmp_path / "charges.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(path), "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)
    assert (report["loaded"], report["duplicates"], report["quarantined"]) == (1, 1, 1)
    assert f"1 row(s) of {path} repeat rows already loaded" in " ".join(result.stderr.split())
    (conflict,) = json.loads(cli("quarantine", "--db", db, "-f", "json"))
    assert conflict["reason"] == ("conflict: charge_id Z9 appears at line 1 of this file "
                                  "with different content")
    ingest(db, tmp_path / "charges.csv",
           "charge_id,ts,account,product,amount,currency,note,channel_code\n"
           "Z9,2026-04-02T07:01:00Z,C9,ADDON,4.990,EUR,5,web")
    status = json.loads(cli("status", "--format", "json", "--db", db))
    assert [(f["loaded"], f["duplicates"], f["quarantined"]) for f in status["files"]
            if f["path"].endswith("charges.csv")] == [(0, 1, 0)]
