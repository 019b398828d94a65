"""One run at a time per lake: the lock file ``{root}/_system/_lock``.

The lock is a small JSON file (run id, host, pid, start time) created atomically: with
``O_CREAT|O_EXCL`` on a local path, through Hadoop FileSystem ``create(path,
overwrite=False)`` elsewhere (atomic on HDFS and ABFS; on S3 it relies on the store's
conditional create). It is removed in ``finally``. A lock left by a process that died on
this host (its pid is gone) is taken over; a lock held by a live process, or by another
host, makes the run wait up to ``wait`` seconds and then refuse with
:class:`~lake.errors.LakeLockedError`.

Example:
    >>> with lake_lock(spark, LakePaths("/tmp/lake"), run_id, wait=60):
    ...     ...  # bronze, silver, gold
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import socket
import time
from collections.abc import Iterator

from lake.errors import LakeLockedError
from lake.paths import LakePaths
from lake.session import jvm

log = logging.getLogger(__name__)

LOCK_NAME = "_lock"
POLL_SECONDS = 0.5


class _Store:
    """Create-exclusive, read and delete of one small file, local or through Hadoop."""

    def __init__(self, spark, uri: str) -> None:
        path = jvm(spark).org.apache.hadoop.fs.Path(uri)
        self.fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
        self.path = self.fs.makeQualified(path)
        # local FS: Hadoop's create(overwrite=False) checks then opens (a race); O_EXCL does not
        self.local = self.path.toUri().getPath() if self.fs.getUri().getScheme() == "file" else None

    def create(self, data: bytes) -> bool:
        if self.local is not None:
            os.makedirs(os.path.dirname(self.local), exist_ok=True)
            try:
                fd = os.open(self.local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            except OSError:
                os.remove(self.local)  # never leave an empty lock nobody can identify
                raise
            return True
        try:
            out = self.fs.create(self.path, False)
        except Exception as exc:
            if "FileAlreadyExists" in str(exc) or "already exists" in str(exc):
                return False
            raise
        try:
            out.write(bytearray(data))
            out.close()
        except Exception:
            self.fs.delete(self.path, False)
            raise
        return True

    def read(self) -> bytes | None:
        if self.local is not None:
            try:
                with open(self.local, "rb") as fh:
                    return fh.read()
            except FileNotFoundError:
                return None
        if not self.fs.exists(self.path):
            return None
        stream = self.fs.open(self.path)
        try:
            return bytes(stream.readAllBytes())
        finally:
            stream.close()

    def delete(self) -> None:
        if self.local is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.local)
            return
        self.fs.delete(self.path, False)


def _holder(raw: bytes | None) -> dict:
    if raw is None:
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"unreadable": raw[:80].decode("utf-8", "replace")}


def _dead_here(holder: dict) -> bool:
    """The holder ran on this host and its process is gone."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def describe(holder: dict) -> str:
    if not holder:
        return "another run"
    return (
        f"run {holder.get('run_id')} (pid {holder.get('pid')} on {holder.get('host')}, "
        f"since {holder.get('started_at')})"
    )


@contextlib.contextmanager
def lake_lock(spark, paths: LakePaths, run_id: str, *, wait: float = 0.0) -> Iterator[dict]:
    """Hold the lake's lock for the duration of the block (see the module docstring).

    Args:
        wait: seconds to wait for a live holder to finish before refusing (0: refuse at once).

    Raises:
        LakeLockedError: another live run holds the lock after ``wait`` seconds.
    """
    store = _Store(spark, paths.system(LOCK_NAME))
    mine = {
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    data = json.dumps(mine).encode("utf-8")
    deadline = time.monotonic() + max(0.0, wait)
    waited = False
    while not store.create(data):
        raw = store.read()
        holder = _holder(raw)
        if raw is not None and _dead_here(holder):
            log.warning("taking over the lake lock of %s: its process is gone", describe(holder))
            if store.read() == raw:  # still the dead run's file, not a new holder's
                store.delete()
            continue
        if time.monotonic() >= deadline:
            raise LakeLockedError(
                f"lake {paths.root} is locked by {describe(holder)}; wait for it to finish, or pass "
                f"--wait SECONDS (lock file {paths.system(LOCK_NAME)})"
            )
        if not waited:
            log.info("lake %s is locked by %s; waiting up to %.0fs", paths.root, describe(holder), wait)
            waited = True
        time.sleep(POLL_SECONDS)
    try:
        yield mine
    finally:
        if _holder(store.read()).get("run_id") == run_id:
            store.delete()
