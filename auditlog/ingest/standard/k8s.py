"""Kubernetes audit events (`audit.k8s.io`) → privileges and actions.

* A successful create/update/patch of a RoleBinding or ClusterRoleBinding **grants** the
  bound role (`roleRef.name`) to each of its subjects; a delete **revokes** it. The
  binding is read from `responseObject` (the object as stored) or else `requestObject`;
  a request logged without the binding (level Metadata, or a delete whose response is a
  bare Status) names no subject, so it is kept as an action on the binding instead.
  Update/patch grant the subjects the binding holds afterwards (a subject an earlier
  state named and this one does not is revoked by queries/shared/privilege_intervals.sql,
  which knows the earlier states).
* Every other request is an **action**: action = "<verb> <resource>[/<subresource>]"
  ("create pods/exec", "list secrets", "delete clusterrolebindings"), or the bare verb for
  non-resource requests (`/healthz`): a Kubernetes permission is a verb on a resource,
  and the verb alone ("get") tells nothing apart. object = the resource path
  (`namespaces/<ns>/<resource>/<name>[/<subresource>]`, or the request URI for
  non-resource requests), actor = `user.username` (the authenticated user; the
  impersonated user is kept in `extra.impersonated_user`; actor_type `service` for
  `system:serviceaccount:*`, `system` for nodes, `system:kube-*` and `system:apiserver`),
  result `failure` for a
  response code >= 400 or a Panic stage. verb, resource, namespace, response code and
  the rest are kept in `extra`.
* A dry run (`?dryRun=All` in the request URI) stores nothing: an action
  "<verb> <resource> (dry run)", never a grant, revoke or credential.
* Creating a service account token ("create serviceaccounts/token") is an action whose
  `target_account` is that service account (`system:serviceaccount:<ns>:<name>`): a
  credential, not a grant, as in the CloudTrail adapter; so is creating a token Secret
  (type `kubernetes.io/service-account-token`, the account in its
  `kubernetes.io/service-account.name` annotation).

**One record, several rows.** A binding with N subjects is N privilege rows. They share
the record's `_row` (its line) and are told apart by location ("line 5 subject 2") and
event id: the first subject's row carries the plain `auditID`, the k-th (k >= 2)
`auditID/k`. So `rows_read` counts staged rows: loaded + duplicates + quarantined =
rows_read holds by construction, since every staged row gets exactly one verdict.

**Stages.** The API server may log one request several times, once per stage
(RequestReceived, ResponseStarted, ResponseComplete, Panic), all with the same auditID.
The records of one request (same auditID, requestReceivedTimestamp, verb, requestURI and
user) are all mapped from its most complete one (ResponseComplete, else Panic,
ResponseStarted, RequestReceived; the first in the file on a tie), so the other stages
stage identical rows and are counted as duplicates, not loaded twice and not reported as
conflicts. Records that share only the auditID are other requests: each is mapped on its
own, so the event identity rule every source follows applies (same id and content: a
duplicate; same id, other content: a conflict, quarantined, the first version kept). A RequestReceived record alone carries no
response: its result is unknown, stored NULL (NO_DEFAULT), not the default success, and a
binding request so logged is an action, never a grant or revoke: nobody saw it carried
out. Stages of one request split across two files resolve to the answer, whichever file
is loaded first (ingest/answered.py).

A record without verb, timestamp or user, or whose `kind` is not `Event`, is
quarantined with that reason.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb

from auditlog.ingest.staging import Staged, extract, split_by_kind
from auditlog.ingest.standard.kube import COLUMNS, FIELDS, NO_DEFAULT, events_sql, mapped_sql

NAME = "k8s"


class KubernetesAudit:
    name = NAME

    def matches(self, keys: set[str]) -> bool:
        return {"auditID", "verb"} <= keys and bool(
            keys & {"requestReceivedTimestamp", "stageTimestamp", "timestamp"}
        )

    def stage(self, con: duckdb.DuckDBPyConnection) -> list[Staged]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _k8s_fields AS {extract(FIELDS)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _k8s_events AS {events_sql('_k8s_fields')}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _k8s_mapped AS {mapped_sql('_k8s_events')}")
        con.execute("DROP TABLE _k8s_fields")
        con.execute("DROP TABLE _k8s_events")
        return [replace(s, no_default=NO_DEFAULT) for s in
                split_by_kind(con, "_k8s_mapped", NAME, COLUMNS, default_kind="actions")]
