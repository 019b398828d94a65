"""Referential rules: joins to parent silver tables, checked by expectations from the config.

A silver table's ``references:`` (:class:`~lake.config.Reference`) name a parent silver
table and the columns that join to its keys. :func:`join_references` adds, per reference,
one struct column named by the reference (``conta``: ``found``, the parent's ``columns``,
``quarantined_for`` with ``with_quarantine``); the rules themselves are the table's
expectations over it, evaluated by :func:`lake.silver.quality.evaluate` like any other
(conf/lake.yml)::

    references: [{table: conta, join: {id_conta: id}, columns: [id_associado]}]
    expectations:
      - {name: account_not_found, expr: "conta.found"}
      - {name: card_member_mismatch, expr: "NOT conta.found OR id_associado <=> conta.id_associado"}

Reading the parents is I/O at the edge (:func:`read_parents`); shaping them into lookups
and joining (:func:`join_references`) are pure transforms.

Example:
    >>> parents = read_parents(spark, paths, cfg.silver, cfg.silver["cartao"])
    >>> std.transform(join_references, cfg.silver["cartao"].references, parents).select("conta.found")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lake import delta_io
from lake.config import Reference, SilverTable
from lake.paths import LakePaths
from lake.silver.columns import col, column_expr

#: Lookup columns besides the parent's own (renamed ``_ref_<alias>_<column>``; the quarantine
#: lookup's keys ``_refq_<alias>_<column>``).
FOUND, QUARANTINED_FOR = "_ref_found", "_ref_quarantined_for"


@dataclass(frozen=True)
class Parent:
    """A reference's parent as read: its silver table and, with ``with_quarantine``, its
    quarantine table (None: the table does not exist yet, or is not looked up)."""

    table: SilverTable
    silver: DataFrame | None = None
    quarantine: DataFrame | None = None


def _inner(ref: Reference, column: str, prefix: str = "_ref") -> str:
    return f"{prefix}_{ref.name}_{column}"


def silver_lookup(ref: Reference, silver: DataFrame) -> DataFrame:
    """The parent silver rows (unique on its keys), ``_ref_<alias>_<column>`` for the join
    columns and ``columns``, plus ``_ref_found`` (true). Pure transform."""
    keep = dict.fromkeys([*ref.join.values(), *ref.columns])
    return silver.select(*[col(c).alias(_inner(ref, c)) for c in keep], F.lit(True).alias(FOUND))


def quarantine_lookup(ref: Reference, parent: SilverTable, quarantine: DataFrame) -> DataFrame:
    """One row per parent key found in its quarantine, with ``_ref_quarantined_for``: the
    sorted distinct rules of the key's quarantined rows. The quarantine holds bronze values,
    so the keys are standardized again by the parent's column rules. Pure transform."""
    types = {f.name: f.dataType for f in quarantine.schema.fields}
    keys = [_inner(ref, k, "_refq") for k in ref.join.values()]
    rules = F.array_sort(F.array_distinct(F.flatten(F.collect_list(F.col("_errors.rule")))))
    return (
        quarantine.select(
            *[
                column_expr(parent.columns[k], types).alias(_inner(ref, k, "_refq"))
                for k in ref.join.values()
            ],
            "_errors",
        )
        .groupBy(*keys)
        .agg(rules.alias(QUARANTINED_FOR))
    )


def _on(ref: Reference, prefix: str = "_ref") -> Column:
    cond = F.lit(True)
    for mine, theirs in ref.join.items():
        cond = cond & (col(mine) == col(_inner(ref, theirs, prefix)))
    return cond


def join_reference(df: DataFrame, ref: Reference, parent: Parent) -> DataFrame:
    """Add the struct column ``<alias>``: ``found`` (a parent silver row matches), the
    parent's ``columns`` (null when none matches) and, with ``with_quarantine``,
    ``quarantined_for`` (the rules the parent key is quarantined for, else empty), by left
    joins on the reference's columns (a null join column finds nothing). Pure transform.

    Example:
        >>> cards.transform(join_reference, ref, Parent(cfg.silver["conta"], accounts)).select("conta.*")
    """
    out = df
    fields: list[Column] = []
    if parent.silver is not None:
        lookup = silver_lookup(ref, parent.silver)
        out = out.join(lookup, _on(ref), "left")
        found = F.coalesce(col(FOUND), F.lit(False))
        fields = [found.alias("found"), *[F.when(found, col(_inner(ref, c))).alias(c) for c in ref.columns]]
        drop = list(lookup.columns)
    else:  # no parent table yet: nothing is found
        fields = [F.lit(False).alias("found"), *[F.lit(None).alias(c) for c in ref.columns]]
        drop = []
    if ref.with_quarantine:
        empty = F.array().cast("array<string>")
        if parent.quarantine is not None:
            rules = quarantine_lookup(ref, parent.table, parent.quarantine)
            out = out.join(rules, _on(ref, "_refq"), "left")
            fields.append(F.coalesce(col(QUARANTINED_FOR), empty).alias("quarantined_for"))
            drop += rules.columns
        else:
            fields.append(empty.alias("quarantined_for"))
    return out.withColumn(ref.name, F.struct(*fields)).drop(*drop)


def join_references(
    df: DataFrame, references: Sequence[Reference], parents: Mapping[str, Parent]
) -> DataFrame:
    """:func:`join_reference` for each reference, with its parent by alias. Pure transform.

    Example:
        >>> std.transform(join_references, table.references, read_parents(spark, paths, cfg.silver, table))
    """
    for ref in references:
        df = join_reference(df, ref, parents[ref.name])
    return df


def drop_references(df: DataFrame, references: Sequence[Reference]) -> DataFrame:
    """Drop the references' struct columns once the expectations have read them."""
    return df.drop(*[ref.name for ref in references])


def read_parents(
    spark: SparkSession, paths: LakePaths, silver: Mapping[str, SilverTable], table: SilverTable
) -> dict[str, Parent]:
    """The parents of ``table``'s references, by alias: the current parent silver tables (and
    their quarantines, for ``with_quarantine``). Reads at the edge.

    Example:
        >>> read_parents(spark, paths, cfg.silver, cfg.silver["movimento"])["cartao"].quarantine
    """
    out: dict[str, Parent] = {}
    for ref in table.references:
        spath, qpath = paths.silver(ref.table), paths.quarantine(ref.table)
        held = delta_io.read_table(spark, spath) if delta_io.table_exists(spark, spath) else None
        quarantined = (
            delta_io.read_table(spark, qpath)
            if ref.with_quarantine and delta_io.table_exists(spark, qpath)
            else None
        )
        out[ref.name] = Parent(silver[ref.table], held, quarantined)
    return out
