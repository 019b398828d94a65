"""Orchestration: which layers of which pipeline run, in order, with one log line each.

An orchestrating function reads like a table of contents; the work lives in
``lake.bronze``, ``lake.silver`` and ``lake.gold``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Iterable

from lake.config import LakeConfig, Layer, Pipeline
from lake.errors import ConfigError
from lake.faults import fault_point
from lake.paths import LakePaths
from lake.runlog import TableCounts, new_run_id, record_counts

log = logging.getLogger(__name__)

ALL = "all"


@dataclass
class RunReport:
    """What one ``run`` did: per-table counts and, when exported, the CSV path."""

    run_id: str
    counts: list[TableCounts] = field(default_factory=list)
    csv_path: str | None = None
    seconds: float = 0.0

    @property
    def reconciles(self) -> bool:
        return all(c.reconciles for c in self.counts)


def _parse_choice(value: str | None, enum_cls, what: str) -> list:
    if value in (None, ALL):
        return list(enum_cls)
    try:
        return [enum_cls(value)]
    except ValueError:
        choices = ", ".join([m.value for m in enum_cls] + [ALL])
        raise ConfigError("command line", f"--{what}", f"expected one of {choices}; found {value!r}") from None


class _Stage:
    """Times one stage and logs one progress line with its rows."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.start = time.monotonic()

    def done(self, counts: Iterable[TableCounts]) -> list[TableCounts]:
        counts = list(counts)
        written = sum(c.written for c in counts)
        rows_in = sum(c.rows_in for c in counts)
        quarantined = sum(c.quarantined for c in counts)
        log.info(
            "%-28s rows in %10d  written %10d  quarantined %8d  %6.1fs",
            self.name, rows_in, written, quarantined, time.monotonic() - self.start,
        )
        return counts


def run_bronze(spark, cfg: LakeConfig, pipeline: Pipeline, paths: LakePaths, run_id: str, *,
               full_reload: bool = False) -> list[TableCounts]:
    """Ingest every source of ``pipeline`` into bronze."""
    from lake.bronze import ingest_files, ingest_table

    def as_counts(result) -> TableCounts:
        return TableCounts(table=result.source, layer="bronze", rows_in=result.rows_in, written=result.rows_written)

    counts: list[TableCounts] = []
    for source in cfg.file_sources(pipeline):
        stage = _Stage(f"bronze {source.name}")
        result = ingest_files(spark, source, cfg.lake.landing, paths, run_id, full_reload=full_reload)
        counts += stage.done([as_counts(result)])
    for source in cfg.jdbc_sources(pipeline):
        stage = _Stage(f"bronze {source.name}")
        result = ingest_table(spark, source, cfg.jdbc, paths, run_id, full_reload=full_reload)
        counts += stage.done([as_counts(result)])
    return counts


def run_silver(spark, cfg: LakeConfig, pipeline: Pipeline, paths: LakePaths, run_id: str, *,
               full: bool = False) -> list[TableCounts]:
    """Standardize and check every silver table of ``pipeline``."""
    from lake.silver.build import build_interactions, build_silver_table

    counts: list[TableCounts] = []
    for table in cfg.silver_tables(pipeline):
        stage = _Stage(f"silver {table.name}")
        counts += stage.done([build_silver_table(spark, cfg, table.name, paths, run_id, full=full)])
    if pipeline is Pipeline.CUSTOMER_EXPERIENCE:
        stage = _Stage("silver interactions")
        counts += stage.done([build_interactions(spark, cfg, paths, run_id, full=full)])
    return counts


def run_gold(spark, cfg: LakeConfig, pipeline: Pipeline, paths: LakePaths, run_id: str, *,
             as_of: str | None = None, report: RunReport | None = None) -> list[TableCounts]:
    """Build the star and answers, or the flat table and its CSV."""
    if pipeline is Pipeline.CUSTOMER_EXPERIENCE:
        from lake.gold.answers import refresh_answers
        from lake.gold.star import build_star

        stage = _Stage("gold star")
        counts = build_star(spark, paths, run_id, timezone=cfg.lake.timezone)
        counts += refresh_answers(spark, paths, as_of=as_of, timezone=cfg.lake.timezone)
        return stage.done(counts)
    stage = _Stage("gold movimento_flat")
    counts = export_flat(spark, cfg, paths, run_id, report=report)
    return stage.done(counts)


def export_flat(spark, cfg: LakeConfig, paths: LakePaths, run_id: str, *, output_dir: str | None = None,
                report: RunReport | None = None) -> list[TableCounts]:
    """Refresh gold ``movimento_flat`` and write it as ONE CSV file in the output folder."""
    from lake import delta_io
    from lake.gold.flat import build_movimento_flat, export_csv

    build_movimento_flat(spark, paths, card_number=cfg.export.card_number, hash_key_env=cfg.export.hash_key_env,
                         timezone=cfg.lake.timezone)
    metrics = delta_io.last_metrics(spark, paths.gold("movimento_flat"))
    rows = int(metrics.get("numOutputRows", 0))
    counts = [TableCounts(table="movimento_flat", layer="gold", rows_in=rows, written=rows)]
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
    spark.conf.set("spark.sql.session.timeZone", cfg.lake.timezone)
    paths = LakePaths(cfg.lake.root)
    report = RunReport(run_id=run_id or new_run_id())
    started = time.monotonic()
    log.info("run %s: pipelines %s, layers %s, lake %s", report.run_id,
             ",".join(p.value for p in pipelines), ",".join(lay.value for lay in layers), cfg.lake.root)
    with lake_lock(spark, paths, report.run_id, wait=lock_wait):
        fault_point("run.locked")
        for p in pipelines:
            counts: list[TableCounts] = []
            if Layer.BRONZE in layers:
                counts += run_bronze(spark, cfg, p, paths, report.run_id, full_reload=full_reload)
                fault_point(f"stage.after:{p.value}.bronze")
            if Layer.SILVER in layers:
                counts += run_silver(spark, cfg, p, paths, report.run_id, full=full_reload)
                fault_point(f"stage.after:{p.value}.silver")
            if Layer.GOLD in layers:
                counts += run_gold(spark, cfg, p, paths, report.run_id, as_of=as_of, report=report)
                fault_point(f"stage.after:{p.value}.gold")
            record_counts(spark, paths, report.run_id, p.value, counts)
            fault_point(f"runs.after:{p.value}")
            report.counts += counts
    report.seconds = time.monotonic() - started
    log.info("run %s finished in %.1fs", report.run_id, report.seconds)
    return report


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
    spark.conf.set("spark.sql.session.timeZone", cfg.lake.timezone)
    func = getattr(answers, QUERIES[name])
    return func(spark, as_of=as_of, timezone=cfg.lake.timezone, paths=paths)
