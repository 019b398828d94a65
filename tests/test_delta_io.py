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
