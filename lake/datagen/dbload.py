"""Create the cooperative's source schema in a database and bulk-load rows into it.

The schema is the one of ``lake/datagen/sql/cooperative_<dialect>[_relaxed].sql``; this module
only picks the file and moves rows. Each database gets its fast path:

* PostgreSQL: ``COPY ... FROM STDIN`` in CSV (psycopg2 ``copy_expert``);
* MariaDB / MySQL: multi-row ``INSERT`` batches (pymysql ``executemany``) with foreign key
  checks off while loading; in strict mode the foreign keys are verified before commit;
* SQLite: ``executemany`` in one transaction with speed PRAGMAs.

Rows are given as pandas DataFrames with exactly the schema's columns. Amounts are
``decimal.Decimal`` or strings (a float amount is refused: money never passes through a
float), timestamps pandas datetimes. Credentials come from the arguments or from
``LAKE_JDBC_USER`` / ``LAKE_JDBC_PASSWORD``; the password is never logged.

Example:
    >>> load_cooperative("jdbc:sqlite:/tmp/coop.db", tables)  # doctest: +SKIP
    {'associado': 10, 'conta': 12, 'cartao': 15, 'movimento': 200}
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import logging
import math
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import parse_qsl

from lake.errors import SourceError
from lake.redaction import redact

if TYPE_CHECKING:  # pragma: no cover
    import pandas

logger = logging.getLogger(__name__)

#: The DDL files (package data: installed with the package, found next to this module).
SQL_DIR = Path(__file__).resolve().parent / "sql"

#: Tables in foreign-key order (parents first), each with its columns and their kinds.
SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "associado": (("id", "int"), ("nome", "str"), ("sobrenome", "str"), ("idade", "int"), ("email", "str")),
    "conta": (("id", "int"), ("tipo", "str"), ("data_criacao", "ts"), ("id_associado", "int")),
    "cartao": (
        ("id", "int"),
        ("num_cartao", "str"),
        ("nom_impresso", "str"),
        ("data_criacao", "ts"),
        ("id_conta", "int"),
        ("id_associado", "int"),
    ),
    "movimento": (
        ("id", "int"),
        ("vlr_transacao", "money"),
        ("des_transacao", "str"),
        ("data_movimento", "ts"),
        ("id_cartao", "int"),
    ),
}
TABLE_ORDER: tuple[str, ...] = tuple(SCHEMA)

_DDL_FILE = {"postgresql": "postgres", "mariadb": "mysql", "mysql": "mysql", "sqlite": "sqlite"}
_DEFAULT_PORT = {"postgresql": 5432, "mariadb": 3306, "mysql": 3306}
_MYSQL_BATCH = 5000
_COPY_CHUNK = 100_000

# Referential checks run before commit when MariaDB/MySQL loads with FK checks off.
_FK_CHECKS = (
    (
        "conta.id_associado -> associado.id",
        "SELECT COUNT(*) FROM conta c LEFT JOIN associado a ON a.id = c.id_associado WHERE a.id IS NULL",
    ),
    (
        "cartao.id_associado -> associado.id",
        "SELECT COUNT(*) FROM cartao k LEFT JOIN associado a ON a.id = k.id_associado WHERE a.id IS NULL",
    ),
    (
        "cartao(id_conta, id_associado) -> conta(id, id_associado)",
        "SELECT COUNT(*) FROM cartao k LEFT JOIN conta c "
        "ON c.id = k.id_conta AND c.id_associado = k.id_associado WHERE c.id IS NULL",
    ),
    (
        "movimento.id_cartao -> cartao.id",
        "SELECT COUNT(*) FROM movimento m LEFT JOIN cartao k ON k.id = m.id_cartao WHERE k.id IS NULL",
    ),
)


class JdbcTarget(NamedTuple):
    """A parsed JDBC URL: ``dialect`` is postgresql|mariadb|mysql|sqlite.

    For SQLite ``host`` and ``port`` are None and ``database`` is the file path.
    ``properties`` holds the URL's query parameters (``?user=...``).
    """

    dialect: str
    host: str | None
    port: int | None
    database: str
    properties: dict[str, str] = {}


_URL_RE = re.compile(
    r"^jdbc:(?P<dialect>postgresql|mariadb|mysql)://(?P<host>\[[^\]]+\]|[^:/?]+)"
    r"(?::(?P<port>\d+))?/(?P<db>[^?;]+)(?:[?;](?P<query>.*))?$"
)


def parse_jdbc_url(url: str) -> JdbcTarget:
    """Split a JDBC URL into (dialect, host, port, database or file path).

    Example:
        >>> tuple(parse_jdbc_url("jdbc:postgresql://127.0.0.1:55432/cooperative"))[:4]
        ('postgresql', '127.0.0.1', 55432, 'cooperative')
        >>> tuple(parse_jdbc_url("jdbc:sqlite:/tmp/coop.db"))[:4]
        ('sqlite', None, None, '/tmp/coop.db')
    """
    if url.startswith("jdbc:sqlite:"):
        path = url[len("jdbc:sqlite:") :]
        path, _, query = path.partition("?")
        if path.startswith("file:"):
            path = path[len("file:") :]
        if not path or path == ":memory:":
            raise SourceError(
                f"expected a SQLite file path in {url!r}; found none (in-memory is not loadable)"
            )
        return JdbcTarget("sqlite", None, None, path, dict(parse_qsl(query)))
    match = _URL_RE.match(url)
    if not match:
        raise SourceError(
            "expected a JDBC URL jdbc:postgresql://host[:port]/db, jdbc:mariadb://..., "
            f"jdbc:mysql://... or jdbc:sqlite:/path; found {redact(url)!r}"
        )
    dialect = match["dialect"]
    port = int(match["port"]) if match["port"] else _DEFAULT_PORT[dialect]
    query = (match["query"] or "").replace(";", "&")
    return JdbcTarget(dialect, match["host"].strip("[]"), port, match["db"], dict(parse_qsl(query)))


def ddl_path(dialect: str, *, strict: bool) -> Path:
    """Return the DDL file of a dialect: strict (constraints) or relaxed (primary keys only)."""
    name = _DDL_FILE[dialect]
    return SQL_DIR / f"cooperative_{name}{'' if strict else '_relaxed'}.sql"


def load_cooperative(
    target_url: str,
    tables: dict[str, pandas.DataFrame],
    *,
    user: str | None = None,
    password: str | None = None,
    strict: bool = False,
    replace: bool = True,
) -> dict[str, int]:
    """Create the cooperative schema at ``target_url`` and bulk-load ``tables`` into it.

    Args:
        target_url: JDBC URL of the database (``jdbc:sqlite:/path/file.db``,
            ``jdbc:postgresql://...``, ``jdbc:mariadb://...``, ``jdbc:mysql://...``).
        tables: ``associado|conta|cartao|movimento`` -> DataFrame with exactly the
            schema's columns. Tables may be omitted (loaded empty).
        user: database user (default ``$LAKE_JDBC_USER``).
        password: database password (default ``$LAKE_JDBC_PASSWORD``).
        strict: True creates the schema with its constraints (FKs, CHECKs, the
            same-member rule); False creates the relaxed variant (primary keys only) so
            dirty rows can be loaded on purpose.
        replace: True drops the four tables (and the PostgreSQL type) first and recreates
            them; False keeps an existing schema (creating it only where absent) and adds rows.

    Returns:
        Rows loaded per table.

    Raises:
        SourceError: bad URL, unknown table or columns, a float amount, missing
            credentials, or the database refused the rows (a constraint in strict mode).

    Example:
        >>> load_cooperative("jdbc:sqlite:/tmp/coop.db", tables, strict=True)  # doctest: +SKIP
    """
    unknown = set(tables) - set(SCHEMA)
    if unknown:
        raise SourceError(f"expected tables among {list(SCHEMA)}; found unknown {sorted(unknown)}")
    target = parse_jdbc_url(target_url)
    ordered = [(name, tables[name]) for name in TABLE_ORDER if name in tables]
    loader = _LOADERS[target.dialect]
    counts = loader(
        target, ordered, user=user, password=password, strict=strict, create=True, replace=replace
    )
    logger.info(
        "loaded cooperative into %s (%s, strict=%s): %s", _describe(target), target.dialect, strict, counts
    )
    return counts


def append_rows(
    target_url: str,
    table: str,
    df: pandas.DataFrame,
    *,
    user: str | None = None,
    password: str | None = None,
) -> int:
    """Add ``df``'s rows to an existing cooperative ``table`` (no DDL, nothing dropped).

    Used by incremental tests: new rows after a first ingestion. The table's own
    constraints apply (foreign key checks stay on).

    Example:
        >>> append_rows("jdbc:sqlite:/tmp/coop.db", "movimento", new_rows)  # doctest: +SKIP
        3
    """
    if table not in SCHEMA:
        raise SourceError(f"expected a table among {list(SCHEMA)}; found {table!r}")
    target = parse_jdbc_url(target_url)
    loader = _LOADERS[target.dialect]
    counts = loader(
        target, [(table, df)], user=user, password=password, strict=True, create=False, replace=False
    )
    logger.info("appended %s rows to %s in %s", counts[table], table, _describe(target))
    return counts[table]


# --------------------------------------------------------------------------- values


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NaT or value is pd.NA
    except ImportError:  # pragma: no cover
        return False


def _to_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise SourceError(f"{where}: expected an integer; found a boolean {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise SourceError(f"{where}: expected an integer; found {value!r}")
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise SourceError(f"{where}: expected an integer; found {value!r}") from exc


def _to_money(value: Any, where: str) -> str:
    if isinstance(value, float):
        raise SourceError(
            f"{where}: expected a decimal.Decimal or a string amount; found the float "
            f"{value!r} (money must not pass through a float)"
        )
    try:
        amount = decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation as exc:
        raise SourceError(f"{where}: expected a decimal amount; found {value!r}") from exc
    if not amount.is_finite():
        raise SourceError(f"{where}: expected a finite amount; found {value!r}")
    return format(amount, "f")


def _to_ts(value: Any, where: str, *, millis: bool) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):  # pandas.Timestamp is a datetime subclass
        if value.tzinfo is not None:
            raise SourceError(f"{where}: expected a naive (wall-clock) timestamp; found {value!r}")
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")
        return text[:-3] if millis else text
    if isinstance(value, dt.date):
        return _to_ts(dt.datetime.combine(value, dt.time()), where, millis=millis)
    raise SourceError(f"{where}: expected a timestamp; found {type(value).__name__} {value!r}")


def _rows(table: str, df: pandas.DataFrame, *, millis: bool = False) -> Iterator[tuple]:
    """Yield ``df``'s rows as tuples of database-ready Python values (None for nulls)."""
    columns = SCHEMA[table]
    names = [name for name, _ in columns]
    if sorted(map(str, df.columns)) != sorted(names):
        raise SourceError(f"{table}: expected columns {names}; found {list(map(str, df.columns))}")
    kinds = [kind for _, kind in columns]
    for ordinal, raw in enumerate(df[names].itertuples(index=False, name=None)):
        out: list[object] = []
        for name, kind, value in zip(names, kinds, raw):
            if _is_null(value):
                out.append(None)
                continue
            where = f"{table}.{name} (row {ordinal})"
            if kind == "int":
                out.append(_to_int(value, where))
            elif kind == "money":
                out.append(_to_money(value, where))
            elif kind == "ts":
                out.append(_to_ts(value, where, millis=millis))
            else:
                out.append(str(value))
        yield tuple(out)


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _sql_statements(path: Path) -> list[str]:
    """Split a DDL file into statements (the DDL files hold no ';' inside literals)."""
    text = "\n".join(
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


def _credentials(target: JdbcTarget, user: str | None, password: str | None) -> tuple[str, str | None]:
    user = user or target.properties.get("user") or os.environ.get("LAKE_JDBC_USER")
    if password is None:
        password = target.properties.get("password", os.environ.get("LAKE_JDBC_PASSWORD"))
    if not user:
        raise SourceError(
            f"{_describe(target)}: expected a database user (argument user= or LAKE_JDBC_USER); found none"
        )
    return user, password


def _describe(target: JdbcTarget) -> str:
    if target.dialect == "sqlite":
        return f"sqlite:{target.database}"
    return f"{target.dialect}://{target.host}:{target.port}/{target.database}"


# --------------------------------------------------------------------------- PostgreSQL


def _load_postgres(target, tables, *, user, password, strict, create, replace) -> dict[str, int]:
    import psycopg2

    user, password = _credentials(target, user, password)
    try:
        conn = psycopg2.connect(
            host=target.host,
            port=target.port,
            dbname=target.database,
            user=user,
            password=password,
            connect_timeout=15,
        )
    except psycopg2.Error as exc:
        raise SourceError(f"cannot connect to {_describe(target)} as {user}: {exc}".strip()) from exc
    counts: dict[str, int] = {}
    try:
        with conn, conn.cursor() as cur:  # one transaction: all or nothing
            if replace:
                cur.execute("DROP TABLE IF EXISTS movimento, cartao, conta, associado CASCADE")
                cur.execute("DROP TYPE IF EXISTS tipo_conta CASCADE")
            if create:
                cur.execute("SELECT to_regclass('associado') IS NOT NULL")
                if not cur.fetchone()[0]:
                    cur.execute(ddl_path("postgresql", strict=strict).read_text(encoding="utf-8"))
            for name, df in tables:
                columns = ", ".join(c for c, _ in SCHEMA[name])
                sql = f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv)"
                counts[name] = 0
                for chunk in _batches(_rows(name, df), _COPY_CHUNK):
                    cur.copy_expert(sql, _csv_buffer(chunk))
                    counts[name] += len(chunk)
    except psycopg2.Error as exc:
        raise SourceError(f"{_describe(target)}: load refused: {exc}".strip()) from exc
    finally:
        conn.close()
    return counts


def _csv_buffer(rows: Sequence[tuple]) -> io.StringIO:
    """CSV for COPY: NULL is an unquoted empty field, every value is quoted (so '' stays '')."""
    buf = io.StringIO()
    write = buf.write
    for row in rows:
        write(",".join("" if v is None else '"' + str(v).replace('"', '""') + '"' for v in row))
        write("\n")
    buf.seek(0)
    return buf


# --------------------------------------------------------------------------- MariaDB / MySQL


def _load_mysql(target, tables, *, user, password, strict, create, replace) -> dict[str, int]:
    import pymysql

    user, password = _credentials(target, user, password)
    try:
        conn = pymysql.connect(
            host=target.host,
            port=target.port,
            database=target.database,
            user=user,
            password=password or "",
            charset="utf8mb4",
            autocommit=False,
            connect_timeout=15,
        )
    except pymysql.Error as exc:
        raise SourceError(f"cannot connect to {_describe(target)} as {user}: {exc}") from exc
    bulk = create  # a full load turns FK checks off; append_rows keeps them on
    counts: dict[str, int] = {}
    try:
        with conn.cursor() as cur:
            if replace:
                cur.execute("SET FOREIGN_KEY_CHECKS = 0")
                cur.execute("DROP TABLE IF EXISTS movimento, cartao, conta, associado")
                cur.execute("SET FOREIGN_KEY_CHECKS = 1")
            if create:
                cur.execute("SHOW TABLES LIKE 'associado'")
                if cur.fetchone() is None:
                    for statement in _sql_statements(ddl_path(target.dialect, strict=strict)):
                        cur.execute(statement)
            if bulk:
                cur.execute("SET FOREIGN_KEY_CHECKS = 0")
                cur.execute("SET UNIQUE_CHECKS = 0")
            for name, df in tables:
                cols = [c for c, _ in SCHEMA[name]]
                sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
                counts[name] = 0
                for batch in _batches(_rows(name, df), _MYSQL_BATCH):
                    cur.executemany(sql, batch)  # pymysql sends one multi-row INSERT per batch
                    counts[name] += len(batch)
            if bulk:
                cur.execute("SET UNIQUE_CHECKS = 1")
                cur.execute("SET FOREIGN_KEY_CHECKS = 1")
                if strict:
                    _verify_foreign_keys(cur, target)
        conn.commit()
    except pymysql.Error as exc:
        conn.rollback()
        raise SourceError(f"{_describe(target)}: load refused: {exc}") from exc
    except SourceError:
        conn.rollback()
        raise
    finally:
        conn.close()
    return counts


def _verify_foreign_keys(cur, target: JdbcTarget) -> None:
    """Refuse rows that break a foreign key loaded while the checks were off."""
    broken = []
    for rule, sql in _FK_CHECKS:
        cur.execute(sql)
        n = cur.fetchone()[0]
        if n:
            broken.append(f"{rule}: {n} row(s)")
    if broken:
        raise SourceError(
            f"{_describe(target)}: load refused (strict schema): foreign keys broken: " + "; ".join(broken)
        )


# --------------------------------------------------------------------------- SQLite


def _load_sqlite(target, tables, *, user, password, strict, create, replace) -> dict[str, int]:
    path = Path(target.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            # Speed for a bulk load of generated data: no fsync, journal in memory.
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA journal_mode = MEMORY")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute("PRAGMA cache_size = -65536")
            # SQLite checks foreign keys only when asked, per connection. Relaxed schemas have
            # none; appends are checked against whatever the file declares.
            conn.execute(f"PRAGMA foreign_keys = {'ON' if strict else 'OFF'}")
            conn.execute("BEGIN")
            try:
                if replace:
                    for name in reversed(TABLE_ORDER):
                        conn.execute(f"DROP TABLE IF EXISTS {name}")
                if create:
                    exists = conn.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'associado'"
                    ).fetchone()
                    if not exists:
                        for statement in _sql_statements(ddl_path("sqlite", strict=strict)):
                            conn.execute(statement)
                for name, df in tables:
                    cols = [c for c, _ in SCHEMA[name]]
                    sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                    counts[name] = 0
                    for batch in _batches(_rows(name, df, millis=True), _COPY_CHUNK):
                        conn.executemany(sql, batch)
                        counts[name] += len(batch)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
    except sqlite3.Error as exc:
        raise SourceError(f"{_describe(target)}: load refused: {exc}") from exc
    return counts


_LOADERS = {
    "postgresql": _load_postgres,
    "mariadb": _load_mysql,
    "mysql": _load_mysql,
    "sqlite": _load_sqlite,
}
