"""The shipped mappings (auditlog/ingest/mappings/) on their real public samples, row by
row, named as `--mapping NAME` from the CLI: what loads, as what, and what their filters
set aside (quarantined with the filter's name, so that no row is lost)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from auditlog import store
from auditlog.cli import app
from auditlog.ingest.standard.mapping import shipped_mappings

DATA = Path(__file__).resolve().parent / "data"
runner = CliRunner()


def cli(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = store.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def reasons(db: Path) -> list[tuple[int, str]]:
    return [(n, r) for n, r in query(db, "SELECT row_number, reason FROM quarantine "
                                         "ORDER BY file_sha256, row_number")]


def test_every_shipped_mapping_has_a_sample_folder_and_is_documented() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "mappings.md").read_text()
    assert shipped_mappings() == ["jira_cloud_audit", "servicenow_change_requests",
                                  "stripe_charges"]
    for name in shipped_mappings():
        assert f"`{name}`" in docs


def test_ingest_help_names_every_shipped_mapping() -> None:
    result = runner.invoke(app, ["ingest", "--help"], env={"COLUMNS": "200"})
    help_text = " ".join(result.output.split())
    assert all(name in help_text for name in shipped_mappings()), help_text


def test_servicenow_change_request_loads_as_a_change_and_other_tables_are_set_aside(
        tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    sample = DATA / "servicenow" / "elastic_servicenow_test-event.log"
    (result,) = cli("ingest", str(sample), "--db", str(db), "--mapping",
                    "servicenow_change_requests")
    assert (result["kind"], result["rows_read"], result["loaded"], result["quarantined"]) == (
        "changes", 2, 1, 1)
    assert query(db, "SELECT change_id, system, kind, summary, implementer, approver, ticket, "
                     "strftime(started_at, '%Y-%m-%dT%H:%M:%SZ'), "
                     "strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ'), status, "
                     "extra -> '$.approval' ->> '$.value', extra -> '$.closed_by' ->> '$.value' "
                     "FROM changes") == [
        ("CHG0000024", "Network", "other", "Clear BGP sessions on a Cisco router",
         "System Administrator", None, "CHG0000024", "2015-07-06T18:56:04Z",
         "2015-07-06T18:56:10Z", "success", "approved", "6816f79cc0a8016401c5a33be04be441")]
    assert reasons(db) == [(2, ("filtered out by mapping servicenow_change_requests: filter "
                                "change_requests keeps only rows whose table_name is "
                                "change_request"))]


def test_servicenow_display_value_export_gives_the_same_change_in_its_zone(
        tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    flat = DATA / "servicenow" / "elastic_servicenow_test-event-aws-with-display-values.log"
    (result,) = cli("ingest", str(flat), "--db", str(db), "--mapping",
                    "servicenow_change_requests", "--tz", "America/Los_Angeles")
    assert (result["kind"], result["loaded"], result["quarantined"]) == ("changes", 1, 0)
    assert query(db, "SELECT change_id, system, kind, summary, implementer, ticket, "
                     "strftime(started_at, '%Y-%m-%dT%H:%M:%SZ'), "
                     "strftime(finished_at, '%Y-%m-%dT%H:%M:%SZ'), status, "
                     "extra ->> '$.approval' FROM changes") == [
        ("CHG0000024", "Network", "other", "Clear BGP sessions on a Cisco router",
         "System Administrator", "CHG0000024", "2015-07-06T18:56:04Z",
         "2015-07-06T18:56:10Z", "success", "Approved")]


def test_servicenow_times_are_utc_as_the_mapping_says_without_a_warning(
        tmp_path: Path) -> None:
    sample = DATA / "servicenow" / "elastic_servicenow_test-event.log"
    result = runner.invoke(app, ["ingest", str(sample), "--db", str(tmp_path / "d.duckdb"),
                                 "--mapping", "servicenow_change_requests"])
    assert result.exit_code == 0 and "no offset" not in result.output


def test_stripe_charges_load_in_major_units_with_their_customer_and_product(
        tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    results = cli("ingest", str(DATA / "stripe"), "--db", str(db), "--mapping",
                  "stripe_charges")
    assert [(r["kind"], r["rows_read"], r["loaded"]) for r in results] == [
        ("charges", 1, 1), ("charges", 1, 1)]
    assert query(db, "SELECT charge_id, strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), account, product, "
                     "amount, currency, type, system, channel, "
                     "extra ->> '$.payment_intent' FROM charges ORDER BY charge_id") == [
        ("ch_1JHRCWJSZQVUcJYgOCavbxio", "2019-05-16T08:26:17Z", "cus_6lsBvm5rJ0zyHc",
         "consulting", Decimal("10.0000"), "USD", "one_time", "stripe", "api",
         "pi_1JAyTwJSZQVUcJYgBbsz0NuH"),
        # Billed through an invoice: a subscription's charge.
        ("ch_fakefakefakefakefake0001", "2019-05-16T08:26:17Z", "cus_6lsBvm5rJ0zyHc",
         "Subscription creation", Decimal("20.0000"), "USD", "recurring", "stripe", "api",
         "pi_fakefakefakefakefake0001"),
    ]


def test_stripe_events_give_the_same_charge_and_other_charge_events_are_set_aside(
        tmp_path: Path) -> None:
    charge = json.loads((DATA / "stripe" / "djstripe_charge_ch_fakefakefakefakefake0001.json")
                        .read_text(encoding="utf-8"))
    events = [{"id": "evt_1", "object": "event", "type": "charge.succeeded",
               "created": 1557995178, "data": {"object": charge}},
              {"id": "evt_2", "object": "event", "type": "charge.updated",
               "created": 1557995190, "data": {"object": charge}},
              {"id": "evt_3", "object": "event", "type": "customer.created",
               "created": 1557995100, "data": {"object": {"id": "cus_6lsBvm5rJ0zyHc",
                                                          "object": "customer"}}}]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    db = tmp_path / "d.duckdb"
    (result,) = cli("ingest", str(path), "--db", str(db), "--mapping", "stripe_charges")
    assert (result["loaded"], result["quarantined"]) == (1, 2)
    assert query(db, "SELECT charge_id, strftime(ts, '%Y-%m-%dT%H:%M:%SZ'), account, product, "
                     "amount, currency, type, extra ->> '$.\"source.type\"' FROM charges") == [
        ("ch_fakefakefakefakefake0001", "2019-05-16T08:26:17Z", "cus_6lsBvm5rJ0zyHc",
         "Subscription creation", Decimal("20.0000"), "USD", "recurring", "charge.succeeded")]
    assert [n for n, r in reasons(db) if "filter charges keeps only rows whose type / "
                                          "object is one of charge.succeeded, charge" in r] == [2, 3]


@pytest.mark.parametrize(("currency", "minor", "major"), [
    ("usd", "1999", "19.99"), ("JPY", "1999", "1999"), ("kwd", "1999", "1.999"),
    ("eur", "5", "0.05")])
def test_stripe_minor_units_follow_the_currency(tmp_path: Path, currency: str, minor: str,
                                                 major: str) -> None:
    charge = {"id": "ch_1", "object": "charge", "created": 1557995177, "customer": "cus_1",
              "description": "Plan", "statement_descriptor": None,
              "calculated_statement_descriptor": "X", "amount": int(minor),
              "currency": currency, "status": "succeeded"}
    path = tmp_path / "charges.jsonl"
    path.write_text(json.dumps(charge) + "\n", encoding="utf-8")
    db = tmp_path / "d.duckdb"
    cli("ingest", str(path), "--db", str(db), "--mapping", "stripe_charges")
    ((amount,),) = query(db, "SELECT CAST(amount AS VARCHAR) FROM charges")
    assert Decimal(amount) == Decimal(major)


def test_jira_group_additions_load_as_grants_by_jira_itself(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    (result,) = cli("ingest", str(DATA / "jira" / "elastic_jira_test-audit-cloud.log"),
                    "--db", str(db), "--mapping", "jira_cloud_audit")
    assert (result["kind"], result["rows_read"], result["loaded"], result["quarantined"]) == (
        "privileges", 9, 3, 6)
    assert query(db, "SELECT event_id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%gZ'), actor, subject, "
                     "privilege, operation, system, extra ->> '$.source_carries_approval' "
                     "FROM privileges ORDER BY ts") == [
        ("11935", "2022-01-14T16:37:07.126Z", "jira:system",
         "ug:14961f0e-0eda-4a4a-9e9e-9d6a617b625b", "confluence-users", "grant", "jira",
         "false"),
        ("11938", "2022-01-18T08:43:02.768Z", "jira:system",
         "ug:2281b112-0f77-4305-b779-66d30930eb83", "confluence-users", "grant", "jira",
         "false"),
        ("11939", "2022-01-18T08:43:02.838Z", "jira:system",
         "ug:2281b112-0f77-4305-b779-66d30930eb83", "jira-software-users", "grant", "jira",
         "false"),
    ]
    assert [n for n, _ in reasons(db)] == [1, 2, 3, 6, 8, 9]
    assert all(r.startswith("filtered out by mapping jira_cloud_audit: filter "
                            "group_membership") for _, r in reasons(db))


def test_jira_grants_fire_the_privilege_rules_and_ask_no_approval(tmp_path: Path) -> None:
    db = tmp_path / "d.duckdb"
    cli("ingest", str(DATA / "jira" / "elastic_jira_test-audit-cloud.log"), "--db", str(db),
        "--mapping", "jira_cloud_audit")
    run = runner.invoke(app, ["run", "--db", str(db), "--rule", "admin_grant", "--rule",
                              "grant_without_approval", "--param",
                              "admin_privileges=confluence-users"])
    assert run.exit_code == 0, run.output
    findings = cli("findings", "--db", str(db))
    # The two grants of confluence-users; none for a missing approval.
    assert sorted((f["rule_id"], f["actor"], f["account"]) for f in findings) == [
        ("admin_grant", "jira:system", "ug:14961f0e-0eda-4a4a-9e9e-9d6a617b625b"),
        ("admin_grant", "jira:system", "ug:2281b112-0f77-4305-b779-66d30930eb83")]


def test_strict_does_not_count_rows_a_filter_set_aside(tmp_path: Path) -> None:
    (result,) = cli("ingest", str(DATA / "jira" / "elastic_jira_test-audit-cloud.log"),
                    "--db", str(tmp_path / "d.duckdb"), "--mapping", "jira_cloud_audit",
                    "--strict")
    assert (result["loaded"], result["quarantined"]) == (3, 6)


def test_the_ingest_says_how_many_quarantined_rows_the_filters_set_aside(
        tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(DATA / "jira" /
                                                "elastic_jira_test-audit-cloud.log"),
                                 "--db", str(tmp_path / "d.duckdb"), "--mapping",
                                 "jira_cloud_audit"])
    assert result.exit_code == 0
    said = " ".join(result.stderr.split())
    assert "note: 6 of the 6 quarantined row(s) of " in said
    assert ("elastic_jira_test-audit-cloud.log were set aside by the mapping's filters "
            "(each reason names its filter)") in said


OPENAPI = DATA / "stripe_openapi"


def test_stripe_refunds_take_the_account_and_product_of_the_charge_they_refund(
        tmp_path: Path) -> None:
    # Stripe's own Refund fixture names its charge and no customer. Pointed at dj-stripe's
    # charge, it loads as that charge's refund, in a later call (the charge is stored)
    # and as a refund.created event in the same file as the charge.
    refund = json.loads((OPENAPI / "openapi_fixtures3_refund.json").read_text(encoding="utf-8"))
    charge = json.loads((DATA / "stripe" / "djstripe_charge_ch_fakefakefakefakefake0001.json")
                        .read_text(encoding="utf-8"))
    mine = {**refund, "charge": charge["id"]}
    db = tmp_path / "d.duckdb"
    cli("ingest", str(DATA / "stripe" / "djstripe_charge_ch_fakefakefakefakefake0001.json"),
        "--db", str(db), "--mapping", "stripe_charges")
    path = tmp_path / "refunds.json"
    path.write_text(json.dumps({"object": "list", "data": [mine]}["data"]), encoding="utf-8")
    (result,) = cli("ingest", str(path), "--db", str(db), "--mapping", "stripe_charges")
    assert (result["loaded"], result["quarantined"]) == (1, 0)
    expected = [("re_1Pgc72B7WZ01zgkWqPvrRrPE", "cus_6lsBvm5rJ0zyHc", "Subscription creation",
                 Decimal("1.0000"), "USD", "refund", "ch_fakefakefakefakefake0001")]
    sql = ("SELECT charge_id, account, product, amount, currency, type, refund_of "
           "FROM charges WHERE type = 'refund'")
    assert query(db, sql) == expected

    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in [
        {"id": "evt_1", "object": "event", "type": "charge.succeeded", "created": 1557995178,
         "data": {"object": charge}},
        {"id": "evt_2", "object": "event", "type": "refund.created", "created": 1557995190,
         "data": {"object": mine}}]), encoding="utf-8")
    other = tmp_path / "other.duckdb"
    (result,) = cli("ingest", str(events), "--db", str(other), "--mapping", "stripe_charges")
    assert (result["loaded"], result["quarantined"]) == (2, 0)
    assert query(other, sql) == expected


def test_a_stripe_refund_whose_charge_names_no_customer_is_quarantined_saying_so(
        tmp_path: Path) -> None:
    # Stripe's fixtures as they are: the charge has no customer, so neither it nor its
    # refund can say whom they billed; both are quarantined, the refund with why.
    db = tmp_path / "d.duckdb"
    results = cli("ingest", str(OPENAPI), "--db", str(db), "--mapping", "stripe_charges")
    assert [(Path(r["path"]).name, r["loaded"], r["quarantined"]) for r in results] == [
        ("openapi_fixtures3_charge.json", 0, 1), ("openapi_fixtures3_refund.json", 0, 1)]
    assert sorted(r for _, r in reasons(db)) == [
        "missing required field account",
        ("refund re_1Pgc72B7WZ01zgkWqPvrRrPE names no account, and the charge it refunds, "
        "ch_1PgafuB7WZ01zgkWXYmPNZs8, is not in this file nor loaded with an account, so "
        "whom it refunded is unknown (mapping stripe_charges): load the file holding that "
        "charge first (before this one in the same call, or earlier), then forget this "
        "file and load it again")]


def test_a_csv_refund_export_through_a_mapping_takes_its_charges_account_too(
        tmp_path: Path) -> None:
    # A dashboard's refunds CSV names the charge, not the customer; read with a mapping
    # of the user's, each refund takes its (stored) charge's account and product.
    db = tmp_path / "d.duckdb"
    cli("ingest", str(DATA / "stripe" / "djstripe_charge_ch_fakefakefakefakefake0001.json"),
        "--db", str(db), "--mapping", "stripe_charges")
    data = tmp_path / "refunds.csv"
    data.write_text("id,Amount,Currency,Charge ID,Created (UTC)\n"
                    "re_1,5.00,usd,ch_fakefakefakefakefake0001,2019-05-17 10:00\n"
                    "re_2,5.00,usd,ch_unknown,2019-05-17 10:00\n", encoding="utf-8")
    mapping = tmp_path / "refunds.toml"
    mapping.write_text('kind = "charges"\n[columns]\nid = "charge_id"\nAmount = "amount"\n'
                       'Currency = "currency"\n"Charge ID" = "refund_of"\n'
                       '"Created (UTC)" = "ts"\n[fields]\naccount = "Customer?"\n'
                       'product = "Description?"\n', encoding="utf-8")
    (result,) = cli("ingest", str(data), "--db", str(db), "--mapping", str(mapping),
                    "--tz", "UTC")
    assert (result["loaded"], result["quarantined"]) == (1, 1)
    assert query(db, "SELECT charge_id, account, product, type FROM charges "
                     "WHERE refund_of IS NOT NULL") == [
        ("re_1", "cus_6lsBvm5rJ0zyHc", "Subscription creation", "refund")]
    ((reason,),) = query(db, "SELECT reason FROM quarantine")
    assert reason.startswith("refund re_2 names no account, and the charge it refunds, "
                             "ch_unknown, is not in this file nor loaded")
