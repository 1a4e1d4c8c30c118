"""Kubernetes audit events → privileges (role bindings) and actions (everything else)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from auditlog.ingest import ingest_paths

T = "2026-03-01T10:00:00.000000Z"


def event(audit_id: str, verb: str, resource: str | None, name: str | None = None, *,
          namespace: str | None = None, subresource: str | None = None, user: str = "dev",
          code: int = 201, stage: str = "ResponseComplete", **extra: Any) -> dict[str, Any]:
    ref = {"resource": resource, "namespace": namespace, "name": name,
           "subresource": subresource,
           "apiGroup": "rbac.authorization.k8s.io" if resource and "binding" in resource
           else None}
    return {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": audit_id, "stage": stage, "verb": verb,
        "requestURI": f"/apis/x/{resource or 'healthz'}", "user": {"username": user},
        "sourceIPs": ["10.0.0.1"], "userAgent": "kubectl/v1.29",
        "objectRef": {k: v for k, v in ref.items() if v} if resource else None,
        "responseStatus": {"code": code},
        "requestReceivedTimestamp": T, "stageTimestamp": T, **extra,
    }


def binding(role: str, *subjects: dict[str, str], kind: str = "ClusterRole") -> dict[str, Any]:
    return {"roleRef": {"kind": kind, "name": role, "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": list(subjects)}


def load(con: duckdb.DuckDBPyConnection, path: Path, events: list[dict[str, Any]]) -> Any:
    path.write_text("".join(json.dumps({k: v for k, v in e.items() if v is not None}) + "\n"
                            for e in events), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    return result


def test_a_binding_grants_its_role_to_each_subject(tmp_path: Path,
                                                   con: duckdb.DuckDBPyConnection) -> None:
    created = binding("cluster-admin", {"kind": "User", "name": "eve"},
                      {"kind": "ServiceAccount", "name": "ci", "namespace": "build"},
                      {"kind": "Group", "name": "system:masters"})
    result = load(con, tmp_path / "audit.jsonl", [
        event("b1", "create", "clusterrolebindings", "pwn", requestObject=created,
              responseObject=created),
        event("b2", "delete", "rolebindings", "old", namespace="web", code=200,
              requestObject=binding("edit", {"kind": "User", "name": "bob"}, kind="Role")),
    ])
    assert (result.rows_read, result.loaded) == (4, 4)
    assert con.execute(
        "SELECT event_id, actor, subject, privilege, operation, system, "
        "extra ->> '$.binding', extra ->> '$.role_kind' FROM privileges ORDER BY event_id"
    ).fetchall() == [
        ("b1", "dev", "eve", "cluster-admin", "grant", "kubernetes", "pwn", "ClusterRole"),
        ("b1/2", "dev", "system:serviceaccount:build:ci", "cluster-admin", "grant",
         "kubernetes", "pwn", "ClusterRole"),
        ("b1/3", "dev", "system:masters", "cluster-admin", "grant", "kubernetes", "pwn",
         "ClusterRole"),
        ("b2", "dev", "bob", "edit", "revoke", "kubernetes", "old", "Role"),
    ]
    assert con.execute("SELECT location FROM quarantine").fetchall() == []


def test_other_requests_are_actions_with_verb_resource_and_outcome(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "audit.jsonl", [
        event("a1", "create", "pods", "web-1", namespace="prod", subresource="exec"),
        event("a2", "list", "secrets", namespace="prod", code=403, user="system:admin",
              impersonatedUser={"username": "bob"}),
        event("a3", "get", None),
        event("a4", "create", "serviceaccounts", "ci", namespace="build", subresource="token"),
        # A binding request that failed granted nothing.
        event("a5", "create", "clusterrolebindings", "x", code=403,
              requestObject=binding("cluster-admin", {"kind": "User", "name": "eve"})),
    ])
    assert con.execute(
        "SELECT event_id, actor, action, object, result, target_account, "
        "extra ->> '$.impersonated_user', extra ->> '$.response_code' "
        "FROM actions ORDER BY event_id").fetchall() == [
        ("a1", "dev", "create pods/exec", "namespaces/prod/pods/web-1/exec", "success", None,
         None, "201"),
        ("a2", "system:admin", "list secrets", "namespaces/prod/secrets", "failure", None,
         "bob", "403"),
        ("a3", "dev", "get", "/apis/x/healthz", "success", None, None, "201"),
        ("a4", "dev", "create serviceaccounts/token",
         "namespaces/build/serviceaccounts/ci/token", "success",
         "system:serviceaccount:build:ci", None, "201"),
        ("a5", "dev", "create clusterrolebindings", "clusterrolebindings/x", "failure", None,
         None, "403"),
    ]
    assert con.execute("SELECT count(*) FROM privileges").fetchall() == [(0,)]


def test_stages_of_one_request_load_once(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    created = binding("view", {"kind": "User", "name": "eve"})
    result = load(con, tmp_path / "audit.jsonl", [
        event("s1", "create", "clusterrolebindings", "v", stage="RequestReceived",
              requestObject=created),
        event("s1", "create", "clusterrolebindings", "v", requestObject=created,
              responseObject=created),
    ])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (2, 1, 1, 0)
    assert con.execute("SELECT event_id, subject FROM privileges").fetchall() == [("s1", "eve")]


def test_legacy_events_without_api_version_are_read(tmp_path: Path,
                                                    con: duckdb.DuckDBPyConnection) -> None:
    legacy = event("l1", "get", "pods", "p", namespace="default")
    del legacy["apiVersion"], legacy["requestReceivedTimestamp"]
    legacy["timestamp"] = T
    load(con, tmp_path / "audit.jsonl", [legacy])
    assert con.execute("SELECT event_id, action FROM actions").fetchall() == [("l1", "get pods")]


def test_requests_sharing_an_audit_id_are_a_conflict_not_a_merge(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # Two different requests months apart that carry one auditID, and an exact repeat of
    # the first: the repeat is a duplicate, the other request a conflict (quarantined).
    first = event("same", "get", "secrets", "db", namespace="prod")
    other = {**event("same", "delete", "pods", "web", namespace="prod"),
             "requestReceivedTimestamp": "2026-06-01T10:00:00.000000Z"}
    result = load(con, tmp_path / "audit.jsonl", [first, other, first])
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (3, 1, 1, 1)
    assert con.execute("SELECT event_id, action FROM actions").fetchall() == [
        ("same", "get secrets")]
    (location, reason) = con.execute("SELECT location, reason FROM quarantine").fetchone() or ()
    assert location == "line 2" and reason.startswith("conflict: event_id same")


def test_an_audit_id_mapped_onto_another_kind_is_a_conflict(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    created = binding("admin", {"kind": "User", "name": "eve"})
    load(con, tmp_path / "a.jsonl", [
        event("b1", "create", "clusterrolebindings", "x", requestObject=created)])
    # The same auditID later on an ordinary request: an action, but the id is taken.
    result = load(con, tmp_path / "b.jsonl", [event("b1", "get", "pods", "p")])
    assert (result.loaded, result.quarantined) == (0, 1)
    (reason,) = con.execute("SELECT reason FROM quarantine").fetchone() or ()
    assert "already loaded as a privileges row" in reason
    assert con.execute("SELECT count(*) FROM actions").fetchone() == (0,)


DATA = Path(__file__).parent / "data" / "k8s_audit"
AUDIT2RBAC = DATA / "audit2rbac_demo.log.jsonl"


def real_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in AUDIT2RBAC.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def event_list(events: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    # What the API server's webhook backend posts: an audit EventList.
    return {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {},
            **fields, "items": events}


def test_an_event_list_document_is_read_as_its_items(tmp_path: Path,
                                                     con: duckdb.DuckDBPyConnection) -> None:
    # The real audit2rbac events, posted as one EventList (before: taken for a Google
    # Workspace page, every item quarantined as "not a Google Workspace activity").
    events = real_events()
    path = tmp_path / "webhook.json"
    path.write_text(json.dumps(event_list(events), indent=1), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (len(events), len(events), 0)
    rows = con.execute(
        "SELECT _row, event_id, actor, action, object, result, "
        "extra ->> '$.impersonated_user', r.source_format FROM actions a "
        "JOIN source_records r ON r.file_sha256 = a._file AND r.row_number = a._row "
        "ORDER BY _row").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(n, e["auditID"]) for n, e in enumerate(events, 1)]
    # system:admin impersonating bob, alice, ...: the authenticated user acts, the
    # impersonated one is kept in extra;
    # a 403 is a failure; a request without objectRef acts on its URI.
    assert [(r[2], r[6], r[7]) for r in rows] == [
        ("system:admin", e["impersonatedUser"]["username"], "k8s") for e in events]
    assert [r[5] for r in rows] == [
        "failure" if e["responseStatus"]["code"] >= 400 else "success" for e in events]
    bare = [(n, e) for n, e in enumerate(events, 1) if "objectRef" not in e]
    assert bare
    assert all(rows[n - 1][3:5] == (e["verb"], e["requestURI"]) for n, e in bare)


def test_a_damaged_event_list_keeps_the_items_before_the_damage(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    events = real_events()[:4]
    text = json.dumps(event_list(events))
    path = tmp_path / "webhook.json"
    path.write_text(text[: text.index(events[3]["auditID"]) + 8], encoding="utf-8")  # 4th cut
    (result,) = ingest_paths(con, [path])
    assert (result.rows_read, result.loaded, result.quarantined) == (4, 3, 1)
    assert con.execute("SELECT location FROM quarantine").fetchall() == [("element 4",)]


def test_an_event_list_of_core_events_is_not_an_audit_log(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # `kubectl get events -o json`: core v1 Events, whose items are no audit events.
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"kind": "EventList", "apiVersion": "v1", "items": [
        {"kind": "Event", "reason": "Pulled", "message": "image pulled"}]}), encoding="utf-8")
    (result,) = ingest_paths(con, [path])
    assert con.execute("SELECT count(*) FROM actions").fetchone() == (0,)
    assert result.loaded == 0 and result.quarantined == result.rows_read


def test_service_accounts_and_system_components_are_typed_by_their_name(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    load(con, tmp_path / "audit.jsonl", [
        event("u1", "get", "leases", "l", namespace="kube-system",
              user="system:serviceaccount:kube-system:elastic-agent"),
        # A group-like name (as in Elastic's sample), not a service account's username.
        event("u2", "get", "pods", "p", namespace="default",
              user="system:serviceaccounts:default:default"),
        event("u3", "get", "pods", "p", user="system:node:worker-1"),
        event("u4", "get", "pods", "p", user="alice"),
        # The API server's own loopback identity (it reconciles the default roles).
        event("u5", "update", "clusterroles", "admin", user="system:apiserver"),
    ])
    assert con.execute("SELECT event_id, actor_type FROM actions ORDER BY event_id"
                       ).fetchall() == [("u1", "service"), ("u2", None), ("u3", "system"),
                                        ("u4", None), ("u5", "system")]


def received(audit_id: str, verb: str, resource: str, name: str | None = None,
             **fields: Any) -> dict[str, Any]:
    """A request's RequestReceived record: no response yet."""
    record = event(audit_id, verb, resource, name, stage="RequestReceived", **fields)
    del record["responseStatus"]
    return record


def test_stages_of_one_request_in_two_files_resolve_to_the_answer(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # A log rotated between a request's RequestReceived and its ResponseComplete: the
    # later file's answer wins, success or failure (before: a duplicate of the unknown
    # row, which stayed unknown, or a conflict, quarantined).
    first = load(con, tmp_path / "a.jsonl", [
        received("ok", "delete", "secrets", "db", namespace="prod"),
        received("denied", "delete", "secrets", "db", namespace="prod")])
    assert (first.loaded, first.quarantined) == (2, 0)
    answer = event("ok", "delete", "secrets", "db", namespace="prod", code=200)
    later = load(con, tmp_path / "b.jsonl", [
        answer, event("denied", "delete", "secrets", "db", namespace="prod", code=403),
        answer])  # the answer logged twice (as in Elastic's sample): a repeat of itself
    assert (later.loaded, later.duplicates, later.quarantined) == (2, 1, 0)
    assert con.execute("SELECT event_id, result, extra ->> '$.stage' FROM actions "
                       "ORDER BY event_id").fetchall() == [
        ("denied", "failure", "ResponseComplete"), ("ok", "success", "ResponseComplete")]
    assert con.execute("SELECT location FROM quarantine").fetchall() == []
    # The first file's rows are now duplicates of the answers: counts still add up.
    assert con.execute("SELECT path LIKE '%a.jsonl', rows_read, loaded, duplicates, "
                       "quarantined FROM ingested_files ORDER BY path").fetchall() == [
        (True, 2, 0, 2, 0), (False, 3, 2, 1, 0)]


def ingest(db: str, *paths: Path) -> Any:
    from typer.testing import CliRunner

    from auditlog.cli import app

    out = CliRunner().invoke(app, ["ingest", *map(str, paths), "--db", db, "--format", "json"])
    assert out.exit_code == 0, out.output
    return out


def write(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_a_binding_answered_in_a_later_file_becomes_its_grant(tmp_path: Path) -> None:
    # Two ingests through the CLI: the binding's RequestReceived (with its requestObject)
    # in one file, its ResponseComplete in the next; and a request that only shares the
    # auditID of another (a different request), which stays a conflict.
    bound = binding("cluster-admin", {"kind": "User", "name": "eve"},
                    {"kind": "User", "name": "mallory"})
    db = str(tmp_path / "a.duckdb")
    ingest(db, write(tmp_path / "a.jsonl",
                     received("b1", "create", "clusterrolebindings", "pwn", requestObject=bound),
                     received("x1", "get", "secrets", "db", namespace="prod")))
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT count(*) FROM privileges").fetchone() == (0,)
    con.close()
    out = ingest(db, write(tmp_path / "b.jsonl",
                           event("b1", "create", "clusterrolebindings", "pwn",
                                 requestObject=bound, responseObject=bound),
                           {**event("x1", "get", "secrets", "db", namespace="prod", code=200),
                            "requestReceivedTimestamp": "2026-04-01T10:00:00.000000Z"}))
    (later,) = json.loads(out.stdout)
    assert (later["loaded"], later["duplicates"], later["quarantined"]) == (2, 0, 1)
    assert ("1 request(s) stored with result unknown from an earlier file (stage "
            "RequestReceived) were answered in ") in out.stderr
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT event_id, subject, operation FROM privileges ORDER BY event_id"
                       ).fetchall() == [("b1", "eve", "grant"), ("b1/2", "mallory", "grant")]
    # The binding is no longer an action of unknown result; the other request's stays.
    assert con.execute("SELECT event_id, result FROM actions").fetchall() == [("x1", None)]
    (reason,) = con.execute("SELECT reason FROM quarantine").fetchone() or ("",)
    assert reason.startswith("conflict: event_id x1 is already loaded from")
    con.close()
    # The unknown row it replaced cannot be read back: b.jsonl cannot be forgotten alone.
    from typer.testing import CliRunner

    from auditlog.cli import app

    out = CliRunner().invoke(app, ["forget", str(tmp_path / "b.jsonl"), "--db", db])
    # (main() words the error and exits 2; the runner hands back the exception.)
    assert out.exit_code != 0 and "cannot be forgotten alone" in str(out.exception)
    assert "a.jsonl" in str(out.exception)


def test_a_request_received_after_its_refusal_is_a_duplicate(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # The files loaded the other way round: the answer (a 403) is stored first; the
    # RequestReceived record of the same request is the same event (before: a conflict,
    # quarantined), and one that only shares its auditID is still a conflict.
    load(con, tmp_path / "b.jsonl", [
        event("r1", "delete", "secrets", "db", namespace="prod", code=403)])
    earlier = load(con, tmp_path / "a.jsonl", [
        received("r1", "delete", "secrets", "db", namespace="prod")])
    assert (earlier.loaded, earlier.duplicates, earlier.quarantined) == (0, 1, 0)
    other = load(con, tmp_path / "c.jsonl", [
        {**received("r1", "delete", "secrets", "db", namespace="prod"),
         "requestReceivedTimestamp": "2026-05-01T10:00:00.000000Z"}])
    assert (other.loaded, other.duplicates, other.quarantined) == (0, 0, 1)
    assert con.execute("SELECT event_id, result FROM actions").fetchall() == [("r1", "failure")]


def test_a_binding_received_after_its_answer_is_a_duplicate(tmp_path: Path) -> None:
    # The files loaded the other way round: the grant is stored first, the request's
    # RequestReceived record is the same event (before: a conflict, quarantined).
    bound = binding("view", {"kind": "User", "name": "eve"})
    db = str(tmp_path / "a.duckdb")
    ingest(db, write(tmp_path / "b.jsonl", event("b1", "create", "clusterrolebindings", "v",
                                                 requestObject=bound, responseObject=bound)))
    out = ingest(db, write(tmp_path / "a.jsonl", received(
        "b1", "create", "clusterrolebindings", "v", requestObject=bound)))
    (earlier,) = json.loads(out.stdout)
    assert (earlier["loaded"], earlier["duplicates"], earlier["quarantined"]) == (0, 1, 0)
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT event_id, subject FROM privileges").fetchall() == [("b1", "eve")]
    assert con.execute("SELECT count(*) FROM actions").fetchone() == (0,)
    con.close()


def test_a_request_logged_only_when_received_has_an_unknown_result(
        tmp_path: Path) -> None:
    # An audit policy that logs RequestReceived and the API server gone before the
    # response: the request may or may not have been carried out.
    from typer.testing import CliRunner

    from auditlog.cli import app

    received = event("r1", "create", "pods", "web", namespace="prod", subresource="exec",
                     stage="RequestReceived")
    del received["responseStatus"]
    answered = event("r2", "delete", "secrets", "db", namespace="prod", code=200)
    both = [event("r3", "get", "pods", "web", namespace="prod", stage="RequestReceived"),
            event("r3", "get", "pods", "web", namespace="prod", code=200)]
    for record in (received, both[0]):
        record.pop("responseStatus", None)
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in [received, answered, *both]),
                    encoding="utf-8")
    db = str(tmp_path / "a.duckdb")
    out = CliRunner().invoke(app, ["ingest", str(path), "--db", db, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert ("1 request(s) in " in out.stderr and "stored with result unknown (null), not "
            "as successes" in out.stderr)
    con = duckdb.connect(db, read_only=True)
    # The unanswered exec: its result unknown; the request whose later stage was logged
    # is read from that stage (its RequestReceived record a duplicate), as before.
    assert con.execute("SELECT event_id, result FROM actions ORDER BY event_id").fetchall(
    ) == [("r1", None), ("r2", "success"), ("r3", "success")]
    con.close()


def test_a_binding_request_nobody_saw_answered_is_no_standing_grant(tmp_path: Path) -> None:
    # A ClusterRoleBinding create logged only at RequestReceived (with its requestObject,
    # as a RequestResponse policy logs it): it may have been refused or never carried out.
    from typer.testing import CliRunner

    from auditlog.cli import app

    requested = binding("cluster-admin", {"kind": "User", "name": "eve"})
    received = event("g1", "create", "clusterrolebindings", "pwn", stage="RequestReceived",
                     requestObject=requested)
    del received["responseStatus"]
    answered = event("g2", "create", "clusterrolebindings", "ok", requestObject=requested,
                     responseObject=binding("view", {"kind": "User", "name": "bob"}))
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in [received, answered]),
                    encoding="utf-8")
    db = str(tmp_path / "a.duckdb")
    runner = CliRunner()
    out = runner.invoke(app, ["ingest", str(path), "--db", db, "--format", "json"])
    assert out.exit_code == 0, out.output
    assert "a role binding so requested kept as an action, not a grant" in out.stderr
    held = runner.invoke(app, ["privileges", "--as-of", "2026-03-02T00:00:00Z", "--db", db,
                               "--format", "json"])
    assert held.exit_code == 0, held.output
    rows = json.loads(held.stdout)["intervals"]
    # Only the answered binding's subject holds its role; eve holds nothing.
    assert [(r["account"], r["privilege"]) for r in rows] == [("bob", "view")]
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT event_id, action, object, result FROM actions").fetchall() == [
        ("g1", "create clusterrolebindings", "clusterrolebindings/pwn", None)]
    con.close()


def test_a_dry_run_grants_revokes_and_issues_nothing(tmp_path: Path) -> None:
    # kubectl --dry-run=server: the API server admits and answers the request (201, the
    # object in responseObject) but stores nothing (before: a standing grant, and a
    # dry-run delete ended the real one).
    bound = binding("cluster-admin", {"kind": "User", "name": "eve"})
    real = event("b1", "create", "clusterrolebindings", "ops", requestObject=bound,
                 responseObject=bound)
    dry_grant = {**event("b2", "create", "clusterrolebindings", "pwn",
                         requestObject=binding("admin", {"kind": "User", "name": "mallory"}),
                         responseObject=binding("admin", {"kind": "User", "name": "mallory"})),
                 "requestURI": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
                               "?dryRun=All&fieldManager=kubectl-create"}
    dry_delete = {**event("b3", "delete", "clusterrolebindings", "ops", code=200),
                  "requestURI": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ops"
                                "?dryRun=All",
                  "requestReceivedTimestamp": "2026-03-01T11:00:00.000000Z"}
    dry_token = {**event("t1", "create", "serviceaccounts", "ci", namespace="build",
                         subresource="token"),
                 "requestURI": "/api/v1/namespaces/build/serviceaccounts/ci/token?dryRun=All"}
    db = str(tmp_path / "a.duckdb")
    ingest(db, write(tmp_path / "audit.jsonl", real, dry_grant, dry_delete, dry_token))
    from typer.testing import CliRunner

    from auditlog.cli import app

    held = CliRunner().invoke(app, ["privileges", "--as-of", "2026-03-02T00:00:00Z",
                                    "--db", db, "--format", "json"])
    assert held.exit_code == 0, held.output
    assert [(r["account"], r["privilege"]) for r in json.loads(held.stdout)["intervals"]] == [
        ("eve", "cluster-admin")]
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT event_id, action, result, target_account, "
                       "extra ->> '$.dry_run' FROM actions ORDER BY event_id").fetchall() == [
        ("b2", "create clusterrolebindings (dry run)", "success", None, "true"),
        ("b3", "delete clusterrolebindings (dry run)", "success", None, "true"),
        ("t1", "create serviceaccounts/token (dry run)", "success", None, "true")]
    con.close()


def test_bindings_end_with_their_collection_or_namespace(tmp_path: Path) -> None:
    # Deleting every RoleBinding of a namespace (deletecollection, as controllers and API
    # clients do) or the namespace itself ends the grants of its bindings (before: they
    # were held for ever). A deletecollection with a selector deleted only some: its
    # namespace's grants are still held, as are the bindings of other namespaces.
    def granted(audit_id: str, namespace: str | None, subject: str) -> dict[str, Any]:
        bound = binding("edit", {"kind": "User", "name": subject},
                        kind="Role" if namespace else "ClusterRole")
        resource = "rolebindings" if namespace else "clusterrolebindings"
        return event(audit_id, "create", resource, f"{subject}-edit", namespace=namespace,
                     requestObject=bound, responseObject=bound)

    later = "2026-03-01T11:00:00.000000Z"
    some = {**event("d2", "deletecollection", "rolebindings", namespace="ops", code=200),
            "requestURI": "/apis/rbac.authorization.k8s.io/v1/namespaces/ops/rolebindings"
                          "?labelSelector=app%3Dweb", "requestReceivedTimestamp": later}
    db = str(tmp_path / "a.duckdb")
    ingest(db, write(tmp_path / "audit.jsonl",
                     granted("b1", "web", "eve"), granted("b2", "ops", "bob"),
                     granted("b3", "lab", "carol"), granted("b4", None, "dan"),
                     {**event("d1", "deletecollection", "rolebindings", namespace="web",
                              code=200), "requestReceivedTimestamp": later},
                     some,
                     {**event("d3", "delete", "namespaces", "lab", code=200),
                      "requestReceivedTimestamp": later}))
    from typer.testing import CliRunner

    from auditlog.cli import app

    held = CliRunner().invoke(app, ["privileges", "--between", "2000-01-01T00:00:00Z",
                                    "2100-01-01T00:00:00Z", "--db", db, "--format", "json"])
    assert held.exit_code == 0, held.output
    assert sorted((r["account"], r["end_event_id"]) for r in json.loads(held.stdout)["intervals"]
                  ) == [("bob", None), ("carol", "d3"), ("dan", None), ("eve", "d1")]


def test_a_service_account_token_secret_is_a_credential_of_that_account(
        tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    # The legacy way to mint a long-lived token: a Secret of type
    # kubernetes.io/service-account-token naming the account in an annotation (before: a
    # plain "create secrets", no account named). An ordinary Secret, and a token Secret
    # logged at level Metadata (no object), name none.
    token = {"kind": "Secret", "apiVersion": "v1", "type": "kubernetes.io/service-account-token",
             "metadata": {"name": "admin-token", "namespace": "kube-system", "annotations": {
                 "kubernetes.io/service-account.name": "admin"}}}
    opaque = {**token, "type": "Opaque", "metadata": {"name": "db"}}
    load(con, tmp_path / "audit.jsonl", [
        event("s1", "create", "secrets", "admin-token", namespace="kube-system",
              requestObject=token),
        event("s2", "create", "secrets", "db", namespace="web", requestObject=opaque),
        event("s3", "create", "secrets", "other", namespace="web"),
    ])
    assert con.execute("SELECT event_id, action, target_account FROM actions ORDER BY event_id"
                       ).fetchall() == [
        ("s1", "create secrets", "system:serviceaccount:kube-system:admin"),
        ("s2", "create secrets", None), ("s3", "create secrets", None)]


def test_falco_binding_split_across_a_rotation_resolves_to_its_grant(tmp_path: Path) -> None:
    # Falco's real create_clusterrolebinding event (line 3 of the sample) as a rotation
    # would split it: its RequestReceived record (the same record before the response:
    # stage, no responseStatus or responseObject) ends one file, the real record starts
    # the next.
    real = json.loads((DATA / "falco_k8s_audit_rbac_sample.jsonl").read_text(
        encoding="utf-8").splitlines()[2])
    received = {k: v for k, v in real.items() if k not in ("responseStatus", "responseObject")}
    received.update(stage="RequestReceived", stageTimestamp=real["requestReceivedTimestamp"])
    db = str(tmp_path / "a.duckdb")
    ingest(db, write(tmp_path / "a.jsonl", received))
    ingest(db, write(tmp_path / "b.jsonl", real))
    subjects = real["responseObject"]["subjects"]
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT subject, privilege FROM privileges ORDER BY event_id"
                       ).fetchall() == [(s["name"], real["responseObject"]["roleRef"]["name"])
                                        for s in subjects]
    assert con.execute("SELECT count(*) FROM actions").fetchone() == (0,)
    assert con.execute("SELECT path LIKE '%a.jsonl', loaded, duplicates FROM ingested_files "
                       "ORDER BY path").fetchall() == [(True, 0, 1), (False, len(subjects), 0)]
    con.close()


def test_every_file_that_held_the_unknown_row_holds_its_answer(tmp_path: Path) -> None:
    # The RequestReceived record in two files (a copy), its answer in a third: after the
    # answer, forgetting the first file leaves the copy holding the answer (before: the
    # copy still pointed at the replaced row, and forget counted it loaded).
    db = str(tmp_path / "a.duckdb")
    first = write(tmp_path / "a.jsonl", received("r1", "get", "pods", "p", namespace="prod"))
    copy = tmp_path / "copy.jsonl"
    copy.write_text(first.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    ingest(db, first)
    ingest(db, copy)
    ingest(db, write(tmp_path / "b.jsonl",
                     event("r1", "get", "pods", "p", namespace="prod", code=200)))
    from typer.testing import CliRunner

    from auditlog.cli import app

    out = CliRunner().invoke(app, ["forget", str(first), "--db", db])
    assert out.exit_code == 0, out.output
    con = duckdb.connect(db, read_only=True)
    assert con.execute("SELECT event_id, result FROM actions").fetchall() == [("r1", "success")]
    assert con.execute("SELECT path LIKE '%copy.jsonl', loaded, duplicates FROM ingested_files "
                       "ORDER BY path").fetchall() == [(False, 1, 0), (True, 0, 1)]
    con.close()


def test_a_subject_an_update_drops_from_a_binding_no_longer_holds_its_role(
        tmp_path: Path) -> None:
    # An update logged with the whole binding names every subject it then binds: one it
    # no longer names lost the role (before: held for ever, the old binding not logged).
    both = binding("edit", {"kind": "User", "name": "eve"}, {"kind": "User", "name": "bob"},
                   kind="Role")
    only_eve = binding("edit", {"kind": "User", "name": "eve"}, kind="Role")
    db = str(tmp_path / "a.duckdb")
    ingest(db, write(tmp_path / "audit.jsonl",
                     event("c1", "create", "rolebindings", "devs", namespace="web",
                           requestObject=both, responseObject=both),
                     {**event("u1", "update", "rolebindings", "devs", namespace="web",
                              code=200, requestObject=only_eve, responseObject=only_eve),
                      "requestReceivedTimestamp": "2026-03-01T11:00:00.000000Z"},
                     # Another namespace's binding of the same name is another binding:
                     # its update names nobody of the first.
                     {**event("o1", "update", "rolebindings", "devs", namespace="ops",
                              code=200, requestObject=binding("view", {"kind": "User",
                                                                       "name": "dan"}),
                              responseObject=binding("view", {"kind": "User", "name": "dan"})),
                      "requestReceivedTimestamp": "2026-03-01T10:30:00.000000Z"}))
    from typer.testing import CliRunner

    from auditlog.cli import app

    held = CliRunner().invoke(app, ["privileges", "--between", "2000-01-01T00:00:00Z",
                                    "2100-01-01T00:00:00Z", "--db", db, "--format", "json"])
    assert held.exit_code == 0, held.output
    assert sorted((r["account"], r["grant_event_id"], r["end_event_id"], r["ended_at"])
                  for r in json.loads(held.stdout)["intervals"]) == [
        ("bob", "c1/2", "u1", "2026-03-01T11:00:00Z"), ("dan", "o1", None, None),
        ("eve", "c1", None, None)]
