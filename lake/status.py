"""``lake status``: recent runs, per-table quality counts and Delta versions."""

from __future__ import annotations

import json

from lake import delta_io
from lake.config import LakeConfig
from lake.gold.tables import GOLD_TABLES
from lake.paths import LakePaths
from lake.runlog import latest_runs


def table_versions(spark, cfg: LakeConfig) -> list[dict]:
    """Every table of the lake with its current Delta version (None when not created yet)."""
    paths = LakePaths(cfg.lake.root)
    names = [("bronze", s, paths.bronze(s)) for s in cfg.sources]
    names += [("silver", t, paths.silver(t)) for t in [*cfg.silver, "interactions"]]
    names += [("quarantine", t, paths.quarantine(t)) for t in cfg.silver]
    names += [("gold", g, paths.gold(g)) for g in GOLD_TABLES]
    return [
        {"layer": layer, "table": name, "version": delta_io.table_version(spark, path)}
        for layer, name, path in names
    ]


def status(spark, cfg: LakeConfig, *, limit: int = 3, fmt: str = "table") -> str:
    """Text (or JSON) with the latest runs' counts and the tables' versions.

    A table whose counts do not reconcile is flagged ``MISMATCH``; a failed run shows a
    ``FAILED`` line with its error class and (redacted) message. JSON rows carry ``status``,
    ``reconciles``, ``error_class`` and ``error_message`` as recorded.
    """
    runs_df = latest_runs(spark, LakePaths(cfg.lake.root), limit=limit)
    runs = [r.asDict() for r in runs_df.collect()] if runs_df is not None else []  # tiny bookkeeping table
    versions = table_versions(spark, cfg)
    if fmt == "json":
        return json.dumps({"runs": runs, "tables": versions}, default=str, indent=2)
    lines = ["Latest runs:" if runs else "No run recorded yet."]
    header = (
        f"  {'run_id':30} {'pipeline':20} {'layer':7} {'table':32} {'in':>9} {'written':>9} {'quar.':>7} "
        f"{'drop':>6} {'unch.':>7} {'warn':>6}"
    )
    if runs:
        lines.append(header)
    for r in runs:
        if r.get("error_class"):  # the row a failed run leaves for its error
            lines.append(
                f"  {r['run_id']:30} {r['pipeline']:20} FAILED  {r['error_class']}: {r['error_message']}"
            )
            continue
        lines.append(
            f"  {r['run_id']:30} {r['pipeline']:20} {r['layer']:7} {r['table']:32} {r['rows_in']:>9} "
            f"{r['written']:>9} {r['quarantined']:>7} {r['dropped']:>6} {r['unchanged']:>7} {r['warned']:>6}"
            + ("" if r["reconciles"] else "  MISMATCH")
        )
    lines.append("\nTables (Delta version):")
    for v in versions:
        lines.append(f"  {v['layer']:10} {v['table']:32} {'-' if v['version'] is None else v['version']}")
    return "\n".join(lines)
