"""Sigma rules imported as packs (issue 13): SigmaHQ's CloudTrail and Kubernetes audit
rules (tests/data/sigma, DRL 1.1, LICENSE beside them) convert, their cases pass, and on
the real CloudTrail and Kubernetes samples their findings cite exactly the events that a
reference evaluation gives: each rule's detection evaluated directly over the raw JSON
records, by the small evaluator below. It reads the YAML itself (not pySigma) and knows
only what those rules use, so it shares no code with the importer.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from auditlog.cli import app
from auditlog.investigation import Investigation

DATA = Path(__file__).parent / "data"
SIGMA = DATA / "sigma"
SAMPLES = {"aws/cloudtrail": [DATA / "cloudtrail", DATA / "attacks"],
           "kubernetes/audit": [DATA / "k8s_audit"]}
EVENT_ID = {"aws/cloudtrail": "eventID", "kubernetes/audit": "auditID"}
PACK = {"aws/cloudtrail": "sigma_aws_cloudtrail", "kubernetes/audit": "sigma_kubernetes_audit"}


# --- the reference evaluator ----------------------------------------------------------

def value_at(record: Any, field: str) -> str | None:
    for part in field.split("."):
        if not isinstance(record, dict) or part not in record:
            return None
        record = record[part]
    if record is None:
        return None
    return record if isinstance(record, str) else json.dumps(record, separators=(",", ":"))


def wildcard(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*?\\":
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if c == "*" else "." if c == "?" else re.escape(c)
        i += 1
    return re.compile(out, re.IGNORECASE | re.DOTALL)


def item_matches(record: dict[str, Any], key: str, wanted: Any) -> bool:
    field, *modifiers = key.split("|")
    values = wanted if isinstance(wanted, list) else [wanted]
    actual = value_at(record, field)
    if "exists" in modifiers:
        return (actual is not None) == bool(values[0])
    if "fieldref" in modifiers:
        results = [actual is not None and value_at(record, v) is not None
                   and actual.lower() == value_at(record, v).lower() for v in values]
    elif actual is None:
        results = [v is None for v in values]
    elif "re" in modifiers:
        results = [re.search(str(v), actual) is not None for v in values]
    else:
        def pattern(v: Any) -> str:
            text = str(v).lower() if isinstance(v, bool) else str(v)
            if "contains" in modifiers:
                return f"*{text}*"
            if "startswith" in modifiers:
                return f"{text}*"
            if "endswith" in modifiers:
                return f"*{text}"
            return text
        results = [v is not None and bool(wildcard(pattern(v)).fullmatch(actual))
                   for v in values]
    return all(results) if "all" in modifiers else any(results)


def selection_matches(record: dict[str, Any], selection: Any) -> bool:
    if isinstance(selection, list):  # a list of maps: any of them
        return any(selection_matches(record, s) for s in selection)
    return all(item_matches(record, k, v) for k, v in selection.items())


def condition_matches(record: dict[str, Any], detection: dict[str, Any]) -> bool:
    tokens = re.findall(r"\(|\)|[^\s()]+", detection["condition"])
    names = [n for n in detection if n != "condition"]

    def named(pattern: str) -> list[str]:
        if pattern == "them":
            return names
        return [n for n in names if re.fullmatch(pattern.replace("*", ".*"), n)]

    def parse_or(i: int) -> tuple[bool, int]:
        value, i = parse_and(i)
        while i < len(tokens) and tokens[i] == "or":
            right, i = parse_and(i + 1)
            value = value or right
        return value, i

    def parse_and(i: int) -> tuple[bool, int]:
        value, i = parse_not(i)
        while i < len(tokens) and tokens[i] == "and":
            right, i = parse_not(i + 1)
            value = value and right
        return value, i

    def parse_not(i: int) -> tuple[bool, int]:
        if tokens[i] == "not":
            value, i = parse_not(i + 1)
            return not value, i
        if tokens[i] == "(":
            value, i = parse_or(i + 1)
            return value, i + 1
        if tokens[i] in ("1", "all") and tokens[i + 1] == "of":
            hits = [selection_matches(record, detection[n]) for n in named(tokens[i + 2])]
            return (any(hits) if tokens[i] == "1" else all(hits)), i + 3
        return selection_matches(record, detection[tokens[i]]), i + 1

    value, end = parse_or(0)
    assert end == len(tokens), detection["condition"]
    return value


def raw_records(paths: list[Path]) -> Iterator[dict[str, Any]]:
    for path in sorted(p for d in paths if d.is_dir() for p in d.rglob("*")):
        if path.suffix not in (".json", ".jsonl"):
            continue
        text = path.read_text(encoding="utf-8")
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            yield from (json.loads(line) for line in text.splitlines() if line.strip())
            continue
        records = whole.get("Records", [whole]) if isinstance(whole, dict) else whole
        yield from records


def sigma_rules() -> list[tuple[str, dict[str, Any]]]:
    rules = []
    for path in sorted(SIGMA.rglob("*.yml")):
        rule = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules.append((path.stem, rule))
    return rules


def stored_records(source: str) -> list[dict[str, Any]]:
    """The raw records of the samples that ingest stores: a later record with an event id
    already read (Panther's test events all say eventID 1111) is a duplicate or a
    conflict, quarantined, the first version kept (files read in path order)."""
    first: dict[str, dict[str, Any]] = {}
    for r in raw_records(SAMPLES[source]):
        first.setdefault(str(r[EVENT_ID[source]]), r)
    return list(first.values())


def reference_hits() -> dict[str, set[str]]:
    """rule id -> the event ids whose raw record its detection matches."""
    hits: dict[str, set[str]] = {}
    for source in SAMPLES:
        records = stored_records(source)
        for stem, rule in sigma_rules():
            logsource = f"{rule['logsource'].get('product')}/{rule['logsource'].get('service')}"
            if logsource != source:
                continue
            hits[stem] = {str(r[EVENT_ID[source]]) for r in records
                          if condition_matches(r, rule["detection"])}
    return hits


# --- the importer and the packs -------------------------------------------------------

@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sigma") / "packs"
    result = CliRunner().invoke(app, ["rules", "import-sigma", str(SIGMA), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def investigated(imported: Path, tmp_path_factory: pytest.TempPathFactory) -> Investigation:
    db = tmp_path_factory.mktemp("sigma-db") / "x.duckdb"
    inv = Investigation(db, rules_dirs=[imported])
    inv.ingest([p for paths in SAMPLES.values() for p in paths if p.is_dir()])
    inv.run(packs=list(PACK.values()))
    return inv


def test_every_sigmahq_rule_converts_into_a_valid_pack(imported: Path) -> None:
    files = {p.stem for p in SIGMA.rglob("*.yml")}
    written = {p.stem for p in imported.glob("*/*.sql")}
    assert len(files) == 73 and written == files
    for stem in files:  # provenance: the YAML kept byte for byte, its digest in the .toml
        (yml,) = imported.glob(f"*/{stem}.yml")
        (src,) = SIGMA.rglob(f"{stem}.yml")
        assert yml.read_bytes() == src.read_bytes()
    import tomllib

    meta = tomllib.loads(
        (imported / "sigma_aws_cloudtrail" / "aws_update_login_profile.toml").read_text())
    assert meta["sigma"]["id"] == "055fb148-60f8-462d-ad16-26926ce050f1"
    assert meta["severity"] == "high" and "attack.t1098" in meta["tags"]
    assert meta["sigma"]["sha256"] == hashlib.sha256(
        (SIGMA / "cloudtrail" / "aws_update_login_profile.yml").read_bytes()).hexdigest()
    checks = Investigation(None, rules_dirs=[imported]).validate_rules()
    assert not checks.errors


def test_each_rules_case_events_match_and_miss_by_the_reference(imported: Path) -> None:
    """Every rule's case: its fire event matches the detection, its quiet event does not,
    by the reference evaluator (all 73; running them through ingest is the next test)."""
    import tomllib

    for stem, rule in sigma_rules():
        (cases,) = imported.glob(f"*/cases/{stem}.toml")
        fire, quiet = tomllib.loads(cases.read_text())["case"]
        assert condition_matches(json.loads(fire["records"][0]), rule["detection"]), stem
        assert not condition_matches(json.loads(quiet["records"][0]), rule["detection"]), stem


# A few rules of each logsource, with not, fieldref, contains|all, re and lists: `rules
# test` on all 146 cases takes minutes (each case is a database and an ingest).
CASE_SAMPLE = ["aws_update_login_profile", "aws_iam_s3browser_templated_s3_bucket_policy_creation",
               "aws_cloudtrail_imds_malicious_usage", "aws_enum_buckets",
               "kubernetes_audit_potential_enumeration_activity",
               "kubernetes_audit_rolebinding_modification"]


def test_the_cases_built_from_the_detection_pass_rules_test(imported: Path) -> None:
    results = Investigation(None, rules_dirs=[imported]).test_rules(CASE_SAMPLE, builtin=False)
    failed = [f"{r.case.label}: {r.message}" for r in results if not r.passed]
    assert not failed and len(results) == 2 * len(CASE_SAMPLE)


def test_findings_are_exactly_the_reference_hits_on_real_samples(
        investigated: Investigation) -> None:
    findings = investigated.findings()
    sigma = findings.filter(pl.col("rule_id").is_in(list(reference_hits())))
    got: dict[str, set[str]] = {}
    for row in sigma.iter_rows(named=True):
        got.setdefault(row["rule_id"], set()).update(row["evidence"])
    expected = {rule: ids for rule, ids in reference_hits().items() if ids}
    assert sum(len(v) for v in expected.values()) >= 10  # the samples do exercise them
    assert got == expected


def test_a_sigma_findings_rule_keeps_its_sigma_metadata(investigated: Investigation,
                                                       imported: Path) -> None:
    from auditlog.store.rule_sources import sigma_metadata

    rule_ids = set(investigated.findings()["rule_id"].to_list())
    with investigated.connect() as con:
        meta = sigma_metadata(con, [*rule_ids, "admin_grant"])
    assert set(meta) == rule_ids  # a built-in rule has none
    login = Investigation(None, rules_dirs=[imported]).rule("aws_update_login_profile")
    assert login.sigma["id"] == "055fb148-60f8-462d-ad16-26926ce050f1"
    assert login.sigma["level"] == "high" and "attack.t1098" in login.sigma["tags"]
    shown = CliRunner().invoke(app, ["rules", "show", "aws_update_login_profile",
                                     "--rules-dir", str(imported)])
    assert "Sigma: 055fb148-60f8-462d-ad16-26926ce050f1 (test, level high)" in shown.output


def test_typed_columns_hold_the_records_values(investigated: Investigation) -> None:
    """The SQL reads eventName/eventSource/verb from typed columns (logsources.py): they
    must be the record's own values on every stored row, or hits would differ."""
    with investigated.connect() as con:
        ((bad,),) = con.execute("""
            SELECT count(*) FROM actions_with_record WHERE source_format = 'cloudtrail'
              AND (action IS DISTINCT FROM record ->> '$.eventName'
                   OR system IS DISTINCT FROM record ->> '$.eventSource')""").fetchall()
        ((bad_p,),) = con.execute("""
            SELECT count(*) FROM privileges_with_record WHERE source_format = 'cloudtrail'
              AND (extra ->> '$.event_name' IS DISTINCT FROM record ->> '$.eventName'
                   OR extra ->> '$.event_source' IS DISTINCT FROM record ->> '$.eventSource')
            """).fetchall()
        ((bad_k,),) = con.execute("""
            SELECT count(*) FROM (
                SELECT extra, source_format, record FROM actions_with_record UNION ALL
                SELECT extra, source_format, record FROM privileges_with_record)
            WHERE source_format = 'k8s' AND coalesce(record ->> '$.stage', '') IN
                  ('ResponseComplete', '') AND (
                  extra ->> '$.verb' IS DISTINCT FROM record ->> '$.verb'
                  OR extra ->> '$.request_uri' IS DISTINCT FROM record ->> '$.requestURI'
                  OR extra ->> '$.response_code' IS DISTINCT FROM
                     record ->> '$.responseStatus.code')""").fetchall()
    assert (bad, bad_p, bad_k) == (0, 0, 0)


def test_a_request_logged_in_two_stages_is_judged_by_its_response(imported: Path,
                                                                  tmp_path: Path) -> None:
    """Kubernetes logs a request at RequestReceived and again at ResponseComplete (same
    auditID); ingest keeps one row, whose record is the first stage. The response code,
    only in the second, still reaches the rule (typed from the row's extra)."""
    request = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
               "auditID": "stage-1", "requestURI": "/api/v1/namespaces/default/secrets",
               "verb": "list", "user": {"username": "eve"}, "userAgent": "kubectl",
               "objectRef": {"resource": "secrets", "namespace": "default"},
               "requestReceivedTimestamp": "2026-01-05T10:00:00.000000Z"}
    stages = [dict(request, stage="RequestReceived",
                   stageTimestamp="2026-01-05T10:00:00.000000Z"),
              dict(request, stage="ResponseComplete", responseStatus={"code": 403},
                   stageTimestamp="2026-01-05T10:00:00.100000Z")]
    log = tmp_path / "audit.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in stages))
    inv = Investigation(tmp_path / "x.duckdb", rules_dirs=[imported])
    inv.ingest([log])
    inv.run(packs=["sigma_kubernetes_audit"])
    hits = inv.findings().filter(pl.col("rule_id")
                                 == "kubernetes_audit_unauthorized_unauthenticated_actions")
    assert hits["evidence"].to_list() == [["stage-1"]]


def test_a_file_that_is_not_a_sigma_rule_is_refused_with_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("title: x\nlogsource: {product: windows, service: security}\n"
                   "detection: {sel: {EventID: 4624}, condition: sel}\n")
    result = CliRunner().invoke(app, ["rules", "import-sigma", str(bad), "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "refused" in result.output and "logsource" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.sql"))


def test_modifiers_and_not_on_a_missing_field(tmp_path: Path) -> None:
    """A hand-written rule with re, cidr, startswith, endswith, exists, windash,
    base64offset and a filter on a field most events lack: its cases still pass (an
    event without the filter's field is not filtered out)."""
    rule = tmp_path / "custom_modifiers.yml"
    rule.write_text("""
title: Modifier coverage
id: 5f1d7b2e-0000-4000-8000-000000000001
status: test
level: medium
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName|startswith: 'Create'
        eventSource|endswith: '.amazonaws.com'
        sourceIPAddress|cidr: '10.0.0.0/8'
        userAgent|re: '^aws-cli/[0-9]+'
        userIdentity.arn|exists: true
    encoded:
        requestParameters.command|base64offset|contains: 'whoami'
    dash:
        requestParameters.args|windash|contains: '-enc'
    filter:
        errorCode: 'AccessDenied'
    condition: selection and (encoded or dash) and not filter
""")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["rules", "import-sigma", str(rule), "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = Investigation(None, rules_dirs=[out]).test_rules(builtin=False)
    assert [r.message for r in results if not r.passed] == [] and len(results) == 2
    sql = (out / "sigma_aws_cloudtrail" / "custom_modifiers.sql").read_text()
    assert "regexp_matches" in sql and "LIKE '10.%'" in sql


CORRELATIONS = DATA / "sigma_local" / "correlations.yml"  # written for these tests


@pytest.fixture(scope="module")
def correlations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sigma-corr") / "packs"
    result = CliRunner().invoke(app, ["rules", "import-sigma", str(CORRELATIONS),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_correlations_fire_on_a_burst_and_not_short_of_it(correlations: Path) -> None:
    """event_count, value_count, temporal and temporal_ordered: each fires on the burst
    its case holds and stays quiet one event short, a rule missing or out of order; the
    base rules (generate: false) give no rule of their own."""
    sql = {p.stem: p.read_text() for p in correlations.glob("*/*.sql")}
    assert len(sql) == 4
    assert all("RANGE BETWEEN INTERVAL" in text for text in sql.values())
    results = Investigation(None, rules_dirs=[correlations]).test_rules(builtin=False)
    assert [f"{r.case.label}: {r.message}" for r in results if not r.passed] == []
    assert len(results) == 8


def correlation_events(correlations: Path, tmp_path: Path) -> Path:
    """Every case event of the correlations in one JSON Lines file."""
    import tomllib

    lines = [record for cases in correlations.glob("*/cases/*.toml")
             for case in tomllib.loads(cases.read_text())["case"] for record in case["records"]]
    out = tmp_path / "bursts.jsonl"
    out.write_text("".join(f"{line}\n" for line in lines))
    return out


@pytest.mark.spark
def test_spark_gives_the_same_correlation_findings(correlations: Path, tmp_path: Path
                                                   ) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no Java")
    found = {}
    for engine in ("duckdb", "spark"):
        inv = Investigation(tmp_path / f"{engine}.duckdb", rules_dirs=[correlations])
        inv.ingest([correlation_events(correlations, tmp_path)])
        inv.run(engine=engine, packs=["sigma_aws_cloudtrail"])
        found[engine] = inv.findings().sort("finding_id").select("finding_id", "evidence")
    assert found["duckdb"].height >= 4
    assert found["duckdb"].to_dicts() == found["spark"].to_dicts()


@pytest.mark.spark
def test_spark_gives_the_same_finding_ids(imported: Path, investigated: Investigation,
                                          tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no Java")
    with_hits = sorted({r for r in investigated.findings()["rule_id"].to_list()})[:6]
    duck = investigated.findings(rules=with_hits).sort("finding_id")
    spark_db = tmp_path / "spark.duckdb"
    shutil.copy(investigated.path, spark_db)
    inv = Investigation(spark_db, rules_dirs=[imported], engine="spark")
    inv.run(rules=with_hits)
    spark = inv.findings(rules=with_hits).sort("finding_id")
    assert duck["finding_id"].to_list() == spark["finding_id"].to_list()
    assert duck["evidence"].to_list() == spark["evidence"].to_list()
