"""``delta_io.table_version`` and ``delta_io.last_metrics`` read the Delta log itself (no Spark
job): they must say what Delta's own ``history()`` says, through appends, MERGEs, overwrites,
a checkpoint and an empty commit-less folder."""

from __future__ import annotations

from delta.tables import DeltaTable

from lake import delta_io


def _history(spark, path):
    row = DeltaTable.forPath(spark, path).history(1).select("version", "operationMetrics").first()
    metrics = {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if str(v).lstrip("-").isdigit()}
    return int(row["version"]), metrics


def _same_as_history(spark, path, metrics):
    version, expected = _history(spark, path)
    assert delta_io.table_version(spark, path) == version
    assert metrics["version"] == version
    assert {k: v for k, v in metrics.items() if k != "version"} == expected
    return version


def test_version_and_metrics_match_delta_history(spark, tmp_path):
    path = str(tmp_path / "silver" / "t")
    assert delta_io.table_version(spark, path) is None  # no table

    df = spark.createDataFrame([(1, "a"), (2, "b"), (3, "c")], "id int, v string")
    m = delta_io.append(spark, df, path)
    assert _same_as_history(spark, path, m) == 0 and m["numOutputRows"] == 3

    m = delta_io.merge_upsert(spark, spark.createDataFrame([(2, "B"), (4, "d")], "id int, v string"), path, ["id"])
    assert _same_as_history(spark, path, m) == 1
    assert (m["numTargetRowsUpdated"], m["numTargetRowsInserted"]) == (1, 1)

    # eleven more commits: Delta writes a checkpoint at version 10 and the listing still finds
    # the latest commit file (not the checkpoint's)
    for i in range(11):
        m = delta_io.append(spark, spark.createDataFrame([(10 + i, "x")], "id int, v string"), path)
    log_names = {p.name for p in (tmp_path / "silver" / "t" / "_delta_log").iterdir()}
    assert any(n.endswith(".checkpoint.parquet") for n in log_names)
    assert _same_as_history(spark, path, m) == 12

    m = delta_io.overwrite(spark, spark.createDataFrame([(7, "z")], "id int, v string"), path)
    assert _same_as_history(spark, path, m) == 13 and m["numOutputRows"] == 1


def test_a_log_folder_without_a_commit_is_no_table(spark, tmp_path):
    log_dir = tmp_path / "gold" / "t" / "_delta_log"
    log_dir.mkdir(parents=True)
    (log_dir / ".00000000000000000000.json.tmp").write_text("{}")  # a create that never committed
    assert delta_io.table_version(spark, str(tmp_path / "gold" / "t")) is None


def _detail(spark, path):
    row = DeltaTable.forPath(spark, path).detail().select("properties", "minWriterVersion").first()
    return dict(row["properties"] or {}), int(row["minWriterVersion"])


def test_table_configuration_matches_detail_with_and_without_the_checksum(spark, tmp_path):
    path = str(tmp_path / "gold" / "t")
    assert delta_io.table_configuration(spark, path) == {}  # no table
    delta_io.append(spark, spark.createDataFrame([(1, "a")], "id int, v string"), path)
    log_dir = tmp_path / "gold" / "t" / "_delta_log"
    assert (log_dir / "00000000000000000000.crc").exists()  # Delta wrote the checksum
    props, writer = _detail(spark, path)
    assert delta_io.table_configuration(spark, path) == props
    assert delta_io._min_writer_version(spark, path) == writer

    # a property set later: the checksum of the new latest version holds it
    assert delta_io.enable_change_feed(spark, path) in (True, False)
    props, writer = _detail(spark, path)
    assert props.get("delta.enableChangeDataFeed") == "true"
    assert delta_io.table_configuration(spark, path) == props
    assert delta_io.change_feed_enabled(spark, path)
    assert delta_io._min_writer_version(spark, path) == writer

    # no checksum for the latest version (another engine wrote it): asked through detail()
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('lake.test' = 'x')")
    latest = max(int(p.stem) for p in log_dir.glob("*.json"))
    (log_dir / f"{latest:020d}.crc").unlink()
    assert delta_io._checksum_state(spark, path) is None
    props, _ = _detail(spark, path)
    assert props.get("lake.test") == "x"
    assert delta_io.table_configuration(spark, path) == props


def _operation(spark, path):
    return DeltaTable.forPath(spark, path).history(1).first()["operation"]


def test_merge_upsert_inserts_a_batch_of_new_keys_and_merges_a_known_one(spark, tmp_path):
    path = str(tmp_path / "silver" / "t")
    schema = "id int, v string"
    delta_io.append(spark, spark.createDataFrame([(1, "a"), (None, "n")], schema), path)

    # no key of the batch is held: one commit (the insert-only MERGE), counted with the MERGE's names
    version = delta_io.table_version(spark, path)
    m = delta_io.merge_upsert(
        spark, spark.createDataFrame([(2, "b"), (3, "c")], schema), path, ["id"], append_if_no_match=True
    )
    assert delta_io.table_version(spark, path) == version + 1
    assert (m["numSourceRows"], m["numTargetRowsInserted"], m["numTargetRowsUpdated"]) == (2, 2, 0)

    # one key held (a null key too: the MERGE matches null-safely): updated as without the
    # option, the new key inserted once, every source row counted once
    for batch, inserted, updated in (([(3, "C"), (4, "d")], 1, 1), ([(None, "N")], 0, 1)):
        m = delta_io.merge_upsert(
            spark, spark.createDataFrame(batch, schema), path, ["id"], append_if_no_match=True
        )
        assert (m["numSourceRows"], m["numTargetRowsInserted"], m["numTargetRowsUpdated"]) == (
            len(batch),
            inserted,
            updated,
        )
    rows = sorted((r["id"] if r["id"] is not None else -1, r["v"]) for r in delta_io.read_table(spark, path).collect())
    assert rows == [(-1, "N"), (1, "a"), (2, "b"), (3, "C"), (4, "d")]

    # the same batch again: nothing changes, nothing is counted as written
    m = delta_io.merge_upsert(
        spark, spark.createDataFrame([(3, "C"), (4, "d")], schema), path, ["id"], append_if_no_match=True
    )
    assert (m["numSourceRows"], m["numTargetRowsInserted"], m["numTargetRowsUpdated"]) == (2, 0, 0)
    assert sorted(r["v"] for r in delta_io.read_table(spark, path).collect()) == ["C", "N", "a", "b", "d"]

    # an empty batch commits nothing and counts nothing
    version = delta_io.table_version(spark, path)
    m = delta_io.merge_upsert(spark, spark.createDataFrame([], schema), path, ["id"], append_if_no_match=True)
    assert delta_io.table_version(spark, path) == version
    assert (m.get("numSourceRows", 0), m.get("numTargetRowsInserted", 0)) == (0, 0)


def test_table_bytes_is_the_size_of_the_live_data_files(spark, tmp_path):
    """The checksum's size equals the bytes of the files the latest version lists (read here
    from Delta's own file list and the file system), through an append and an overwrite that
    leaves the first files on disk; no table is 0 bytes."""
    import os
    from urllib.parse import urlparse

    path = str(tmp_path / "t")
    assert delta_io.table_bytes(spark, path) == 0

    def live_bytes():
        files = DeltaTable.forPath(spark, path).toDF().inputFiles()
        return sum(os.path.getsize(urlparse(f).path) for f in files)

    spark.range(100).write.format("delta").save(path)
    first = spark.read.format("delta").option("versionAsOf", 0).load(path).inputFiles()
    spark.range(100, 5000).write.format("delta").mode("append").save(path)
    assert delta_io.table_bytes(spark, path) == live_bytes() > 0
    # what a consumer that read version 0 has yet to read: the append's files
    appended = live_bytes() - sum(os.path.getsize(urlparse(f).path) for f in first)
    assert delta_io.added_bytes(spark, path, 0) == appended > 0
    assert delta_io.added_bytes(spark, path, 1) == 0
    assert delta_io.added_bytes(spark, path, None) == live_bytes()
    spark.range(7).write.format("delta").mode("overwrite").save(path)
    on_disk = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith(".parquet"))
    assert delta_io.table_bytes(spark, path) == live_bytes() < on_disk
    assert delta_io.tables_bytes(spark, [path, path, str(tmp_path / "none")]) == 2 * live_bytes()


def _commits(table_dir):
    """``{version: (operation, operationParameters, [(size, dataChange) of its add actions])}``
    read from the commit files (the test's own reading of the log)."""
    import json

    found = {}
    for f in sorted((table_dir / "_delta_log").glob("*.json")):
        info, adds = {}, []
        for line in f.read_text().splitlines():
            action = json.loads(line)
            info = action.get("commitInfo", info)
            if "add" in action:
                adds.append((action["add"]["size"], action["add"]["dataChange"]))
        found[int(f.stem)] = (info.get("operation"), info.get("operationParameters") or {}, adds)
    return found


def test_with_auto_compaction_the_metrics_are_the_writes(spark, tmp_path):
    """With Delta's auto compaction turned on (a cluster's setting), a table appended a row at
    a time keeps few live files, its change feed holds each row once, and ``last_metrics`` /
    ``committed_after`` / ``added_bytes`` describe the writes, never the compactions Delta
    commits right after them."""
    table_dir = tmp_path / "silver" / "t"
    path = str(table_dir)
    spark.conf.set("spark.databricks.delta.autoCompact.enabled", "true")
    spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "3")
    try:
        for i in range(8):
            before = delta_io.table_version(spark, path)
            m = delta_io.append(spark, spark.createDataFrame([(i, f"v{i}")], "id int, v string"), path)
            writes = [v for v, (op, _, _) in _commits(table_dir).items() if op == "WRITE"]
            assert m["version"] == max(writes) and m["numOutputRows"] == 1
            assert delta_io.committed_after(m, before)
        # a write of no rows commits nothing: not taken for the last write (the latest commit
        # here may be a compaction, newer than that write)
        before = delta_io.table_version(spark, path)
        m = delta_io.append(spark, spark.createDataFrame([], "id int, v string"), path)
        assert not delta_io.committed_after(m, before) or m["version"] == delta_io.table_version(spark, path)
    finally:
        spark.conf.unset("spark.databricks.delta.autoCompact.enabled")
        spark.conf.unset("spark.databricks.delta.autoCompact.minNumFiles")
    commits = _commits(table_dir)
    compactions = [v for v, (op, params, _) in commits.items() if op == "OPTIMIZE"]
    assert compactions, "no auto compaction ran"
    assert all(str(commits[v][1].get("auto")).lower() == "true" for v in compactions)
    assert max(commits) in compactions or max(commits) - 1 in compactions or len(compactions) >= 2
    live = spark.read.format("delta").load(path).inputFiles()
    assert len(live) < 8, live
    rows = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 0).load(path)
    got = sorted((r["id"], r["v"], r["_change_type"]) for r in rows.collect())
    assert got == [(i, f"v{i}", "insert") for i in range(8)]  # each row once: compactions change no data
    # bytes a consumer of version 0 reads next: the later writes' files, not the rewrites
    written = sum(size for v, (op, _, adds) in commits.items() if v > 0 for size, change in adds if change)
    rewritten = sum(size for v in compactions for size, _ in commits[v][2])
    assert rewritten > 0
    assert delta_io.added_bytes(spark, path, 0) == written
    with_rewrites = sum(size for v, (_, _, adds) in commits.items() if v > 0 for size, _ in adds)
    assert with_rewrites == written + rewritten  # what counting every add would have said


def test_compact_bin_packs_small_files_and_changes_no_data(spark, tmp_path):
    """``compact`` rewrites a table of many small files into few, in a commit that changes no
    data: the same rows, the change feed still holding each row once; below the threshold (or
    with 0) it commits nothing."""
    table_dir = tmp_path / "bronze" / "t"
    path = str(table_dir)
    rows = [(i, f"v{i}") for i in range(6)]
    for r in rows[:2]:
        delta_io.append(spark, spark.createDataFrame([r], "id int, v string").coalesce(1), path)
    assert not delta_io.compact(spark, path, 3)  # two files
    assert not delta_io.compact(spark, path, 0)
    assert delta_io.table_version(spark, path) == 2  # created empty (column mapping + feed), two writes
    for r in rows[2:]:
        delta_io.append(spark, spark.createDataFrame([r], "id int, v string").coalesce(1), path)
    files_before = len(spark.read.format("delta").load(path).inputFiles())
    assert files_before == 6
    assert delta_io.compact(spark, path, 3)
    assert len(spark.read.format("delta").load(path).inputFiles()) == 1
    commits = _commits(table_dir)
    op, params, adds = commits[max(commits)]
    assert op == "OPTIMIZE" and str(params.get("auto")).lower() != "true" and adds and not any(c for _, c in adds)
    got = sorted((r["id"], r["v"]) for r in spark.read.format("delta").load(path).collect())
    assert got == rows
    feed = spark.read.format("delta").option("readChangeFeed", "true").option("startingVersion", 1).load(path)
    assert sorted((r["id"], r["v"], r["_change_type"]) for r in feed.collect()) == [(i, v, "insert") for i, v in rows]
    assert not delta_io.compact(spark, path, 3)  # one file now


def test_a_run_compacts_what_it_wrote_and_a_failed_compaction_waits(spark, tmp_path, monkeypatch, caplog):
    """``compact_written`` compacts the tables a run's counts name (and the quarantine of a
    silver table) past the threshold, leaves the others, and a compaction that fails is a
    warning: the table is compacted by the next run."""
    import logging

    from lake import faults
    from lake.ledger import TableCounts
    from lake.paths import LakePaths
    from lake.pipeline import compact_written

    paths = LakePaths(str(tmp_path / "lake"))
    one = spark.createDataFrame([(1, "a")], "id int, v string").coalesce(1)
    for path, writes in ((paths.silver("s"), 3), (paths.quarantine("s"), 3), (paths.gold("g"), 3),
                         (paths.gold("few"), 2), (paths.gold("other"), 3)):
        for _ in range(writes):
            delta_io.append(spark, one, path)
    counts = [TableCounts("s", "silver", 3, 3), TableCounts("g", "gold", 3, 3), TableCounts("few", "gold", 2, 2)]

    monkeypatch.setenv("LAKE_FAULT", f"raise@compact.before:{paths.gold('g')}")
    faults.reset()
    with caplog.at_level(logging.WARNING, logger="lake.pipeline"):
        done = compact_written(spark, paths, counts, 3)
    assert done == [paths.silver("s"), paths.quarantine("s")]
    assert any("could not compact" in r.getMessage() and paths.gold("g") in r.getMessage() for r in caplog.records)
    monkeypatch.delenv("LAKE_FAULT")
    faults.reset()
    assert compact_written(spark, paths, counts, 3) == [paths.gold("g")]  # the next run
    assert compact_written(spark, paths, counts, 0) == []

    def files(path):
        return len(spark.read.format("delta").load(path).inputFiles())

    assert [files(p) for p in (paths.silver("s"), paths.quarantine("s"), paths.gold("g"))] == [1, 1, 1]
    assert files(paths.gold("few")) == 2 and files(paths.gold("other")) == 3  # below the threshold; not the run's
