"""The notebooks run top to bottom on a demo lake, headlessly, and are committed without outputs.

A small demo lake is built once in a temp folder; each notebook then runs in a fresh
ipykernel of this venv's interpreter (a kernelspec written to a temp ``JUPYTER_PATH``), with
``LAKE_CONFIG`` / ``LAKE_ROOT`` / ``LAKE_OUTPUT_DIR`` pointing at that lake and a small Spark
(``local[1]``, 2 shuffle partitions, no UI) created by an IPython startup file.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

import nbformat
import pytest

from tests import SHORT_JVM_OPTS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNEL = "python3"

SPARK_STARTUP = """\
from lake.session import get_spark

get_spark(app_name="lake-notebook", master="local[1]", extra_conf={
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    "spark.databricks.delta.snapshotPartitions": "1",
})
"""


def test_at_least_three_notebooks():
    names = [p.name for p in NOTEBOOKS]
    for wanted in ("01_bronze_and_quarantine.ipynb", "02_customer_360.ipynb", "03_cooperative_flat_file.ipynb"):
        assert wanted in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run 'python scripts/clear_notebooks.py'"


@pytest.fixture(scope="module")
def demo_lake(spark, tmp_path_factory):
    """A small demo lake (both pipelines, CSV exported): ``{"config", "root", "output"}``."""
    from lake.config import load_config
    from lake.datagen.generate import generate
    from lake.pipeline import run

    tmp = tmp_path_factory.mktemp("nb-demo")
    root, landing, output, db = tmp / "lake-data", tmp / "landing", tmp / "output", tmp / "cooperative.db"
    url = f"jdbc:sqlite:{db}"
    generate(landing_dir=str(landing), database_url=url, interactions=400, transactions=400, seed=11,
             now=datetime(2026, 11, 25, 12, 0, 0))
    cfg = load_config(REPO / "conf" / "lake.yml").with_overrides(root=str(root), landing=str(landing),
                                                                  output_dir=str(output))
    cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=url))
    report = run(cfg, spark=spark)
    assert report.reconciles and report.csv_path
    return {"config": str(REPO / "conf" / "lake.yml"), "root": str(root), "output": str(output),
            "jdbc_url": url}


@pytest.fixture(scope="module")
def kernel_env(demo_lake, tmp_path_factory):
    """Environment for the kernels: this venv's interpreter and the demo lake."""
    tmp = tmp_path_factory.mktemp("nb-kernel")
    spec = tmp / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    # JUPYTER_PATH comes before the user's and the system's kernelspecs: "python3" is this venv.
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (lake venv)",
        "language": "python",
    }))
    startup = tmp / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-lake-spark.py").write_text(SPARK_STARTUP)
    return {
        "JUPYTER_PATH": str(tmp / "jupyter"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "LAKE_CONFIG": demo_lake["config"],
        "LAKE_ROOT": demo_lake["root"],
        "LAKE_OUTPUT_DIR": demo_lake["output"],
        "LAKE_JDBC_URL": demo_lake["jdbc_url"],
        "LAKE_SPARK_LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(REPO),
        "SPARK_SUBMIT_OPTS": SHORT_JVM_OPTS,  # a kernel's JVM lives a minute or so
    }


@pytest.mark.slow
@pytest.mark.timeout(2400)  # the first one also builds the demo lake
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, kernel_env, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    for key, value in kernel_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws the charts
    ksm = KernelSpecManager()
    assert ksm.get_kernel_spec(KERNEL).argv[0] == sys.executable
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=900,
                            startup_timeout=300, allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    if path.stem in ("02_customer_360", "03_cooperative_flat_file"):
        assert images, f"{path.name} drew no chart"
