"""After an ingest that followed the last run, a trace answers from the stored
attribution, refreshed by the ingest (issue 14), and says what a run over all the data
would say."""

from __future__ import annotations

import csv
from pathlib import Path

import auditlog
from auditlog import store
from auditlog.engines.sandbox import install_shared_views
from auditlog.ingest.world import sample_logs_dir
from auditlog.pack.units import shared_units
from auditlog.store.attribution import STORED_VIEWS, fresh_stored_views


def more_charges(path: Path) -> Path:
    """Copies of the sample's first one-time charges under new ids, a day later: new
    charges the model must pair and judge, and that can change who is blamed."""
    source = sample_logs_dir() / "billing" / "charges.csv"
    with source.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["type"] == "one_time"][:40]
    out = path / "more_charges.csv"
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for n, row in enumerate(rows):
            writer.writerow({**row, "charge_id": f"CHX{n:05d}", "invoice_no": f"INVX{n:05d}",
                             "ts": row["ts"].replace("2026-09-0", "2026-09-1", 1)})
    return out


def traces(db: Path, charges: list[str]) -> list[dict]:
    with auditlog.open(db) as inv:
        return [inv.trace_charge(c) for c in charges]


def test_a_trace_after_ingest_without_run_equals_one_after_a_run(tmp_path: Path) -> None:
    extra = more_charges(tmp_path)
    ingested_after = tmp_path / "after.duckdb"
    with auditlog.open(ingested_after) as inv:
        inv.ingest_world(sample_logs_dir())
        inv.run()
        inv.ingest(extra, kind="charges")
    ran_last = tmp_path / "ran.duckdb"
    with auditlog.open(ran_last) as inv:
        inv.ingest_world(sample_logs_dir())
        inv.ingest(extra, kind="charges")
        inv.run()
    # The ingest stored the attribution anew: a reader finds every stored view fresh.
    con = store.connect(ingested_after, read_only=True)
    try:
        assert fresh_stored_views(con, shared_units()) == set(STORED_VIEWS)
        install_shared_views(con)
        anomalous = [r[0] for r in con.execute(
            "SELECT charge_id FROM anomalous_charges ORDER BY charge_id").fetchall()]
    finally:
        con.close()
    picked = [c for c in anomalous if c.startswith("CHX")][:3] + anomalous[:3]
    picked += ["CHX00000", "CHX00039"]
    assert any(c.startswith("CHX") for c in anomalous)  # the new rows do count
    after, ran = traces(ingested_after, picked), traces(ran_last, picked)
    # The attribution (verdict, responsible, reason, chain) is the run's over all data;
    # the rules that name a charge are findings, which only a run computes.
    assert [{k: v for k, v in t.items() if k != "rules"} for t in after] == \
        [{k: v for k, v in t.items() if k != "rules"} for t in ran]
    assert [t["rules"] for t in after if not t["charge_id"].startswith("CHX")] == \
        [t["rules"] for t in ran if not t["charge_id"].startswith("CHX")]


def test_an_ingest_before_any_run_stores_no_attribution(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest(more_charges(tmp_path), kind="charges")
    con = store.connect(db, read_only=True)
    try:
        assert fresh_stored_views(con, shared_units()) == set()
    finally:
        con.close()
