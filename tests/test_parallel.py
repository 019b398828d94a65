"""Steps side by side (lake.parallel): results in order, every step ends before the first
error is raised, the caller's Spark properties and context reach the steps, the session's
code-generation settings follow every running step's size, and the waves a run's silver
tables and pipelines are cut into."""

from __future__ import annotations

import contextvars
import dataclasses
import threading
import time
import warnings
from pathlib import Path

import pytest

from lake import session
from lake.config import Pipeline, Reference, load_config
from lake.parallel import side_by_side
from lake.pipeline import independent, waves

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
WAIT = 60  # seconds a step waits for its sibling before the test fails instead of hanging


def test_steps_run_at_once_and_return_in_order(spark):
    """Two steps that each wait for the other at a barrier only finish if they run at once."""
    meet = threading.Barrier(2, timeout=WAIT)
    threads = []

    def step(value):
        def run():
            threads.append(threading.get_ident())
            meet.wait()
            return value

        return run

    assert side_by_side(spark, [step("first"), step("second")], 2) == ["first", "second"]
    assert len(set(threads)) == 2 and threading.get_ident() not in threads


def test_one_worker_runs_the_steps_in_order_in_the_callers_thread_and_stops_at_an_error(spark):
    seen = []

    def step(i):
        def run():
            seen.append((i, threading.get_ident()))
            if i == 1:
                raise ValueError("step 1")
            return i

        return run

    assert side_by_side(spark, [step(0), step(2)], 1) == [0, 2]
    with pytest.raises(ValueError, match="step 1"):
        side_by_side(spark, [step(0), step(1), step(2)], 1)
    assert [i for i, _ in seen] == [0, 2, 0, 1]  # step 2 never ran after step 1 failed
    assert {t for _, t in seen} == {threading.get_ident()}


def test_a_failing_step_lets_the_others_end_and_the_first_error_is_raised(spark):
    """Step 0 fails at once, step 2 fails too; step 1 (slower) still ends, and the error
    raised is step 0's (the listed order), not the one that happened last."""
    ended = threading.Event()
    failed_first = threading.Event()

    def fail_now():
        failed_first.set()
        raise ValueError("step 0")

    def slow():
        assert failed_first.wait(WAIT)
        time.sleep(0.2)
        ended.set()
        return "slow"

    def fail_later():
        assert ended.wait(WAIT)
        raise KeyError("step 2")

    with pytest.raises(ValueError, match="step 0"):
        side_by_side(spark, [fail_now, slow, fail_later], 3)
    assert ended.is_set()


MARK: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_parallel_mark", default=None)


def test_steps_carry_the_callers_spark_properties_and_context(spark):
    """A step's jobs carry the caller's local properties (its job group: the benchmark counts
    jobs by group) and tags, and it sees the caller's context variables (the run's open
    ledger batches)."""
    sc = spark.sparkContext
    key = "lake.test.parallel"
    sc.setLocalProperty(key, "caller")
    spark.addTag("lake-test-parallel")
    token = MARK.set("the run's batch")
    try:

        def step():
            return sc.getLocalProperty(key), "lake-test-parallel" in spark.getTags(), MARK.get(), spark.range(5).count()

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "Tags will not be inherited"
            got = side_by_side(spark, [step, step], 2)
    finally:
        MARK.reset(token)
        sc.setLocalProperty(key, None)
        spark.removeTag("lake-test-parallel")
    assert got == [("caller", True, "the run's batch", 5)] * 2


def test_sized_for_in_threads_runs_interpreted_only_while_every_running_step_is_small(spark):
    """The session's settings are shared: a small step and a large one side by side run
    compiled (a large step interpreted costs more), two small ones interpreted, and the
    session's own settings come back when the last block ends, whichever ends last."""
    whole_stage = "spark.sql.codegen.wholeStage"
    spark.conf.set(whole_stage, "true")
    mib = 1024 * 1024
    small_in, large_in, large_out, small_out = (threading.Event() for _ in range(4))
    seen: dict[str, str] = {}

    def small():
        with session.sized_for(spark, 1 * mib, 4.0):
            seen["small alone"] = spark.conf.get(whole_stage)
            small_in.set()
            assert large_out.wait(WAIT)
            seen["small after large left"] = spark.conf.get(whole_stage)
        small_out.set()

    def large():
        assert small_in.wait(WAIT)
        with session.sized_for(spark, 8 * mib, 4.0):
            seen["small and large"] = spark.conf.get(whole_stage)
            large_in.set()
        large_out.set()

    def another_small():
        assert large_out.wait(WAIT)
        with session.sized_for(spark, 2 * mib, 4.0):
            seen["two small"] = spark.conf.get(whole_stage)

    side_by_side(spark, [small, large, another_small], 3)
    assert seen == {
        "small alone": "false",
        "small and large": "true",
        "small after large left": "false",
        "two small": "false",
    }
    assert spark.conf.get(whole_stage) == "true"
    assert spark.conf.get("spark.sql.codegen.factoryMode", None) in (None, "FALLBACK")


def test_silver_tables_run_in_waves_after_the_tables_they_reference():
    cfg = load_config(CONF)
    names = lambda ws: [[t.name for t in w] for w in ws]  # noqa: E731
    assert names(waves(cfg.silver_tables(Pipeline.COOPERATIVE))) == [["associado"], ["conta"], ["cartao"], ["movimento"]]
    assert names(waves(cfg.silver_tables(Pipeline.CUSTOMER_EXPERIENCE))) == [["ura", "chat", "whatsapp", "email"]]
    # movimento referencing associado instead of cartao: it joins conta's wave
    coop = {t.name: t for t in cfg.silver_tables(Pipeline.COOPERATIVE)}
    moved = dataclasses.replace(coop["movimento"], references=(Reference("associado", {"x": "id"}),))
    assert names(waves([coop["associado"], coop["conta"], coop["cartao"], moved])) == [
        ["associado"], ["conta", "movimento"], ["cartao"]]
    # a parent outside the list (another pipeline's, built before the list runs) orders nothing
    assert names(waves([coop["conta"], coop["cartao"]])) == [["conta"], ["cartao"]]
    assert names(waves([coop["cartao"], coop["movimento"]])) == [["cartao"], ["movimento"]]


def test_pipelines_run_side_by_side_only_when_neither_references_the_other():
    cfg = load_config(CONF)
    both = list(Pipeline)
    assert independent(cfg, both)
    chat = cfg.silver["chat"]
    linked = dataclasses.replace(chat, references=(Reference("associado", {"customer_email": "id"}),))
    crossed = dataclasses.replace(cfg, silver={**cfg.silver, "chat": linked})
    assert not independent(crossed, both)
    assert independent(crossed, [Pipeline.CUSTOMER_EXPERIENCE])
