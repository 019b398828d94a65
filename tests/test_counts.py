"""Counts are measured, not derived: a step that duplicates rows fails reconciliation, and a
failed run is recorded in ``_system/runs`` and shown by ``lake status``."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lake import cli, delta_io
from lake.config import load_config
from lake.errors import SourceError
from lake.paths import LakePaths
from lake.pipeline import run
from lake.runlog import TableCounts, redact
from lake.silver.build import build_silver_table
from tests.gold_helpers import interaction, write_interactions
from tests.silver_bronze import SEED_ROWS, bronze_df, write_bronze

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
AS_OF = "2019-10-02 00:00:00"

#: Three interactions; the gold fact must hold each exactly once.
INTERACTIONS = [
    interaction("1", "phone", "a@x.com", "2019-10-01 08:00:00", "2019-10-01 08:05:00"),
    interaction("2", "chat", "b@x.com", "2019-10-01 09:00:00"),
    interaction("3", "email", None, "2019-10-01 10:00:00"),
]


def _cfg(tmp_path, **jdbc):
    cfg = load_config(CONF).with_overrides(root=str(tmp_path / "lake"), landing=str(tmp_path / "landing"),
                                           output_dir=str(tmp_path / "out"))
    if jdbc:
        cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, **jdbc))
    return cfg


def _recorded(spark, cfg, run_id):
    runs = delta_io.read_table(spark, LakePaths(cfg.lake.root).system("runs"))
    return [r.asDict() for r in runs.where(runs.run_id == run_id).collect()]


def _doubling(df):
    """A join that multiplies every row by two (the kind of bug reconciliation must catch):
    a lookup whose key matches twice, broadcast as small lookups are."""
    twice = F.broadcast(df.sparkSession.createDataFrame([(1,), (2,)], "_copy int"))
    return df.join(twice, how="cross").drop("_copy")


def test_every_term_counts():
    assert TableCounts("t", "silver", 10, 4, quarantined=2, dropped=1, unchanged=3).reconciles
    assert not TableCounts("t", "silver", 10, 4, quarantined=2, dropped=1).reconciles
    assert not TableCounts("t", "gold", 3, 6).reconciles
    assert not TableCounts("t", "gold", -1, -1).reconciles  # unmeasured never reconciles


def test_a_join_that_duplicates_facts_fails_reconciliation(spark, tmp_path, monkeypatch, capsys):
    import lake.gold.star as star

    cfg = _cfg(tmp_path)
    write_interactions(spark, LakePaths(cfg.lake.root), INTERACTIONS)
    real = star.fact_interaction
    monkeypatch.setattr(star, "fact_interaction", lambda *a, **kw: _doubling(real(*a, **kw)))

    report = run(cfg, spark=spark, pipeline="customer_experience", layer="gold", as_of=AS_OF)

    fact = [c for c in report.counts if c.table == "fact_interaction"]
    assert len(fact) == 1
    assert (fact[0].rows_in, fact[0].written) == (3, 6)  # 3 interactions read, 6 facts written
    assert not fact[0].reconciles and not report.reconciles
    assert all(c.reconciles for c in report.counts if c.table != "fact_interaction")
    recorded = {r["table"]: r for r in _recorded(spark, cfg, report.run_id)}
    assert recorded["fact_interaction"]["reconciles"] is False
    assert (recorded["fact_interaction"]["rows_in"], recorded["fact_interaction"]["written"]) == (3, 6)
    assert sorted(t for t, r in recorded.items() if not r["reconciles"]) == ["fact_interaction"]

    root = ["--config", str(CONF), "--lake-root", cfg.lake.root]
    assert cli.main(["status", *root, "--limit", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    flagged = [ln for ln in lines if ln.rstrip().endswith("MISMATCH")]
    assert len(flagged) == 1 and "fact_interaction" in flagged[0]

    # `lake run` completes the run, then exits 1 naming the table (--full-reload: gold rebuilds;
    # an incremental run would find no new change in silver and recompute nothing)
    code = cli.main(["run", *root, "--pipeline", "customer_experience", "--layer", "gold", "--as-of", AS_OF,
                     "--full-reload"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == cli.EXIT_FAILED
    assert err[-1].startswith("lake: error: run ") and "do not reconcile for gold.fact_interaction (" in err[-1]


def test_the_same_run_without_the_bug_reconciles(spark, tmp_path):
    cfg = _cfg(tmp_path)
    write_interactions(spark, LakePaths(cfg.lake.root), INTERACTIONS)
    report = run(cfg, spark=spark, pipeline="customer_experience", layer="gold", as_of=AS_OF)
    fact = [c for c in report.counts if c.table == "fact_interaction"]
    assert [(c.rows_in, c.written) for c in fact] == [(3, 3)]
    assert report.reconciles
    assert all(r["reconciles"] for r in _recorded(spark, cfg, report.run_id))


def test_a_step_that_duplicates_silver_rows_fails_reconciliation(spark, tmp_path, monkeypatch):
    import lake.silver.build as build

    cfg = _cfg(tmp_path)
    paths = LakePaths(cfg.lake.root)
    other = dict(SEED_ROWS["chat"], Agente="Bruna")
    write_bronze(spark, paths, "chat", bronze_df(spark, "chat", cfg.sources["chat"].columns, [SEED_ROWS["chat"], other]))
    real = build._wide
    monkeypatch.setattr(build, "_wide", lambda *a, **kw: _doubling(real(*a, **kw)))

    counts = build_silver_table(spark, cfg, "chat", paths, "s1")

    assert counts.rows_in == 2  # bronze rows read, counted before the broken step
    assert counts.written + counts.quarantined + counts.dropped + counts.unchanged == 4
    assert not counts.reconciles


def test_a_failed_run_is_recorded_with_its_error_and_shown(spark, tmp_path, capsys):
    db = tmp_path / "coop.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE associado (id INTEGER PRIMARY KEY, nome TEXT, sobrenome TEXT, idade INTEGER, email TEXT)")
    con.executemany("INSERT INTO associado VALUES (?, ?, ?, ?, ?)",
                    [(1, "Ana", "Lima", 30, "a@x.com"), (2, "Bia", "Reis", 41, "b@x.com"), (3, "Caio", "Melo", 25, None)])
    con.commit()
    con.close()  # no 'conta' table: the second source of the pipeline cannot be read
    cfg = _cfg(tmp_path, url=f"jdbc:sqlite:{db}", user=None, password=None)

    with pytest.raises(SourceError, match="conta") as raised:
        run(cfg, spark=spark, pipeline="cooperative", layer="bronze", run_id="20261126T000000-failed01")

    rows = _recorded(spark, cfg, "20261126T000000-failed01")
    assert {r["status"] for r in rows} == {"failed"}
    errors = [r for r in rows if r["error_class"]]
    assert len(errors) == 1
    assert errors[0]["error_class"] == "SourceError"
    assert errors[0]["error_message"] == " ".join(str(raised.value).split())
    done = [(r["layer"], r["table"], r["rows_in"], r["written"], r["reconciles"]) for r in rows if not r["error_class"]]
    assert done == [("bronze", "associado", 3, 3, True)]  # the table that completed before the failure

    root = ["--config", str(CONF), "--lake-root", cfg.lake.root]
    assert cli.main(["status", *root]) == 0
    text = capsys.readouterr().out
    failed = [ln for ln in text.splitlines() if "FAILED" in ln]
    assert len(failed) == 1 and "20261126T000000-failed01" in failed[0] and "SourceError: " in failed[0]
    assert "conta" in failed[0]
    assert cli.main(["status", *root, "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["status"], r["error_class"]) for r in runs if r["error_class"]] == [("failed", "SourceError")]


def test_recorded_errors_carry_no_secret():
    message = "cannot read from jdbc:postgresql://lake:hunter2@db:5432/coop?user=lake&password=hunter2 (s3cr3t)"
    out = redact(message, ("s3cr3t", None))
    assert "hunter2" not in out and "s3cr3t" not in out
    assert "jdbc:postgresql://lake:***@db:5432/coop" in out
