"""Shared pieces of bronze ingestion: the result record and the bookkeeping tables.

``{root}/_system/ingest_log`` holds one row per file seen (see ``docs/contracts.md``);
``{root}/_system/watermarks`` holds the high-water marks of incremental JDBC sources.
Both are written only *after* the bronze commit, and both can be rebuilt from bronze: the
bronze append is the commit point of every ingestion.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass
from typing import Iterable, Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lake import clock, delta_io
from lake.paths import LakePaths

log = logging.getLogger(__name__)

INGEST_LOG = "ingest_log"
WATERMARKS = "watermarks"

INGEST_LOG_SCHEMA = StructType(
    [
        StructField("source", StringType(), False),
        StructField("path", StringType(), False),
        StructField("hash", StringType(), False),
        StructField("size", LongType(), False),
        StructField("mtime", TimestampType(), True),
        StructField("status", StringType(), False),  # ingested | duplicate | empty
        StructField("rows", LongType(), False),
        StructField("run_id", StringType(), False),
        StructField("logged_at", TimestampType(), False),
    ]
)

WATERMARK_SCHEMA = StructType(
    [
        StructField("source", StringType(), False),
        StructField("column", StringType(), False),
        StructField("value", StringType(), True),
        StructField("run_id", StringType(), False),
        StructField("updated_at", TimestampType(), False),
    ]
)


@dataclass(frozen=True)
class IngestResult:
    """What one ingestion of one source did.

    ``rows_in`` counts the records read from the source in this run (as they are read),
    ``rows_written`` the rows Delta reports as written (operation metrics), ``replayed`` the
    JDBC rows read again that bronze already holds; ``rows_in == rows_written + replayed``
    when nothing was lost or doubled.
    """

    source: str
    files_seen: int = 0
    files_ingested: int = 0
    duplicates: int = 0
    rows_in: int = 0
    rows_written: int = 0
    malformed: int = 0
    empty: int = 0
    partitions: int = 0
    watermark: Optional[str] = None
    #: JDBC rows re-read after a run died between its bronze commit and its watermark write;
    #: already in bronze, so not written again (they are counted in ``rows_in``).
    replayed: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_in >= 0 and self.rows_in == self.rows_written + self.replayed


def utc_now() -> _dt.datetime:
    """The bookkeeping clock (:func:`lake.clock.now`, which ``LAKE_CLOCK`` can inject)."""
    return clock.now()


@dataclass(frozen=True)
class LogEntry:
    path: str
    hash: str
    size: int
    mtime: _dt.datetime
    status: str
    rows: int


def read_ingest_log(spark: SparkSession, paths: LakePaths, source: str) -> set[tuple[str, str, str]]:
    """``{(path, hash, status)}`` already logged for ``source`` (tiny bookkeeping read)."""
    path = paths.system(INGEST_LOG)
    if not delta_io.table_exists(spark, path):
        return set()
    rows = (
        delta_io.read_table(spark, path)
        .where(F.col("source") == source)
        .select("path", "hash", "status")
        .distinct()
        .collect()
    )
    return {(r["path"], r["hash"], r["status"]) for r in rows}


def write_ingest_log(
    spark: SparkSession,
    paths: LakePaths,
    source: str,
    run_id: str,
    entries: Iterable[LogEntry],
    *,
    replace_source: bool = False,
) -> None:
    """Append ``entries``; with ``replace_source`` the source's previous rows are removed first."""
    path = paths.system(INGEST_LOG)
    now = utc_now()
    data = [(source, e.path, e.hash, int(e.size), e.mtime, e.status, int(e.rows), run_id, now) for e in entries]
    if replace_source and delta_io.table_exists(spark, path):
        from delta.tables import DeltaTable

        DeltaTable.forPath(spark, path).delete(F.col("source") == source)
    if not data:
        return
    delta_io.append(spark, spark.createDataFrame(data, INGEST_LOG_SCHEMA), path)


def read_watermark(spark: SparkSession, paths: LakePaths, source: str) -> Optional[str]:
    """The latest high-water mark recorded for ``source`` (None when never ingested)."""
    path = paths.system(WATERMARKS)
    if not delta_io.table_exists(spark, path):
        return None
    row = (
        delta_io.read_table(spark, path)
        .where(F.col("source") == source)
        .orderBy(F.col("updated_at").desc())
        .select("value")
        .first()
    )
    return None if row is None else row["value"]


def write_watermark(spark: SparkSession, paths: LakePaths, source: str, column: str, value: Optional[str], run_id: str) -> None:
    df = spark.createDataFrame([(source, column, value, run_id, utc_now())], WATERMARK_SCHEMA)
    delta_io.append(spark, df, paths.system(WATERMARKS))


def empty_frame(spark: SparkSession, schema: StructType) -> DataFrame:
    return spark.createDataFrame([], schema)
