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
"""

from __future__ import annotations

import logging
from typing import Mapping, Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lake import delta_io
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
    rows = [(consumer, source, int(v), run_id) for source, v in versions.items() if v is not None]
    if not rows:
        return
    df = (
        spark.createDataFrame(rows, "consumer string, source string, version long, run_id string")
        .withColumn("updated_at", F.current_timestamp())
    )
    delta_io.merge_upsert(spark, df, paths.system(CONSUMERS), ["consumer", "source"],
                          compare_columns=["version", "run_id"])


def changes(spark: SparkSession, path: str, after: Optional[int]) -> tuple[DataFrame | None, Optional[int]]:
    """The rows ``path`` committed after version ``after`` and the version read up to.

    ``after`` None (never consumed): the whole table at its latest version, every row marked
    ``insert``. Otherwise the change feed of versions ``after + 1 .. latest``, with Delta's
    ``_change_type`` and ``_commit_version`` columns (``_commit_timestamp`` dropped). Returns
    ``(None, None)`` when the table does not exist and ``(None, after)`` when nothing is new.
    """
    latest = delta_io.table_version(spark, path)
    if latest is None:
        return None, after
    if after is not None and latest <= after:
        return None, after
    if after is None:
        df = delta_io.read_table(spark, path, version=latest).select(
            "*", F.lit("insert").alias(CHANGE_TYPE), F.lit(latest).cast("long").alias(COMMIT_VERSION))
        return df, latest
    df = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", after + 1)
        .option("endingVersion", latest)
        .load(path)
        .drop("_commit_timestamp")
    )
    return df, latest
