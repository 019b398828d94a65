"""Smoke test of scripts/benchmark.py at 2,000 rows: every stage runs and has a floor.

No timing is asserted: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["bronze files", "bronze jdbc", "silver", "gold star", "flat csv export", "incremental 1%", "query"]


@pytest.mark.benchmark
@pytest.mark.timeout(2400)
def test_benchmark_reports_every_stage_with_a_floor(tmp_path):
    out = tmp_path / "bench.json"
    work = tmp_path / "work"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--rows", "2000", "--out", str(out),
         "--work-dir", str(work), "--query-spark-runs", "1", "--small-rows", "300"],
        # 5 min 49 s at a load average of 10; over 10 min at 22 (2 cores shared by six engineers)
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["rows"] == 2000
    assert [s["stage"] for s in result["stages"]] == STAGES
    for s in result["stages"][:-1]:
        assert "error" not in s and "floor_error" not in s, s
        assert s["seconds"] > 0 and s["floor_seconds"] > 0, s
        assert s["ratio_to_floor"] == pytest.approx(s["seconds"] / s["floor_seconds"], rel=0.05)
        assert s["rows"] > 0 and s["peak_rss_mib"] > 0 and s["spark_jobs"] > 0, s
    # bronze reads every generated record once (duplicates and malformed ones included)
    assert result["stages"][0]["rows"] == 2000
    # 1% new interactions + 1% new transactions, then UPDATEs (1 member, 1 account, 1 card and
    # 0.1% = 2 transactions) and DELETEs (0.1% = 2 transactions, one card with its transactions)
    inc = result["increment"]
    assert (inc["interactions"], inc["transactions"], inc["updated"]) == (20, 20, 5), inc
    assert inc["deleted"] >= 2 + 1 + 1, inc
    assert result["stages"][-2]["rows"] == 20 + 20 + inc["updated"] + inc["deleted"]
    assert result["incremental_share_of_full"] == pytest.approx(
        result["stages"][-2]["seconds"] / result["full_run_seconds"], abs=0.001)
    # query: `lake query last-interaction` 5 times against `import deltalake`, Spark beside it
    q = result["stages"][-1]
    assert "error" not in q, q
    assert q["rows"] > 0 and len(q["runs_seconds"]) == 5 and len(q["floor_runs_seconds"]) == 5, q
    assert q["seconds"] == pytest.approx(sorted(q["runs_seconds"])[2], abs=0.001), q
    assert q["ratio_to_floor"] == pytest.approx(q["seconds"] / q["floor_seconds"], rel=0.05), q
    assert q["spark_engine_seconds"] > 0 and q["spark_engine_same_answer"] is True, q
    # the full run against the sum of its floors, measured in the same run
    full = result["stages"][:5]
    assert result["full_run_floors_seconds"] == pytest.approx(sum(s["floor_seconds"] for s in full), abs=0.05)
    assert result["full_run_ratio_to_floors"] == pytest.approx(
        result["full_run_seconds"] / result["full_run_floors_seconds"], rel=0.01)
    # --small-rows: the same stages at 300 rows first, in the same session, without the query stage
    small = result["small"]
    assert small["rows"] == 300 and [s["stage"] for s in small["stages"]] == STAGES[:-1]
    assert all("error" not in s and s["floor_seconds"] > 0 for s in small["stages"]), small["stages"]
    assert small["stages"][0]["rows"] == 300 and small["full_run_ratio_to_floors"] > 0
    assert "| stage |" in proc.stdout and "Small batch, 300 rows" in proc.stdout
    assert not work.exists()  # removed without --keep
