"""Worker for tests/test_bronze_kill.py: ingest one landing folder, to be SIGKILLed mid-run.

Usage: python -m tests.bronze_kill_worker LANDING LAKE_ROOT MARKER
Writes MARKER once Spark has started, then runs the ingestion.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lake.bronze import ingest_files
from lake.paths import LakePaths
from lake.session import get_spark
from tests.test_bronze_kill import kill_source


def main() -> None:
    landing, root, marker = sys.argv[1:4]
    spark = get_spark(app_name="lake-kill-worker", master="local[1]",
                      extra_conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "1"})
    Path(marker).write_text("spark started\n")
    ingest_files(spark, kill_source(), landing, LakePaths(root), "killed-run")
    Path(marker).write_text("done\n")


if __name__ == "__main__":
    main()
