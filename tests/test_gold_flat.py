"""movimento_flat: joins, string formats, card number modes, and the atomic CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest

from lake import delta_io
from lake.config import CardNumberMode
from lake.errors import ConfigError
from lake.gold.flat import FLAT_COLUMNS, build_movimento_flat, export_csv, movimento_flat
from lake.paths import LakePaths
from tests.gold_helpers import TZ, fmt, t

ASSOCIADO = [
    (1, "Ana, Maria", 'O"Brien', 34, "ana@x.com"),
    (2, "José", "Conceição\nSilva", None, "jose@x.com"),
    (3, "Zé", None, 50, None),
    (4, "Sem Cartão", "Nunca", 20, None),
]
CONTA = [
    (10, "corrente", t("2018-01-02 03:04:05"), 1),
    (11, "poupanca", t("2018-06-07 08:09:10"), 1),  # a member with two accounts and two cards
    (12, "corrente", t("2017-12-31 23:59:59"), 2),
    (13, None, t("2019-01-01 00:00:00"), 3),
]
CARTAO = [
    (100, "4111111111111234", "ANA M SILVA", t("2018-01-03 10:00:00"), 10, 1),
    (101, "5500000000000004", "ANA POUP", t("2018-06-08 11:00:00"), 11, 1),
    (102, "123456789012345678", 'JOSE "ZE"', None, 12, 2),
    (103, "4000000000000002", "ZÉ, O", t("2019-01-02 12:00:00"), 13, 3),
]
MOVIMENTO = [
    (1000, Decimal("1234.5"), 'Compra, loja "A"', t("2019-10-01 10:11:12"), 100),
    (1001, Decimal("0.01"), "Café", t("2019-10-01 23:59:59"), 101),
    (1002, Decimal("-10.00"), "Estorno\r\nlinha 2", t("2019-10-02 00:00:00"), 102),
    (1003, Decimal("99999999.99"), "  espaço à esquerda ", t("2019-10-03 01:02:03"), 103),
    (1004, Decimal("5"), None, t("2019-10-04 04:05:06"), 100),
]

SCHEMAS = {
    "associado": "id long, nome string, sobrenome string, idade int, email string",
    "conta": "id long, tipo string, data_criacao timestamp, id_associado long",
    "cartao": "id long, num_cartao string, nom_impresso string, data_criacao timestamp, id_conta long, id_associado long",
    "movimento": "id long, vlr_transacao decimal(10,2), des_transacao string, data_movimento timestamp, id_cartao long",
}
DATA = {"associado": ASSOCIADO, "conta": CONTA, "cartao": CARTAO, "movimento": MOVIMENTO}


def money(d: Decimal) -> str:
    return f"{d.quantize(Decimal('0.01'))}"


def expected_rows(card=lambda n: n):
    """The flat file computed in plain Python (None for null)."""
    assoc = {a[0]: a for a in ASSOCIADO}
    conta = {c[0]: c for c in CONTA}
    cartao = {c[0]: c for c in CARTAO}
    out = []
    for mid, vlr, des, when, id_cartao in MOVIMENTO:
        c = cartao[id_cartao]
        k = conta[c[4]]
        a = assoc[k[3]]
        out.append((
            a[1], a[2], None if a[3] is None else str(a[3]), money(vlr), des, fmt(when),
            card(c[1]), c[2], fmt(c[3]), k[1], fmt(k[2]),
        ))
    return out


def frames(spark):
    return {name: spark.createDataFrame(rows, SCHEMAS[name]) for name, rows in DATA.items()}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    paths = LakePaths(str(tmp_path_factory.mktemp("gold-flat")))
    for name, df in frames(spark).items():
        delta_io.overwrite(spark, df, paths.silver(name))
    build_movimento_flat(spark, paths, timezone=TZ)
    return paths


def test_build_movimento_flat_table(spark, lake):
    table = delta_io.read_table(spark, lake.gold("movimento_flat"))
    assert table.columns == ["_movimento_id", *FLAT_COLUMNS]  # the MERGE key, then the CSV's columns
    assert sorted(r._movimento_id for r in table.collect()) == sorted(m[0] for m in MOVIMENTO)
    df = table.drop("_movimento_id")
    assert all(f.dataType.simpleString() == "string" for f in df.schema.fields)
    got = sorted((tuple(r) for r in df.collect()), key=str)
    assert got == sorted(expected_rows(), key=str)
    assert ("Ana, Maria", 'O"Brien', "34", "1234.50") == got[[r[3] for r in got].index("1234.50")][:4]


def test_mask_and_hash(spark, monkeypatch):
    f = frames(spark)
    masked = movimento_flat(**f, timezone=TZ, card_number=CardNumberMode.MASK)
    assert sorted(map(tuple, masked.collect()), key=str) == sorted(
        expected_rows(lambda n: "*" * (len(n) - 4) + n[-4:]), key=str)
    assert "************1234" in {r.numero_cartao for r in masked.collect()}
    for key in ("s3cr3t-ключ", "k" * 100):  # non-ASCII key; key longer than the block
        hashed = movimento_flat(**f, timezone=TZ, card_number=CardNumberMode.HASH, hash_key=key)
        want = expected_rows(lambda n: hmac.new(key.encode(), n.encode(), hashlib.sha256).hexdigest())
        assert sorted(map(tuple, hashed.collect()), key=str) == sorted(want, key=str)


def test_naive_timestamps_print_as_they_read(spark):
    """Silver holds the cooperative's timestamps as timestamp_ntz: printed as they read, in no
    zone, even in São Paulo's daylight-saving gap (00:23:54 on 2018-11-04 never happened there;
    date_format would print 01:23:54) and overlap (23:30 on 2019-02-16 happened twice)."""
    spark.conf.set("spark.sql.session.timeZone", TZ)
    gap, overlap, plain = (dt.datetime(2018, 11, 4, 0, 23, 54), dt.datetime(2019, 2, 16, 23, 30),
                           dt.datetime(2019, 10, 1, 10, 11, 12, 999000))
    ntz = {name: ddl.replace(" timestamp", " timestamp_ntz") for name, ddl in SCHEMAS.items()}
    data = {
        "associado": ASSOCIADO[:1],
        "conta": [(10, "corrente", gap, 1)],
        "cartao": [(100, "4111111111111234", "ANA", overlap, 10, 1), (101, "5500000000000004", "ANA 2", None, 10, 1)],
        "movimento": [(1000, Decimal("1.00"), "x", gap, 100), (1001, Decimal("2.00"), "y", overlap, 101),
                      (1002, Decimal("3.00"), "z", plain, 100)],
    }
    df = movimento_flat(**{n: spark.createDataFrame(rows, ntz[n]) for n, rows in data.items()}, timezone=TZ)
    got = sorted((r.vlr_transacao_movimento, r.data_movimento, r.data_criacao_cartao, r.data_criacao_conta)
                 for r in df.collect())
    assert got == [
        ("1.00", "2018-11-04 00:23:54", "2019-02-16 23:30:00", "2018-11-04 00:23:54"),
        ("2.00", "2019-02-16 23:30:00", None, "2018-11-04 00:23:54"),
        ("3.00", "2019-10-01 10:11:12", "2019-02-16 23:30:00", "2018-11-04 00:23:54"),  # fraction cut
    ]


def test_hash_key_from_environment(spark, lake, monkeypatch):
    monkeypatch.delenv("LAKE_CARD_HASH_KEY", raising=False)
    with pytest.raises(ConfigError):
        build_movimento_flat(spark, lake, card_number=CardNumberMode.HASH)
    monkeypatch.setenv("LAKE_CARD_HASH_KEY", "env-key")
    df = build_movimento_flat(spark, lake, card_number="hash", timezone=TZ)
    want = expected_rows(lambda n: hmac.new(b"env-key", n.encode(), hashlib.sha256).hexdigest())
    assert sorted(map(tuple, df.collect()), key=str) == sorted(want, key=str)
    build_movimento_flat(spark, lake, timezone=TZ)  # back to as stored for the export tests


def read_csv(path: Path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_export_csv_round_trip(spark, lake, tmp_path):
    out = tmp_path / "exports"
    uri = export_csv(spark, lake, str(out))
    assert uri == f"{out}/movimento_flat.csv"
    assert sorted(os.listdir(out)) == ["movimento_flat.csv"]
    assert [p for p in os.listdir(tmp_path) if p != "exports"] == []
    rows = read_csv(out / "movimento_flat.csv")
    assert rows[0] == list(FLAT_COLUMNS)
    want = [tuple("" if v is None else v for v in r) for r in expected_rows()]
    assert sorted(map(tuple, rows[1:]), key=str) == sorted(want, key=str)
    raw = (out / "movimento_flat.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert b'"Ana, Maria","O""Brien",34,1234.50' in raw
    assert raw.count(b"\n") == 1 + len(MOVIMENTO) + 2  # header and row ends, 2 inside fields
    assert raw.count(b"\r\n") == 1  # only the CRLF inside 'Estorno\r\nlinha 2', quoted
    # a second export replaces the file, still alone in the folder
    export_csv(spark, spark.createDataFrame([("x", None)], "a string, b string"), str(out))
    assert sorted(os.listdir(out)) == ["movimento_flat.csv"]
    assert read_csv(out / "movimento_flat.csv") == [["a", "b"], ["x", ""]]


KILLED_EXPORT = textwrap.dedent(
    """
    import sys, time
    from lake.session import get_spark
    spark = get_spark(master="local[1]", extra_conf={"spark.ui.enabled": "false"})
    from pyspark.sql import functions as F

    @F.udf("string")
    def slow(x):  # test-only: keeps the Spark write running long enough to be killed
        time.sleep(0.05)
        return str(x)

    from lake.gold.flat import export_csv
    export_csv(spark, spark.range(0, 5000, 1, 1).select(slow("id").alias("a")), sys.argv[1])
    """
)


def test_killed_export_leaves_previous_file_and_no_strays(spark, tmp_path):
    out = tmp_path / "dest"
    export_csv(spark, spark.createDataFrame([("old", "1")], "a string, b string"), str(out))
    before = (out / "movimento_flat.csv").read_bytes()
    script = tmp_path / "killed_export.py"
    script.write_text(KILLED_EXPORT)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        writing = False
        while time.time() < deadline and proc.poll() is None:
            staging = [p for p in tmp_path.iterdir() if p.name.startswith(".dest.lake-staging-")]
            if any((p / "_temporary").exists() for p in staging):
                writing = True
                break
            time.sleep(0.5)
        assert writing, "the export never started writing"
        time.sleep(2)  # mid-write
        assert proc.poll() is None
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert sorted(os.listdir(out)) == ["movimento_flat.csv"]
    assert (out / "movimento_flat.csv").read_bytes() == before
