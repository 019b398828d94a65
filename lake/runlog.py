"""Run ids and the per-table quality counts every run records (``{root}/_system/runs``)."""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import asdict, dataclass

from lake.faults import fault_point


def new_run_id() -> str:
    """A sortable, unique run id, e.g. ``20261125T173000-1a2b3c4d``."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{now}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class TableCounts:
    """What one run did to one table. ``rows_in == written + quarantined + dropped``."""

    table: str
    layer: str
    rows_in: int
    written: int
    quarantined: int = 0
    dropped: int = 0
    warned: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_in == self.written + self.quarantined + self.dropped

    def as_dict(self) -> dict:
        return asdict(self)


RUNS_TABLE = "runs"


def record_counts(spark, paths, run_id: str, pipeline: str, counts: list[TableCounts], *, status: str = "ok") -> None:
    """Append one row per table to ``{root}/_system/runs`` (the history ``lake status`` shows)."""
    from pyspark.sql import Row
    from pyspark.sql import types as T

    from lake import delta_io

    schema = T.StructType(
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
        ]
    )
    now = _dt.datetime.now()
    rows = [
        Row(run_id, now, pipeline, c.layer, c.table, int(c.rows_in), int(c.written), int(c.quarantined),
            int(c.dropped), int(c.warned), c.reconciles, status)
        for c in counts
    ]
    if not rows:
        return
    df = spark.createDataFrame(rows, schema)
    fault_point(f"runs.before:{pipeline}")
    delta_io.append(spark, df, paths.system(RUNS_TABLE))


def latest_runs(spark, paths, *, limit: int = 5):
    """The per-table counts of the latest ``limit`` runs, newest first (a DataFrame)."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from lake import delta_io

    path = paths.system(RUNS_TABLE)
    if not delta_io.table_exists(spark, path):
        return None
    runs = delta_io.read_table(spark, path)
    recent = (
        runs.groupBy("run_id").agg(F.max("recorded_at").alias("_last"))
        .withColumn("_rank", F.row_number().over(Window.orderBy(F.col("_last").desc())))
        .where(F.col("_rank") <= limit)
        .select("run_id")
    )
    return runs.join(recent, "run_id", "inner").orderBy(F.col("recorded_at").desc(), "layer", "table")
