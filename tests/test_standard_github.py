"""GitHub audit log → privileges (membership, team, repository and role changes) and
actions (everything else), on the real sample in tests/data/github and on records built
after GitHub's documented shapes for the events the sample lacks."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest import ingest_paths
from auditlog.ingest.sources import adapter_for
from auditlog.ingest.standard.github import GitHubAudit

DATA = Path(__file__).parent / "data"
SAMPLES = sorted(p for p in (DATA / "github").glob("*.jsonl") if not p.name.startswith("panther_"))
HEAD, SUMMER_2021, TAIL = (DATA / "github" / f"org_audit_{n}.jsonl"
                           for n in ("head", "2021", "tail"))
EVENTHUB = DATA / "github" / "enterprise_audit_eventhub.jsonl"

runner = CliRunner()


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def digest_id(line: str) -> str:
    return "github:" + hashlib.sha256(line.encode("utf-8")).hexdigest()


def ms(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


def load(con: duckdb.DuckDBPyConnection, path: Path, records: list[dict[str, Any]]) -> Any:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    return result


def privileges(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT event_id, actor, subject, privilege, operation, system FROM privileges "
        "ORDER BY ts, event_id").fetchall()


# --- The real sample ------------------------------------------------------------------


def test_every_sample_line_loads_once_as_one_kind(con: duckdb.DuckDBPyConnection) -> None:
    results = ingest_paths(con, SAMPLES)
    # Removals naming no role revoke each role the account may hold: 4 removals x 2 rows.
    expected_rows = {HEAD.name: 20, SUMMER_2021.name: 13 + 4, TAIL.name: 13, EVENTHUB.name: 3}
    for result in results:
        assert result.rows_read == expected_rows[Path(result.path).name]
        assert (result.loaded, result.duplicates, result.quarantined) == (result.rows_read, 0, 0)
    (actions,) = con.execute("SELECT count(*) FROM actions").fetchone() or ()
    (grants,) = con.execute("SELECT count(*) FROM privileges").fetchone() or ()
    assert (actions, grants) == (53 - 18, 18)
    # Loading the same files again changes nothing.
    again = ingest_paths(con, SAMPLES)
    assert all(r.loaded == 0 and r.duplicates == r.rows_read for r in again)


def test_the_head_sample_grants_org_and_team_membership(con: duckdb.DuckDBPyConnection) -> None:
    ingest_paths(con, [HEAD])
    text = lines(HEAD)
    add_member = [t for t in text if '"org.add_member"' in t]
    team_adds = [t for t in text if '"team.add_member"' in t]
    expected = [
        *[(t, "org:Example-Org:member") for t in add_member],
        (team_adds[0], "team:Example-Org/authors"),
        (team_adds[1], "team:Example-Org/admins"),
    ]
    expected.sort(key=lambda e: (json.loads(e[0])["created_at"], digest_id(e[0])))
    assert privileges(con) == [(digest_id(t), "github-actor", "github-user", privilege,
                                "grant", "github") for t, privilege in expected]
    (first,) = con.execute(
        "SELECT ts FROM privileges WHERE event_id = $id", {"id": digest_id(add_member[2])}
    ).fetchone() or ()
    assert first == ms(1583364248566)
    # An invitation grants nothing yet: an action on the invited account.
    assert con.execute(
        "SELECT actor, action, target_account, object, system, result FROM actions "
        "WHERE action = 'org.invite_member' ORDER BY ts").fetchall() == [
        ("github-actor", "org.invite_member", "github-user", "Example-Org", "github",
         "success")] * 3


def test_the_2021_sample_revokes_team_roles_and_grants_repository_access(
        con: duckdb.DuckDBPyConnection) -> None:
    ingest_paths(con, [SUMMER_2021])
    text = lines(SUMMER_2021)

    def row(i: int, privilege: str, operation: str, subject: str = "github-user",
            k: int = 1) -> tuple[Any, ...]:
        event_id = digest_id(text[i]) + (f"/{k}" if k > 1 else "")
        return (event_id, "github-actor", subject, privilege, operation, "github")

    assert privileges(con) == [
        row(1, "repo:Example-Org/repo-5678", "grant"),            # repo.add_member
        row(10, "team:Example-Org/authors", "revoke"),            # team.remove_member
        row(10, "team:Example-Org/authors:maintainer", "revoke", k=2),
        row(3, "team:Example-Org/authors", "revoke"),
        row(3, "team:Example-Org/authors:maintainer", "revoke", k=2),
        row(6, "team:Example-Org/admins", "revoke"),
        row(6, "team:Example-Org/admins:maintainer", "revoke", k=2),
        row(8, "team:Example-Org/admins", "revoke"),
        row(8, "team:Example-Org/admins:maintainer", "revoke", k=2),
        row(4, "team:Example-Org/admins", "grant"),               # team.add_member
        row(11, "repo:Example-Org/repo-5678", "grant", subject="Example-Org/authors"),
        row(5, "repo:Example-Org/repo-2021", "grant"),
    ]
    # Both rows of one removal come from its line.
    assert con.execute(
        "SELECT _row FROM privileges WHERE event_id LIKE $id || '%'",
        {"id": digest_id(text[10])}).fetchall() == [(11,), (11,)]
    # A permission update naming no permission cannot say what changed; repo.destroy is
    # an action on the repository.
    assert con.execute(
        "SELECT action, object, ts FROM actions WHERE action IN "
        "('team.update_repository_permission', 'repo.destroy') ORDER BY ts").fetchall() == [
        ("team.update_repository_permission", "Example-Org/repo-5678", ms(1629767631761)),
        ("repo.destroy", "Example-Org/repo-2021", ms(1629769916760)),
    ]


def test_the_streaming_sample_keeps_document_ids_bots_tokens_and_anonymous_clones(
        con: duckdb.DuckDBPyConnection) -> None:
    ingest_paths(con, [TAIL])
    assert privileges(con) == [("l-qlCkgECpbC74A-ELsoJA", "github-actor", "github_user",
                                "org:github-org:admin", "grant", "github")]
    (carries, permission, org_id) = con.execute(
        "SELECT extra ->> '$.source_carries_approval', extra ->> '$.permission', "
        "extra ->> '$.org_id' FROM privileges").fetchone() or ()
    assert (carries, permission, org_id) == ("false", "admin", "34151345")
    got = {r[0]: r[1:] for r in con.execute(
        "SELECT event_id, ts, actor, actor_type, action, target_account, object, channel, "
        "result, source_ip FROM actions").fetchall()}
    text = lines(TAIL)
    assert got[digest_id(text[0])] == (ms(1655872622832), "github-actions[bot]", "service",
                                       "git.clone", None, "redacted/redacted", "git",
                                       "success", None)
    # @timestamp is the event's time; created_at (a second later here) is not read then.
    assert got[digest_id(text[8])][0:3] == (ms(1674454040515), "userdeserve", None)
    assert got[digest_id(text[1])][3:7] == ("hook.create", None, "org/repo", "api")
    assert got[digest_id(text[4])][1:4] == ("anonymous", None, "git.clone")
    assert got["vZYwluB4DhnHDp0RMY-eWA=="] == (ms(1695226401262), "imays11", None,
                                                "git.clone", None, "onyxsectec/25", "git",
                                                "success", "81.2.69.144")
    assert got["f8c2d4a1-9e7b-4f3c-a5d6-2b8e1c0f9a47"][1:4] == (
        "github", "system", "secret_scanning_alert.create")
    # org.update_member naming no permission: an action on the member, token kept.
    assert got["c3d4e5f6-3333-4444-5555-cccccccccccc"] == (
        ms(1674454842000), "userdeserve", None, "org.update_member", "github_user",
        "trustfactors", "api", "success", None)
    (scopes, hook_id, login) = con.execute(
        "SELECT extra ->> '$.token_scopes', extra -> '$.fields' ->> '$.hook_id', "
        "extra ->> '$.actor_login' FROM actions WHERE event_id = $id",
        {"id": digest_id(text[1])}).fetchone() or ()
    assert (scopes, hook_id, login) == ("repo", "23122678", "userdeserve")


def test_the_event_hubs_sample_is_enterprise_actions(con: duckdb.DuckDBPyConnection) -> None:
    ingest_paths(con, [EVENTHUB])
    assert con.execute(
        "SELECT event_id, ts, actor, actor_type, action, object, system, "
        "extra ->> '$.business', extra -> '$.fields' ->> '$.audit_log_stream_sink' "
        "FROM actions ORDER BY ts").fetchall() == [
        ("FwEPs4fm8ICKZ7wvYtMfqQ", ms(1741611327672), "user-sample", None,
         "audit_log_streaming.update", "user-enterprise", "github", "user-enterprise",
         "Azure Event Hubs"),
        ("qIYVm7ePuByXj31zKDaFqw", ms(1741611463517), "user-sample", None,
         "repo.change_merge_setting", "user-todelte/private-repo", "github", "user-enterprise",
         None),
        ("Nm4EoecTsz6kAS-87bAEfA", ms(1741611463961), "user_actor", None, "repo.create",
         "user-delete/private-repo", "github", "enterprise-account", None),
    ]


def test_the_rules_name_the_org_admin_grant_and_nothing_unapprovable(tmp_path: Path) -> None:
    db = str(tmp_path / "d.duckdb")
    result = runner.invoke(app, ["ingest", *map(str, SAMPLES), "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["run", "--db", db]).exit_code == 0
    findings = json.loads(runner.invoke(app, ["findings", "--db", db, "--format", "json"]).stdout)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        by_rule.setdefault(f["rule_id"], []).append(f)
    (admin,) = by_rule["admin_grant"]
    assert (admin["actor"], admin["account"], admin["evidence"]) == (
        "github-actor", "github_user", ["l-qlCkgECpbC74A-ELsoJA"])
    # GitHub records no approvals, and nobody in the sample grants itself anything.
    assert "grant_without_approval" not in by_rule
    assert "self_grant" not in by_rule


# --- Events the sample lacks, in GitHub's shapes ----------------------------------------

BASE = {"actor": "Octo-Admin", "org": "acme", "@timestamp": 1700000000000}


def test_role_changes_grant_the_new_role_and_revoke_the_old(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    result = load(con, tmp_path / "audit.jsonl", [
        {**BASE, "_document_id": "d1", "action": "org.update_member", "user": "Bob",
         "permission": "admin", "old_permission": "read"},
        {**BASE, "_document_id": "d2", "action": "org.update_member", "user": "eve",
         "permission": "read"},
        {**BASE, "_document_id": "d3", "action": "repo.update_member", "user": "bob",
         "repo": "acme/web", "permission": "push", "old_permission": "pull"},
        {**BASE, "_document_id": "d4", "action": "team.update_repository_permission",
         "team": "ops", "repo": "acme/web", "permission": "admin"},
        {**BASE, "_document_id": "d5", "action": "org.remove_member", "user": "mallory",
         "permission": "admin"},
    ])
    assert (result.rows_read, result.loaded) == (8, 8)
    assert privileges(con) == [
        ("d1", "octo-admin", "bob", "org:acme:admin", "grant", "github"),
        ("d1/2", "octo-admin", "bob", "org:acme:member", "revoke", "github"),
        ("d2", "octo-admin", "eve", "org:acme:member", "grant", "github"),
        ("d2/2", "octo-admin", "eve", "org:acme:admin", "revoke", "github"),
        ("d3", "octo-admin", "bob", "repo:acme/web:write", "grant", "github"),
        ("d3/2", "octo-admin", "bob", "repo:acme/web:read", "revoke", "github"),
        ("d4", "octo-admin", "acme/ops", "repo:acme/web:admin", "grant", "github"),
        ("d5", "octo-admin", "mallory", "org:acme:admin", "revoke", "github"),
    ]


def test_enterprise_billing_and_maintainer_roles(tmp_path: Path,
                                                 con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "audit.jsonl", [
        {**BASE, "_document_id": "e1", "action": "business.add_admin", "business": "bigco",
         "user": "carol"},
        {**BASE, "_document_id": "e2", "action": "business.remove_admin", "business": "bigco",
         "user": "carol"},
        {**BASE, "_document_id": "e3", "action": "org.add_billing_manager", "user": "dan"},
        {**BASE, "_document_id": "e4", "action": "team.promote_maintainer",
         "team": "acme/core", "user": "erin"},
        {**BASE, "_document_id": "e5", "action": "repo.remove_member", "repo": "acme/api",
         "user": "frank"},
    ])
    rows = privileges(con)
    assert rows[:4] == [
        ("e1", "octo-admin", "carol", "business:bigco:admin", "grant", "github"),
        ("e2", "octo-admin", "carol", "business:bigco:admin", "revoke", "github"),
        ("e3", "octo-admin", "dan", "org:acme:billing_manager", "grant", "github"),
        ("e4", "octo-admin", "erin", "team:acme/core:maintainer", "grant", "github"),
    ]
    # A removal naming no level ends every level of access to the repository.
    assert [(r[0], r[3], r[4]) for r in rows[4:]] == [
        ("e5", "repo:acme/api", "revoke"),
        *[(f"e5/{k}", f"repo:acme/api:{lvl}", "revoke")
          for k, lvl in enumerate(["read", "triage", "write", "maintain", "admin"], start=2)]]


def test_security_relevant_events_are_actions(tmp_path: Path,
                                              con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "audit.jsonl", [
        {**BASE, "_document_id": f"a{i}", "action": name, "repo": "acme/web"}
        for i, name in enumerate(["protected_branch.destroy", "repo.destroy",
                                  "org.disable_two_factor_requirement", "hook.config_changed",
                                  "public_key.create", "personal_access_token.access_granted",
                                  "protected_branch.rejected_ref_update"])
    ] + [{**BASE, "_document_id": "u1", "action": "org.add_member"}])  # names no user
    assert con.execute("SELECT count(*) FROM privileges").fetchone() == (0,)
    assert con.execute(
        "SELECT event_id, action, result FROM actions ORDER BY event_id").fetchall() == [
        ("a0", "protected_branch.destroy", "success"), ("a1", "repo.destroy", "success"),
        ("a2", "org.disable_two_factor_requirement", "success"),
        ("a3", "hook.config_changed", "success"), ("a4", "public_key.create", "success"),
        ("a5", "personal_access_token.access_granted", "success"),
        ("a6", "protected_branch.rejected_ref_update", "failure"),
        ("u1", "org.add_member", "success"),
    ]


def test_bad_records_are_quarantined_with_their_reason(tmp_path: Path,
                                                       con: duckdb.DuckDBPyConnection) -> None:
    text = lines(TAIL)
    garbled = tmp_path / "garbled.jsonl"
    cut = text[3][: len(text[3]) // 2]  # the admin grant, cut mid-record
    no_actor = json.dumps({**BASE, "actor": None, "action": "org.add_member", "user": "x"})
    no_time = json.dumps({"actor": "a", "org": "acme", "action": "repo.create",
                          "created_at": None})
    garbled.write_text("\n".join([text[0], cut, no_actor, no_time, text[1]]) + "\n",
                       encoding="utf-8")
    (result,) = ingest_paths(con, [garbled])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (5, 2, 0, 3)
    reasons = dict(con.execute("SELECT location, reason FROM quarantine").fetchall())
    assert set(reasons) == {"line 2", "line 3", "line 4"}
    assert reasons["line 3"] == "GitHub audit record without actor"
    assert reasons["line 4"] == "GitHub audit record without @timestamp or created_at"
    assert "JSON" in reasons["line 2"], reasons["line 2"]


@pytest.mark.parametrize("path", [
    *sorted((DATA / "cloudtrail").glob("*.json*")), *sorted((DATA / "k8s_audit").glob("*.json*")),
    *sorted((DATA / "ocsf").glob("*.json*")),
])
def test_other_sources_records_are_not_claimed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        records = data.get("Records", [data]) if isinstance(data, dict) else data
    except json.JSONDecodeError:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    keys = {k for r in records if isinstance(r, dict) for k in r}
    assert not GitHubAudit().matches(keys)


def test_native_actions_and_github_records_are_told_apart() -> None:
    assert not GitHubAudit().matches({"event_id", "ts", "actor", "action", "system", "org",
                                      "created_at"})
    keys = {k for line in lines(HEAD) for k in json.loads(line)}
    assert adapter_for(keys) is not None and adapter_for(keys).name == "github"


# --- Panther's test events (tests/data/github/SOURCE.md) ---------------------------------


def panther_ingest(tmp_path: Path, rule: str) -> tuple[Path, dict[str, Any], str]:
    db = tmp_path / f"{rule}.duckdb"
    result = runner.invoke(app, ["ingest", str(DATA / f"github/panther_{rule}.jsonl"),
                                 "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    return db, entry, result.stderr


def test_panthers_at_sign_timestamp_is_the_time(tmp_path: Path) -> None:
    # Panther's tables allow no `@`: its exports write @timestamp as at_sign_timestamp,
    # as text without a zone (GitHub's times are UTC).
    db, entry, stderr = panther_ingest(tmp_path, "github_secret_scanning_alert_created")
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (2, 2, 0)
    assert "carry no offset" not in stderr
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        assert con.execute(
            "SELECT event_id, ts, actor, action, object, "
            "json_exists(extra, '$.fields.at_sign_timestamp') FROM actions ORDER BY ts"
        ).fetchall() == [
            ("github:5c1520ad8bcb15ca8b827f3d6315e72a2f01c80c67afa052090dce1d282dad1e",
             datetime(2023, 10, 18, 18, 20, 52, 209000, tzinfo=UTC), "github",
             "secret_scanning_alert.create", "acme-inc/crown-jewels", False),
            ("KCYtigpnShPBSohA4OXbRg==", datetime(2023, 11, 20, 21, 20, 9, 423000, tzinfo=UTC),
             "acme-inc-user", "git.clone", "acme-inc/a-repo", False)]


def test_records_without_a_time_are_githubs_to_quarantine(tmp_path: Path) -> None:
    # Without any time the records are still GitHub's: each quarantined saying what it
    # lacks, not the file refused as of no kind.
    db, entry, _ = panther_ingest(tmp_path, "github_webhook_modified")
    assert (entry["kind"], entry["rows_read"], entry["loaded"], entry["quarantined"]) == (
        "actions", 4, 0, 4)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT DISTINCT reason FROM quarantine").fetchall() == [
            ("GitHub audit record without @timestamp or created_at",)]
    # A time that is no time is quarantined showing it as the file writes it.
    db, entry, _ = panther_ingest(tmp_path, "github_repo_ruleset_modified")
    assert (entry["rows_read"], entry["loaded"], entry["quarantined"]) == (5, 0, 5)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT location, reason FROM quarantine ORDER BY 1").fetchall() == [
            (f"line {n}", "unparseable timestamp in ts: 2024-12-17 00:00:00000000"
             if n != 3 else "GitHub audit record without @timestamp or created_at")
            for n in range(1, 6)]
