"""`lake watch` (issue 11): micro-batches on one Spark session, picked up as files are renamed
into place, stopped by SIGTERM, restarted after a SIGKILL mid-batch.

The reference is ONE `lake.pipeline.run` over the same 20 files on an empty lake, in this
process: the expected tables never come from the watch under test. Compared as multisets
(duplicates visible): `gold.fact_interaction` without the columns that record how a row was
processed, and the three answers at one fixed `as_of`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from lake.bronze.files import in_flight
from lake.config import load_config
from lake.datagen import generate
from lake.gold import answers
from lake.ledger import TableCounts
from lake.paths import LakePaths
from lake.pipeline import run
from lake.watch import BatchProgress, layer_totals
from tests import SHORT_JVM_OPTS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
NOW = datetime(2026, 1, 1, 12, 0, 0)
AS_OF = "2026-01-01 12:00:00"
FILES_PER_CHANNEL = 5  # x 4 channels = 20 files
#: fact columns that record how a row was processed (which run), not what it is
VOLATILE = ("_run_id",)


# ------------------------------------------------------------------ pure parts, no Spark


def test_in_flight_names_are_not_deliveries():
    assert [in_flight(n) for n in ("chat_1.json", "Whatsapp.csv", "email_2.csv")] == [False] * 3
    assert all(
        in_flight(n) for n in (".chat_1.json", "_chat_1.json", "chat_1.json._COPYING_", "chat_1.json.tmp")
    )


def test_layer_totals_and_progress_line():
    counts = [
        TableCounts("ura", "bronze", 3, 3),
        TableCounts("chat", "bronze", 2, 2),
        TableCounts("ura", "silver", 3, 2, quarantined=1),
        TableCounts("x", "gold", -1, 4),  # an unmeasured count does not subtract
    ]
    assert layer_totals(counts) == {"bronze": (5, 5, 0), "silver": (3, 2, 1), "gold": (0, 4, 0)}
    line = BatchProgress(3, "r-w3", ("customer_experience",), 2, layer_totals(counts), 4.0, 6.5).line()
    assert line.startswith("batch 3 customer_experience: files 2") and "latency 6.5s" in line


# ------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """20 channel files (5 per channel) written once into a staging folder."""
    staging = tmp_path_factory.mktemp("watch-staging")
    generate(
        landing_dir=str(staging),
        database_url=None,
        interactions=160,
        seed=23,
        now=NOW,
        files_per_channel=FILES_PER_CHANNEL,
    )
    files = sorted(p for p in staging.iterdir() if p.is_file())
    assert len(files) == 4 * FILES_PER_CHANNEL, [p.name for p in files]
    return files


def _cfg(base: Path, landing: Path):
    cfg = load_config(CONF).with_overrides(
        root=str(base / "lake"), landing=str(landing), output_dir=str(base / "out")
    )
    return dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=None))


def _rows(spark, df, drop=()) -> Counter:
    return Counter(tuple(r) for r in df.drop(*drop).collect())


def _lake_answers(spark, root: str) -> dict[str, Counter]:
    paths = LakePaths(root)
    tz = "America/Sao_Paulo"
    return {
        name: _rows(spark, getattr(answers, name)(spark, as_of=AS_OF, timezone=tz, paths=paths))
        for name in ("contacts_24h", "interactions_by_channel", "last_interaction")
    }


@pytest.fixture(scope="module")
def reference(spark, delivered, tmp_path_factory):
    """ONE batch run over the 20 files: the fact rows and the answers the watch must reach."""
    base = tmp_path_factory.mktemp("watch-reference")
    landing = base / "landing"
    landing.mkdir()
    for f in delivered:
        shutil.copy2(f, landing / f.name)
    cfg = _cfg(base, landing)
    run(cfg, pipeline="customer_experience", spark=spark, as_of=AS_OF)
    fact = spark.read.format("delta").load(LakePaths(cfg.lake.root).gold("fact_interaction"))
    return {"fact": _rows(spark, fact, VOLATILE), "answers": _lake_answers(spark, cfg.lake.root)}


def _cwd(base: Path) -> Path:
    """A working directory without a ``lake`` folder: ``python -m`` puts the cwd first on
    sys.path, where the lake root (``base/lake``) would shadow the package."""
    cwd = base / "cwd"
    cwd.mkdir(exist_ok=True)
    return cwd


def _start_watch(base: Path, landing: Path, *extra_env: tuple[str, str]) -> subprocess.Popen:
    env = dict(os.environ, LAKE_SPARK_LOG_LEVEL="ERROR", SPARK_SUBMIT_OPTS=SHORT_JVM_OPTS)
    for name in ("LAKE_CLOCK", "LAKE_FAULT", "LAKE_FAULT_LOG"):
        env.pop(name, None)
    env.update(dict(extra_env))
    log = open(base / "watch.log", "a", encoding="utf-8")  # noqa: SIM115 (closed by the caller's wait)
    return subprocess.Popen(
        [
            sys.executable, "-m", "lake.cli", "watch",
            "--pipeline", "customer_experience",
            "--interval", "2",
            "--config", str(CONF),
            "--lake-root", str(base / "lake"),
            "--landing", str(landing),
            "--output-dir", str(base / "out"),
        ],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=_cwd(base),
    )  # fmt: skip


def _fact_rows(base: Path) -> int:
    """Rows of the watched lake's fact table, read without Spark (delta-rs); 0 before it exists."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = base / "lake" / "gold" / "fact_interaction"
    try:  # a _delta_log without a commit yet (being created, or left by the kill) is no table
        return DeltaTable(str(path)).to_pyarrow_dataset().count_rows()
    except TableNotFoundError:
        return 0


def _wait_for_rows(proc: subprocess.Popen, base: Path, rows: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while _fact_rows(base) < rows:
        assert proc.poll() is None, (base / "watch.log").read_text()[-4000:]
        assert time.monotonic() < deadline, f"{_fact_rows(base)} of {rows} rows after {timeout}s"
        time.sleep(1)


def _wait_for_log(proc: subprocess.Popen, base: Path, text: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while text not in (base / "watch.log").read_text():
        assert proc.poll() is None, (base / "watch.log").read_text()[-4000:]
        assert time.monotonic() < deadline, f"no {text!r} in the watch's log after {timeout}s"
        time.sleep(0.5)


def _stop(proc: subprocess.Popen, base: Path) -> str:
    proc.send_signal(signal.SIGTERM)  # to the Python process only, as systemd/Kubernetes do
    code = proc.wait(timeout=600)
    text = (base / "watch.log").read_text()
    assert code == 0, text[-4000:]
    return text


def _check_against_reference(spark, base: Path, reference) -> None:
    fact = spark.read.format("delta").load(str(base / "lake" / "gold" / "fact_interaction"))
    got = _rows(spark, fact, VOLATILE)
    assert got == reference["fact"]  # every record exactly once (a duplicate shows in the Counter)
    assert _lake_answers(spark, str(base / "lake")) == reference["answers"]


def _drop_into_place(src: Path, landing: Path, *, half_first: bool = False, pause: float = 0.0) -> None:
    """Write ``src`` under an in-flight name (``hadoop fs -put``'s, which the source's name
    pattern matches), then rename it into place (atomic)."""
    tmp = landing / f"{src.name}._COPYING_"
    data = src.read_bytes()
    if half_first:  # a writer that is slow: half the bytes sit in landing for a while
        tmp.write_bytes(data[: len(data) // 2])
        time.sleep(pause)
        with open(tmp, "ab") as fh:
            fh.write(data[len(data) // 2 :])
    else:
        tmp.write_bytes(data)
    os.replace(tmp, landing / src.name)


# ------------------------------------------------------------------ the watch


def test_watch_takes_files_renamed_into_place_and_stops_on_sigterm(spark, delivered, reference, tmp_path):
    """Issue 11's Done-when: `lake watch --interval 2`, 20 files dropped one by one while it
    runs (the first one written slowly under a hidden name), SIGTERM: every record once,
    answers equal to one batch run's."""
    landing = tmp_path / "landing"
    landing.mkdir()
    proc = _start_watch(tmp_path, landing)
    try:
        _wait_for_log(proc, tmp_path, "batch 1 ")  # the first batch (empty landing) is done
        # the first file sits half-written across several ticks: never read half
        _drop_into_place(delivered[0], landing, half_first=True, pause=6)
        for f in delivered[1:]:
            _drop_into_place(f, landing)
            time.sleep(0.5)
        _wait_for_rows(proc, tmp_path, sum(reference["fact"].values()))
    finally:
        text = _stop(proc, tmp_path) if proc.poll() is None else (tmp_path / "watch.log").read_text()
    assert "stopped after" in text
    batches = [ln for ln in text.splitlines() if " batch " in ln and "files" in ln]
    assert batches and not any("FAILED" in ln for ln in batches), text[-4000:]
    # the files of all batches add up to the 20 delivered, each counted once
    files = sum(int(ln.split("files ")[1].split()[0]) for ln in batches)
    assert files == len(delivered), batches
    _check_against_reference(spark, tmp_path, reference)


def test_watch_killed_mid_batch_converges_on_restart(spark, delivered, reference, tmp_path):
    """A real SIGKILL at fixed points of a batch (after silver, before gold; then inside
    gold's writes), a restart each time: nothing lost, nothing twice."""
    landing = tmp_path / "landing"
    landing.mkdir()
    half = len(delivered) // 2
    for f in delivered[:half]:
        _drop_into_place(f, landing)
    died = tmp_path / "died.log"
    for point in ("stage.after:customer_experience.silver", "gold.write.before:*"):
        proc = _start_watch(tmp_path, landing, ("LAKE_FAULT", f"kill@{point}"), ("LAKE_FAULT_LOG", str(died)))
        code = proc.wait(timeout=900)
        assert code == -signal.SIGKILL, (tmp_path / "watch.log").read_text()[-4000:]
        if point.startswith("stage"):  # more files arrive while the watch is down
            for f in delivered[half:]:
                _drop_into_place(f, landing)
    assert len(died.read_text().splitlines()) == 2
    proc = _start_watch(tmp_path, landing)
    try:
        _wait_for_rows(proc, tmp_path, sum(reference["fact"].values()))
    finally:
        if proc.poll() is None:
            _stop(proc, tmp_path)
    _check_against_reference(spark, tmp_path, reference)


def test_lake_watch_handle_in_process(spark, delivered, reference, tmp_path):
    """`Lake.watch()` from a notebook: a handle with progress, wait() and stop()."""
    from lake.api import Lake

    landing = tmp_path / "landing"
    landing.mkdir()
    lk = Lake(_cfg(tmp_path, landing), spark=spark)
    handle = lk.watch(pipeline="customer_experience", interval=1)
    try:
        assert handle.wait(batches=1, timeout=600), handle.error
        assert handle.progress[0].files == 0  # an empty landing: one batch, nothing in it
        for f in delivered:
            _drop_into_place(f, landing)
        deadline = time.monotonic() + 900
        while sum(p.files for p in handle.progress) < len(delivered):  # one batch or a few
            assert handle.running and time.monotonic() < deadline, (handle.error, handle.progress)
            handle.wait(batches=len(handle.progress) + 1, timeout=60)
        batches = handle.progress[1:]
        assert sum(p.files for p in batches) == len(delivered)
        assert all(p.error is None for p in batches)
        assert sum(p.layers["bronze"][1] for p in batches) > 0
        assert all(p.latency is not None for p in batches if p.files)
    finally:
        handle.stop(timeout=600)
    assert not handle.running and handle.error is None
    _check_against_reference(spark, tmp_path, reference)
    from lake.status import status  # each batch is a run of its own in `lake status`

    shown = status(spark, lk.config, limit=len(handle.progress))
    assert all(p.run_id in shown for p in handle.progress), shown
