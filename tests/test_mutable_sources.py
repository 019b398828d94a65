"""Mutable cooperative sources on real PostgreSQL and MariaDB: UPDATE and DELETE statements
at the source reach silver and ``movimento_flat.csv`` (docs/databases.md, "Updates and
deletes at the source").

A small cooperative is loaded and run through the cooperative pipeline; then a member is
renamed, a card is deleted (with its movimentos: the foreign keys demand it), a member
without accounts is deleted, an account changes type, a movimento's value is corrected late
and a new movimento arrives. The incremental rerun must give the silver tables and the CSV a
full run over the changed database gives (multisets), and the values the statements wrote.
"""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import functions as F

from lake import delta_io
from lake.bronze import ingest_table
from lake.config import ChangeDetection, ConfigError, JdbcConnection, load_config, parse_config
from lake.datagen.dbload import load_cooperative
from lake.paths import LakePaths
from lake.pipeline import run

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
TABLES = ("associado", "conta", "cartao", "movimento")
#: differ between two runs by design (run ids, clocks, bronze versions)
VOLATILE = {"_run_id", "_ingested_at", "_silver_run_id", "_bronze_run_id"}

ASSOCIADO = [(1, "Ana", "Silva", 34, "ana@x.com"), (2, "Bruno", "Costa", 41, "bruno@x.com"),
             (3, "Carla", "Lima", 29, None), (4, "Davi", "Rocha", 52, "davi@x.com")]
CONTA = [(10, "corrente", "2020-01-02 10:00:00", 1), (11, "poupanca", "2020-03-04 11:00:00", 1),
         (20, "corrente", "2021-05-06 12:00:00", 2), (30, "salario", "2022-07-08 13:00:00", 3)]
CARTAO = [(100, "4111111111111111", "ANA SILVA", "2020-01-05 09:00:00", 10, 1),
          (101, "5500000000000004", "ANA S", "2020-03-05 09:00:00", 11, 1),
          (200, "4000000000000002", "BRUNO COSTA", "2021-05-07 09:00:00", 20, 2),
          (300, "4242424242424242", "CARLA LIMA", "2022-07-09 09:00:00", 30, 3)]
MOVIMENTO = [(1000 + i, f"{10 + i}.{i:02d}", f"compra {i}", f"2023-01-{1 + i:02d} 08:00:00", card)
             for i, card in enumerate([100, 100, 101, 200, 200, 200, 300, 300, 101, 100])]
COLUMNS = {
    "associado": ["id", "nome", "sobrenome", "idade", "email"],
    "conta": ["id", "tipo", "data_criacao", "id_associado"],
    "cartao": ["id", "num_cartao", "nom_impresso", "data_criacao", "id_conta", "id_associado"],
    "movimento": ["id", "vlr_transacao", "des_transacao", "data_movimento", "id_cartao"],
}
#: The statements, in an order both databases' foreign keys accept.
CHANGES = [
    "UPDATE associado SET nome = 'Anabela' WHERE id = 1",
    "DELETE FROM movimento WHERE id_cartao = 200",
    "DELETE FROM cartao WHERE id = 200",
    "DELETE FROM associado WHERE id = 4",
    "UPDATE conta SET tipo = 'investimento' WHERE id = 11",
    "UPDATE movimento SET vlr_transacao = 99.99 WHERE id = 1001",
    "INSERT INTO movimento (id, vlr_transacao, des_transacao, data_movimento, id_cartao) "
    "VALUES (1010, 7.00, 'nova', '2023-02-01 08:00:00', 300)",
]


@pytest.fixture(params=["postgresql", "mariadb"])
def coop_db(request):
    db = request.getfixturevalue("fresh_pg_db" if request.param == "postgresql" else "fresh_mariadb_db")
    frames = {t: pd.DataFrame(rows, columns=COLUMNS[t])
              for t, rows in zip(TABLES, (ASSOCIADO, CONTA, CARTAO, MOVIMENTO))}
    load_cooperative(db.jdbc_url, frames, strict=True, user=db.user, password=db.password)
    return db


def _cfg(db, tmp_path: Path, name: str):
    cfg = load_config(CONF).with_overrides(root=str(tmp_path / name / "lake"), output_dir=str(tmp_path / name / "out"))
    return dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=db.jdbc_url, user=db.user,
                                                              password=db.password))


def _rows(df) -> Counter:
    """The rows as JSON (made by Spark), volatile columns left out: a multiset."""
    cols = sorted(c for c in df.columns if c not in VOLATILE)
    return Counter(r[0] for r in df.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in cols]))).collect())


def _csv(cfg) -> list[list[str]]:
    with open(Path(cfg.lake.output_dir) / cfg.export.file_name, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return [rows[0]] + sorted(rows[1:])


@pytest.mark.timeout(2400)  # three small pipeline runs; slow on a shared machine
def test_updates_and_deletes_reach_silver_and_the_csv(spark, tmp_path, coop_db):
    incremental = _cfg(coop_db, tmp_path, "incremental")
    first = run(incremental, pipeline="cooperative", spark=spark)
    assert first.reconciles

    conn = coop_db.python_connect()
    try:
        with conn.cursor() as cur:
            for statement in CHANGES:
                cur.execute(statement)
        conn.commit()
    finally:
        conn.close()

    second = run(incremental, pipeline="cooperative", spark=spark)
    assert second.reconciles, [c for c in second.counts if not c.reconciles]
    full = _cfg(coop_db, tmp_path, "full")
    run(full, pipeline="cooperative", spark=spark)

    inc_paths, full_paths = LakePaths(incremental.lake.root), LakePaths(full.lake.root)
    for table in TABLES:
        got = _rows(delta_io.read_table(spark, inc_paths.silver(table)))
        assert got == _rows(delta_io.read_table(spark, full_paths.silver(table))), table
    assert _csv(incremental) == _csv(full)

    # the values the statements wrote, computed from the test's own data
    silver = {t: delta_io.read_table(spark, inc_paths.silver(t)) for t in TABLES}
    assert sorted((r.id, r.nome) for r in silver["associado"].select("id", "nome").collect()) == [
        (1, "Anabela"), (2, "Bruno"), (3, "Carla")]
    assert sorted(r.id for r in silver["cartao"].select("id").collect()) == [100, 101, 300]
    assert dict(silver["conta"].select("id", "tipo").collect())[11] == "investimento"
    kept = [m for m in MOVIMENTO if m[4] != 200]
    expected = {m[0]: Decimal(m[1]) for m in kept} | {1001: Decimal("99.99"), 1010: Decimal("7.00")}
    assert dict(silver["movimento"].select("id", "vlr_transacao").collect()) == expected
    flat = _csv(incremental)
    per_member = Counter({"Anabela": sum(m[4] in (100, 101) for m in kept), "Carla": sum(m[4] == 300 for m in kept) + 1})
    assert Counter(r[0] for r in flat[1:]) == per_member  # Bruno's card and movimentos gone, Carla's new one in
    assert "99.99" in [r[3] for r in flat[1:]]

    # bronze kept every state: the deletions are rows with _op = 'delete' and NULL values
    bronze = delta_io.read_table(spark, inc_paths.bronze("cartao"))
    assert sorted(tuple(r) for r in bronze.where("_op = 'delete'").select("id", "num_cartao", "id_conta").collect()) == [
        (200, None, None)]
    assert bronze.count() == len(CARTAO) + 1

    # a snapshot rerun over an unchanged source adds nothing (a run killed after its bronze
    # commit converges the same way: no mark, the comparison finds nothing new)
    again = ingest_table(spark, incremental.sources["cartao"], incremental.jdbc, inc_paths, "again")
    assert (again.rows_in, again.rows_written, again.replayed) == (3, 0, 3), again


def test_change_column_rereads_updated_rows(spark, tmp_path, fresh_pg_db):
    """``change_detection: change_column``: an UPDATE that bumps ``updated_at`` is re-read
    and appended as the key's new state; a rerun adds nothing."""
    conn = fresh_pg_db.python_connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE membro (id integer PRIMARY KEY, nome text, updated_at timestamp NOT NULL)")
            cur.execute("INSERT INTO membro VALUES (1, 'a', '2024-01-01 00:00:01'), (2, 'b', '2024-01-01 00:00:02')")
    finally:
        conn.close()
    cfg = load_config(CONF)
    src = dataclasses.replace(cfg.sources["associado"], name="membro", table="membro", columns=("id", "nome", "updated_at"),
                              types={"id": "long", "updated_at": "timestamp_ntz"},
                              change_detection=ChangeDetection.CHANGE_COLUMN, change_column="updated_at")
    jdbc = JdbcConnection(url=fresh_pg_db.jdbc_url, user=fresh_pg_db.user, password=fresh_pg_db.password)
    paths = LakePaths(str(tmp_path / "lake"))
    assert ingest_table(spark, src, jdbc, paths, "r1").rows_written == 2
    conn = fresh_pg_db.python_connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE membro SET nome = 'a2', updated_at = '2024-01-02 00:00:00' WHERE id = 1")
    finally:
        conn.close()
    r2 = ingest_table(spark, src, jdbc, paths, "r2")
    assert (r2.rows_in, r2.rows_written, r2.watermark) == (1, 1, "2024-01-02 00:00:00")
    assert ingest_table(spark, src, jdbc, paths, "r3").rows_written == 0
    bronze = delta_io.read_table(spark, paths.bronze("membro"))
    # version 0 creates the empty table (column mapping + change feed), the rows land in 1, the UPDATE in 2
    assert sorted((r.id, r.nome, r._bronze_version) for r in bronze.collect()) == [(1, "a", 1), (1, "a2", 2), (2, "b", 1)]
    # independent check: the version Delta's own change feed gives each row's commit
    feed = (spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 0)
            .load(paths.bronze("membro")).where(F.col("_change_type") == "insert"))
    assert sorted((r.id, r.nome, r._commit_version, r._bronze_version) for r in feed.collect()) == [
        (1, "a", 1, 1), (1, "a2", 2, 2), (2, "b", 1, 1)]


def test_change_detection_config_is_checked():
    raw = {"jdbc": {"url": "jdbc:sqlite:x.db"}, "silver": {}, "sources": {
        "t": {"kind": "jdbc", "pipeline": "cooperative", "table": "t", "columns": ["id"], "change_detection": "snapshot"}}}
    assert parse_config(raw, "x.yml").sources["t"].mark_column is None
    for extra, key in [({"change_detection": "change_column"}, "sources.t.change_column"),
                       ({"change_column": "updated_at"}, "sources.t.change_column"),
                       ({"incremental_column": "id"}, "sources.t.incremental_column"),
                       ({"change_detection": "sometimes"}, "sources.t.change_detection")]:
        body = {**raw["sources"]["t"], **extra}
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            parse_config({**raw, "sources": {"t": body}}, "x.yml")
