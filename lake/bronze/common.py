"""Shared pieces of bronze ingestion: the result record, the clock and the bookkeeping.

The bookkeeping tables (``{root}/_system/ingest_log``, ``{root}/_system/watermarks``) live
behind :mod:`lake.ledger` with the rest of ``_system``; their functions are re-exported
here for the bronze modules.
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from lake import clock
from lake.ledger import (  # noqa: F401 - re-exported: the bookkeeping lives in lake.ledger
    INGEST_LOG,
    INGEST_LOG_SCHEMA,
    WATERMARK_SCHEMA,
    WATERMARKS,
    LogEntry,
    TableCounts,
    read_ingest_log,
    read_ingest_log_files,
    read_watermark,
    write_ingest_log,
    write_watermark,
)

log = logging.getLogger(__name__)


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
    #: modification time of the oldest file ingested (None for JDBC or when none was)
    oldest_modified: _dt.datetime | None = None
    empty: int = 0
    partitions: int = 0
    watermark: str | None = None
    #: JDBC rows re-read after a run died between its bronze commit and its watermark write;
    #: already in bronze, so not written again (they are counted in ``rows_in``).
    replayed: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_in >= 0 and self.rows_in == self.rows_written + self.replayed

    def table_counts(self) -> TableCounts:
        """The run's counts of the bronze table (the lake's one counts type): rows read,
        rows written, and replayed rows already in bronze as ``unchanged``."""
        return TableCounts(
            table=self.source,
            layer="bronze",
            rows_in=self.rows_in,
            written=self.rows_written,
            unchanged=self.replayed,
        )


def utc_now() -> _dt.datetime:
    """The bookkeeping clock (:func:`lake.clock.now`, which ``LAKE_CLOCK`` can inject)."""
    return clock.now()


def empty_frame(spark: SparkSession, schema: StructType) -> DataFrame:
    return spark.createDataFrame([], schema)
