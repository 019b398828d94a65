"""Bronze ingestion of database tables over JDBC (PostgreSQL, MariaDB/MySQL, SQLite).

One code path for the three databases: the driver follows the URL prefix, a small
``SELECT min, max, count`` through Spark JDBC discovers the partition bounds (and doubles as
the connectivity check), and the rows are read in ``num_partitions`` parallel slices.

Incremental sources read ``incremental_column > mark AND <= new mark``; the mark is stored in
``{root}/_system/watermarks`` only after the bronze commit. Rows already in bronze (same
``_row_id``) are never appended twice, so a run killed between the bronze commit and the
watermark write is harmless.

Mutable sources (``change_detection``, docs/databases.md) append their changes: with
``change_column`` the rows whose change column passed the mark are re-read; with
``snapshot`` the whole table is read and compared, by key and row hash, with bronze's latest
state: new and changed rows are appended as ``_op = 'upsert'``, keys gone from the source as
``_op = 'delete'`` rows (the key, every other column NULL). Bronze stays append-only;
``_bronze_version`` (the bronze table version the row was appended in, as Delta's change
feed reports it in ``_commit_version``: :func:`lake.delta_io.next_write_version`) orders the
states of one key without any clock.

Example:
    >>> res = ingest_table(spark, cfg.sources["movimento"], cfg.jdbc, LakePaths(root), run_id)
    >>> res.watermark
    '120000'
"""

from __future__ import annotations

import dataclasses
import logging
import re

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampType

from lake import delta_io
from lake.bronze.common import IngestResult, read_watermark, utc_now, write_watermark
from lake.config import ChangeDetection, JdbcConnection, JdbcSource
from lake.errors import SourceError
from lake.faults import fault_point
from lake.paths import LakePaths
from lake.redaction import redact
from lake.runlog import observe_rows, observed

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_TEXT_TYPES = ("decimal", "timestamp", "date")

#: Bronze columns of a mutable source: the row's operation and the bronze version it came in.
OP, UPSERT, DELETE, BRONZE_VERSION = "_op", "upsert", "delete", "_bronze_version"


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What the bounds query found in the slice to read."""

    lo: int | None
    hi: int | None
    count: int
    mark: str | None


def driver_for(url: str) -> str:
    """JDBC driver class from the URL prefix."""
    low = url.lower()
    if low.startswith("jdbc:postgresql:"):
        return "org.postgresql.Driver"
    if low.startswith(("jdbc:mariadb:", "jdbc:mysql:")):
        return "org.mariadb.jdbc.Driver"
    if low.startswith("jdbc:sqlite:"):
        return "org.sqlite.JDBC"
    raise SourceError(
        f"unsupported JDBC URL {redact(url)!r}: expected jdbc:postgresql:, jdbc:mariadb:, jdbc:mysql: or jdbc:sqlite:"
    )


def normalise_url(url: str) -> str:
    """MariaDB/MySQL URLs become ``jdbc:mysql:...permitMysqlScheme``: Spark's MySQL dialect
    (backtick quoting) recognises the scheme, and MariaDB's driver accepts it with that flag."""
    low = url.lower()
    if low.startswith("jdbc:mariadb:"):
        url = "jdbc:mysql:" + url[len("jdbc:mariadb:") :]
        low = url.lower()
    if low.startswith("jdbc:mysql:") and "permitmysqlscheme" not in low:
        url += ("&" if "?" in url else "?") + "permitMysqlScheme"
    return url


def _dialect(url: str) -> str:
    low = url.lower()
    return (
        "sqlite"
        if low.startswith("jdbc:sqlite:")
        else "postgres"
        if low.startswith("jdbc:postgresql:")
        else "mysql"
    )


def _as_text(expr: str, url: str) -> str:
    """``expr`` converted to text by the database itself.

    MariaDB Connector/J's ``getString`` on a ``DATETIME`` builds a ``java.sql.Timestamp`` in
    the JVM's zone and prints it, so a wall-clock time in a daylight-saving gap of that zone
    comes back an hour later; text made by the server is returned untouched.
    """
    return f"CAST({expr} AS {'CHAR' if _dialect(url) == 'mysql' else 'TEXT'})"


def _check_ident(name: str, what: str, source: JdbcSource) -> str:
    if not _IDENT.match(name):
        raise SourceError(f"source {source.name!r}: {what} {name!r} is not a plain SQL identifier")
    return name


def _literal(value: str) -> str:
    if re.fullmatch(r"-?\d+", value):
        return value
    return "'" + value.replace("'", "''") + "'"


def _reader(spark: SparkSession, source: JdbcSource, conn: JdbcConnection):
    url = normalise_url(conn.url)
    reader = (
        spark.read.format("jdbc")
        .option("url", url)
        .option("driver", conn.driver or driver_for(conn.url))
        .option("fetchsize", str(source.fetch_size))
    )
    if conn.user:
        reader = reader.option("user", conn.user)
    if conn.password:
        reader = reader.option("password", conn.password)
    return reader


def _where(source: JdbcSource, after: str | None, upto: str | None) -> str:
    col = source.mark_column
    conds = []
    if col and after is not None:
        conds.append(f"{col} > {_literal(after)}")
    if col and upto is not None:
        conds.append(f"{col} <= {_literal(upto)}")
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def _fail(source: JdbcSource, conn: JdbcConnection, exc: Exception) -> SourceError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    java = re.search(r"(java\.sql\.\w+|org\.\w+[\w.]*Exception|SQLException)[^\n]*", str(exc))
    if java:
        detail = java.group(0)
    return SourceError(
        f"source {source.name!r}: cannot read table {source.table!r} from {redact(conn.url)}: "
        f"{redact(detail, [conn.password])[:400]}"
    )


def discover_bounds(
    spark: SparkSession, source: JdbcSource, conn: JdbcConnection, *, after: str | None = None
) -> Bounds:
    """``min``/``max`` of the partition column, row count and new mark of the slice ``> after``."""
    table = _check_ident(source.table, "table", source)
    pc = (
        _check_ident(source.partition_column, "partition_column", source) if source.partition_column else None
    )
    inc = _check_ident(source.mark_column, "mark column", source) if source.mark_column else None
    select = [
        f"MIN({pc}) AS lake_lo" if pc else "NULL AS lake_lo",
        f"MAX({pc}) AS lake_hi" if pc else "NULL AS lake_hi",
        "COUNT(*) AS lake_n",
        f"{_as_text(f'MAX({inc})', conn.url)} AS lake_mark" if inc else "NULL AS lake_mark",
    ]
    query = f"(SELECT {', '.join(select)} FROM {table}{_where(source, after, None)}) lake_bounds"
    try:
        row = (
            _reader(spark, source, conn)
            .option("dbtable", query)
            .option("customSchema", "lake_lo STRING, lake_hi STRING, lake_n STRING, lake_mark STRING")
            .load()
            .first()
        )
    except Exception as exc:  # driver, network, SQL: all become one SourceError
        raise _fail(source, conn, exc) from None

    def as_int(v):
        return None if v is None else int(float(v))

    return Bounds(
        as_int(row["lake_lo"]), as_int(row["lake_hi"]), as_int(row["lake_n"]) or 0, row["lake_mark"]
    )


def planned_partitions(source: JdbcSource, bounds: Bounds) -> int:
    """Partitions Spark creates for ``bounds`` (it never makes more than ``hi - lo``)."""
    if not source.partition_column or bounds.lo is None or bounds.hi is None or source.num_partitions <= 1:
        return 1
    span = bounds.hi - bounds.lo
    return max(1, min(source.num_partitions, span)) if span > 0 else 1


def read_slice(
    spark: SparkSession, source: JdbcSource, conn: JdbcConnection, bounds: Bounds, *, after: str | None = None
) -> DataFrame:
    """The source rows ``after < mark <= bounds.mark``, partitioned, cast to the configured types."""
    cols = [_check_ident(c, "column", source) for c in source.columns]
    # Timestamps and amounts travel as the database's text and are cast by Spark: exact for
    # decimals (SQLite stores them as text or double), and free of driver/JVM time-zone shifts.
    # A TIMESTAMP WITHOUT TIME ZONE column is typed ``timestamp_ntz`` in the config: the text
    # (made by the server, see _as_text) is cast to a naive value, never read in a zone, so a
    # wall-clock time that a daylight-saving jump skips or repeats stays what the database holds.
    text = [c for c, t in source.types.items() if c in cols and t.lower().startswith(_TEXT_TYPES)]
    datetimes = {c for c in text if source.types[c].lower().startswith(("timestamp", "date"))}
    select = [f"{_as_text(c, conn.url)} AS {c}" if c in datetimes else c for c in cols]
    query = f"(SELECT {', '.join(select)} FROM {source.table}{_where(source, after, bounds.mark)}) lake_src"
    reader = _reader(spark, source, conn).option("dbtable", query)
    if text:
        reader = reader.option("customSchema", ", ".join(f"{c} STRING" for c in text))
    n = planned_partitions(source, bounds)
    if n > 1:
        reader = (
            reader.option("partitionColumn", source.partition_column)
            .option("lowerBound", str(bounds.lo))
            .option("upperBound", str(bounds.hi))
            .option("numPartitions", str(n))
        )
    df = reader.load()
    zoned = [f.name for f in df.schema.fields if isinstance(f.dataType, TimestampType) and f.name not in text]
    if zoned:
        # The driver builds these in the JVM's zone: a naive value in a daylight-saving gap moves.
        log.warning(
            "source %s: %s read by the JDBC driver in the JVM time zone; declare naive columns "
            "as timestamp_ntz in sources.%s.types to keep them exact",
            source.name,
            ", ".join(zoned),
            source.name,
        )
    return df.select(
        *[(F.col(c).try_cast(source.types[c]) if c in source.types else F.col(c)).alias(c) for c in cols]
    )


def row_hash(columns) -> Column:
    """A hash of the row's values (NULL-safe: the JSON names each present field)."""
    return F.xxhash64(F.to_json(F.struct(*[F.col(c) for c in columns])))


def _with_lineage(df: DataFrame, source: JdbcSource, run_id: str, bronze_version: int) -> DataFrame:
    keys = list(source.key_columns)
    return df.select(
        *[F.col(c) for c in source.columns],
        F.sha2(F.concat_ws("|", F.lit(source.name), *[F.col(k).cast("string") for k in keys]), 256).alias(
            "_row_id"
        ),
        F.lit(source.table).alias("_source_table"),
        F.lit(utc_now()).cast("timestamp").alias("_ingested_at"),
        F.lit(run_id).alias("_run_id"),
        (F.col(OP) if OP in df.columns else F.lit(UPSERT)).alias(OP),
        F.lit(bronze_version).cast("long").alias(BRONZE_VERSION),
    )


def latest_state(bronze: DataFrame, source: JdbcSource) -> DataFrame:
    """Bronze's latest row of every key: ``keys``, ``_op`` and the row hash (``_hash``).

    Rows written before ``_op``/``_bronze_version`` existed count as upserts older than any
    versioned row (their ``_ingested_at`` orders them among themselves).
    """
    keys = list(source.key_columns)
    version = F.coalesce(F.col(BRONZE_VERSION), F.lit(-1)) if BRONZE_VERSION in bronze.columns else F.lit(-1)
    op = F.coalesce(F.col(OP), F.lit(UPSERT)) if OP in bronze.columns else F.lit(UPSERT)
    w = Window.partitionBy(*[F.col(k) for k in keys]).orderBy(
        version.desc(), F.col("_ingested_at").desc_nulls_last()
    )
    return (
        bronze.select(
            *[F.col(k) for k in keys],
            op.alias(OP),
            row_hash(source.columns).alias("_hash"),
            F.row_number().over(w).alias("_rn"),
        )
        .where(F.col("_rn") == 1)
        .drop("_rn")
    )


def snapshot_changes(
    snapshot: DataFrame, latest: DataFrame, source: JdbcSource, *, everything: bool = False
) -> DataFrame:
    """The rows a snapshot adds to bronze, with ``_op`` and ``_change`` (``upsert``,
    ``delete``, ``unchanged`` or null for a key already deleted and still absent).

    A key new or changed (other hash, or deleted before) is an upsert; a key bronze holds
    alive but the snapshot lacks is a delete row (the key, the other columns NULL);
    ``everything`` (a full reload) keeps the unchanged rows as upserts too.

    Example:
        >>> snapshot_changes(source_rows, latest_state(bronze, src), src).where("_change = 'delete'")
    """
    keys = list(source.key_columns)
    cur = latest.select(
        *[F.col(k).alias(f"_cur_{k}") for k in keys],
        F.col(OP).alias("_cur_op"),
        F.col("_hash").alias("_cur_hash"),
    )
    joined = snapshot.select("*", F.lit(True).alias("_in_source")).join(
        cur, [F.col(k) == F.col(f"_cur_{k}") for k in keys], "full"
    )
    present = F.col("_in_source").isNotNull()
    alive = F.col("_cur_op") == F.lit(UPSERT)
    same = alive & (row_hash(source.columns) == F.col("_cur_hash"))
    change = (
        F.when(present & same & F.lit(not everything), F.lit("unchanged"))
        .when(present, F.lit(UPSERT))
        .when(alive, F.lit(DELETE))
    )
    types = {f.name: f.dataType for f in snapshot.schema.fields}
    out = [
        (F.coalesce(F.col(c), F.col(f"_cur_{c}")) if c in keys else F.col(c)).cast(types[c]).alias(c)
        for c in source.columns
    ]
    return joined.select(
        *out, F.when(present, F.lit(UPSERT)).otherwise(F.lit(DELETE)).alias(OP), change.alias("_change")
    )


def _replayable(spark: SparkSession, bronze: str, source: JdbcSource, after: str | None) -> DataFrame:
    """``_row_id`` (once each, with ``_in_bronze = true``) of the bronze rows a replay of the
    slice ``> after`` can duplicate: those at or above the previous mark (Delta skips the
    files below it), not the whole table. With a change column the same key comes back
    with new values: a row is a replay only when its values (``_hash``) are in bronze too.

    When the mark does not cast to the column's type, every row is kept (never miss one).
    """
    df = delta_io.read_table(spark, bronze)
    col = source.mark_column
    if after is not None and col in df.columns:
        mark = F.lit(after).try_cast(df.schema[col].dataType)
        df = df.where((F.col(col) >= mark) | mark.isNull())
    keys = ["_row_id"] + (["_hash"] if source.change_detection == ChangeDetection.CHANGE_COLUMN else [])
    if "_hash" in keys:
        df = df.select("_row_id", row_hash(source.columns).alias("_hash"))
    return df.groupBy(*keys).agg(F.lit(True).alias("_in_bronze"))


def _check_type_changes(
    spark: SparkSession, source: JdbcSource, bronze: str, batch: DataFrame, full_reload: bool
) -> None:
    """An append may not change a column's type (e.g. ``timestamp`` -> ``timestamp_ntz`` after
    an upgrade): refused. A full reload replaces the table and its schema (adding the
    ``timestampNtz`` table feature the new schema may need)."""
    changes = delta_io.type_changes(spark, bronze, batch)
    if not changes:
        return
    if not full_reload:
        what = ", ".join(f"{c} is {held} there, the config reads {wanted}" for c, held, wanted in changes)
        raise SourceError(
            f"source {source.name!r}: bronze {bronze} was written with other column types ({what}); "
            f"rebuild it with 'lake run --pipeline {source.pipeline.value} --full-reload' (docs/model.md, 'Upgrading a lake')"
        )
    if any(wanted == "timestamp_ntz" for _c, _held, wanted in changes):
        delta_io.enable_feature(spark, bronze, "timestampNtz")
    log.warning(
        "%s: bronze column types change (%s); the full reload replaces the table's schema",
        source.name,
        ", ".join(f"{c}: {held} -> {wanted}" for c, held, wanted in changes),
    )


def ingest_table(
    spark: SparkSession,
    source: JdbcSource,
    conn: JdbcConnection,
    paths: LakePaths,
    run_id: str,
    *,
    full_reload: bool = False,
) -> IngestResult:
    """Read the table's new rows (all rows on the first run or with ``full_reload``) into bronze.

    Example:
        >>> ingest_table(spark, cfg.sources["associado"], cfg.jdbc, LakePaths("/tmp/lake"), "r1")
        IngestResult(source='associado', rows_in=100, rows_written=100, partitions=2, ...)
    """
    if source.change_detection == ChangeDetection.SNAPSHOT:
        return ingest_snapshot(spark, source, conn, paths, run_id, full_reload=full_reload)
    bronze = paths.bronze(source.name)
    incremental = source.mark_column is not None and not full_reload
    after = (
        read_watermark(spark, paths, source.name)
        if incremental and delta_io.table_exists(spark, bronze)
        else None
    )
    bounds = discover_bounds(spark, source, conn, after=after)
    partitions = planned_partitions(source, bounds)
    if incremental and bounds.count == 0:
        log.info("%s: no rows after %s", source.name, after)
        return IngestResult(source=source.name, partitions=0, watermark=after)
    version_before = delta_io.table_version(spark, bronze)
    fault_point(f"bronze.jdbc.before_read:{source.name}")
    try:
        rows = read_slice(spark, source, conn, bounds, after=after)
        _check_type_changes(spark, source, bronze, rows, full_reload)  # may commit (a table feature)
        # source rows counted as they are read, in the write's own job
        batch, read = observe_rows(
            _with_lineage(rows, source, run_id, delta_io.next_write_version(spark, bronze, source.columns)),
            f"bronze_{source.name}_in",
        )
        replay_guard = incremental and delta_io.table_exists(spark, bronze)
        if replay_guard:
            # A replay of a slice already committed (killed before the mark was saved) adds
            # nothing; the rows it skips are counted as they are recognised.
            by_values = source.change_detection == ChangeDetection.CHANGE_COLUMN
            on = ["_row_id", "_hash"] if by_values else ["_row_id"]
            probe = batch.withColumn("_hash", row_hash(source.columns)) if by_values else batch
            flagged, seen = observe_rows(
                probe.join(_replayable(spark, bronze, source, after), on, "left"),
                f"bronze_{source.name}_seen",
                replayed=F.count(F.col("_in_bronze")),
            )
            batch = flagged.where(F.col("_in_bronze").isNull()).select(*[F.col(c) for c in batch.columns])
            fault_point(f"bronze.append.before:{source.name}")
            metrics = delta_io.append(
                spark, batch, bronze, merge_schema=True
            )  # a lake older than _op gains it
        elif incremental:
            fault_point(f"bronze.append.before:{source.name}")
            metrics = delta_io.append(spark, batch, bronze, merge_schema=True)
        else:
            fault_point(f"bronze.append.before:{source.name}")
            metrics = delta_io.overwrite(spark, batch, bronze)
    except SourceError:
        raise
    except Exception as exc:
        if "Py4J" in type(exc).__name__ or "SQL" in str(exc)[:2000] or "JDBC" in str(exc)[:2000]:
            raise _fail(source, conn, exc) from None
        raise
    fault_point(f"bronze.append.after:{source.name}")
    # an empty append may leave no commit: then the latest metrics are an older write's
    rows_written = metrics.get("numOutputRows", 0) if delta_io.committed_after(metrics, version_before) else 0
    rows_in = observed(read).get("rows", -1)
    replayed = observed(seen).get("replayed", -1) if replay_guard else 0
    if replayed > 0:
        log.warning(
            "%s: %d rows were already in bronze (a run died before saving its mark)", source.name, replayed
        )
    mark = bounds.mark if source.mark_column else None
    if source.mark_column:
        fault_point(f"bronze.watermark.before:{source.name}")
        write_watermark(
            spark, paths, source.name, source.mark_column, mark if mark is not None else after, run_id
        )
        fault_point(f"bronze.watermark.after:{source.name}")
    log.info(
        "%s: %d rows read, %d written to %s in %d partitions",
        source.name,
        rows_in,
        rows_written,
        bronze,
        partitions,
    )
    return IngestResult(
        source=source.name,
        rows_in=rows_in,
        rows_written=rows_written,
        replayed=replayed,
        partitions=partitions,
        watermark=mark if mark is not None else after,
    )


def ingest_snapshot(
    spark: SparkSession,
    source: JdbcSource,
    conn: JdbcConnection,
    paths: LakePaths,
    run_id: str,
    *,
    full_reload: bool = False,
) -> IngestResult:
    """Read the whole table and append what changed since bronze's latest state.

    New and changed rows become ``_op = 'upsert'`` rows, keys gone from the source
    ``_op = 'delete'`` rows (:func:`snapshot_changes`); unchanged rows are counted in
    ``replayed``, and ``rows_in`` is the rows read plus the deletions found. No mark is kept:
    a run killed after its bronze commit compares with that commit on rerun and adds nothing.
    ``full_reload`` replaces bronze with every source row plus the deletions found.

    Example:
        >>> ingest_snapshot(spark, cfg.sources["cartao"], cfg.jdbc, LakePaths("/tmp/lake"), "r2")
        IngestResult(source='cartao', rows_in=41, rows_written=2, replayed=39, ...)
    """
    bronze = paths.bronze(source.name)
    exists = delta_io.table_exists(spark, bronze)
    bounds = discover_bounds(spark, source, conn)
    partitions = planned_partitions(source, bounds)
    version_before = delta_io.table_version(spark, bronze)
    fault_point(f"bronze.jdbc.before_read:{source.name}")
    try:
        snapshot = read_slice(spark, source, conn, bounds)
        if exists:
            latest = latest_state(delta_io.read_table(spark, bronze), source)
        else:
            latest = spark.createDataFrame(
                [],
                snapshot.select(
                    *list(source.key_columns), F.lit(UPSERT).alias(OP), F.lit(0).cast("long").alias("_hash")
                ).schema,
            )
        diff, seen = observe_rows(
            snapshot_changes(snapshot, latest, source, everything=full_reload),
            f"bronze_{source.name}_in",
            read=F.count(F.when(F.col(OP) == UPSERT, 1)),
            deleted=F.count(F.when(F.col("_change") == DELETE, 1)),
            unchanged=F.count(F.when(F.col("_change") == "unchanged", 1)),
        )
        _check_type_changes(spark, source, bronze, diff.select(*source.columns), full_reload)  # may commit
        batch = _with_lineage(
            diff.where(F.col("_change").isin(UPSERT, DELETE)),
            source,
            run_id,
            delta_io.next_write_version(spark, bronze, source.columns),
        )
        fault_point(f"bronze.append.before:{source.name}")
        if full_reload or not exists:
            metrics = delta_io.overwrite(spark, batch, bronze)
        else:
            metrics = delta_io.append(
                spark, batch, bronze, merge_schema=True
            )  # a lake older than _op gains it
    except SourceError:
        raise
    except Exception as exc:
        if "Py4J" in type(exc).__name__ or "SQL" in str(exc)[:2000] or "JDBC" in str(exc)[:2000]:
            raise _fail(source, conn, exc) from None
        raise
    fault_point(f"bronze.append.after:{source.name}")
    rows_written = metrics.get("numOutputRows", 0) if delta_io.committed_after(metrics, version_before) else 0
    got = observed(seen)
    rows_in = got["read"] + got["deleted"] if "read" in got else -1
    log.info(
        "%s: snapshot of %d rows, %d deletions found, %d rows unchanged; %d written to %s",
        source.name,
        got.get("read", -1),
        got.get("deleted", -1),
        got.get("unchanged", -1),
        rows_written,
        bronze,
    )
    return IngestResult(
        source=source.name,
        rows_in=rows_in,
        rows_written=rows_written,
        replayed=got.get("unchanged", -1),
        partitions=partitions,
    )
