"""The Spark engine: the rule packs run on Apache Spark over a Parquet lake (lake.py).

The rules, their output wrapper and the shared units are the DuckDB ones translated by
sqlglot (translate.py); their findings come back as the same polars frame the DuckDB
engine returns, with the same stable ids (base.py), and are merged by the same findings
store code. pyspark and Java are optional: without them the Spark engine is one clear
error, and the rest of auditlog works.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from auditlog import store
from auditlog.engines.base import (
    OUTPUT_SCHEMA,
    EngineBase,
    concat_findings,
    with_identity,
)
from auditlog.engines.bounds import DEFAULT_BOUNDS, RuleBounds, time_limit_error, watchdog
from auditlog.engines.installing import install_units, missing_database
from auditlog.engines.runner import check_single_select
from auditlog.engines.translate import (
    needed_views,
    spark_args,
    spark_rule_sql,
    to_spark,
    unit_sql,
)
from auditlog.errors import RuleError, UsageError, rule_location
from auditlog.kinds import KINDS, SOURCE_COLUMNS, Kind
from auditlog.pack.model import Rule
from auditlog.pack.units import shared_units
from auditlog.store import first_line
from auditlog.store.database import RECORD_VIEWS
from auditlog.store.lake import RECORDS, check_lake, export_lake, has_files, kind_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from auditlog.pack.units import SqlUnit

DEFAULT_MASTER = "local[2]"
CANCEL_EVERY = 0.5  # seconds between cancellations of a rule past its time limit
INSTALL_HINT = "install with pip install 'auditlog[spark]'"

# What the engine needs from a session; see PORTABLE-SQL for why each matters.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.ansi.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "3g",
    # Rule SQL may read the registered tables only, never a file by its path.
    "spark.sql.runSQLOnFiles": "false",
}


def require_spark() -> None:
    """Raise one sentence when pyspark or Java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UsageError(f"the Spark engine needs pyspark, which is not installed; "
                         f"{INSTALL_HINT}") from None
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
    if java is None or not Path(java).exists():
        raise UsageError("the Spark engine needs Java 17 or later, which was not found; install "
                         "it (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME")


def start_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None
                  ) -> SparkSession:
    """A Spark session for auditlog (an existing one in this process is reused)."""
    require_spark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("auditlog")
    for key, value in {**SESSION_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001  (py4j and the JVM raise many kinds: no session)
        raise UsageError(f"cannot start Spark at {master}: {first_line(exc)}") from None
    session.sparkContext.setLogLevel("ERROR")
    for key in ("spark.sql.session.timeZone", "spark.sql.runSQLOnFiles"):
        session.conf.set(key, SESSION_CONF[key])
    return session


def spark_schema(kind: Kind) -> Any:
    """The Spark schema of a kind's lake files (lake.py writes exactly these types)."""
    from pyspark.sql.types import (
        DecimalType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    types = {"ts": TimestampType(), "amount": DecimalType(18, 4)}
    fields = [StructField(c.name, types.get(c.type, StringType())) for c in kind.columns]
    fields += [StructField(name, LongType() if name == "_row" else StringType())
               for name, _ in SOURCE_COLUMNS]
    return StructType(fields)


def lake_frame(spark: SparkSession, lake: Path, kind: Kind) -> DataFrame:
    """A kind's rows in the lake (none when it has no files), with the kind's columns."""
    schema = spark_schema(kind)
    path = kind_path(lake, kind.name)
    if not has_files(path):
        return spark.createDataFrame([], schema)
    frame = spark.read.schema(schema).option("basePath", str(path)).parquet(str(path))
    return frame.select(*schema.fieldNames())


def register_lake(spark: SparkSession, lake: Path) -> None:
    """The five kinds as temp views named like the DuckDB tables, and each kind with its
    source records (`<kind>_with_record`, as store/database.py defines them)."""
    for name, kind in KINDS.items():
        lake_frame(spark, lake, kind).createOrReplaceTempView(name)
    records_frame(spark, lake).createOrReplaceTempView(RECORDS)
    for view, name in RECORD_VIEWS.items():
        spark.sql(f"SELECT k.*, r.source_format, r.record FROM {name} k LEFT JOIN {RECORDS} r "
                  "ON r.file_sha256 = k._file AND r.row_number = k._row"
                  ).createOrReplaceTempView(view)


def records_frame(spark: SparkSession, lake: Path) -> DataFrame:
    """The lake's source records (none in a lake written before they were kept)."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    schema = StructType([StructField("file_sha256", StringType()),
                         StructField("row_number", LongType()),
                         StructField("source_format", StringType()),
                         StructField("record", StringType())])
    path = lake / RECORDS
    if not has_files(path):
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).parquet(str(path))


def install_shared_views(spark: SparkSession, rules: Sequence[Rule] | None = None) -> None:
    """The shared units (those `rules` read, or all) with the model's defaults."""
    wanted = needed_views(rules) if rules is not None else None
    install_spark_units(spark, [u for u in shared_units() if wanted is None or u.name in wanted])


def install_spark_units(spark: SparkSession, units: Sequence[SqlUnit]) -> None:
    """`units`, translated, each computed once into a checkpointed temp view.

    Each unit is computed from the ones before it and its lineage cut: Spark would
    otherwise re-analyze and re-optimize the whole nested tree of views in every rule
    (minutes per query), and recompute views that several rules share.
    """
    def create(unit: SqlUnit) -> None:
        frame = spark.sql(unit_sql(unit.sql, unit.source)).localCheckpoint(eager=True)
        frame.createOrReplaceTempView(unit.name)

    install_units(units, create, where=" on Spark")


def run_rule_spark(spark: SparkSession, rule: Rule, params: dict[str, Any] | None = None,
                   since: datetime | None = None, until: datetime | None = None,
                   timeout: float = DEFAULT_BOUNDS.timeout) -> pl.DataFrame:
    """The findings of one rule on Spark: the same frame runner.run_rule returns."""
    return with_identity(rule, spark_rule_output(spark, rule, params, since, until, timeout))


def spark_rule_output(spark: SparkSession, rule: Rule, params: dict[str, Any] | None,
                      since: datetime | None, until: datetime | None,
                      timeout: float = DEFAULT_BOUNDS.timeout) -> pl.DataFrame:
    """One rule's wrapped output on Spark, its jobs cancelled after `timeout` seconds."""
    probe = duckdb.connect()
    try:
        check_single_select(probe, rule)  # the same gate as on DuckDB
    finally:
        probe.close()
    sql = spark_rule_sql(rule, since, until)
    context = spark.sparkContext
    # The rule's jobs get a group of their own (a thread-local property), so the
    # watchdog cancels this rule's jobs and nothing else running on the cluster.
    group = f"auditlog-{rule.id}-{uuid.uuid4().hex[:12]}"
    context.setJobGroup(group, f"auditlog rule {rule.id}", interruptOnCancel=True)
    try:
        with cancelled_after(context, group, timeout) as fired:
            try:
                table = spark.sql(sql, args=spark_args(rule, params, since, until)
                                  or None).toArrow()
            except Exception as exc:  # noqa: BLE001  (pyspark and py4j raise many types)
                if fired():
                    raise time_limit_error(rule.id, rule.source, timeout) from None
                raise RuleError(f"failed on Spark: {first_line(exc)}",
                                location=rule_location(rule)) from None
            if fired():  # whatever came back after a cancel is not the rule's answer
                raise time_limit_error(rule.id, rule.source, timeout)
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    # Already ordered by key: the wrapper's ORDER BY.
    return frame.cast(OUTPUT_SCHEMA)  # type: ignore[arg-type]


@contextmanager
def cancelled_after(context: Any, group: str, seconds: float) -> Iterator[Callable[[], bool]]:
    """Cancel the job group's jobs from `seconds` on until the block ends; yields whether
    that began. Cancelling once is not enough: a query submits its jobs over its run
    (a broadcast, then the collection), some after the limit."""
    stop = threading.Event()

    def keep_cancelling() -> None:
        while not stop.is_set():
            context.cancelJobGroup(group)
            stop.wait(CANCEL_EVERY)

    def start() -> None:
        threading.Thread(target=keep_cancelling, name=f"cancel {group}", daemon=True).start()

    try:
        with watchdog(start, seconds) as fired:
            yield fired
    finally:
        stop.set()


def run_rules_spark(spark: SparkSession, rules: Sequence[Rule],
                    params: dict[str, Any] | None = None, since: datetime | None = None,
                    until: datetime | None = None,
                    timeout: float = DEFAULT_BOUNDS.timeout) -> pl.DataFrame:
    """All findings of `rules`, ordered by rule id then key, on a session with the lake
    and the units installed."""
    return concat_findings([run_rule_spark(spark, r, params, since, until, timeout)
                            for r in sorted(rules, key=lambda r: r.id)])


@contextmanager
def lake_for(db_path: Path | str, lake: Path | None) -> Iterator[Path]:
    """`lake` when given (checked), else a temporary lake exported from the database."""
    if lake is not None:
        check_lake(lake)
        yield lake
        return
    with tempfile.TemporaryDirectory(prefix="auditlog-lake-") as tmp:
        con = store.connect(db_path, read_only=True)
        try:
            export_lake(con, Path(tmp))
        finally:
            con.close()
        yield Path(tmp)


class SparkEngine(EngineBase):
    """Rules on Spark at `master` (or on `session`) over `lake`, or over the database at
    `db_path` exported to a temporary lake for as long as the engine is open.

    Of `bounds` Spark keeps the time limit per rule; memory is the cluster's
    (spark.executor.memory). A session is reused, never stopped: starting one takes
    about 30 s, and one process may run several packs."""

    name = "spark"

    def __init__(self, db_path: Path | str, *, lake: Path | None = None,
                 master: str = DEFAULT_MASTER, session: SparkSession | None = None,
                 bounds: RuleBounds = DEFAULT_BOUNDS) -> None:
        self.db_path, self.lake, self.master = Path(db_path), lake, master
        self.session, self.bounds = session, bounds
        self.stack = ExitStack()
        self.running: SparkSession | None = None

    def check(self) -> None:
        require_spark()
        if self.lake is not None:
            check_lake(self.lake)
        elif not self.db_path.exists():
            raise missing_database(self.db_path)

    def spark(self) -> SparkSession:
        """The session with the lake registered (the lake exported first if need be)."""
        if self.running is None:
            self.check()
            lake = self.stack.enter_context(lake_for(self.db_path, self.lake))
            session = self.session or start_session(self.master)
            register_lake(session, lake)
            self.running = session
        return self.running

    def install(self, units: Sequence[SqlUnit]) -> None:
        install_spark_units(self.spark(), units)

    def rule_output(self, rule: Rule, params: dict[str, Any] | None,
                    since: datetime | None, until: datetime | None) -> pl.DataFrame:
        return spark_rule_output(self.spark(), rule, params, since, until, self.bounds.timeout)

    def sql_of(self, rule: Rule) -> str:
        return to_spark(rule.sql, rule.source, pretty=True)

    def close(self) -> None:
        self.running = None
        self.stack.close()
