"""``lake plan``: what a run would read and write, computed without starting Spark."""

from __future__ import annotations

import fnmatch
import os
import re

from lake.config import FileSource, LakeConfig, Pipeline
from lake.gold.tables import COOPERATIVE_TABLES, CUSTOMER_EXPERIENCE_TABLES
from lake.paths import LakePaths
from lake.redaction import redact


def matching_files(source: FileSource, landing: str) -> list[str] | None:
    """Files of a local ``landing`` whose names match the source's patterns, case-insensitively;
    None for a landing on another filesystem (listed through Hadoop when a run starts, and
    ``lake plan`` does not start Spark)."""
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", landing)
    if scheme and len(scheme.group(1)) > 1 and scheme.group(1).lower() != "file":
        return None
    if scheme:  # file:/x, file:///x
        landing = re.sub(r"^file:(//)?", "", landing, flags=re.IGNORECASE)
    if not os.path.isdir(landing):
        return []
    pats = [p.lower() for p in source.patterns]
    return sorted(
        os.path.join(landing, name)
        for name in os.listdir(landing)
        if os.path.isfile(os.path.join(landing, name)) and any(fnmatch.fnmatch(name.lower(), p) for p in pats)
    )


def describe_plan(cfg: LakeConfig, *, pipeline: str = "all") -> str:
    """A readable plan: sources with the files or table each run would read, and every table written."""
    paths = LakePaths(cfg.lake.root)
    chosen = list(Pipeline) if pipeline in (None, "all") else [Pipeline(pipeline)]
    out = [f"config: {cfg.file}", f"lake root: {cfg.lake.root}", f"time zone: {cfg.lake.timezone}"]
    for p in chosen:
        out.append(f"\npipeline {p.value}")
        out.append("  bronze (reads -> writes)")
        for s in cfg.file_sources(p):
            files = matching_files(s, cfg.lake.landing)
            shown = (
                "listed when the run starts"
                if files is None
                else ", ".join(os.path.basename(f) for f in files) or "no matching file yet"
            )
            out.append(
                f"    {s.name}: {cfg.lake.landing}/{'|'.join(s.patterns)} [{s.format.value}] "
                f"({shown}) -> {paths.bronze(s.name)}"
            )
        for j in cfg.jdbc_sources(p):
            mode = f"incremental on {j.incremental_column}" if j.incremental_column else "full"
            out.append(
                f"    {j.name}: {redact(cfg.jdbc.url)} table {j.table} ({mode}) -> {paths.bronze(j.name)}"
            )
        out.append("  silver")
        for t in cfg.silver_tables(p):
            rules = len(t.expectations)
            out.append(
                f"    {t.name}: {paths.bronze(t.source)} -> {paths.silver(t.name)} "
                f"({len(t.columns)} columns, {rules} expectations, {len(t.evidence)} evidence checks; "
                f"quarantine {paths.quarantine(t.name)})"
            )
        if p is Pipeline.CUSTOMER_EXPERIENCE:
            out.append(f"    interactions: channel tables -> {paths.silver('interactions')}")
            out.append("  gold")
            for g in CUSTOMER_EXPERIENCE_TABLES:
                out.append(f"    {paths.gold(g)}")
        else:
            out.append("  gold")
            for g in COOPERATIVE_TABLES:
                out.append(f"    {paths.gold(g)}")
            out.append(f"    {cfg.lake.output_dir.rstrip('/')}/{cfg.export.file_name}")
    return "\n".join(out)
