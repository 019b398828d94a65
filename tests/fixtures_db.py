"""Real PostgreSQL and MariaDB servers for the JDBC tests (see scripts/db/).

Session fixtures ``postgres_server`` and ``mariadb_server`` make sure the private server of
``scripts/db/<name>.sh`` runs (starting it if needed, and then stopping it at session end;
a server that was already running is left running) and yield a :class:`DbServer` for the
database ``cooperative``. Function fixtures ``fresh_pg_db`` and ``fresh_mariadb_db`` create a
uniquely named empty database, yield a :class:`DbServer` for it, and drop it afterwards.

Set ``LAKE_KEEP_DB_SERVERS=1`` to leave servers this session started running at its end.
A server that cannot be started FAILS the test (never skips it): tests against real
databases are required. Password: ``$LAKE_DB_PASSWORD`` (default ``lake``), the same the
scripts use.
"""

from __future__ import annotations

import contextlib

import dataclasses
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DB_SCRIPTS = REPO_ROOT / "scripts" / "db"


@dataclasses.dataclass(frozen=True)
class DbServer:
    """Where and how to reach one database of a test server.

    Attributes:
        dialect: ``postgresql`` or ``mariadb``.
        jdbc_url: e.g. ``jdbc:postgresql://127.0.0.1:55432/cooperative``.
        driver: the JDBC driver class for Spark's ``driver`` option.
    """

    dialect: str
    host: str
    port: int
    database: str
    user: str
    password: str = dataclasses.field(repr=False)

    @property
    def jdbc_url(self) -> str:
        return f"jdbc:{self.dialect}://{self.host}:{self.port}/{self.database}"

    @property
    def spark_jdbc_url(self) -> str:
        """The URL to give Spark's JDBC reader.

        Spark picks its MySQL dialect (backtick quoting, MySQL types) only for ``jdbc:mysql:``
        URLs; with ``jdbc:mariadb:`` it quotes columns with double quotes, which MariaDB reads
        as string literals ("value 'id' cannot be decoded as Integer"). MariaDB Connector/J
        accepts the mysql scheme with ``permitMysqlScheme``.
        """
        if self.dialect == "mariadb":
            return f"jdbc:mysql://{self.host}:{self.port}/{self.database}?permitMysqlScheme"
        return self.jdbc_url

    @property
    def driver(self) -> str:
        return "org.postgresql.Driver" if self.dialect == "postgresql" else "org.mariadb.jdbc.Driver"

    @property
    def jdbc_properties(self) -> dict[str, str]:
        """``user``, ``password`` and ``driver``, as Spark's JDBC reader takes them."""
        return {"user": self.user, "password": self.password, "driver": self.driver}

    def with_database(self, database: str) -> "DbServer":
        return dataclasses.replace(self, database=database)

    def python_connect(self, *, autocommit: bool = False) -> Any:
        """Open a DB-API connection (psycopg2 or pymysql) to this database."""
        if self.dialect == "postgresql":
            import psycopg2

            conn = psycopg2.connect(host=self.host, port=self.port, dbname=self.database,
                                    user=self.user, password=self.password, connect_timeout=10)
            conn.autocommit = autocommit
            return conn
        import pymysql

        return pymysql.connect(host=self.host, port=self.port, database=self.database,
                               user=self.user, password=self.password, charset="utf8mb4",
                               autocommit=autocommit, connect_timeout=10)


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DB_SCRIPTS / f"{name}.sh"), *args],
                          capture_output=True, text=True, timeout=180, check=False)


def _running_server(name: str, dialect: str, port_env: str, default_port: int) -> Iterator[DbServer]:
    already = _script(name, "status").returncode == 0
    started = _script(name, "start")
    if started.returncode != 0:
        pytest.fail(f"could not start the {name} test server (scripts/db/{name}.sh start, "
                    f"exit {started.returncode}):\n{started.stdout}\n{started.stderr}", pytrace=False)
    server = DbServer(
        dialect=dialect,
        host="127.0.0.1",
        port=int(os.environ.get(port_env, default_port)),
        database="cooperative",
        user="lake",
        password=os.environ.get("LAKE_DB_PASSWORD", "lake"),
    )
    try:
        yield server
    finally:
        # LAKE_KEEP_DB_SERVERS=1 leaves them up (e.g. several pytest runs sharing them).
        if not already and not os.environ.get("LAKE_KEEP_DB_SERVERS"):
            _script(name, "stop")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[DbServer]:
    """The private PostgreSQL server (scripts/db/postgres.sh), database ``cooperative``."""
    yield from _running_server("postgres", "postgresql", "PG_PORT", 55432)


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[DbServer]:
    """The private MariaDB server (scripts/db/mariadb.sh), database ``cooperative``."""
    yield from _running_server("mariadb", "mariadb", "MARIADB_PORT", 53306)


def _fresh_name() -> str:
    return f"lake_test_{uuid.uuid4().hex[:12]}"


def _execute_admin(server: DbServer, sql: str) -> None:
    admin = server.python_connect(autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute(sql)
    finally:
        admin.close()


@contextlib.contextmanager
def _temporary_database(server: DbServer, create_sql: str, drop_sql: str) -> Iterator[DbServer]:
    """A uniquely named empty database on ``server`` (``{name}`` in the SQL), dropped afterwards."""
    name = _fresh_name()
    _execute_admin(server, create_sql.format(name=name))
    try:
        yield server.with_database(name)
    finally:
        _execute_admin(server, drop_sql.format(name=name))


@pytest.fixture()
def fresh_pg_db(postgres_server: DbServer) -> Iterator[DbServer]:
    """A new empty PostgreSQL database for one test, dropped afterwards."""
    with _temporary_database(postgres_server, 'CREATE DATABASE "{name}"',
                             'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)') as db:
        yield db


@pytest.fixture()
def fresh_mariadb_db(mariadb_server: DbServer) -> Iterator[DbServer]:
    """A new empty MariaDB database for one test, dropped afterwards."""
    with _temporary_database(mariadb_server,
                             "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                             "DROP DATABASE IF EXISTS `{name}`") as db:
        yield db
