"""A request's answer in a later file than its RequestReceived record (standard/k8s.py,
"Stages"): the verdicts of judge.judge settled for the rows whose result the source could
not know (Staged.no_default), between judge and store.

A log rotated between a request's stages puts its RequestReceived record in one file (A)
and its ResponseComplete in the next (B). A's row is stored with result unknown (a binding
so logged as an action, not a grant). Whichever file comes first, the pair resolves to
one event, the answer's, as if both had been in one file:

- B after A: A's stored row of unknown result gives way to B's. B's row loads (its
  result, or its grant), A's stored row is deleted and counted in A as a duplicate of
  B's row (ingested_files, shared_rows). judge alone keeps A's unknown row (a duplicate
  of a success) or quarantines B's (a failure; a grant, an id already taken as an action).
- A after B: A's row of unknown result is a duplicate of B's stored one, also when B's
  is a grant or a failure (judge alone: a conflict, an id already taken as a privilege,
  or another result).

Only the same request resolves so: the same event id, time, actor, verb and request URI
(and action), the stored row's stage RequestReceived; records that share only the id
stay a conflict. A's row is recorded as shared with verdict `conflict`: forgetting B
alone is refused (A's unknown row, deleted, cannot be read back), as for a conflict.
"""

from __future__ import annotations

import duckdb

from auditlog.ingest.coverage import note_removed
from auditlog.ingest.judge import position_word
from auditlog.ingest.staging import TYPED, VERDICT, Staged, drop
from auditlog.kinds import Kind

_ANSWERED = "_answered"  # stored unknown rows this file answers: event_id, _file, _row

# The same request: stored row `s`, new row `t`.
_SAME_REQUEST = """
    s.ts = t.ts AND s.actor = t.actor AND s.system IS NOT DISTINCT FROM t.system
    AND CAST(s.extra ->> '$.verb' AS VARCHAR) IS NOT DISTINCT FROM
        CAST(t.extra ->> '$.verb' AS VARCHAR)
    AND CAST(s.extra ->> '$.request_uri' AS VARCHAR) IS NOT DISTINCT FROM
        CAST(t.extra ->> '$.request_uri' AS VARCHAR)"""
_RECEIVED = "CAST({0}.extra ->> '$.stage' AS VARCHAR) = 'RequestReceived' AND {0}.result IS NULL"


def settle_answered(con: duckdb.DuckDBPyConnection, kind: Kind, staged: Staged,
                    sha256: str) -> int:
    """Settle `VERDICT` for this file's rows that answer, or are answered by, a stored row
    of the same request (see the module's docstring); how many stored rows of unknown
    result this file's answer replaced."""
    if ("result" not in staged.no_default or kind.name not in ("actions", "privileges")
            or not _has_verdicts(con)):
        return 0
    answered = _answer_stored(con, kind, sha256)
    if kind.name == "actions":
        _already_answered(con, sha256)
    return answered


def _has_verdicts(con: duckdb.DuckDBPyConnection) -> bool:
    ((n,),) = con.execute(f"SELECT count(*) FROM {VERDICT} WHERE verdict <> 'load'").fetchall()
    return bool(n)


def _answer_stored(con: duckdb.DuckDBPyConnection, kind: Kind, sha256: str) -> int:
    # A binding's privilege rows are answered by construction (kube.py: a binding logged
    # only when received is an action).
    has_answer = "t.result IS NOT NULL" if kind.name == "actions" else "true"
    same_action = "AND s.action = t.action" if kind.name == "actions" else ""
    drop(con, _ANSWERED)
    con.execute(
        f"""
        CREATE TEMP TABLE {_ANSWERED} AS
        SELECT v._row AS new_row, v._loc AS new_loc, s.event_id, s._file, s._row
        FROM (SELECT * FROM {VERDICT} WHERE verdict <> 'load'
              -- the id's first row in the file; a repeat stays a repeat of it
              QUALIFY row_number() OVER (PARTITION BY id ORDER BY _row, _loc) = 1) v
        JOIN {TYPED} t ON t._row = v._row AND t._loc = v._loc
        JOIN actions s ON s.event_id = v.id
        WHERE t._reason IS NULL AND {has_answer}
          AND s._file <> $sha AND {_RECEIVED.format('s')} AND {_SAME_REQUEST} {same_action}
        QUALIFY row_number() OVER (PARTITION BY v._row, v._loc ORDER BY s._file, s._row) = 1
        """, {"sha": sha256})
    ((answered,),) = con.execute(f"SELECT count(*) FROM {_ANSWERED}").fetchall()
    if not answered:
        drop(con, _ANSWERED)
        return 0
    con.execute(f"""UPDATE {VERDICT} AS v SET verdict = 'load', reason = NULL, shared = false
                    FROM {_ANSWERED} a WHERE v._row = a.new_row AND v._loc = a.new_loc""")
    # The earlier file's row now a duplicate of this one (its first path's counts, as
    # forget keeps them), and recorded as shared with it.
    con.execute(
        f"""
        UPDATE ingested_files AS f SET loaded = f.loaded - a.n, duplicates = f.duplicates + a.n
        FROM (SELECT _file, count(*) AS n FROM {_ANSWERED} GROUP BY _file) a,
             (SELECT sha256, arg_min(path, (ingested_at, path)) AS path
              FROM ingested_files GROUP BY sha256) first
        WHERE f.sha256 = a._file AND first.sha256 = f.sha256 AND first.path = f.path
        """)
    # Other files that held the replaced row (its other RequestReceived copies) now hold
    # this file's row, as the earlier file does.
    con.execute(
        f"""
        UPDATE shared_rows AS r SET stored_file = $sha, kind = $kind, verdict = 'conflict'
        FROM {_ANSWERED} a
        WHERE r.kind = 'actions' AND r.id = a.event_id AND r.stored_file = a._file
        """, {"kind": kind.name, "sha": sha256})
    con.execute(
        f"""
        INSERT INTO shared_rows
        SELECT a._file, $kind, a.event_id, a._row,
               {position_word("coalesce(f.format, '')")} || ' ' || a._row, 'conflict', $sha
        FROM {_ANSWERED} a
        LEFT JOIN (SELECT sha256, min(format) AS format FROM ingested_files GROUP BY sha256) f
          ON f.sha256 = a._file
        """, {"kind": kind.name, "sha": sha256})
    gone = (f"FROM actions WHERE EXISTS (SELECT 1 FROM {_ANSWERED} a WHERE "
            "a.event_id = actions.event_id AND a._file = actions._file "
            "AND a._row = actions._row)")
    note_removed(con, "actions", gone)
    con.execute(f"DELETE {gone}")
    drop(con, _ANSWERED)
    return int(answered)


def _already_answered(con: duckdb.DuckDBPyConnection, sha256: str) -> None:
    """This file's unanswered request whose answer is stored from an earlier file (a
    grant or revoke, or a failure: judge alone takes both for conflicts): a duplicate of
    it, not a conflict."""
    stored = " UNION ALL ".join(
        f"""SELECT '{name}' AS kind, s.event_id, s._file, s._row
            FROM {name} s JOIN {TYPED} t ON s.event_id = t.event_id
            WHERE t._reason IS NULL AND {_RECEIVED.format('t')} AND s._file <> $sha
              AND {_SAME_REQUEST} {extra}"""
        for name, extra in (("privileges", ""),
                            ("actions", "AND s.action = t.action AND s.result IS NOT NULL")))
    drop(con, _ANSWERED)
    con.execute(
        f"""
        CREATE TEMP TABLE {_ANSWERED} AS
        SELECT v._row, v._loc, v.id, min(s.kind) AS kind, min(s._file) AS stored
        FROM (SELECT * FROM {VERDICT}
              QUALIFY row_number() OVER (PARTITION BY id ORDER BY _row, _loc) = 1) v
        JOIN ({stored}) s ON s.event_id = v.id
        WHERE v.verdict = 'quarantine'
        GROUP BY ALL
        """, {"sha": sha256})
    con.execute(f"""UPDATE {VERDICT} AS v SET verdict = 'duplicate', reason = NULL,
                    shared = false
                    FROM {_ANSWERED} a WHERE v._row = a._row AND v._loc = a._loc""")
    con.execute(
        f"""INSERT INTO shared_rows
            SELECT $sha, kind, id, _row, _loc, 'conflict', stored FROM {_ANSWERED}
            WHERE NOT EXISTS (SELECT 1 FROM ingested_files WHERE sha256 = $sha)""",
        {"sha": sha256})
    drop(con, _ANSWERED)
