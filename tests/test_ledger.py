"""Progress by Delta versions (lake/ledger.py, issue 10): change reads, the fallback for a
range without change data, tombstones reaching silver, and the injected clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lake import clock, delta_io, ledger
from lake.errors import ConfigError
from lake.paths import LakePaths
from lake.silver.build import build_silver_table
from tests.silver_bronze import jdbc_df, write_bronze
from tests.test_silver_build import cfg_for

KV = "id long, v string"


def _rows(df, *cols) -> Counter:
    return Counter(tuple(r[c] for c in cols) for r in df.select(*cols).collect())


def test_changes_inserts_updates_deletes_then_nothing(spark, lake_root):
    paths = LakePaths(lake_root)
    path = paths.silver("kv")  # a feeding layer: recorded with the change feed
    delta_io.merge_upsert(spark, spark.createDataFrame([(1, "a"), (2, "b")], KV), path, ["id"])
    first, v0 = ledger.changes(spark, path, None)
    assert v0 == 0
    assert _rows(first, "id", "v", "_change_type", "_commit_version") == Counter(
        {(1, "a", "insert", 0): 1, (2, "b", "insert", 0): 1})

    batch = spark.createDataFrame([(1, None, "delete"), (2, "B", "upsert"), (3, "c", "upsert"), (9, None, "delete")],
                                  KV + ", _op string")
    metrics = delta_io.merge_upsert(spark, batch, path, ["id"], delete_when="s._op = 'delete'", control_columns=["_op"])
    assert _rows(delta_io.read_table(spark, path), "id", "v") == Counter({(2, "B"): 1, (3, "c"): 1})
    assert delta_io.read_table(spark, path).columns == ["id", "v"]  # the control column is not written
    assert (metrics["numTargetRowsMatchedDeleted"], metrics["numTargetRowsUpdated"], metrics["numTargetRowsInserted"]) \
        == (1, 1, 1)

    found, v1 = ledger.changes(spark, path, v0)
    assert v1 == v0 + 1
    assert _rows(found, "id", "v", "_change_type", "_commit_version") == Counter({
        (1, "a", "delete", 1): 1, (2, "b", "update_preimage", 1): 1, (2, "B", "update_postimage", 1): 1,
        (3, "c", "insert", 1): 1})
    assert "_commit_timestamp" not in found.columns
    net = ledger.net_changes(found, ["id"])
    assert _rows(net, "id", "v", "_change_type") == Counter(
        {(1, "a", "delete"): 1, (2, "B", "update_postimage"): 1, (3, "c", "insert"): 1})

    assert ledger.changes(spark, path, v1) == (None, v1)  # nothing new
    assert ledger.changes(spark, paths.silver("absent"), None) == (None, None)


def test_consumed_versions_are_recorded_per_consumer_and_source(spark, lake_root):
    paths = LakePaths(lake_root)
    assert ledger.consumed(spark, paths, "silver.ura", "bronze.ura") is None
    ledger.record_consumed(spark, paths, "silver.ura", {"bronze.ura": 3}, "r1")
    ledger.record_consumed(spark, paths, "silver.interactions", {"silver.ura": 5, "silver.chat": 2}, "r1")
    ledger.record_consumed(spark, paths, "silver.ura", {"bronze.ura": 4}, "r2")
    assert ledger.consumed(spark, paths, "silver.ura", "bronze.ura") == 4
    assert ledger.consumed(spark, paths, "silver.interactions", "silver.chat") == 2
    assert ledger.consumed(spark, paths, "silver.interactions", "bronze.ura") is None
    assert delta_io.read_table(spark, paths.system(ledger.CONSUMERS)).count() == 3


def test_range_before_the_change_feed_falls_back_to_one_full_read(spark, lake_root):
    paths = LakePaths(lake_root)
    path = paths.silver("old")
    # a table of an old lake: written before the change feed existed (protocol 1/2)
    spark.createDataFrame([(1, "a")], KV).write.format("delta").save(path)
    spark.createDataFrame([(2, "b")], KV).write.format("delta").mode("append").save(path)
    assert not delta_io.change_feed_enabled(spark, path)
    assert delta_io.enable_change_feed(spark, path)        # what `lake upgrade` does (version 2)
    assert not delta_io.enable_change_feed(spark, path)    # a second time: nothing to do
    detail = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()
    assert (detail["minReaderVersion"], detail["minWriterVersion"]) == (1, 4)
    spark.createDataFrame([(3, "c")], KV).write.format("delta").mode("append").save(path)

    found = ledger.read_changes(spark, path, 0)  # versions 1..3: version 1 has no change data
    assert found.full and found.upto == 3
    assert _rows(found.df, "id", "_change_type") == Counter({(1, "insert"): 1, (2, "insert"): 1, (3, "insert"): 1})
    later = ledger.read_changes(spark, path, 2)  # after the upgrade: the change feed again
    assert not later.full and later.upto == 3
    assert _rows(later.df, "id", "_change_type", "_commit_version") == Counter({(3, "insert", 3): 1})


ASSOCIADO = "id long, nome string, sobrenome string, idade int, email string"


def test_silver_applies_bronze_tombstones_and_records_its_version(spark, lake_root):
    cfg = cfg_for(lake_root)
    paths = LakePaths(lake_root)
    ts = dt.datetime(2023, 5, 1, 10, 0, 0)

    def bronze(rows):  # JDBC bronze rows with the operation column `mutable` adds
        return jdbc_df(spark, "associado", ASSOCIADO + ", _op string", rows, ingested_at=ts)

    write_bronze(spark, paths, "associado", bronze(
        [(1, "Ana", "Silva", 30, "ana@x.com", "upsert"), (2, "Bia", "Lima", 40, "bia@x.com", "upsert")]))
    first = build_silver_table(spark, cfg, "associado", paths, "s1")
    assert (first.rows_in, first.written) == (2, 2)
    v_first = delta_io.table_version(spark, paths.bronze("associado"))
    assert ledger.consumed(spark, paths, "silver.associado", "bronze.associado") == v_first

    # the same clock value as the first delivery: versions, not _ingested_at, decide what is new
    write_bronze(spark, paths, "associado", bronze(
        [(1, None, None, None, None, "delete"), (3, "Caio", "Reis", 50, "caio@x.com", "upsert"),
         (9, None, None, None, None, "delete")]))
    second = build_silver_table(spark, cfg, "associado", paths, "s2")
    # 1 deleted + 3 inserted are writes; the tombstone of the unknown id 9 changes nothing
    assert (second.rows_in, second.written, second.unchanged, second.quarantined) == (3, 2, 1, 0)
    assert second.reconciles
    silver = delta_io.read_table(spark, paths.silver("associado"))
    assert "_op" not in silver.columns
    assert _rows(silver, "id", "nome") == Counter({(2, "Bia"): 1, (3, "Caio"): 1})
    assert not delta_io.table_exists(spark, paths.quarantine("associado"))

    # the ledger entry lost (a kill before it): the rerun re-reads the batch and changes nothing
    rows = Counter(silver.collect())
    ledger.record_consumed(spark, paths, "silver.associado", {"bronze.associado": v_first}, "lost")
    again = build_silver_table(spark, cfg, "associado", paths, "s3")
    assert (again.rows_in, again.written) == (3, 0) and again.reconciles
    assert Counter(delta_io.read_table(spark, paths.silver("associado")).collect()) == rows


def test_silver_keeps_only_the_latest_state_of_a_mutable_key(spark, lake_root):
    """A source with ``_op``: each key's latest state decides. Passing or deleted at the
    source: the key leaves quarantine; quarantined: it leaves silver. Also within one batch
    (two bronze commits read together)."""
    cfg = cfg_for(lake_root)
    paths = LakePaths(lake_root)
    ts = dt.datetime(2023, 5, 1, 10, 0, 0)

    def bronze(rows):
        return jdbc_df(spark, "associado", ASSOCIADO + ", _op string", [(*r, "upsert") if len(r) == 5 else r for r in rows],
                       ingested_at=ts)

    # age_plausible quarantines an idade above 130
    write_bronze(spark, paths, "associado", bronze([(1, "Ana", "S", 30, None), (2, "Bia", "L", 200, None),
                                                    (3, "Caio", "R", 300, None), (4, "Dani", "M", 40, None)]))
    first = build_silver_table(spark, cfg, "associado", paths, "s1")
    assert (first.written, first.quarantined) == (2, 2)

    write_bronze(spark, paths, "associado", bronze([
        (1, "Ana", "S", 999, None),                    # now quarantined: leaves silver
        (2, "Bia", "L", 41, None),                     # corrected: leaves quarantine, enters silver
        (3, None, None, None, None, "delete"),         # quarantined, then deleted at the source
        (4, "Dani", "M", 50, None), (5, "Eva", "T", 999, None)]))
    write_bronze(spark, paths, "associado", bronze([(4, "Dani", "M", 777, None), (5, "Eva", "T", 25, None)]))
    second = build_silver_table(spark, cfg, "associado", paths, "s2")
    assert _rows(delta_io.read_table(spark, paths.silver("associado")), "id", "idade") == Counter({(2, 41): 1, (5, 25): 1})
    assert _rows(delta_io.read_table(spark, paths.quarantine("associado")), "id", "idade") == Counter(
        {(1, 999): 1, (4, 777): 1})
    # 7 rows: 2 superseded (4 and 5's first states) dropped, 1 and 4 quarantined (their silver
    # deletes are not counted again), 2 and 5 written, the tombstone of 3 (not in silver) unchanged
    assert (second.rows_in, second.written, second.quarantined, second.dropped, second.unchanged) == (7, 2, 2, 2, 1)
    assert second.reconciles


def test_clock_is_injected_by_lake_clock(monkeypatch):
    monkeypatch.setenv(clock.ENV, "2026-01-01T00:00:00Z")
    assert clock.now() == dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    monkeypatch.setenv(clock.ENV, "2026-01-01T03:00:00-03:00")
    assert clock.now() == dt.datetime(2026, 1, 1, 6, tzinfo=dt.timezone.utc)
    monkeypatch.setenv(clock.ENV, "-3600s")
    behind = clock.now()
    real = dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(minutes=59) < real - behind < dt.timedelta(minutes=61)
    monkeypatch.setenv(clock.ENV, "+2h")
    assert dt.timedelta(minutes=119) < clock.now() - dt.datetime.now(dt.timezone.utc) < dt.timedelta(minutes=121)
    monkeypatch.setenv(clock.ENV, "yesterday")
    with pytest.raises(ConfigError, match="LAKE_CLOCK"):
        clock.now()


def test_run_ids_and_bookkeeping_use_the_clock(spark, lake_root, monkeypatch):
    from lake.bronze.common import read_watermark, write_watermark
    from lake.runlog import new_run_id

    monkeypatch.setenv(clock.ENV, "2026-01-01T00:00:00Z")
    assert new_run_id().startswith("20260101T000000-")
    paths = LakePaths(lake_root)
    write_watermark(spark, paths, "conta", "id", "7", "r1")
    ledger.record_consumed(spark, paths, "silver.conta", {"bronze.conta": 1}, "r1")
    seconds = F.unix_seconds("updated_at")  # the instant, whatever the session's zone
    marks = delta_io.read_table(spark, paths.system("watermarks")).select(seconds).collect()
    kept = delta_io.read_table(spark, paths.system(ledger.CONSUMERS)).select(seconds).collect()
    assert [r[0] for r in marks + kept] == [1767225600] * 2  # 2026-01-01T00:00:00Z
    assert read_watermark(spark, paths, "conta") == "7"


# --------------------------------------------------------------------------- the injected clock, end to end

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
AS_OF = "2026-11-25 12:00:00"
#: Run k of the incremental lake gets delivery k and this clock: frozen, then frozen an hour
#: earlier (a driver whose clock is behind the last run's). Two runs at the same instant:
#: test_silver_applies_bronze_tombstones_and_records_its_version (same ``_ingested_at``).
CLOCKS = ("2026-01-01T00:00:00Z", "2025-12-31T23:00:00Z")
#: Run ids, clocks and file times differ between two lakes by design.
VOLATILE = {"_run_id", "_ingested_at", "_silver_run_id", "_bronze_run_id", "_file_modified_at"}


def _lake_rows(spark, root: str) -> dict[str, Counter]:
    """Every silver, quarantine and gold table as a multiset of rows (JSON text by Spark)."""
    out = {}
    for layer in ("silver", "quarantine", "gold"):
        for table in sorted(p for p in (Path(root) / layer).iterdir() if (p / "_delta_log").is_dir()):
            df = delta_io.read_table(spark, str(table))
            cols = sorted(c for c in df.columns if c not in VOLATILE)
            text = F.to_json(F.struct(*[F.col(f"`{c}`") for c in cols]))
            out[f"{layer}.{table.name}"] = Counter(r[0] for r in df.select(text).collect())
    return out


@pytest.mark.timeout(2400)
def test_runs_with_a_frozen_then_set_back_clock_skip_nothing(spark, tmp_path, monkeypatch):
    """Two deliveries, two `lake run`s with the clock frozen, then set back an hour: silver,
    interactions, quarantine and gold hold exactly what one run over all the files gives
    (an ``_ingested_at > last seen`` filter skips the second delivery)."""
    import shutil

    from lake.config import load_config
    from lake.datagen import generate
    from lake.pipeline import run

    staging, landing = tmp_path / "staging", tmp_path / "landing"
    manifest = generate(landing_dir=str(staging), database_url=None, interactions=40, files_per_channel=2, seed=5,
                        malformed_share=0.05, duplicate_share=0.0)
    files = [sorted(c["files"]) for c in manifest["channels"]["channels"].values()]
    landing.mkdir()

    def lake(name):
        return load_config(CONF).with_overrides(root=str(tmp_path / name), landing=str(landing),
                                                output_dir=str(tmp_path / f"{name}-out"))

    written = Counter()
    for k, instant in enumerate(CLOCKS):
        for channel in files:
            shutil.copy2(channel[k], landing)
        monkeypatch.setenv(clock.ENV, instant)
        report = run(lake("incremental"), pipeline="customer_experience", spark=spark, as_of=AS_OF)
        assert report.reconciles
        written.update({c.table: c.rows_in for c in report.counts if c.layer == "silver"})
    monkeypatch.delenv(clock.ENV)
    assert min(written.values()) > 0
    assert run(lake("reference"), pipeline="customer_experience", spark=spark, as_of=AS_OF).reconciles

    got, want = _lake_rows(spark, str(tmp_path / "incremental")), _lake_rows(spark, str(tmp_path / "reference"))
    assert sorted(got) == sorted(want)
    assert sum(want["silver.interactions"].values()) > 0
    for name in want:
        assert got[name] == want[name], name


def test_unread_bytes_follow_what_the_consumer_recorded(spark, lake_root):
    """A consumer never recorded has the whole table to read; after recording a version, only
    the data files committed after it (sizes read here from the file system)."""
    import os
    from urllib.parse import urlparse

    paths = LakePaths(lake_root)
    src = paths.bronze("kv")
    sources = {"bronze.kv": src}
    assert ledger.unread_bytes(spark, paths, "silver.kv", sources) == 0  # no table yet
    spark.createDataFrame([(1, "a")], KV).write.format("delta").save(src)

    def size(files):
        return sum(os.path.getsize(urlparse(f).path) for f in files)

    v0 = size(spark.read.format("delta").load(src).inputFiles())
    assert ledger.unread_bytes(spark, paths, "silver.kv", sources) == v0 > 0
    ledger.record_consumed(spark, paths, "silver.kv", {"bronze.kv": 0}, "r1")
    assert ledger.unread_bytes(spark, paths, "silver.kv", sources) == 0
    spark.createDataFrame([(2, "b"), (3, "c")], KV).write.format("delta").mode("append").save(src)
    v1 = size(spark.read.format("delta").load(src).inputFiles()) - v0
    assert ledger.unread_bytes(spark, paths, "silver.kv", sources) == v1 > 0
    assert ledger.unread_bytes(spark, paths, "silver.other", sources) == v0 + v1
