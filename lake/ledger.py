"""Progress by Delta versions: which version of each input table every consumer has consumed.

A *consumer* (a silver table, ``silver/interactions``, a gold table, ``movimento_flat``)
reads only the changes its inputs committed after the versions recorded here, applies them
with an idempotent MERGE, and then records the versions it read::

    after = ledger.consumed(spark, paths, "gold.fact_interaction", "silver.interactions")
    changes, upto = ledger.changes(spark, paths.silver("interactions"), after)
    ...  # transform, MERGE (re-applying the same changes leaves the target unchanged)
    ledger.record_consumed(spark, paths, "gold.fact_interaction", {"silver.interactions": upto}, run_id)

No wall-clock value decides what is new: a run killed between its MERGE and its ledger entry
re-reads the same version range on rerun and its MERGE changes nothing.

The table is ``{root}/_system/consumers``: one row per (consumer, source), replaced by MERGE.
:func:`record_consumed` passes the fault points ``ledger.record.before:<consumer>`` and
``ledger.record.after:<consumer>``, so every consumer can be killed between its write and
its ledger entry (``LAKE_FAULT=kill@ledger.record.before:silver.ura``).

A recorded version whose change feed cannot be read (the table was written before
``lake upgrade`` turned the feed on, so Delta did not record it for those versions) falls
back to one full read of the table's latest version, as if never consumed; the next run
reads changes again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping, Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lake import clock, delta_io
from lake.faults import fault_point
from lake.paths import LakePaths

log = logging.getLogger(__name__)

CONSUMERS = "consumers"

CONSUMERS_SCHEMA = "consumer string, source string, version long, run_id string, updated_at timestamp"

#: Column Delta's change feed adds to every row: ``insert``, ``update_preimage``,
#: ``update_postimage`` or ``delete``; a full read marks every row ``insert``.
CHANGE_TYPE = "_change_type"
#: The change feed's commit version of the row (a full read: the version read).
COMMIT_VERSION = "_commit_version"

_CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")

#: Change types that carry a row's new content (the others: ``update_preimage``, ``delete``).
UPSERTS = ("insert", "update_postimage")
DELETE = "delete"

#: Delta errors meaning the change feed of a version range cannot be read: then one full read.
_NO_CHANGE_DATA = ("DELTA_MISSING_CHANGE_DATA",)


@dataclass(frozen=True)
class Changes:
    """What :func:`read_changes` found: the change rows (None: nothing new), the version read
    up to, and whether ``df`` is the table's whole content (never consumed, ``full``, or the
    fallback) rather than a change feed: then rows absent from it are gone from the source.
    """

    df: Optional[DataFrame]
    upto: Optional[int]
    full: bool = False


def consumed(spark: SparkSession, paths: LakePaths, consumer: str, source: str) -> Optional[int]:
    """The last version of ``source`` that ``consumer`` consumed, or None (never)."""
    path = paths.system(CONSUMERS)
    if not delta_io.table_exists(spark, path):
        return None
    row = (
        delta_io.read_table(spark, path)
        .where((F.col("consumer") == consumer) & (F.col("source") == source))
        .select("version")
        .first()
    )
    return None if row is None else int(row["version"])


def record_consumed(
    spark: SparkSession, paths: LakePaths, consumer: str, versions: Mapping[str, Optional[int]], run_id: str,
) -> None:
    """Record, in one commit, the versions of its sources that ``consumer`` has consumed."""
    rows = [(consumer, source, int(v), run_id, clock.now()) for source, v in versions.items() if v is not None]
    if not rows:
        return
    df = spark.createDataFrame(rows, CONSUMERS_SCHEMA)
    fault_point(f"ledger.record.before:{consumer}")
    delta_io.merge_upsert(spark, df, paths.system(CONSUMERS), ["consumer", "source"],
                          compare_columns=["version", "run_id"])
    fault_point(f"ledger.record.after:{consumer}")


def forget_sources(spark: SparkSession, paths: LakePaths, sources: list[str]) -> None:
    """Drop what every consumer recorded of ``sources`` (tables rewritten with a new version
    history, e.g. by ``lake upgrade``): their consumers read them whole once."""
    path = paths.system(CONSUMERS)
    if not sources or not delta_io.table_exists(spark, path):
        return
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).delete(F.col("source").isin(*sources))


def changes(spark: SparkSession, path: str, after: Optional[int]) -> tuple[DataFrame | None, Optional[int]]:
    """The rows ``path`` committed after version ``after`` and the version read up to.

    ``after`` None (never consumed): the whole table at its latest version, every row marked
    ``insert``. Otherwise the change feed of versions ``after + 1 .. latest``, with Delta's
    ``_change_type`` and ``_commit_version`` columns (``_commit_timestamp`` dropped). Returns
    ``(None, None)`` when the table does not exist and ``(None, after)`` when nothing is new.
    A range whose change feed was not recorded falls back to the whole table (see
    :func:`read_changes`, which also says whether that happened).

    Example:
        >>> df, upto = changes(spark, paths.bronze("ura"), consumed(spark, paths, "silver.ura", "bronze.ura"))
    """
    found = read_changes(spark, path, after)
    return found.df, found.upto


def read_changes(spark: SparkSession, path: str, after: Optional[int], *, full: bool = False) -> Changes:
    """:func:`changes`, saying whether the rows are the table's whole content.

    ``full=True`` reads the whole table whatever ``after`` is (a consumer's ``--full``).

    Example:
        >>> found = read_changes(spark, paths.silver("ura"), 3)
        >>> found.full, found.upto
        (False, 5)
    """
    latest = delta_io.table_version(spark, path)
    if latest is None:
        return Changes(None, None if full else after)
    if full or after is None:
        return Changes(_snapshot(spark, path, latest), latest, full=True)
    if latest <= after:
        return Changes(None, after)
    df = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", after + 1)
        .option("endingVersion", latest)
        .load(path)
        .drop("_commit_timestamp")
    )
    if not _plannable(df):
        log.warning("%s: no change data recorded for versions %d..%d (the change feed was turned on later); "
                    "reading the whole table once", path, after + 1, latest)
        return Changes(_snapshot(spark, path, latest), latest, full=True)
    return Changes(df, latest)


def _snapshot(spark: SparkSession, path: str, version: int) -> DataFrame:
    return delta_io.read_table(spark, path, version=version).select(
        "*", F.lit("insert").alias(CHANGE_TYPE), F.lit(version).cast("long").alias(COMMIT_VERSION))


def _plannable(df: DataFrame) -> bool:
    """False when Delta cannot serve the change feed of the range (checked when the query is
    planned, before any job: the consumer's own action would fail later)."""
    from pyspark.errors import AnalysisException

    try:
        df._jdf.queryExecution().executedPlan()  # noqa: SLF001 - planning only, at the I/O edge
    except AnalysisException as exc:
        if any(code in str(exc) for code in _NO_CHANGE_DATA):
            return False
        raise
    return True


def net_changes(df: DataFrame, keys: list[str] | tuple[str, ...]) -> DataFrame:
    """The last change of each key in a change batch: its new content (``insert`` or
    ``update_postimage``) or its ``delete``; ``update_preimage`` rows are dropped.

    Within one commit a new content wins over a delete of the same key (a MERGE that
    rewrites a key). Pure transform.

    Example:
        >>> net_changes(found.df, ["interaction_id"]).where("_change_type = 'delete'")
    """
    from pyspark.sql import Window

    kept = df.where(F.col(CHANGE_TYPE) != "update_preimage")
    rank = F.when(F.col(CHANGE_TYPE) == DELETE, 0).otherwise(1)
    w = Window.partitionBy(*[F.col(k) for k in keys]).orderBy(F.col(COMMIT_VERSION).desc(), rank.desc())
    return kept.withColumn("_net_rn", F.row_number().over(w)).where("_net_rn = 1").drop("_net_rn")
