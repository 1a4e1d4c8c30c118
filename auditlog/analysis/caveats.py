"""What a missing kind or a gap (coverage.py) means for one answer, in one sentence each:
the caveats the CLI prints on stderr and the reports and the export manifest carry.

A hole in the actions can only hide what authorizes a charge, so the charges whose
verdict rests on it are the anomalous ones billed while it lasted or after it, as long
as the attribution model lets a charge follow its order (docs/attribution.md; the
parameters of queries/shared/model_params.sql), or slightly before it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from auditlog.analysis.billing_clock import EarlyCharges, early_groups
from auditlog.analysis.id_spellings import charge_misses, recorded_spellings
from auditlog.ingest.coverage import Coverage, Gap, coverage
from auditlog.store.attribution import table_exists

# What each answer reads; `run` reads what its rules declare in `requires`.
NEEDS: dict[str, tuple[str, ...]] = {
    "remediation": ("actions", "charges", "changes"),
    "trace charge": ("actions", "charges", "changes", "privileges"),
    "trace change": ("changes", "charges", "actions"),
    "trace account": ("actions", "privileges"),
    "report": ("actions", "charges", "changes", "privileges"),
    "export": ("actions", "charges", "changes"),
}

# What an answer cannot tell when a kind holds no rows at all.
WITHOUT = {
    "actions": "every one-time charge looks anomalous, because no action can show that its "
               "customer ordered it",
    "charges": "there are no charges to judge",
    "changes": "no change can be blamed for a charge",
    "privileges": "no privilege can be shown to have allowed an action",
}

# What a hole in a kind other than actions does to an answer.
HOLE_EFFECT = {
    "charges": "charges billed then are not in this answer",
    "changes": "changes made then cannot be blamed",
    "privileges": "privileges granted then are not in the chain",
}

# What a quarantined row of a kind may leave out of an answer.
QUARANTINED = {
    "actions": "an order among them would show its charge was ordered",
    "charges": "a charge among them is not judged, a refund among them is not counted",
    "changes": "a change among them cannot be blamed",
    "privileges": "a grant among them is not in the chain",
}

# Charges a sentence names before it only counts the rest.
NAMED = 5
PARAMS_VIEW = "model_params"


@dataclass(frozen=True)
class Reach:
    """How far from its order a charge may be: `after` it (pairing_hours), or `before`
    it (clock_skew_minutes)."""

    after: timedelta
    before: timedelta

    def holds(self, gap: Gap, moment: datetime) -> bool:
        """Whether a charge at `moment` may have lost its order's actions to `gap`."""
        return gap.start - self.before <= moment < gap.end + self.after

    def inside(self, gap: Gap, moment: datetime) -> bool:
        """Whether it was billed while the gap lasted, give or take the clock skew."""
        return gap.start - self.before <= moment < gap.end + self.before

    def text(self) -> str:
        hours = self.after / timedelta(hours=1)
        return f"{hours:g} hour{'s' if hours != 1 else ''}"


@dataclass(frozen=True)
class Resting:
    """The anomalous charges that may rest on one actions gap: billed while it lasted
    (`inside`, most likely: an order comes seconds to minutes before its charge), or
    later but within the model's pairing window (`after`)."""

    inside: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    # False for a system whose actions never place or confirm an order (logins, say):
    # a hole there hides no authorization, so no verdict rests on it.
    orders: bool = True


def model_reach(con: duckdb.DuckDBPyConnection) -> Reach:
    """The attribution model's own parameters, read from its SQL, never restated here,
    with the values the latest run was given (pack/params.py), as the views had them."""
    from auditlog.pack.params import with_model_params
    from auditlog.pack.units import shared_units
    from auditlog.store.runs import latest_run_params

    params = next(unit for unit in with_model_params(shared_units(), latest_run_params(con))
                  if unit.name == PARAMS_VIEW)
    hours, minutes = con.execute(
        f"SELECT pairing_hours, clock_skew_minutes FROM ({params.body})"
    ).fetchone() or (0, 0)
    return Reach(timedelta(hours=float(hours)), timedelta(minutes=float(minutes)))


def order_holes(con: duckdb.DuckDBPyConnection, gaps: Sequence[Gap]) -> set[Gap] | None:
    """The actions gaps that may hide orders (None when there is no actions gap): those of
    a system whose actions place or confirm orders (the shared view order_actions), and
    those during which no system logged a single order action, the whole log being likely
    down then (the order systems, quieter, may be too quiet to show a gap of their own)."""
    holes = [g for g in gaps if g.kind == "actions"]
    if not holes:
        return None
    try:
        con.execute("SELECT 1 FROM order_actions LIMIT 0")
    except duckdb.CatalogException:
        from auditlog.engines.sandbox import install_shared_views

        install_shared_views(con)
    systems = {s for (s,) in con.execute("SELECT DISTINCT system FROM order_actions").fetchall()}
    return {g for g in holes if g.system in systems or not con.execute(
        "SELECT count(*) FROM order_actions WHERE ts >= $start AND ts < $end",
        {"start": g.start, "end": g.end}).fetchall()[0][0]}


def charges_on_gaps(gaps: Sequence[Gap], charges: Iterable[tuple[str, datetime]],
                    reach: Reach, orders: Collection[Gap] | None = None
                    ) -> dict[Gap, Resting]:
    """Per actions gap, the given anomalous (charge_id, charged_at) that may rest on it;
    with `orders` (order_holes), a gap not among them holds none."""
    others = [g for g in gaps if g.kind == "actions" and orders is not None
              and g not in orders]
    holes = [g for g in gaps if g.kind == "actions" and g not in others]
    inside: dict[Gap, list[str]] = {g: [] for g in holes}
    after: dict[Gap, list[str]] = {g: [] for g in holes}
    for charge_id, charged_at in charges:
        for gap in holes:
            if reach.holds(gap, charged_at):
                (inside if reach.inside(gap, charged_at) else after)[gap].append(charge_id)
    return {**{g: Resting(tuple(inside[g]), tuple(after[g])) for g in holes},
            **{g: Resting(orders=False) for g in others}}


def anomalous_on_gaps(con: duckdb.DuckDBPyConnection, gaps: Sequence[Gap],
                      reach: Reach, change_id: str | None = None) -> dict[Gap, Resting]:
    """charges_on_gaps over the shared view `anomalous_charges` (those blamed on
    `change_id` if given), read only when there is an actions gap at all (over the stored
    attribution after a run, a look-up)."""
    holes = [g for g in gaps if g.kind == "actions"]
    if not holes:
        return {}
    orders = order_holes(con, holes)  # installs the shared views
    rows = con.execute(
        "SELECT charge_id, charged_at FROM anomalous_charges "
        "WHERE charged_at >= $lo AND charged_at < $hi "
        "AND ($change IS NULL OR change_id = $change) ORDER BY charged_at, charge_id",
        {"lo": min(g.start for g in holes) - reach.before,
         "hi": max(g.end for g in holes) + reach.after, "change": change_id},
    ).fetchall()
    return charges_on_gaps(holes, rows, reach, orders)


def answer_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str], *,
                   charges: Iterable[tuple[str, datetime]] | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   change_id: str | None = None, answer: str | None = None) -> list[str]:
    """The caveats of an answer that reads the kinds `needs` (in [since, until) if given).
    `charges` are the answer's anomalous (charge_id, charged_at) when the caller has them;
    otherwise they are read from the shared views (those blamed on `change_id` if given),
    and only if an actions gap needs them. `answer` (a name of NEEDS) adds what the latest
    run found of ids its joins miss in another spelling (`run` tells its own)."""
    cov, reach = coverage(con).needed_by(needs, since, until), model_reach(con)
    on_gaps = anomalous_on_gaps(con, cov.gaps, reach, change_id) if charges is None else \
        charges_on_gaps(cov.gaps, charges, reach, order_holes(con, cov.gaps))
    # Not limited to `change_id`: a charge that pairs with nothing is blamed on no
    # change, yet may be the change's once paired.
    return caveats(cov, reach, on_gaps) + zone_caveats(con, needs) \
        + clock_caveats(con, needs, reach) + untyped_caveats(con, needs, change_id=change_id) \
        + quarantine_caveats(con, needs) + (spelling_caveats(con, answer) if answer else [])


def charge_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str], charge_id: str,
                   anomalous: bool, unblamed_actor: str | None = None) -> list[str]:
    """The caveats of one charge's trace: missing kinds, and the gaps the charge may rest
    on; a hole in the actions only for an anomalous verdict (it cannot make one);
    `unblamed_actor`, the actor of an anomalous charge no change is blamed for, is said
    when no log gives its type (untyped_caveats)."""
    cov, reach = coverage(con).needed_by(needs), model_reach(con)
    row = con.execute("SELECT min(ts) FROM charges WHERE charge_id = $id",
                      {"id": charge_id}).fetchone()
    at = row[0] if row else None
    orders = order_holes(con, cov.gaps) or set()
    gaps = tuple(g for g in cov.gaps if at is not None and reach.holds(g, at)
                 and (g.kind != "actions" or (anomalous and g in orders)))
    return caveats(Coverage(cov.sources, cov.missing, gaps), reach,
                   {g: Resting((charge_id,)) if at is not None and reach.inside(g, at)
                    else Resting(after=(charge_id,))
                    for g in gaps if g.kind == "actions"}) \
        + zone_caveats(con, needs) \
        + (clock_caveats(con, needs, reach, charge_id=charge_id) if anomalous else []) \
        + (untyped_caveats(con, needs, charge_id=charge_id)
           if anomalous and unblamed_actor is not None else []) \
        + spelling_caveats(con, "trace charge", charge_id=charge_id)


def clock_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str], reach: Reach, *,
                  charge_id: str | None = None) -> list[str]:
    """One sentence when anomalous charges of the answer look billed before their orders
    by more than the model's clock skew (billing_clock.py)."""
    if not {"actions", "charges"} <= set(needs):
        return []
    shared_views(con)
    return [early_sentence(early)
            for early in early_groups(con, reach.before, reach.after, charge_id=charge_id)]


def early_sentence(early: EarlyCharges) -> str:
    """The clock caveat: which charges, how early, and the skew that would pair them;
    for charges that carry dates only, that no skew is meant (dated_sentence)."""
    if early.dated:
        return dated_sentence(early)
    count = len(early.charges)
    low, high = (round(min(early.leads) / timedelta(minutes=1)),
                 round(max(early.leads) / timedelta(minutes=1)))
    span = f"{low}" if low == high else f"{low} to {high}"
    allowed = round(early.allowed / timedelta(minutes=1))
    one = count == 1
    return (f"{charges_text(early.charges)} {'was' if one else 'were'} billed {span} minutes "
            f"before an order of {'its' if one else 'their'} customer and product that no "
            f"charge bills, more than the {allowed} minutes billing's clock may run behind "
            "the order systems' (clock_skew_minutes); if it runs that far behind, auditlog "
            f"run --param clock_skew_minutes={early.suggested_minutes()} pairs "
            f"{'it with its order' if one else 'them with their orders'}.")


def dated_sentence(early: EarlyCharges) -> str:
    """The clock caveat of charges that carry dates only (read as their day's midnight):
    hours before their orders by their form, so their pairing rests on the day, which
    no clock skew in minutes fixes; what pairs them is the order id or the time of day."""
    one = len(early.charges) == 1
    low, high = (max(1, round(min(early.leads) / timedelta(hours=1))),
                 max(1, round(max(early.leads) / timedelta(hours=1))))
    span = f"{high} hour{'' if high == 1 else 's'}" if low == high else f"{low} to {high} hours"
    return (f"{charges_text(early.charges)} {'carries' if one else 'carry'} a date only (no "
            f"time of day, read as {'its' if one else 'their'} day's midnight) and "
            f"{'was' if one else 'were'} billed about {span} before an order of "
            f"{'its' if one else 'their'} customer and product that no charge bills: "
            f"{'its' if one else 'their'} pairing with an order rests on the day, not on "
            "minutes of clock skew (clock_skew_minutes is not meant for it); export the order_id with each charge, or its time of "
            "day, and load it again (auditlog forget the file first) to pair "
            f"{'it' if one else 'them'}.")


# The anomalous charges no change is blamed for whose causal action ran in a system that
# has changes to blame, and whose actor no log types: change_blame.sql blames only a
# service account's anomalies, and an actor is one only by its actions' actor_type or
# the accounts directory (CONTRACT.md), which real order-system logs often lack.
UNTYPED_SQL = """
    WITH unblamed AS (
        SELECT charge_id, charged_at, actor, cause_system FROM anomalous_charges
        WHERE change_id IS NULL AND cause_system IS NOT NULL AND actor IS NOT NULL
          AND actor <> account AND ($charge IS NULL OR charge_id = $charge)
    ),
    typed AS (
        SELECT DISTINCT actor FROM actions
        WHERE actor_type IS NOT NULL AND actor IN (SELECT actor FROM unblamed)
        UNION
        SELECT account FROM accounts
        WHERE account_type IS NOT NULL AND account IN (SELECT actor FROM unblamed)
    )
    SELECT u.charge_id, u.actor FROM unblamed AS u
    WHERE u.actor NOT IN (SELECT actor FROM typed)
      AND u.cause_system IN (SELECT system FROM changes
                             WHERE coalesce(kind, 'other') <> 'rollback'
                               AND ($change IS NULL OR change_id = $change))
    ORDER BY u.charged_at, u.charge_id"""


def untyped_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str], *,
                    charge_id: str | None = None, change_id: str | None = None) -> list[str]:
    """One sentence when anomalous charges are blamed on no change only because no log
    says their actor is a service account (UNTYPED_SQL): the change that made them may
    be there, and the user can tell auditlog what the account is. With `change_id`,
    those of its system (a change's impact may lack them)."""
    if not {"actions", "charges", "changes"} <= set(needs):
        return []
    shared_views(con)
    rows = con.execute(UNTYPED_SQL, {"charge": charge_id, "change": change_id}).fetchall()
    if not rows:
        return []
    charges = [charge for charge, _ in rows]
    actors = sorted({actor for _, actor in rows})
    named = ", ".join(actors[:NAMED]) + (f" and {len(actors) - NAMED:,} more"
                                         if len(actors) > NAMED else "")
    one, alone = len(charges) == 1, len(actors) == 1
    return [f"{charges_text(charges)} {'was' if one else 'were'} caused by {named}, whose "
            f"type no log gives (no actor_type on {'its' if alone else 'their'} actions, "
            "not in the accounts directory): only a service account's anomalies are "
            f"blamed on a change, so none is blamed for {'it' if one else 'them'}; if "
            + ("it is a service account, give its" if alone
               else "they are service accounts, give their")
            + " actions actor_type 'service' or load an accounts directory that says so."]


def shared_views(con: duckdb.DuckDBPyConnection) -> None:
    """The shared views on `con`, installed when they are not there yet."""
    try:
        con.execute("SELECT 1 FROM order_actions, anomalous_charges LIMIT 0")
    except duckdb.CatalogException:
        from auditlog.engines.sandbox import install_shared_views

        install_shared_views(con)


def zone_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str]) -> list[str]:
    """One sentence per file of a kind in `needs` whose naive times were read in a zone
    nobody chose (ingest without --tz: UTC); naming it on a reload confirms it."""
    if not table_exists(con, "naive_files"):
        return []
    rows = con.execute(
        """
        SELECT f.path, f.kind, f.tz, n.naive_times FROM naive_files n
        JOIN ingested_files f USING (sha256, path)
        WHERE NOT n.chosen AND list_has_any(string_split(f.kind, '+'), $needs)
        ORDER BY f.path
        """, {"needs": sorted(set(needs))}).fetchall()
    return [f"{count:,} timestamp(s) in {path} ({kind}) carry no offset and were read in "
            f"{tz} because no --tz was given; if they are local times, every time from that "
            f"file is off by their zone's offset (load it with --tz {tz} to confirm, or "
            "forget it and load it again with --tz ZONE)."
            for path, kind, tz, count in rows]


def quarantine_caveats(con: duckdb.DuckDBPyConnection, needs: Iterable[str]) -> list[str]:
    """One sentence per kind in `needs` with rows in quarantine: ingest reported them
    once, but an answer read days later (a refund list, an export for compliance) should
    still say that rows it may need were never loaded: a quarantined refund leaves its
    charge outstanding, a quarantined order leaves its charge without one."""
    if not table_exists(con, "quarantine"):
        return []
    rows = con.execute(
        """
        SELECT k.kind, count(*) AS n, count(DISTINCT q.path) AS files
        FROM quarantine AS q, unnest(string_split(q.kind, '+')) AS k(kind)
        WHERE k.kind IN (SELECT unnest($needs))
        GROUP BY k.kind ORDER BY k.kind
        """, {"needs": sorted(set(needs))}).fetchall()
    return [f"{n:,} {'row' if n == 1 else 'rows'} of {kind} {'was' if n == 1 else 'were'} quarantined at ingest "
            f"(from {files:,} {'file' if files == 1 else 'files'}) and {'is' if n == 1 else 'are'} "
            f"not in this answer: {QUARANTINED[kind]} (auditlog quarantine lists them)."
            for kind, n, files in rows if kind in QUARANTINED]


def spelling_caveats(con: duckdb.DuckDBPyConnection, answer: str, *,
                     charge_id: str | None = None) -> list[str]:
    """One sentence per join `answer` relies on whose ids the latest run found matching
    only in another spelling (id_spellings.py): read from what it kept, not looked for
    again; for one charge's trace (`charge_id`), the joins of its own ids only when they
    miss exactly (one look-up, and only when the run found such ids)."""
    recorded = recorded_spellings(con)
    if not recorded.found:
        return []
    misses = charge_misses(con, charge_id) if charge_id is not None else None
    return [f"{recorded.found_by()} {found.text()}."
            for found in recorded.affecting(answer, misses=misses)]


def caveats(cov: Coverage, reach: Reach, on_gaps: Mapping[Gap, Resting]) -> list[str]:
    """One sentence per missing kind and per gap of `cov` (see Coverage.needed_by);
    `on_gaps` gives the anomalous charges that rest on each actions gap."""
    lines = [f"the {kind} log holds no rows, so {WITHOUT[kind]}." for kind in cov.missing]
    for gap in cov.gaps:
        effect = HOLE_EFFECT.get(gap.kind) or actions_effect(on_gaps.get(gap, Resting()),
                                                             reach)
        lines.append(f"{gap_text(gap)}; {effect}.")
    return lines


def sentence(caveat: str) -> str:
    """A caveat as a document's sentence: capitalized (on stderr it follows 'warning: ')."""
    return caveat[:1].upper() + caveat[1:]


def gap_text(gap: Gap) -> str:
    source = f"the {gap.kind} log" + (f" of system {gap.system}" if gap.system else "")
    return (f"{source} has no events {window_text(gap.start, gap.end)} "
            f"(about {gap.expected:,} expected)")


def actions_effect(resting: Resting, reach: Reach) -> str:
    later = f"billed up to {reach.text()} after it"
    if not resting.orders:
        return ("that system places and confirms no orders and the order systems logged "
                "orders meanwhile, so no charge's verdict rests on it, but its actions from "
                "then are not in this answer")
    if not resting.inside and not resting.after:
        return (f"no anomalous charge of this answer was billed then or "
                f"{later.removeprefix('billed ')}, but actions from then are not in it")
    if not resting.inside:
        return f"{charges_text(resting.after)} {later} may rest on it"
    text = (f"{charges_text(resting.inside, 'billed in that window ')} may be judged "
            f"anomalous only because {'its' if len(resting.inside) == 1 else 'their'} "
            "actions are missing")
    if resting.after:
        text += f"; {len(resting.after):,} more {later} may rest on it too"
    return text


def charges_text(charges: Sequence[str], where: str = "") -> str:
    """'6 anomalous charges billed in that window (CH1, CH2, ... and 1 more)'."""
    count = len(charges)
    named = ", ".join(charges[:NAMED]) + (f" and {count - NAMED:,} more" if count > NAMED else "")
    return f"{count:,} anomalous charge{'s' if count != 1 else ''} {where}({named})"


def window_text(start: datetime, end: datetime) -> str:
    """'from 2026-09-23 02:00 to 08:00 UTC', with the end's date when it differs."""
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M}"
    return f"from {start:%Y-%m-%d %H:%M} to {until} UTC"
