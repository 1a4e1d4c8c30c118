"""A file whose records are of several formats: each record is read by the adapter its
own keys name (sources.stage_records), not the whole file by the one its keys' union
names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app
from auditlog.ingest import ingest_paths

DATA = Path(__file__).parent / "data"
ELASTIC = DATA / "k8s_mixed" / "elastic_test-audit.log"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute("SELECT location, reason FROM quarantine ORDER BY row_number").fetchall()


def test_the_elastic_sample_reads_each_record_in_its_own_format(
        con: duckdb.DuckDBPyConnection) -> None:
    (result,) = ingest_paths(con, [ELASTIC])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (5, 2, 0, 3)
    # Line 4 is a GKE entry, read by the GCP adapter (before: "Kubernetes audit event
    # without verb", read as a native event).
    gke = lines(ELASTIC)[3]
    assert con.execute(
        "SELECT event_id, actor, action, object, result FROM actions WHERE _row = 4"
    ).fetchall() == [(gke["insertId"], "system:gke-master-healthcheck", "get", "readyz",
                      "success")]
    assert con.execute("SELECT event_id, action, object FROM actions WHERE _row = 1"
                       ).fetchall() == [("abcde12345", "get pods",
                                         "namespaces/default/pods/my-pod")]
    # Lines 2, 3 and 5 (the AKS record, read as AKS now) are other requests under line 1's
    # auditID: conflicts, by the identity rule every source follows.
    found = quarantine(con)
    assert [location for location, _ in found] == ["line 2", "line 3", "line 5"]
    assert all(reason.startswith("conflict: event_id abcde12345") for _, reason in found)
    assert con.execute("SELECT row_number, source_format FROM source_records "
                       "ORDER BY row_number").fetchall() == [(1, "k8s"), (4, "gcp")]


def test_ingest_reports_the_mixed_sample_as_one_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(ELASTIC), "--db", str(tmp_path / "d.duckdb"),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{
        "path": str(ELASTIC), "kind": "actions",
        "sha256": "98a4ba6b0f343006de4599dd97d8e03ee2cf1eafa51e7d611f08ac790f5b63e7",
        "rows_read": 5, "loaded": 2, "duplicates": 0, "quarantined": 3}]


def test_each_format_of_a_mixed_file_is_mapped_by_its_adapter(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    k8s = lines(DATA / "k8s_audit" / "audit2rbac_demo.log.jsonl")[:2]
    (gke,) = lines(DATA / "gcp" / "elastic_k8s-nonmatching-resourcename.log")
    aks = json.loads((DATA / "azure" / "sysdig_aks_event.json").read_text())["records"][0]
    native = {"ts": "2026-03-01T10:00:00Z", "actor": "ops", "action": "login",
              "system": "crm"}
    stray = {"message": "not an event of any format"}
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*k8s, gke, aks, native, stray]),
                    encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (6, 5, 1)
    aks_event = json.loads(aks["properties"]["log"])
    assert con.execute(
        "SELECT _row, CASE WHEN _row < 5 THEN event_id END, actor, system, r.source_format "
        "FROM actions a "
        "LEFT JOIN source_records r ON r.file_sha256 = a._file AND r.row_number = a._row "
        "ORDER BY _row").fetchall() == [
        (1, k8s[0]["auditID"], "system:admin", "kubernetes", "k8s"),
        (2, k8s[1]["auditID"], "system:admin", "kubernetes", "k8s"),
        (3, gke["insertId"], "system:anonymous", "kubernetes", "gcp"),
        (4, aks_event["auditID"], aks_event["user"]["username"], "kubernetes", "azure"),
        # A row of the contract's own columns (its id a hash of it) is its own record.
        (5, None, "ops", "crm", None),
    ]
    reason = ("a record whose keys match neither a format of this file's other records "
              "(k8s, gcp, azure) nor the columns of a kind")
    assert quarantine(con) == [("line 6", reason)]
    assert result.kind == "actions"
    # Loading it again changes nothing.
    (again,) = ingest_paths(con, [path])
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 5, 1)


def test_a_record_no_adapter_claims_in_a_file_of_one_format_gets_that_formats_reason(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    k8s = lines(DATA / "k8s_audit" / "audit2rbac_demo.log.jsonl")[:2]
    del k8s[1]["verb"]  # no longer a Kubernetes event by its keys, nor a native row
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in k8s), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.loaded, result.quarantined) == (1, 1)
    assert quarantine(con) == [("line 2", "Kubernetes audit event without verb")]


def test_unreadable_lines_of_a_mixed_file_are_quarantined_once(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    k8s = lines(DATA / "k8s_audit" / "audit2rbac_demo.log.jsonl")[0]
    (gke,) = lines(DATA / "gcp" / "elastic_k8s-nonmatching-resourcename.log")
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(k8s) + "\n{not json\n" + json.dumps(gke) + "\n",
                    encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 2, 1)
    assert [location for location, _ in quarantine(con)] == ["line 2"]


SAMPLES = [DATA / "k8s_audit" / "falco_k8s_audit_rbac_sample.jsonl",
           DATA / "gcp" / "panther_gcp_audit.jsonl",
           DATA / "azure" / "panther_azure_role_assignment_privileged_or_elevated.jsonl",
           DATA / "okta" / "panther_okta_admin_role_assigned.jsonl",
           DATA / "ocsf" / "minimal_examples.jsonl"]


def file_rows(con: duckdb.DuckDBPyConnection, sha: str, offset: int = 0) -> list[tuple[Any, ...]]:
    """What one file gave, by record (`offset` added to its row numbers): its rows, its
    quarantined rows (not their reasons, which number lines) and its kept formats."""
    rows = con.execute(
        "SELECT 'actions', _row, event_id, ts, actor, action FROM actions WHERE _file = $f "
        "UNION ALL SELECT 'privileges', _row, event_id, ts, subject, privilege FROM privileges "
        "WHERE _file = $f UNION ALL SELECT 'quarantine', row_number, location, NULL, NULL, "
        "NULL FROM quarantine WHERE file_sha256 = $f UNION ALL SELECT 'record', row_number, "
        "source_format, NULL, NULL, NULL FROM source_records WHERE file_sha256 = $f",
        {"f": sha}).fetchall()
    return sorted((what, row + offset, *rest[1:]) if what == "quarantine"
                  else (what, row + offset, *rest) for what, row, *rest in rows)


def test_real_samples_of_five_formats_in_one_file_give_what_each_gives_alone(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    expected: list[tuple[Any, ...]] = []
    texts: list[str] = []
    for path in SAMPLES:
        (alone,) = ingest_paths(con, [path])
        expected += file_rows(con, alone.sha256, offset=len(texts))
        texts += path.read_text(encoding="utf-8").splitlines()
    mixed = tmp_path / "all.jsonl"
    mixed.write_text("\n".join(texts) + "\n", encoding="utf-8")
    fresh = store.connect(tmp_path / "fresh.duckdb")
    try:
        (together,) = ingest_paths(fresh, [mixed])
        assert file_rows(fresh, together.sha256) == sorted(expected)
    finally:
        fresh.close()
    assert {r[2] for r in expected if r[0] == "record"} == {"k8s", "gcp", "azure", "okta",
                                                            "ocsf"}
