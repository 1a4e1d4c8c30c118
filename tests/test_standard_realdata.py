"""Real CloudTrail and Kubernetes audit samples (tests/data/, with their licenses) through
the CLI: they load without loss, and `auditlog run` names the privilege escalation in them
by the source's own event id, without findings that make no sense for them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog.cli import app

DATA = Path(__file__).parent / "data"
STRATUS_ADMIN = DATA / "cloudtrail/stratus_aws.persistence.iam-create-admin-user.json"
FALCO = DATA / "k8s_audit/falco_k8s_audit_rbac_sample.jsonl"

runner = CliRunner()


def cli(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if "json" in args else result.stdout


def load_and_run(db: Path, *paths: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    files = cli("ingest", *map(str, paths), "--db", str(db), "--format", "json")
    cli("run", "--db", str(db))
    return files, cli("findings", "--db", str(db), "--format", "json")


def source_records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    return data["Records"] if isinstance(data, dict) else data


def test_stratus_admin_user_names_the_administrator_policy_attachment(tmp_path: Path) -> None:
    files, findings = load_and_run(tmp_path / "d.duckdb", STRATUS_ADMIN)
    (entry,) = files
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (3, 3, 0)
    (attach,) = [r for r in source_records(STRATUS_ADMIN) if r["eventName"] == "AttachUserPolicy"]
    assert attach["requestParameters"]["policyArn"].endswith("/AdministratorAccess")
    (key,) = [r for r in source_records(STRATUS_ADMIN) if r["eventName"] == "CreateAccessKey"]

    by_rule = {f["rule_id"]: f for f in findings if attach["eventID"] in f["evidence"]}
    admin = by_rule["admin_grant"]
    assert (admin["actor"], admin["account"]) == ("christophe", "malicious-iam-user")
    assert admin["evidence"] == [attach["eventID"]]
    # ... and the access key minted for the new admin right after.
    assert sorted(by_rule["grant_then_credential"]["evidence"]) == sorted(
        [attach["eventID"], key["eventID"]])


def test_falco_sample_names_the_cluster_admin_binding(tmp_path: Path) -> None:
    files, findings = load_and_run(tmp_path / "d.duckdb", FALCO)
    (entry,) = files
    assert entry["loaded"] + entry["duplicates"] + entry["quarantined"] == entry["rows_read"]
    assert entry["quarantined"] == 0
    (binding,) = [r for r in source_records(FALCO)
                  if r["objectRef"]["resource"] == "clusterrolebindings"
                  and r["verb"] == "create"
                  and r["requestObject"]["roleRef"]["name"] == "cluster-admin"]
    admin = [f for f in findings if f["rule_id"] == "admin_grant"]
    assert [f["evidence"] for f in admin] == [[binding["auditID"]]]
    assert admin[0]["actor"] == binding["user"]["username"]


def test_every_real_sample_loads_without_loss(tmp_path: Path) -> None:
    files = cli("ingest", str(DATA / "cloudtrail"), str(DATA / "k8s_audit"), "--db",
                str(tmp_path / "d.duckdb"), "--format", "json")
    assert len(files) == 5
    for entry in files:
        assert entry["loaded"] + entry["duplicates"] + entry["quarantined"] == entry["rows_read"]
        assert entry["quarantined"] == 0, entry
        assert entry["rows_read"] == len(source_records(Path(entry["path"])))


@pytest.fixture(scope="module")
def all_findings(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    db = tmp_path_factory.mktemp("real") / "d.duckdb"
    return load_and_run(db, DATA / "cloudtrail", DATA / "k8s_audit")[1]


@pytest.mark.parametrize("rule", ["self_grant", "logging_disabled", "action_after_revoke",
                                  "temporary_grant_not_revoked", "operator_many_customers",
                                  "stacked_subscription", "change_unapproved"])
def test_rules_stay_quiet_where_the_samples_give_them_nothing_to_say(
        all_findings: list[dict[str, Any]], rule: str) -> None:
    # Nobody grants themselves anything, turns logging off or touches billing in them.
    assert [f for f in all_findings if f["rule_id"] == rule] == []


def test_findings_on_the_samples_are_only_about_their_grants_and_roles(
        all_findings: list[dict[str, Any]]) -> None:
    findings = all_findings
    grants = {r["auditID"] for r in source_records(FALCO)
              if r["objectRef"]["resource"] == "clusterrolebindings" and r["verb"] == "create"}
    grants |= {r["eventID"] for r in source_records(STRATUS_ADMIN)
               if r["eventName"] == "AttachUserPolicy"}
    # The other findings name what the attacks did beside granting: the access key
    # minted for the new user, the wildcard cluster role and the edited system: role.
    others = {r["eventID"] for r in source_records(STRATUS_ADMIN)
              if r["eventName"] == "CreateAccessKey"}
    others |= {r["auditID"] for r in source_records(FALCO)
               if r["objectRef"]["resource"] == "clusterroles" and r["verb"] != "delete"
               and ('"*"' in json.dumps(r["requestObject"].get("rules"))
                    or r["objectRef"]["name"].startswith("system:"))}
    assert {f["rule_id"] for f in findings} == {
        "admin_grant", "grant_then_credential", "credential_for_other_account",
        "k8s_role_wildcard", "k8s_system_role_changed"}
    assert all(set(f["evidence"]) <= grants | others for f in findings)
    # Every admin-level grant and every other key event is cited; the binding of
    # system:basic-user (discovery rights every authenticated user has) is not.
    basic = {r["auditID"] for r in source_records(FALCO)
             if r["objectRef"]["resource"] == "clusterrolebindings" and r["verb"] == "create"
             and r["requestObject"]["roleRef"]["name"] == "system:basic-user"}
    assert {e for f in findings for e in f["evidence"]} == (grants | others) - basic
    # CloudTrail and Kubernetes have no place for an approval: no grant is "unapproved".
    assert [f for f in findings if f["rule_id"] == "grant_without_approval"] == []
