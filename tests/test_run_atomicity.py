"""kill -9 during `run` leaves findings, runs and triage exactly as after the previous
run, at every step: inside the stored-attribution refresh, between it and the merge
(while the rules run), and inside the merge; the next run is as if nothing happened.

A run writes twice: the attribution refresh (a cache of the logs, one transaction,
rules/stored.py) and then the findings, the run record and the evidence index (one
transaction, findings.run_packs). The child replaces one step by "do it, announce,
hang", so each kill lands at a known moment.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

import auditlog
from auditlog import store
from auditlog.ingest.world import sample_logs_dir
from auditlog.store.attribution import EVIDENCE_STATE, EVIDENCE_TABLE, STATE_TABLE, STORED_VIEWS
from tests.conftest import kill_when_marked

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import auditlog
    from auditlog.analysis import findings

    db, marker, moment = sys.argv[1:]

    def then_hang(real):
        def wrapped(*args, **kwargs):
            done = real(*args, **kwargs)
            Path(marker).write_text(moment)
            time.sleep(600)
            return done
        return wrapped

    step = {"refresh": "persist_attribution", "rules": "run_on_engine",
            "merge": "persist_evidence"}[moment]
    setattr(findings, step, then_hang(getattr(findings, step)))
    auditlog.open(db).run()
    """
)
# The attribution refresh commits before the rules run; after that the attribution is
# the one of the logs as they are, the findings still those of the previous run.
MOMENTS = ("refresh", "rules", "merge")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database after one run, a triaged finding, and then a change in the logs (some
    charges gone) so that the next run would change findings."""
    db = tmp_path_factory.mktemp("ran") / "ran.duckdb"
    with auditlog.open(db) as inv:
        inv.ingest_world(sample_logs_dir())
        inv.run()
        first = inv.findings()["finding_id"][0]
        inv.triage(first, "false_positive", note="checked by hand")
    con = store.connect(db)
    con.execute("DELETE FROM charges WHERE charge_id IN "
                "(SELECT charge_id FROM charges ORDER BY charge_id LIMIT 4000)")
    con.close()
    return db


def state(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What a run writes: findings with their triage, the runs, the evidence index."""
    con = store.connect(db, read_only=True)
    try:
        return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
                for table in ("findings", "runs", EVIDENCE_TABLE, EVIDENCE_STATE)}
    finally:
        con.close()


def attribution(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = store.connect(db, read_only=True)
    try:
        tables = [f"attribution_{name}" for name in STORED_VIEWS]
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in tables}
    finally:
        con.close()


def fingerprint(db: Path) -> str:
    con = store.connect(db, read_only=True)
    try:
        return str(con.execute(f"SELECT fingerprint FROM {STATE_TABLE}").fetchall()[0][0])
    finally:
        con.close()


def kill_run_at(moment: str, db: Path) -> None:
    marker = db.with_name(f"at-{moment}")
    kill_when_marked(CHILD, [str(db), str(marker), moment], marker, f"run (at '{moment}')",
                     patience=300)


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_killed_run_leaves_findings_and_triage_as_they_were(moment: str, ran: Path,
                                                              tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    shutil.copy(ran, db)
    before, stored_before = state(db), attribution(db)
    kill_run_at(moment, db)
    assert state(db) == before, f"killed at {moment}"
    if moment == "refresh":  # killed inside its transaction: the previous attribution
        assert attribution(db) == stored_before

    # The next run completes and agrees with a run that was never interrupted.
    clean = tmp_path / "clean.duckdb"
    shutil.copy(ran, clean)
    reports = [auditlog.open(path).run() for path in (db, clean)]
    assert fingerprint(db) == fingerprint(clean)
    assert (reports[0].new, reports[0].disappeared) == (reports[1].new, reports[1].disappeared)
    assert reports[0].disappeared  # the deleted charges' findings went: the run changed things
    assert triaged(db) == triaged(clean)
    assert ("false_positive", "checked by hand") in {row[2:] for row in triaged(db)}


def triaged(db: Path) -> list[tuple[Any, ...]]:
    """Each finding's presence and triage: what two runs of the same logs agree on
    (their times and run ids differ by nature)."""
    con = store.connect(db, read_only=True)
    try:
        return con.execute("SELECT finding_id, present, status, note FROM findings "
                           "ORDER BY finding_id").fetchall()
    finally:
        con.close()
