"""The ``lake`` command line.

Exit codes: 0 success; 1 a run failed (source, quality or pipeline error); 2 usage error;
3 configuration error; 4 the machine cannot run Spark (preflight); 5 the run completed but
quarantined whole files (their format evidence refuted every reading); 6 another run holds
the lake's lock (``lake run --wait SECONDS`` waits for it). On failure one line
``lake: error: ...`` goes to stderr; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CONFIG, EXIT_PREFLIGHT, EXIT_QUARANTINED_FILES = 0, 1, 2, 3, 4, 5

EXIT_CODES = (
    "exit codes: 0 ok; 1 run failed; 2 usage error; 3 configuration error; "
    "4 the machine cannot run Spark; 5 completed with quarantined files (a file whose "
    "date formats the evidence refuted is in quarantine whole; the rest ran); "
    "6 another run holds the lake (lake run --wait SECONDS waits)"
)
#: another run holds the lake's lock (``lake run`` refused; retry later or pass ``--wait``)
EXIT_LOCKED = 6

QUERIES = ("contacts-24h", "interactions-by-channel", "last-interaction")  # lake.gold.rules.ANSWERS

log = logging.getLogger("lake")


def _add_common(p: argparse.ArgumentParser, *, lake_root: bool = True) -> None:
    p.add_argument(
        "--config", metavar="FILE", help="configuration file (default: $LAKE_CONFIG or conf/lake.yml)"
    )
    if lake_root:
        p.add_argument("--lake-root", metavar="DIR", help="lake root folder or URI (overrides lake.root)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks on errors")


def _add_inputs(p: argparse.ArgumentParser) -> None:
    """The options of a run's inputs and output (``lake run``, ``lake watch``)."""
    p.add_argument("--pipeline", default="all", choices=["customer_experience", "cooperative", "all"])
    p.add_argument(
        "--landing", metavar="DIR", help="folder holding the channel files (overrides lake.landing)"
    )
    p.add_argument(
        "--jdbc-url",
        metavar="URL",
        help="cooperative source database; credentials from LAKE_JDBC_USER / LAKE_JDBC_PASSWORD",
    )
    p.add_argument(
        "--output-dir", metavar="DIR", help="where movimento_flat.csv goes (overrides lake.output_dir)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lake",
        description="A Spark-native medallion data lake: bronze, silver and gold on Delta Lake, "
        "for the customer-experience channels and the cooperative's database.",
        epilog="Run 'lake COMMAND --help' for a command's options. " + EXIT_CODES,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="generate sample data, run both pipelines, write the CSV, print the answers",
        description="Generate sample data into the landing folder and the embedded SQLite "
        "database, run every layer of both pipelines, write movimento_flat.csv and print the "
        "three customer-experience answers.",
    )
    p.add_argument(
        "--output-dir", metavar="DIR", help="where movimento_flat.csv goes (default: lake.output_dir)"
    )
    p.add_argument(
        "--interactions", type=int, default=4000, help="sample interactions to generate (default 4000)"
    )
    p.add_argument(
        "--transactions", type=int, default=4000, help="sample transactions to generate (default 4000)"
    )
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    _add_common(p)

    p = sub.add_parser(
        "run",
        help="run layers of the pipelines",
        description="Run the chosen layers (bronze, silver, gold) of the chosen pipelines.",
        epilog=EXIT_CODES,
    )
    p.add_argument("--layer", default="all", choices=["bronze", "silver", "gold", "all"])
    _add_inputs(p)
    p.add_argument("--full-reload", action="store_true", help="re-read every source from scratch")
    p.add_argument("--as-of", metavar="TIMESTAMP", help="reference time of the gold answers (default now)")
    p.add_argument("--dry-run", action="store_true", help="validate and print the plan; run no Spark job")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run holds the lake, wait up to SECONDS for it (default: refuse at once)",
    )
    _add_common(p)

    p = sub.add_parser(
        "watch",
        help="keep the lake current: a micro-batch every few seconds until stopped",
        description="Run the chosen pipelines as micro-batches on one Spark session: every "
        "INTERVAL seconds, new landing files (taken once renamed into place) and new or changed "
        "source rows go through bronze, silver and gold, answer tables included. One progress "
        "line per batch. SIGINT/SIGTERM finish the batch under way and exit 0.",
        epilog=EXIT_CODES,
    )
    p.add_argument(
        "--interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between the starts of two micro-batches (default 5)",
    )
    _add_inputs(p)
    p.add_argument(
        "--max-batches", type=int, metavar="N", help="stop after N micro-batches (default: run until stopped)"
    )
    _add_common(p)

    p = sub.add_parser(
        "export-csv",
        help="write movimento_flat as one CSV file",
        description="Refresh gold movimento_flat from silver and write ONE CSV file, "
        "movimento_flat.csv, atomically into DIR (any Hadoop-compatible URI).",
    )
    p.add_argument("--output-dir", metavar="DIR", required=True)
    _add_common(p)

    p = sub.add_parser(
        "query",
        help="print one of the three customer-experience answers",
        description="Print an answer from the gold star. Timestamps are shown as "
        "yyyy-MM-dd HH:mm:ss in the source time zone; --as-of is read in that zone. "
        "By default the answer is read through delta-rs (no JVM, about a second); "
        "--engine spark computes the same SQL on Spark.",
    )
    p.add_argument("name", choices=QUERIES)
    p.add_argument(
        "--as-of", metavar="TIMESTAMP", help="'yyyy-MM-dd HH:mm:ss' in the source time zone (default now)"
    )
    p.add_argument("--format", default="table", choices=["table", "csv", "json"])
    p.add_argument(
        "--engine",
        default="arrow",
        choices=["arrow", "spark"],
        help="arrow: delta-rs/DataFusion, no Spark (default); spark: Spark SQL",
    )
    _add_common(p)

    p = sub.add_parser(
        "status",
        help="latest runs with their per-table quality counts",
        description="Show the latest runs: per table, rows in, written, quarantined, "
        "dropped and warned, and the tables' Delta versions.",
    )
    p.add_argument("--limit", type=int, default=3, help="how many runs (default 3)")
    p.add_argument("--format", default="table", choices=["table", "json"])
    _add_common(p)

    p = sub.add_parser(
        "upgrade",
        help="rewrite a lake of an earlier version as plain Delta tables",
        description="Rewrite every silver, gold and _system table that still has column "
        "mapping, another table feature or INT96 timestamps (lakes written by earlier "
        "versions) as a plain Delta table any reader reads. Rows and schema are checked "
        "before the swap; old tables are kept under <root>/_upgrade/<stamp>/backup/. "
        "Bronze and silver tables without Delta's change data feed get it turned on in "
        "place; bronze and quarantine are not rewritten.",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be rewritten; start no Spark")
    _add_common(p)

    p = sub.add_parser(
        "plan",
        help="validate the config and show what a run would read and write",
        description="Validate the configuration and print what a run would read and write, "
        "without starting Spark.",
    )
    p.add_argument("--pipeline", default="all", choices=["customer_experience", "cooperative", "all"])
    p.add_argument("--landing", metavar="DIR")
    p.add_argument("--jdbc-url", metavar="URL")
    _add_common(p)

    p = sub.add_parser(
        "generate",
        help="generate sample channel files and the cooperative database",
        description="Generate deterministic sample data: the four channel files in the "
        "landing folder and the cooperative tables in a database (SQLite by default).",
    )
    p.add_argument("--landing", metavar="DIR")
    p.add_argument("--jdbc-url", metavar="URL")
    p.add_argument("--interactions", type=int, default=4000)
    p.add_argument("--transactions", type=int, default=4000)
    p.add_argument("--seed", type=int, default=42)
    _add_common(p, lake_root=False)
    return parser


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("py4j", "pyspark", "faker", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _load(args):
    from lake.config import load_config

    cfg = load_config(args.config)
    overrides = {
        "root": getattr(args, "lake_root", None),
        "landing": getattr(args, "landing", None),
        "output_dir": getattr(args, "output_dir", None),
    }
    cfg = cfg.with_overrides(**overrides)
    jdbc_url = getattr(args, "jdbc_url", None)
    if jdbc_url:
        import dataclasses

        cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=jdbc_url))
    return cfg


def _print_answers(spark, cfg, as_of=None, fmt="table") -> None:
    from lake.gold.answers import format_answer
    from lake.pipeline import answer

    for name in QUERIES:
        df = answer(spark, cfg, name, as_of=as_of)
        if fmt == "table":
            print(f"\n== {name} ==")
        print(format_answer(df, fmt, timezone=cfg.lake.timezone))


def cmd_demo(args) -> int:
    from lake.datagen.generate import generate
    from lake.pipeline import run
    from lake.session import get_spark

    cfg = _load(args)
    log.info(
        "generating %d interactions and %d transactions (seed %d)",
        args.interactions,
        args.transactions,
        args.seed,
    )
    generate(
        landing_dir=cfg.lake.landing,
        database_url=cfg.jdbc.url,
        interactions=args.interactions,
        transactions=args.transactions,
        seed=args.seed,
    )
    spark = get_spark()
    report = run(cfg, spark=spark)
    _print_answers(spark, cfg)
    print(f"\nmovimento_flat written to {report.csv_path}")
    return EXIT_OK


def cmd_run(args) -> int:
    from lake.pipeline import run

    cfg = _load(args)
    if args.dry_run:
        return _print_plan(cfg, args.pipeline)
    report = run(
        cfg,
        pipeline=args.pipeline,
        layer=args.layer,
        full_reload=args.full_reload,
        as_of=args.as_of,
        lock_wait=args.wait,
    )
    if report.csv_path:
        print(report.csv_path)
    if not report.reconciles:
        bad = ", ".join(f"{c.layer}.{c.table}" for c in report.counts if not c.reconciles)
        print(
            f"lake: error: run {report.run_id}: row counts do not reconcile for {bad} (see 'lake status')",
            file=sys.stderr,
        )
        return EXIT_FAILED
    if report.quarantined_files:
        files = "; ".join(f"{r.table}: {r.file} ({r.reason})" for r in report.quarantined_files)
        print(f"lake: completed with quarantined files: {files}", file=sys.stderr)
        return EXIT_QUARANTINED_FILES
    return EXIT_OK


def cmd_watch(args) -> int:
    import signal
    import threading

    from lake.watch import watch

    cfg = _load(args)
    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        if stop.is_set():  # a second signal: stop now
            raise KeyboardInterrupt
        log.info("%s: finishing the batch under way, then stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    watch(cfg, pipeline=args.pipeline, interval=args.interval, stop=stop, max_batches=args.max_batches)
    return EXIT_OK


def cmd_export_csv(args) -> int:
    from lake.paths import LakePaths
    from lake.pipeline import RunReport, export_flat
    from lake.runlog import new_run_id
    from lake.session import get_spark

    cfg = _load(args)
    spark = get_spark()
    report = RunReport(run_id=new_run_id())
    export_flat(
        spark, cfg, LakePaths(cfg.lake.root), report.run_id, output_dir=args.output_dir, report=report
    )
    print(report.csv_path)
    return EXIT_OK


def cmd_query(args) -> int:
    cfg = _load(args)
    if args.engine == "arrow":
        from lake.gold import fast
        from lake.gold.rules import ANSWERS

        print(
            fast.answer_text(
                cfg.lake.root, ANSWERS[args.name], args.format, as_of=args.as_of, timezone=cfg.lake.timezone
            )
        )
        return EXIT_OK
    from lake.session import get_spark, use_timezone

    spark = get_spark()
    use_timezone(spark, cfg.lake.timezone)
    from lake.gold.answers import format_answer
    from lake.pipeline import answer

    df = answer(spark, cfg, args.name, as_of=args.as_of)
    print(format_answer(df, args.format, timezone=cfg.lake.timezone))
    return EXIT_OK


def cmd_upgrade(args) -> int:
    from lake.upgrade import plan_upgrade, upgrade

    cfg = _load(args)
    if args.dry_run:
        items = plan_upgrade(cfg.lake.root)
    else:
        from lake.session import get_spark

        items = upgrade(get_spark(), cfg.lake.root)
    verb = "would upgrade" if args.dry_run else "upgraded"
    for item in items:
        kept = f"; old table kept at {item.backup}" if item.backup else ""
        rows = f" ({item.rows} rows)" if item.rows is not None else ""
        print(f"{verb} {item.layer}/{item.table}{rows}: {', '.join(item.reasons)}{kept}")
    if not items:
        print(
            "nothing to upgrade: every silver, gold and _system table is plain, bronze and silver record "
            "their change feed"
        )
    return EXIT_OK


def cmd_status(args) -> int:
    from lake.session import get_spark
    from lake.status import status

    cfg = _load(args)
    print(status(get_spark(), cfg, limit=args.limit, fmt=args.format))
    return EXIT_OK


def _print_plan(cfg, pipeline: str) -> int:
    from lake.plan import describe_plan

    print(describe_plan(cfg, pipeline=pipeline))
    return EXIT_OK


def cmd_plan(args) -> int:
    return _print_plan(_load(args), args.pipeline)


def cmd_generate(args) -> int:
    from lake.datagen.generate import generate

    cfg = _load(args)
    manifest = generate(
        landing_dir=cfg.lake.landing,
        database_url=cfg.jdbc.url,
        interactions=args.interactions,
        transactions=args.transactions,
        seed=args.seed,
    )
    print(json.dumps(manifest, indent=2, default=str))
    return EXIT_OK


COMMANDS = {
    "demo": cmd_demo,
    "run": cmd_run,
    "watch": cmd_watch,
    "export-csv": cmd_export_csv,
    "query": cmd_query,
    "status": cmd_status,
    "upgrade": cmd_upgrade,
    "plan": cmd_plan,
    "generate": cmd_generate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lake`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or usage error (2)
        return int(exc.code or 0)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    _configure_logging(args.verbose)
    from lake.errors import ConfigError, LakeError, LakeLockedError, PreflightError, java_cause

    err: Exception
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        code, err = EXIT_CONFIG, exc
    except PreflightError as exc:
        code, err = EXIT_PREFLIGHT, exc
    except LakeLockedError as exc:
        code, err = EXIT_LOCKED, exc
    except LakeError as exc:
        code, err = EXIT_FAILED, exc
    except KeyboardInterrupt:
        print("lake: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        code, err = EXIT_FAILED, exc
    if args.verbose:
        traceback.print_exception(err, file=sys.stderr)
    message = " ".join(str(err).split()) or type(err).__name__
    if not isinstance(err, LakeError):
        cause = java_cause(err)
        what = cause if cause else f"{type(err).__name__}: {message[:500]}"
        message = f"{what} (run with --verbose for the traceback)"
    print(f"lake: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
