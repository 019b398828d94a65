"""Shared fixtures: one Spark session for the whole run, temp lakes, real DB servers."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

os.environ.setdefault("LAKE_SPARK_LOG_LEVEL", "ERROR")

pytest_plugins = ["tests.fixtures_db", "tests.fixtures_s3"]

#: The suite's longest files, longest first (minutes of a worker in a full run on two cores,
#: 2026-11-27: 16.6, 5.9, 4.9, 4.7, 3.7, 3.6, 3.5, 3.0). ``make test`` hands files to its
#: workers in collection order (``--dist loadfile --no-loadscope-reorder``); a long file handed
#: out last would run alone while the other worker idles, so these go first and the many short
#: files fill the end.
LONGEST_FIRST = (
    "test_faults.py",
    "test_watch.py",
    "test_notebooks.py",
    "test_incremental_equivalence.py",
    "test_pipeline_e2e.py",
    "test_cluster.py",
    "test_gold_incremental.py",
    "test_open_tables.py",
)


def machine_pace() -> float:
    """Seconds this machine takes, right now, for a module-level loop of 10**7 Python
    additions: the measure docs/performance.md quotes (about 0.9 to 1.0 s on the quiet 2-core
    machines where the suite's budget was set, 1.4 to 1.7 s on the same kind of machine on a
    busy day, when the Spark work of the suite ran two to three times slower)."""
    import time

    start = time.perf_counter()
    exec("total = 0\nfor i in range(10**7):\n    total += i", {})  # globals, as at module level
    return time.perf_counter() - start


def pytest_report_header(config):
    """The machine's pace and load as the suite starts: ``make test``'s time is only comparable
    between runs of similar pace (docs/performance.md; README, "The two commands")."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller prints it once
        return None
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine pace: 10**7 Python additions in {machine_pace():.2f} s; load average {load}; {os.cpu_count()} cores"


def pytest_collection_modifyitems(items):
    """Collect the longest files first (see LONGEST_FIRST); the others, and the tests within
    every file, keep their order."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def spark(s3_endpoint):
    """Session-scoped Spark (local[2], 2 shuffle partitions, UI off, Delta on).

    Its s3a settings point at the test S3 server's reserved port (``s3_endpoint``, see
    tests/fixtures_s3.py); the server starts only when a test asks for ``s3_server``.
    """
    from lake.session import get_spark

    warehouse = tempfile.mkdtemp(prefix="lake-warehouse-")
    session = get_spark(
        app_name="lake-tests",
        master="local[2]",
        extra_conf={
            "spark.sql.shuffle.partitions": "2",
            # one session serves the whole suite (100k-row files, several demo lakes): Spark's
            # default 1 GiB driver heap ran out late in the run (headroom: 3 GiB)
            "spark.driver.memory": "3g",
            "spark.ui.enabled": "false",
            "spark.sql.warehouse.dir": warehouse,
            "spark.databricks.delta.snapshotPartitions": "1",
        },
    )
    yield session
    session.stop()
    shutil.rmtree(warehouse, ignore_errors=True)


@pytest.fixture()
def lake_root(tmp_path):
    """An empty lake root for one test."""
    root = tmp_path / "lake"
    root.mkdir()
    return str(root)
