"""The cooperative pipeline end to end on SQLite, real PostgreSQL and real MariaDB: naive
source timestamps and free text reach ``movimento_flat.csv`` exactly as the database holds
them.

São Paulo's clocks jumped from 00:00 to 01:00 on 2018-11-04 (``00:23:54`` never happened
there) and went back from 00:00 to 23:00 on 2019-02-17 (``2019-02-16 23:30:00`` happened
twice). The session (and the JVM, ``lake.session``) run in that zone, the hardest case: any
step that reads a naive value in a zone moves the gap value an hour later.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from lake import delta_io
from lake.config import load_config
from lake.datagen.dbload import load_cooperative
from lake.paths import LakePaths
from lake.pipeline import run

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"

GAP = "2018-11-04 00:23:54"
OVERLAP = "2019-02-16 23:30:00"
ORDINARY = "2019-10-01 10:11:12"

ASSOCIADO = [(1, "Ana", "Maria  da\u00a0Silva", 34, "ana@x.com")]
CONTA = [(10, "corrente", GAP, 1), (11, "poupanca", OVERLAP, 1)]
CARTAO = [
    (100, "4111111111111111", "ANA M SILVA", OVERLAP, 10, 1),
    (101, "5500000000000004", " ANA  POUP ", GAP, 11, 1),
]
MOVIMENTO = [
    (1000, "10.50", "linha 1\nlinha 2\rfim", GAP, 100),
    (1001, "0.01", "Estorno\r\nlinha 2, \"com aspas\"", OVERLAP, 101),
    (1002, "1234.00", "  compra   comum  ", ORDINARY, 100),
]
COLUMNS = {
    "associado": ["id", "nome", "sobrenome", "idade", "email"],
    "conta": ["id", "tipo", "data_criacao", "id_associado"],
    "cartao": ["id", "num_cartao", "nom_impresso", "data_criacao", "id_conta", "id_associado"],
    "movimento": ["id", "vlr_transacao", "des_transacao", "data_movimento", "id_cartao"],
}


def expected_csv_rows() -> list[list[str]]:
    """The flat file computed in plain Python from the rows inserted above."""
    conta = {c[0]: c for c in CONTA}
    cartao = {c[0]: c for c in CARTAO}
    (member,) = ASSOCIADO
    out = []
    for _id, amount, description, when, card_id in MOVIMENTO:
        card = cartao[card_id]
        account = conta[card[4]]
        out.append([
            member[1],
            "Maria da Silva",            # a name: whitespace single_line in conf/lake.yml
            str(member[3]),
            amount,
            description.strip(),         # free text: trimmed only, line breaks and inner runs kept
            when,
            card[1],
            " ".join(card[2].split()),   # a name
            card[3],
            account[1],
            account[2],
        ])
    return sorted(out)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def source_db(request, tmp_path):
    """(JDBC URL, credentials) of a database of each kind holding the rows above."""
    if request.param == "sqlite":
        url, creds = f"jdbc:sqlite:{tmp_path / 'coop.db'}", {}
    else:
        db = request.getfixturevalue("fresh_pg_db" if request.param == "postgresql" else "fresh_mariadb_db")
        url, creds = db.jdbc_url, {"user": db.user, "password": db.password}
    rows = {"associado": ASSOCIADO, "conta": CONTA, "cartao": CARTAO, "movimento": MOVIMENTO}
    load_cooperative(url, {t: pd.DataFrame(r, columns=COLUMNS[t]) for t, r in rows.items()}, strict=True, **creds)
    return url, creds


def test_naive_timestamps_and_line_breaks_reach_the_csv_exactly(spark, tmp_path, source_db):
    url, creds = source_db
    cfg = load_config(CONF).with_overrides(root=str(tmp_path / "lake"), output_dir=str(tmp_path / "out"))
    cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(
        cfg.jdbc, url=url, user=creds.get("user"), password=creds.get("password")))
    assert cfg.lake.timezone == "America/Sao_Paulo"

    report = run(cfg, pipeline="cooperative", spark=spark)

    with open(tmp_path / "out" / "movimento_flat.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][5] == "data_movimento" and rows[0][8] == "data_criacao_cartao"
    assert sorted(rows[1:]) == expected_csv_rows()

    # naive in bronze and silver too: the typed value is the inserted wall-clock value
    paths = LakePaths(cfg.lake.root)
    naive = {text: dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S") for text in (GAP, OVERLAP, ORDINARY)}
    for layer in (paths.bronze, paths.silver):
        df = delta_io.read_table(spark, layer("movimento"))
        assert dict(df.dtypes)["data_movimento"] == "timestamp_ntz"
        got = sorted((r["id"], r["data_movimento"]) for r in df.select("id", "data_movimento").collect())
        assert got == sorted((m[0], naive[m[3]]) for m in MOVIMENTO)
    silver_conta = delta_io.read_table(spark, paths.silver("conta"))
    assert sorted(map(tuple, silver_conta.select("id", "data_criacao").collect())) == [
        (10, naive[GAP]), (11, naive[OVERLAP])]
    flat = [c for c in report.counts if c.table == "movimento_flat"]
    assert [(c.rows_in, c.written) for c in flat] == [(3, 3)]


def test_a_lake_with_zoned_timestamps_is_refused_not_cast_then_rebuilt(spark, tmp_path):
    """A lake written before timestamps were naive: appending or merging naive values into its
    ``timestamp`` columns would cast them back through the session zone. Bronze and silver
    refuse with the remedy; a full reload rebuilds bronze with the naive type."""
    from lake.bronze import ingest_table
    from lake.config import JdbcConnection
    from lake.datagen.dbload import append_rows
    from lake.errors import PipelineError, SourceError
    from lake.silver.build import build_silver_table

    url = f"jdbc:sqlite:{tmp_path / 'coop.db'}"
    frame = lambda rows: pd.DataFrame(rows, columns=COLUMNS["movimento"])  # noqa: E731
    load_cooperative(url, {"movimento": frame(MOVIMENTO[:1])})
    cfg = load_config(CONF).with_overrides(root=str(tmp_path / "lake"))
    paths, conn = LakePaths(cfg.lake.root), JdbcConnection(url=url)
    naive_src = cfg.sources["movimento"]
    zoned_src = dataclasses.replace(naive_src, types={**naive_src.types, "data_movimento": "timestamp"})
    ingest_table(spark, zoned_src, conn, paths, "r1")  # what the previous version wrote
    version = delta_io.table_version(spark, paths.bronze("movimento"))

    append_rows(url, "movimento", frame(MOVIMENTO[1:2]))
    with pytest.raises(SourceError, match=r"data_movimento is timestamp there, the config reads timestamp_ntz.*"
                                          r"--full-reload"):
        ingest_table(spark, naive_src, conn, paths, "r2")
    assert delta_io.table_version(spark, paths.bronze("movimento")) == version

    ingest_table(spark, naive_src, conn, paths, "r3", full_reload=True)
    bronze = delta_io.read_table(spark, paths.bronze("movimento"))
    assert sorted((r["id"], r["data_movimento"].strftime("%Y-%m-%d %H:%M:%S")) for r in bronze.collect()) == [
        (1000, GAP), (1001, OVERLAP)]

    old_silver = spark.createDataFrame([(1000, dt.datetime(2018, 11, 4, 1, 23, 54))], "id long, data_movimento timestamp")
    delta_io.overwrite(spark, old_silver, paths.silver("movimento"))
    with pytest.raises(PipelineError, match=r"data_movimento is timestamp there, the config builds timestamp_ntz"):
        build_silver_table(spark, cfg, "movimento", paths, "s1")
    assert not delta_io.table_exists(spark, paths.quarantine("movimento"))
