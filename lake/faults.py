"""Deterministic fault injection: named points a test (or an operator) can stop a run at.

A test and operations facility, not a feature: the pipeline calls :func:`fault_point` at
every stage boundary and around every write (see docs/reliability.md for the list). With
``LAKE_FAULT`` unset a point costs one dictionary lookup and does nothing.

``LAKE_FAULT`` holds ``action@pattern`` items separated by ``;`` (patterns are shell globs
matched against the point's name):

- ``kill@silver.merge.before:ura`` -- the process sends itself SIGKILL at that point, as a
  power cut would (no ``finally``, no atexit, no flush). Before dying it appends the point's
  name to ``$LAKE_FAULT_LOG`` (when set), so a test can prove where the process died.
- ``pause@bronze.jdbc.before_read:*`` -- the process writes ``<point>.reached`` into
  ``$LAKE_FAULT_DIR`` and waits until ``<point>.go`` appears there (another process decides
  when the run goes on: stop a database, start a second run, ...).
- ``raise@gold.write.before:*`` -- raises :class:`FaultInjected` (an ordinary failure).

Each item fires at the first point its pattern matches (``kill`` ends everything anyway;
``pause`` and ``raise`` fire once per process), also when steps running side by side reach
matching points at once: one thread fires, a second one reaching a ``kill`` waits for the
signal.

Example:
    LAKE_FAULT='kill@silver.merge.before:ura' LAKE_FAULT_LOG=/tmp/died lake run
"""

from __future__ import annotations

import fnmatch
import logging
import os
import signal
import threading
import time

log = logging.getLogger(__name__)

ENV = "LAKE_FAULT"
ENV_LOG = "LAKE_FAULT_LOG"
ENV_DIR = "LAKE_FAULT_DIR"
ENV_PAUSE_TIMEOUT = "LAKE_FAULT_PAUSE_TIMEOUT"

_fired: set[str] = set()
_FIRING = threading.Lock()
_DYING = threading.Lock()


class FaultInjected(RuntimeError):
    """Raised at a point named by ``raise@<pattern>`` in ``LAKE_FAULT``."""


def reset() -> None:
    """Forget which ``pause``/``raise`` items fired (tests that inject twice in one process)."""
    _fired.clear()


def _file_name(point: str) -> str:
    return point.replace("/", "_")


def fault_point(point: str) -> None:
    """Mark a named point of the run; does nothing unless ``LAKE_FAULT`` names it.

    Args:
        point: ``<layer>.<step>.<before|after>[:<table>]``, e.g. ``silver.merge.before:ura``.

    Example:
        >>> fault_point("bronze.append.after:ura")  # a no-op without LAKE_FAULT
    """
    spec = os.environ.get(ENV)
    if not spec:
        return
    for item in spec.split(";"):
        action, _, pattern = item.strip().partition("@")
        if not pattern or not fnmatch.fnmatchcase(point, pattern):
            continue
        if action == "kill":
            _kill(point)
        if action not in ("pause", "raise"):
            raise ValueError(f"{ENV}: unknown action {action!r} in {item!r} (kill, pause or raise)")
        with _FIRING:  # steps side by side may reach matching points at once: one fires
            if item in _fired:
                continue
            _fired.add(item)
        if action == "pause":
            _pause(point)
        else:
            raise FaultInjected(f"fault injected at {point}")


def _kill(point: str) -> None:
    # one thread dies for the process: another reaching a kill point meanwhile (steps run
    # side by side) waits here for the signal, so the log names one point
    _DYING.acquire()
    where = os.environ.get(ENV_LOG)
    if where:
        with open(where, "a", encoding="utf-8") as fh:
            fh.write(point + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


def _pause(point: str) -> None:
    folder = os.environ.get(ENV_DIR) or "."
    reached = os.path.join(folder, _file_name(point) + ".reached")
    go = os.path.join(folder, _file_name(point) + ".go")
    with open(reached, "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    log.warning("fault point %s: paused until %s exists", point, go)
    deadline = time.monotonic() + float(os.environ.get(ENV_PAUSE_TIMEOUT, "600"))
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise FaultInjected(f"fault point {point}: nobody created {go}")
        time.sleep(0.05)
