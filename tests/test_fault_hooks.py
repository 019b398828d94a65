"""The fault hook (lake/faults.py) and the lake lock (lake/lock.py) on their own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lake import faults
from lake.errors import LakeLockedError
from lake.lock import lake_lock
from lake.paths import LakePaths

REPO = Path(__file__).resolve().parents[1]


def _point_in_child(tmp_path, spec: str, point: str) -> subprocess.CompletedProcess:
    code = f"from lake.faults import fault_point\nfault_point({point!r})\nprint('survived')\n"
    env = dict(os.environ, PYTHONPATH=str(REPO), LAKE_FAULT=spec, LAKE_FAULT_LOG=str(tmp_path / "log"))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_kill_point_dies_by_sigkill_and_says_where(tmp_path):
    done = _point_in_child(tmp_path, "kill@silver.merge.before:*", "silver.merge.before:ura")
    assert done.returncode == -signal.SIGKILL and "survived" not in done.stdout
    assert (tmp_path / "log").read_text() == "silver.merge.before:ura\n"


def test_other_points_and_no_fault_do_nothing(tmp_path, monkeypatch):
    done = _point_in_child(tmp_path, "kill@silver.merge.before:chat", "silver.merge.before:ura")
    assert (done.returncode, done.stdout) == (0, "survived\n")
    monkeypatch.delenv("LAKE_FAULT", raising=False)
    faults.fault_point("anything")  # unset: a no-op


def test_two_threads_at_kill_points_at_once_log_one_point(tmp_path):
    """Steps side by side can reach matching kill points at once: one thread logs its point
    and kills the process, the other waits for the signal (its point is never logged). The
    signal is delayed a second here, so without that wait the second point would be logged."""
    code = (
        "import os, threading, time\n"
        "from lake import faults\n"
        "real = os.kill\n"
        "os.kill = lambda pid, sig: (time.sleep(1.0), real(pid, sig))\n"
        "meet = threading.Barrier(2)\n"
        "def at(point):\n"
        "    meet.wait()\n"
        "    faults.fault_point(point)\n"
        "threads = [threading.Thread(target=at, args=(p,)) for p in ('gold.write.before:a', 'gold.write.before:b')]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print('survived')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), LAKE_FAULT="kill@gold.write.before:*",
               LAKE_FAULT_LOG=str(tmp_path / "log"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL and "survived" not in done.stdout, done.stderr
    assert (tmp_path / "log").read_text() in ("gold.write.before:a\n", "gold.write.before:b\n")


def test_two_threads_at_a_raise_point_raise_once(monkeypatch):
    monkeypatch.setenv("LAKE_FAULT", "raise@gold.write.before:*")
    faults.reset()
    meet = threading.Barrier(2)
    raised = []

    def at(point):
        meet.wait()
        try:
            faults.fault_point(point)
        except faults.FaultInjected as exc:
            raised.append(str(exc))

    threads = [threading.Thread(target=at, args=(p,)) for p in ("gold.write.before:a", "gold.write.before:b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(raised) == 1, raised


def test_raise_fires_once_and_unknown_action_is_an_error(monkeypatch):
    monkeypatch.setenv("LAKE_FAULT", "raise@gold.write.before:dim_*")
    faults.reset()
    faults.fault_point("gold.write.after:dim_date")
    with pytest.raises(faults.FaultInjected, match="gold.write.before:dim_date"):
        faults.fault_point("gold.write.before:dim_date")
    faults.fault_point("gold.write.before:dim_agent")  # fired already in this process
    monkeypatch.setenv("LAKE_FAULT", "explode@x")
    with pytest.raises(ValueError, match="unknown action"):
        faults.fault_point("x")


def test_pause_waits_for_go(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKE_FAULT", "pause@run.locked")
    monkeypatch.setenv("LAKE_FAULT_DIR", str(tmp_path))
    faults.reset()
    passed = threading.Event()
    worker = threading.Thread(target=lambda: (faults.fault_point("run.locked"), passed.set()))
    worker.start()
    deadline = time.time() + 10
    while not (tmp_path / "run.locked.reached").exists():
        assert time.time() < deadline
        time.sleep(0.01)
    time.sleep(0.3)
    assert not passed.is_set()
    (tmp_path / "run.locked.go").write_text("go")
    worker.join(10)
    assert passed.is_set()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _write_lock(paths: LakePaths, **holder) -> Path:
    lock = Path(paths.system("_lock"))
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"run_id": "old", "started_at": "2026-11-26T00:00:00+00:00", **holder}))
    return lock


def test_lock_refuses_a_live_holder_takes_over_a_dead_one(spark, tmp_path):
    paths = LakePaths(str(tmp_path / "lake"))
    lock = _write_lock(paths, host=socket.gethostname(), pid=os.getpid())
    with pytest.raises(LakeLockedError, match=r"locked by run old \(pid \d+ on .*--wait SECONDS"):
        with lake_lock(spark, paths, "new"):
            pass
    _write_lock(paths, host="another-host", pid=_dead_pid())
    with pytest.raises(LakeLockedError):
        with lake_lock(spark, paths, "new"):
            pass
    _write_lock(paths, host=socket.gethostname(), pid=_dead_pid())
    with lake_lock(spark, paths, "new") as mine:
        assert json.loads(lock.read_text())["run_id"] == "new" == mine["run_id"]
    assert not lock.exists()


def test_lock_waits_for_the_holder(spark, tmp_path):
    paths = LakePaths(str(tmp_path / "lake"))
    lock = _write_lock(paths, host=socket.gethostname(), pid=os.getpid())
    threading.Timer(1.5, lock.unlink).start()
    started = time.monotonic()
    with lake_lock(spark, paths, "waiter", wait=30):
        assert time.monotonic() - started >= 1.0
    assert not lock.exists()
