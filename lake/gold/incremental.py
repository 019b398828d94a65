"""Gold updated, not rebuilt: the consumer side of :mod:`lake.ledger` for the gold tables.

Every gold table is a consumer (``gold.<table>``) of the silver tables it is built from. A
run reads the changes its inputs committed after the versions the ledger holds, recomputes
the rows those changes can affect (the *scope*: touched customers, agents, transactions...),
compares them with the rows the table holds for the same scope, and MERGEs only the
difference; then the consumer records the versions it read::

    diff = diff_rows(current_rows_of_scope, recomputed_rows_of_scope, keys)   # pure
    counts = apply_diff(spark, diff, path, keys, name)                         # I/O: MERGE
    fault_point(f"gold.write.after:{name}")        # a kill here converges on rerun
    ledger.record_consumed(spark, paths, f"gold.{name}", versions, run_id)

Re-applying the same changes recomputes the same rows, finds no difference and commits
nothing, so a run killed between its MERGE and its ledger entry converges on rerun.

Example:
    >>> diff = diff_rows(target.where(in_scope), recomputed, ["customer_key"])
    >>> apply_diff(spark, diff, paths.gold("dim_customer"), ["customer_key"], "dim_customer")
    TableCounts(table='dim_customer', layer='gold', rows_in=3, written=1, ..., unchanged=2)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake import delta_io, ledger
from lake.paths import LakePaths
from lake.runlog import TableCounts, commit_rows, observe_rows, observed
from lake.session import materialize, release

log = logging.getLogger(__name__)

#: Column of a diff row: true when the target row of that key is to be deleted.
DELETE = "_lake_delete"
#: What a diff row does to the target: one of :data:`STATES`.
STATE = "_lake_state"
STATES = ("insert", "update", "delete", "unchanged")

_IN_NEW = "_lake_in_new"
_IN_OLD = "_lake_in_old"
_OLD = "_lake_old_"


def consumer(table: str) -> str:
    """The ledger's consumer name of a gold table."""
    return f"gold.{table}"


# --------------------------------------------------------------------------- transforms


def compare_rows(current: DataFrame, desired: DataFrame, keys: Iterable[str]) -> DataFrame:
    """Every key of ``current`` or ``desired`` once, with what reaching ``desired`` takes.

    ``current``: the target's rows of the scope; ``desired``: the recomputed rows of the same
    scope (same columns, at most one row per key in each). Output: ``desired``'s columns
    (``current``'s values for a key only ``current`` holds), :data:`DELETE` and :data:`STATE`.

    Example:
        >>> compare_rows(old, new, ["id"]).groupBy("_lake_state").count()
    """
    keys = list(keys)
    cols = desired.columns
    old = current.select(*[F.col(c).alias(_OLD + c) for c in cols], F.lit(True).alias(_IN_OLD))
    new = desired.select(*cols, F.lit(True).alias(_IN_NEW))
    on = [F.col(k).eqNullSafe(F.col(_OLD + k)) for k in keys]
    cond = on[0]
    for part in on[1:]:
        cond = cond & part
    joined = new.join(old, cond, "full_outer")
    in_new, in_old = F.col(_IN_NEW).isNotNull(), F.col(_IN_OLD).isNotNull()
    same: Column = F.lit(True)
    for c in cols:
        same = same & F.col(c).eqNullSafe(F.col(_OLD + c))
    state = (
        F.when(in_new & ~in_old, F.lit("insert"))
        .when(~in_new, F.lit("delete"))
        .when(same, F.lit("unchanged"))
        .otherwise(F.lit("update"))
    )
    return joined.select(
        *[F.when(in_new, F.col(c)).otherwise(F.col(_OLD + c)).alias(c) for c in cols],
        (~in_new).alias(DELETE),
        state.alias(STATE),
    )


def in_scope(df: DataFrame, column: Column, scope: DataFrame, scope_column: str) -> DataFrame:
    """The rows of ``df`` whose ``column`` is one of ``scope[scope_column]`` (a semi-join:
    never multiplies a row)."""
    keys = scope.select(F.col(scope_column).alias("_lake_scope"))
    return df.join(keys, column == F.col("_lake_scope"), "left_semi")


# --------------------------------------------------------------------------- I/O


def apply_diff(
    spark: SparkSession, compared: DataFrame, path: str, keys: Iterable[str], table: str
) -> TableCounts:
    """MERGE the rows of ``compared`` (:func:`compare_rows`) that change the target.

    The comparison is computed once (:func:`lake.session.materialize`) and summarized per state (at most four tiny
    rows, read on the driver: the decision to commit and the ``unchanged`` term); when no
    row changes, nothing is committed; when every changed row is a new key, they are
    appended (no MERGE). ``written`` (inserted + updated + deleted) comes from the commit's
    own metrics, so ``rows_in == written + unchanged`` checks the commit against the
    comparison.
    """
    keys = list(keys)
    # computed once (a lost block fails the run, which reruns: this step's MERGE is idempotent),
    # its rows per state counted as they are computed (no second job)
    compared, seen = observe_rows(
        compared, f"gold_{table}_diff", **{s: F.count(F.when(F.col(STATE) == s, F.lit(1))) for s in STATES}
    )
    compared = materialize(compared)
    try:
        measured = observed(seen)
        if all(s in measured for s in STATES):
            states = {s: measured[s] for s in STATES if measured[s]}
        else:  # the observation did not arrive: count the blocks
            states = {
                r[STATE]: int(r["n"])
                for r in compared.groupBy(STATE).agg(F.count(F.lit(1)).alias("n")).collect()
            }
        rows_in = sum(states.values())
        unchanged = states.get("unchanged", 0)
        if rows_in == unchanged:
            log.info("gold.%s: %d rows recomputed, none changed: nothing committed", table, rows_in)
            return TableCounts(table, "gold", rows_in=rows_in, written=0, unchanged=unchanged)
        changed = compared.where(F.col(STATE) != "unchanged").drop(STATE)
        if rows_in == unchanged + states.get("insert", 0):
            # only new keys: one append (no MERGE's source materialization and target scan);
            # a rerun finds them in the target, unchanged, and commits nothing
            metrics = delta_io.append(spark, changed.drop(DELETE), path)
        else:
            metrics = delta_io.merge_diff(spark, changed, path, keys, delete_column=DELETE)
    finally:
        release(compared)
    written, _ = commit_rows(metrics)
    log.info(
        "gold.%s: %d rows recomputed, %d written (%s), %d unchanged",
        table,
        rows_in,
        written,
        ", ".join(f"{k} {v}" for k, v in sorted(states.items()) if k != "unchanged"),
        unchanged,
    )
    return TableCounts(table, "gold", rows_in=rows_in, written=written, unchanged=unchanged)


def ensure_change_feed(spark: SparkSession, path: str) -> int | None:
    """Turn on ``delta.enableChangeDataFeed`` on an input table that lacks it (a lake written
    before change feeds and not yet through ``lake upgrade``; new tables have it from their
    creation). Returns the version of the commit that turned it on (changes before it cannot
    be read: the caller rebuilds once), or None when it was already on or the table is absent.
    """
    if not delta_io.table_exists(spark, path) or delta_io.change_feed_enabled(spark, path):
        return None
    quoted = path.replace("`", "``")
    spark.sql(f"ALTER TABLE delta.`{quoted}` SET TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true')")
    log.info("enabled the change data feed of %s", path)
    return delta_io.table_version(spark, path)


def consumed_after(
    spark: SparkSession,
    paths: LakePaths,
    tables: Iterable[str],
    sources: Mapping[str, str],
    *,
    full: bool = False,
    enabled_at: Mapping[str, int | None] | None = None,
) -> dict[str, int] | None:
    """The versions of ``sources`` (name -> path) after which the gold ``tables`` read
    changes, or None when they must be rebuilt (``full``, never consumed, or a change feed
    that does not reach back to a recorded version).

    Several tables read one range: the earliest version any of them recorded per source
    (re-applying changes a table already consumed changes nothing). ``enabled_at``: what
    :func:`ensure_change_feed` returned for each source, when the caller already asked.
    """
    if enabled_at is None:
        enabled_at = {source: ensure_change_feed(spark, path) for source, path in sources.items()}
    if full:
        return None
    after: dict[str, int] = {}
    for source in sources:
        versions = [ledger.consumed(spark, paths, consumer(t), source) for t in tables]
        known = [v for v in versions if v is not None]
        if len(known) < len(versions):
            return None
        earliest, enabled = min(known), enabled_at[source]
        if enabled is not None and earliest < enabled:
            return None
        after[source] = earliest
    return after


def merge_and_record(
    spark: SparkSession,
    paths: LakePaths,
    run_id: str,
    table: str,
    compared: DataFrame,
    keys: Iterable[str],
    versions: Mapping[str, int | None],
) -> TableCounts:
    """One gold consumer's step: MERGE the diff, then record the versions it consumed (with
    the ``gold.write.before/after:<table>`` fault points around the write; ``after`` lies
    between the write and the ledger entry)."""
    from lake.faults import fault_point

    fault_point(f"gold.write.before:{table}")
    counts = apply_diff(spark, compared, f"{paths.gold(table)}", keys, table)
    fault_point(f"gold.write.after:{table}")
    record(spark, paths, [table], versions, run_id)
    return counts


def record_unchanged(
    spark: SparkSession,
    paths: LakePaths,
    run_id: str,
    table: str,
    versions: Mapping[str, int | None],
) -> TableCounts:
    """:func:`merge_and_record` for a gold table the changes cannot alter (told without
    recomputing it, e.g. ``dim_date`` when the day range stays): nothing is read nor
    committed, the versions are recorded; the same fault points."""
    from lake.faults import fault_point

    fault_point(f"gold.write.before:{table}")
    log.info("gold.%s: the changes leave it as it is: nothing recomputed nor committed", table)
    fault_point(f"gold.write.after:{table}")
    record(spark, paths, [table], versions, run_id)
    return TableCounts(table, "gold", rows_in=0, written=0)


def record(
    spark: SparkSession,
    paths: LakePaths,
    tables: Iterable[str],
    versions: Mapping[str, int | None],
    run_id: str,
) -> None:
    """Record ``versions`` as consumed by each gold table of ``tables``."""
    for t in tables:
        ledger.record_consumed(spark, paths, consumer(t), versions, run_id)
