"""Run ids and the per-table quality counts every run records (``{root}/_system/runs``).

Every term of :class:`TableCounts` is measured on its own side of a step (the terms are
defined in ``docs/architecture.md``), so ``rows_in == written + quarantined + dropped +
unchanged`` is a check that can fail: a step that loses or duplicates rows breaks it.
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
import uuid
from dataclasses import asdict, dataclass

from lake.faults import fault_point

log = logging.getLogger(__name__)

#: Waiting longer than this for an observed count means it was never measured.
OBSERVATION_TIMEOUT_S = 120.0


def new_run_id() -> str:
    """A sortable, unique run id, e.g. ``20261125T173000-1a2b3c4d``."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{now}-{uuid.uuid4().hex[:8]}"


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


def observe_rows(df, name: str, **extra):
    """``df`` with its rows counted as they flow into the next action (no extra job).

    Returns ``(observed_df, observation)``; :func:`observed` reads the count (``rows``) and
    the ``extra`` aggregates (name -> Column) once an action over ``observed_df`` ran.

    Example:
        >>> batch, seen = observe_rows(batch, "bronze_ura")
        >>> delta_io.append(spark, batch, path)
        >>> observed(seen)["rows"]
        120
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    obs = Observation(f"lake_{name}_{uuid.uuid4().hex[:8]}")
    aggs = [F.count(F.lit(1)).alias("rows")] + [F.coalesce(c, F.lit(0)).cast("long").alias(n) for n, c in extra.items()]
    observed_df = df.observe(obs, *aggs)
    obs._lake_metrics = ("rows", *extra)  # noqa: SLF001 - the names, for an input proven empty
    return observed_df, obs


def observed(obs, *, timeout: float = OBSERVATION_TIMEOUT_S) -> dict[str, int]:
    """The metrics of an :func:`observe_rows` observation; ``{}`` when no action measured them.

    Spark publishes observed metrics when the action's listeners run, possibly just after
    the action returns; a count that never arrives is reported as unmeasured instead of
    blocking forever (``Observation.get`` waits without a limit).
    """
    jo = getattr(obs, "_jo", None)  # bookkeeping at the edge: the JVM Observation's future
    if jo is None:
        return {}
    deadline = time.monotonic() + timeout
    while not jo.future().isCompleted():
        if time.monotonic() >= deadline:
            log.warning("observation %s: no count measured after %.0fs", jo.name(), timeout)
            return {}
        time.sleep(0.05)
    row = jo.getRow()
    if row is None or row.schema() is None or row.length() == 0:
        # Spark completes the observation with an empty row when the optimizer proved the
        # observed input empty (e.g. Delta skipped every file) and removed the node: 0 rows.
        return dict.fromkeys(getattr(obs, "_lake_metrics", ("rows",)), 0)
    try:
        return {k: int(v or 0) for k, v in obs.get.items()}
    except Exception as exc:  # noqa: BLE001 - e.g. completed by an action that pruned the node
        log.warning("observation %s: no count measured (%s)", jo.name(), str(exc).splitlines()[0][:200])
        return {}


def commit_rows(metrics: dict[str, int]) -> tuple[int, int]:
    """``(written, unchanged)`` of a Delta commit: rows inserted + updated + deleted by a
    MERGE (or output by a plain write), and the MERGE's source rows it left untouched."""
    if "numTargetRowsInserted" in metrics:
        written = (metrics.get("numTargetRowsInserted", 0) + metrics.get("numTargetRowsUpdated", 0)
                   + metrics.get("numTargetRowsDeleted", 0))
        return written, metrics.get("numSourceRows", 0) - written
    return metrics.get("numOutputRows", 0), 0


def log_mismatches(counts: list[TableCounts], run_id: str) -> None:
    """One WARNING per table whose counts do not reconcile."""
    for c in counts:
        if not c.reconciles:
            log.warning(
                "run %s: %s.%s does not reconcile: rows in %d != written %d + quarantined %d + dropped %d + unchanged %d",
                run_id, c.layer, c.table, c.rows_in, c.written, c.quarantined, c.dropped, c.unchanged,
            )


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
        ]
    )


def redact(message: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``message`` with URL passwords (``password=``, ``//user:pw@``) and the given secrets masked."""
    from lake.bronze.jdbc import safe_url

    out = safe_url(message)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out


def record_counts(spark, paths, run_id: str, pipeline: str, counts: list[TableCounts], *, status: str = STATUS_OK,
                  error: BaseException | None = None, secrets: tuple[str | None, ...] = ()) -> None:
    """Append one row per table to ``{root}/_system/runs`` (the history ``lake status`` shows).

    A failed run (``error`` given) records the tables that completed plus one row for the
    pipeline itself (layer ``run``, table ``-``) holding the error class and its message,
    redacted (:func:`redact`) and cut to 1000 characters.
    """
    from pyspark.sql import Row

    from lake import delta_io

    now = _dt.datetime.now()
    err_class = type(error).__name__ if error is not None else None
    err_msg = redact(" ".join(str(error).split()), secrets)[:1000] if error is not None else None
    rows = [
        Row(run_id, now, pipeline, c.layer, c.table, int(c.rows_in), int(c.written), int(c.quarantined),
            int(c.dropped), int(c.warned), c.reconciles, status, int(c.unchanged), None, None)
        for c in counts
    ]
    if error is not None:
        rows.append(Row(run_id, now, pipeline, "run", "-", 0, 0, 0, 0, 0, True, status, 0, err_class, err_msg))
    if not rows:
        return
    df = spark.createDataFrame(rows, _schema())
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
        runs.groupBy("run_id").agg(F.max("recorded_at").alias("_last"))
        .withColumn("_rank", F.row_number().over(Window.orderBy(F.col("_last").desc())))
        .where(F.col("_rank") <= limit)
        .select("run_id")
    )
    return runs.join(recent, "run_id", "inner").orderBy(F.col("recorded_at").desc(), "layer", "table")
