"""One silver column from bronze columns, as configured by a :class:`~lake.config.ColumnRule`."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, DateType, TimestampNTZType, TimestampType

from lake.config import ColumnRule, ColumnType, Whitespace
from lake.silver import functions as sf


def col(name: str) -> Column:
    """A column by its exact name (spaces, dots, accents and ``()?/`` allowed)."""
    return F.col("`" + name.replace("`", "``") + "`")


def rule_formats(rule: ColumnRule, candidate: int | None = None) -> tuple[str, ...]:
    """The formats a datetime rule reads with: a chosen candidate, else ``formats``, else the
    first candidate."""
    if candidate is not None and candidate >= 0:
        return rule.candidates[candidate]
    return rule.formats or (rule.candidates[0] if rule.candidates else ())


def all_formats(rule: ColumnRule) -> tuple[str, ...]:
    """Every datetime format a rule knows: ``formats``, then each candidate's, without repeats."""
    return tuple(dict.fromkeys([*rule.formats, *(f for cand in rule.candidates for f in cand)]))


def _parses_text(rule: ColumnRule, types: Mapping[str, DataType]) -> bool:
    """Whether the rule reads text into a datetime or a duration (not a value the source typed)."""
    if rule.source is None or rule.type not in (
        ColumnType.TIMESTAMP,
        ColumnType.TIMESTAMP_NTZ,
        ColumnType.DATE,
        ColumnType.DURATION,
    ):
        return False
    return not isinstance(types.get(rule.source), (TimestampType, TimestampNTZType, DateType))


def readable(rule: ColumnRule, types: Mapping[str, DataType] | None = None) -> Column:
    """True when a datetime rule's value parses under at least one of its formats (any
    candidate's included): only such a value can speak for or against a format.

    Example:
        >>> bronze.where(readable(cfg.silver["whatsapp"].columns["started_at"]))  # "13/45/19 0:08" is not
    """
    types = types or {}
    if not _parses_text(rule, types) or rule.type == ColumnType.DURATION:
        return column_expr(rule, types).isNotNull()
    return column_expr(rule, types, formats=all_formats(rule)).isNotNull()


def unparsed_error(
    name: str, rule: ColumnRule, value: Column, types: Mapping[str, DataType] | None = None
) -> Column | None:
    """The quarantine reason of a row whose datetime or duration text is present but does not
    parse (``<name>_unparseable``), else null; ``None`` for rules that parse no text.

    ``value`` is the column as standardized (with the format chosen for the row's file), so
    a value the chosen format cannot read is quarantined, never kept as a silent null.

    Example:
        >>> unparsed_error("ended_at", rule, column_expr(rule))
    """
    types = types or {}
    if not _parses_text(rule, types):
        return None
    what = (
        "a duration (H:MM:SS)"
        if rule.type == ColumnType.DURATION
        else f"one of {' | '.join(all_formats(rule))}"
    )
    reason = F.struct(
        F.lit(f"{name}_unparseable").alias("rule"),
        F.lit(f"`{rule.source}` reads as {what}").alias("expr"),
    )
    return F.when(raw_source(rule).isNotNull() & value.isNull(), reason)


def input_column(rule: ColumnRule) -> Column:
    """The column a rule reads: its ``source`` column, or its SQL ``expr`` (the config demands one)."""
    if rule.source is not None:
        return col(rule.source)
    if rule.expr is None:
        raise ValueError("a column rule needs 'source' or 'expr'")  # rejected when the config loads
    return F.expr(rule.expr)


def raw_source(rule: ColumnRule) -> Column:
    """The trimmed source text of a rule (the date part for date + time), empty -> null."""
    if rule.source is None:
        return input_column(rule).cast("string")
    return sf.datetime_text(col(rule.source))


def output_type(rule: ColumnRule) -> str:
    """The Spark type name of a datetime rule's column (``timestamp``, ``timestamp_ntz``, ``date``)."""
    return {ColumnType.TIMESTAMP_NTZ: "timestamp_ntz", ColumnType.DATE: "date"}.get(rule.type, "timestamp")


def column_expr(
    rule: ColumnRule,
    types: Mapping[str, DataType] | None = None,
    *,
    formats: Sequence[str] | None = None,
) -> Column:
    """The typed, standardized column a rule describes (over a bronze row).

    Args:
        rule: the column's rule.
        types: bronze column types; a JDBC column already typed (timestamp, boolean) is kept.
        formats: override of the datetime formats (a candidate chosen by the evidence).

    Example:
        >>> rule = ColumnRule(type=ColumnType.DURATION, source="duracao_atendimento")
        >>> bronze.select(column_expr(rule).alias("handle_seconds"))
    """
    src_type = (types or {}).get(rule.source) if rule.source is not None else None
    return _rule_column(rule, src_type, None if formats is None else tuple(formats), _jvm())


def _jvm():
    """The JVM the Columns are built in (part of :func:`_rule_column`'s cache key: a Column
    lives in one JVM)."""
    from pyspark import SparkContext

    return SparkContext._jvm


@functools.lru_cache(maxsize=1024)
def _rule_column(rule: ColumnRule, src_type: DataType | None, formats: tuple[str, ...] | None, jvm) -> Column:
    """:func:`column_expr`, built once per rule, source type, formats and JVM: a Column is an
    immutable expression, and building one costs hundreds of py4j calls per column, which a
    micro-batch paid again for every table and every batch."""
    src = input_column(rule)
    t = rule.type
    if t == ColumnType.STRING:
        return src.cast("string")
    whitespace = rule.whitespace or Whitespace.TRIM
    if t == ColumnType.TEXT:
        return sf.clean_text(src, whitespace)
    if t == ColumnType.NAME:
        return sf.clean_name(src, whitespace)
    if t == ColumnType.EMAIL:
        return sf.normalize_email(src)
    if t in (ColumnType.TIMESTAMP, ColumnType.TIMESTAMP_NTZ, ColumnType.DATE):
        naive = t == ColumnType.TIMESTAMP_NTZ
        if isinstance(src_type, TimestampNTZType) and naive:
            return src  # already naive: no zone may touch it
        if isinstance(src_type, (TimestampType, TimestampNTZType, DateType)):
            out = src.cast(output_type(rule))
        else:
            fmts = list(formats) if formats is not None else list(rule_formats(rule))
            time = col(rule.time_source) if rule.time_source else None
            out = sf.parse_timestamp(src, fmts, time=time, naive=naive)
        return out.cast("date") if t == ColumnType.DATE else out
    if t == ColumnType.DURATION:
        return sf.parse_duration_seconds(src)
    if t == ColumnType.BOOLEAN:
        return src if isinstance(src_type, BooleanType) else sf.parse_boolean(src)
    if t == ColumnType.PHONE:
        area = col(rule.area_code_source) if rule.area_code_source else None
        return sf.to_e164_phone(area, src)
    if t == ColumnType.INTEGER:
        return F.trim(src.cast("string")).try_cast("int")
    if t == ColumnType.LONG:
        return F.trim(src.cast("string")).try_cast("long")
    if t == ColumnType.DECIMAL:
        return sf.to_decimal(src, rule.precision, rule.scale)
    if t == ColumnType.DIGITS:
        return sf.digits_only(src)
    raise ValueError(f"unsupported column type {t!r}")  # pragma: no cover


def problem_expr(rule: ColumnRule) -> Column | None:
    """The ``<column>_problem`` reason column of a rule with ``reason: true`` (e-mails)."""
    if not rule.reason or rule.type != ColumnType.EMAIL:
        return None
    src = input_column(rule)
    return sf.email_problem(src)
