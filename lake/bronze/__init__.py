"""Bronze: the lake's faithful, replayable memory of what arrived (files and JDBC tables).

Example:
    >>> from lake.bronze import ingest_files, reload_source
    >>> reload_source(spark, cfg, "ura", LakePaths(cfg.lake.root), run_id)
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from lake.bronze.common import IngestResult
from lake.bronze.files import ingest_files
from lake.bronze.jdbc import ingest_table
from lake.config import FileSource, LakeConfig
from lake.errors import SourceError
from lake.paths import LakePaths

__all__ = ["IngestResult", "ingest_files", "ingest_table", "ingest_source", "reload_source"]


def ingest_source(
    spark: SparkSession,
    cfg: LakeConfig,
    source_name: str,
    paths: LakePaths,
    run_id: str,
    *,
    full_reload: bool = False,
) -> IngestResult:
    """Ingest one configured source (files from ``cfg.lake.landing``, or its JDBC table)."""
    if source_name not in cfg.sources:
        raise SourceError(f"unknown source {source_name!r}; configured: {', '.join(sorted(cfg.sources))}")
    source = cfg.sources[source_name]
    if isinstance(source, FileSource):
        return ingest_files(spark, source, cfg.lake.landing, paths, run_id, full_reload=full_reload)
    return ingest_table(spark, source, cfg.jdbc, paths, run_id, full_reload=full_reload)


def reload_source(
    spark: SparkSession, cfg: LakeConfig, source_name: str, paths: LakePaths, run_id: str
) -> IngestResult:
    """Replace one source's bronze table from everything the source holds now.

    Example:
        >>> reload_source(spark, cfg, "whatsapp", LakePaths(cfg.lake.root), new_run_id())
    """
    return ingest_source(spark, cfg, source_name, paths, run_id, full_reload=True)
