"""A real process kill in the middle of an ingestion, then a rerun: same bronze as a clean run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyspark.sql import functions as F

from lake import delta_io
from lake.bronze import ingest_files
from lake.config import FileFormat, FileSource, Pipeline
from lake.paths import LakePaths

REPO = Path(__file__).resolve().parents[1]
N_FILES = 30


def kill_source() -> FileSource:
    return FileSource(pipeline=Pipeline.CUSTOMER_EXPERIENCE, patterns=("email*",), format=FileFormat.CSV,
                      columns=("Origem do caso", "Loja", "Email do cliente"), name="email")


def _landing(folder: Path) -> None:
    folder.mkdir()
    for i in range(N_FILES):
        rows = [f'Site,Clickbus,"cliente{i}_{j}@x.com"' for j in range(i % 7 + 1)]
        if i % 10 == 3:
            rows.append("Site,Clickbus")  # malformed, kept
        (folder / f"email_{i:03d}.csv").write_text("Origem do caso,Loja,Email do cliente\n" + "\n".join(rows) + "\n")
    (folder / "email_dup.csv").write_bytes((folder / "email_000.csv").read_bytes())


def _snapshot(spark, root: str):
    return delta_io.read_table(spark, LakePaths(root).bronze("email")).select(
        "_row_id", "_source_file", "_record_index", "Origem do caso", "Loja", "Email do cliente", "_is_malformed", "_raw")


def test_killed_ingestion_rerun_equals_clean_run(spark, tmp_path):
    landing = tmp_path / "landing"
    _landing(landing)
    killed_root, clean_root = str(tmp_path / "killed"), str(tmp_path / "clean")
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "tests.bronze_kill_worker", str(landing), killed_root, str(marker)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 240
        while not marker.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert marker.exists(), "the worker never started Spark"
        # kill somewhere between "Spark is up" and "the run is over": before, during or
        # after the bronze commit, or while the ingest log is written
        time.sleep(random.uniform(0.0, 6.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    state = marker.read_text().strip()
    delta_log = Path(killed_root) / "bronze" / "email" / "_delta_log"
    commits = sorted(p.name for p in delta_log.glob("*.json")) if delta_log.exists() else []
    print(f"worker killed in state {state!r} after bronze commits {commits}")

    rerun = ingest_files(spark, kill_source(), str(landing), LakePaths(killed_root), "rerun")
    clean = ingest_files(spark, kill_source(), str(landing), LakePaths(clean_root), "clean")
    assert clean.rows_in == clean.rows_written == sum(i % 7 + 1 for i in range(N_FILES)) + 3
    assert rerun.rows_in == rerun.rows_written

    got, want = _snapshot(spark, killed_root), _snapshot(spark, clean_root)
    assert got.count() == want.count()
    assert got.select("_row_id").distinct().count() == got.count()  # no duplicate
    assert got.exceptAll(want).count() == 0 and want.exceptAll(got).count() == 0  # no gap, same values
    log = delta_io.read_table(spark, LakePaths(killed_root).system("ingest_log"))
    per_status = {r["status"]: r["n"] for r in log.groupBy("status").agg(F.countDistinct("path").alias("n")).collect()}
    assert per_status == {"ingested": N_FILES, "duplicate": 1}
    assert log.where("status = 'ingested'").select("path").distinct().count() == log.where("status = 'ingested'").count()


def test_death_after_bronze_commit_before_log_is_repaired(spark, tmp_path):
    """The window the random kill rarely hits: bronze committed, ingest log not yet written."""
    landing = tmp_path / "landing"
    _landing(landing)
    paths = LakePaths(str(tmp_path / "lake"))
    first = ingest_files(spark, kill_source(), str(landing), paths, "r1")
    from delta.tables import DeltaTable
    DeltaTable.forPath(spark, paths.system("ingest_log")).delete("true")  # as if the log never got written
    before = delta_io.table_version(spark, paths.bronze("email"))
    again = ingest_files(spark, kill_source(), str(landing), paths, "r2")
    assert (again.files_ingested, again.rows_written) == (0, 0)
    assert delta_io.table_version(spark, paths.bronze("email")) == before
    log = delta_io.read_table(spark, paths.system("ingest_log"))
    assert log.where("status = 'ingested'").count() == N_FILES
    assert log.where("status = 'ingested'").agg(F.sum("rows")).first()[0] == first.rows_written
    assert log.where("status = 'duplicate'").count() == 1
