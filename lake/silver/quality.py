"""Expectations: SQL predicates from the config, each with an action.

``quarantine``: the row goes to the table's quarantine with ``_errors`` (rule and expression
of every failed rule). ``drop``: the row is left out and counted. ``warn``: counted, the row
is written. ``fail``: the run stops with :class:`~lake.errors.QualityError`. A predicate that
evaluates to null counts as failed. A malformed bronze row goes to quarantine with the single
rule ``malformed_record`` (its other rules would only repeat that it could not be read).
A row failing both a quarantine and a drop rule is quarantined (the evidence is kept).

Example:
    >>> checked = evaluate(standardized, table.expectations)
    >>> counts = quality_counts(checked).first()      # one aggregation
    >>> raise_on_failures(table.name, counts)
    >>> good, quarantined = passed(checked), quarantined_rows(checked)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lake.config import Action, Expectation
from lake.errors import QualityError

ERROR_TYPE = "array<struct<rule:string,expr:string>>"
MALFORMED_RULE = "malformed_record"

#: Columns :func:`evaluate` adds.
QUALITY_COLUMNS = ("_errors", "_dropped_by", "_warned_by", "_failed_by")


def _empty(type_: str) -> Column:
    return F.expr(f"cast(array() as {type_})")


def _failures(items: Sequence[tuple[Column, Column]], type_: str) -> Column:
    """Array of the values whose condition is true (nulls removed)."""
    if not items:
        return _empty(type_)
    return F.array_compact(F.array(*[F.when(cond, value) for cond, value in items]))


def error(rule: str, expr: str) -> Column:
    """An ``_errors`` element: ``struct(rule, expr)``.

    Example:
        >>> error("card_not_found", "id_cartao IN cartao.id")
    """
    return F.struct(F.lit(rule).alias("rule"), F.lit(expr).alias("expr"))


def evaluate(
    df: DataFrame,
    expectations: Sequence[Expectation],
    *,
    extra_errors: Column | None = None,
) -> DataFrame:
    """Add ``_errors``, ``_dropped_by``, ``_warned_by`` and ``_failed_by`` to every row.

    Args:
        df: standardized rows (expectations are written against silver column names);
            ``_is_malformed`` is honoured when present.
        expectations: the table's rules.
        extra_errors: an ``array<struct<rule,expr>>`` column of further quarantine reasons
            (referential rules); null means none.

    Example:
        >>> evaluate(df, [Expectation("id_present", "id IS NOT NULL")]).select("_errors")
    """
    failed = {e.name: ~F.coalesce(F.expr(e.expr), F.lit(False)) for e in expectations}
    by = {a: [e for e in expectations if e.action == a] for a in Action}
    errors = _failures([(failed[e.name], error(e.name, e.expr)) for e in by[Action.QUARANTINE]], ERROR_TYPE)
    if extra_errors is not None:
        errors = F.concat(errors, F.coalesce(extra_errors, _empty(ERROR_TYPE)))
    names = {a: _failures([(failed[e.name], F.lit(e.name)) for e in by[a]], "array<string>") for a in Action}
    malformed = (
        F.coalesce(F.col("_is_malformed"), F.lit(False)) if "_is_malformed" in df.columns else F.lit(False)
    )
    none = _empty("array<string>")
    return df.withColumns(
        {
            "_errors": F.when(malformed, F.array(error(MALFORMED_RULE, "_is_malformed = false"))).otherwise(
                errors
            ),
            "_dropped_by": F.when(malformed, none).otherwise(names[Action.DROP]),
            "_warned_by": F.when(malformed, none).otherwise(names[Action.WARN]),
            "_failed_by": F.when(malformed, none).otherwise(names[Action.FAIL]),
        }
    )


def is_quarantined() -> Column:
    return F.size("_errors") > 0


def is_dropped() -> Column:
    return ~is_quarantined() & (F.size("_dropped_by") > 0)


def passed(df: DataFrame) -> DataFrame:
    """Rows to write (warned rows included)."""
    return df.filter(~is_quarantined() & (F.size("_dropped_by") == 0))


def quarantined_rows(df: DataFrame) -> DataFrame:
    """Rows for the quarantine table."""
    return df.filter(is_quarantined())


def quality_counts(
    df: DataFrame, expectations: Sequence[Expectation] = (), *, extra: Mapping[str, Column] | None = None
) -> DataFrame:
    """One row: ``rows_in``, ``quarantined``, ``dropped``, ``warned`` (written rows failing a
    warn rule) and ``failures`` (array of ``struct(rule, rows)`` for fail rules), in one
    aggregation; ``extra`` adds more aggregate columns (e.g. a watermark's max).

    Example:
        >>> quality_counts(evaluate(df, rules), rules).first()["quarantined"]
    """
    fail_rules = [e.name for e in expectations if e.action == Action.FAIL]
    written = ~is_quarantined() & (F.size("_dropped_by") == 0)
    failures = (
        F.array(
            *[
                F.struct(
                    F.lit(n).alias("rule"),
                    F.sum(F.when(F.array_contains("_failed_by", n), 1).otherwise(0))
                    .cast("long")
                    .alias("rows"),
                )
                for n in fail_rules
            ]
        )
        if fail_rules
        else F.expr("cast(array() as array<struct<rule:string,rows:long>>)")
    )
    aggs = [
        F.count(F.lit(1)).alias("rows_in"),
        F.sum(F.when(is_quarantined(), 1).otherwise(0)).cast("long").alias("quarantined"),
        F.sum(F.when(is_dropped(), 1).otherwise(0)).cast("long").alias("dropped"),
        F.sum(F.when(written & (F.size("_warned_by") > 0), 1).otherwise(0)).cast("long").alias("warned"),
        failures.alias("failures"),
    ]
    aggs += [c.alias(n) for n, c in (extra or {}).items()]
    return df.agg(*aggs)


def raise_on_failures(table: str, counts: Mapping, expectations: Sequence[Expectation] = ()) -> None:
    """Raise :class:`QualityError` when a ``fail`` rule failed on any row.

    Example:
        >>> raise_on_failures("chat", quality_counts(checked, rules).first(), rules)
    """
    exprs = {e.name: e.expr for e in expectations}
    bad = [(f["rule"], f["rows"]) for f in (counts["failures"] or []) if f["rows"]]
    if bad:
        detail = "; ".join(f"rule {r!r} ({exprs.get(r, '?')}) failed on {n} rows" for r, n in bad)
        raise QualityError(f"silver table {table!r}: {detail}")
