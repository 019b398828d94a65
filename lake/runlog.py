"""Run ids and the measuring of counts (observed rows, commit metrics).

The one counts type (:class:`TableCounts`) and the runs table (``{root}/_system/runs``)
live behind :mod:`lake.ledger` with the rest of ``_system``; they are re-exported here.
Every term of :class:`TableCounts` is measured on its own side of a step (the terms are
defined in ``docs/architecture.md``), so ``rows_in == written + quarantined + dropped +
unchanged`` is a check that can fail: a step that loses or duplicates rows breaks it.
"""

from __future__ import annotations

import logging
import time
import uuid
import weakref

from lake import clock
from lake.ledger import (  # noqa: F401 - re-exported: the bookkeeping lives in lake.ledger
    RUNS_TABLE,
    STATUS_FAILED,
    STATUS_OK,
    TableCounts,
    latest_runs,
    record_counts,
)
from lake.redaction import redact  # noqa: F401 - re-exported: what a run record masks

log = logging.getLogger(__name__)

#: Waiting longer than this for an observed count means it was never measured.
OBSERVATION_TIMEOUT_S = 120.0

#: The metric names of each live :func:`observe_rows` observation (its zeros when Spark
#: proved the input empty).
_METRIC_NAMES: weakref.WeakKeyDictionary[object, tuple[str, ...]] = weakref.WeakKeyDictionary()


def new_run_id() -> str:
    """A sortable, unique run id, e.g. ``20261125T173000-1a2b3c4d``."""
    now = clock.now().strftime("%Y%m%dT%H%M%S")
    return f"{now}-{uuid.uuid4().hex[:8]}"


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
    aggs = [F.count(F.lit(1)).alias("rows")] + [
        F.coalesce(c, F.lit(0)).cast("long").alias(n) for n, c in extra.items()
    ]
    observed_df = df.observe(obs, *aggs)
    _METRIC_NAMES[obs] = ("rows", *extra)
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
        return dict.fromkeys(_METRIC_NAMES.get(obs, ("rows",)), 0)
    try:
        return {k: int(v or 0) for k, v in obs.get.items()}
    except Exception as exc:
        log.warning("observation %s: no count measured (%s)", jo.name(), str(exc).splitlines()[0][:200])
        return {}


def commit_rows(metrics: dict[str, int]) -> tuple[int, int]:
    """``(written, unchanged)`` of a Delta commit: rows inserted + updated + deleted by a
    MERGE's source rows (a tombstone's delete is a write), or output by a plain write, and
    the MERGE's source rows it left untouched. Target rows deleted for having no source
    row (``whenNotMatchedBySourceDelete``) are not source rows and are not counted."""
    if "numTargetRowsInserted" in metrics:
        written = (
            metrics.get("numTargetRowsInserted", 0)
            + metrics.get("numTargetRowsUpdated", 0)
            + metrics.get("numTargetRowsMatchedDeleted", 0)
        )
        return written, metrics.get("numSourceRows", 0) - written
    return metrics.get("numOutputRows", 0), 0


def log_mismatches(counts: list[TableCounts], run_id: str) -> None:
    """One WARNING per table whose counts do not reconcile."""
    for c in counts:
        if not c.reconciles:
            log.warning(
                "run %s: %s.%s does not reconcile: rows in %d != written %d + quarantined %d + dropped %d + unchanged %d",
                run_id,
                c.layer,
                c.table,
                c.rows_in,
                c.written,
                c.quarantined,
                c.dropped,
                c.unchanged,
            )
