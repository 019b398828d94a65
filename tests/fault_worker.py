"""Worker for tests/test_faults.py: ``lake <args>`` in a fresh process on a small Spark.

Usage: python -m tests.fault_worker run --pipeline ... (the CLI's arguments). The fault to
inject comes from ``LAKE_FAULT`` (see lake/faults.py); the process exits with the CLI's code,
or dies by the injected SIGKILL.
"""

from __future__ import annotations

import sys

from lake.cli import main
from lake.session import LOCAL_DEFAULTS, get_spark

#: A worker's JVM lives for one run of a few dozen seconds, for which the C1 compiler alone
#: costs about 30% less CPU than tiered C1 + C2 at the same wall time (a 120-row run in a
#: fresh JVM: 42-45 s of machine CPU against 62-65 s, 35-37 s wall either way); the suite is
#: CPU-bound on two cores. Not for long-lived JVMs: the shared test session's JVM took 47%
#: longer with C1 alone (tests/test_gold_incremental.py, 207 s against 140 s).
JVM_OPTS = "-XX:TieredStopAtLevel=1"


if __name__ == "__main__":
    get_spark(app_name="lake-fault-worker", master="local[1]",
              extra_conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "1",
                          "spark.databricks.delta.snapshotPartitions": "1",
                          "spark.driver.extraJavaOptions":
                              f"{LOCAL_DEFAULTS['spark.driver.extraJavaOptions']} {JVM_OPTS}"})
    sys.exit(main(sys.argv[1:]))
