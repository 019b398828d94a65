"""Build silver tables from bronze: standardize, check evidence and expectations, MERGE.

:func:`build_silver_table` reads like its table of contents: read the new bronze rows
(:func:`read_bronze_changes`), check the format evidence (:func:`check_evidence`), read the
references' parents (:func:`lake.silver.references.read_parents`), check the batch with a
chain of pure ``DataFrame -> DataFrame`` steps (:func:`check_batch`: standardize with the
read errors, join the references, evaluate the expectations, mark each key's latest state),
count it in one aggregation (:func:`batch_counts`), upsert the quarantined rows into
``{root}/quarantine/{table}`` (:func:`write_quarantine`), MERGE the passing rows into
``{root}/silver/{table}`` (:func:`write_silver`) and record the bronze version consumed in
the ledger (:mod:`lake.ledger`).

Example:
    >>> from lake.silver.build import build_silver_table
    >>> counts = build_silver_table(spark, cfg, "ura", LakePaths(cfg.lake.root), run_id)
    >>> counts.reconciles
    True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F

from lake import delta_io, ledger
from lake.config import LakeConfig, RefutedPolicy, SilverTable
from lake.errors import PipelineError, QualityError
from lake.faults import fault_point
from lake.paths import LakePaths
from lake.runlog import TableCounts, commit_rows, observe_rows, observed
from lake.session import materialize, release, use_timezone
from lake.silver import quality
from lake.silver.columns import col, column_expr, output_type, problem_expr, rule_formats, unparsed_error
from lake.silver.evidence import Decision, Refusal, decide, evidence_summary
from lake.silver.references import Parent, drop_references, join_references, read_parents

log = logging.getLogger(__name__)

LINEAGE = ("_row_id", "_source_file", "_run_id", "_ingested_at")
BRONZE = "_bronze"

#: Bronze's operation column (JDBC sources): ``upsert`` or ``delete`` (a tombstone: the key
#: was deleted at the source, so silver deletes it). A bronze table without it holds upserts.
OP = "_op"
OP_DELETE = "delete"
#: The MERGE condition applying a tombstone (:func:`lake.delta_io.merge_upsert`).
DELETE_WHEN = f"s.{OP} = '{OP_DELETE}'"
#: The bronze version a mutable JDBC row was appended in (lake.bronze.jdbc): it orders the
#: states of one key when a full read gives every row the same ``_commit_version``.
BRONZE_VERSION = "_bronze_version"
#: Columns of a change batch that are not bronze's (never copied into quarantine).
CHANGE_COLUMNS = (ledger.CHANGE_TYPE, ledger.COMMIT_VERSION)

#: The unified interactions table: column -> type (docs/contracts.md).
INTERACTION_COLUMNS: dict[str, str] = {
    "interaction_id": "string",
    "channel": "string",
    "customer_email": "string",
    "customer_name": "string",
    "started_at": "timestamp",
    "ended_at": "timestamp",
    "wait_seconds": "long",
    "handle_seconds": "long",
    "total_seconds": "long",
    "agent": "string",
    "answered": "boolean",
    "classification": "string",
    "sub_classification": "string",
    "feedback_score": "int",
    "feedback_comment": "string",
    "phone": "string",
    "state": "string",
}


# --------------------------------------------------------------------------- standardize


def _choice_column(
    df: DataFrame, table: SilverTable, name: str, per_file: Mapping[str | None, int]
) -> Column:
    """A candidate column read, per source file, with the candidate the evidence chose."""
    rule = table.columns[name]
    types = {f.name: f.dataType for f in df.schema.fields}
    if not per_file:
        return column_expr(rule, types)
    out: Column | None = None
    for idx in sorted(set(per_file.values())):
        files = [f for f, i in per_file.items() if i == idx]
        cond = col("_source_file").isin(*[f for f in files if f is not None])
        if None in files:
            cond = cond | col("_source_file").isNull()
        expr = column_expr(rule, types, formats=rule_formats(rule, idx))
        out = F.when(cond, expr) if out is None else out.when(cond, expr)
    assert out is not None  # per_file is not empty
    return out.otherwise(F.lit(None).cast(output_type(rule)))


def _standard_column(
    df: DataFrame, table: SilverTable, name: str, choices: Mapping[str, Mapping], types: Mapping
) -> Column:
    rule = table.columns[name]
    return _choice_column(df, table, name, choices[name]) if name in choices else column_expr(rule, types)


def silver_columns(
    df: DataFrame, table: SilverTable, choices: Mapping[str, Mapping] | None = None
) -> list[Column]:
    """The configured columns (and ``<col>_problem`` reasons) of ``table`` over bronze ``df``."""
    types = {f.name: f.dataType for f in df.schema.fields}
    choices = choices or {}
    cols = []
    for name, rule in table.columns.items():
        cols.append(_standard_column(df, table, name, choices, types).alias(name))
        problem = problem_expr(rule)
        if problem is not None:
            cols.append(problem.alias(f"{name}_problem"))
    return cols


def silver_column_names(table: SilverTable) -> list[str]:
    """Names of the configured columns, each followed by its ``_problem`` column if any."""
    return [
        n
        for name, rule in table.columns.items()
        for n in [name] + ([f"{name}_problem"] if problem_expr(rule) is not None else [])
    ]


def _lineage(df: DataFrame) -> list[Column]:
    return [
        (
            col(c) if c in df.columns else F.lit(None).cast("timestamp" if c == "_ingested_at" else "string")
        ).alias(c)
        for c in LINEAGE
    ]


def standardize(
    df: DataFrame, table: SilverTable, *, choices: Mapping[str, Mapping] | None = None
) -> DataFrame:
    """One select building every configured column from bronze, keeping the lineage.

    Args:
        df: bronze rows (source column names unchanged).
        table: the silver table's config.
        choices: per candidate column, ``{source_file: candidate index}`` (from
            :func:`lake.silver.evidence.decide`).

    Example:
        >>> standardize(bronze, cfg.silver["ura"]).select("started_at", "phone").first()
        Row(started_at=datetime.datetime(2019, 1, 8, 8, 15, 27), phone='+557199999999')
    """
    return df.select(*silver_columns(df, table, choices), *_lineage(df))


def parse_errors(df: DataFrame, table: SilverTable, choices: Mapping[str, Mapping] | None = None) -> Column:
    """``array<struct<rule,expr>>``: a ``<column>_unparseable`` reason per datetime or duration
    column whose source text is present but does not parse (a silent null otherwise).

    Example:
        >>> bronze.select(parse_errors(bronze, cfg.silver["whatsapp"]))  # "13/45/19 0:08"
        # [{started_at_unparseable, `Inicio da conversa` reads as one of M/d/yy H:mm | ...}]
    """
    types = {f.name: f.dataType for f in df.schema.fields}
    found = [
        err
        for name, rule in table.columns.items()
        if (err := unparsed_error(name, rule, _standard_column(df, table, name, choices or {}, types), types))
        is not None
    ]
    if not found:
        return F.expr(f"cast(array() as {quality.ERROR_TYPE})")
    return F.array_compact(F.array(*found))


def file_errors(refused: Sequence[Refusal]) -> Column:
    """The reason of every row of a refused file (``format_refuted:<rule>``), else an empty array."""
    out = F.expr(f"cast(array() as {quality.ERROR_TYPE})")
    for r in reversed(refused):
        same = col("_source_file").isNull() if r.file is None else col("_source_file") == F.lit(r.file)
        out = F.when(same, F.array(quality.error(r.reason, r.message))).otherwise(out)
    return out


def _wide(df: DataFrame, table: SilverTable, decision: Decision) -> DataFrame:
    """Standardized columns plus the bronze row kept whole (for quarantine), the reasons
    found while reading it (``_read_errors``: a refused file, an unparseable value), its
    operation (``_op``) and the bronze version that committed it (``_commit_version``)."""
    malformed = (
        F.coalesce(col("_is_malformed"), F.lit(False)) if "_is_malformed" in df.columns else F.lit(False)
    )
    bronze = F.struct(*[col(c) for c in df.columns if c not in CHANGE_COLUMNS])
    read_errors = F.concat(file_errors(decision.refused), parse_errors(df, table, decision.choices))
    op = F.coalesce(col(OP), F.lit("upsert")) if OP in df.columns else F.lit("upsert")
    version = col(ledger.COMMIT_VERSION) if ledger.COMMIT_VERSION in df.columns else F.lit(None).cast("long")
    if BRONZE_VERSION in df.columns:  # a mutable JDBC row knows its bronze version even in a full read
        version = F.coalesce(col(BRONZE_VERSION), version)
    return df.select(
        *silver_columns(df, table, decision.choices),
        *_lineage(df),
        malformed.alias("_is_malformed"),
        bronze.alias(BRONZE),
        read_errors.alias("_read_errors"),
        op.alias(OP),
        version.alias(ledger.COMMIT_VERSION),
    )


def spare_tombstones(checked: DataFrame) -> DataFrame:
    """Tombstones (``_op = 'delete'``) pass every rule: they carry a key, not a row to check."""
    tomb = F.col(OP) == F.lit(OP_DELETE)
    return checked.withColumns(
        {
            c: F.when(
                tomb, F.expr(f"cast(array() as {checked.schema[c].dataType.simpleString()})")
            ).otherwise(F.col(c))
            for c in ("_errors", "_dropped_by", "_warned_by", "_failed_by")
        }
    )


# --------------------------------------------------------------------------- batch helpers


def dedupe_latest(df: DataFrame, keys: tuple[str, ...] | list[str]) -> DataFrame:
    """One row per key: the latest bronze commit (``_commit_version``, when the batch has it)
    wins, then the latest ``_ingested_at`` within it, then the greatest ``_row_id``.

    Example:
        >>> dedupe_latest(rows, ["interaction_id"])
    """
    order = [F.col(ledger.COMMIT_VERSION).desc_nulls_last()] if ledger.COMMIT_VERSION in df.columns else []
    w = Window.partitionBy(*[col(k) for k in keys]).orderBy(
        *order, F.col("_ingested_at").desc_nulls_last(), F.col("_row_id").desc_nulls_last()
    )
    return df.withColumn("_rn", F.row_number().over(w)).filter("_rn = 1").drop("_rn")


def quarantine_frame(checked: DataFrame, bronze_columns: list[str], run_id: str) -> DataFrame:
    """Quarantined rows: the bronze row's values, ``_errors``, ``_run_id`` (silver run), ``_source_file``.

    Bronze's own ``_run_id`` is kept as ``_bronze_run_id``.
    """
    return _quarantine_select(quality.quarantined_rows(checked), bronze_columns, run_id)


def _quarantine_select(rows: DataFrame, bronze_columns: list[str], run_id: str) -> DataFrame:
    keep = [
        F.col(BRONZE).getField(c).alias("_bronze_run_id" if c == "_run_id" else c)
        for c in bronze_columns
        if c != "_source_file"
    ]
    return rows.select(*keep, "_errors", F.lit(run_id).alias("_run_id"), F.col("_source_file"))


#: Marks (``_op`` sources) the latest state of each key in a batch, and whether its key is in silver.
LATEST, IN_SILVER = "_latest", "_in_silver"
#: The quarantine MERGE's control column (``_op`` sources): ``delete`` clears a key from quarantine.
QUARANTINE_OP = "_quarantine_op"


def mark_latest_states(checked: DataFrame, silver_keys: DataFrame | None, keys: Sequence[str]) -> DataFrame:
    """Add ``_latest`` (the row is its ``_row_id``'s latest state in the batch: greatest
    ``_commit_version``, then ``_ingested_at``) and ``_in_silver`` (its key is in silver now,
    measured for the counts) to a checked batch of an ``_op`` source. Pure transform.

    Example:
        >>> mark_latest_states(checked, delta_io.read_table(spark, paths.silver("cartao")).select("id"), ["id"])
    """
    w = Window.partitionBy("_row_id").orderBy(
        F.col(ledger.COMMIT_VERSION).desc_nulls_last(), F.col("_ingested_at").desc_nulls_last()
    )
    marked = checked.withColumn(LATEST, F.row_number().over(w) == 1)
    if silver_keys is None:
        return marked.withColumn(IN_SILVER, F.lit(False))
    held = silver_keys.groupBy(*[col(k) for k in keys]).agg(F.lit(True).alias(IN_SILVER))
    return marked.join(held, list(keys), "left").withColumn(
        IN_SILVER, F.coalesce(col(IN_SILVER), F.lit(False))
    )


def retracted() -> Column:
    """A latest state that takes its key out of silver: quarantined or dropped."""
    return col(LATEST) & (quality.is_quarantined() | (F.size("_dropped_by") > 0))


def latest_state_counts(keys: Sequence[str]) -> dict[str, Column]:
    """Aggregates of a batch marked by :func:`mark_latest_states` (for the counts)."""
    passing = col(LATEST) & ~quality.is_quarantined() & (F.size("_dropped_by") == 0)
    keyed = F.lit(True)
    for k in keys:
        keyed = keyed & col(k).isNotNull()
    return {
        "latest": F.count(F.when(col(LATEST), F.lit(1))),
        "latest_quarantined": F.count(F.when(col(LATEST) & quality.is_quarantined(), F.lit(1))),
        "latest_dropped": F.count(F.when(col(LATEST) & quality.is_dropped(), F.lit(1))),
        "latest_passed": F.count(F.when(passing, F.lit(1))),
        "latest_passed_keys": F.count_distinct(F.when(passing, F.struct(*[col(k) for k in keys]))),
        "retractions": F.count(F.when(retracted() & keyed, F.lit(1))),
        "retraction_hits": F.count(F.when(retracted() & keyed & col(IN_SILVER), F.lit(1))),
    }


def silver_changes(checked: DataFrame, keys: Sequence[str]) -> DataFrame:
    """The silver MERGE's source rows of an ``_op`` batch: each key's latest state, an upsert
    when it passes, a delete (``_op = 'delete'``) when it is a tombstone or is quarantined or
    dropped (the key leaves silver). Pure transform.

    Example:
        >>> silver_changes(mark_latest_states(checked, None, ["id"]), ["id"]).where("_op = 'delete'")
    """
    keyed = F.lit(True)
    for k in keys:
        keyed = keyed & col(k).isNotNull()
    latest = checked.where(col(LATEST))
    retract = latest.where(retracted() & keyed).withColumn(OP, F.lit(OP_DELETE))
    return dedupe_latest(quality.passed(latest).unionByName(retract), list(keys))


def quarantine_changes(checked: DataFrame, bronze_columns: list[str], run_id: str) -> DataFrame:
    """The quarantine MERGE's source rows of an ``_op`` batch (keyed by ``_row_id``): each
    key's latest state, upserted when it is quarantined, else ``_quarantine_op = 'delete'``
    (the key passed, was dropped or was deleted at the source). Pure transform."""
    latest = checked.where(col(LATEST))
    op = F.when(quality.is_quarantined(), F.lit("upsert")).otherwise(F.lit(OP_DELETE))
    return _quarantine_select(latest, bronze_columns, run_id).withColumn(QUARANTINE_OP, op)


# --------------------------------------------------------------------------- check (pure)


def check_batch(
    bronze: DataFrame,
    table: SilverTable,
    decision: Decision,
    parents: Mapping[str, Parent],
    silver_keys: DataFrame | None = None,
) -> DataFrame:
    """Every row of a bronze batch with its fate: standardized (with the reasons found while
    reading it), joined to its references' parents, checked by the expectations and, for a
    source with ``_op``, marked with each key's latest state. Pure transform.

    Args:
        bronze: the batch (:func:`read_bronze_changes`).
        table: the silver table's config.
        decision: the format evidence's choices and refused files (:func:`check_evidence`).
        parents: the references' parents by alias (:func:`lake.silver.references.read_parents`).
        silver_keys: the keys silver holds now (``_op`` sources; None: no silver table yet).

    Example:
        >>> check_batch(bronze, cfg.silver["conta"], Decision({}), parents).select("id", "_errors")
    """
    checked = (
        bronze.transform(_wide, table, decision)
        .transform(join_references, table.references, parents)
        .transform(quality.evaluate, table.expectations, extra_errors=F.col("_read_errors"))
        .transform(drop_references, table.references)
    )
    if OP not in bronze.columns:
        return checked
    # a mutable source: only each key's latest state counts (docs/databases.md)
    return checked.transform(spare_tombstones).transform(mark_latest_states, silver_keys, table.keys)


def batch_counts(checked: DataFrame, table: SilverTable, *, has_op: bool) -> dict[str, Any]:
    """The checked batch's counts in one aggregation (a small read at the edge): the quality
    counts, the rows and distinct keys passing, the distinct quarantined ``_row_id`` and,
    for a source with ``_op`` (``has_op``), :func:`latest_state_counts`."""
    passing = ~quality.is_quarantined() & (F.size("_dropped_by") == 0)
    latest = latest_state_counts(table.keys) if has_op else {}
    agg = quality.quality_counts(
        checked,
        table.expectations,
        extra={
            "passed": F.count(F.when(passing, F.lit(1))),
            "passed_keys": F.count_distinct(F.when(passing, F.struct(*[col(k) for k in table.keys]))),
            "quarantined_ids": F.count_distinct(F.when(quality.is_quarantined(), F.col("_row_id"))),
            **latest,
        },
    ).first()
    assert agg is not None  # an aggregation without grouping returns one row
    sums = (
        "rows_in",
        "quarantined",
        "dropped",
        "warned",
        "passed",
        "passed_keys",
        "quarantined_ids",
        *latest,
    )
    return {**agg.asDict(), **{k: int(agg[k] or 0) for k in sums}}  # a sum over no rows is null


def dropped_rows(counts: Mapping[str, Any], *, has_op: bool) -> int:
    """Rows dropped by a ``drop`` rule plus the states superseded within the batch: for a
    source with ``_op`` each key's latest state survives, otherwise one row per key (per
    ``_row_id`` in quarantine)."""
    if has_op:
        superseded = (counts["rows_in"] - counts["latest"]) + (
            counts["latest_passed"] - counts["latest_passed_keys"]
        )
        return int(counts["latest_dropped"] + superseded)
    superseded = (counts["passed"] - counts["passed_keys"]) + (
        counts["quarantined"] - counts["quarantined_ids"]
    )
    return int(counts["dropped"] + superseded)


# --------------------------------------------------------------------------- read and write (the edges)


@dataclass(frozen=True)
class BronzeBatch:
    """The bronze rows a silver table has not consumed yet (upserts, counted by ``seen`` as
    they are read) and the ledger entry to record once they are written."""

    df: DataFrame
    seen: Observation
    consumer: str
    source: str
    upto: int | None

    @property
    def has_op(self) -> bool:
        """A mutable (JDBC) source: its rows carry ``_op``; only each key's latest state counts."""
        return OP in self.df.columns


def read_bronze_changes(
    spark: SparkSession, paths: LakePaths, table: SilverTable, *, full: bool = False
) -> BronzeBatch | None:
    """The rows bronze committed after the version ``table`` last consumed (the ledger's
    ``silver.<table>`` / ``bronze.<source>``; the whole table with ``full`` or when never
    consumed); None when the source has no bronze table yet or no new commit."""
    bronze_path = paths.bronze(table.source)
    if not delta_io.table_exists(spark, bronze_path):
        log.info(
            "silver %s: bronze %r has no table yet (no file or row delivered); nothing to do",
            table.name,
            table.source,
        )
        return None
    consumer, source = f"silver.{table.name}", f"bronze.{table.source}"
    after = None if full else ledger.consumed(spark, paths, consumer, source)
    found = ledger.read_changes(spark, bronze_path, after, full=full)
    if found.df is None:
        log.info("silver %s: no new bronze commit after version %s", table.name, after)
        return None
    log.info(
        "silver %s: reading bronze %s (%s, up to version %s)",
        table.name,
        bronze_path,
        "full" if found.full else f"changes after version {after}",
        found.upto,
    )
    # bronze is append-only: its own deletes are rewrites (a full reload), not source deletes
    bronze = found.df.where(F.col(ledger.CHANGE_TYPE).isin(*ledger.UPSERTS)).drop(ledger.CHANGE_TYPE)
    bronze, seen = observe_rows(bronze, f"silver_{table.name}_in")
    return BronzeBatch(bronze, seen, consumer, source, found.upto)


def read_silver_keys(spark: SparkSession, paths: LakePaths, table: SilverTable) -> DataFrame | None:
    """The keys ``table``'s silver holds now (None: no table yet)."""
    path = paths.silver(table.name)
    return (
        delta_io.read_table(spark, path).select(*table.keys) if delta_io.table_exists(spark, path) else None
    )


def write_quarantine(
    spark: SparkSession,
    checked: DataFrame,
    table: SilverTable,
    paths: LakePaths,
    run_id: str,
    counts: Mapping[str, Any],
    bronze_columns: list[str],
    *,
    has_op: bool,
) -> int:
    """Upsert the quarantined rows (keyed by ``_row_id``) into ``{root}/quarantine/{table}``;
    for a source with ``_op``, the keys whose latest state is not quarantined leave it.
    Returns the rows quarantined."""
    qpath = paths.quarantine(table.name)
    if has_op:  # the latest states: quarantined ones upserted, the others' keys cleared
        quarantined = quarantine_changes(checked, bronze_columns, run_id)
        qdeletes: dict[str, Any] = {
            "delete_when": f"s.{QUARANTINE_OP} = '{OP_DELETE}'",
            "control_columns": [QUARANTINE_OP],
        }
        if not (counts["latest_quarantined"] > 0 or delta_io.table_exists(spark, qpath)):
            return 0
    else:
        quarantined = dedupe_latest(quarantine_frame(checked, bronze_columns, run_id), ["_row_id"])
        qdeletes = {}
        if not counts["quarantined"]:
            return 0
    skip = ("_run_id", "_bronze_run_id", "_ingested_at", "_row_id", QUARANTINE_OP)
    qcols = [c for c in quarantined.columns if c not in skip]
    fault_point(f"silver.quarantine.before:{table.name}")
    metrics = delta_io.merge_upsert(
        spark, quarantined, qpath, ["_row_id"], compare_columns=qcols, append_if_no_match=True, **qdeletes
    )
    fault_point(f"silver.quarantine.after:{table.name}")
    rows = int(counts["latest_quarantined"]) if has_op else metrics.get("numSourceRows", 0)
    log.info("silver %s: %d rows quarantined", table.name, rows)
    return rows


def write_silver(
    spark: SparkSession,
    checked: DataFrame,
    table: SilverTable,
    paths: LakePaths,
    run_id: str,
    counts: Mapping[str, Any],
    *,
    has_op: bool,
) -> tuple[int, int]:
    """MERGE the passing rows (one per key) into ``{root}/silver/{table}`` without rewriting
    unchanged rows; a tombstone, or for a source with ``_op`` a key whose latest state is
    quarantined or dropped, deletes its key. Returns ``(written, unchanged)``."""
    silver_cols = silver_column_names(table)
    changes = (
        silver_changes(checked, table.keys) if has_op else dedupe_latest(quality.passed(checked), table.keys)
    )
    good = changes.select(
        *silver_cols, *LINEAGE, F.lit(run_id).alias("_silver_run_id"), *([OP] if has_op else [])
    )
    path = paths.silver(table.name)
    if not ((counts["latest_passed"] + counts["retractions"]) if has_op else counts["passed"]):
        delta_io.create_if_missing(spark, good.drop(OP), path)
        return 0, 0
    deletes: dict[str, Any] = {"delete_when": DELETE_WHEN, "control_columns": [OP]} if has_op else {}
    compare = [c for c in silver_cols if c not in table.keys]
    fault_point(f"silver.merge.before:{table.name}")
    # a batch of new keys (the usual delivery) is appended, not MERGEd
    metrics = delta_io.merge_upsert(
        spark, good, path, table.keys, compare_columns=compare, append_if_no_match=True, **deletes
    )
    fault_point(f"silver.merge.after:{table.name}")
    written, unchanged = commit_rows(metrics)
    if has_op:  # a retraction is counted once, as quarantined or dropped, not by this MERGE
        written -= counts["retraction_hits"]
        unchanged -= counts["retractions"] - counts["retraction_hits"]
    return written, unchanged


# --------------------------------------------------------------------------- orchestration


def build_silver_table(
    spark: SparkSession,
    cfg: LakeConfig,
    table_name: str,
    paths: LakePaths,
    run_id: str,
    *,
    full: bool = False,
    refused: list[Refusal] | None = None,
) -> TableCounts:
    """Bring one silver table up to date with its bronze source.

    Reads the rows bronze committed after the version this table last consumed (the
    ledger's ``silver.<table>`` / ``bronze.<source>``; the whole table with ``full=True``
    or when never consumed; none when the source has no bronze table yet: a channel
    without a file is empty, not an error), checks the format evidence (a file whose every reading is
    refuted is quarantined whole, or raises :class:`~lake.errors.QualityError` with
    ``on_refuted: fail``; the refused files are appended to ``refused``), standardizes,
    quarantines unparseable datetimes and durations, joins the references' parents (the
    current silver tables) and evaluates the expectations (the referential rules among them), dedupes
    on the keys (latest bronze commit, then ``_ingested_at``, then ``_row_id``), MERGEs into
    silver without rewriting unchanged rows (a tombstone, ``_op = 'delete'``, deletes its
    key), upserts quarantined rows (keyed by ``_row_id``) and then records the bronze version
    read. For a source with ``_op`` only each key's latest state in the batch counts: a key
    whose latest state passes (or is a tombstone) leaves quarantine, one whose latest state
    is quarantined or dropped leaves silver (:func:`silver_changes`,
    :func:`quarantine_changes`). Rerunning a batch changes nothing, so a run killed between the MERGE and the
    ledger entry converges on rerun.

    Counts (each measured, see ``docs/architecture.md``): ``rows_in`` is the bronze rows read,
    counted as they are read; ``quarantined`` the quarantine MERGE's source rows; ``written``
    and ``unchanged`` the silver MERGE's inserted + updated rows and the source rows it left
    as they were; ``dropped`` the rows failing a ``drop`` rule plus the duplicates
    superseded within the batch (rows minus distinct keys, for written and quarantined rows).

    Example:
        >>> build_silver_table(spark, cfg, "chat", LakePaths("/tmp/lake"), "20260101T000000-abcd1234")
        TableCounts(table='chat', layer='silver', rows_in=1, written=1, ...)
    """
    table = cfg.silver[table_name]
    use_timezone(spark, cfg.lake.timezone)
    batch = read_bronze_changes(spark, paths, table, full=full)
    if batch is None:
        return TableCounts(table_name, "silver", 0, 0)
    decision = check_evidence(batch.df, table)
    _note_refused(table_name, decision, refused)
    parents = read_parents(spark, paths, cfg.silver, table)
    held = read_silver_keys(spark, paths, table) if batch.has_op else None
    # Read three times (counts, quarantine, MERGE), so computed once, on disk: blocks in the
    # memory store cannot be evicted for execution, and with a batch as large as the storage
    # pool (two 200 MB partitions of bronze/ura at 1M rows, 1 GiB driver) the counts'
    # aggregation was left without a page: AGGREGATE_OUT_OF_MEMORY (lake.session.materialize).
    checked = materialize(check_batch(batch.df, table, decision, parents, held))
    try:
        counts = batch_counts(checked, table, has_op=batch.has_op)
        quality.raise_on_failures(table_name, counts, table.expectations)
        rows_in = observed(batch.seen).get("rows", -1)
        if counts["rows_in"] == 0 and rows_in == 0:
            log.info("silver %s: no new bronze rows", table_name)
            ledger.record_consumed(spark, paths, batch.consumer, {batch.source: batch.upto}, run_id)
            return TableCounts(table_name, "silver", 0, 0)
        _refuse_type_changes(
            spark, table_name, paths.silver(table_name), checked.select(*silver_column_names(table))
        )
        bronze_columns = [c for c in batch.df.columns if c not in CHANGE_COLUMNS]
        quarantined = write_quarantine(
            spark, checked, table, paths, run_id, counts, bronze_columns, has_op=batch.has_op
        )
        written, unchanged = write_silver(spark, checked, table, paths, run_id, counts, has_op=batch.has_op)
        log.info(
            "silver %s: %d rows written (deletes included), %d unchanged", table_name, written, unchanged
        )
        ledger.record_consumed(spark, paths, batch.consumer, {batch.source: batch.upto}, run_id)
        return TableCounts(
            table_name,
            "silver",
            rows_in,
            written,
            quarantined=quarantined,
            dropped=dropped_rows(counts, has_op=batch.has_op),
            warned=counts["warned"],
            unchanged=unchanged,
        )
    finally:
        release(checked)


def _note_refused(table_name: str, decision: Decision, refused: list[Refusal] | None) -> None:
    for r in decision.refused:
        log.warning("silver %s: file %s quarantined whole (%s): %s", table_name, r.file, r.reason, r.message)
    if refused is not None:
        refused += decision.refused


def _refuse_type_changes(spark: SparkSession, table_name: str, path: str, new: DataFrame) -> None:
    """A MERGE would cast a column whose configured type changed back to the table's old type
    (a naive ``timestamp_ntz`` into an instant, read in the session zone): refuse instead."""
    changes = delta_io.type_changes(spark, path, new)
    if changes:
        what = ", ".join(f"{c} is {held} there, the config builds {wanted}" for c, held, wanted in changes)
        raise PipelineError(
            f"silver table {table_name!r} at {path} holds other column types ({what}); "
            "remove it and rebuild it with --full-reload (docs/model.md, 'Upgrading a lake')"
        )


def check_evidence(bronze: DataFrame, table: SilverTable) -> Decision:
    """Measure the evidence on the well-formed bronze rows and decide (collects the tiny summary).

    Raises:
        QualityError: with ``on_refuted: fail``, when a file is refused (a configured format
            is refuted, no candidate survives, or two tie).

    Example:
        >>> check_evidence(bronze, cfg.silver["ura"])
        Decision(choices={}, refused=())
    """
    ok = (
        bronze.filter(~F.coalesce(col("_is_malformed"), F.lit(False)))
        if "_is_malformed" in bronze.columns
        else bronze
    )
    summary = evidence_summary(ok, table)
    if summary is None:
        return Decision({})
    decision = decide(table, summary.collect())
    if decision.refused and table.on_refuted == RefutedPolicy.FAIL:
        raise QualityError(decision.refused[0].message)
    return decision


def interactions_frame(df: DataFrame, table: SilverTable, run_id: str) -> DataFrame:
    """One channel's silver rows in the unified interactions layout (docs/standardization.md).

    A column the channel has is taken as is; ``ended_at`` missing is ``started_at +
    total_seconds``; ``total_seconds`` missing is ``ended_at - started_at`` in seconds;
    anything else missing is null.

    Example:
        >>> interactions_frame(read_table(spark, paths.silver("chat")), cfg.silver["chat"], run_id)
    """
    have = set(table.columns)
    out = []
    for name, type_ in INTERACTION_COLUMNS.items():
        if name == "channel":
            expr = F.lit(table.channel)
        elif name in have:
            expr = F.col(name)
        elif name == "ended_at" and {"started_at", "total_seconds"} <= have:
            expr = F.timestamp_seconds(F.unix_seconds(F.col("started_at")) + F.col("total_seconds"))
        elif name == "total_seconds" and {"started_at", "ended_at"} <= have:
            expr = F.unix_seconds(F.col("ended_at")) - F.unix_seconds(F.col("started_at"))
        else:
            expr = F.lit(None)
        out.append(expr.cast(type_).alias(name))
    op = [F.col(OP)] if OP in df.columns else []  # a change batch's operation, for the MERGE
    return df.select(
        *out,
        F.lit(table.name).alias("_source_table"),
        F.col("_source_file"),
        F.col("_silver_run_id"),
        F.lit(run_id).alias("_run_id"),
        *op,
    )


def channel_changes(changes: DataFrame, table: SilverTable) -> DataFrame:
    """A channel silver table's change batch as upserts and deletes (``_op``): the last change
    of each key (:func:`lake.ledger.net_changes`). Pure transform.

    Example:
        >>> channel_changes(ledger.changes(spark, paths.silver("chat"), 4)[0], cfg.silver["chat"])
    """
    net = ledger.net_changes(changes, list(table.keys))
    op = F.when(F.col(ledger.CHANGE_TYPE) == ledger.DELETE, F.lit(OP_DELETE)).otherwise(F.lit("upsert"))
    return net.withColumn(OP, op).drop(*CHANGE_COLUMNS)


INTERACTIONS_CONSUMER = "silver.interactions"


def build_interactions(
    spark: SparkSession, cfg: LakeConfig, paths: LakePaths, run_id: str, *, full: bool = False
) -> TableCounts:
    """MERGE the channel silver tables' changes (those with ``channel``) into ``silver/interactions``.

    Each channel table is read from the version the ledger records for
    ``silver.interactions`` / ``silver.<channel>`` (Delta's change feed: inserts and update
    post-images upsert, deletes delete the interaction); a channel never consumed, or read
    with ``full=True``, is read whole, and the interactions of that channel it no longer holds
    are deleted. The versions read are recorded after the MERGE; merging the same changes
    twice changes nothing.

    Example:
        >>> build_interactions(spark, cfg, LakePaths("/tmp/lake"), run_id).written
        4
    """
    reads, frames, whole, versions = [], [], [], {}
    for t in cfg.silver.values():
        path = paths.silver(t.name)
        if not t.channel or not delta_io.table_exists(spark, path):
            continue
        source = f"silver.{t.name}"
        after = None if full else ledger.consumed(spark, paths, INTERACTIONS_CONSUMER, source)
        found = ledger.read_changes(spark, path, after, full=full)
        if found.df is None:
            continue
        versions[source] = found.upto
        if found.full:
            whole.append(t.name)
        df, read = observe_rows(channel_changes(found.df, t), f"interactions_{t.name}_in")
        reads.append(read)
        frames.append(interactions_frame(df, t, run_id))

    if not frames:  # nothing new (or no channel has delivered yet: an empty table, so gold answers "nothing")
        empty = spark.createDataFrame(
            [],
            ", ".join(f"{n} {t}" for n, t in INTERACTION_COLUMNS.items())
            + ", _source_table string, _source_file string, _silver_run_id string, _run_id string",
        )
        delta_io.create_if_missing(spark, empty, paths.silver("interactions"))
        log.info("silver interactions: no channel change to merge")
        return TableCounts("interactions", "silver", 0, 0)
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    compare = [c for c in union.columns if c not in ("interaction_id", "_run_id", "_silver_run_id", OP)]
    gone = f"t._source_table IN ({', '.join(repr(n) for n in whole)})" if whole else None
    fault_point("silver.merge.before:interactions")
    metrics = delta_io.merge_upsert(
        spark,
        union,
        paths.silver("interactions"),
        ["interaction_id"],
        compare_columns=compare,
        delete_when=DELETE_WHEN,
        delete_missing_when=gone,
        control_columns=[OP],
    )
    fault_point("silver.merge.after:interactions")
    written, unchanged = commit_rows(metrics)
    measured = [observed(r).get("rows", -1) for r in reads]
    rows_in = -1 if min(measured) < 0 else sum(measured)
    log.info("silver interactions: %d rows read, %d written, %d unchanged", rows_in, written, unchanged)
    ledger.record_consumed(spark, paths, INTERACTIONS_CONSUMER, versions, run_id)
    return TableCounts("interactions", "silver", rows_in, written, unchanged=unchanged)
