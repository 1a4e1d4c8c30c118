"""Nested Parquet: records of a standard format stored with struct, list and map columns
are read as the same records in JSON. Real events (tests/data/securitylake: AWS
Security Lake OCSF; tests/data/cloudtrail: CloudTrail) written to Parquet as Security
Lake, a Spark job, and Athena/Glue (names in lower case) lay them out; loaded after (or
before) their JSON, every row is a duplicate: the same event, digest and all."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auditlog.cli import app

runner = CliRunner()
DATA = Path(__file__).parent / "data"
SECURITY_LAKE = [DATA / "securitylake" / "elastic_test-authentication.log",
                 DATA / "securitylake" / "elastic_test-account-change.log"]
CLOUDTRAIL = DATA / "cloudtrail" / "stratus_aws.persistence.iam-create-admin-user.json"


def _pruned(value: Any) -> Any:
    """Without empty objects and arrays: Parquet has no struct without fields (and a
    JSON record's empty member is no value either)."""
    if isinstance(value, dict):
        kept = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _ingest(db: Path, *paths: Path, tz: str = "UTC") -> list[dict[str, Any]]:
    result = runner.invoke(app, ["ingest", *map(str, paths), "--db", str(db), "--tz", tz,
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def _counts(entry: dict[str, Any]) -> tuple[int, int, int, int]:
    return entry["rows_read"], entry["loaded"], entry["duplicates"], entry["quarantined"]


def security_lake(root: Path, *, int96_time: bool = False) -> Path:
    """The events in Parquet as Security Lake partitions and names its objects, its
    `unmapped` a map of strings and `metadata.profiles` a list. With `int96_time`, the
    time as a Spark job writes a timestamp column: `time_dt`, INT96 (and no `time`)."""
    events = [_pruned(json.loads(path.read_text())) for path in SECURITY_LAKE]
    if int96_time:
        for event in events:
            event["time_dt"] = dt.datetime.fromtimestamp(event.pop("time") / 1000, dt.UTC)
    table = pa.Table.from_pylist(events)
    fields = [pa.field(f.name, pa.map_(pa.string(), pa.string())) if f.name == "unmapped"
              else f for f in table.schema]
    for event in events:
        event["unmapped"] = list(event["unmapped"].items()) if "unmapped" in event else None
    table = pa.Table.from_pylist(events, schema=pa.schema(fields))
    folder = root / "region=us-east-1" / "accountId=112233445566" / "eventDay=20230317"
    folder.mkdir(parents=True)
    path = folder / "3a5b8c1e-7d04-4bb2-9d0f-1f1c2b5f4e11.gz.parquet"
    pq.write_table(table, path, compression="gzip",
                   use_deprecated_int96_timestamps=int96_time)
    return path


@pytest.mark.parametrize("parquet_first", [False, True])
def test_security_lake_parquet_is_the_same_ocsf_events(tmp_path: Path,
                                                       parquet_first: bool) -> None:
    parquet = security_lake(tmp_path / "lake")
    first, second = (parquet, SECURITY_LAKE) if parquet_first else (SECURITY_LAKE, parquet)
    firsts = _ingest(tmp_path / "a.duckdb", *([first] if parquet_first else first))
    assert sum(e["loaded"] for e in firsts) == 2
    seconds = _ingest(tmp_path / "a.duckdb", *(second if parquet_first else [second]))
    assert [_counts(e) for e in seconds] == (
        [(1, 0, 1, 0)] * 2 if parquet_first else [(2, 0, 2, 0)])


def test_an_int96_time_of_ocsf_in_parquet_is_its_utc_instant(tmp_path: Path) -> None:
    # Read in a zone that is not UTC: an INT96 value is an instant, never a wall time.
    _ingest(tmp_path / "a.duckdb", *SECURITY_LAKE, tz="Europe/Berlin")
    (entry,) = _ingest(tmp_path / "a.duckdb", security_lake(tmp_path / "lake", int96_time=True),
                       tz="Europe/Berlin")
    assert _counts(entry) == (2, 0, 2, 0)


def test_cloudtrail_records_with_struct_columns_are_the_same_records(tmp_path: Path) -> None:
    records = [_pruned(r) for r in json.loads(CLOUDTRAIL.read_text())]
    parquet = tmp_path / "part-00000-cloudtrail.snappy.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    assert pq.read_schema(parquet).field("userIdentity").type.num_fields > 1
    (loaded,) = _ingest(tmp_path / "a.duckdb", CLOUDTRAIL)
    (again,) = _ingest(tmp_path / "a.duckdb", parquet)
    assert _counts(loaded)[:2] == (3, 3)
    assert _counts(again) == (3, 0, 3, 0)
    assert again["kind"] == loaded["kind"]


def _athena(value: Any, top: bool = True) -> Any:
    """A CloudTrail record as Athena's `cloudtrail_logs` table (AWS's DDL) holds it:
    names in lower case, the JSON members as their text, readOnly as a string."""
    if isinstance(value, list):
        return [_athena(v, False) for v in value]
    if not isinstance(value, dict):
        return value
    folded: dict[str, Any] = {}
    for key, member in value.items():
        if top and key in ("requestParameters", "responseElements", "additionalEventData"):
            folded[key.lower()] = json.dumps(member)
        elif top and key == "readOnly":
            folded["readonly"] = str(member).lower()
        else:
            folded[key.lower()] = _athena(member, False)
    return folded


OTRF = DATA / "cloudtrail" / "otrf_ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl"


def _records(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    records: list[dict[str, Any]] = json.loads(path.read_text())
    return records


@pytest.mark.parametrize(("sample", "kind"), [(CLOUDTRAIL, "privileges+actions"),
                                              (OTRF, "actions")], ids=["stratus", "otrf"])
def test_cloudtrail_as_athena_stores_it_is_the_same_records(tmp_path: Path, sample: Path,
                                                            kind: str) -> None:
    records = [_athena(_pruned(r)) for r in _records(sample)]
    parquet = tmp_path / "20240801_000000_00031_abcde_0f1e2d3c.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    schema = pq.read_schema(parquet)
    assert "useridentity" in schema.names and "eventName" not in schema.names
    assert schema.field("requestparameters").type == pa.string()
    (loaded,) = _ingest(tmp_path / "a.duckdb", parquet)
    assert _counts(loaded) == (len(records), len(records), 0, 0)
    (again,) = _ingest(tmp_path / "a.duckdb", sample)
    assert _counts(again) == (len(records), 0, len(records), 0)
    assert again["kind"] == loaded["kind"] == kind
