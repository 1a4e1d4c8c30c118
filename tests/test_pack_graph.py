"""The pack as a graph: shared units ordered by what their SQL reads, and each rule's
`requires` derived from its SQL through the units it needs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from auditlog.errors import RuleError
from auditlog.kinds import KINDS
from auditlog.pack import load_all, load_rules
from auditlog.pack.units import (
    load_units,
    needed_units,
    raw_tables,
    shared_units,
    sql_reads,
)
from auditlog.store import create_schema
from auditlog.store.attribution import fingerprint
from auditlog.store.database import RECORD_VIEWS


def write_units(folder: Path, units: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in units.items():
        (folder / f"{name}.sql").write_text(sql, encoding="utf-8")
    return folder


def test_a_unit_comes_after_what_it_reads_whatever_the_file_names(tmp_path: Path) -> None:
    # By file name the order would be a_top, m_mid, z_base: each before what it reads.
    shared = write_units(tmp_path / "shared", {
        "a_top": "SELECT * FROM m_mid JOIN changes USING (change_id)",
        "m_mid": "SELECT * FROM z_base WHERE amount > 0",
        "z_base": "SELECT * FROM charges",
        "b_alone": "SELECT * FROM actions",
        "c_alone": "SELECT 1 AS one",
    })
    units = load_units([(shared, "view")])
    # Ties (units ready at the same time) go by name, so the order is stable.
    assert [u.name for u in units] == ["b_alone", "c_alone", "z_base", "m_mid", "a_top"]
    assert {u.kind for u in units} == {"view"}
    assert [u.name for u in needed_units("SELECT * FROM a_top", units)] == [
        "z_base", "m_mid", "a_top"]
    assert raw_tables("SELECT * FROM a_top", units) == {"charges", "changes"}


def test_reads_come_from_the_tree_not_the_text(tmp_path: Path) -> None:
    # A CTE named like a unit shadows it; a string or a comment naming one reads nothing.
    sql = ("-- reads z_base? no\nWITH z_base AS (SELECT * FROM actions)\n"
           "SELECT 'm_mid' AS label, * FROM z_base")
    assert sql_reads(sql) == {"actions"}
    units = load_units([(write_units(tmp_path / "shared", {
        "z_base": "SELECT * FROM charges", "m_mid": "SELECT * FROM z_base"}), "view")])
    assert needed_units(sql, units) == []
    assert raw_tables(sql, units) == {"actions"}


def test_controls_are_units_of_their_own_kind_ordered_with_the_views(tmp_path: Path) -> None:
    shared = write_units(tmp_path / "shared", {"base": "SELECT * FROM changes"})
    controls = write_units(tmp_path / "controls", {"a_check": "SELECT * FROM base"})
    units = load_units([(shared, "view"), (controls, "control"),
                        (tmp_path / "absent", "control")])
    assert [(u.name, u.kind) for u in units] == [("base", "view"), ("a_check", "control")]


def test_a_cycle_is_refused_naming_both_files(tmp_path: Path) -> None:
    shared = write_units(tmp_path / "shared", {
        "first": "SELECT * FROM second", "second": "SELECT * FROM first JOIN charges ON true",
        "innocent": "SELECT * FROM charges"})
    with pytest.raises(RuleError, match="cycle") as raised:
        load_units([(shared, "view")])
    message = str(raised.value)
    assert str(shared / "first.sql") in message and str(shared / "second.sql") in message
    assert "innocent" not in message


def test_a_name_defined_twice_is_refused_naming_both_files(tmp_path: Path) -> None:
    shared = write_units(tmp_path / "shared", {"twice": "SELECT * FROM changes"})
    controls = write_units(tmp_path / "controls", {"twice": "SELECT * FROM privileges"})
    with pytest.raises(RuleError, match="'twice' is defined twice") as raised:
        load_units([(shared, "view"), (controls, "control")])
    assert str(shared / "twice.sql") in str(raised.value)
    assert str(controls / "twice.sql") in str(raised.value)


def test_a_unit_sqlglot_cannot_parse_is_refused_naming_its_file(tmp_path: Path) -> None:
    shared = write_units(tmp_path / "shared", {"broken": "SELECT FROM WHERE ((("})
    with pytest.raises(RuleError, match="cannot parse") as raised:
        load_units([(shared, "view")])
    assert str(shared / "broken.sql") in str(raised.value)


def test_the_builtin_units_are_ordered_by_what_they_read() -> None:
    units = shared_units()
    names = [u.name for u in units]
    assert len(names) == len(set(names))
    assert {"model_params", "charge_causes", "anomalous_charges", "privilege_grants"} <= set(names)
    for position, unit in enumerate(units):
        # kinds, their <kind>_with_record views (store.database) and other units
        assert unit.reads <= set(KINDS) | set(RECORD_VIEWS) | set(names), unit.source
        assert unit.reads & set(names) <= set(names[:position]), unit.name
        assert not Path(unit.source).name[0].isdigit()  # no order in the file names
    assert names.index("unordered_causes") > names.index("model_params")
    assert names.index("anomalous_charges") > names.index("change_blame") > names.index(
        "charge_causes")


def test_needed_units_are_transitive_and_in_creation_order() -> None:
    units = shared_units()
    names = [u.name for u in units]
    needed = [u.name for u in needed_units("SELECT * FROM change_blame")]
    assert needed == sorted(needed, key=names.index)
    assert {"change_blame", "charge_causes", "service_accounts", "order_causes",
            "unordered_causes", "sale_charges", "order_actions", "model_params"} <= set(needed)
    assert "charge_refunds" not in needed and "privilege_grants" not in needed
    assert needed_units("SELECT * FROM changes") == []


def test_requires_of_three_rules_spelled_out() -> None:
    rules = {r.id: r for r in load_rules()}
    # Reads anomalous_charges: the model's views read charges and actions, the blamed
    # change reads changes, and service accounts come from the accounts directory too.
    assert rules["unrefunded_anomalous_charge"].requires == (
        "actions", "changes", "charges", "accounts")
    assert rules["operator_many_customers"].requires == ("actions",)
    assert rules["admin_grant"].requires == ("privileges",)


def scanned_tables(node: dict[str, object]) -> set[str]:
    info = node.get("extra_info")
    found = set()
    if isinstance(info, dict) and isinstance(info.get("Table"), str):
        found.add(info["Table"].split(".")[-1].strip('"'))
    children = node.get("children")
    for child in children if isinstance(children, list) else []:
        found |= scanned_tables(child)
    return found


def test_every_shipped_rule_requires_exactly_what_duckdb_scans_for_it() -> None:
    # An oracle independent of sqlglot: DuckDB's own binder, the shared units installed
    # as plain views and the optimizer off (so no scan is pruned), lists the tables a
    # rule's plan scans.
    con = duckdb.connect()
    create_schema(con)
    for unit in shared_units():
        con.execute(f"CREATE TEMP VIEW {unit.name} AS {unit.body}")
    con.execute("PRAGMA disable_optimizer")
    rules = load_rules()
    assert len(rules) >= 20
    for rule in rules:
        ((_, plan),) = con.execute(f"EXPLAIN (FORMAT json) {rule.sql}", rule.bind()).fetchall()
        scanned = set().union(*(scanned_tables(node) for node in json.loads(plan)))
        assert set(rule.requires) == scanned & set(KINDS), rule.id
        assert rule.requires == tuple(k for k in KINDS if k in rule.requires)  # kinds order


def test_the_shipped_metadata_states_no_requires() -> None:
    for rule in load_rules():
        toml = Path(rule.source).with_suffix(".toml").read_text(encoding="utf-8")
        assert not any(line.startswith("requires") for line in toml.splitlines()), rule.id


RULE_META = """title = "t"
severity = "low"
description = "d"
rationale = "r"
investigate = "i"
{requires}
"""
RULE_SQL = """SELECT c.ts, NULL AS change_id, a.actor, c.account, c.amount,
    list_value(c.charge_id) AS evidence, c.charge_id AS key
FROM charges AS c JOIN actions AS a ON a.order_id = c.order_id"""


def user_rule(root: Path, rule_id: str, requires: str) -> Path:
    pack = root / "custom"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / f"{rule_id}.sql").write_text(RULE_SQL, encoding="utf-8")
    (pack / f"{rule_id}.toml").write_text(RULE_META.format(requires=requires), encoding="utf-8")
    return pack / f"{rule_id}.toml"


def test_a_user_rule_stating_a_wrong_requires_is_refused_naming_its_toml(tmp_path: Path) -> None:
    wrong = user_rule(tmp_path, "wrong", 'requires = ["charges"]')
    user_rule(tmp_path, "stated", 'requires = ["charges", "actions"]')  # order is free
    user_rule(tmp_path, "derived", "")
    result = load_all([tmp_path / "custom"], builtin=False)
    assert sorted(r.id for r in result.rules) == ["derived", "stated"]
    assert {r.requires for r in result.rules} == {("actions", "charges")}
    (error,) = result.errors
    assert error.source == str(wrong)
    assert "requires ['charges'] but its SQL reads ['actions', 'charges']" in str(error)


def test_a_requires_that_is_not_a_list_of_kinds_is_refused(tmp_path: Path) -> None:
    user_rule(tmp_path, "text", 'requires = "charges"')
    user_rule(tmp_path, "unknown", 'requires = ["charges", "actions", "payments"]')
    messages = sorted(str(e) for e in load_all([tmp_path / "custom"], builtin=False).errors)
    assert len(messages) == 2
    assert "'requires' must be a list of kind names" in messages[0]
    assert "requires unknown kinds ['payments']" in messages[1]


def test_the_stored_attributions_fingerprint_covers_every_units_sql() -> None:
    # A changed view or control makes the stored attribution stale (store/attribution.py).
    con = duckdb.connect()
    create_schema(con)
    units = shared_units()
    base = fingerprint(con, units)
    assert fingerprint(con, shared_units()) == base
    for n, unit in enumerate(units):
        edited = [*units[:n], replace(unit, sql=unit.sql + "\n-- edited"), *units[n + 1:]]
        assert fingerprint(con, edited) != base, unit.name
