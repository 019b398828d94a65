"""Independent steps of a run, side by side on the driver.

A small step (a micro-batch's table, a small lake's) is bound by the driver's one thread:
planning, Delta's log, task serialization; its tasks take a few milliseconds. Two such steps
in two threads share the session (and its executors) and keep two driver cores busy, as
Spark's own scheduler allows: jobs from several threads run at once. A run uses it for
what does not depend on anything else in it: the pipelines of ``run()``, the sources of a
pipeline's bronze and the silver tables that reference none of each other
(docs/architecture.md, "Steps side by side"). ``lake.parallel_steps`` sets how many at once;
``1`` runs them one after the other, as the config lists them.

Every step runs to its end even when another fails (a failed step leaves its table as the
last commit did, as a failed sequential run does): the tables that could be brought up to
date are, and the first failure, in the listed order, is raised.

Example:
    >>> bronze_ura, bronze_chat = side_by_side(spark, [lambda: ingest("ura"), lambda: ingest("chat")], 2)
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

T = TypeVar("T")


def side_by_side(spark: SparkSession, steps: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """Run ``steps`` (functions of no argument) on ``spark``, at most ``workers`` at once, and
    return their results in order.

    Each step runs in a thread that carries the caller's Spark job properties and tags (job
    group, scheduler pool: ``pyspark.util.inheritable_thread_target``) and a copy of its
    context variables (the run's open ledger batches, joined by the steps). With ``workers``
    1 or one step they run in the calling thread, one after the other, and the first error
    stops them.

    Raises:
        the first error of a step, in the order of ``steps``, once every step has ended (the
        others are logged).
    """
    if workers <= 1 or len(steps) <= 1:
        return [step() for step in steps]
    from pyspark.util import inheritable_thread_target

    with ThreadPoolExecutor(max_workers=min(workers, len(steps)), thread_name_prefix="lake-step") as pool:
        futures = [
            pool.submit(inheritable_thread_target(spark)(contextvars.copy_context().run), step)
            for step in steps
        ]
        wait(futures)
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    for later in errors[1:]:
        log.error("a step run beside the failed one also failed: %s", later)
    if errors:
        raise errors[0]
    return [f.result() for f in futures]
