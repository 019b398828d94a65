"""Shared fixtures: one Spark session for the whole run, temp lakes, real DB servers."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

os.environ.setdefault("LAKE_SPARK_LOG_LEVEL", "ERROR")

pytest_plugins = ["tests.fixtures_db", "tests.fixtures_s3"]


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
