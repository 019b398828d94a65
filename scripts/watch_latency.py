"""Latency of `lake watch`: from a file appearing in landing to its rows in the gold answers.

A `lake watch --pipeline customer_experience --interval 5` process runs (local[2], the
project's defaults) while this script renames 1 000-row channel files into the landing
folder, one every 5 s, for 10 minutes. A poller, independent of the watch, reads the lake with
delta-rs (no Spark) every 0.25 s: when `gold/answer_interactions_by_channel` gets a new
version (the answers are the last tables a batch writes, that one always changes when rows
arrive), the rows of `gold/fact_interaction` tell which files are in gold (files are dropped
in order; their records are counted here, from the files themselves), and the answer
commit's timestamp is their arrival. Latency = arrival - the moment the file was renamed
into place.

Nothing lost: at the end the fact table holds exactly the records of the dropped files (the
generator's dirty-data shares are off, so every record is one fact row), and every
micro-batch's counts reconcile in `_system/runs`.

Usage:
    .venv/bin/python scripts/watch_latency.py --out benchmarks/watch.json
    .venv/bin/python scripts/benchmark.py --watch --out benchmarks/watch.json     # the same
    .venv/bin/python scripts/watch_latency.py --duration 60 --out /tmp/w.json     # a quick look
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ANSWER = "answer_interactions_by_channel"


def records(path: Path) -> int:
    """Records in one generated channel file (JSON Lines or CSV), counted here."""
    if path.suffix.lower() in (".json", ".jsonl"):
        with open(path, encoding="utf-8") as fh:
            return sum(1 for line in fh if line.strip())
    with open(path, encoding="utf-8", newline="") as fh:
        dialect = csv.Sniffer().sniff(fh.read(4096))
        fh.seek(0)
        return sum(1 for _ in csv.reader(fh, dialect)) - 1


def _interleave(files: list[Path]) -> list[Path]:
    """One file of each channel in turn (a realistic mix of arrivals)."""
    by_prefix: dict[str, list[Path]] = {}
    for f in sorted(files):
        by_prefix.setdefault(f.name.split("_")[0].split(".")[0].lower(), []).append(f)
    out: list[Path] = []
    queues = list(by_prefix.values())
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _table_state(path: Path) -> tuple[int, int] | None:
    """(version, commit timestamp ms) of a Delta table, None before it exists."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:  # a _delta_log without a commit yet is no table
        dt = DeltaTable(str(path))
    except TableNotFoundError:
        return None
    return dt.version(), int(dt.history(1)[0]["timestamp"])


def _fact_rows(path: Path) -> int:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(str(path)).to_pyarrow_dataset().count_rows()
    except TableNotFoundError:
        return 0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def measure(work: Path, *, duration: float, every: float, rows_per_file: int, interval: float) -> dict:
    from lake.datagen import generate

    staging, landing, lake = work / "staging", work / "landing", work / "lake"
    for d in (staging, landing):
        d.mkdir(parents=True, exist_ok=True)
    n_files = max(4, int(duration // every))
    per_channel = -(-n_files // 4)
    generate(
        landing_dir=str(staging),
        database_url=None,
        interactions=per_channel * 4 * rows_per_file,
        seed=5150,
        realism=False,
        files_per_channel=per_channel,
    )
    files = _interleave([p for p in staging.iterdir() if p.is_file()])[:n_files]
    counts = [records(f) for f in files]
    cumulative = [sum(counts[: i + 1]) for i in range(len(counts))]

    log_path = work / "watch.log"
    env = dict(os.environ, LAKE_SPARK_LOG_LEVEL="ERROR")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lake.cli", "watch", "--pipeline", "customer_experience",
             "--interval", str(interval), "--config", str(ROOT / "conf" / "lake.yml"),
             "--lake-root", str(lake), "--landing", str(landing), "--output-dir", str(work / "out")],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=staging,  # no lake/ folder in the cwd
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while "batch 1 " not in log_path.read_text():  # JVM start and the first (empty) batch
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the watch did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.5)

        dropped: list[float] = []
        arrived: dict[int, float] = {}
        stop = threading.Event()

        def poll() -> None:
            seen = None
            while not stop.is_set():
                state = _table_state(lake / "gold" / ANSWER)
                if state is not None and state != seen:
                    seen = state
                    rows = _fact_rows(lake / "gold" / "fact_interaction")
                    for i, c in enumerate(cumulative[: len(dropped)]):
                        if c <= rows and i not in arrived:
                            arrived[i] = state[1] / 1000.0
                stop.wait(0.25)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        load_before = os.getloadavg()
        start = time.monotonic()
        for i, f in enumerate(files):
            time.sleep(max(0.0, start + i * every - time.monotonic()))
            tmp = landing / f"{f.name}._COPYING_"
            tmp.write_bytes(f.read_bytes())
            os.replace(tmp, landing / f.name)
            dropped.append(time.time())
        deadline = time.monotonic() + 600
        while len(arrived) < len(files) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        load_after = os.getloadavg()
        stop.set()
        poller.join()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=600)
    latencies = [arrived[i] - dropped[i] for i in sorted(arrived)]
    fact_rows = _fact_rows(lake / "gold" / "fact_interaction")
    reconciles = _runs_reconcile(lake)
    batches = [ln for ln in log_path.read_text().splitlines() if " batch " in ln and "files" in ln]
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_before": load_before, "loadavg_after": load_after},
        "settings": {"duration_s": duration, "file_every_s": every, "watch_interval_s": interval,
                     "master": os.environ.get("LAKE_SPARK_MASTER", "local[2]")},
        "files": len(files),
        "rows_per_file": {"min": min(counts), "median": statistics.median(counts), "max": max(counts)},
        "arrived": len(arrived),
        "latency_s": {
            "p50": round(statistics.median(latencies), 2) if latencies else None,
            "p95": round(_percentile(latencies, 0.95), 2) if latencies else None,
            "max": round(max(latencies), 2) if latencies else None,
        },
        "batches": len(batches),
        "records_dropped": cumulative[-1],
        "fact_rows": fact_rows,
        "nothing_lost": fact_rows == cumulative[-1] and len(arrived) == len(files),
        "runs_reconcile": reconciles,
        "exit_code": proc.returncode,
    }


def _runs_reconcile(lake: Path) -> bool | None:
    from deltalake import DeltaTable

    path = lake / "_system" / "runs"
    if not (path / "_delta_log").exists():
        return None
    table = DeltaTable(str(path)).to_pyarrow_table(columns=["reconciles"])
    values = [v for v in table.column("reconciles").to_pylist() if v is not None]
    return bool(values) and all(values)


def markdown(r: dict) -> str:
    lat = r["latency_s"]
    return (
        "| files | rows/file (median) | batches | p50 | p95 | max | nothing lost | counts reconcile | load before/after |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
        f"| {r['files']} | {r['rows_per_file']['median']} | {r['batches']} | {lat['p50']} s | {lat['p95']} s "
        f"| {lat['max']} s | {r['nothing_lost']} | {r['runs_reconcile']} "
        f"| {r['machine']['loadavg_before'][0]:.1f} / {r['machine']['loadavg_after'][0]:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--duration", type=float, default=600, help="seconds of arrivals (default 600)")
    parser.add_argument("--every", type=float, default=5, help="seconds between two files (default 5)")
    parser.add_argument("--rows-per-file", type=int, default=1000, help="records per file (default 1000)")
    parser.add_argument("--interval", type=float, default=5, help="the watch's --interval (default 5)")
    parser.add_argument("--work-dir", help="where data and the lake go (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="lake-watch-")).resolve()
    result = measure(work, duration=args.duration, every=args.every, rows_per_file=args.rows_per_file,
                     interval=args.interval)
    if not args.work_dir:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown(result))
    return 0 if result["nothing_lost"] and result["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
