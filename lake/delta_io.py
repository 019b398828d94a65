"""Delta Lake I/O helpers. Logic modules never read or write; they go through these."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable

from pyspark.sql import Column, DataFrame, Row, SparkSession

from lake.session import jvm as session_jvm

log = logging.getLogger(__name__)


def one_row(df: DataFrame) -> Row:
    """The first row of a read that always has one (an aggregate, a table's detail or history).

    Raises:
        ValueError: the read returned no row.
    """
    row = df.first()
    if row is None:
        raise ValueError("expected a row, found none")
    return row


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

#: Layers whose tables feed others (bronze -> silver -> interactions and gold): they record
#: Delta's Change Data Feed, which consumers read from their last consumed version
#: (:mod:`lake.ledger`). Gold, quarantine and ``_system`` tables stay plain.
FEEDING_LAYERS = ("bronze", "silver")

#: Change Data Feed on a feeding table. On a plain table it asks for writer version 4 (the
#: legacy protocol that includes CDF): protocol 1/4 with no table feature, still read by every
#: Delta reader. (Writer 2 plus the property would move the table to writer 7 with named
#: features.) A column-mapped table's writer 5 already includes it.
CDF_PROPERTIES = {"delta.enableChangeDataFeed": "true", "delta.minWriterVersion": "4"}

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


def feeds_others(path: str) -> bool:
    """Whether the table at ``path`` belongs to a layer in :data:`FEEDING_LAYERS`
    (``<root>/bronze/<t>``, ``<root>/silver/<t>``), hence records its Change Data Feed.

    Example:
        >>> feeds_others("/lake/silver/interactions"), feeds_others("/lake/gold/dim_date")
        (True, False)
    """
    parts = path.rstrip("/").split("/")
    return len(parts) >= 2 and parts[-2] in FEEDING_LAYERS


def table_properties(path: str, columns: Iterable[str] = ()) -> dict[str, str]:
    """The Delta properties a new table at ``path`` with ``columns`` is created with."""
    mapped = needs_column_mapping(path, columns)
    props = dict(MAPPED_TABLE_PROPERTIES if mapped else TABLE_PROPERTIES)
    if feeds_others(path):
        props["delta.enableChangeDataFeed"] = "true"
        if not mapped:
            props.update(CDF_PROPERTIES)
    return props


def _mapped_with_cdf(props: dict[str, str]) -> bool:
    return (
        props.get("delta.columnMapping.mode") == "name" and props.get("delta.enableChangeDataFeed") == "true"
    )


def _create_empty(spark: SparkSession, schema, path: str, props: dict[str, str]) -> None:
    """Create an empty table (one commit) with ``schema`` and ``props``, through Delta's
    builder: Delta refuses to write rows in the commit that turns on both column mapping
    and the change feed (DELTA_BLOCK_COLUMN_MAPPING_AND_CDC_OPERATION)."""
    from urllib.parse import urlparse

    from delta.tables import DeltaTable

    # the builder takes a location, not a table name: a relative local path must be absolute
    location = path if urlparse(path).scheme or os.path.isabs(path) else os.path.abspath(path)
    _clear_failed_create(spark, location)
    builder = DeltaTable.createIfNotExists(spark).location(location).addColumns(schema)
    for key, value in props.items():
        builder = builder.property(key, value)
    builder.execute()


def _clear_failed_create(spark: SparkSession, location: str) -> None:
    """Remove what a create that never committed left in ``_delta_log`` (a full disk leaves
    hidden temporary files and an empty ``_staged_commits``): Delta takes such a folder for a
    table and refuses to create one there. A log holding any commit or checkpoint is kept."""
    jvm = session_jvm(spark)
    folder = jvm.org.apache.hadoop.fs.Path(location.rstrip("/") + "/_delta_log")
    fs = folder.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(folder):
        return
    names = [status.getPath().getName() for status in fs.listStatus(folder)]
    if any(name[0].isdigit() or name in ("_last_checkpoint", "_commits") for name in names):
        return  # a commit, checkpoint or checksum exists: a table, never removed here
    log.warning("removing the leftovers of a failed create in %s: %s", folder.toString(), sorted(names))
    fs.delete(folder, True)
    jvm.org.apache.spark.sql.delta.DeltaLog.invalidateCache(
        spark._jsparkSession, jvm.org.apache.hadoop.fs.Path(location)
    )


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
    props = table_properties(path, df.columns)
    if _mapped_with_cdf(props):
        _create_empty(spark, df.schema, path, props)
        return
    writer = df.limit(0).write.format("delta").mode("append")
    for key, value in props.items():
        writer = writer.option(key, value)
    writer.save(path)


def _first_write(df: DataFrame, path: str, txn: tuple[str, int] | None = None) -> None:
    """Create the table with its first rows in ONE commit (no empty create + second write).

    Except a column-mapped table with the change feed (bronze): Delta creates it empty
    first (:func:`_create_empty`, no action over ``df``), then the rows are appended.
    """
    props = table_properties(path, df.columns)
    writer = df.write.format("delta").mode("append")
    if _mapped_with_cdf(props):
        _create_empty(df.sparkSession, df.schema, path, props)
        props = {}
    for key, value in props.items():
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
    if _mapped_with_cdf(table_properties(path, df.columns)) and change_feed_enabled(spark, path):
        if _types_change(read_table(spark, path).schema, df.schema):
            # a column changes type (a full reload that fixes a type): Delta neither merges
            # that nor overwrites the schema of a column-mapped table recording its change
            # feed. The feed is paused for this one commit, so a consumer reading across it
            # finds no change data and reads the whole table once (lake.ledger.read_changes).
            _set_change_feed(spark, path, False)
            try:
                _writer(df, "overwrite", overwrite_schema=True).save(path)
                metrics = last_metrics(spark, path)
            finally:  # a failed overwrite must not leave the table without its feed
                _set_change_feed(spark, path, True)
            return metrics
        # Delta refuses overwriteSchema on a column-mapped table recording its change feed;
        # the new columns are merged in (columns the new rows lack read as null).
        _writer(df, "overwrite", merge_schema=True).save(path)
    else:
        _writer(df, "overwrite", overwrite_schema=True).save(path)
    return last_metrics(spark, path)


def _types_change(old, new) -> bool:
    """Whether a column of both schemas has another type in ``new``."""
    before = {f.name.lower(): f.dataType for f in old.fields}
    return any(f.name.lower() in before and before[f.name.lower()] != f.dataType for f in new.fields)


def _set_change_feed(spark: SparkSession, path: str, on: bool) -> None:
    quoted = path.replace("`", "``")
    spark.sql(
        f"ALTER TABLE delta.`{quoted}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = '{str(on).lower()}')"
    )


def table_configuration(spark: SparkSession, path: str) -> dict[str, str]:
    """The table's properties (``delta.enableChangeDataFeed``, ...); {} for no table.

    Read from the latest version's checksum file (``_delta_log/<version>.crc``, which Delta
    writes with every commit and which holds the table's ``metadata`` and ``protocol``): no
    Spark job. A table without it (written by another engine, or a commit whose checksum
    was not written) is asked through ``DeltaTable.detail()``.
    """
    state = _checksum_state(spark, path)
    if state is not None:
        return dict((state.get("metadata") or {}).get("configuration") or {})
    from delta.tables import DeltaTable

    if not table_exists(spark, path):
        return {}
    row = one_row(DeltaTable.forPath(spark, path).detail().select("properties"))
    return dict(row["properties"] or {})


def _checksum_state(spark: SparkSession, path: str) -> dict | None:
    """The latest version's checksum (``metadata``, ``protocol``, ...) when Delta wrote one
    with both actions; None otherwise (no table, no checksum, an unreadable one)."""
    import json

    version, entries = _log_listing(spark, path)
    if version is None:
        return None
    text = _read_text(spark, entries[version][: -len(".json")] + ".crc")
    if not text:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return None
    if not isinstance(state, dict) or "metadata" not in state or "protocol" not in state:
        return None
    return state


def table_bytes(spark: SparkSession, path: str) -> int | None:
    """The bytes of the table's data files at its latest version, from the version's checksum
    (``tableSizeBytes``; no Spark job): 0 for no table, None when Delta wrote no checksum."""
    version, entries = _log_listing(spark, path)
    if version is None:
        return 0
    import json

    text = _read_text(spark, entries[version][: -len(".json")] + ".crc")
    try:
        size = json.loads(text).get("tableSizeBytes") if text else None
    except (ValueError, AttributeError):
        return None
    return int(size) if isinstance(size, int) else None


def added_bytes(spark: SparkSession, path: str, after: int | None) -> int | None:
    """The bytes of the data files the table's commits after version ``after`` added (read
    from the commit files; no Spark job): what a consumer that read up to ``after`` reads
    next. ``after`` None: the whole table (:func:`table_bytes`)."""
    if after is None:
        return table_bytes(spark, path)
    import json

    version, entries = _log_listing(spark, path)
    total = 0
    for v in range(after + 1, (version if version is not None else after) + 1):
        if v not in entries:
            return None  # cleaned up: the consumer reads the whole table
        for line in (_read_text(spark, entries[v]) or "").splitlines():
            if '"add"' not in line:
                continue
            try:
                add = json.loads(line).get("add")
            except ValueError:
                return None
            if isinstance(add, dict) and add.get("dataChange", True):  # not a compaction's rewrite
                total += int(add.get("size") or 0)
    return total


#: A table's files average under this size when :func:`compact` bin-packs them.
SMALL_FILE_BYTES = 32 * 1024 * 1024


def compact(spark: SparkSession, path: str, min_files: int) -> bool:
    """Bin-pack the table's files (Delta ``OPTIMIZE``) when it holds at least ``min_files``
    files averaging under :data:`SMALL_FILE_BYTES`; True when it did.

    A lake written a micro-batch at a time (``lake watch``, frequent runs) adds a file or more
    per table per batch; without this, every read of a whole table opens them all, for ever.
    The file count and size come from the latest checksum (no Spark job; no checksum, no
    compaction). The ``OPTIMIZE`` commit changes no data (``dataChange`` false): change-feed
    consumers skip it, row counts and time travel are unaffected. ``min_files`` 0: never.

    Example:
        >>> compact(spark, paths.bronze("ura"), 50)
        False
    """
    if min_files <= 0:
        return False
    state = _checksum_state(spark, path)
    if state is None:
        return False
    files, size = state.get("numFiles"), state.get("tableSizeBytes")
    if not isinstance(files, int) or not isinstance(size, int) or files < max(min_files, 2):
        return False
    if size / files >= SMALL_FILE_BYTES:
        return False
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).optimize().executeCompaction()
    log.info("compacted %s: %d files of %.1f KiB on average", path, files, size / files / 1024)
    return True


def tables_bytes(spark: SparkSession, paths: Iterable[str]) -> int | None:
    """:func:`table_bytes` summed over ``paths`` (None when one of them is unknown)."""
    total = 0
    for path in paths:
        size = table_bytes(spark, path)
        if size is None:
            return None
        total += size
    return total


def change_feed_enabled(spark: SparkSession, path: str) -> bool:
    """Whether the table records Delta's Change Data Feed."""
    return table_configuration(spark, path).get("delta.enableChangeDataFeed", "false").lower() == "true"


def enable_change_feed(spark: SparkSession, path: str) -> bool:
    """Turn on the Change Data Feed of an existing table (``lake upgrade``); False if it was on.

    A plain table moves to protocol 1/4 (reader 1 kept); a column-mapped one keeps 2/5.
    """
    if change_feed_enabled(spark, path):
        return False
    props = {"delta.enableChangeDataFeed": "true"}
    mapped = table_configuration(spark, path).get("delta.columnMapping.mode", "none") == "name"
    if not mapped and _min_writer_version(spark, path) < 4:
        props["delta.minWriterVersion"] = "4"
    quoted = path.replace("`", "``")
    settings = ", ".join(f"'{k}' = '{v}'" for k, v in props.items())
    spark.sql(f"ALTER TABLE delta.`{quoted}` SET TBLPROPERTIES ({settings})")
    return True


def _min_writer_version(spark: SparkSession, path: str) -> int:
    """The writer version of the table's protocol (checksum file, else ``detail()``)."""
    state = _checksum_state(spark, path)
    if state is not None:
        return int(state["protocol"]["minWriterVersion"])
    from delta.tables import DeltaTable

    return int(one_row(DeltaTable.forPath(spark, path).detail())["minWriterVersion"])


def merge_upsert(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    keys: Iterable[str],
    *,
    compare_columns: Iterable[str] | None = None,
    delete_when: str | None = None,
    delete_missing_when: str | None = None,
    control_columns: Iterable[str] = (),
    append_if_no_match: bool = False,
) -> dict[str, int]:
    """Upsert ``df`` into ``path`` on ``keys``; rows whose compared columns are unchanged are
    not rewritten, so re-merging the same batch changes nothing.

    Args:
        delete_when: a SQL condition over the source row (alias ``s``), e.g.
            ``"s._op = 'delete'"``: a matching target row is deleted, and such a source row is
            never inserted nor used to update. Deleting twice changes nothing.
        delete_missing_when: a SQL condition over the target row (alias ``t``): target rows
            with no source row that satisfy it are deleted (``whenNotMatchedBySourceDelete``),
            e.g. ``"t._source_table = 'ura'"`` when ``df`` is that source's whole content.
        control_columns: columns of ``df`` that steer the MERGE (e.g. ``_op``) and are not
            written to the target.
        append_if_no_match: for a batch of mostly new keys (a channel's new interactions):
            first an insert-only MERGE (Delta runs it as one anti-join and an append: no
            source materialization, no target rewrite); only when some key of ``df`` was
            already in the target does the full MERGE run as well (which then finds the rows
            just inserted unchanged), its metrics added to the first's. Only without
            ``delete_when``/``delete_missing_when``/``control_columns``.

    ``df`` must hold at most one row per key (resolve duplicates before calling).

    Example:
        >>> merge_upsert(spark, batch, paths.silver("associado"), ["id"], delete_when="s._op = 'delete'",
        ...              control_columns=["_op"])
    """
    from delta.tables import DeltaTable

    keys = list(keys)
    control = [c for c in control_columns if c in df.columns]
    if not table_exists(spark, path):
        if delete_when is None and not control:
            # Nothing to merge into: one plain write, reported with MERGE's metric names.
            _first_write(df, path)
            metrics = last_metrics(spark, path)
            rows = metrics.get("numOutputRows", 0)
            metrics.update(numSourceRows=rows, numTargetRowsInserted=rows, numTargetRowsUpdated=0)
            return metrics
        # an empty table from the schema alone (no action over ``df``), then the MERGE below
        target_schema = df.drop(*control).schema
        create_if_missing(spark, spark.createDataFrame([], target_schema), path)
    target = DeltaTable.forPath(spark, path)
    written = [c for c in df.columns if c not in control]
    cols = list(compare_columns) if compare_columns is not None else [c for c in written if c not in keys]
    on = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in cols) or "false"
    values: dict[str, str | Column] = {f"`{c}`": f"s.`{c}`" for c in written}
    inserted: dict[str, int] | None = None
    if append_if_no_match and delete_when is None and delete_missing_when is None and not control:
        before = table_version(spark, path)
        target.alias("t").merge(df.alias("s"), on).whenNotMatchedInsert(values=values).execute()
        inserted = last_metrics(spark, path) if table_version(spark, path) != before else {}
        source_rows = inserted.get("numSourceRows")
        if source_rows is not None and inserted.get("numTargetRowsInserted") == source_rows:
            return inserted  # only new keys (the usual batch): nothing to update
    merge = target.alias("t").merge(df.alias("s"), on)
    if delete_when is not None:
        keep = f"NOT coalesce({delete_when}, false)"
        merge = (
            merge.whenMatchedDelete(condition=delete_when)
            .whenMatchedUpdate(condition=f"({changed}) AND {keep}", set=values)
            .whenNotMatchedInsert(condition=keep, values=values)
        )
    else:
        merge = merge.whenMatchedUpdate(condition=changed, set=values).whenNotMatchedInsert(values=values)
    if delete_missing_when is not None:
        merge = merge.whenNotMatchedBySourceDelete(condition=delete_missing_when)
    before = table_version(spark, path)
    merge.execute()
    if table_version(spark, path) == before:  # an empty source: Delta commits nothing
        metrics = {"numSourceRows": 0, "numTargetRowsInserted": 0, "numTargetRowsUpdated": 0}
        if before is not None:
            metrics["version"] = before
    else:
        metrics = last_metrics(spark, path)
    if inserted:  # the insert-only MERGE above took the new keys: its inserts are this MERGE's too
        metrics["numTargetRowsInserted"] = metrics.get("numTargetRowsInserted", 0) + inserted.get(
            "numTargetRowsInserted", 0
        )
    return metrics


def merge_diff(
    spark: SparkSession, df: DataFrame, path: str, keys: Iterable[str], *, delete_column: str
) -> dict[str, int]:
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
    values: dict[str, str | Column] = {f"`{c}`": f"s.`{c}`" for c in cols}
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(df.alias("s"), on)
        .whenMatchedDelete(condition=f"s.`{delete_column}`")
        .whenMatchedUpdate(set=values)
        .whenNotMatchedInsert(condition=f"NOT s.`{delete_column}`", values=values)
        .execute()
    )
    return last_metrics(spark, path)


def last_metrics(spark: SparkSession, path: str) -> dict[str, int]:
    """Operation metrics of the table's latest write (rows written, updated, ...), with its
    ``version``: the latest commit that is not an auto compaction. With Delta's auto
    compaction turned on (``spark.databricks.delta.autoCompact.enabled`` or the table
    property ``delta.autoOptimize.autoCompact``, a cluster's setting), Delta may commit an
    ``OPTIMIZE`` right after a write; its metrics are no row counts of the write.

    Row counts come from Delta's own metrics, so nothing is counted twice. They are read from
    the commit file itself (``_delta_log/<version>.json``, its ``commitInfo`` action, as the
    Delta protocol defines it): no Spark job, where ``DeltaTable.history`` starts one.
    Compare the version with the one before the write through :func:`committed_after`.
    """
    version, entries = _log_listing(spark, path)
    if version is None:
        raise ValueError(f"no Delta commit under {path}")
    info = _commit_info(spark, entries[version])
    while _auto_compaction(info) and version - 1 in entries:
        version -= 1
        info = _commit_info(spark, entries[version])
    metrics = {
        k: int(v) for k, v in (info.get("operationMetrics") or {}).items() if str(v).lstrip("-").isdigit()
    }
    metrics["version"] = version
    return metrics


def _auto_compaction(info: dict) -> bool:
    """Whether a commit's ``commitInfo`` is Delta's auto compaction (an ``OPTIMIZE`` it ran
    after a write, ``operationParameters.auto`` true)."""
    params = info.get("operationParameters") or {}
    return info.get("operation") == "OPTIMIZE" and str(params.get("auto", "")).lower() == "true"


def committed_after(metrics: dict[str, int], before: int | None) -> bool:
    """Whether the write :func:`last_metrics` describes committed after version ``before``
    (the table's version before the write; None: no table). A write of no rows commits
    nothing, so the latest write is then an older one (or its auto compaction's, which
    :func:`last_metrics` steps over)."""
    return before is None or metrics.get("version", -1) > before


def table_version(spark: SparkSession, path: str) -> int | None:
    """The table's latest version (None: no table), from a listing of its ``_delta_log``."""
    return _log_listing(spark, path)[0]


#: A commit file of the Delta log: ``<20-digit version>.json``.
_COMMIT_FILE = re.compile(r"(\d{20})\.json")


def _local(path: str) -> str | None:
    """``path`` as a local file name when it is one (no scheme, or ``file:``), else None."""
    from urllib.parse import urlparse

    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        return parsed.path if parsed.scheme else path
    return None


def _log_listing(spark: SparkSession, path: str) -> tuple[int | None, dict[int, str]]:
    """The latest commit version under ``path``'s ``_delta_log`` and every commit file's path
    by version; ``(None, {})`` for no table. A local folder is listed by Python; any other
    through the table's Hadoop FileSystem (HDFS, s3a: one ``listStatus``)."""
    folder = path.rstrip("/") + "/_delta_log"
    local = _local(folder)
    if local is not None:
        try:
            names = os.listdir(local)
        except FileNotFoundError:
            return None, {}
    else:
        jvm = session_jvm(spark)
        hpath = jvm.org.apache.hadoop.fs.Path(folder)
        fs = hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        if not fs.exists(hpath):
            return None, {}
        names = [status.getPath().getName() for status in fs.listStatus(hpath)]
    entries = {
        int(found.group(1)): f"{folder}/{name}" for name in names if (found := _COMMIT_FILE.fullmatch(name))
    }
    return (max(entries) if entries else None), entries


def _read_text(spark: SparkSession, uri: str) -> str | None:
    """A small log file's text (None when it does not exist): Python for a local path, the
    Hadoop FileSystem for any other."""
    local = _local(uri)
    if local is not None:
        try:
            with open(local, encoding="utf-8") as fh:
                return fh.read()
        except FileNotFoundError:
            return None
    jvm = session_jvm(spark)
    file = jvm.org.apache.hadoop.fs.Path(uri)
    fs = file.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(file):
        return None
    stream = fs.open(file)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def _commit_info(spark: SparkSession, uri: str) -> dict:
    """The ``commitInfo`` action of one commit file ({} when it has none)."""
    import json

    text = _read_text(spark, uri) or ""
    for line in text.splitlines():
        if '"commitInfo"' in line:
            action = json.loads(line)
            if "commitInfo" in action:
                return action["commitInfo"] or {}
    return {}


def next_write_version(spark: SparkSession, path: str, columns: Iterable[str] = ()) -> int:
    """The version the next write of rows to ``path`` commits (one writer per table): the
    current version + 1; for a new table 0, or 1 when :func:`_first_write` creates it empty
    first (a column-mapped table with the change feed: bronze).

    Example:
        >>> next_write_version(spark, "/lake/bronze/cartao")  # no table yet
        1
    """
    current = table_version(spark, path)
    if current is not None:
        return current + 1
    return 1 if _mapped_with_cdf(table_properties(path, columns)) else 0


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
