"""GCP Cloud Audit Logs (and GKE audit through Cloud Logging) → privileges and actions:
the real Panther sample (tests/data/gcp/, SOURCE.md) row by row, and the forms it does
not hold (GKE bindings with a time, multi-delta policies, principalSubject, failures)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.ingest import ingest_paths
from auditlog.ingest.standard.gcp import CloudAudit

DATA = Path(__file__).parent / "data"
PANTHER = DATA / "gcp/panther_gcp_audit.jsonl"
T = "2026-03-01T10:00:00.123456Z"

runner = CliRunner()


def records(path: Path = PANTHER) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def load(con: duckdb.DuckDBPyConnection, path: Path, events: list[dict[str, Any]]) -> Any:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    return result


def entry(insert_id: str, method: str, *, service: str = "cloudresourcemanager.googleapis.com",
          principal: str | None = "alice@example.com", resource_name: str = "projects/p1",
          code: int | None = None, **payload: Any) -> dict[str, Any]:
    auth = {"principalEmail": principal} if principal else {}
    return {
        "insertId": insert_id, "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": T, "receiveTimestamp": T, "severity": "NOTICE",
        "resource": {"type": "project", "labels": {"project_id": "p1"}},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": method, "serviceName": service, "resourceName": resource_name,
            "authenticationInfo": auth,
            "requestMetadata": {"callerIp": "10.1.2.3", "callerSuppliedUserAgent": "gcloud/1"},
            "status": {"code": code} if code is not None else {},
            **payload,
        },
    }


def deltas(*items: tuple[str, str, str]) -> dict[str, Any]:
    return {"serviceData": {"@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                            "policyDelta": {"bindingDeltas": [
                                {"action": a, "member": m, "role": r} for a, m, r in items]}}}


# --- The real sample, row by row ---------------------------------------------------------


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("gcp") / "d.duckdb"
    result = runner.invoke(app, ["ingest", str(PANTHER), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    (file_entry,) = json.loads(result.stdout)
    assert file_entry["rows_read"] == len(records()) == 19
    assert (file_entry["loaded"], file_entry["duplicates"], file_entry["quarantined"]) == (10, 0, 9)
    return db


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def test_policy_deltas_of_the_sample_are_grants_and_revokes(sample_db: Path) -> None:
    rows = query(sample_db, """
        SELECT _row, event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'), actor, subject,
               privilege, operation, system, extra ->> '$.scope', extra ->> '$.member',
               extra ->> '$.member_type', extra ->> '$.source_carries_approval'
        FROM privileges ORDER BY _row""")
    assert rows == [
        # Terraform's service account gives an outsider the organization's owner role.
        (1, "-lmjke7dbt7y", "2022-05-05T14:00:48.814294Z",
         "terraform@platform.iam.gserviceaccount.com", "backdoor@example.com", "roles/owner",
         "grant", None, "organizations/888888888888", "user:backdoor@example.com", "user",
         "false"),
        (2, "-yoga2udnx8s", "2022-02-17T22:52:02.692083Z", "chris@example.com",
         "diana@platform.iam.gserviceaccount.com", "roles/owner", "revoke", None,
         "organizations/888888888888", "serviceAccount:diana@platform.iam.gserviceaccount.com",
         "serviceAccount", "false"),
        (3, "mrbji0dal80", "2020-05-15T03:51:35.019000Z", "test@runpanther.com",
         "username@gmail.com", "roles/viewer", "grant", None, "projects/western-verve-123456",
         "user:username@gmail.com", "user", "false"),
    ]


def test_other_calls_of_the_sample_are_actions(sample_db: Path) -> None:
    rows = query(sample_db, """
        SELECT _row, event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'), actor, action, system,
               target_account, object, result, source_ip
        FROM actions ORDER BY _row""")
    ids = [r[1] for r in rows]
    assert [r[0] for r in rows] == [6, 7, 8, 9, 10, 11, 18]
    assert rows[:6] == [
        # A key for a service account: a credential of that account, not a grant.
        (6, "1iyadj0d5bmj", "2023-03-09T15:50:36.148000Z", "staging@company.io",
         "google.iam.admin.v1.CreateServiceAccountKey", "iam.googleapis.com",
         "created-service-account@gcp-project1.iam.gserviceaccount.com",
         "projects/-/serviceAccounts/123456789098765434567", "success", "1.2.3.4"),
        (7, "1iyadj0d5bcq", "2023-03-09T15:49:21.715000Z", "staging@company.io",
         "google.iam.admin.v1.CreateServiceAccount", "iam.googleapis.com", None,
         "projects/gcp-project1", "success", "1.2.3.4"),
        # SetIamPolicy logged without deltas says nothing about who gained what.
        (8, "46ee5sd38mw", "2023-04-25T19:20:57.024000Z", "staging@company.io",
         "google.cloud.iap.v1.IdentityAwareProxyAdminService.SetIamPolicy", "iap.googleapis.com",
         None, "projects/123456789012/iap_web/compute/services/7312383563505470445",
         "success", "1.2.3.4"),
        (9, "1abcd23efg456", "2023-10-01T12:34:56.789000Z", "user@runpanther.com",
         "InsertProjectOwnershipInvite", "cloudresourcemanager.googleapis.com", None,
         "projects/target-project", "success", None),
        (10, "2hijk34lmn789", "2023-10-01T12:45:56.789000Z", "user@runpanther.com",
         "InsertProjectOwnershipInvite", "cloudresourcemanager.googleapis.com", None,
         "projects/target-project", "success", None),
        (11, "285djodxlmu", "2022-03-22T22:12:58.916000Z", "admin@example.com",
         "google.admin.AdminService.addGroupMember", "admin.googleapis.com", None,
         "organizations/123/groupSettings", "success", "11.22.33.44"),
    ]
    # Lines 18-19 spell the key `insertid`, as Panther's data lake lower-cases it: it is
    # their id (line 19 reuses it with other content: a conflict, quarantined).
    assert [r[4] for r in rows[6:]] == ["google.logging.v2.ConfigServiceV2.UpdateSink"]
    assert ids[6:] == ["6ns26jclap"]
    (request,) = query(sample_db, "SELECT extra -> '$.request' FROM actions WHERE _row = 8")[0]
    assert json.loads(request)["policy"] == {"etag": "BwX6LgT4YMw="}


def test_what_the_sample_cannot_load_is_quarantined_with_its_reason(sample_db: Path) -> None:
    rows = query(sample_db, "SELECT row_number, location, reason FROM quarantine ORDER BY 1")
    assert [(r[0], r[1]) for r in rows] == [
        (n, f"line {n}") for n in (4, 5, 12, 13, 14, 15, 16, 17, 19)]
    reasons = {r[0]: r[2] for r in rows}
    # Panther's fixtures reuse one insertId for other entries: the same id, other content.
    assert reasons[4].startswith("conflict: event_id mrbji0dal80")
    assert reasons[12].startswith("conflict: event_id 285djodxlmu")
    assert reasons[19].startswith("conflict: event_id 6ns26jclap")
    assert reasons[13] == reasons[14] == "Cloud Audit Log entry without authenticationInfo principal"
    assert reasons[15] == reasons[16] == reasons[17] == "Cloud Audit Log entry without timestamp"


def test_privilege_rules_on_the_sample(sample_db: Path) -> None:
    run = runner.invoke(app, ["run", "--db", str(sample_db)])
    assert run.exit_code == 0, run.output
    found = runner.invoke(app, ["findings", "--db", str(sample_db), "--format", "json"])
    findings = json.loads(found.stdout)
    admin = [f for f in findings if f["rule_id"] == "admin_grant"]
    assert [(f["evidence"], f["actor"], f["account"]) for f in admin] == [
        (["-lmjke7dbt7y"], "terraform@platform.iam.gserviceaccount.com", "backdoor@example.com")]
    # Cloud Audit Logs cannot carry an approval: no grant is reported as unapproved.
    assert [f for f in findings if f["rule_id"] == "grant_without_approval"] == []
    assert [f for f in findings if f["rule_id"] == "self_grant"] == []
    # Panther's "should alert" sink update adds an exclusion of every log (line 18).
    (sink_update,) = query(sample_db, "SELECT event_id FROM actions WHERE _row = 18")[0]
    logging = [f for f in findings if f["rule_id"] == "logging_disabled"]
    assert [(f["evidence"], f["actor"]) for f in logging] == [([sink_update], "user@domain.com")]
    # Actions after the revoke of diana's owner role: she does nothing later in the sample.
    assert [f for f in findings if f["rule_id"] == "action_after_revoke"] == []


def test_a_project_iam_admin_grant_then_a_key_for_the_grantee(tmp_path: Path) -> None:
    sa = "ci@p1.iam.gserviceaccount.com"
    grant = entry("g1", "SetIamPolicy",
                  **deltas(("ADD", f"serviceAccount:{sa}", "roles/resourcemanager.projectIamAdmin")))
    key = entry("k1", "google.iam.admin.v1.CreateServiceAccountKey", service="iam.googleapis.com",
                resource_name=f"projects/-/serviceAccounts/{sa}",
                request={"name": f"projects/p1/serviceAccounts/{sa}"})
    key["timestamp"] = "2026-03-01T11:00:00Z"
    key["resource"] = {"type": "service_account", "labels": {"email_id": sa}}
    db = tmp_path / "r.duckdb"
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(grant) + "\n" + json.dumps(key) + "\n", encoding="utf-8")
    for args in (["ingest", str(path)], ["run"]):
        assert runner.invoke(app, [*args, "--db", str(db)]).exit_code == 0
    findings = json.loads(runner.invoke(app, ["findings", "--db", str(db), "--format", "json"]).stdout)
    by_rule = {f["rule_id"]: f["evidence"] for f in findings}
    assert by_rule["admin_grant"] == ["g1"]
    assert by_rule["grant_then_credential"] == ["g1", "k1"]
    assert "grant_without_approval" not in by_rule


def test_elastic_fixtures_raw_cloud_logging_entries(tmp_path: Path) -> None:
    db = tmp_path / "e.duckdb"
    paths = sorted((DATA / "gcp").glob("elastic_*.log"))
    result = runner.invoke(app, ["ingest", *map(str, paths), "--db", str(db), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [(e["rows_read"], e["loaded"], e["quarantined"]) for e in json.loads(result.stdout)] \
        == [(1, 1, 0)] * 3
    assert query(db, """
        SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'), actor, subject, privilege,
               operation, extra ->> '$.scope', extra ->> '$.member' FROM privileges""") == [
        ("-30102re2sad8", "2024-11-19T13:12:20.942393Z",
         "made-up-ci-account@project-id.iam.gserviceaccount.com",
         "project-id@cloudservices.gserviceaccount.com", "roles/resourcemanager.projectIamAdmin",
         "grant", "projects/project-id",
         "serviceAccount:project-id@cloudservices.gserviceaccount.com")]
    assert query(db, """
        SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ'), actor, actor_type, action,
               system, target_account, object, channel, result, source_ip,
               extra ->> '$.status_code'
        FROM actions ORDER BY ts""") == [
        # GKE: an anonymous probe of a non-resource URL, denied (gRPC code 7).
        ("k8s-nonmatch-0001", "2021-04-23T14:47:07.535383Z", "system:anonymous", "system",
         "get", "kubernetes", None, "HNAP1", "api", "failure", "192.168.1.1", "7"),
        # Workload identity federation: no email, the principal:// subject is the actor;
        # the token is a credential of the service account it was minted for.
        ("15djrryd6bap", "2024-11-19T00:49:55.293368Z",
         ("principal://iam.googleapis.com/projects/project-id/locations/global/"
          "workloadIdentityPools/..."), None, "GenerateAccessToken",
         "iamcredentials.googleapis.com", "made-up-ci-account@project-id.iam.gserviceaccount.com",
         "projects/-/serviceAccounts/somenumber", "api", "success", "175.16.199.45", None),
    ]


# --- Forms the samples do not hold -----------------------------------------------------


def test_each_delta_of_one_policy_change_is_a_row(tmp_path: Path,
                                                  con: duckdb.DuckDBPyConnection) -> None:
    result = load(con, tmp_path / "a.jsonl", [entry("x1", "SetIamPolicy", **deltas(
        ("ADD", "group:admins@example.com", "roles/editor"),
        ("REMOVE", "deleted:user:bob@example.com?uid=123", "roles/viewer"),
        ("ADD", "allUsers", "roles/storage.objectViewer")))])
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 3, 0)
    assert con.execute("""
        SELECT event_id, _row, subject, privilege, operation, extra ->> '$.member'
        FROM privileges ORDER BY event_id""").fetchall() == [
        ("x1", 1, "admins@example.com", "roles/editor", "grant", "group:admins@example.com"),
        ("x1/2", 1, "bob@example.com?uid=123", "roles/viewer", "revoke",
         "deleted:user:bob@example.com?uid=123"),
        ("x1/3", 1, "allUsers", "roles/storage.objectViewer", "grant", "allUsers"),
    ]


def test_newer_metadata_deltas_and_bigquery_dataset_changes(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    delta = {"action": "ADD", "member": "user:eve@example.com", "role": "roles/storage.admin"}
    bq = {"action": "ADD", "member": "user:eve@example.com", "role": "roles/bigquery.dataOwner"}
    load(con, tmp_path / "m.jsonl", [
        entry("m1", "storage.setIamPermissions", service="storage.googleapis.com",
              resource_name="projects/_/buckets/b",
              metadata={"policyDelta": {"bindingDeltas": [delta]}}),
        entry("m2", "google.cloud.bigquery.v2.DatasetService.PatchDataset",
              service="bigquery.googleapis.com", resource_name="projects/p1/datasets/d",
              metadata={"datasetChange": {"bindingDeltas": [bq]}}),
    ])
    assert con.execute("SELECT event_id, subject, privilege, extra ->> '$.scope' "
                       "FROM privileges ORDER BY 1").fetchall() == [
        ("m1", "eve@example.com", "roles/storage.admin", "projects/_/buckets/b"),
        ("m2", "eve@example.com", "roles/bigquery.dataOwner", "projects/p1/datasets/d"),
    ]


def test_a_failed_policy_change_granted_nothing(tmp_path: Path,
                                                con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "f.jsonl", [entry(
        "f1", "SetIamPolicy", code=7, **deltas(("ADD", "user:eve@example.com", "roles/owner")))])
    assert con.execute("SELECT count(*) FROM privileges").fetchone() == (0,)
    assert con.execute("SELECT action, result, extra ->> '$.status_code' FROM actions").fetchall() \
        == [("SetIamPolicy", "failure", "7")]


def test_principal_subject_when_no_email(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # As in elastic/integrations' iamcredentials fixture: workload identity, no email.
    e = entry("s1", "GenerateAccessToken", service="iamcredentials.googleapis.com",
              principal=None, resource_name="projects/-/serviceAccounts/123",
              request={"name": "projects/-/serviceAccounts/ci@p1.iam.gserviceaccount.com"})
    e["protoPayload"]["authenticationInfo"] = {"principalSubject": "serviceAccount:wi@p1.iam.gserviceaccount.com"}
    load(con, tmp_path / "s.jsonl", [e])
    assert con.execute("SELECT actor, actor_type, action, target_account FROM actions").fetchall() == [
        ("wi@p1.iam.gserviceaccount.com", "service", "GenerateAccessToken",
         "ci@p1.iam.gserviceaccount.com")]


def gke_binding() -> dict[str, Any]:
    """The sample's GKE ClusterRoleBinding (line 15), which Panther logged without
    insertId or timestamp, given both, and GKE's own method name."""
    e = copy.deepcopy(records()[14])
    e.update(insertId="gke-1", timestamp=T)
    e["protoPayload"]["methodName"] = "io.k8s.authorization.rbac.v1.clusterrolebindings.create"
    return e


def test_gke_role_bindings_grant_and_revoke_per_subject(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    created = gke_binding()
    created["protoPayload"]["request"]["subjects"].append(
        {"kind": "ServiceAccount", "name": "ci", "namespace": "build"})
    deleted = entry("gke-2", "io.k8s.authorization.rbac.v1.rolebindings.delete",
                    service="k8s.io", principal="admin@example.com",
                    resource_name="rbac.authorization.k8s.io/v1/namespaces/web/rolebindings/ed",
                    request={"roleRef": {"kind": "Role", "name": "edit"},
                             "subjects": [{"kind": "User", "name": "bob@example.com"}]})
    bare_delete = entry("gke-3", "io.k8s.authorization.rbac.v1.rolebindings.delete",
                        service="k8s.io", principal="admin@example.com",
                        resource_name="rbac.authorization.k8s.io/v1/namespaces/web/rolebindings/x",
                        response={"kind": "Status", "status": "Success"})
    result = load(con, tmp_path / "g.jsonl", [created, deleted, bare_delete])
    assert (result.rows_read, result.loaded, result.quarantined) == (4, 4, 0)
    assert con.execute("""
        SELECT event_id, actor, subject, privilege, operation, system, extra ->> '$.binding',
               extra ->> '$.role_kind', extra ->> '$.namespace'
        FROM privileges ORDER BY event_id""").fetchall() == [
        ("gke-1", "user@company.com", "user@company.com", "admin", "grant", "kubernetes",
         "admin-binding", "ClusterRole", None),
        ("gke-1/2", "user@company.com", "system:serviceaccount:build:ci", "admin", "grant",
         "kubernetes", "admin-binding", "ClusterRole", None),
        ("gke-2", "admin@example.com", "bob@example.com", "edit", "revoke", "kubernetes", "ed",
         "Role", "web"),
    ]
    assert con.execute("SELECT event_id, action, object FROM actions").fetchall() == [
        ("gke-3", "delete rolebindings",
         "rbac.authorization.k8s.io/v1/namespaces/web/rolebindings/x")]


def test_other_gke_requests_are_named_like_kubernetes_audit(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    exec_ = copy.deepcopy(records()[15])  # the sample's pods/exec, given its time
    exec_.update(insertId="e1", timestamp=T)
    probe = entry("e2", "io.k8s.get", service="k8s.io", principal="system:anonymous",
                  resource_name="readyz")
    token = entry("e3", "io.k8s.core.v1.serviceaccounts.token.create", service="k8s.io",
                  principal="system:serviceaccount:kube-system:deployer",
                  resource_name="core/v1/namespaces/prod/serviceaccounts/builder/token")
    load(con, tmp_path / "k.jsonl", [exec_, probe, token])
    assert con.execute("""
        SELECT event_id, actor, actor_type, action, system, target_account, object,
               extra ->> '$.namespace' FROM actions ORDER BY event_id""").fetchall() == [
        ("e1", "disallowed.user@example.com", None, "create pods/exec", "kubernetes", None,
         "core/v1/namespaces/example/pods/one-off-valerii-tovstyk-1646666967280/exec", "example"),
        ("e2", "system:anonymous", "system", "get", "kubernetes", None, "readyz", None),
        ("e3", "system:serviceaccount:kube-system:deployer", "service",
         "create serviceaccounts/token", "kubernetes", "system:serviceaccount:prod:builder",
         "core/v1/namespaces/prod/serviceaccounts/builder/token", "prod"),
    ]


def test_garbled_and_truncated_copies_lose_no_row(tmp_path: Path,
                                                  con: duckdb.DuckDBPyConnection) -> None:
    lines = PANTHER.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0][: len(lines[0]) // 2]           # cut mid-record
    lines[2] = lines[2].replace(',"member":"user:username@gmail.com"', "")  # delta sans member
    path = tmp_path / "bad.log"
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40], encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read
    reasons = dict(con.execute("SELECT location, reason FROM quarantine").fetchall())
    assert "line 1" in reasons and "line 19" in reasons
    assert reasons["line 3"] == "IAM policy delta without member or role"


def test_matches_only_cloud_logging_entries() -> None:
    adapter = CloudAudit()
    assert adapter.matches({"insertId", "protoPayload", "timestamp", "logName"})
    for other in ({"eventVersion", "eventSource", "eventName"}, {"auditID", "verb", "stageTimestamp"},
                  {"class_uid", "metadata"}, {"uuid", "published", "eventType", "actor"},
                  {"ts", "actor", "action", "system"}):
        assert not adapter.matches(other)


# --- Callers that are no address, principals that are no email ---------------------------


@pytest.mark.parametrize("word", ["private", "gce-internal-ip"])
def test_caller_ip_words_are_no_source_ip(tmp_path: Path, con: duckdb.DuckDBPyConnection,
                                          word: str) -> None:
    quiet = entry("w1", "storage.objects.get", service="storage.googleapis.com")
    quiet["protoPayload"]["requestMetadata"]["callerIp"] = word
    v6 = entry("w2", "storage.objects.list", service="storage.googleapis.com")
    v6["protoPayload"]["requestMetadata"]["callerIp"] = "2001:db8::7"
    load(con, tmp_path / "ip.jsonl", [quiet, entry("w3", "SetIamPolicy"), v6])
    assert con.execute(
        "SELECT event_id, source_ip, extra ->> '$.caller_ip' FROM actions ORDER BY 1"
    ).fetchall() == [("w1", None, word), ("w2", "2001:db8::7", None), ("w3", "10.1.2.3", None)]


def test_system_events_and_delegated_callers_have_an_actor(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A System Event (GCE host maintenance) names no principal: Google's system acted.
    system = entry("y1", "compute.instances.migrateOnHostMaintenance",
                   service="compute.googleapis.com", principal=None,
                   resource_name="projects/p1/zones/us-east1-b/instances/vm-1")
    system["logName"] = "projects/p1/logs/cloudaudit.googleapis.com%2Fsystem_event"
    del system["protoPayload"]["requestMetadata"]
    # A caller's email redacted, its delegation chain given.
    delegated = entry("y2", "storage.buckets.get", service="storage.googleapis.com",
                      principal=None)
    delegated["protoPayload"]["authenticationInfo"] = {"serviceAccountDelegationInfo": [
        {"firstPartyPrincipal": {"principalEmail": "deployer@p1.iam.gserviceaccount.com"}},
        {"principalSubject": "serviceAccount:second@p1.iam.gserviceaccount.com"}]}
    federated = entry("y3", "storage.buckets.get", service="storage.googleapis.com",
                      principal=None)
    federated["protoPayload"]["authenticationInfo"] = {"serviceAccountDelegationInfo": [
        {"principalSubject": "principal://iam.googleapis.com/locations/global/pool/sub"}]}
    # An Admin Activity entry naming no one stays quarantined: nothing says who acted.
    nobody = entry("y4", "SetIamPolicy", principal=None)
    result = load(con, tmp_path / "who.jsonl", [system, delegated, federated, nobody])
    assert (result.loaded, result.quarantined) == (3, 1)
    assert con.execute(
        "SELECT event_id, actor, actor_type, source_ip, extra ->> '$.actor_raw' "
        "FROM actions ORDER BY 1").fetchall() == [
        ("y1", "system@google.com", "system", None, None),
        ("y2", "deployer@p1.iam.gserviceaccount.com", "service", "10.1.2.3", None),
        ("y3", "principal://iam.googleapis.com/locations/global/pool/sub", None, "10.1.2.3",
         None)]
    assert con.execute("SELECT reason FROM quarantine").fetchall() == [
        ("Cloud Audit Log entry without authenticationInfo principal",)]


def test_a_call_naming_no_service_and_lower_cased_entry_keys(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # As in Panther's gcp_iam_tag_enumeration tests: no serviceName. The service that
    # checked the caller's permission names it; with none the entry is quarantined.
    checked = entry("n1", "GetIamPolicy", authorizationInfo=[{
        "granted": True, "permission": "resourcemanager.projects.getIamPolicy",
        "resourceAttributes": {"service": "cloudresourcemanager.googleapis.com"}}])
    del checked["protoPayload"]["serviceName"]
    unnamed = entry("n2", "GetIamPolicy")
    del unnamed["protoPayload"]["serviceName"]
    # Panther's data lake lower-cases insertId and logName (its gcp_firewall tests).
    lowered = entry("x", "compute.instances.preempted", service="compute.googleapis.com",
                    principal=None)
    lowered["insertid"] = lowered.pop("insertId")
    lowered["logname"] = "projects/p1/logs/cloudaudit.googleapis.com%2Fsystem_event"
    del lowered["logName"]
    lowered["insertid"] = "n3"
    result = load(con, tmp_path / "n.jsonl", [checked, unnamed, lowered])
    assert (result.loaded, result.quarantined) == (2, 1)
    assert con.execute("SELECT event_id, actor, action, system, extra ->> '$.log_name' "
                       "FROM actions ORDER BY 1").fetchall() == [
        ("n1", "alice@example.com", "GetIamPolicy", "cloudresourcemanager.googleapis.com",
         "projects/p1/logs/cloudaudit.googleapis.com%2Factivity"),
        ("n3", "system@google.com", "compute.instances.preempted", "compute.googleapis.com",
         "projects/p1/logs/cloudaudit.googleapis.com%2Fsystem_event")]
    assert con.execute("SELECT location, reason FROM quarantine").fetchall() == [
        ("line 2", ("Cloud Audit Log entry without protoPayload.serviceName (no service to "
                    "name as its system)"))]
