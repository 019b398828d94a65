"""``lake upgrade``: rewrite a lake written by an earlier version as plain, open Delta tables.

Earlier versions wrote every table with column mapping (protocol reader 2 / writer 5) and
Parquet INT96 timestamps. Readers other than Spark trip on both: deltalake 1.6.6 returns
all-NULL columns for column-mapped tables, and INT96 holds nanoseconds, so
``dim_customer.valid_to`` (9999-12-31) overflows. A Delta protocol cannot be lowered by a
write, so each such table of ``silver``, ``gold`` and ``_system`` is copied into a NEW plain
table (reader 1 / writer 2, INT64 microsecond timestamps), checked (same schema, same row
count), and swapped in; the old table is kept under ``<root>/_upgrade/<stamp>/backup/``
(its history and time travel live there). Bronze and quarantine keep column mapping (raw
source headers) and are not rewritten.

The tables that feed others (bronze and silver, :data:`lake.delta_io.FEEDING_LAYERS`) must
record Delta's Change Data Feed, which consumers read by version (:mod:`lake.ledger`): a
table without it gets it turned on in place (``ALTER TABLE ... SET TBLPROPERTIES``; a plain
table moves to protocol 1/4). A consumer whose recorded version predates that reads the table
whole once (the ledger's fallback). A silver table rewritten here starts a new version
history, so the ledger forgets what was consumed of it: its consumers read it whole once.

Example:
    >>> from lake.upgrade import plan_upgrade, upgrade
    >>> plan_upgrade("lake-data")          # what would change, read without Spark
    >>> upgrade(spark, "lake-data")        # rewrite them
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from lake.errors import PipelineError
from lake.paths import LakePaths

log = logging.getLogger(__name__)

#: Layers whose tables must be plain (bronze and quarantine keep column mapping).
PLAIN_LAYERS = ("silver", "gold", "_system")

#: The reason of a feeding table without the change feed (turned on in place, no rewrite).
NO_CHANGE_FEED = "no change data feed"


@dataclass(frozen=True)
class UpgradeItem:
    """One table that needs (or got) the rewrite, and why."""

    layer: str
    table: str
    reasons: tuple[str, ...]
    rows: int | None = None
    backup: str | None = None


def _tables(root: str) -> list[tuple[str, str]]:
    from lake.delta_io import FEEDING_LAYERS

    found = []
    for layer in dict.fromkeys(FEEDING_LAYERS + PLAIN_LAYERS):
        folder = os.path.join(root, layer)
        if os.path.isdir(folder):
            found += [
                (layer, t)
                for t in sorted(os.listdir(folder))
                if os.path.isdir(os.path.join(folder, t, "_delta_log"))
            ]
    return found


def _reasons(path: str, layer: str) -> tuple[str, ...]:
    """Why the table at ``path`` is not as this version writes it: column mapping, table
    features, INT96 (plain layers), no change data feed (feeding layers)."""
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    from lake.delta_io import FEEDING_LAYERS

    dt = DeltaTable(path)
    config = dt.metadata().configuration
    feeds = layer in FEEDING_LAYERS
    reasons = []
    if layer in PLAIN_LAYERS:
        if config.get("delta.columnMapping.mode", "none") != "none":
            reasons.append("column mapping")
        protocol = dt.protocol()
        writer = 4 if feeds else 2  # writer 4: the legacy protocol with the change feed
        if protocol.min_reader_version > 1 or protocol.min_writer_version > writer:
            reasons.append(f"protocol {protocol.min_reader_version}/{protocol.min_writer_version}")
        files = dt.file_uris()
        if files:
            schema = pq.ParquetFile(files[0].removeprefix("file://")).schema
            if any(schema.column(i).physical_type == "INT96" for i in range(len(schema))):
                reasons.append("INT96 timestamps")
    if feeds and not reasons and str(config.get("delta.enableChangeDataFeed", "false")).lower() != "true":
        reasons.append(NO_CHANGE_FEED)  # a rewrite (any other reason) turns it on anyway
    return tuple(reasons)


def plan_upgrade(root: str) -> list[UpgradeItem]:
    """The tables of ``silver``, ``gold`` and ``_system`` under a local lake ``root`` that
    are not plain, and the bronze and silver tables without the change feed, read through
    delta-rs (no Spark).

    Example:
        >>> [(i.layer, i.table) for i in plan_upgrade("lake-data")][:1]
        [('silver', 'associado')]
    """
    items = []
    for layer, table in _tables(root):
        reasons = _reasons(os.path.join(root, layer, table), layer)
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
    """Rewrite every table of :func:`plan_upgrade` as a plain table (or only turn its change
    feed on, when that is all it lacks); returns what was done.

    Per table: copy into ``<root>/_upgrade/<stamp>/<layer>/<table>`` with the current
    properties (:func:`lake.delta_io.table_properties`), check schema and row count, move
    the old table to ``<root>/_upgrade/<stamp>/backup/<layer>/<table>``, move the copy in.
    A second run finds nothing to do.

    Example:
        >>> upgrade(spark, "lake-data")
    """
    from lake import clock, delta_io, ledger

    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    paths = LakePaths(root)
    stamp = clock.now().strftime("%Y%m%dT%H%M%S")
    work = LakePaths(paths._join("_upgrade", stamp))
    backup = LakePaths(paths._join("_upgrade", stamp, "backup"))
    done = []
    for item in plan_upgrade(root):
        if dry_run:
            done.append(item)
            continue
        src = paths._join(item.layer, item.table)
        if item.reasons == (NO_CHANGE_FEED,):
            delta_io.enable_change_feed(spark, src)
            log.info("upgraded %s/%s: change data feed turned on", item.layer, item.table)
            done.append(item)
            continue
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
        log.info(
            "upgraded %s/%s (%s): %d rows; old table kept at %s",
            item.layer,
            item.table,
            ", ".join(item.reasons),
            rows_new,
            kept,
        )
        done.append(UpgradeItem(item.layer, item.table, item.reasons, rows_new, kept))
    if done and not dry_run:
        # The session caches each table's log by path; the paths now hold other tables.
        spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
        rewritten = [
            f"{i.layer}.{i.table}"
            for i in done
            if i.backup is not None and i.layer in delta_io.FEEDING_LAYERS
        ]
        ledger.forget_sources(spark, paths, rewritten)
    return done
