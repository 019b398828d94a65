"""Benchmark every stage of the lake against what Spark itself does on the same input.

For each stage (bronze files, bronze JDBC, silver, gold star, flat CSV export, and an
incremental run that adds 1% new data) the script times the stage through
``lake.pipeline`` and, in the same Spark session, a *floor*: Spark reading the same input
and writing it with no transformation (files -> Delta, JDBC -> Delta, Delta -> Delta,
Delta -> one CSV). It samples the resident memory of the driver JVM and of this Python
process while each stage runs, writes JSON and prints a Markdown table.

A last stage, ``query``, runs ``lake query last-interaction`` as a real process five times
(median) against its floor, a bare ``python -c "import deltalake"`` process, and beside it
the same command with ``--engine spark`` (``--query-spark-runs``, default 3). With
``--query-only LAKE_ROOT`` only that stage runs, on an existing lake (the demo's). With
``--incremental-only`` the full run is one timed ``run()`` (no per-stage floors, no query
stage) followed by the incremental stage: the quick way to ``incremental_share_of_full``.

Usage:
    .venv/bin/python scripts/benchmark.py --rows 1000000 --out benchmarks/latest.json
    .venv/bin/python scripts/benchmark.py --rows 1000000 --incremental-only --out /tmp/inc.json
    .venv/bin/python scripts/benchmark.py --query-only lake-data --out /tmp/q.json
    .venv/bin/python scripts/benchmark.py --watch --out benchmarks/watch.json   # lake watch's latency
    .venv/bin/python scripts/benchmark.py --rows 20000 --out /tmp/b.json --work-dir /tmp/bench --keep

Spark runs with the project's defaults (``lake.session.get_spark``: ``local[2]`` and
Spark's default 1 GiB driver). Data generation is timed but is not a stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import logging
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("benchmark")

COOPERATIVE_TABLES = ("associado", "conta", "cartao", "movimento")
INCREMENT_SHARE = 0.01
INCREMENT_SEED = 4242
INCREMENTAL_STAGE = "incremental 1%"


# --------------------------------------------------------------------------- memory


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` found by scanning /proc (no psutil)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        # the command name is in parentheses and may hold spaces: ppid follows the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _is_java(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/comm", encoding="ascii") as fh:
            return fh.read().strip() == "java"
    except OSError:
        return False


class MemorySampler:
    """Peak RSS of the driver JVM (java descendants of this process) and of Python."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.jvm_peak = 0.0
        self.python_peak = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._jvm_pids: list[int] = []

    def _sample(self) -> None:
        if not self._jvm_pids:
            self._jvm_pids = [p for p in _children(os.getpid()) if _is_java(p)]
        jvm = sum(_rss_mib(p) for p in self._jvm_pids)
        self.jvm_peak = max(self.jvm_peak, jvm)
        self.python_peak = max(self.python_peak, _rss_mib(os.getpid()))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "MemorySampler":
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()


@dataclasses.dataclass
class Measure:
    seconds: float = 0.0
    jvm_peak_mib: float = 0.0
    python_peak_mib: float = 0.0
    jobs: int = 0


@contextmanager
def measured(spark, group: str):
    """Time a block, sample memory during it and count the Spark jobs it started."""
    m = Measure()
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    started = time.perf_counter()
    with MemorySampler() as mem:
        try:
            yield m
        finally:
            m.seconds = time.perf_counter() - started
    m.jvm_peak_mib, m.python_peak_mib = mem.jvm_peak, mem.python_peak
    m.jobs = len(sc.statusTracker().getJobIdsForGroup(group))
    sc.setLocalProperty("spark.jobGroup.id", None)
    sc.setLocalProperty("spark.job.description", None)


# --------------------------------------------------------------------------- data


def generate_data(landing: Path, db_path: Path, rows: int) -> dict:
    from lake.datagen import generate

    return generate(landing_dir=landing, database_url=f"jdbc:sqlite:{db_path}",
                    interactions=rows, transactions=rows, seed=42, realism=True, json_shape="lines")


def add_increment(landing: Path, inc_dir: Path, db_path: Path, rows: int) -> dict:
    """1% new data for both pipelines, delivered as the field delivers it.

    Customer experience: new channel files (another seed, new names). Cooperative: 1% more
    transactions (copies of existing ones with ids above the current maximum, so their cards
    exist), then a few changes of rows an earlier run already read, by real SQL: UPDATEs of
    1% of the members, accounts and cards and of 0.1% of the transactions (a late correction),
    DELETEs of 0.1% of the transactions and of the card with the fewest transactions, with
    them. A source
    table with an ``updated_at`` column (a configured change column) has it moved by every
    UPDATE, as an application would.
    """
    from lake.datagen import generate_channel_files

    extra = max(1, int(rows * INCREMENT_SHARE))
    staging = inc_dir / "staging"
    manifest = generate_channel_files(staging, interactions=extra, seed=INCREMENT_SEED,
                                      malformed_share=0.01, duplicate_share=0.01, json_shape="lines")
    inc_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for path in sorted(staging.iterdir()):
        stem, dot, ext = path.name.partition(".")
        moved = landing / f"{stem}_inc{dot}{ext}"
        shutil.move(str(path), moved)
        files.append(str(moved))
    staging.rmdir()
    con = sqlite3.connect(db_path)
    try:
        (max_id,) = con.execute("SELECT max(id) FROM movimento").fetchone()
        con.execute(
            "INSERT INTO movimento (id, vlr_transacao, des_transacao, data_movimento, id_cartao) "
            "SELECT id + ?, vlr_transacao, des_transacao, data_movimento, id_cartao "
            "FROM movimento WHERE id <= (SELECT min(id) FROM movimento) + ? - 1",
            (max_id, extra),
        )
        (added,) = con.execute("SELECT count(*) FROM movimento WHERE id > ?", (max_id,)).fetchone()
        changes = _change_rows(con, max_id, extra)
        con.commit()
    finally:
        con.close()
    return {"files": files, "interactions": manifest["interactions"], "transactions": added,
            "updated": changes["updated"], "deleted": changes["deleted"], "first_new_id": max_id + 1}


def _change_rows(con: sqlite3.Connection, max_id: int, extra: int) -> dict[str, int]:
    """UPDATE and DELETE rows delivered before (ids up to ``max_id``); rows affected per kind."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.000")

    def touch(table: str) -> str:
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        return f", updated_at = '{stamp}'" if "updated_at" in cols else ""

    def every(table: str, share: float, upto: int | None = None, offset: int = 0) -> str:
        """A predicate picking about ``share`` of ``table``'s rows (at least one), spread over
        its ids; another ``offset``, other rows."""
        (n,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        step = max(2, round(1 / share) if n * share >= 1 else n)
        bound = f" AND id <= {int(upto)}" if upto is not None else ""
        return f"id % {step} = {(step // 2 + offset) % step}{bound}"

    updated = deleted = 0
    statements = [
        f"UPDATE associado SET sobrenome = sobrenome || ' Atualizado'{touch('associado')} "
        f"WHERE {every('associado', 0.01)}",
        f"UPDATE conta SET tipo = CASE WHEN tipo = 'poupanca' THEN 'corrente' ELSE 'poupanca' END"
        f"{touch('conta')} WHERE {every('conta', 0.01)}",
        f"UPDATE cartao SET nom_impresso = nom_impresso || ' II'{touch('cartao')} WHERE {every('cartao', 0.01)}",
        f"UPDATE movimento SET vlr_transacao = vlr_transacao + 1, des_transacao = 'ajuste tardio'"
        f"{touch('movimento')} WHERE {every('movimento', 0.001, max_id)}",
    ]
    for statement in statements:
        updated += con.execute(statement).rowcount
    deleted += con.execute(f"DELETE FROM movimento WHERE {every('movimento', 0.001, max_id, offset=1)}").rowcount
    (card,) = con.execute("SELECT k.id FROM cartao k JOIN movimento m ON m.id_cartao = k.id GROUP BY k.id "
                          "ORDER BY count(*), k.id LIMIT 1").fetchone()  # the card with fewest transactions
    deleted += con.execute("DELETE FROM movimento WHERE id_cartao = ?", (card,)).rowcount
    deleted += con.execute("DELETE FROM cartao WHERE id = ?", (card,)).rowcount
    return {"updated": updated, "deleted": deleted}


# --------------------------------------------------------------------------- floors


def _string_schema(columns):
    from pyspark.sql.types import StringType, StructField, StructType

    return StructType([StructField(c, StringType()) for c in columns])


def floor_files(spark, cfg, files: dict[str, list[str]], out: str) -> None:
    """Landing files -> Delta, one table per source, no transformation."""
    for source in cfg.file_sources():
        paths = files.get(source.name)
        if not paths:
            continue
        reader = spark.read.schema(_string_schema(source.columns))
        if source.format.value == "csv":
            df = reader.options(header="true", sep=source.csv.delimiter, quote=source.csv.quote,
                                escape=source.csv.escape).csv(paths)
        else:
            df = reader.json(paths)
        # Delta refuses spaces and parentheses in names without column mapping: rename only.
        df = df.toDF(*[f"_c{i}" for i in range(len(df.columns))])
        df.write.format("delta").mode("overwrite").save(f"{out}/files/{source.name}")


def floor_jdbc(spark, cfg, out: str, *, min_id: int | None = None) -> None:
    """The four cooperative tables over JDBC -> Delta, no transformation.

    With ``min_id`` (the increment): only the new ``movimento`` rows, and the three small
    tables in full, the least that shows their UPDATEs and DELETEs without a change column.
    """
    for source in cfg.jdbc_sources():
        table = source.table
        if min_id is not None and table == "movimento":
            table = f"(SELECT * FROM movimento WHERE id >= {int(min_id)}) AS t"
        df = spark.read.jdbc(cfg.jdbc.url, table, properties={"driver": "org.sqlite.JDBC"})
        df.write.format("delta").mode("overwrite").save(f"{out}/jdbc/{source.name}")


def floor_delta(spark, sources: list[str], out: str) -> None:
    """Delta -> Delta, unchanged."""
    for i, path in enumerate(sources):
        df = spark.read.format("delta").load(path)
        # bronze keeps the sources' names (spaces, parentheses) through column mapping; the
        # floor renames them instead so it needs no table feature
        df = df.toDF(*[f"_c{j}" for j in range(len(df.columns))])
        df.write.format("delta").mode("overwrite").save(f"{out}/{i}")


def floor_csv(spark, source: str, out: str) -> None:
    """Delta -> ONE CSV file."""
    (spark.read.format("delta").load(source).coalesce(1).write.mode("overwrite")
     .option("header", "true").csv(out))


# --------------------------------------------------------------------------- stages


def _landing_files(cfg, landing: Path, *, only: list[str] | None = None) -> dict[str, list[str]]:
    import fnmatch

    names = sorted(p.name for p in landing.iterdir() if p.is_file())
    if only is not None:
        names = [n for n in names if str(landing / n) in only]
    found = {}
    for source in cfg.file_sources():
        matched = [str(landing / n) for n in names if any(fnmatch.fnmatch(n, pat) for pat in source.patterns)]
        found[source.name] = matched
    return found


def _rows(report, layer: str | None = None) -> int:
    return sum(c.rows_in for c in report.counts if layer is None or c.layer == layer)


def _alive(spark) -> bool:
    try:
        return not spark.sparkContext._jsc.sc().isStopped()
    except Exception:  # the JVM itself is gone
        return False


def run_benchmark(rows: int, work: Path, progress: Path | None = None, *, query_spark_runs: int = 3,
                  incremental_only: bool = False, query: bool = True) -> dict:
    """Every stage with its floor, then the query stage (``query=False``: none).
    ``incremental_only``: the full run is ONE stage (``run()`` of every pipeline and layer, no
    floor), then the incremental 1% stage with its floor, and no query stage: the quick way
    to ``incremental_share_of_full``."""
    from lake.config import load_config
    from lake.paths import LakePaths
    from lake.pipeline import run
    from lake.session import get_spark

    landing, db_path = work / "landing", work / "cooperative.db"
    lake_root, output, floors = work / "lake", work / "output", work / "floors"
    for p in (landing, lake_root, output, floors):
        if p.exists():
            shutil.rmtree(p)
    if db_path.exists():
        db_path.unlink()

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    manifest = generate_data(landing, db_path, rows)
    generation = {"seconds": round(time.perf_counter() - started, 2), "detail": manifest["seconds"]}
    log.info("generated %d interactions and %d transactions in %.1fs", rows, rows, generation["seconds"])

    cfg = load_config(ROOT / "conf" / "lake.yml").with_overrides(
        root=str(lake_root), landing=str(landing), output_dir=str(output))
    cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=f"jdbc:sqlite:{db_path}"))
    paths = LakePaths(str(lake_root))

    spark = get_spark()
    spark.range(1).count()  # JVM start-up and jar loading are not part of any stage
    results: list[dict] = []
    dead: list[str] = []

    def stage(name: str, work_fn, floor_fn, rows_fn) -> None:
        entry: dict = {"stage": name}
        results.append(entry)
        if dead:
            entry["error"] = f"skipped: the Spark driver died in an earlier stage ({dead[0]})"
            return
        m = Measure()
        try:
            with measured(spark, name) as m:
                value = work_fn()
        except Exception as exc:  # a failed stage is reported, the others still run
            log.exception("stage %s failed", name)
            entry.update({"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
                          "seconds": round(m.seconds, 2), "rows": 0})
            value = None
            if not _alive(spark):
                dead.append(name)
                return
        if value is not None:
            n = rows_fn(value)
            entry.update({
                "rows": n, "seconds": round(m.seconds, 2),
                "rows_per_second": round(n / m.seconds) if m.seconds else None,
                "peak_rss_mib": round(m.jvm_peak_mib + m.python_peak_mib),
                "peak_jvm_rss_mib": round(m.jvm_peak_mib), "peak_python_rss_mib": round(m.python_peak_mib),
                "spark_jobs": m.jobs,
            })
        if floor_fn is not None:  # (the full run of --incremental-only has none)
            try:
                f = Measure()
                with measured(spark, name + " floor") as f:
                    floor_fn()
                entry.update({"floor_seconds": round(f.seconds, 2), "floor_spark_jobs": f.jobs,
                              "floor_peak_jvm_rss_mib": round(f.jvm_peak_mib)})
                if value is not None and f.seconds:
                    entry["ratio_to_floor"] = round(m.seconds / f.seconds, 2)
            except Exception as exc:
                log.exception("floor of %s failed", name)
                entry["floor_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        log.info("stage done: %s", json.dumps(entry))
        if progress is not None:
            progress.write_text(json.dumps({"rows": rows, "partial": True, "stages": results}, indent=2) + "\n",
                                encoding="utf-8")

    fl = str(floors)
    if incremental_only:
        stage("full run", lambda: run(cfg, spark=spark), None, lambda r: _rows(r, "bronze"))
    else:
        files = _landing_files(cfg, landing)
        stage("bronze files",
              lambda: run(cfg, pipeline="customer_experience", layer="bronze", spark=spark),
              lambda: floor_files(spark, cfg, files, f"{fl}/bronze"), lambda r: _rows(r))
        stage("bronze jdbc",
              lambda: run(cfg, pipeline="cooperative", layer="bronze", spark=spark),
              lambda: floor_jdbc(spark, cfg, f"{fl}/bronze"), lambda r: _rows(r))
        bronze_tables = [paths.bronze(s.name) for s in cfg.file_sources()] + \
                        [paths.bronze(s.name) for s in cfg.jdbc_sources()]
        stage("silver",
              lambda: run(cfg, layer="silver", spark=spark),
              lambda: floor_delta(spark, bronze_tables, f"{fl}/silver"), lambda r: _rows(r))
        stage("gold star",
              lambda: run(cfg, pipeline="customer_experience", layer="gold", spark=spark),
              lambda: floor_delta(spark, [paths.silver("interactions")], f"{fl}/gold"),
              lambda r: next((c.rows_in for c in r.counts if c.table == "fact_interaction"), _rows(r)))
        stage("flat csv export",
              lambda: run(cfg, pipeline="cooperative", layer="gold", spark=spark),
              lambda: floor_csv(spark, paths.gold("movimento_flat"), f"{fl}/csv"), lambda r: _rows(r))
    full_seconds = sum(r.get("seconds", 0) for r in results)
    floors_seconds = sum(r.get("floor_seconds", 0) for r in results)
    if dead or any("error" in r or "floor_error" in r for r in results):
        floors_seconds = 0.0
    if dead:
        full_seconds = 0.0

    increment = add_increment(landing, work / "increment", db_path, rows)
    new_files = _landing_files(cfg, landing, only=increment["files"])
    stage(INCREMENTAL_STAGE,
          lambda: run(cfg, spark=spark),
          lambda: (floor_files(spark, cfg, new_files, f"{fl}/inc"),
                   floor_jdbc(spark, cfg, f"{fl}/inc", min_id=increment["first_new_id"])),
          lambda r: sum(increment[k] for k in ("interactions", "transactions", "updated", "deleted")))

    if query and not incremental_only:
        try:
            results.append(query_stage(lake_root, spark_runs=query_spark_runs))
        except Exception as exc:  # reported like any failed stage
            log.exception("stage query failed")
            results.append({"stage": "query", "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
    inc = next(r for r in results if r["stage"] == INCREMENTAL_STAGE)

    import pyspark

    try:
        import delta  # noqa: F401
        from importlib.metadata import version as _version

        delta_version = _version("delta-spark")
    except Exception:  # pragma: no cover - metadata only
        delta_version = "unknown"
    try:  # metadata only, not in a pipeline path
        java = spark.sparkContext._jvm.System.getProperty("java.version")
        spark_meta = {"master": spark.sparkContext.master,
                      "driver_memory": spark.conf.get("spark.driver.memory", "1g (Spark default)"),
                      "shuffle_partitions": spark.conf.get("spark.sql.shuffle.partitions")}
    except Exception:
        java, spark_meta = "unknown (driver died)", {"master": "local[2]", "driver_memory": "1g (Spark default)"}
    loadavg = os.getloadavg()
    return {
        "rows": rows,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                    "memory_mib": _mem_total_mib(), "loadavg_at_start": load_at_start,
                    "loadavg_at_end": [round(x, 2) for x in loadavg]},
        "versions": {"python": platform.python_version(), "pyspark": pyspark.__version__,
                     "delta_spark": delta_version, "java": java},
        "spark": spark_meta,
        "generation": generation,
        "increment": {k: increment[k] for k in ("interactions", "transactions", "updated", "deleted")},
        "incremental_only": incremental_only,
        "full_run_seconds": round(full_seconds, 2),
        # the five full stages against the sum of their floors (issue 14: at most 3x at 2 000 rows)
        "full_run_floors_seconds": round(floors_seconds, 2) if floors_seconds else None,
        "full_run_ratio_to_floors": (round(full_seconds / floors_seconds, 2)
                                     if floors_seconds and full_seconds and not incremental_only else None),
        "incremental_share_of_full": (round(inc["seconds"] / full_seconds, 3)
                                      if full_seconds and "error" not in inc else None),
        "stages": results,
    }


# --------------------------------------------------------------------------- query stage


def _timed_process(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Run ``cmd`` to the end: wall seconds, its peak RSS in MiB (``wait4``), and its stdout.
    A failure raises with the process's last error line."""
    import subprocess

    with tempfile.TemporaryFile(mode="w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=err, text=True)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd[:4])}... exited {proc.returncode}: {err.read().strip()[-300:]}")
    return seconds, usage.ru_maxrss / 1024.0, out


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def query_stage(lake_root: Path, *, config: Path = ROOT / "conf" / "lake.yml", runs: int = 5,
                spark_runs: int = 3) -> dict:
    """``lake query last-interaction`` as a real process, ``runs`` times (median), against its
    floor ``python -c "import deltalake"`` (median of as many runs); then the same command
    with ``--engine spark`` (median of ``spark_runs``), which starts a JVM each time."""
    lake_cmd = Path(sys.executable).with_name("lake")
    base = [str(lake_cmd)] if lake_cmd.exists() else [sys.executable, "-m", "lake.cli"]
    query = base + ["query", "last-interaction", "--config", str(config), "--lake-root", str(lake_root),
                    "--format", "csv"]
    floor_cmd = [sys.executable, "-c", "import deltalake"]
    load_before = [round(x, 2) for x in os.getloadavg()]
    fast, floor, peaks, answer = [], [], [], ""
    for _ in range(runs):  # interleaved, so load changes hit both alike
        seconds, peak, answer = _timed_process(query, ROOT)
        fast.append(seconds)
        peaks.append(peak)
        floor.append(_timed_process(floor_cmd, ROOT)[0])
    spark = [_timed_process(query + ["--engine", "spark"], ROOT) for _ in range(spark_runs)]
    same = all(out == answer for _, _, out in spark)
    entry = {
        "stage": "query",
        "command": "lake query last-interaction --format csv",
        "rows": max(len(answer.splitlines()) - 1, 0),
        "seconds": round(_median(fast), 3),
        "runs_seconds": [round(x, 3) for x in fast],
        "rows_per_second": None,
        "peak_rss_mib": round(max(peaks)),
        "spark_jobs": 0,
        "floor": "python -c 'import deltalake'",
        "floor_seconds": round(_median(floor), 3),
        "floor_runs_seconds": [round(x, 3) for x in floor],
        "spark_engine_seconds": round(_median([x for x, _, _ in spark]), 2) if spark else None,
        "spark_engine_runs_seconds": [round(x, 2) for x, _, _ in spark],
        "spark_engine_same_answer": same,
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    entry["ratio_to_floor"] = round(entry["seconds"] / entry["floor_seconds"], 2) if entry["floor_seconds"] else None
    if spark and not same:
        entry["error"] = "lake query --engine spark printed a different answer"
    log.info("stage done: %s", json.dumps(entry))
    return entry


def query_markdown(r: dict) -> str:
    return (f"| query (`lake query last-interaction`) | {r['rows']:,} answer rows | median {r['seconds']:.2f} s "
            f"of {r['runs_seconds']} | floor `import deltalake` {r['floor_seconds']:.2f} s | ratio "
            f"{r['ratio_to_floor']:.2f} | `--engine spark` {r['spark_engine_seconds']} s "
            f"(same answer: {r['spark_engine_same_answer']}) | load {r['loadavg_before']} |")


def _mem_total_mib() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        return int(fh.readline().split()[1]) // 1024


def markdown(result: dict) -> str:
    lines = ["| stage | rows | seconds | rows/s | peak RSS MiB (JVM+Py) | Spark jobs | floor s | ratio to floor |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["stages"]:
        if r["stage"] == "query" and "error" not in r:
            continue  # its own line below
        if "error" in r:
            lines.append(f"| {r['stage']} | failed: {r['error']} |||||||")
            continue
        floor = (f"{r['floor_seconds']:.1f} | {r['ratio_to_floor']:.2f}" if "ratio_to_floor" in r
                 else f"failed: {r['floor_error']} | -" if "floor_error" in r else "- | -")
        lines.append(
            f"| {r['stage']} | {r['rows']:,} | {r['seconds']:.1f} | {r['rows_per_second'] or 0:,} | "
            f"{r['peak_rss_mib']:,} ({r['peak_jvm_rss_mib']:,}+{r['peak_python_rss_mib']:,}) | "
            f"{r['spark_jobs']} (floor {r.get('floor_spark_jobs', '-')}) | {floor} |")
    lines.append("")
    full = "one run()" if result.get("incremental_only") else "first five stages"
    floors = (f" = {result['full_run_ratio_to_floors']:.2f}x the sum of its floors "
              f"({result['full_run_floors_seconds']:.1f} s)" if result.get("full_run_ratio_to_floors") else "")
    lines.append(f"Full run ({full}): {result['full_run_seconds']:.1f} s{floors}; incremental 1% = "
                 f"{100 * (result['incremental_share_of_full'] or 0):.1f}% of it. Generation "
                 f"(not a stage): {result['generation']['seconds']:.1f} s.")
    for r in result["stages"]:
        if r["stage"] == "query" and "error" not in r:
            lines += ["", query_markdown(r)]
    if result.get("small"):
        lines += ["", f"Small batch, {result['small']['rows']:,} rows (same session, run first):", "",
                  markdown(result["small"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="interactions and transactions to generate (default 1,000,000)")
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--work-dir", help="where data and the lake go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir afterwards")
    parser.add_argument("--query-only", metavar="LAKE_ROOT",
                        help="only the query stage, on an existing lake (e.g. the demo's lake-data)")
    parser.add_argument("--query-spark-runs", type=int, default=3,
                        help="runs of 'lake query --engine spark' in the query stage (default 3)")
    parser.add_argument("--incremental-only", action="store_true",
                        help="the full run as ONE stage without floors, then the incremental 1%% stage "
                             "with its floor; no query stage (the quick way to incremental_share_of_full)")
    parser.add_argument("--small-rows", type=int, default=0, metavar="N",
                        help="first run every stage at N rows too (e.g. 2000: the small-batch cost), in "
                             "the same Spark session, reported under 'small' beside the main run")
    parser.add_argument("--watch", action="store_true",
                        help="measure lake watch's latency instead (scripts/watch_latency.py: 1 000-row "
                             "files, one every 5 s, for 10 minutes)")
    args, rest = parser.parse_known_args(argv)
    if args.watch:
        import watch_latency

        work_dir = ["--work-dir", args.work_dir] if args.work_dir else []
        return watch_latency.main(["--out", args.out, *work_dir, *rest])
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.query_only:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        entry = query_stage(Path(args.query_only).resolve(), spark_runs=args.query_spark_runs)
        result = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                  "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
                  "lake_root": str(Path(args.query_only).resolve()), "stages": [entry]}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(query_markdown(entry) if "error" not in entry else entry["error"])
        return 1 if "error" in entry else 0
    if args.rows < 100:
        parser.error("--rows: expected at least 100")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="lake-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        small = None
        if args.small_rows:
            small = run_benchmark(args.small_rows, (work / "small").resolve(), Path(args.out),
                                  incremental_only=args.incremental_only, query=False)
        result = run_benchmark(args.rows, work.resolve(), Path(args.out), query_spark_runs=args.query_spark_runs,
                               incremental_only=args.incremental_only)
        if small is not None:
            result["small"] = small
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(markdown(result))
    return 1 if any("error" in r or "floor_error" in r for r in result["stages"]) else 0


if __name__ == "__main__":
    sys.exit(main())
