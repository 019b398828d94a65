"""Delta Lake I/O helpers. Logic modules never read or write; they go through these."""

from __future__ import annotations

import logging
import re
from typing import Iterable

from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

#: Delta properties of a plain table (silver, gold, ``_system``): protocol reader 1 /
#: writer 2 and no table feature, so every Delta reader (delta-rs, DuckDB, Trino, ...)
#: reads it. Deletion vectors, type widening and v2 checkpoints stay off.
TABLE_PROPERTIES = {
    "delta.minReaderVersion": "1",
    "delta.minWriterVersion": "2",
    "delta.enableDeletionVectors": "false",
}

#: Properties of a table that keeps raw source headers (spaces, accents, ``()?/``):
#: column mapping by name, protocol reader 2 / writer 5 (docs/architecture.md).
MAPPED_TABLE_PROPERTIES = {
    "delta.columnMapping.mode": "name",
    "delta.minReaderVersion": "2",
    "delta.minWriterVersion": "5",
    "delta.enableDeletionVectors": "false",
}

#: Layers whose tables keep raw source headers, hence column mapping.
MAPPED_LAYERS = ("bronze", "quarantine")

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def needs_column_mapping(path: str, columns: Iterable[str] = ()) -> bool:
    """Whether the table at ``path`` is written with column mapping: tables of a layer in
    :data:`MAPPED_LAYERS` (``<root>/bronze/<t>``, ``<root>/quarantine/<t>``), and any table
    with a column name that is not a plain identifier.

    Example:
        >>> needs_column_mapping("/lake/gold/dim_customer", ["customer_key"])
        False
        >>> needs_column_mapping("/lake/bronze/phone", ["Data Início"])
        True
    """
    parts = path.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in MAPPED_LAYERS:
        return True
    return any(not _PLAIN_NAME.fullmatch(c) for c in columns)


def table_properties(path: str, columns: Iterable[str] = ()) -> dict[str, str]:
    """The Delta properties a new table at ``path`` with ``columns`` is created with."""
    return dict(MAPPED_TABLE_PROPERTIES if needs_column_mapping(path, columns) else TABLE_PROPERTIES)


def table_exists(spark: SparkSession, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def read_table(spark: SparkSession, path: str, *, version: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return reader.load(path)


def _writer(df: DataFrame, mode: str, *, merge_schema: bool = False, overwrite_schema: bool = False):
    writer = df.write.format("delta").mode(mode)
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if overwrite_schema:
        writer = writer.option("overwriteSchema", "true")
    return writer


def create_if_missing(spark: SparkSession, df: DataFrame, path: str) -> None:
    """Create an empty Delta table with ``df``'s schema and the lake's table properties."""
    if table_exists(spark, path):
        return
    writer = df.limit(0).write.format("delta").mode("append")
    for key, value in table_properties(path, df.columns).items():
        writer = writer.option(key, value)
    writer.save(path)


def _first_write(df: DataFrame, path: str, txn: tuple[str, int] | None = None) -> None:
    """Create the table with its first rows in ONE commit (no empty create + second write)."""
    writer = df.write.format("delta").mode("append")
    for key, value in table_properties(path, df.columns).items():
        writer = writer.option(key, value)
    if txn is not None:
        writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
    writer.save(path)


def append(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    *,
    merge_schema: bool = False,
    txn: tuple[str, int] | None = None,
) -> dict[str, int]:
    """Append ``df`` in one commit; ``txn=(app_id, version)`` makes the write idempotent."""
    if not table_exists(spark, path):
        _first_write(df, path, txn)
        return last_metrics(spark, path)
    writer = _writer(df, "append", merge_schema=merge_schema)
    if txn is not None:
        writer = writer.option("txnAppId", txn[0]).option("txnVersion", str(txn[1]))
    writer.save(path)
    return last_metrics(spark, path)


def overwrite(spark: SparkSession, df: DataFrame, path: str) -> dict[str, int]:
    """Replace the table's content (and schema) in one commit (a new table: its first commit)."""
    if not table_exists(spark, path):
        # one action over ``df``: an observed count (lake.runlog.observe_rows) sees its rows
        _first_write(df, path)
        return last_metrics(spark, path)
    _writer(df, "overwrite", overwrite_schema=True).save(path)
    return last_metrics(spark, path)


def merge_upsert(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: Iterable[str],
    *,
    compare_columns: Iterable[str] | None = None,
) -> dict[str, int]:
    """Upsert ``df`` into ``path`` on ``keys``; rows whose compared columns are unchanged are
    not rewritten, so re-merging the same batch changes nothing.

    ``df`` must hold at most one row per key (resolve duplicates before calling).
    """
    from delta.tables import DeltaTable

    keys = list(keys)
    if not table_exists(spark, path):
        # Nothing to merge into: one plain write, reported with MERGE's metric names.
        _first_write(df, path)
        metrics = last_metrics(spark, path)
        rows = metrics.get("numOutputRows", 0)
        metrics.update(numSourceRows=rows, numTargetRowsInserted=rows, numTargetRowsUpdated=0)
        return metrics
    target = DeltaTable.forPath(spark, path)
    cols = list(compare_columns) if compare_columns is not None else [c for c in df.columns if c not in keys]
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in cols) or "false"
    (
        target.alias("t")
        .merge(df.alias("s"), on)
        .whenMatchedUpdateAll(condition=changed)
        .whenNotMatchedInsertAll()
        .execute()
    )
    return last_metrics(spark, path)


def merge_diff(spark: SparkSession, df: DataFrame, path: str, keys: Iterable[str], *,
               delete_column: str) -> dict[str, int]:
    """Apply a diff to ``path`` in one MERGE on ``keys``: a row whose ``delete_column`` is true
    deletes the target row of its key, any other row replaces it or is inserted.

    ``df`` holds the target's columns plus ``delete_column``, at most one row per key, and only
    rows that change the target (lake.gold.incremental.compare_rows), so the MERGE rewrites
    nothing it does not change.
    """
    from delta.tables import DeltaTable

    keys = list(keys)
    cols = [c for c in df.columns if c != delete_column]
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    values = {f"`{c}`": f"s.`{c}`" for c in cols}
    (
        DeltaTable.forPath(spark, path).alias("t")
        .merge(df.alias("s"), on)
        .whenMatchedDelete(condition=f"s.`{delete_column}`")
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(condition=f"NOT s.`{delete_column}`", values=values)
        .execute()
    )
    return last_metrics(spark, path)


def last_metrics(spark: SparkSession, path: str) -> dict[str, int]:
    """Operation metrics of the table's latest commit (rows written, updated, ...).

    Row counts come from Delta's own metrics, so nothing is counted twice.
    """
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, path).history(1).select("version", "operation", "operationMetrics").first()
    metrics = {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if str(v).lstrip("-").isdigit()}
    metrics["version"] = int(row["version"])
    return metrics


def table_version(spark: SparkSession, path: str) -> int | None:
    from delta.tables import DeltaTable

    if not table_exists(spark, path):
        return None
    return int(DeltaTable.forPath(spark, path).history(1).first()["version"])


def type_changes(spark: SparkSession, path: str, df: DataFrame) -> list[tuple[str, str, str]]:
    """``(column, type in the table, type in df)`` for each column both hold with another type.

    A MERGE would silently cast such a column back to the table's type (a naive
    ``timestamp_ntz`` into an instant, read in the session zone); callers refuse instead.
    An absent table has no changes.
    """
    if not table_exists(spark, path):
        return []
    held = {f.name: f.dataType for f in read_table(spark, path).schema.fields}
    return [
        (f.name, held[f.name].simpleString(), f.dataType.simpleString())
        for f in df.schema.fields
        if f.name in held and held[f.name] != f.dataType
    ]


def enable_feature(spark: SparkSession, path: str, feature: str) -> None:
    """Add a Delta table feature (e.g. ``timestampNtz``) to an existing table's protocol.

    Delta adds the features a schema needs when it creates a table, but not when an
    overwrite changes the schema of an existing one.
    """
    quoted = path.replace("`", "``")
    spark.sql(f"ALTER TABLE delta.`{quoted}` SET TBLPROPERTIES ('delta.feature.{feature}' = 'supported')")
