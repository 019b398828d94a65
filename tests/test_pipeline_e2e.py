"""End to end: generated dirty data -> bronze -> silver -> gold -> CSV, checked against
values computed independently from the generated files and the source database."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lake.config import load_config
from lake.datagen import generate
from lake.pipeline import run
from tests import SHORT_JVM_OPTS

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
CHANNEL_COLUMNS = {
    "ura": 17, "chat": 8, "whatsapp": 7, "email": 8,
}


def _records(source, files):
    """(well-formed record contents, malformed count) read with Python's json/csv."""
    good, bad = [], 0
    for f in files:
        if f.endswith(".jsonl"):
            for line in Path(f).read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    good.append(json.dumps(json.loads(line), sort_keys=True))
                except json.JSONDecodeError:
                    bad += 1
        else:
            with open(f, newline="", encoding="utf-8") as fh:
                rows = list(csv.reader(fh))
            for row in rows[1:]:
                if len(row) != CHANNEL_COLUMNS[source]:
                    bad += 1
                else:
                    good.append(json.dumps(row))
    return good, bad


@pytest.fixture(scope="module")
def lake_run(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    landing, db = base / "landing", base / "coop.db"
    manifest = generate(landing_dir=str(landing), database_url=f"jdbc:sqlite:{db}", interactions=800,
                        transactions=900, seed=7, members=40, malformed_share=0.02, duplicate_share=0.03,
                        orphan_share=0.02, mismatch_share=0.1)
    cfg = load_config(CONF).with_overrides(root=str(base / "lake"), landing=str(landing),
                                           output_dir=str(base / "out"))
    import dataclasses

    cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=f"jdbc:sqlite:{db}", user=None, password=None))
    report = run(cfg, spark=spark)
    return {"cfg": cfg, "manifest": manifest, "report": report, "db": db, "base": base}


def _counts(report, layer, table):
    found = [c for c in report.counts if c.layer == layer and c.table == table]
    assert len(found) == 1, (layer, table, report.counts)
    return found[0]


def test_every_table_reconciles(lake_run):
    report = lake_run["report"]
    assert report.counts
    for c in report.counts:
        assert c.rows_in >= 0 and c.rows_in == c.written + c.quarantined + c.dropped + c.unchanged, c
        assert c.reconciles, c
    assert report.reconciles


@pytest.mark.parametrize("channel", ["ura", "chat", "whatsapp", "email"])
def test_channel_rows_land_once_and_duplicates_collapse(lake_run, spark, channel):
    man = lake_run["manifest"]["channels"]["channels"][channel]
    good, bad = _records(channel, man["files"])
    assert len(good) + bad == man["records"]
    bronze = _counts(lake_run["report"], "bronze", channel)
    assert bronze.rows_in == bronze.written == man["records"]
    silver = _counts(lake_run["report"], "silver", channel)
    assert silver.rows_in == man["records"]
    # Every malformed record is quarantined; exact duplicates collapse into one row.
    assert silver.quarantined >= bad
    distinct = len(set(good))
    assert silver.written + (silver.quarantined - bad) == distinct
    assert silver.dropped == len(good) - distinct


def test_flat_csv_matches_the_source_database(lake_run):
    out = Path(lake_run["report"].csv_path.replace("file:", ""))
    assert out.name == "movimento_flat.csv"
    assert sorted(os.listdir(out.parent)) == ["movimento_flat.csv"]
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["nome_associado", "sobrenome_associado", "idade_associado", "vlr_transacao_movimento",
                       "des_transacao_movimento", "data_movimento", "numero_cartao", "nome_impresso_cartao",
                       "data_criacao_cartao", "tipo_conta", "data_criacao_conta"]
    con = sqlite3.connect(lake_run["db"])
    expected = con.execute(
        """
        SELECT s.nome, m.vlr_transacao, c.num_cartao, a.tipo
        FROM movimento m
        JOIN cartao c ON c.id = m.id_cartao
        JOIN conta a ON a.id = c.id_conta
        JOIN associado s ON s.id = a.id_associado
        WHERE c.id_associado = a.id_associado
        """
    ).fetchall()
    orphans = con.execute("SELECT count(*) FROM movimento m LEFT JOIN cartao c ON c.id = m.id_cartao "
                          "WHERE c.id IS NULL").fetchone()[0]
    con.close()
    assert orphans > 0, "the generator must have produced orphan transactions"
    want = Counter((" ".join(n.split()), f"{float(v):.2f}", str(card), t) for n, v, card, t in expected)
    got = Counter((r[0], r[3], r[6], r[9]) for r in rows[1:])
    assert got == want
    mov = _counts(lake_run["report"], "silver", "movimento")
    assert mov.written == len(rows) - 1
    assert mov.quarantined == 900 - (len(rows) - 1)


def test_rerun_changes_nothing(lake_run, spark):
    from lake import delta_io
    from lake.paths import LakePaths

    paths = LakePaths(lake_run["cfg"].lake.root)

    def snapshot():
        inter = delta_io.read_table(spark, paths.silver("interactions")).drop("_run_id", "_silver_run_id")
        fact = delta_io.read_table(spark, paths.gold("fact_interaction")).select(
            "interaction_id", "customer_key", "channel_key", "agent_key")
        return sorted(map(tuple, inter.collect()), key=repr), sorted(map(tuple, fact.collect()), key=repr)

    before = snapshot()
    report = run(lake_run["cfg"], spark=spark)
    for c in report.counts:
        if c.layer == "bronze":
            assert c.written == 0, c
        if c.layer == "silver":  # nothing new: nothing read, or every row read left unchanged
            assert c.written == 0 and c.rows_in == c.unchanged + c.quarantined + c.dropped, c
    assert report.reconciles
    assert snapshot() == before


def test_demo_command(tmp_path):
    """`lake demo` (what `make demo` runs) exits 0, prints the three answers and writes the CSV."""
    env = dict(os.environ, LAKE_SPARK_LOG_LEVEL="ERROR", SPARK_SUBMIT_OPTS=SHORT_JVM_OPTS)
    env.pop("LAKE_JDBC_URL", None)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "lake.yml").write_text(CONF.read_text(encoding="utf-8"), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "lake.cli", "demo", "--output-dir", "out",
                           "--interactions", "300", "--transactions", "300"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("contacts-24h", "interactions-by-channel", "last-interaction"):
        assert f"== {name} ==" in proc.stdout
    assert (tmp_path / "out" / "movimento_flat.csv").exists()
    assert os.listdir(tmp_path / "out") == ["movimento_flat.csv"]


def test_generated_code_writes_the_same_tables(lake_run, spark, tmp_path, caplog):
    """The module's lake is small, so its steps ran interpreted (``lake.small_step_mib``);
    the same data run with generated code everywhere (``small_step_mib: 0``) writes the
    same silver, quarantine and gold tables, as multisets (run ids and ingest times aside)."""
    import dataclasses
    import logging

    from lake import delta_io
    from lake.gold.tables import ANSWER_TABLES, STAR_TABLES
    from lake.paths import LakePaths

    cfg = lake_run["cfg"]
    with caplog.at_level(logging.DEBUG, logger="lake.session"):
        run(cfg, spark=spark)  # nothing new; every step still sizes itself
    assert sum("run interpreted" in r.getMessage() for r in caplog.records) >= 10
    caplog.clear()
    coded = dataclasses.replace(cfg, lake=dataclasses.replace(cfg.lake, small_step_mib=0.0,
                                                             root=str(tmp_path / "lake")))
    with caplog.at_level(logging.DEBUG, logger="lake.session"):
        run(coded, spark=spark)
    assert not [r for r in caplog.records if "run interpreted" in r.getMessage()]

    small, big = LakePaths(cfg.lake.root), LakePaths(coded.lake.root)
    pairs = []
    for t in [*cfg.silver, "interactions"]:
        pairs += [(small.silver(t), big.silver(t)), (small.quarantine(t), big.quarantine(t))]
    pairs += [(small.gold(t), big.gold(t)) for t in [*STAR_TABLES, *ANSWER_TABLES, "movimento_flat"]]
    assert len(pairs) > 20
    compared = 0
    for a, b in pairs:
        if not delta_io.table_exists(spark, a):
            assert not delta_io.table_exists(spark, b), b
            continue
        left, right = delta_io.read_table(spark, a), delta_io.read_table(spark, b)
        keep = [c for c in left.columns if not c.startswith("_") and c not in ("updated_at", "as_of")]
        assert keep, a
        def bag(df):  # as text: dim_customer's open valid_to is beyond Python's datetime
            return Counter(map(tuple, df.select(*[df[c].cast("string") for c in keep]).collect()))

        rows = bag(left)
        assert rows == bag(right), a
        compared += bool(rows)
    assert compared >= 15
