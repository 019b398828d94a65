"""Bronze JDBC ingestion against SQLite, real PostgreSQL and real MariaDB.

Partitioned reads, incremental high-water marks, full reload, and the failure modes
(missing table, wrong password, database down) that must write nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from pyspark.sql import functions as F

from lake import delta_io
from lake.bronze import ingest_table
from lake.bronze.common import read_watermark
from lake.bronze.jdbc import discover_bounds, normalise_url, read_slice
from lake.redaction import redact
from lake.config import ChangeDetection, JdbcConnection, JdbcSource, Pipeline, load_config
from lake.datagen.dbload import append_rows, load_cooperative
from lake.errors import SourceError
from lake.paths import LakePaths

COLS = ["id", "vlr_transacao", "des_transacao", "data_movimento", "id_cartao"]


def _movimento(ids) -> pd.DataFrame:
    rows = []
    for i in ids:
        rows.append({
            "id": i,
            "vlr_transacao": Decimal(f"{(i * 7919) % 100000}.{i % 100:02d}") if i % 5 else Decimal("0.10"),
            "des_transacao": f"compra {i} — loja ç",
            "data_movimento": f"2024-01-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:07",
            "id_cartao": 1000 + i % 3,
        })
    return pd.DataFrame(rows, columns=COLS)


def _expected(df: pd.DataFrame) -> list[tuple]:
    return sorted((int(r.id), Decimal(r.vlr_transacao).quantize(Decimal("0.01")), r.des_transacao,
                   r.data_movimento, int(r.id_cartao)) for r in df.itertuples())


def _bronze(spark, paths):
    df = delta_io.read_table(spark, paths.bronze("movimento"))
    return df, sorted(tuple(r) for r in df.select(
        "id", "vlr_transacao", "des_transacao", F.col("data_movimento").cast("string"),  # naive: its own text, no zone
        "id_cartao").collect())


def _source() -> JdbcSource:
    """movimento read the insert-only way: new ids after the mark (conf/lake.yml snapshots it)."""
    src = load_config("conf/lake.yml").sources["movimento"]
    return dataclasses.replace(src, num_partitions=4, change_detection=ChangeDetection.APPEND, incremental_column="id")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request, tmp_path):
    """(load url, JdbcConnection) for an empty database of each kind."""
    if request.param == "sqlite":
        url = f"jdbc:sqlite:{tmp_path / 'coop.db'}"
        yield url, JdbcConnection(url=url), {}
    else:
        db = request.getfixturevalue("fresh_pg_db" if request.param == "postgresql" else "fresh_mariadb_db")
        creds = {"user": db.user, "password": db.password}
        yield db.jdbc_url, JdbcConnection(url=db.jdbc_url, **creds), creds


def test_partitioned_incremental_full_reload_and_failures(spark, lake_root, database):
    url, conn, creds = database
    first = _movimento(range(1, 41))
    load_cooperative(url, {"movimento": first}, strict=False, **creds)
    paths = LakePaths(lake_root)
    src = _source()

    # partitioned read: bounds discovered, four slices
    bounds = discover_bounds(spark, src, conn)
    assert (bounds.lo, bounds.hi, bounds.count, bounds.mark) == (1, 40, 40, "40")
    assert read_slice(spark, src, conn, bounds).rdd.getNumPartitions() == 4

    r1 = ingest_table(spark, src, conn, paths, "r1")
    assert (r1.rows_in, r1.rows_written, r1.partitions, r1.watermark) == (40, 40, 4, "40")
    df, got = _bronze(spark, paths)
    assert got == _expected(first)
    assert dict(df.dtypes)["vlr_transacao"] == "decimal(10,2)" and dict(df.dtypes)["data_movimento"] == "timestamp_ntz"
    assert df.columns == [*COLS, "_row_id", "_source_table", "_ingested_at", "_run_id", "_op", "_bronze_version"]
    import hashlib
    assert {r["_row_id"] for r in df.collect()} == {hashlib.sha256(f"movimento|{i}".encode()).hexdigest() for i in range(1, 41)}
    assert read_watermark(spark, paths, "movimento") == "40"

    # incremental: only the new rows are read
    second = _movimento(range(41, 46))
    append_rows(url, "movimento", second, **creds)
    r2 = ingest_table(spark, src, conn, paths, "r2")
    assert (r2.rows_in, r2.rows_written, r2.watermark) == (5, 5, "45")
    df, got = _bronze(spark, paths)
    assert got == _expected(pd.concat([first, second]))
    assert sorted(tuple(r) for r in df.groupBy("_run_id").count().collect()) == [("r1", 40), ("r2", 5)]
    r3 = ingest_table(spark, src, conn, paths, "r3")
    assert (r3.rows_in, r3.rows_written, r3.watermark) == (0, 0, "45")

    # failures: one SourceError naming the source, bronze and watermark untouched
    version = delta_io.table_version(spark, paths.bronze("movimento"))
    bad = [(dataclasses.replace(src, table="nao_existe"), conn)]
    if creds:
        bad.append((src, dataclasses.replace(conn, password="wrong-password")))
        down = conn.url.replace(conn.url.split("//")[1].split("/")[0], "127.0.0.1:9")
        bad.append((src, dataclasses.replace(conn, url=down)))
    else:
        bad.append((src, JdbcConnection(url=f"jdbc:sqlite:{lake_root}/no/such/dir/coop.db")))
    for s, c in bad:
        with pytest.raises(SourceError) as err:
            ingest_table(spark, s, c, paths, "r-bad")
        message = str(err.value)
        assert "'movimento'" in message and "wrong-password" not in message
        assert redact(c.url) in message
    assert delta_io.table_version(spark, paths.bronze("movimento")) == version
    assert read_watermark(spark, paths, "movimento") == "45"

    # full reload replaces bronze with everything in the table now
    r4 = ingest_table(spark, src, conn, paths, "r4", full_reload=True)
    assert (r4.rows_in, r4.rows_written, r4.watermark) == (45, 45, "45")
    df, got = _bronze(spark, paths)
    assert got == _expected(pd.concat([first, second]))
    assert [tuple(r) for r in df.groupBy("_run_id").count().collect()] == [("r4", 45)]


def test_sqlite_timestamp_watermark_and_replay_after_kill(spark, lake_root, tmp_path):
    """A timestamp high-water mark; a slice committed but not marked (killed) is not re-added."""
    url = f"jdbc:sqlite:{tmp_path / 'coop.db'}"
    first = _movimento(range(1, 11))
    first["data_movimento"] = [f"2024-02-01 10:00:{i:02d}.000" for i in range(1, 11)]
    load_cooperative(url, {"movimento": first}, strict=False)
    src = dataclasses.replace(_source(), incremental_column="data_movimento", num_partitions=2)
    conn = JdbcConnection(url=url)
    paths = LakePaths(lake_root)
    r1 = ingest_table(spark, src, conn, paths, "r1")
    assert (r1.rows_written, r1.partitions, r1.watermark) == (10, 2, "2024-02-01 10:00:10.000")
    second = _movimento(range(11, 14))
    second["data_movimento"] = [f"2024-02-01 10:00:{i:02d}.000" for i in range(11, 14)]
    append_rows(url, "movimento", second)
    # simulate a run killed after its bronze commit: drop the mark it would have written
    from delta.tables import DeltaTable
    r2 = ingest_table(spark, src, conn, paths, "r2")
    assert (r2.rows_in, r2.rows_written) == (3, 3)
    DeltaTable.forPath(spark, paths.system("watermarks")).delete("run_id = 'r2'")
    r3 = ingest_table(spark, src, conn, paths, "r3")
    # the 3 rows are read again (rows_in), recognised as already in bronze (replayed), not written
    assert (r3.rows_in, r3.rows_written, r3.replayed, r3.watermark) == (3, 0, 3, "2024-02-01 10:00:13.000")
    assert r1.reconciles and r2.reconciles and r3.reconciles
    df = delta_io.read_table(spark, paths.bronze("movimento"))
    assert df.count() == 13 and df.select("id").distinct().count() == 13


def test_url_helpers():
    assert normalise_url("jdbc:mariadb://h:1/db") == "jdbc:mysql://h:1/db?permitMysqlScheme"
    assert normalise_url("jdbc:mysql://h:1/db?a=b") == "jdbc:mysql://h:1/db?a=b&permitMysqlScheme"
    assert redact("jdbc:postgresql://h/db?user=u&password=s3cret") == "jdbc:postgresql://h/db?user=u&password=***"
    assert "s3cret" not in redact("jdbc:mysql://u:s3cret@h/db")
    assert repr(JdbcConnection(url="jdbc:x", user="u", password="s3cret")).count("s3cret") == 0
