"""Orchestration: which layers of which pipeline run, in order, with one log line each.

An orchestrating function reads like a table of contents; the work lives in
``lake.bronze``, ``lake.silver`` and ``lake.gold``. Steps that depend on nothing else in the
run (the pipelines, bronze sources, silver tables in :func:`waves`) run side by side
(:mod:`lake.parallel`, ``lake.parallel_steps``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lake import delta_io, ledger
from lake.config import JdbcSource, LakeConfig, Layer, Pipeline, SilverTable
from lake.errors import ConfigError
from lake.faults import fault_point
from lake.parallel import side_by_side
from lake.paths import LakePaths
from lake.runlog import STATUS_FAILED, TableCounts, log_mismatches, new_run_id, record_counts
from lake.session import sized_for, use_timezone

log = logging.getLogger(__name__)

ALL = "all"


@dataclass
class RunReport:
    """What one ``run`` did: per-table counts, the files quarantined whole and, when
    exported, the CSV path.

    ``quarantined_files`` lists the files whose format evidence refuted every reading (or
    could not choose one), one :class:`~lake.silver.evidence.Refusal` each (``table``,
    ``file``, ``reason``, ``message``): their rows are in quarantine, the rest of the run went on.
    """

    run_id: str
    counts: list[TableCounts] = field(default_factory=list)
    csv_path: str | None = None
    seconds: float = 0.0
    quarantined_files: list = field(default_factory=list)
    #: landing files bronze ingested, and the modification time of the oldest of them
    files_ingested: int = 0
    oldest_file_modified: _dt.datetime | None = None

    @property
    def reconciles(self) -> bool:
        return all(c.reconciles for c in self.counts)

    def note_files(self, ingested: int, oldest_modified: _dt.datetime | None) -> None:
        """Add a source's ingested landing files (pipelines may run side by side)."""
        with _REPORT_LOCK:
            self.files_ingested += ingested
            oldest = [t for t in (self.oldest_file_modified, oldest_modified) if t is not None]
            self.oldest_file_modified = min(oldest) if oldest else None


_REPORT_LOCK = threading.Lock()


def _parse_choice(value: str | None, enum_cls, what: str) -> list:
    if value in (None, ALL):
        return list(enum_cls)
    try:
        return [enum_cls(value)]
    except ValueError:
        choices = ", ".join([m.value for m in enum_cls] + [ALL])
        raise ConfigError(
            "command line", f"--{what}", f"expected one of {choices}; found {value!r}"
        ) from None


class _Stage:
    """Times one stage and logs one progress line with its rows."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = time.monotonic()

    def done(self, counts: Iterable[TableCounts], sink: list[TableCounts] | None = None) -> list[TableCounts]:
        counts = list(counts)
        if sink is not None:  # what completed, kept even if a later table of the run fails
            sink += counts
        written = sum(c.written for c in counts)
        rows_in = sum(c.rows_in for c in counts)
        quarantined = sum(c.quarantined for c in counts)
        log.info(
            "%-28s rows in %10d  written %10d  quarantined %8d  %6.1fs",
            self.name,
            rows_in,
            written,
            quarantined,
            time.monotonic() - self.start,
        )
        return counts


def run_bronze(
    spark,
    cfg: LakeConfig,
    pipeline: Pipeline,
    paths: LakePaths,
    run_id: str,
    *,
    full_reload: bool = False,
    sink: list[TableCounts] | None = None,
    report: RunReport | None = None,
) -> list[TableCounts]:
    """Ingest every source of ``pipeline`` into bronze."""
    from lake.bronze import ingest_files, ingest_table

    sources = list(cfg.file_sources(pipeline))
    # what the ingest log holds for every file source, in one read (a source's own ingest
    # writes only its own rows, so the others' stay current)
    logged = None if full_reload else ledger.read_ingest_logs(spark, paths, [s.name for s in sources])
    results: dict[str, Any] = {}  # source -> IngestResult

    def file_source(source) -> list[TableCounts]:
        stage = _Stage(f"bronze {source.name}")
        results[source.name] = result = ingest_files(
            spark,
            source,
            cfg.lake.landing,
            paths,
            run_id,
            full_reload=full_reload,
            logged_files=None if logged is None else logged[source.name],
            small_step_mib=cfg.lake.small_step_mib,
        )
        return stage.done([result.table_counts()])

    def jdbc_table(table) -> list[TableCounts]:
        stage = _Stage(f"bronze {table.name}")
        with sized_for(spark, None, cfg.lake.small_step_mib):  # rows unknown before the read
            result = ingest_table(spark, table, cfg.jdbc, paths, run_id, full_reload=full_reload)
        return stage.done([result.table_counts()])

    # the file sources' ingest-log rows: one commit after the last of them
    with ledger.ingest_log_batch(spark, paths):
        counts = _side_by_side(spark, cfg, sources, file_source, sink)
    if report is not None:
        for result in results.values():
            if result.files_ingested:
                report.note_files(result.files_ingested, result.oldest_modified)
    return counts + _side_by_side(spark, cfg, list(cfg.jdbc_sources(pipeline)), jdbc_table, sink)


def _side_by_side(
    spark,
    cfg: LakeConfig,
    items: list,
    step: Callable[[Any], list[TableCounts]],
    sink: list[TableCounts] | None,
) -> list[TableCounts]:
    """``step(item)`` for every item, ``lake.parallel_steps`` at once
    (:func:`lake.parallel.side_by_side`); their counts in the items' order, also added to
    ``sink`` (what completed is kept there when a step fails)."""
    slots: list[list[TableCounts]] = [[] for _ in items]

    def one(i: int, item: Any) -> None:
        slots[i] = step(item)

    try:
        side_by_side(
            spark, [functools.partial(one, i, item) for i, item in enumerate(items)], cfg.lake.parallel_steps
        )
    finally:
        done = [c for got in slots for c in got]
        if sink is not None:
            sink += done
    return done


def waves(tables: list[SilverTable]) -> list[list[SilverTable]]:
    """``tables`` in waves that can each run side by side: a table comes after every table of
    the list it references (its parents are read as their silver tables stand), in the
    config's order otherwise.

    Example:
        >>> [[t.name for t in w] for w in waves(cfg.silver_tables(Pipeline.COOPERATIVE))]
        [['associado'], ['conta'], ['cartao'], ['movimento']]
    """
    names = {t.name for t in tables}
    done: set[str] = set()
    out: list[list[SilverTable]] = []
    left = list(tables)
    while left:
        wave = [t for t in left if all(r.table in done or r.table not in names for r in t.references)]
        out.append(wave)
        done |= {t.name for t in wave}
        left = [t for t in left if t.name not in done]
    return out


def run_silver(
    spark,
    cfg: LakeConfig,
    pipeline: Pipeline,
    paths: LakePaths,
    run_id: str,
    *,
    full: bool = False,
    report: RunReport | None = None,
    sink: list[TableCounts] | None = None,
) -> list[TableCounts]:
    """Standardize and check every silver table of ``pipeline`` (files quarantined whole go
    to ``report.quarantined_files``)."""
    from lake.silver.build import INTERACTIONS_CONSUMER, build_interactions, build_silver_table

    refused: dict[str, list] = {}

    def silver_table(table: SilverTable) -> list[TableCounts]:
        stage = _Stage(f"silver {table.name}")
        unread = ledger.unread_bytes(
            spark, paths, f"silver.{table.name}", {f"bronze.{table.source}": paths.bronze(table.source)}
        )
        # read whole besides: the parents, and the keys silver holds for a mutable source
        whole = [paths.silver(r.table) for r in table.references]
        if isinstance(cfg.sources[table.source], JdbcSource):
            whole.append(paths.silver(table.name))
        with _sized(spark, cfg, unread, whole):
            built = build_silver_table(
                spark, cfg, table.name, paths, run_id, full=full, refused=refused.setdefault(table.name, [])
            )
        return stage.done([built])

    counts: list[TableCounts] = []
    tables = cfg.silver_tables(pipeline)
    try:
        for wave in waves(tables):  # a table after the parents it references
            counts += _side_by_side(spark, cfg, wave, silver_table, sink)
    finally:
        if report is not None:  # the files quarantined whole, in the config's order of tables
            report.quarantined_files += [r for t in tables for r in refused.get(t.name, [])]
    if pipeline is Pipeline.CUSTOMER_EXPERIENCE:
        stage = _Stage("silver interactions")
        channels = {
            f"silver.{t.name}": paths.silver(t.name) for t in cfg.silver_tables(pipeline) if t.channel
        }
        with _sized(spark, cfg, ledger.unread_bytes(spark, paths, INTERACTIONS_CONSUMER, channels)):
            built = build_interactions(spark, cfg, paths, run_id, full=full)
        counts += stage.done([built], sink)
    return counts


#: A table a step reads whole only to join it to a few keys (a MERGE's target, the rows of
#: the touched customers) costs far less per row than a new row, which goes through every
#: expression: it counts for this fraction of its bytes (docs/performance.md, "Small steps
#: run interpreted": a 16 MB table read whole ran faster interpreted, an 80 MB one slower).
WHOLE_TABLE_WEIGHT = 1 / 8


def _sized(spark, cfg: LakeConfig, unread: int | None, whole: Iterable[str] = ()):
    """The step runs interpreted when the data it reads is small (:func:`sized_for`): the
    ``unread`` bytes (new files, its inputs' changes, a table it writes out again) plus the
    tables it reads ``whole``, at :data:`WHOLE_TABLE_WEIGHT`."""
    held = delta_io.tables_bytes(spark, whole)
    size = None if unread is None or held is None else unread + int(held * WHOLE_TABLE_WEIGHT)
    return sized_for(spark, size, cfg.lake.small_step_mib)


def run_gold(
    spark,
    cfg: LakeConfig,
    pipeline: Pipeline,
    paths: LakePaths,
    run_id: str,
    *,
    as_of: str | None = None,
    report: RunReport | None = None,
    sink: list[TableCounts] | None = None,
    full: bool = False,
) -> list[TableCounts]:
    """Update (``full``: rebuild) the star and answers, or the flat table and its CSV."""
    if pipeline is Pipeline.CUSTOMER_EXPERIENCE:
        from lake.gold import answers as _answers
        from lake.gold import star as _star
        from lake.gold.incremental import consumer
        from lake.gold.tables import ANSWER_TABLES

        stage = _Stage("gold star")
        silver = paths.silver("interactions")
        unread = ledger.unread_bytes(spark, paths, consumer("fact_interaction"), {_star.SOURCE: silver})
        # the touched customers' rows are read from all of silver, the fact's MERGEd into
        with _sized(spark, cfg, unread, [silver, paths.gold("fact_interaction")]):
            star = _star.build_star(
                spark,
                paths,
                run_id,
                channels=cfg.channels.values(),
                timezone=cfg.lake.timezone,
                full=full,
                parallel=cfg.lake.parallel_steps,
            )
        counts = stage.done(star, sink)
        stage = _Stage("gold answers")
        first = consumer(next(iter(ANSWER_TABLES)))
        unread = ledger.unread_bytes(spark, paths, first, {_answers.SOURCE: silver})
        with _sized(spark, cfg, unread, [paths.gold("fact_interaction")]):  # the scope's facts
            answers = _answers.refresh_answers(
                spark,
                paths,
                as_of=as_of,
                timezone=cfg.lake.timezone,
                run_id=run_id,
                full=full,
                parallel=cfg.lake.parallel_steps,
            )
        return counts + stage.done(answers, sink)
    from lake.gold.flat import FLAT_SOURCES, FLAT_TABLE
    from lake.gold.incremental import consumer

    stage = _Stage("gold movimento_flat")
    sources = {source: paths.silver(name) for name, source in FLAT_SOURCES.items()}
    unread = ledger.unread_bytes(spark, paths, consumer(FLAT_TABLE), sources)
    written = delta_io.table_bytes(spark, paths.gold(FLAT_TABLE))  # the CSV: every row, again
    with _sized(spark, cfg, None if unread is None or written is None else unread + written):
        counts = export_flat(spark, cfg, paths, run_id, report=report, full=full)
    return stage.done(counts, sink)


def export_flat(
    spark,
    cfg: LakeConfig,
    paths: LakePaths,
    run_id: str,
    *,
    output_dir: str | None = None,
    report: RunReport | None = None,
    full: bool = False,
) -> list[TableCounts]:
    """Update gold ``movimento_flat`` and write it (the whole table) as ONE CSV file."""
    from lake.gold.flat import build_movimento_flat, export_csv

    counts: list[TableCounts] = []
    build_movimento_flat(
        spark,
        paths,
        card_number=cfg.export.card_number,
        hash_key_env=cfg.export.hash_key_env,
        timezone=cfg.lake.timezone,
        counts=counts,
        run_id=run_id,
        full=full,
    )
    csv_path = export_csv(spark, paths, output_dir or cfg.lake.output_dir, file_name=cfg.export.file_name)
    log.info("wrote %s", csv_path)
    if report is not None:
        report.csv_path = csv_path
    return counts


def run(
    cfg: LakeConfig,
    *,
    pipeline: str | None = ALL,
    layer: str | None = ALL,
    spark=None,
    run_id: str | None = None,
    full_reload: bool = False,
    as_of: str | None = None,
    lock_wait: float = 0.0,
) -> RunReport:
    """Run the chosen layers of the chosen pipelines, in order, and record their counts.

    One run at a time per lake: the run holds ``{root}/_system/_lock`` (see
    :mod:`lake.lock`), waiting up to ``lock_wait`` seconds for another run to finish.

    Example:
        >>> from lake import load_config, run
        >>> report = run(load_config("conf/lake.yml"), pipeline="cooperative")
        >>> report.csv_path
        'output/movimento_flat.csv'
    """
    from lake.lock import lake_lock
    from lake.session import get_spark

    pipelines = _parse_choice(pipeline, Pipeline, "pipeline")
    layers = _parse_choice(layer, Layer, "layer")
    spark = spark or get_spark()
    use_timezone(spark, cfg.lake.timezone)
    paths = LakePaths(cfg.lake.root)
    report = RunReport(run_id=run_id or new_run_id())
    started = time.monotonic()
    log.info(
        "run %s: pipelines %s, layers %s, lake %s",
        report.run_id,
        ",".join(p.value for p in pipelines),
        ",".join(lay.value for lay in layers),
        cfg.lake.root,
    )
    # the bookkeeping (lock, ledger, runs) is a few rows: interpreted; each step sizes itself
    with sized_for(spark, 0, cfg.lake.small_step_mib), lake_lock(spark, paths, report.run_id, wait=lock_wait):
        fault_point("run.locked")

        def one(p: Pipeline) -> list[TableCounts]:
            counts: list[TableCounts] = []  # filled as each table completes
            try:
                # the consumers' ledger entries of this pipeline: one commit at its end
                with ledger.batch(spark, paths):
                    if Layer.BRONZE in layers:
                        run_bronze(
                            spark,
                            cfg,
                            p,
                            paths,
                            report.run_id,
                            full_reload=full_reload,
                            sink=counts,
                            report=report,
                        )
                        fault_point(f"stage.after:{p.value}.bronze")
                    if Layer.SILVER in layers:
                        run_silver(
                            spark, cfg, p, paths, report.run_id, full=full_reload, report=report, sink=counts
                        )
                        fault_point(f"stage.after:{p.value}.silver")
                    if Layer.GOLD in layers:
                        run_gold(
                            spark,
                            cfg,
                            p,
                            paths,
                            report.run_id,
                            as_of=as_of,
                            report=report,
                            sink=counts,
                            full=full_reload,
                        )
                        fault_point(f"stage.after:{p.value}.gold")
            except Exception as exc:
                _record_failure(spark, cfg, paths, report.run_id, p, counts, exc)
                raise
            log_mismatches(counts, report.run_id)
            record_counts(spark, paths, report.run_id, p.value, counts)
            fault_point(f"runs.after:{p.value}")
            return counts

        calls = [functools.partial(one, p) for p in pipelines]
        workers = cfg.lake.parallel_steps if independent(cfg, pipelines) else 1
        for counts in side_by_side(spark, calls, workers):
            report.counts += counts
        with sized_for(spark, None, cfg.lake.small_step_mib):  # a compaction rewrites whole tables
            compact_written(spark, paths, report.counts, cfg.lake.compact_min_files)
    report.seconds = time.monotonic() - started
    log.info("run %s finished in %.1fs", report.run_id, report.seconds)
    for r in report.quarantined_files:
        log.warning("run %s: %s file %s quarantined whole (%s)", report.run_id, r.table, r.file, r.reason)
    return report


def independent(cfg: LakeConfig, pipelines: list[Pipeline]) -> bool:
    """Whether no silver table of one of ``pipelines`` references a table of another (so they
    can run side by side)."""
    owner = {t.name: t.pipeline for t in cfg.silver.values()}
    return all(
        owner.get(r.table, t.pipeline) == t.pipeline or owner[r.table] not in pipelines
        for t in cfg.silver.values()
        if t.pipeline in pipelines
        for r in t.references
    )


def compact_written(spark, paths: LakePaths, counts: Iterable[TableCounts], min_files: int) -> list[str]:
    """Compact (:func:`lake.delta_io.compact`) the tables a run's ``counts`` name, the
    quarantine of each silver table and the bookkeeping tables, where they hold
    ``min_files`` small files or more; returns the paths compacted.

    Maintenance, after the run's data and counts are committed: a table whose compaction
    fails is logged (warning) and left for the next run, the run does not fail (fault point
    ``compact.before:<path>``)."""
    if min_files <= 0:
        return []
    tables: list[str] = []
    for c in counts:
        if c.layer not in {lay.value for lay in Layer}:
            continue
        tables.append(getattr(paths, c.layer)(c.table))
        if c.layer == Layer.SILVER.value:
            tables.append(paths.quarantine(c.table))
    tables += [
        paths.system(t) for t in (ledger.CONSUMERS, ledger.INGEST_LOG, ledger.WATERMARKS, ledger.RUNS_TABLE)
    ]
    done = []
    for table in dict.fromkeys(tables):
        try:
            fault_point(f"compact.before:{table}")
            if delta_io.compact(spark, table, min_files):
                done.append(table)
        except Exception as exc:
            log.warning(
                "could not compact %s (the next run tries again): %s", table, " ".join(str(exc).split())[:300]
            )
    return done


def _record_failure(
    spark,
    cfg: LakeConfig,
    paths: LakePaths,
    run_id: str,
    pipeline: Pipeline,
    counts: list[TableCounts],
    exc: Exception,
) -> None:
    """Record a failed run (its completed tables and its error) without hiding the error."""
    log_mismatches(counts, run_id)
    try:
        record_counts(
            spark,
            paths,
            run_id,
            pipeline.value,
            counts,
            status=STATUS_FAILED,
            error=exc,
            secrets=(cfg.jdbc.password,),
        )
    except Exception as record_exc:
        log.warning("run %s: could not record the failure in _system/runs: %s", run_id, record_exc)


QUERIES = {
    "contacts-24h": "contacts_24h",
    "interactions-by-channel": "interactions_by_channel",
    "last-interaction": "last_interaction",
}


def answer(spark, cfg: LakeConfig, name: str, *, as_of=None):
    """One of the three answers, computed from the gold star of ``cfg``'s lake.

    Example:
        >>> answer(spark, cfg, "last-interaction", as_of="2026-11-25 12:00:00").show()
    """
    from lake import delta_io
    from lake.errors import PipelineError
    from lake.gold import answers

    if name not in QUERIES:
        raise ConfigError("command line", "query", f"expected one of {', '.join(QUERIES)}; found {name!r}")
    paths = LakePaths(cfg.lake.root)
    if not delta_io.table_exists(spark, paths.gold("fact_interaction")):
        raise PipelineError(f"the gold star does not exist under {cfg.lake.root}; run 'lake run' first")
    use_timezone(spark, cfg.lake.timezone)
    func = getattr(answers, QUERIES[name])
    return func(spark, as_of=as_of, timezone=cfg.lake.timezone, paths=paths)
