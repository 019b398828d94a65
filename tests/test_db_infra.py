"""The real-database infrastructure: private servers, the cooperative DDL, the bulk loaders."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from lake.datagen import dbload
from lake.datagen.dbload import append_rows, load_cooperative, parse_jdbc_url
from lake.errors import SourceError

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- sample data


def _tables() -> dict[str, pd.DataFrame]:
    """Two members, three accounts, three cards, five transactions; consistent."""
    associado = pd.DataFrame({
        "id": [1, 2],
        "nome": ["Ana", "João"],
        "sobrenome": ["Souza", "D'Ávila \"Jr\""],  # quotes and accents survive CSV/COPY
        "idade": [34, None],
        "email": ["ana@example.com", ""],  # empty string is not NULL
    }).astype({"idade": "Int64"})
    conta = pd.DataFrame({
        "id": [10, 11, 20],
        "tipo": ["corrente", "poupanca", "investimento"],
        "data_criacao": pd.to_datetime(["2020-01-02 03:04:05", "2021-06-30 23:59:59",
                                        "2019-12-31 00:00:00"]),
        "id_associado": [1, 1, 2],
    })
    cartao = pd.DataFrame({
        "id": [100, 101, 200],
        "num_cartao": ["0012345678901234", "4111111111111111111", "5500000000000004"],
        "nom_impresso": ["ANA SOUZA", "ANA S", "JOAO D AVILA"],
        "data_criacao": pd.to_datetime(["2020-01-03 10:00:00.123", "2021-07-01 08:30:00.000",
                                        "2020-02-01 12:00:00.000"]),
        "id_conta": [10, 11, 20],
        "id_associado": [1, 1, 2],
    })
    movimento = pd.DataFrame({
        "id": [1000, 1001, 1002, 1003, 1004],
        "vlr_transacao": [Decimal("0.10"), Decimal("0.20"), "99999999.99", Decimal("-12.30"),
                          Decimal("1234.56")],
        "des_transacao": ["Padaria", "Mercado, centro", None, "Estorno", "Posto"],
        "data_movimento": pd.to_datetime(["2024-03-01 08:00:00", "2024-03-01 09:15:30",
                                          "2024-03-02 10:00:00", "2024-03-03 11:11:11",
                                          "2024-03-04 23:59:59"]),
        "id_cartao": [100, 100, 101, 200, 200],
    })
    return {"associado": associado, "conta": conta, "cartao": cartao, "movimento": movimento}


def _sqlite_url(tmp_path: Path) -> str:
    return f"jdbc:sqlite:{tmp_path / 'coop.db'}"


def _fetch(dialect: str, target, sql: str) -> list[tuple]:
    if dialect == "sqlite":
        with sqlite3.connect(target) as conn:
            return conn.execute(sql).fetchall()
    conn = target.python_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def _money(value) -> Decimal:
    """SQLite hands back a float for its NUMERIC storage; everything else a Decimal."""
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(Decimal("0.01"))
    return value


# --------------------------------------------------------------------------- servers


def test_scripts_print_the_jdbc_urls():
    for name, url in (("postgres", "jdbc:postgresql://127.0.0.1:55432/cooperative"),
                      ("mariadb", "jdbc:mariadb://127.0.0.1:53306/cooperative")):
        out = subprocess.run(["bash", str(REPO / "scripts" / "db" / f"{name}.sh"), "url"],
                             capture_output=True, text=True, check=True,
                             env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})
        assert out.stdout.strip() == url


def test_servers_accept_connections(postgres_server, mariadb_server):
    assert postgres_server.jdbc_url == "jdbc:postgresql://127.0.0.1:55432/cooperative"
    assert mariadb_server.jdbc_url == "jdbc:mariadb://127.0.0.1:53306/cooperative"
    assert _fetch("postgresql", postgres_server, "SELECT current_database(), current_user") == [
        ("cooperative", "lake")]
    assert _fetch("mariadb", mariadb_server, "SELECT DATABASE(), CURRENT_USER()") == [
        ("cooperative", "lake@127.0.0.1")]
    for scr in ("postgres", "mariadb"):
        status = subprocess.run(["bash", str(REPO / "scripts" / "db" / f"{scr}.sh"), "status"],
                                capture_output=True, text=True)
        assert status.returncode == 0 and status.stdout.startswith("running"), status


def test_fresh_databases_are_empty_and_separate(fresh_pg_db, fresh_mariadb_db):
    assert fresh_pg_db.database.startswith("lake_test_")
    assert _fetch("postgresql", fresh_pg_db,
                  "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'") == [(0,)]
    assert _fetch("mariadb", fresh_mariadb_db, "SHOW TABLES") == []


# --------------------------------------------------------------------------- DDL


def _apply_ddl(dialect: str, target, *, strict: bool) -> None:
    path = dbload.ddl_path(dialect, strict=strict)
    if dialect == "sqlite":
        with sqlite3.connect(target) as conn:
            conn.executescript(path.read_text())
        return
    conn = target.python_connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            if dialect == "postgresql":
                cur.execute(path.read_text())
            else:
                for statement in dbload._sql_statements(path):
                    cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def empty_db(request, tmp_path):
    """(dialect, target): a DbServer for the servers, a file path for SQLite."""
    if request.param == "postgresql":
        return "postgresql", request.getfixturevalue("fresh_pg_db")
    if request.param == "mariadb":
        return "mariadb", request.getfixturevalue("fresh_mariadb_db")
    return "sqlite", str(tmp_path / "coop.db")


def _exec(dialect: str, target, statements: list[str]) -> None:
    """Run statements in one transaction (SQLite with foreign keys enforced)."""
    if dialect == "sqlite":
        conn = sqlite3.connect(target, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN")
            for s in statements:
                conn.execute(s)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    conn = target.python_connect()
    try:
        with conn.cursor() as cur:
            for s in statements:
                cur.execute(s)
        conn.commit()
    finally:
        conn.close()


_PARENTS = [
    "INSERT INTO associado (id, nome, sobrenome, idade, email) VALUES (1, 'Ana', 'Souza', 30, 'a@x.org')",
    "INSERT INTO associado (id, nome, sobrenome, idade, email) VALUES (2, 'Bia', 'Lima', 40, 'b@x.org')",
    "INSERT INTO conta (id, tipo, data_criacao, id_associado) VALUES (10, 'corrente', '2020-01-01 00:00:00.000', 1)",
]


def _card(num: str, member: int, card_id: int = 100) -> str:
    return ("INSERT INTO cartao (id, num_cartao, nom_impresso, data_criacao, id_conta, id_associado) "
            f"VALUES ({card_id}, '{num}', 'X', '2020-01-02 00:00:00.000', 10, {member})")


def _db_errors():
    import psycopg2
    import pymysql

    return (sqlite3.Error, psycopg2.Error, pymysql.Error)


def test_strict_ddl_applies_and_accepts_consistent_rows(empty_db):
    dialect, target = empty_db
    _apply_ddl(dialect, target, strict=True)
    _exec(dialect, target, _PARENTS + [_card("1234567890123", 1),
          "INSERT INTO movimento (id, vlr_transacao, des_transacao, data_movimento, id_cartao) "
          "VALUES (1, 10.05, 'x', '2024-01-01 00:00:00.000', 100)"])
    assert _fetch(dialect, target, "SELECT num_cartao, id_associado FROM cartao") == [("1234567890123", 1)]


@pytest.mark.parametrize("bad", [
    pytest.param(_card("1234567890123", 2), id="card-member-differs-from-account-member"),
    pytest.param(_card("12345678901A3", 1), id="non-digit-card-number"),
    pytest.param(_card("123456789012", 1), id="card-number-too-short"),
    pytest.param("INSERT INTO movimento (id, vlr_transacao, des_transacao, data_movimento, id_cartao) "
                 "VALUES (1, 1.00, 'x', '2024-01-01 00:00:00.000', 999)", id="orphan-movimento"),
    pytest.param("INSERT INTO conta (id, tipo, data_criacao, id_associado) "
                 "VALUES (11, 'credito', '2020-01-01 00:00:00.000', 1)", id="unknown-tipo-conta"),
])
def test_strict_ddl_rejects(empty_db, bad):
    dialect, target = empty_db
    _apply_ddl(dialect, target, strict=True)
    _exec(dialect, target, _PARENTS)
    with pytest.raises(_db_errors()):
        _exec(dialect, target, [bad])
    assert _fetch(dialect, target, "SELECT count(*) FROM cartao")[0][0] == 0


def test_relaxed_ddl_accepts_dirty_rows(empty_db):
    dialect, target = empty_db
    _apply_ddl(dialect, target, strict=False)
    _exec(dialect, target, _PARENTS + [
        _card("1234567890123", 2, card_id=100),  # member differs from the account's
        _card("12345678901A3", 1, card_id=101),  # not digits
        "INSERT INTO movimento (id, vlr_transacao, des_transacao, data_movimento, id_cartao) "
        "VALUES (1, 1.00, 'x', '2024-01-01 00:00:00.000', 999)",  # orphan
    ])
    assert _fetch(dialect, target, "SELECT count(*) FROM cartao")[0][0] == 2
    assert _fetch(dialect, target, "SELECT count(*) FROM movimento")[0][0] == 1


def test_ddl_files_share_table_and_column_names():
    """Six files, one schema: every file declares the four tables with the loader's columns."""
    import re

    for dialect in ("postgresql", "mariadb", "sqlite"):
        for strict in (True, False):
            text = dbload.ddl_path(dialect, strict=strict).read_text()
            for table, columns in dbload.SCHEMA.items():
                body = re.search(rf"CREATE TABLE {table} \((.*?)\n\)", text, re.S)
                assert body, (dialect, strict, table)
                declared = [m.group(1) for m in re.finditer(r"^\s{4}([a-z_]+)\s", body.group(1), re.M)]
                assert declared == [c for c, _ in columns], (dialect, strict, table, declared)


# --------------------------------------------------------------------------- loaders


def test_parse_jdbc_url():
    assert tuple(parse_jdbc_url("jdbc:postgresql://127.0.0.1:55432/cooperative"))[:4] == (
        "postgresql", "127.0.0.1", 55432, "cooperative")
    assert tuple(parse_jdbc_url("jdbc:mariadb://db.local/coop?useSSL=false"))[:4] == (
        "mariadb", "db.local", 3306, "coop")
    assert tuple(parse_jdbc_url("jdbc:mysql://h:3307/c"))[:4] == ("mysql", "h", 3307, "c")
    assert tuple(parse_jdbc_url("jdbc:mysql://h:3307/c?permitMysqlScheme"))[:4] == ("mysql", "h", 3307, "c")
    assert tuple(parse_jdbc_url("jdbc:postgresql://h/c"))[:4] == ("postgresql", "h", 5432, "c")
    assert tuple(parse_jdbc_url("jdbc:sqlite:/tmp/a b/coop.db"))[:4] == (
        "sqlite", None, None, "/tmp/a b/coop.db")
    with pytest.raises(SourceError, match="password=\\*\\*\\*"):
        parse_jdbc_url("jdbc:oracle://h/c?password=s3cret")


@pytest.fixture(params=["postgresql", "mariadb", "sqlite"])
def load_target(request, tmp_path):
    """(dialect, jdbc url, credentials kwargs, fetch target)."""
    if request.param == "sqlite":
        path = tmp_path / "coop.db"
        return "sqlite", f"jdbc:sqlite:{path}", {}, str(path)
    db = request.getfixturevalue("fresh_pg_db" if request.param == "postgresql" else "fresh_mariadb_db")
    return request.param, db.jdbc_url, {"user": db.user, "password": db.password}, db


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "relaxed"])
def test_load_round_trips(load_target, strict):
    dialect, url, creds, target = load_target
    counts = load_cooperative(url, _tables(), strict=strict, **creds)
    assert counts == {"associado": 2, "conta": 3, "cartao": 3, "movimento": 5}
    for table, n in counts.items():
        assert _fetch(dialect, target, f"SELECT count(*) FROM {table}")[0][0] == n

    amounts = dict(_fetch(dialect, target, "SELECT id, vlr_transacao FROM movimento"))
    got = {k: _money(v) for k, v in amounts.items()}
    assert got == {1000: Decimal("0.10"), 1001: Decimal("0.20"), 1002: Decimal("99999999.99"),
                   1003: Decimal("-12.30"), 1004: Decimal("1234.56")}
    total = _money(_fetch(dialect, target, "SELECT sum(vlr_transacao) FROM movimento WHERE id IN (1000, 1001)")[0][0])
    assert total == Decimal("0.30")

    assert _fetch(dialect, target, "SELECT nome, sobrenome, idade, email FROM associado ORDER BY id") == [
        ("Ana", "Souza", 34, "ana@example.com"), ("João", "D'Ávila \"Jr\"", None, "")]
    assert _fetch(dialect, target, "SELECT num_cartao FROM cartao WHERE id = 100") == [("0012345678901234",)]
    assert _fetch(dialect, target, "SELECT des_transacao FROM movimento WHERE id = 1002") == [(None,)]
    (ts,) = _fetch(dialect, target, "SELECT data_criacao FROM cartao WHERE id = 100")[0]
    if dialect == "sqlite":
        assert ts == "2020-01-03 10:00:00.123"
    else:
        assert ts == dt.datetime(2020, 1, 3, 10, 0, 0, 123000)
    assert _fetch(dialect, target, "SELECT tipo FROM conta WHERE id = 11") == [("poupanca",)]


def test_replace_reloads_and_strict_load_refuses_inconsistent_card(load_target):
    dialect, url, creds, target = load_target
    load_cooperative(url, _tables(), strict=False, **creds)
    dirty = _tables()
    dirty["cartao"].loc[dirty["cartao"]["id"] == 200, "id_associado"] = 1  # account 20 is member 2's
    # relaxed accepts it (replace drops and recreates)
    assert load_cooperative(url, dirty, strict=False, **creds)["cartao"] == 3
    with pytest.raises(SourceError, match="refused"):
        load_cooperative(url, dirty, strict=True, **creds)


def test_append_rows(load_target):
    dialect, url, creds, target = load_target
    load_cooperative(url, _tables(), strict=True, **creds)
    new = pd.DataFrame({
        "id": [1005, 1006],
        "vlr_transacao": ["7.77", Decimal("0.01")],
        "des_transacao": ["Farmácia", "Tarifa"],
        "data_movimento": pd.to_datetime(["2024-03-05 07:00:00", "2024-03-05 07:00:01"]),
        "id_cartao": [101, 200],
    })
    assert append_rows(url, "movimento", new, **creds) == 2
    assert _fetch(dialect, target, "SELECT count(*) FROM movimento")[0][0] == 7
    assert _money(_fetch(dialect, target, "SELECT vlr_transacao FROM movimento WHERE id = 1005")[0][0]) == Decimal("7.77")
    assert _fetch(dialect, target, "SELECT des_transacao FROM movimento WHERE id = 1005") == [("Farmácia",)]


def test_loader_refuses_float_amounts_and_wrong_columns(tmp_path):
    url = _sqlite_url(tmp_path)
    tables = _tables()
    tables["movimento"]["vlr_transacao"] = [0.1, 0.2, 3.0, 4.0, 5.0]
    with pytest.raises(SourceError, match="float"):
        load_cooperative(url, tables)
    tables = _tables()
    tables["associado"] = tables["associado"].rename(columns={"email": "e_mail"})
    with pytest.raises(SourceError, match="expected columns"):
        load_cooperative(url, tables)


def test_loader_needs_a_user_and_never_shows_the_password(fresh_pg_db, monkeypatch):
    monkeypatch.delenv("LAKE_JDBC_USER", raising=False)
    with pytest.raises(SourceError, match="user"):
        load_cooperative(fresh_pg_db.jdbc_url, _tables(), password="x")
    with pytest.raises(SourceError) as info:
        load_cooperative(fresh_pg_db.jdbc_url, _tables(), user="lake", password="wrong-Secret-42")
    assert "wrong-Secret-42" not in str(info.value)


def test_loader_reads_credentials_from_env(fresh_mariadb_db, monkeypatch):
    monkeypatch.setenv("LAKE_JDBC_USER", fresh_mariadb_db.user)
    monkeypatch.setenv("LAKE_JDBC_PASSWORD", fresh_mariadb_db.password)
    # the Spark-side URL (jdbc:mysql + permitMysqlScheme) is accepted too
    assert load_cooperative(fresh_mariadb_db.spark_jdbc_url, _tables(), strict=True)["movimento"] == 5
