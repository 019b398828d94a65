"""Bronze ingestion of database tables over JDBC (PostgreSQL, MariaDB/MySQL, SQLite).

One code path for the three databases: the driver follows the URL prefix, a small
``SELECT min, max, count`` through Spark JDBC discovers the partition bounds (and doubles as
the connectivity check), and the rows are read in ``num_partitions`` parallel slices.

Incremental sources read ``incremental_column > mark AND <= new mark``; the mark is stored in
``{root}/_system/watermarks`` only after the bronze commit. Rows already in bronze (same
``_row_id``) are never appended twice, so a run killed between the bronze commit and the
watermark write is harmless.

Example:
    >>> res = ingest_table(spark, cfg.sources["movimento"], cfg.jdbc, LakePaths(root), run_id)
    >>> res.watermark
    '120000'
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampType

from lake import delta_io
from lake.bronze.common import IngestResult, read_watermark, utc_now, write_watermark
from lake.config import JdbcConnection, JdbcSource
from lake.errors import SourceError
from lake.faults import fault_point
from lake.paths import LakePaths
from lake.runlog import observe_rows, observed

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_TEXT_TYPES = ("decimal", "timestamp", "date")


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What the bounds query found in the slice to read."""

    lo: Optional[int]
    hi: Optional[int]
    count: int
    mark: Optional[str]


def driver_for(url: str) -> str:
    """JDBC driver class from the URL prefix."""
    low = url.lower()
    if low.startswith("jdbc:postgresql:"):
        return "org.postgresql.Driver"
    if low.startswith(("jdbc:mariadb:", "jdbc:mysql:")):
        return "org.mariadb.jdbc.Driver"
    if low.startswith("jdbc:sqlite:"):
        return "org.sqlite.JDBC"
    raise SourceError(f"unsupported JDBC URL {safe_url(url)!r}: expected jdbc:postgresql:, jdbc:mariadb:, jdbc:mysql: or jdbc:sqlite:")


def normalise_url(url: str) -> str:
    """MariaDB/MySQL URLs become ``jdbc:mysql:...permitMysqlScheme``: Spark's MySQL dialect
    (backtick quoting) recognises the scheme, and MariaDB's driver accepts it with that flag."""
    low = url.lower()
    if low.startswith("jdbc:mariadb:"):
        url = "jdbc:mysql:" + url[len("jdbc:mariadb:"):]
        low = url.lower()
    if low.startswith("jdbc:mysql:") and "permitmysqlscheme" not in low:
        url += ("&" if "?" in url else "?") + "permitMysqlScheme"
    return url


def safe_url(url: str) -> str:
    """The URL with any password parameter masked (for messages and logs)."""
    url = re.sub(r"(?i)(password=)[^&;]*", r"\1***", url)
    return re.sub(r"//([^/@:]+):([^/@]*)@", r"//\1:***@", url)


def _dialect(url: str) -> str:
    low = url.lower()
    return "sqlite" if low.startswith("jdbc:sqlite:") else "postgres" if low.startswith("jdbc:postgresql:") else "mysql"


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


def _where(source: JdbcSource, after: Optional[str], upto: Optional[str]) -> str:
    col = source.incremental_column
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
    if conn.password:
        detail = detail.replace(conn.password, "***")
    return SourceError(
        f"source {source.name!r}: cannot read table {source.table!r} from {safe_url(conn.url)}: {detail[:400]}"
    )


def discover_bounds(spark: SparkSession, source: JdbcSource, conn: JdbcConnection, *, after: Optional[str] = None) -> Bounds:
    """``min``/``max`` of the partition column, row count and new mark of the slice ``> after``."""
    table = _check_ident(source.table, "table", source)
    pc = _check_ident(source.partition_column, "partition_column", source) if source.partition_column else None
    inc = _check_ident(source.incremental_column, "incremental_column", source) if source.incremental_column else None
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
    return Bounds(as_int(row["lake_lo"]), as_int(row["lake_hi"]), as_int(row["lake_n"]) or 0, row["lake_mark"])


def planned_partitions(source: JdbcSource, bounds: Bounds) -> int:
    """Partitions Spark creates for ``bounds`` (it never makes more than ``hi - lo``)."""
    if not source.partition_column or bounds.lo is None or bounds.hi is None or source.num_partitions <= 1:
        return 1
    span = bounds.hi - bounds.lo
    return max(1, min(source.num_partitions, span)) if span > 0 else 1


def read_slice(
    spark: SparkSession, source: JdbcSource, conn: JdbcConnection, bounds: Bounds, *, after: Optional[str] = None
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
        log.warning("source %s: %s read by the JDBC driver in the JVM time zone; declare naive columns "
                    "as timestamp_ntz in sources.%s.types to keep them exact", source.name, ", ".join(zoned), source.name)
    return df.select(
        *[(F.col(c).try_cast(source.types[c]) if c in source.types else F.col(c)).alias(c) for c in cols]
    )


def _with_lineage(df: DataFrame, source: JdbcSource, run_id: str) -> DataFrame:
    keys = list(source.key) or [source.columns[0]]
    return df.select(
        *[F.col(c) for c in df.columns],
        F.sha2(F.concat_ws("|", F.lit(source.name), *[F.col(k).cast("string") for k in keys]), 256).alias("_row_id"),
        F.lit(source.table).alias("_source_table"),
        F.lit(utc_now()).cast("timestamp").alias("_ingested_at"),
        F.lit(run_id).alias("_run_id"),
    )


def _replayable(spark: SparkSession, bronze: str, source: JdbcSource, after: Optional[str]) -> DataFrame:
    """``_row_id`` (once each, with ``_in_bronze = true``) of the bronze rows a replay of the
    slice ``> after`` can duplicate: those at or above the previous mark (Delta skips the
    files below it), not the whole table.

    When the mark does not cast to the column's type, every row is kept (never miss one).
    """
    df = delta_io.read_table(spark, bronze)
    col = source.incremental_column
    if after is not None and col in df.columns:
        mark = F.lit(after).try_cast(df.schema[col].dataType)
        df = df.where((F.col(col) >= mark) | mark.isNull())
    return df.groupBy("_row_id").agg(F.lit(True).alias("_in_bronze"))


def _check_type_changes(spark: SparkSession, source: JdbcSource, bronze: str, batch: DataFrame, full_reload: bool) -> None:
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
    log.warning("%s: bronze column types change (%s); the full reload replaces the table's schema", source.name,
                ", ".join(f"{c}: {held} -> {wanted}" for c, held, wanted in changes))


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
    bronze = paths.bronze(source.name)
    incremental = source.incremental_column is not None and not full_reload
    after = read_watermark(spark, paths, source.name) if incremental and delta_io.table_exists(spark, bronze) else None
    bounds = discover_bounds(spark, source, conn, after=after)
    partitions = planned_partitions(source, bounds)
    if incremental and bounds.count == 0:
        log.info("%s: no rows after %s", source.name, after)
        return IngestResult(source=source.name, partitions=0, watermark=after)
    version_before = delta_io.table_version(spark, bronze)
    fault_point(f"bronze.jdbc.before_read:{source.name}")
    try:
        # source rows counted as they are read, in the write's own job
        batch, read = observe_rows(_with_lineage(read_slice(spark, source, conn, bounds, after=after), source, run_id),
                                   f"bronze_{source.name}_in")
        _check_type_changes(spark, source, bronze, batch, full_reload)
        replay_guard = incremental and delta_io.table_exists(spark, bronze)
        if replay_guard:
            # A replay of a slice already committed (killed before the mark was saved) adds
            # nothing; the rows it skips are counted as they are recognised.
            flagged, seen = observe_rows(
                batch.join(_replayable(spark, bronze, source, after), "_row_id", "left"), f"bronze_{source.name}_seen",
                replayed=F.count(F.col("_in_bronze")))
            batch = flagged.where(F.col("_in_bronze").isNull()).select(
                *[F.col(c) for c in [*source.columns, "_row_id", "_source_table", "_ingested_at", "_run_id"]]
            )
            fault_point(f"bronze.append.before:{source.name}")
            metrics = delta_io.append(spark, batch, bronze)
        elif incremental:
            fault_point(f"bronze.append.before:{source.name}")
            metrics = delta_io.append(spark, batch, bronze)
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
    rows_written = metrics.get("numOutputRows", 0) if metrics.get("version") != version_before else 0
    rows_in = observed(read).get("rows", -1)
    replayed = observed(seen).get("replayed", -1) if replay_guard else 0
    if replayed > 0:
        log.warning("%s: %d rows were already in bronze (a run died before saving its mark)", source.name, replayed)
    mark = bounds.mark if source.incremental_column else None
    if source.incremental_column:
        fault_point(f"bronze.watermark.before:{source.name}")
        write_watermark(spark, paths, source.name, source.incremental_column, mark if mark is not None else after, run_id)
        fault_point(f"bronze.watermark.after:{source.name}")
    log.info("%s: %d rows read, %d written to %s in %d partitions", source.name, rows_in, rows_written, bronze, partitions)
    return IngestResult(
        source=source.name,
        rows_in=rows_in,
        rows_written=rows_written,
        replayed=replayed,
        partitions=partitions,
        watermark=mark if mark is not None else after,
    )
