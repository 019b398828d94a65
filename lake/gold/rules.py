"""The three answers' rules, engine-neutral: constants, ``as_of``, the SQL text and the output.

Everything here is pure Python (no pyspark, no deltalake), so both engines use it:

* Spark: :func:`lake.gold.answers.run_query` runs :func:`render_query` on Spark SQL over the
  ``gold.*`` views;
* delta-rs: :func:`lake.gold.fast.answer` runs the same text on DataFusion (deltalake's
  ``QueryBuilder``), each ``gold.<table>`` read as the table registered under its name.

Each answer is defined ONCE, by ``lake/gold/sql/<name>.sql``, in the SQL both engines share.
``as_of`` is turned into an exact UTC instant here, in Python, so neither engine reads a
local time: ``${as_of}`` and ``${window_start}`` (``as_of`` minus 24 elapsed hours) are
rendered as ``CAST('yyyy-MM-ddTHH:mm:ss.ffffffZ' AS TIMESTAMP)``.

Example:
    >>> "CAST('2019-10-02T03:00:00.000000Z' AS TIMESTAMP)" in render_query(
    ...     "contacts_24h", as_of="2019-10-02 00:00:00", timezone="America/Sao_Paulo")
    True
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lake.config import DEFAULT_TIMEZONE

#: Surrogate key of every "unknown" member row (customer, channel, agent, date).
UNKNOWN_KEY = -1

#: The three answers: command-line name -> SQL file (and function) name.
ANSWERS = {
    "contacts-24h": "contacts_24h",
    "interactions-by-channel": "interactions_by_channel",
    "last-interaction": "last_interaction",
}

#: Folder of the answer SQL files (shipped with the package).
SQL_DIR = Path(__file__).resolve().parent / "sql"

#: Output formats of :func:`render_rows`.
FORMATS = ("table", "csv", "json")

_GOLD_TABLE = re.compile(r"(?<![\w.`])gold\.([A-Za-z_][A-Za-z0-9_]*)")


def parse_as_of(as_of: str | _dt.datetime | None, timezone: str) -> _dt.datetime:
    """The ``as_of`` instant as an aware datetime: a string or naive datetime is read in
    ``timezone``; ``None`` means now.

    Example:
        >>> parse_as_of("2019-10-01 10:00:00", "America/Sao_Paulo").isoformat()
        '2019-10-01T10:00:00-03:00'
    """
    zone = ZoneInfo(timezone)
    if as_of is None:
        return _dt.datetime.now(_dt.timezone.utc).astimezone(zone)
    if isinstance(as_of, str):
        text = as_of.strip()
        for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
            try:
                as_of = _dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"as_of must look like 'yyyy-MM-dd HH:mm:ss'; found {text!r}")
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=zone)
    return as_of


def sql_timestamp(instant: _dt.datetime) -> str:
    """An aware instant as a SQL expression both Spark SQL and DataFusion read exactly.

    Example:
        >>> sql_timestamp(parse_as_of("2019-10-02 00:00:00", "America/Sao_Paulo"))
        "CAST('2019-10-02T03:00:00.000000Z' AS TIMESTAMP)"
    """
    utc = instant.astimezone(_dt.timezone.utc)
    return f"CAST('{utc.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z' AS TIMESTAMP)"


def query_text(name: str) -> str:
    """The raw text of ``lake/gold/sql/<name>.sql`` (``contacts_24h`` ...)."""
    if name not in ANSWERS.values():
        raise ValueError(f"answer must be one of {', '.join(ANSWERS.values())}; found {name!r}")
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def gold_tables(sql: str) -> list[str]:
    """The gold tables a query reads (``gold.<name>`` references), in first-use order."""
    return list(dict.fromkeys(_GOLD_TABLE.findall(sql)))


def render_query(
    name: str,
    *,
    as_of: str | _dt.datetime | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    tables: Mapping[str, str] | None = None,
) -> str:
    """The statement of answer ``name`` for ``as_of``, without its final ``;``.

    ``tables`` maps each ``gold.<name>`` reference to what an engine reads instead
    (DataFusion: the registered name; Spark: ``delta.`<path>```); by default the text keeps
    ``gold.<name>``, for Spark SQL over registered ``gold`` views.

    Example:
        >>> "gold.fact_interaction" in render_query("last_interaction", as_of="2019-10-02 00:00:00")
        True
    """
    at = parse_as_of(as_of, timezone)
    text = query_text(name)
    text = text.replace("${as_of}", sql_timestamp(at))
    text = text.replace("${window_start}", sql_timestamp(at - _dt.timedelta(hours=24)))
    if tables is not None:
        missing = [t for t in gold_tables(text) if t not in tables]
        if missing:
            raise ValueError(f"no table given for gold.{', gold.'.join(missing)}")
        text = _GOLD_TABLE.sub(lambda m: tables[m.group(1)], text)
    return text.strip().rstrip(";")


def format_timestamp(value: _dt.datetime | None, timezone: str) -> str | None:
    """An instant as ``yyyy-MM-dd HH:mm:ss`` in ``timezone`` (a naive value is UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def _sort_key(row: Sequence[Any]) -> tuple:
    # nulls first, as Spark's ascending order
    return tuple((v is not None, v if v is not None else 0) for v in row)


def render_rows(names: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str = "table") -> str:
    """Render an answer's rows (timestamps already text) as ``table``, ``csv`` or ``json``.

    Rows are sorted by every column (nulls first), so both engines print the same text.
    The text has no final line end, so ``print(render_rows(...))`` prints exactly it.

    Example:
        >>> print(render_rows(["customer_email", "contacts"], [("ana@x.com", 2)], "csv"))
        customer_email,contacts
        ana@x.com,2
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; found {fmt!r}")
    names = list(names)
    ordered = sorted((tuple(r) for r in rows), key=_sort_key)
    if fmt == "json":
        return json.dumps([dict(zip(names, r)) for r in ordered], ensure_ascii=False, default=str)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        for r in ordered:
            writer.writerow(["" if v is None else v for v in r])
        return buf.getvalue()[:-1]  # no final line end: callers print() it
    text = [["" if v is None else str(v) for v in r] for r in ordered]
    widths = [max([len(n)] + [len(t[i]) for t in text]) for i, n in enumerate(names)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(n.ljust(w) for n, w in zip(names, widths)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(t, widths)) + " |" for t in text]
    out.append(line)
    return "\n".join(out)
