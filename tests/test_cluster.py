"""The full pipeline submitted to a real Spark standalone cluster equals a local run.

A master and one worker are started from the installed pyspark on loopback; the same job
(``jobs/run_pipeline.py``) is submitted to it with ``spark-submit --master spark://...``, and
the same pipeline runs locally (``local[2]``) on the same generated data, into two lake roots. Gold
(minus run-specific lineage) and the two CSV files must be identical.

Nothing beyond ``make setup`` is prepared here: the jars reach the driver and the executors
through the ``spark-defaults.conf`` that ``python -m lake.install --warm`` wrote.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from lake import install, session
from tests import SHORT_JVM_OPTS

# Two full pipeline runs; generous on a busy 2-core machine (pytest.ini default is 900 s).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[1]
SPARK_HOME = session.spark_home()
SPARK_CLASS = str(SPARK_HOME / "bin" / "spark-class")
#: The venv's own spark-submit, as a user would call it (it needs no activated venv).
SPARK_SUBMIT = str(Path(sys.executable).parent / "spark-submit")

NOW = datetime(2026, 11, 25, 12, 0, 0)
AS_OF = "2026-11-25 12:00:00"

GOLD_TABLES = (
    "fact_interaction",
    "answer_contacts_24h",
    "answer_interactions_by_channel",
    "answer_last_interaction",
    "movimento_flat",
)
#: Columns that legitimately differ between two runs of the same data.
RUN_SPECIFIC = re.compile(r"^_|run_id|ingested_at|loaded_at|recorded_at|updated_at")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment of a fresh shell: no venv activation, no SPARK_HOME, loopback only."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("SPARK_HOME", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "VIRTUAL_ENV",
                        "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_CONF_DIR")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(SPARK_LOCAL_IP="127.0.0.1", SPARK_LOG_DIR=str(tmp / "logs"), SPARK_WORKER_DIR=str(tmp / "work"),
               LAKE_SPARK_LOG_LEVEL="WARN")
    return env


def _wait_for(predicate, what: str, procs, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"{what}: process {p.args[2]} exited with {p.returncode}")
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop one process we started (and its children: it leads its own session)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """A standalone master and a 1-core/1 GB worker on 127.0.0.1; killed at teardown."""
    tmp = tmp_path_factory.mktemp("standalone")
    for sub in ("logs", "work"):
        (tmp / sub).mkdir()
    env = _clean_env(tmp)
    env["SPARK_HOME"] = str(SPARK_HOME)
    # no REST submission server: it would hold a fixed port (6066)
    env["SPARK_MASTER_OPTS"] = "-Dspark.master.rest.enabled=false"
    port, ui, worker_ui = _free_port(), _free_port(), _free_port()
    url = f"spark://127.0.0.1:{port}"
    master_log, worker_log = tmp / "logs" / "master.out", tmp / "logs" / "worker.out"
    procs: list[subprocess.Popen] = []
    try:
        with open(master_log, "wb") as out:
            procs.append(subprocess.Popen(
                [SPARK_CLASS, "org.apache.spark.deploy.master.Master",
                 "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp, start_new_session=True))
        _wait_for(lambda: "I have been elected leader" in master_log.read_text(errors="replace"),
                  "the master to start", procs)
        with open(worker_log, "wb") as out:
            procs.append(subprocess.Popen(
                [SPARK_CLASS, "org.apache.spark.deploy.worker.Worker", url,
                 "--cores", "1", "--memory", "1g", "--host", "127.0.0.1", "--webui-port", str(worker_ui),
                 "--work-dir", str(tmp / "work")],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp, start_new_session=True))
        _wait_for(lambda: "Successfully registered with master" in worker_log.read_text(errors="replace"),
                  "the worker to register with the master", procs)
        yield {"url": url, "work": tmp / "work"}
    finally:
        for proc in reversed(procs):
            _stop(proc)


@pytest.fixture(scope="module")
def demo_sources(tmp_path_factory):
    """Small generated demo data: the channel files and the cooperative SQLite database."""
    from lake.datagen.generate import generate

    tmp = tmp_path_factory.mktemp("sources")
    landing, db = tmp / "landing", tmp / "cooperative.db"
    generate(landing_dir=str(landing), database_url=f"jdbc:sqlite:{db}", interactions=400,
             transactions=400, seed=7, now=NOW)
    return {"landing": str(landing), "jdbc_url": f"jdbc:sqlite:{db}"}


def _submit(master: str, root: Path, output: Path, sources: dict, tmp: Path) -> subprocess.CompletedProcess:
    cmd = [
        SPARK_SUBMIT, "--master", master,
        "--conf", "spark.sql.shuffle.partitions=2",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.memory=1g",
        "--conf", "spark.executor.memory=768m",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", "spark.driver.bindAddress=127.0.0.1",
        str(REPO / "jobs" / "run_pipeline.py"),
        "--config", str(REPO / "conf" / "lake.yml"),
        "--lake-root", str(root),
        "--landing", sources["landing"],
        "--jdbc-url", sources["jdbc_url"],
        "--output-dir", str(output),
        "--as-of", AS_OF,
    ]
    env = dict(_clean_env(tmp), SPARK_SUBMIT_OPTS=SHORT_JVM_OPTS)  # the driver's JVM: C1 only
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=1500)
    assert proc.returncode == 0, f"spark-submit --master {master} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def two_runs(spark, standalone, demo_sources, tmp_path_factory):
    """The same job on the cluster and locally: ``{"cluster": (root, csv), "local": (root, csv)}``.

    The cluster run is the submitted job; the local one is the same pipeline run in this
    process's warm session (``local[2]``, the suite's) instead of a second cold JVM: what is
    compared is where the job ran (a run in a fresh local JVM is tested by
    tests/test_pipeline_e2e.py::test_demo_command and tests/test_wheel.py)."""
    from lake.config import load_config
    from lake.pipeline import run

    tmp = tmp_path_factory.mktemp("cluster")
    root, output = tmp / "lake", tmp / "output"
    proc = _submit(standalone["url"], root, output, demo_sources, tmp)
    runs = {"cluster": (root, output / "movimento_flat.csv", proc)}
    tmp = tmp_path_factory.mktemp("local")
    root, output = tmp / "lake", tmp / "output"
    cfg = load_config(REPO / "conf" / "lake.yml").with_overrides(
        root=str(root), landing=demo_sources["landing"], output_dir=str(output))
    cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=demo_sources["jdbc_url"], user=None,
                                                            password=None))
    run(cfg, spark=spark, as_of=AS_OF)
    runs["local"] = (root, output / "movimento_flat.csv", None)
    return runs


def test_spark_defaults_written_by_setup():
    text = (SPARK_HOME / "conf" / "spark-defaults.conf").read_text()
    assert install.DEFAULTS_BEGIN in text, "run 'make setup' (python -m lake.install --warm)"
    assert "io.delta.sql.DeltaSparkSessionExtension" in text and "sqlite-jdbc" in text


def test_cluster_run_used_the_worker(two_runs, standalone):
    # the worker launched an executor for the submitted application in its work dir
    executors = list(standalone["work"].glob("app-*/*/stderr"))
    assert executors, f"no executor ran on the worker ({standalone['work']})"
    log = "".join(p.read_text(errors="replace") for p in executors)
    assert "Successfully registered with driver" in log


def _rows(spark, root: Path, table: str):
    df = spark.read.format("delta").load(str(root / "gold" / table))
    cols = [c for c in df.columns if not RUN_SPECIFIC.search(c)]
    rows = [tuple(r) for r in df.select(*cols).collect()]
    return cols, sorted(rows, key=repr)


@pytest.mark.parametrize("table", GOLD_TABLES)
def test_gold_equals_local_run(spark, two_runs, table):
    cluster_cols, cluster_rows = _rows(spark, two_runs["cluster"][0], table)
    local_cols, local_rows = _rows(spark, two_runs["local"][0], table)
    assert cluster_cols == local_cols
    assert cluster_rows, f"gold.{table} is empty: the comparison would prove nothing"
    assert len(cluster_rows) == len(local_rows)
    assert cluster_rows == local_rows


def test_csv_files_identical(two_runs):
    cluster_csv, local_csv = two_runs["cluster"][1], two_runs["local"][1]
    assert cluster_csv.is_file() and local_csv.is_file()
    data = cluster_csv.read_bytes()
    assert data.count(b"\n") > 1
    assert data == local_csv.read_bytes()
