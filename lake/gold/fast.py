"""Answers and table reads without a JVM: delta-rs (``deltalake``) and Arrow.

The three answers run the same SQL text as Spark (``lake/gold/sql/*.sql``, see
:mod:`lake.gold.rules`) on DataFusion, the SQL engine inside ``deltalake`` (its
``QueryBuilder``): no other engine to install, no Spark to start. Importing this module
imports neither pyspark nor Java.

Timestamps come back as Arrow ``timestamp[us, tz=UTC]`` (the instant, as Spark stores it);
printed answers show them as ``yyyy-MM-dd HH:mm:ss`` in the source zone.

Example:
    >>> from lake.gold.fast import answer, format_table
    >>> t = answer("lake-data", "last_interaction", as_of="2026-11-25 12:00:00")
    >>> print(format_table(t, "csv"))
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from lake.errors import PipelineError
from lake.gold.rules import (
    DEFAULT_TIMEZONE,
    format_timestamp,
    gold_tables,
    query_text,
    render_query,
    render_rows,
)
from lake.paths import LakePaths

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def _delta_table(path: str, *, version: int | None = None):
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(path, version=version)
    except TableNotFoundError as exc:
        raise PipelineError(f"no Delta table at {path}; run 'lake run' first") from exc


def _column_mapped(dt) -> bool:
    return dt.metadata().configuration.get("delta.columnMapping.mode", "none") != "none"


def read_arrow(path: str, *, version: int | None = None) -> pa.Table:
    """A whole Delta table (optionally at ``version``) as a pyarrow Table, without Spark.

    Plain tables are read with ``to_pyarrow_table()``. Column-mapped tables (bronze and
    quarantine) go through DataFusion, because deltalake 1.6.6's ``to_pyarrow_table()``
    returns all-NULL columns for them.

    Example:
        >>> read_arrow("lake-data/gold/dim_channel").num_rows
        5
    """
    import pyarrow as pa

    dt = _delta_table(path, version=version)
    if not _column_mapped(dt):
        return dt.to_pyarrow_table()
    from deltalake import QueryBuilder

    schema = pa.schema(dt.schema())  # logical names and Delta's Arrow types
    reader = QueryBuilder().register("t", dt).execute("SELECT * FROM t")
    table = pa.RecordBatchReader.from_stream(reader).read_all()
    return table.select(schema.names).cast(schema) if table.num_rows else schema.empty_table()


def _answer_table(root: str, name: str, as_of, timezone: str):
    """The answer as an arro3 Table: DataFusion's result, before any pyarrow import."""
    from deltalake import QueryBuilder

    paths = LakePaths(root)
    qb = QueryBuilder()
    tables = gold_tables(query_text(name))
    for table in tables:
        qb.register(table, _delta_table(paths.gold(table)))
    sql = render_query(name, as_of=as_of, timezone=timezone, tables={t: t for t in tables})
    return qb.execute(sql).read_all()


def answer(
    root: str,
    name: str,
    *,
    as_of: str | _dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> pa.Table:
    """Answer ``name`` (``contacts_24h``, ``interactions_by_channel``, ``last_interaction``)
    from the gold star under lake root ``root``, as a pyarrow Table.

    Example:
        >>> answer("lake-data", "contacts_24h", as_of="2026-11-25 12:00:00").column_names
        ['customer_email', 'contacts']
    """
    import pyarrow as pa

    # RecordBatchReader.from_stream, not pa.table(): pa.table() imports pandas to check
    # whether it was handed a DataFrame (a second or more of a one-second budget).
    result = pa.RecordBatchReader.from_stream(_answer_table(root, name, as_of, timezone)).read_all()
    # DataFusion hands strings back as string_view: plain string for every consumer.
    return result.cast(
        pa.schema(
            [
                pa.field(f.name, pa.string() if pa.types.is_string_view(f.type) else f.type)
                for f in result.schema
            ]
        )
    )


def answer_text(
    root: str,
    name: str,
    fmt: str = "table",
    *,
    as_of: str | _dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> str:
    """Answer ``name`` printed as :func:`format_table` prints it, importing neither pyarrow
    nor pandas (what ``lake query`` runs).

    Example:
        >>> print(answer_text("lake-data", "last_interaction", "csv", as_of="2026-11-25 12:00:00"))
    """
    return format_table(_answer_table(root, name, as_of, timezone), fmt, timezone=timezone)


def format_table(table, fmt: str = "table", *, timezone: str = DEFAULT_TIMEZONE) -> str:
    """Render an Arrow answer (pyarrow or any Arrow table) exactly as
    :func:`lake.gold.answers.format_answer` renders the Spark one: timestamps as
    ``yyyy-MM-dd HH:mm:ss`` in ``timezone``, rows sorted by every column.

    Example:
        >>> print(format_table(answer("lake-data", "contacts_24h"), "csv"))
    """
    from arro3.core import DataType, Table

    table = Table.from_arrow(table)
    columns = []
    for column in table.columns:
        values = column.to_pylist()
        if DataType.is_timestamp(column.type):
            values = [format_timestamp(v, timezone) for v in values]
        columns.append(values)
    return render_rows(table.column_names, list(zip(*columns)), fmt)
