"""Ids spelled differently across logs (C0042 / c0042, JDOE / jdoe@corp.example,
CORP\\jdoe / jdoe, 0042 / 42): `run` says so on stderr, `status` repeats what the
latest run found (stderr, and `id_spellings` in its JSON), and nothing is merged: the
exact-match answers stay as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from auditlog.cli import app
from tests.conftest import write_rows

runner = CliRunner()


def action(i: int, actor: str, order: str | None, target: str, **more: Any) -> dict[str, Any]:
    return {"event_id": f"A{i}", "ts": f"2026-03-02T10:{i:02d}:00Z", "actor": actor,
            "action": "subscribe", "system": "crm", "target_account": target,
            "object": "PKG", "order_id": order, **more}


def charge(i: int, account: str, order: str | None, **more: Any) -> dict[str, Any]:
    return {"charge_id": f"CH{i}", "ts": f"2026-03-02T10:{i:02d}:30Z", "account": account,
            "product": "PKG", "amount": "9.99", "currency": "EUR", "order_id": order, **more}


def load(tmp_path: Path, actions: list[dict[str, Any]], charges: list[dict[str, Any]],
         **others: list[dict[str, Any]]) -> Path:
    db = tmp_path / "t.duckdb"
    files = [write_rows(tmp_path / "actions.jsonl", actions),
             write_rows(tmp_path / "charges.jsonl", charges)]
    files += [write_rows(tmp_path / f"{kind}.jsonl", rows) for kind, rows in others.items()]
    for f in files:
        kind = f.stem
        result = runner.invoke(app, ["ingest", str(f), "--kind", kind, "--db", str(db)])
        assert result.exit_code == 0, result.output
    return db


def test_order_ids_differing_in_case_are_told_by_run_and_status(tmp_path: Path) -> None:
    # Three orders placed by their customers; billing writes two of their ids upper-case.
    actions = [action(1, "c1", "o-1", "c1", actor_type="customer"),
               action(2, "c2", "o-2", "c2", actor_type="customer"),
               action(3, "c3", "o-3", "c3", actor_type="customer")]
    charges = [charge(1, "c1", "O-1"), charge(2, "c2", "O-2"), charge(3, "c3", "o-3")]
    # Billed days after the order: only the order id can pair them.
    for c in charges:
        c["ts"] = c["ts"].replace("03-02", "03-05")
    db = load(tmp_path, actions, charges)

    ran = runner.invoke(app, ["run", "--db", str(db), "--format", "json"])
    assert ran.exit_code == 0, ran.output
    json.loads(ran.stdout)  # stdout keeps its one JSON document
    told = [line for line in ran.stderr.splitlines() if "only when" in line]
    assert told == [(
        "warning: 2 charge(s) name an order id that matches an order in actions only when "
        "case is ignored (2 distinct id(s); e.g. 'O-1' in charges, 'o-1' in actions); ids "
        "are matched exactly, so they are traced as if their order had no action. If they "
        "are the same, write them alike in the source, or load it with a mapping whose "
        "[values.COLUMN] rewrites them (docs/mappings.md)")]

    status = runner.invoke(app, ["status", "--db", str(db), "--format", "json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["id_spellings"] == [
        {"join": "charge_order", "ids": 2, "rows": 2, "example": "O-1", "match": "o-1",
         "ignored": ["case"]}]
    assert "2 charge(s) name an order id" in status.stderr

    # Nothing was merged: the charges are still matched exactly.
    trace = runner.invoke(app, ["trace", "charge", "CH1", "--db", str(db), "--format", "json"])
    assert trace.exit_code == 0, trace.output
    assert json.loads(trace.stdout)["anomalous"] is True
    trace = runner.invoke(app, ["trace", "charge", "CH3", "--db", str(db), "--format", "json"])
    assert json.loads(trace.stdout)["anomalous"] is False


def test_accounts_in_other_spellings_name_what_had_to_be_ignored(tmp_path: Path) -> None:
    actions = [action(1, "jdoe@corp.example", "o-1", "c1", actor_type="human"),
               action(2, "CORP\\asmith", "o-2", "c2", actor_type="human"),
               action(3, "0042", "o-3", "c3", actor_type="customer")]
    charges = [charge(1, "c1", "o-1"), charge(2, "c2", "o-2"), charge(3, "42", "o-3")]
    privileges = [{"event_id": "P1", "ts": "2026-03-01T09:00:00Z", "actor": "admin",
                   "subject": "JDOE", "privilege": "crm.sell", "operation": "grant"},
                  {"event_id": "P2", "ts": "2026-03-01T09:00:00Z", "actor": "admin",
                   "subject": "asmith", "privilege": "crm.sell", "operation": "grant"},
                  # Another domain's jdoe is another account: not told.
                  {"event_id": "P3", "ts": "2026-03-01T09:00:00Z", "actor": "admin",
                   "subject": "LAB\\bcole", "privilege": "crm.sell", "operation": "grant"}]
    db = load(tmp_path, actions + [action(4, "CORP\\bcole", None, "c9")], charges,
              privileges=privileges)
    assert runner.invoke(app, ["run", "--db", str(db)]).exit_code == 0

    status = runner.invoke(app, ["status", "--db", str(db), "--format", "json"])
    assert status.exit_code == 0, status.output
    found = {f["join"]: f for f in json.loads(status.stdout)["id_spellings"]}
    assert found["actor_privileges"] == {
        "join": "actor_privileges", "ids": 2, "rows": 2, "example": "CORP\\asmith",
        "match": "asmith", "ignored": ["domain", "email", "case"]}
    # The customer 42 of billing acts as 0042: a number with leading zeros.
    assert found["charge_account"] == {
        "join": "charge_account", "ids": 1, "rows": 1, "example": "42", "match": "0042",
        "ignored": ["zeros"]}
    assert set(found) == {"actor_privileges", "charge_account"}
    assert ("2 action(s) have an actor that matches a subject of privileges only when case, "
            "a DOMAIN\\ prefix and an email domain are ignored") in " ".join(
                status.stderr.split())


def test_ids_that_match_exactly_are_not_told(tmp_path: Path) -> None:
    actions = [action(1, "c1", "o-1", "c1", actor_type="customer")]
    db = load(tmp_path, actions, [charge(1, "c1", "o-1"), charge(2, "c2", "o-9")])
    status = runner.invoke(app, ["status", "--db", str(db), "--format", "json"])
    assert json.loads(status.stdout)["id_spellings"] == []  # before any run
    ran = runner.invoke(app, ["run", "--db", str(db)])
    assert ran.exit_code == 0 and "only when" not in ran.stderr
    status = runner.invoke(app, ["status", "--db", str(db), "--format", "json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["id_spellings"] == []
    assert "only when" not in status.stderr
