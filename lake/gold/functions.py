"""``Column -> Column`` helpers of the gold layer (no I/O, native Spark functions only)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

# The answers' constants and ``parse_as_of`` are pure Python (lake.gold.rules) so the fast
# path imports them without pyspark; they are re-exported here.
from lake.gold.rules import DEFAULT_TIMEZONE, UNKNOWN_KEY, parse_as_of  # noqa: F401
from lake.silver import functions as silver_functions

#: Output pattern of every printed timestamp.
TS_PATTERN = "yyyy-MM-dd HH:mm:ss"


def normalize_email(col: Column | str) -> Column:
    """Trimmed, lower-cased e-mail; null when blank or not a valid address (silver's rule,
    :func:`lake.silver.functions.normalize_email`, the one definition of a valid e-mail).

    Example:
        >>> df.select(normalize_email("customer_email"))  # ' Ana@X.com ' -> 'ana@x.com'
    """
    return silver_functions.normalize_email(F.col(col) if isinstance(col, str) else col)


def normalize_name(col: Column | str) -> Column:
    """Natural key of an agent: trimmed, inner blanks collapsed, lower-cased; null if blank.

    Example:
        >>> df.select(normalize_name("agent"))  # '  Ana   Souza ' -> 'ana souza'
    """
    c = F.lower(F.trim(F.regexp_replace(F.col(col) if isinstance(col, str) else col, r"\s+", " ")))
    return F.when(F.length(c) > 0, c)


def local_time(col: Column | str, timezone: str) -> Column:
    """An instant as the wall-clock time (``timestamp_ntz``) of ``timezone``.

    Independent of the session time zone: the instant is read in the session zone and
    converted to ``timezone``.

    Example:
        >>> df.select(local_time("started_at", "America/Sao_Paulo"))
    """
    c = F.col(col) if isinstance(col, str) else col
    return F.convert_timezone(F.current_timezone(), F.lit(timezone), c.cast("timestamp_ntz"))


def format_local(col: Column | str, timezone: str, pattern: str = TS_PATTERN) -> Column:
    """An instant printed as ``yyyy-MM-dd HH:mm:ss`` in ``timezone`` (null stays null).

    Example:
        >>> df.select(format_local("started_at", "America/Sao_Paulo"))  # '2019-10-01 10:00:00'
    """
    return F.date_format(local_time(col, timezone), pattern)


def format_naive(col: Column | str) -> Column:
    """A naive ``timestamp_ntz`` printed as ``yyyy-MM-dd HH:mm:ss`` exactly as it reads (null
    stays null).

    Zone-free: ``date_format`` would pass the value through the session zone, turning a time
    skipped by a daylight-saving jump (``2018-11-04 00:23:54`` in São Paulo) into the next
    hour; the ISO text of the cast never does. Fractions of a second are cut, as
    :data:`TS_PATTERN` prints none.

    Example:
        >>> df.select(format_naive("data_movimento"))  # 2018-11-04 00:23:54 -> '2018-11-04 00:23:54'
    """
    c = F.col(col) if isinstance(col, str) else col
    return F.substring(c.cast("timestamp_ntz").cast("string"), 1, len("yyyy-MM-dd HH:mm:ss"))


def local_date(col: Column | str, timezone: str) -> Column:
    """The calendar date of an instant in ``timezone``."""
    return F.to_date(local_time(col, timezone))


def as_of_literal(as_of: str | _dt.datetime | None, timezone: str) -> Column:
    """``as_of`` (see :func:`parse_as_of`) as a timestamp literal (an exact instant)."""
    return F.lit(parse_as_of(as_of, timezone)).cast("timestamp")


def channel_value(col: Column | str, values: Mapping[str, int], default: int) -> Column:
    """The integer ``values`` gives a channel name (a key, a priority); ``default`` for any
    other name and for null. ``values`` comes from the configured channels (``cfg.channels``).

    Example:
        >>> df.select(channel_value("channel", {"phone": 1, "chat": 2}, -1))  # 'chat' -> 2
    """
    c = F.col(col) if isinstance(col, str) else col
    out: Column | None = None
    for name, value in values.items():
        out = (
            F.when(c == F.lit(name), F.lit(value))
            if out is None
            else out.when(c == F.lit(name), F.lit(value))
        )
    return F.lit(default) if out is None else out.otherwise(F.lit(default))
