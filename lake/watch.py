"""``lake watch``: the incremental run in a loop on ONE Spark session, a micro-batch per interval.

Each micro-batch is :func:`lake.pipeline.run` -- the same code path as ``lake run``, so a
watch and a batch run over the same inputs give the same tables. What makes it cheap to
repeat is the incremental machinery underneath: bronze skips every file already ingested
(content hashes), every consumer reads only the Delta versions after the one it recorded in
the ledger, gold is MERGEd from those changes. Kill-safety is the run's own: a watch killed
mid-batch is simply started again, and the next batch redoes what the killed one did not
commit (docs/reliability.md).

When a pipeline's batch runs:

* a pipeline fed by landing files runs when the landing listing (names, sizes,
  modification times of its sources' files; one Hadoop ``listStatus`` per source, no byte
  read) differs from the listing its last successful batch started from -- an idle tick
  costs a listing, not a Spark job;
* a pipeline fed over JDBC is polled: it runs every tick (a relational table has no cheap
  change signal short of CDC; docs/architecture.md).

Files still being written are never read half: they are taken only once renamed into place
(:func:`lake.bronze.files.in_flight`).

Example:
    >>> from lake import load_config
    >>> from lake.watch import watch
    >>> stop = threading.Event()
    >>> watch(load_config("conf/lake.yml"), pipeline="customer_experience", interval=5, stop=stop)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lake.config import FileSource, JdbcSource, LakeConfig, Pipeline
from lake.errors import LakeLockedError
from lake.faults import fault_point
from lake.ledger import TableCounts
from lake.runlog import new_run_id

log = logging.getLogger(__name__)

#: Seconds between the starts of two micro-batches (``--interval``).
DEFAULT_INTERVAL = 5.0
#: Consecutive failed micro-batches after which the watch stops with the last error.
MAX_FAILURES = 3
#: Micro-batches whose progress a :class:`WatchHandle` keeps.
KEEP_PROGRESS = 100
#: Run ids of a watch's micro-batches end in ``-w<batch>`` (``lake status`` shows them).
RUN_ID_SUFFIX = "-w"

Listing = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class BatchProgress:
    """What one micro-batch did.

    ``files``: landing files bronze ingested (a file that lands during a batch is taken by it
    or by the next);
    ``layers``: per layer, rows in / written / quarantined (the run's counts);
    ``latency``: seconds from the oldest of those files' modification time to the end of the
    batch, when its rows are in the gold answer tables: the longest any file of the batch
    waited (None without files);
    ``error``: the failure's message when the batch failed (its run is recorded as failed).
    """

    batch: int
    run_id: str
    pipelines: tuple[str, ...]
    files: int
    layers: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    seconds: float = 0.0
    latency: float | None = None
    error: str | None = None

    def line(self) -> str:
        """The one progress line of the batch."""
        layers = "  ".join(
            f"{layer} {i}/{w}/{q}" for layer, (i, w, q) in self.layers.items()
        )  # in/written/quarantined
        latency = "-" if self.latency is None else f"{self.latency:.1f}s"
        head = f"batch {self.batch} {','.join(self.pipelines)}: files {self.files}"
        if self.error:
            return f"{head}  FAILED after {self.seconds:.1f}s: {self.error}"
        return f"{head}  in/written/quarantined {layers}  took {self.seconds:.1f}s  latency {latency}"


def layer_totals(counts: Iterable[TableCounts]) -> dict[str, tuple[int, int, int]]:
    """Per layer (in the order met): rows in, written and quarantined, summed over its tables."""
    totals: dict[str, tuple[int, int, int]] = {}
    for c in counts:
        i, w, q = totals.get(c.layer, (0, 0, 0))
        totals[c.layer] = (i + max(c.rows_in, 0), w + max(c.written, 0), q + max(c.quarantined, 0))
    return totals


def landing_listing(spark, cfg: LakeConfig, pipeline: Pipeline) -> Listing | None:
    """``{uri: (size, modified ms)}`` of the landing files of ``pipeline``'s sources; None for
    a pipeline without file sources."""
    from lake.bronze.files import find_files

    sources = [s for s in cfg.sources.values() if isinstance(s, FileSource) and s.pipeline == pipeline]
    if not sources:
        return None
    listing: Listing = {}
    for source in sources:
        for f in find_files(spark, cfg.lake.landing, source.patterns):
            listing[f.uri] = (f.size, f.mtime_ms)
    return listing


def _polled(cfg: LakeConfig, pipeline: Pipeline) -> bool:
    return any(isinstance(s, JdbcSource) and s.pipeline == pipeline for s in cfg.sources.values())


def watch(
    cfg: LakeConfig,
    *,
    pipeline: str = "all",
    interval: float = DEFAULT_INTERVAL,
    spark=None,
    stop: threading.Event | None = None,
    max_batches: int | None = None,
    on_batch: Callable[[BatchProgress], None] | None = None,
) -> int:
    """Run micro-batches of ``pipeline`` every ``interval`` seconds until ``stop`` is set
    (the batch under way finishes first) or ``max_batches`` batches ran; returns the number
    of batches run.

    A failed batch is logged and recorded (``lake status``) and retried at the next tick;
    :data:`MAX_FAILURES` failures in a row stop the watch with the last error. A batch that
    finds the lake locked by another run waits for the next tick.
    """
    from lake.pipeline import _parse_choice, run
    from lake.session import get_spark

    if interval <= 0:
        from lake.errors import ConfigError

        raise ConfigError(
            "command line", "--interval", f"must be a positive number of seconds; found {interval}"
        )
    pipelines = _parse_choice(pipeline, Pipeline, "pipeline")
    spark = spark or get_spark()
    stop = stop or threading.Event()
    watch_id = new_run_id()
    done: dict[Pipeline, Listing | None] = {}  # listing each pipeline's last good batch started from
    batches = failures = 0
    log.info(
        "watch %s: pipelines %s every %.1fs, landing %s, lake %s",
        watch_id,
        ",".join(p.value for p in pipelines),
        interval,
        cfg.lake.landing,
        cfg.lake.root,
    )
    while not stop.is_set() and (max_batches is None or batches < max_batches):
        tick = time.monotonic()
        listings = {p: landing_listing(spark, cfg, p) for p in pipelines}
        due = [p for p in pipelines if _polled(cfg, p) or p not in done or listings[p] != done[p]]
        if due:
            batches += 1
            run_id = f"{watch_id}{RUN_ID_SUFFIX}{batches}"
            fault_point(f"watch.batch.before:{batches}")
            started = time.monotonic()
            try:
                report = run(
                    cfg,
                    pipeline=due[0].value if len(due) == 1 else "all",
                    spark=spark,
                    run_id=run_id,
                )
            except LakeLockedError as exc:
                batches -= 1
                log.warning("watch %s: %s; trying again at the next tick", watch_id, exc)
            except Exception as exc:
                failures += 1
                progress = BatchProgress(
                    batches,
                    run_id,
                    tuple(p.value for p in due),
                    0,
                    seconds=time.monotonic() - started,
                    error=" ".join(str(exc).split())[:300] or type(exc).__name__,
                )
                log.error("watch %s", progress.line())
                if on_batch:
                    on_batch(progress)
                if failures >= MAX_FAILURES:
                    log.error("watch %s: %d batches failed in a row; stopping", watch_id, failures)
                    raise
            else:
                failures = 0
                for p in due:
                    done[p] = listings[p]
                oldest = report.oldest_file_modified
                progress = BatchProgress(
                    batches,
                    run_id,
                    tuple(p.value for p in due),
                    report.files_ingested,
                    layer_totals(report.counts),
                    seconds=time.monotonic() - started,
                    latency=None if oldest is None else max(time.time() - oldest.timestamp(), 0.0),
                )
                log.info("watch %s", progress.line())
                if on_batch:
                    on_batch(progress)
            fault_point(f"watch.batch.after:{batches}")
        stop.wait(max(interval - (time.monotonic() - tick), 0.0))
    log.info("watch %s: stopped after %d batches", watch_id, batches)
    return batches


class WatchHandle:
    """A watch running in a background thread of this process (``Lake.watch``).

    ``progress`` holds the last batches' :class:`BatchProgress`; ``stop()`` lets the batch
    under way finish and waits for the thread; ``error`` is what ended the watch, if it
    failed.

    Example:
        >>> handle = lk.watch(interval=5)
        >>> handle.wait(batches=1); handle.progress[-1].line()
        >>> handle.stop()
    """

    def __init__(
        self, cfg: LakeConfig, *, spark, pipeline: str, interval: float, max_batches: int | None
    ) -> None:
        self._stop = threading.Event()
        self._progress: deque[BatchProgress] = deque(maxlen=KEEP_PROGRESS)
        self._changed = threading.Condition()
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main,
            args=(cfg, spark, pipeline, interval, max_batches),
            name="lake-watch",
            daemon=True,
        )
        self._thread.start()

    def _main(self, cfg, spark, pipeline, interval, max_batches) -> None:
        try:
            watch(
                cfg,
                pipeline=pipeline,
                interval=interval,
                spark=spark,
                stop=self._stop,
                max_batches=max_batches,
                on_batch=self._record,
            )
        except BaseException as exc:  # kept for the caller: a thread cannot raise to it
            self.error = exc
        finally:
            with self._changed:
                self._changed.notify_all()

    def _record(self, progress: BatchProgress) -> None:
        with self._changed:
            self._progress.append(progress)
            self._changed.notify_all()

    @property
    def progress(self) -> list[BatchProgress]:
        """The last batches' progress, oldest first."""
        with self._changed:
            return list(self._progress)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, *, batches: int = 1, timeout: float | None = None) -> bool:
        """Block until ``batches`` batches in all have reported (or the watch ended, or
        ``timeout`` passed); True when they have."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while len(self._progress) < batches and self._thread.is_alive():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._changed.wait(left if left is not None else 1.0)
            return len(self._progress) >= batches

    def stop(self, timeout: float | None = None) -> None:
        """Let the batch under way finish, then end the watch (waits up to ``timeout``)."""
        self._stop.set()
        self._thread.join(timeout)

    def __repr__(self) -> str:
        state = "running" if self.running else ("failed" if self.error else "stopped")
        return f"WatchHandle({state}, {len(self.progress)} batches)"
