"""Silver tables end to end on hand-built bronze: fates, counts, reruns, interactions, refs."""

from __future__ import annotations

import hashlib
import json

import dataclasses
import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from lake import delta_io
from lake.config import Action, Expectation, load_config
from lake.paths import LakePaths
from lake.silver.build import build_interactions, build_silver_table, standardize
from tests.silver_bronze import SEED_ROWS, bronze_df, jdbc_df, write_bronze

CFG = load_config("conf/lake.yml")


def cfg_for(root, **silver_changes):
    silver = dict(CFG.silver)
    for name, table in silver_changes.items():
        silver[name] = table
    return dataclasses.replace(CFG.with_overrides(root=root), silver=silver)


def test_standardize_ura_seed_row(spark):
    df = bronze_df(spark, "ura", CFG.sources["ura"].columns, [SEED_ROWS["ura"]])
    std = standardize(df, CFG.silver["ura"])
    row = std.withColumn("start", F.date_format("started_at", "yyyy-MM-dd HH:mm:ss")).first()
    assert row["start"] == "2019-01-08 08:15:27"
    assert row["phone"] == "+557199999999"
    assert (row["wait_seconds"], row["handle_seconds"], row["total_seconds"]) == (9, 104, 151)
    assert row["queued"] is True and row["answered"] is True
    assert row["customer_email"] == "paulorodrigues@email.com"
    assert row["sub_classification"] == "Embarque|Desembarque fora rodoviária"
    # The id hashes the record's content (duplicate deliveries collapse), computed here by hand.
    record = {c: SEED_ROWS["ura"][c] for c in CFG.sources["ura"].columns if SEED_ROWS["ura"].get(c) is not None}
    content = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    assert row["interaction_id"] == hashlib.sha256(("ura|" + content).encode("utf-8")).hexdigest()
    assert row["_source_file"] == "/landing/f1"


def test_batch_where_every_rule_fails(spark, lake_root):
    chat = dataclasses.replace(
        CFG.silver["chat"], evidence=(),
        expectations=CFG.silver["chat"].expectations + (Expectation("has_email", "customer_email IS NOT NULL", Action.DROP),),
    )
    cfg = cfg_for(lake_root, chat=chat)
    paths = LakePaths(lake_root)
    seed = SEED_ROWS["chat"]
    rows = [
        dict(seed),                                                        # 0 written
        dict(seed, **{"Data da conversa (Inicio)": "not a date"}),         # 1 quarantine started_at_parsed
        dict(seed, **{"Data da conversa (Fim)": "09/06/2019 14:18"}),      # 2 quarantine ended_not_before_started
        dict(seed, Feedback_Average="11"),                                 # 3 warn, written
        dict(seed, Visitor_Email="not-an-email"),                          # 4 drop has_email
        {"_malformed": True},                                              # 5 quarantine malformed_record
        # 6: the same record delivered earlier in another file: one interaction, the newer wins
        dict(seed, _file="/landing/f0", _index=0, _ingested_at=dt.datetime(2024, 1, 1, 11, 0)),
    ]
    write_bronze(spark, paths, "chat", bronze_df(spark, "chat", CFG.sources["chat"].columns, rows))
    counts = build_silver_table(spark, cfg, "chat", paths, "s1")
    assert (counts.rows_in, counts.written, counts.quarantined, counts.dropped, counts.warned) == (7, 2, 3, 2, 1)
    assert counts.reconciles

    silver = delta_io.read_table(spark, paths.silver("chat"))
    got = Counter((r["_source_file"], r["agent"], r["feedback_score"]) for r in silver.collect())
    assert got == Counter([("/landing/f1", "Antônia", 1), ("/landing/f1", "Antônia", 11)])   # the newer delivery (f1) won
    q = delta_io.read_table(spark, paths.quarantine("chat")).collect()
    reasons = sorted(tuple(e["rule"] for e in r["_errors"]) for r in q)
    # An unparsed start also makes "ended_at >= started_at" null, which counts as a failure;
    # the text that parses under no format is named by its own reason.
    assert reasons == [("ended_not_before_started",), ("malformed_record",),
                       ("started_at_parsed", "ended_not_before_started", "started_at_unparseable")]
    assert {r["_run_id"] for r in q} == {"s1"} and {r["_bronze_run_id"] for r in q} == {"r1"}
    bad = [r for r in q if r["_errors"][0]["rule"] == "started_at_parsed"][0]
    assert bad["Data da conversa (Inicio)"] == "not a date"          # original bronze values kept
    assert [r for r in q if r["_is_malformed"]][0]["_raw"] == "{oops"


CHANNELS = ("ura", "chat", "whatsapp", "email")


@pytest.fixture(scope="module")
def seed_lake(spark, tmp_path_factory):
    """One lake for the module: each channel's seed row in bronze, built to silver once (run s1).

    The tests that share it only add reruns that must change nothing, and the interactions
    table, which no other test reads.
    """
    root = str(tmp_path_factory.mktemp("seed-lake"))
    cfg = cfg_for(root)
    paths = LakePaths(root)
    counts = {}
    for src in CHANNELS:
        write_bronze(spark, paths, src, bronze_df(spark, src, CFG.sources[src].columns, [SEED_ROWS[src]]))
        counts[src] = build_silver_table(spark, cfg, src, paths, "s1")
    return cfg, paths, counts


def test_rerun_changes_nothing(spark, seed_lake):
    cfg, paths, _ = seed_lake
    before = {s: (delta_io.table_version(spark, paths.silver(s)), delta_io.read_table(spark, paths.silver(s))) for s in ("ura", "whatsapp")}
    snapshot = {s: df.collect() for s, (_, df) in before.items()}
    again = build_silver_table(spark, cfg, "ura", paths, "s2")          # incremental: nothing new
    assert (again.rows_in, again.written) == (0, 0)
    for s in ("ura", "whatsapp"):
        full = build_silver_table(spark, cfg, s, paths, "s3", full=True)
        assert full.rows_in == 1 and full.reconciles
        m = delta_io.last_metrics(spark, paths.silver(s))
        assert m.get("numTargetRowsInserted", 0) == 0 and m.get("numTargetRowsUpdated", 0) == 0
        version, _ = before[s]
        now = delta_io.read_table(spark, paths.silver(s))
        old = delta_io.read_table(spark, paths.silver(s), version=version)
        # One collect per frame; Counter compares the rows as multisets (order ignored,
        # duplicates kept), as assert_df_equality(..., ignore_row_order=True) would.
        now_rows = now.collect()
        assert now.schema == old.schema
        assert Counter(now_rows) == Counter(snapshot[s])
        assert Counter(now_rows) == Counter(old.collect())
        assert [r["_silver_run_id"] for r in now_rows] == ["s1"]


def test_interactions_from_the_four_seed_channels(spark, seed_lake):
    cfg, paths, built = seed_lake
    assert {src: c.written for src, c in built.items()} == {src: 1 for src in CHANNELS}
    counts = build_interactions(spark, cfg, paths, "s1")
    assert (counts.rows_in, counts.written) == (4, 4)
    df = delta_io.read_table(spark, paths.silver("interactions")).select(
        "channel", F.date_format("started_at", "yyyy-MM-dd HH:mm:ss").alias("start"),
        F.date_format("ended_at", "yyyy-MM-dd HH:mm:ss").alias("end"), "total_seconds", "handle_seconds",
        "answered", "classification", "sub_classification", "feedback_score", "phone", "customer_email")
    expected = spark.createDataFrame([
        ("phone", "2019-01-08 08:15:27", "2019-01-08 08:17:58", 151, 104, True, "Dúvida",
         "Embarque|Desembarque fora rodoviária", None, "+557199999999", "paulorodrigues@email.com"),
        ("chat", "2019-06-10 14:18:00", "2019-06-10 14:18:00", 0, None, True, None, None, 1, None, "paulorodrigues@email.com"),
        ("whatsapp", "2019-09-30 00:08:00", "2019-10-01 14:08:00", 136800, 136800, True, None, None, None, None,
         "paulorodrigues@email.com"),
        # The e-mail file's columns are swapped: its "Sub Classificação" ("Dúvida") is the URA's classificacao.
        ("email", "2019-09-30 00:28:00", "2019-09-30 16:41:00", 58380, None, None, "Dúvida",
         "Falha na finalizacao da compra", None, None, "paulorodrigues@email.com"),
    ], df.schema)
    assert_df_equality(df, expected, ignore_row_order=True, ignore_nullable=True)
    # the ledger holds the channel versions merged: a rerun reads no change and commits nothing
    version = delta_io.table_version(spark, paths.silver("interactions"))
    again = build_interactions(spark, cfg, paths, "s2")
    assert (again.rows_in, again.written) == (0, 0)
    assert delta_io.table_version(spark, paths.silver("interactions")) == version


def test_cooperative_referential_rules(spark, lake_root):
    cfg = cfg_for(lake_root)
    paths = LakePaths(lake_root)
    ts = dt.datetime(2023, 5, 1, 10, 0, 0)
    write_bronze(spark, paths, "associado", jdbc_df(spark, "associado", "id long, nome string, sobrenome string, idade int, email string", [
        (1, " Ana ", "Souza", 30, "ANA@X.COM"), (2, "Bruno", "Lima", 40, None)]))
    write_bronze(spark, paths, "conta", jdbc_df(spark, "conta", "id long, tipo string, data_criacao timestamp, id_associado long", [
        (10, "corrente", ts, 1), (20, "poupanca", ts, 2), (30, "corrente", ts, 99)]))      # 30: no member
    write_bronze(spark, paths, "cartao", jdbc_df(spark, "cartao", "id long, num_cartao string, nom_impresso string, data_criacao timestamp, id_conta long, id_associado long", [
        (100, "4111 1111 1111 1111", "ANA SOUZA", ts, 10, 1),     # ok
        (200, "5500000000000004", "BRUNO LIMA", ts, 10, 2),       # account 10 belongs to member 1
        (300, "4000000000000002", "X", ts, 77, 1)]))              # no account
    write_bronze(spark, paths, "movimento", jdbc_df(spark, "movimento", "id long, vlr_transacao decimal(10,2), des_transacao string, data_movimento timestamp, id_cartao long", [
        (1000, Decimal("10.10"), "padaria", ts, 100),             # ok
        (2000, Decimal("99999999.99"), "carro", ts, 200),         # on the mismatched card
        (3000, Decimal("1.00"), "x", ts, 999)]))                  # no card
    got = {t: build_silver_table(spark, cfg, t, paths, "s1") for t in ("associado", "conta", "cartao", "movimento")}
    assert {t: (c.written, c.quarantined) for t, c in got.items()} == {
        "associado": (2, 0), "conta": (2, 1), "cartao": (1, 2), "movimento": (1, 2)}

    def reasons(t):
        return {r["id"]: [e["rule"] for e in r["_errors"]] for r in delta_io.read_table(spark, paths.quarantine(t)).collect()}

    assert reasons("conta") == {30: ["member_not_found"]}
    assert reasons("cartao") == {200: ["card_member_mismatch"], 300: ["account_not_found"]}
    assert reasons("movimento") == {2000: ["card_member_mismatch"], 3000: ["card_not_found"]}
    mov = delta_io.read_table(spark, paths.silver("movimento")).first()
    assert mov["vlr_transacao"] == Decimal("10.10") and dict(delta_io.read_table(spark, paths.silver("movimento")).dtypes)["vlr_transacao"] == "decimal(10,2)"
    card = delta_io.read_table(spark, paths.silver("cartao")).first()
    assert card["num_cartao"] == "4111111111111111"
    member = delta_io.read_table(spark, paths.silver("associado")).filter("id = 1").first()
    assert (member["nome"], member["email"]) == ("Ana", "ana@x.com")


def _two_whatsapp_files(spark, paths):
    """File /a: the seed row (agrees); file /b: the seed row with a wrong weekday (refuted)."""
    seed = SEED_ROWS["whatsapp"]
    rows = [dict(seed, _file="/a"), dict(seed, Semana="3", _file="/b"),
            dict(seed, Semana="3", **{"E-mail": "other@email.com"}, _file="/b")]
    write_bronze(spark, paths, "whatsapp", bronze_df(spark, "whatsapp", CFG.sources["whatsapp"].columns, rows))


def test_refuted_file_quarantined_whole_others_proceed(spark, lake_root):
    cfg, paths = cfg_for(lake_root), LakePaths(lake_root)
    _two_whatsapp_files(spark, paths)
    refused = []
    counts = build_silver_table(spark, cfg, "whatsapp", paths, "s1", refused=refused)
    assert [(r.table, r.file, r.reason) for r in refused] == [("whatsapp", "/b", "format_refuted:whatsapp_weekday")]
    assert (counts.rows_in, counts.written, counts.quarantined) == (3, 1, 2)
    q = delta_io.read_table(spark, paths.quarantine("whatsapp")).collect()
    assert Counter((r["_source_file"], r["E-mail"], tuple(e["rule"] for e in r["_errors"])) for r in q) == Counter({
        ("/b", "paulorodrigues@email.com", ("format_refuted:whatsapp_weekday",)): 1,
        ("/b", "other@email.com", ("format_refuted:whatsapp_weekday",)): 1})
    assert [r["_source_file"] for r in delta_io.read_table(spark, paths.silver("whatsapp")).collect()] == ["/a"]


def test_on_refuted_fail_stops_before_writing(spark, lake_root):
    from lake.config import RefutedPolicy
    from lake.errors import QualityError

    table = dataclasses.replace(CFG.silver["whatsapp"], on_refuted=RefutedPolicy.FAIL)
    cfg, paths = cfg_for(lake_root, whatsapp=table), LakePaths(lake_root)
    _two_whatsapp_files(spark, paths)
    with pytest.raises(QualityError, match=r"whatsapp_weekday.*'/b': 0 of 2 readable rows agree"):
        build_silver_table(spark, cfg, "whatsapp", paths, "s1")
    assert not delta_io.table_exists(spark, paths.silver("whatsapp"))
    assert not delta_io.table_exists(spark, paths.quarantine("whatsapp"))


def test_channel_without_bronze_is_empty(spark, lake_root):
    cfg, paths = cfg_for(lake_root), LakePaths(lake_root)
    counts = build_silver_table(spark, cfg, "ura", paths, "s1")
    assert (counts.rows_in, counts.written, counts.quarantined) == (0, 0, 0)
    assert not delta_io.table_exists(spark, paths.silver("ura"))


def test_checked_batch_is_cached_on_disk_not_in_the_heap(spark, lake_root, monkeypatch):
    """The batch silver reads three times is cached on disk. Held in the memory store (blocks
    and the unroll memory that builds them cannot be evicted for execution), it left the
    counts' aggregation without memory on a 1 GiB driver at 1M rows (AGGREGATE_OUT_OF_MEMORY)."""
    import lake.silver.build as build

    cfg, paths = cfg_for(lake_root), LakePaths(lake_root)
    _two_whatsapp_files(spark, paths)
    sc = spark.sparkContext._jsc.sc()
    before = {info.id() for info in sc.getRDDStorageInfo()}
    cached = []

    def spy(point):  # the counts are taken, the MERGE not yet run: the batch is cached
        if point == "silver.merge.before:whatsapp":
            cached.extend((info.name(), info.memSize(), info.diskSize()) for info in sc.getRDDStorageInfo()
                          if info.id() not in before and not info.name().startswith("Delta Table State"))

    monkeypatch.setattr(build, "fault_point", spy)
    counts = build_silver_table(spark, cfg, "whatsapp", paths, "s1")
    assert (counts.rows_in, counts.written, counts.quarantined) == (3, 1, 2)
    assert len(cached) == 1, cached
    _, in_memory, on_disk = cached[0]
    assert (in_memory, on_disk > 0) == (0, True)
    assert not [i for i in sc.getRDDStorageInfo() if i.name() == cached[0][0]]  # released after the build
