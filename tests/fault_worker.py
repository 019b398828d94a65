"""Worker for tests/test_faults.py: ``lake <args>`` in a fresh process on a small Spark.

Usage: python -m tests.fault_worker run --pipeline ... (the CLI's arguments). The fault to
inject comes from ``LAKE_FAULT`` (see lake/faults.py); the process exits with the CLI's code,
or dies by the injected SIGKILL.
"""

from __future__ import annotations

import sys

from lake.cli import main
from lake.session import LOCAL_DEFAULTS, get_spark
from tests import SHORT_JVM_OPTS

if __name__ == "__main__":
    get_spark(app_name="lake-fault-worker", master="local[1]",
              extra_conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "1",
                          "spark.databricks.delta.snapshotPartitions": "1",
                          "spark.driver.extraJavaOptions":
                              f"{LOCAL_DEFAULTS['spark.driver.extraJavaOptions']} {SHORT_JVM_OPTS}"})
    sys.exit(main(sys.argv[1:]))
