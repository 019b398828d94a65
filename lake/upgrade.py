"""``lake upgrade``: rewrite a lake written by an earlier version as plain, open Delta tables.

Earlier versions wrote every table with column mapping (protocol reader 2 / writer 5) and
Parquet INT96 timestamps. Readers other than Spark trip on both: deltalake 1.6.6 returns
all-NULL columns for column-mapped tables, and INT96 holds nanoseconds, so
``dim_customer.valid_to`` (9999-12-31) overflows. A Delta protocol cannot be lowered by a
write, so each such table of ``silver``, ``gold`` and ``_system`` is copied into a NEW plain
table (reader 1 / writer 2, INT64 microsecond timestamps), checked (same schema, same row
count), and swapped in; the old table is kept under ``<root>/_upgrade/<stamp>/backup/``
(its history and time travel live there). Bronze and quarantine keep column mapping (raw
source headers) and are not touched, so incremental state (``_system/silver_state``, which
records bronze versions) stays valid.

Example:
    >>> from lake.upgrade import plan_upgrade, upgrade
    >>> plan_upgrade("lake-data")          # what would change, read without Spark
    >>> upgrade(spark, "lake-data")        # rewrite them
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass

from lake.errors import PipelineError
from lake.paths import LakePaths

log = logging.getLogger(__name__)

#: Layers whose tables must be plain (bronze and quarantine keep column mapping).
PLAIN_LAYERS = ("silver", "gold", "_system")


@dataclass(frozen=True)
class UpgradeItem:
    """One table that needs (or got) the rewrite, and why."""

    layer: str
    table: str
    reasons: tuple[str, ...]
    rows: int | None = None
    backup: str | None = None


def _tables(root: str) -> list[tuple[str, str]]:
    found = []
    for layer in PLAIN_LAYERS:
        folder = os.path.join(root, layer)
        if os.path.isdir(folder):
            found += [(layer, t) for t in sorted(os.listdir(folder))
                      if os.path.isdir(os.path.join(folder, t, "_delta_log"))]
    return found


def _reasons(path: str) -> tuple[str, ...]:
    """Why the table at ``path`` is not plain: column mapping, table features, INT96."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    dt = DeltaTable(path)
    reasons = []
    if dt.metadata().configuration.get("delta.columnMapping.mode", "none") != "none":
        reasons.append("column mapping")
    protocol = dt.protocol()
    if protocol.min_reader_version > 1 or protocol.min_writer_version > 2:
        reasons.append(f"protocol {protocol.min_reader_version}/{protocol.min_writer_version}")
    files = dt.file_uris()
    if files:
        schema = pq.ParquetFile(files[0].removeprefix("file://")).schema
        if any(schema.column(i).physical_type == "INT96" for i in range(len(schema))):
            reasons.append("INT96 timestamps")
    return tuple(reasons)


def plan_upgrade(root: str) -> list[UpgradeItem]:
    """The tables of ``silver``, ``gold`` and ``_system`` under a local lake ``root`` that
    are not plain, read through delta-rs (no Spark).

    Example:
        >>> [(i.layer, i.table) for i in plan_upgrade("lake-data")][:1]
        [('silver', 'associado')]
    """
    items = []
    for layer, table in _tables(root):
        reasons = _reasons(os.path.join(root, layer, table))
        if reasons:
            items.append(UpgradeItem(layer, table, reasons))
    return items


def _hadoop(spark, uri: str):
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def _move(spark, src: str, dst: str) -> None:
    fs, source = _hadoop(spark, src)
    _, target = _hadoop(spark, dst)
    fs.mkdirs(target.getParent())
    if not fs.rename(source, target):
        raise PipelineError(f"cannot move {src} to {dst}")


def upgrade(spark, root: str, *, dry_run: bool = False) -> list[UpgradeItem]:
    """Rewrite every table of :func:`plan_upgrade` as a plain table; returns what was done.

    Per table: copy into ``<root>/_upgrade/<stamp>/<layer>/<table>`` with the current
    properties (:func:`lake.delta_io.table_properties`), check schema and row count, move
    the old table to ``<root>/_upgrade/<stamp>/backup/<layer>/<table>``, move the copy in.
    A second run finds nothing to do.

    Example:
        >>> upgrade(spark, "lake-data")
    """
    from lake import delta_io

    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    paths = LakePaths(root)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    work = LakePaths(paths._join("_upgrade", stamp))
    backup = LakePaths(paths._join("_upgrade", stamp, "backup"))
    done = []
    for item in plan_upgrade(root):
        if dry_run:
            done.append(item)
            continue
        src = paths._join(item.layer, item.table)
        copy = work._join(item.layer, item.table)
        old = delta_io.read_table(spark, src)
        delta_io.append(spark, old, copy)
        new = delta_io.read_table(spark, copy)
        rows_old, rows_new = old.count(), new.count()
        shape = [(f.name, f.dataType, f.nullable) for f in old.schema.fields]
        if [(f.name, f.dataType, f.nullable) for f in new.schema.fields] != shape or rows_new != rows_old:
            raise PipelineError(
                f"upgrade of {item.layer}/{item.table}: the copy at {copy} differs "
                f"(rows {rows_old} -> {rows_new}; schema {old.schema.simpleString()} -> "
                f"{new.schema.simpleString()}); nothing was swapped"
            )
        kept = backup._join(item.layer, item.table)
        _move(spark, src, kept)
        _move(spark, copy, src)
        log.info("upgraded %s/%s (%s): %d rows; old table kept at %s",
                 item.layer, item.table, ", ".join(item.reasons), rows_new, kept)
        done.append(UpgradeItem(item.layer, item.table, item.reasons, rows_new, kept))
    if done and not dry_run:
        # The session caches each table's log by path; the paths now hold other tables.
        spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
    return done
