"""Open tables: any Delta reader reads silver and gold, and the answers need no JVM.

* interop: every silver and gold table of a pipeline-built lake, read by delta-rs
  (``deltalake``'s ``to_pyarrow_table()``), equals Spark's read of it as a multiset of rows;
* parity: the three answers computed by Spark (the SQL file on Spark SQL, and the DataFrame
  API over the star) and by delta-rs/DataFusion (:mod:`lake.gold.fast`) are identical, on a
  demo-like lake and on the edge-case lake of tests/test_gold_answers.py, for many ``as_of``;
* upgrade: a lake written the old way (column mapping everywhere, INT96 timestamps) becomes
  plain with the same content.

Values are normalized explicitly before comparing (see ``_norm``): timestamps (``timestamp``
= an instant) as integer microseconds since the epoch in UTC, ``timestamp_ntz`` as naive
datetimes, dates as dates, decimals as ``Decimal`` (scale kept), nulls as ``None``, arrays
as tuples, structs and maps as sorted tuples of items.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampType

from lake import delta_io
from lake.config import load_config
from lake.gold import answers, fast
from lake.gold.rules import ANSWERS
from lake.gold.star import build_star
from lake.paths import LakePaths
from tests.gold_helpers import CHANNELS, TZ, write_interactions

deltalake = pytest.importorskip("deltalake")

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
ANSWER_NAMES = tuple(ANSWERS.values())

#: Tests on a lake built by the whole pipeline (both pipelines, every layer): end to end,
#: so marked slow like the other end-to-end tests; the first one also builds the lake.
def DEMO_LAKE(test):  # noqa: N802 - used as a marker
    return pytest.mark.slow(pytest.mark.timeout(2400)(test))


# --------------------------------------------------------------------------- normalizing


def _micros(value: dt.datetime) -> int:
    delta = value - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _norm(value):
    """One value, from either reader, in a comparable form (module docstring)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return _micros(value) if value.tzinfo is not None else value
    if isinstance(value, decimal.Decimal):
        return ("decimal", value.as_tuple())
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        if hasattr(value, "asDict"):  # a Spark Row (struct)
            return tuple(sorted((k, _norm(v)) for k, v in value.asDict().items()))
        return tuple(_norm(v) for v in value)
    return value


def spark_rows(df) -> Counter:
    """Rows of a Spark DataFrame; instants leave Spark as micros since the epoch, so the
    Python process's zone never enters."""
    cols = [F.unix_micros(F.col(f.name)).alias(f.name) if isinstance(f.dataType, TimestampType) else F.col(f.name)
            for f in df.schema.fields]
    return Counter(tuple(_norm(v) for v in r) for r in df.select(*cols).collect())


def arrow_rows(table) -> Counter:
    """Rows of a pyarrow Table; instants leave Arrow as micros since the epoch (a Python
    datetime cannot hold 9999-12-31 23:59:59 in Sao Paulo: it is year 10000 in UTC)."""
    import pyarrow as pa

    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            column = column.cast(pa.timestamp("us", tz=field.type.tz)).cast(pa.int64())
        columns.append(column.to_pylist())
    return Counter(tuple(_norm(v) for v in row) for row in zip(*columns))


# --------------------------------------------------------------------------- lakes


@pytest.fixture(scope="module")
def demo_lake(spark, tmp_path_factory):
    """A lake built by the real pipeline from the demo's generator (both pipelines)."""
    from lake.datagen import generate
    from lake.pipeline import run

    base = tmp_path_factory.mktemp("open-demo")
    landing, db = base / "landing", base / "coop.db"
    generate(landing_dir=str(landing), database_url=f"jdbc:sqlite:{db}", interactions=300, transactions=200,
             seed=11, members=15)
    cfg = load_config(CONF).with_overrides(root=str(base / "lake"), landing=str(landing), output_dir=str(base / "out"))
    cfg = dataclasses.replace(cfg, jdbc=dataclasses.replace(cfg.jdbc, url=f"jdbc:sqlite:{db}", user=None, password=None))
    run(cfg, spark=spark, as_of="2026-11-25 12:00:00")
    return LakePaths(cfg.lake.root)


@pytest.fixture(scope="module")
def edge_lake(spark, tmp_path_factory):
    """The edge-case star of tests/test_gold_answers.py (boundaries, ties, unknown customers)."""
    from tests.test_gold_answers import ROWS

    paths = LakePaths(str(tmp_path_factory.mktemp("open-edge")))
    write_interactions(spark, paths, ROWS)
    build_star(spark, paths, "run-1", channels=CHANNELS, timezone=TZ)
    return paths


def _tables(paths: LakePaths, layer: str) -> list[str]:
    folder = Path(paths.root) / layer
    return sorted(p.name for p in folder.iterdir() if (p / "_delta_log").is_dir())


# --------------------------------------------------------------------------- interop


@DEMO_LAKE
def test_layers_have_the_right_protocol(demo_lake):
    for layer in ("silver", "gold", "_system"):
        names = _tables(demo_lake, layer)
        assert names, layer
        for name in names:
            table = deltalake.DeltaTable(f"{demo_lake.root}/{layer}/{name}")
            protocol = table.protocol()
            naive = any(f.type.type == "timestamp_ntz" for f in table.schema().fields
                        if hasattr(f.type, "type"))
            if naive:
                # naive source timestamps (the cooperative's) need exactly one feature, which
                # delta-rs, DuckDB and Spark 3.4+ read (docs/model.md, "Naive timestamps")
                assert (protocol.min_reader_version, protocol.min_writer_version) == (3, 7), (layer, name)
                assert set(protocol.reader_features or []) == {"timestampNtz"}, (layer, name)
                # plus the legacy features of writer 2 (writer 4 on silver, which records the
                # change feed), listed once the protocol names features
                legacy = {"invariants", "appendOnly"} | (
                    {"changeDataFeed", "checkConstraints", "generatedColumns"} if layer == "silver" else set())
                assert "timestampNtz" in set(protocol.writer_features or []) <= {"timestampNtz"} | legacy, (layer, name)
                assert ("changeDataFeed" in protocol.writer_features) == (layer == "silver"), (layer, name)
            else:
                # silver feeds interactions and gold: the change feed asks for writer 4 (issue 10);
                # reader 1 and no table feature, so every Delta reader still reads it
                writer = 4 if layer == "silver" else 2
                assert (protocol.min_reader_version, protocol.min_writer_version) == (1, writer), (layer, name)
                assert not protocol.reader_features and not protocol.writer_features, (layer, name)
            config = table.metadata().configuration
            assert config.get("delta.columnMapping.mode", "none") == "none"
            assert config.get("delta.enableChangeDataFeed", "false") == ("true" if layer == "silver" else "false")
    for layer in ("bronze", "quarantine"):
        for name in _tables(demo_lake, layer):
            table = deltalake.DeltaTable(f"{demo_lake.root}/{layer}/{name}")
            assert table.metadata().configuration["delta.columnMapping.mode"] == "name", (layer, name)


@DEMO_LAKE
def test_every_silver_and_gold_table_reads_the_same_in_deltalake(spark, demo_lake):
    checked = []
    for layer in ("silver", "gold"):
        for name in _tables(demo_lake, layer):
            path = f"{demo_lake.root}/{layer}/{name}"
            ours = spark_rows(delta_io.read_table(spark, path))
            theirs = arrow_rows(deltalake.DeltaTable(path).to_pyarrow_table())
            assert theirs == ours, f"{layer}.{name}"
            checked.append((layer, name, sum(ours.values())))
    names = {(layer, name) for layer, name, _ in checked}
    # the tables whose types matter here: timestamps, a 9999-12-31 instant, decimals, nulls
    assert {("silver", "movimento"), ("gold", "dim_customer"), ("gold", "fact_interaction"),
            ("gold", "movimento_flat"), ("silver", "interactions")} <= names
    assert all(rows > 0 for layer, name, rows in checked if name in ("fact_interaction", "movimento_flat"))


@DEMO_LAKE
def test_the_types_that_matter_are_really_there(spark, demo_lake):
    """The interop test above compares decimals, far timestamps and nulls: prove they exist."""
    movimento = deltalake.DeltaTable(demo_lake.silver("movimento")).to_pyarrow_table()
    assert str(movimento.schema.field("vlr_transacao").type) == "decimal128(10, 2)"
    import pyarrow as pa
    import pyarrow.compute as pc

    customers = deltalake.DeltaTable(demo_lake.gold("dim_customer")).to_pyarrow_table()
    latest = pc.max(customers.column("valid_to").cast(pa.int64())).as_py()
    assert latest >= _micros(dt.datetime(9999, 12, 31, tzinfo=dt.timezone.utc))
    fact = deltalake.DeltaTable(demo_lake.gold("fact_interaction")).to_pyarrow_table()
    assert fact.column("ended_at").null_count > 0 or fact.column("feedback_score").null_count > 0


@DEMO_LAKE
def test_bronze_reads_through_the_lake_api_without_nulls(demo_lake, spark):
    """Column-mapped bronze: Lake.read(engine='arrow') works around deltalake's all-NULL read."""
    from lake.api import Lake

    lk = Lake(load_config(CONF).with_overrides(root=demo_lake.root), spark=spark)
    path = demo_lake.bronze("chat")
    ours = spark_rows(delta_io.read_table(spark, path))
    assert arrow_rows(lk.read("bronze.chat", engine="arrow")) == ours
    frame = lk.read("gold.dim_channel", engine="pandas")
    assert sorted(frame["channel"]) == ["chat", "email", "phone", "unknown", "whatsapp"]


# --------------------------------------------------------------------------- parity


def _spark_sql(spark, paths, name, as_of):
    return getattr(answers, name)(spark, as_of=as_of, timezone=TZ, paths=paths)


def _spark_dataframe_api(spark, paths, name, as_of):
    # a DataFrame's last_interaction takes the channel priorities from the configuration
    extra = {"channels": CHANNELS} if name == "last_interaction" else {}
    return getattr(answers, name)(answers.gold_interactions(spark, paths), as_of=as_of, timezone=TZ, **extra)


def _check_parity(spark, paths, as_ofs, *, dataframe_api=()) -> list[int]:
    """Every answer for every ``as_of``: DataFusion == Spark SQL (rows and printed CSV); for
    the ``as_of`` values in ``dataframe_api``, the DataFrame-API functions over the star too."""
    sizes = []
    for as_of in as_ofs:
        for name in ANSWER_NAMES:
            arrow = fast.answer(paths.root, name, as_of=as_of, timezone=TZ)
            # read twice (rows, printed text): the answer is computed once, then reused
            sql = _spark_sql(spark, paths, name, as_of).cache()
            try:
                assert arrow.column_names == sql.columns, name
                want = spark_rows(sql)
                assert arrow_rows(arrow) == want, (name, as_of)
                # the printed answer too (sorting, zone, format: rules.render_rows is shared)
                assert fast.answer_text(paths.root, name, "csv", as_of=as_of, timezone=TZ) == answers.format_answer(
                    sql, "csv", timezone=TZ), (name, as_of)
                if as_of in dataframe_api:
                    api = _spark_dataframe_api(spark, paths, name, as_of)
                    assert spark_rows(api.select(*sql.columns)) == want, (name, as_of)
            finally:
                sql.unpersist()
            sizes.append(arrow.num_rows)
    return sizes


EDGE_AS_OFS = [
    "2019-10-02 00:00:00",  # a1 exactly 24 h before (out), a3 exactly at as_of (in)
    "2019-10-02 00:00:01",  # a2 exactly 24 h before (out), a4 exactly at as_of (in)
    "2019-10-01 00:00:00",  # a1 exactly at as_of
    "2019-10-01 12:00:00",  # b1/b2 tie on started_at, at as_of
    "2019-10-01 13:00:00",  # c1/c2 tie on start and end: channel priority
    "2019-10-01 14:00:00",  # d1/d2 identical but for the id
    "2019-10-02 15:00:00",  # e1/e2 exactly 24 h before
    "2019-10-02 14:59:59",  # e1/e2 one second inside the window
    "2019-09-30 08:00:00",  # a5 exactly at as_of; f1 is the only other earlier interaction
    "2019-09-01 09:59:59",  # before every interaction: empty answers
    "2019-10-03 00:00:00",
    dt.datetime(2019, 10, 1, 3, 0, 0, 1, tzinfo=dt.timezone.utc),  # a1 + 1 microsecond, aware
]


@pytest.mark.timeout(2400)
def test_fast_path_equals_spark_on_the_edge_case_lake(spark, edge_lake):
    sizes = _check_parity(spark, edge_lake, EDGE_AS_OFS, dataframe_api=EDGE_AS_OFS[:4])
    assert sum(sizes) > 0 and 0 in sizes  # answers with rows, and the empty ones, both compared


def _demo_as_ofs(paths: LakePaths) -> list:
    """As-of instants picked from the data (read with deltalake): exact starts, exact 24 h
    boundaries, a started_at shared by several interactions (a tie), and the extremes."""
    fact = deltalake.DeltaTable(paths.gold("fact_interaction")).to_pyarrow_table()
    starts = sorted(s for s in fact.column("started_at").to_pylist() if s is not None)
    assert len(starts) > 50
    tie = Counter(starts).most_common(1)[0]
    picks = [starts[len(starts) // 4], starts[len(starts) // 2], starts[(3 * len(starts)) // 4]]
    day = dt.timedelta(hours=24)
    second = dt.timedelta(seconds=1)
    return [
        *picks,
        *[p + day for p in picks],  # the picked interaction exactly 24 h before: out
        picks[1] + day - second,  # one second inside the window
        tie[0],
        tie[0] + day,
        starts[0] - second,  # before everything: empty
        starts[-1],
        starts[-1] + 10 * day,
    ]


@DEMO_LAKE
def test_fast_path_equals_spark_on_a_demo_like_lake(spark, demo_lake):
    as_ofs = _demo_as_ofs(demo_lake)
    assert len(as_ofs) >= 10
    sizes = _check_parity(spark, demo_lake, as_ofs)
    assert sum(sizes) > 0 and 0 in sizes


@DEMO_LAKE
def test_lake_api_answers_without_spark(demo_lake):
    """The pandas/arrow answers come from the same SQL; no SparkSession is created."""
    from lake.api import Lake

    lk = Lake(load_config(CONF).with_overrides(root=demo_lake.root))
    frame = lk.last_interaction(as_of="2026-11-25 12:00:00", engine="pandas")
    table = lk.last_interaction(as_of="2026-11-25 12:00:00", engine="arrow")
    assert list(frame.columns) == ["customer_email", "channel", "started_at"] == table.column_names
    assert len(frame) == table.num_rows > 0
    assert lk._spark is None


# --------------------------------------------------------------------------- upgrade


@pytest.mark.timeout(2400)
def test_upgrade_makes_an_old_lake_plain_and_keeps_every_row(spark, tmp_path, monkeypatch):
    from lake.upgrade import plan_upgrade, upgrade
    from tests.test_gold_answers import ROWS

    paths = LakePaths(str(tmp_path / "old"))
    # The previous version: every table column-mapped, Parquet INT96 timestamps.
    monkeypatch.setattr(delta_io, "table_properties", lambda path, columns=(): dict(delta_io.MAPPED_TABLE_PROPERTIES))
    spark.conf.set("spark.sql.parquet.outputTimestampType", "INT96")
    try:
        write_interactions(spark, paths, ROWS)
        build_star(spark, paths, "run-1", channels=CHANNELS, timezone=TZ)
        system = spark.createDataFrame([("r1", 3, dt.datetime(2019, 10, 1, 12, 0))], "run_id string, n long, at timestamp")
        delta_io.append(spark, system, paths.system("runs"))
        delta_io.append(spark, system.limit(0), paths.bronze("ura"))
    finally:
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        monkeypatch.undo()

    layers = {"silver": ["interactions"], "gold": _tables(paths, "gold"), "_system": ["runs"]}
    before = {(layer, t): spark_rows(delta_io.read_table(spark, f"{paths.root}/{layer}/{t}"))
              for layer, names in layers.items() for t in names}
    planned = {(i.layer, i.table): i.reasons for i in plan_upgrade(paths.root)}
    # bronze keeps column mapping; it only lacks the change feed, turned on in place
    # _system/consumers is rewritten too, and forgets the consumers of rewritten sources
    # (they read them whole once), so its rows are not compared
    assert set(planned) == set(before) | {("bronze", "ura"), ("_system", "consumers")}
    assert planned[("bronze", "ura")] == ("no change data feed",)

    done = upgrade(spark, paths.root)
    assert {(i.layer, i.table) for i in done} == set(planned)
    for (layer, t), rows in before.items():
        path = f"{paths.root}/{layer}/{t}"
        assert spark_rows(delta_io.read_table(spark, path)) == rows, (layer, t)
        table = deltalake.DeltaTable(path)
        writer = 4 if layer == "silver" else 2  # silver records the change feed (issue 10)
        assert (table.protocol().min_reader_version, table.protocol().min_writer_version) == (1, writer)
        assert arrow_rows(table.to_pyarrow_table()) == rows, (layer, t)
    assert plan_upgrade(paths.root) == []  # a second run has nothing to do
    bronze = deltalake.DeltaTable(paths.bronze("ura"))
    assert bronze.metadata().configuration["delta.columnMapping.mode"] == "name"
    assert bronze.metadata().configuration["delta.enableChangeDataFeed"] == "true"
    kept = {(i.layer, i.table): i.backup for i in done}
    old = spark_rows(delta_io.read_table(spark, kept[("gold", "fact_interaction")]))
    assert old == before[("gold", "fact_interaction")]


@DEMO_LAKE
def test_lake_query_process_prints_the_spark_answer_without_pyspark(spark, demo_lake):
    """`lake query` (default engine) as a real process: the same text as the Spark answer,
    and pyspark never imported."""
    import subprocess
    import sys

    as_of = "2026-11-25 12:00:00"
    script = ("import sys; from lake.cli import main; code = main(sys.argv[1:]); "
              "assert 'pyspark' not in sys.modules, 'pyspark imported'; sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", script, "query", "last-interaction", "--as-of", as_of,
                           "--format", "csv", "--config", str(CONF), "--lake-root", demo_lake.root],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    want = answers.format_answer(_spark_sql(spark, demo_lake, "last_interaction", as_of), "csv", timezone=TZ)
    assert proc.stdout == want + "\n"
    assert len(proc.stdout.splitlines()) > 2


def test_lake_query_on_a_missing_lake_is_a_one_line_error(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "lake.cli", "query", "contacts-24h", "--config", str(CONF),
                           "--lake-root", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"lake: error: no Delta table at {tmp_path / 'nowhere'}/gold/fact_interaction; run 'lake run' first"]
