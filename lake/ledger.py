"""The lake's bookkeeping (``{root}/_system``), behind one module: consumer versions, the
ingest log, the JDBC watermarks, the runs and their one counts type (:class:`TableCounts`).

Progress by Delta versions: which version of each input table every consumer has consumed.

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

Inside :func:`batch` (``lake.pipeline.run`` opens one per pipeline) the entries are kept and
written in ONE commit when the block ends, instead of one MERGE per consumer: an entry is
still only taken after its consumer's write, and a run killed before the batch's commit
re-reads the same ranges on rerun, which the consumers' idempotent MERGEs make harmless.

A recorded version whose change feed cannot be read (the table was written before
``lake upgrade`` turned the feed on, so Delta did not record it for those versions) falls
back to one full read of the table's latest version, as if never consumed; the next run
reads changes again.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import functools
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from lake import clock, delta_io
from lake.faults import fault_point
from lake.paths import LakePaths
from lake.redaction import redact

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

    df: DataFrame | None
    upto: int | None
    full: bool = False


@dataclass
class _Batch:
    """Consumer entries of one :func:`batch`: the table's rows read once, and those to write."""

    path: str
    known: dict[tuple[str, str], int]
    pending: dict[tuple[str, str], tuple[int, str, _dt.datetime]] = field(default_factory=dict)


#: The ``_system`` tables are written by one thread at a time: steps run side by side
#: (:mod:`lake.parallel`) would otherwise race to create a table, number two commits alike
#: (``commit_seq``, ``seq``) or fail a MERGE on a concurrent commit. (Runs of one lake are
#: already one at a time: :mod:`lake.lock`.)
_SYSTEM_WRITES = threading.RLock()


def _one_writer(func):
    """Run ``func`` (a write of a ``_system`` table) holding :data:`_SYSTEM_WRITES`."""

    @functools.wraps(func)
    def locked(*args, **kwargs):
        with _SYSTEM_WRITES:
            return func(*args, **kwargs)

    return locked


_ACTIVE: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("lake_ledger_batch", default=None)


def _read_consumed(spark: SparkSession, path: str, where=None) -> dict[tuple[str, str], int]:
    if not delta_io.table_exists(spark, path):
        return {}
    df = delta_io.read_table(spark, path)
    if where is not None:
        df = df.where(where)
    return {
        (r["consumer"], r["source"]): int(r["version"])
        for r in df.select("consumer", "source", "version").collect()
    }


@contextlib.contextmanager
def batch(spark: SparkSession, paths: LakePaths):
    """Keep the consumer entries recorded inside the block and write them in one commit at
    its end (also when the block raises: the consumers that finished did write). Nested
    blocks join the outer one.

    Example:
        >>> with ledger.batch(spark, paths):
        ...     build_silver_table(spark, cfg, "ura", paths, run_id)  # its entry waits
        ...     # ledger.consumed(...) already sees it
    """
    path = paths.system(CONSUMERS)
    with _deferred(
        _ACTIVE,
        lambda: _Batch(path, _read_consumed(spark, path)),
        lambda active: _write_consumed(spark, path, active.pending),
        "the consumers that finished",
    ):
        yield


@contextlib.contextmanager
def _deferred(var: contextvars.ContextVar, make, flush, what: str):
    """A block whose bookkeeping writes wait: ``make()`` the batch they gather in (``var``
    holds it; a nested block joins the outer one) and ``flush(batch)`` when the block ends,
    also when it raises (what finished did write: it is recorded, and a failure to record it
    then is logged, the block's own error raised)."""
    if var.get() is not None:
        yield
        return
    active = make()
    token = var.set(active)
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        var.reset(token)
        try:
            flush(active)
        except Exception as exc:
            if not failed:
                raise
            log.warning("could not record %s before the error: %s", what, exc)


@_one_writer
def _write_consumed(spark: SparkSession, path: str, entries: Mapping[tuple[str, str], tuple]) -> None:
    rows = [
        (consumer, source, version, run_id, at)
        for (consumer, source), (version, run_id, at) in entries.items()
    ]
    if not rows:
        return
    delta_io.merge_upsert(
        spark,
        spark.createDataFrame(rows, CONSUMERS_SCHEMA),
        path,
        ["consumer", "source"],
        compare_columns=["version", "run_id"],
    )


def consumed(spark: SparkSession, paths: LakePaths, consumer: str, source: str) -> int | None:
    """The last version of ``source`` that ``consumer`` consumed, or None (never)."""
    active = _ACTIVE.get()
    if active is not None and active.path == paths.system(CONSUMERS):
        if (consumer, source) in active.pending:
            return active.pending[(consumer, source)][0]
        return active.known.get((consumer, source))
    found = _read_consumed(
        spark, paths.system(CONSUMERS), (F.col("consumer") == consumer) & (F.col("source") == source)
    )
    return found.get((consumer, source))


def record_consumed(
    spark: SparkSession,
    paths: LakePaths,
    consumer: str,
    versions: Mapping[str, int | None],
    run_id: str,
) -> None:
    """Record the versions of its sources that ``consumer`` has consumed: in one commit, or
    with the other entries of the active :func:`batch` when its block ends."""
    at = clock.now()
    entries = {(consumer, source): (int(v), run_id, at) for source, v in versions.items() if v is not None}
    if not entries:
        return
    fault_point(f"ledger.record.before:{consumer}")
    active = _ACTIVE.get()
    if active is not None and active.path == paths.system(CONSUMERS):
        active.pending.update(entries)
    else:
        _write_consumed(spark, paths.system(CONSUMERS), entries)
    fault_point(f"ledger.record.after:{consumer}")


def unread_bytes(
    spark: SparkSession, paths: LakePaths, consumer: str, sources: Mapping[str, str]
) -> int | None:
    """The bytes ``consumer`` has yet to read from ``sources`` (name -> path): the data files
    each source committed after the version recorded for it, the whole table when none is
    (no Spark job; None when a commit cannot be read)."""
    total = 0
    for source, path in sources.items():
        size = delta_io.added_bytes(spark, path, consumed(spark, paths, consumer, source))
        if size is None:
            return None
        total += size
    return total


@_one_writer
def forget_sources(spark: SparkSession, paths: LakePaths, sources: list[str]) -> None:
    """Drop what every consumer recorded of ``sources`` (tables rewritten with a new version
    history, e.g. by ``lake upgrade``): their consumers read them whole once."""
    path = paths.system(CONSUMERS)
    active = _ACTIVE.get()
    if active is not None and active.path == path:
        for key in [k for k in {**active.known, **active.pending} if k[1] in sources]:
            active.known.pop(key, None)
            active.pending.pop(key, None)
    if not sources or not delta_io.table_exists(spark, path):
        return
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, path).delete(F.col("source").isin(*sources))


def changes(spark: SparkSession, path: str, after: int | None) -> tuple[DataFrame | None, int | None]:
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


def read_changes(spark: SparkSession, path: str, after: int | None, *, full: bool = False) -> Changes:
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
        log.warning(
            "%s: no change data recorded for versions %d..%d (the change feed was turned on later); "
            "reading the whole table once",
            path,
            after + 1,
            latest,
        )
        return Changes(_snapshot(spark, path, latest), latest, full=True)
    return Changes(df, latest)


def _snapshot(spark: SparkSession, path: str, version: int) -> DataFrame:
    return delta_io.read_table(spark, path, version=version).select(
        "*", F.lit("insert").alias(CHANGE_TYPE), F.lit(version).cast("long").alias(COMMIT_VERSION)
    )


def _plannable(df: DataFrame) -> bool:
    """False when Delta cannot serve the change feed of the range (checked when the query is
    planned, before any job: the consumer's own action would fail later)."""
    from pyspark.errors import AnalysisException

    try:
        df._jdf.queryExecution().executedPlan()
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


# --------------------------------------------------------------------------- ingest log and watermarks
#
# ``{root}/_system/ingest_log`` holds one row per file seen (see ``docs/contracts.md``);
# ``{root}/_system/watermarks`` holds the high-water marks of incremental JDBC sources.
# Both are written only *after* the bronze commit, and both can be rebuilt from bronze: the
# bronze append is the commit point of every ingestion.

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
        # added by issue 10: the table version this mark was committed as (orders the marks)
        StructField("seq", LongType(), True),
    ]
)


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


def read_ingest_log_files(
    spark: SparkSession, paths: LakePaths, source: str
) -> set[tuple[str, int, int | None, str, str]]:
    """``{(path, size, mtime in ms, hash, status)}`` logged for ``source`` (tiny bookkeeping
    read): what lets a run recognise a landing file it has seen without reading its bytes."""
    return read_ingest_logs(spark, paths, [source]).get(source, set())


def read_ingest_logs(
    spark: SparkSession, paths: LakePaths, sources: Iterable[str]
) -> dict[str, set[tuple[str, int, int | None, str, str]]]:
    """:func:`read_ingest_log_files` of several sources in one read (every source of
    ``sources`` is a key)."""
    sources = list(sources)
    found: dict[str, set[tuple[str, int, int | None, str, str]]] = {s: set() for s in sources}
    path = paths.system(INGEST_LOG)
    if not sources or not delta_io.table_exists(spark, path):
        return found
    rows = (
        delta_io.read_table(spark, path)
        .where(F.col("source").isin(*sources))
        .select("source", "path", "size", F.unix_millis("mtime").alias("mtime_ms"), "hash", "status")
        .distinct()
        .collect()
    )
    for r in rows:
        found[r["source"]].add((r["path"], int(r["size"]), r["mtime_ms"], r["hash"], r["status"]))
    return found


@dataclass
class _LogBatch:
    """Ingest-log rows of one :func:`ingest_log_batch`, appended when its block ends."""

    path: str
    rows: list[tuple] = field(default_factory=list)


_LOG_ACTIVE: contextvars.ContextVar[_LogBatch | None] = contextvars.ContextVar(
    "lake_ingest_log_batch", default=None
)


@contextlib.contextmanager
def ingest_log_batch(spark: SparkSession, paths: LakePaths):
    """Keep the ingest-log rows written inside the block (:func:`write_ingest_log`) and
    append them in ONE commit when it ends (also when it raises: the sources that finished
    did commit their bronze rows). Nested blocks join the outer one.

    A run killed before that commit loses nothing: the log is written only after each
    source's bronze commit, and a rerun finds the committed files in bronze itself and only
    repairs their log rows (:mod:`lake.bronze.files`, "Exactly once").

    Example:
        >>> with ledger.ingest_log_batch(spark, paths):
        ...     for source in sources:
        ...         ingest_files(spark, source, landing, paths, run_id)  # log rows wait
    """
    with _deferred(
        _LOG_ACTIVE,
        lambda: _LogBatch(paths.system(INGEST_LOG)),
        lambda active: _append_ingest_log(spark, active.path, active.rows),
        "the files ingested (the rerun logs them)",
    ):
        yield


@_one_writer
def _append_ingest_log(spark: SparkSession, path: str, rows: list[tuple]) -> None:
    if rows:
        delta_io.append(spark, spark.createDataFrame(rows, INGEST_LOG_SCHEMA), path)


def write_ingest_log(
    spark: SparkSession,
    paths: LakePaths,
    source: str,
    run_id: str,
    entries: Iterable[LogEntry],
    *,
    replace_source: bool = False,
) -> None:
    """Append ``entries`` (in one commit, or with the other rows of the active
    :func:`ingest_log_batch` when its block ends); with ``replace_source`` the source's
    previous rows are removed first, at once."""
    path = paths.system(INGEST_LOG)
    now = clock.now()
    data = [
        (source, e.path, e.hash, int(e.size), e.mtime, e.status, int(e.rows), run_id, now) for e in entries
    ]
    if replace_source and delta_io.table_exists(spark, path):
        from delta.tables import DeltaTable

        DeltaTable.forPath(spark, path).delete(F.col("source") == source)
    active = _LOG_ACTIVE.get()
    if active is not None and active.path == path:
        active.rows += data
    else:
        _append_ingest_log(spark, path, data)


def read_watermark(spark: SparkSession, paths: LakePaths, source: str) -> str | None:
    """The latest high-water mark recorded for ``source`` (None when never ingested).

    "Latest" is the last one committed (``seq``), never the clock's ``updated_at``, which
    only breaks ties among rows of a lake of an earlier version (no ``seq``).
    """
    path = paths.system(WATERMARKS)
    if not delta_io.table_exists(spark, path):
        return None
    marks = delta_io.read_table(spark, path)
    seq = F.col("seq") if "seq" in marks.columns else F.lit(None).cast("long")
    row = (
        marks.where(F.col("source") == source)
        .orderBy(seq.desc_nulls_last(), F.col("updated_at").desc())
        .select("value")
        .first()
    )
    return None if row is None else row["value"]


@_one_writer
def write_watermark(
    spark: SparkSession, paths: LakePaths, source: str, column: str, value: str | None, run_id: str
) -> None:
    """Append ``source``'s new mark, numbered by the commit that records it (``seq``)."""
    path = paths.system(WATERMARKS)
    version = delta_io.table_version(spark, path)
    seq = 0 if version is None else version + 1
    df = spark.createDataFrame([(source, column, value, run_id, clock.now(), seq)], WATERMARK_SCHEMA)
    delta_io.append(spark, df, path, merge_schema=True)


# --------------------------------------------------------------------------- runs and counts


@dataclass(frozen=True)
class TableCounts:
    """What one run did to one table; ``rows_in == written + quarantined + dropped + unchanged``.

    ``rows_in``: rows read from the step's input (files, source query, upstream table),
    counted as they are read. ``written``: rows the target's Delta commit inserted or
    updated (its operation metrics). ``quarantined``: rows the quarantine table's commit
    received. ``dropped``: rows left out by a rule (a ``drop`` expectation, a duplicate
    superseded within the batch, a row without its parent). ``unchanged``: rows already in
    the target with the same values, which the commit left untouched. ``warned`` is not a
    term: warned rows are written. A count that could not be measured is ``-1``.
    """

    table: str
    layer: str
    rows_in: int
    written: int
    quarantined: int = 0
    dropped: int = 0
    warned: int = 0
    unchanged: int = 0

    @property
    def reconciles(self) -> bool:
        terms = (self.rows_in, self.written, self.quarantined, self.dropped, self.unchanged)
        if min(terms) < 0:
            return False
        return self.rows_in == self.written + self.quarantined + self.dropped + self.unchanged

    def as_dict(self) -> dict:
        return asdict(self)


RUNS_TABLE = "runs"

#: A run that raised records ``status = failed`` with its error (class and redacted message).
STATUS_OK = "ok"
STATUS_FAILED = "failed"


def _schema():
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("run_id", T.StringType()),
            T.StructField("recorded_at", T.TimestampType()),
            T.StructField("pipeline", T.StringType()),
            T.StructField("layer", T.StringType()),
            T.StructField("table", T.StringType()),
            T.StructField("rows_in", T.LongType()),
            T.StructField("written", T.LongType()),
            T.StructField("quarantined", T.LongType()),
            T.StructField("dropped", T.LongType()),
            T.StructField("warned", T.LongType()),
            T.StructField("reconciles", T.BooleanType()),
            T.StructField("status", T.StringType()),
            # added by issue 13; older lakes gain them on their next run (mergeSchema)
            T.StructField("unchanged", T.LongType()),
            T.StructField("error_class", T.StringType()),
            T.StructField("error_message", T.StringType()),
            # added by issue 10: the runs table's version this record was committed as, which
            # orders runs whatever the clock said (frozen, set back)
            T.StructField("commit_seq", T.LongType()),
        ]
    )


@_one_writer
def record_counts(
    spark,
    paths,
    run_id: str,
    pipeline: str,
    counts: list[TableCounts],
    *,
    status: str = STATUS_OK,
    error: BaseException | None = None,
    secrets: tuple[str | None, ...] = (),
) -> None:
    """Append one row per table to ``{root}/_system/runs`` (the history ``lake status`` shows).

    A failed run (``error`` given) records the tables that completed plus one row for the
    pipeline itself (layer ``run``, table ``-``) holding the error class and its message,
    redacted (:func:`redact`) and cut to 1000 characters.
    """
    from lake import delta_io

    now = clock.now()
    err_class = type(error).__name__ if error is not None else None
    err_msg = redact(" ".join(str(error).split()), secrets)[:1000] if error is not None else None
    rows: list[tuple[object, ...]] = [
        (
            run_id,
            now,
            pipeline,
            c.layer,
            c.table,
            int(c.rows_in),
            int(c.written),
            int(c.quarantined),
            int(c.dropped),
            int(c.warned),
            c.reconciles,
            status,
            int(c.unchanged),
            None,
            None,
        )
        for c in counts
    ]
    if error is not None:
        rows.append((run_id, now, pipeline, "run", "-", 0, 0, 0, 0, 0, True, status, 0, err_class, err_msg))
    if not rows:
        return
    path = paths.system(RUNS_TABLE)
    version = delta_io.table_version(spark, path)  # None: no runs table yet
    seq = 0 if version is None else version + 1
    df = spark.createDataFrame([(*r, seq) for r in rows], _schema())
    fault_point(f"runs.before:{pipeline}")
    delta_io.append(spark, df, paths.system(RUNS_TABLE), merge_schema=True)


def latest_runs(spark, paths, *, limit: int = 5):
    """The per-table counts of the latest ``limit`` runs, newest first (a DataFrame).

    Rows written before a column existed read it as null (``unchanged`` as 0).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from lake import delta_io

    path = paths.system(RUNS_TABLE)
    if not delta_io.table_exists(spark, path):
        return None
    runs = delta_io.read_table(spark, path)
    missing = {f.name: F.lit(None).cast(f.dataType) for f in _schema().fields if f.name not in runs.columns}
    runs = runs.withColumns(missing).withColumn("unchanged", F.coalesce("unchanged", F.lit(0).cast("long")))
    recent = (
        runs.groupBy("run_id")
        .agg(F.max(F.struct(F.coalesce("commit_seq", F.lit(-1)), "recorded_at")).alias("_last"))
        .withColumn("_rank", F.row_number().over(Window.orderBy(F.col("_last").desc())))
        .where(F.col("_rank") <= limit)
        .select("run_id")
    )
    newest = F.coalesce("commit_seq", F.lit(-1)).desc()
    return runs.join(recent, "run_id", "inner").orderBy(newest, F.col("recorded_at").desc(), "layer", "table")
