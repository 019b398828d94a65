"""Gold updated, not rebuilt: after inserts, updates and deletes in silver, the MERGEd star,
answers and movimento_flat equal a rebuild from the same silver tables (multisets); a run
stopped between a table's MERGE and its ledger entry converges on rerun; a rerun over the
same changes writes nothing and commits nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from lake import delta_io, faults, ledger
from lake.gold.answers import ANSWER_TABLES, refresh_answers
from lake.gold.flat import FLAT_COLUMNS, build_movimento_flat, export_csv
from lake.gold.star import STAR_TABLES, build_star
from lake.paths import LakePaths
from tests.gold_helpers import CHANNELS, INTERACTIONS_SCHEMA, TZ, interaction, t, write_interactions

BEFORE = [
    interaction("1", "phone", "ana@x.com", "2019-10-01 08:00:00", "2019-10-01 08:10:00",
                name="Ana Silva", phone="11999990000", state="SP", agent="Bruno  Lima"),
    interaction("2", "chat", "ana@x.com", "2019-10-02 09:00:00", agent="bruno lima"),
    interaction("5", "chat", "bia@y.com", "2019-10-01 12:00:00", name="Bia", agent="Davi"),
    interaction("6", "email", "bia@y.com", "2019-10-03 13:00:00", name="Beatriz", agent="Carla"),
    interaction("8", "whatsapp", "not-an-email", "2019-10-05 23:30:00", agent="Edu"),
    interaction("9", "phone", "caio@z.com", "2019-10-02 15:00:00", name="Caio"),
    # customers no change touches: their rows must not be recomputed
    interaction("f1", "phone", "fe@f.com", "2019-10-03 10:00:00", name="Fe", agent="Gil"),
    interaction("f2", "chat", "fe@f.com", "2019-10-04 10:00:00", name="Fe", agent="Gil"),
    interaction("g1", "email", "gu@g.com", "2019-10-02 11:00:00", name="Gu", agent="Gil"),
]
INSERTED = [
    interaction("n1", "phone", "ana@x.com", "2019-10-04 09:00:00", name="Ana Silva", phone="11999990000", state="MG"),
    interaction("n2", "chat", "eve@q.com", "2019-10-04 20:00:00", name="Eve", agent="Zeca"),
    interaction("n3", "chat", "bia@y.com", "2019-09-30 07:00:00", name="Bi", agent="davi"),  # late, older
]


def _columns():
    return [c.split()[0] for c in INTERACTIONS_SCHEMA.split(", ")]


def _after_changes():
    """The silver rows after the changes, in plain Python: the source of the rebuild."""
    rows = {r["interaction_id"]: dict(r) for r in BEFORE}
    rows["5"].update(agent="Carla", customer_name="Bia B")
    rows["9"].update(customer_email="dan@w.com")
    del rows["6"], rows["8"]
    return list(rows.values()) + INSERTED


def _change_silver(spark, paths):
    """Real MERGE, UPDATE and DELETE commits on silver/interactions (its change feed)."""
    table = DeltaTable.forPath(spark, paths.silver("interactions"))
    new = spark.createDataFrame([tuple(r[c] for c in _columns()) for r in INSERTED], INTERACTIONS_SCHEMA)
    table.alias("t").merge(new.alias("s"), "t.interaction_id = s.interaction_id").whenNotMatchedInsertAll().execute()
    table.update("interaction_id = '5'", {"agent": F.lit("Carla"), "customer_name": F.lit("Bia B")})
    table.update("interaction_id = '9'", {"customer_email": F.lit("dan@w.com")})
    table.delete("interaction_id IN ('6', '8')")


def _micros(text):
    return int(t(text).timestamp()) * 1_000_000


def _gold(spark, paths, name):
    return delta_io.read_table(spark, paths.gold(name))


def _versions(spark, paths, names):
    return {n: delta_io.table_version(spark, paths.gold(n)) for n in names}


def _comparable(df):
    """Timestamps as UTC microseconds (``valid_to`` 9999-12-31 does not fit a Python datetime
    once shifted to a zone), columns in name order."""
    return df.select(*[F.unix_micros(f.name).alias(f.name) if f.dataType.typeName() == "timestamp" else F.col(f.name)
                       for f in sorted(df.schema.fields, key=lambda f: f.name)])


def _same_tables(spark, got, want, names):
    for name in names:
        assert_df_equality(_comparable(_gold(spark, got, name)), _comparable(_gold(spark, want, name)),
                           ignore_row_order=True, ignore_nullable=True)


def test_star_and_answers_merged_equal_a_rebuild(spark, tmp_path, monkeypatch):
    inc = LakePaths(str(tmp_path / "incremental"))
    write_interactions(spark, inc, BEFORE)
    build_star(spark, inc, "r1", channels=CHANNELS, timezone=TZ)
    refresh_answers(spark, inc, timezone=TZ, run_id="r1")
    # as of the latest interaction, 8 (of an unknown customer: no contact in its window)
    assert ledger.consumed(spark, inc, "gold.answer_contacts_24h", "as_of") == _micros("2019-10-05 23:30:00")
    assert _gold(spark, inc, "answer_contacts_24h").count() == 0

    _change_silver(spark, inc)
    # stopped between fact_interaction's MERGE and its ledger entry, as a crash would
    monkeypatch.setenv("LAKE_FAULT", "raise@gold.write.after:fact_interaction")
    faults.reset()
    with pytest.raises(faults.FaultInjected):
        build_star(spark, inc, "r2", channels=CHANNELS, timezone=TZ)
    monkeypatch.delenv("LAKE_FAULT")
    silver_version = delta_io.table_version(spark, inc.silver("interactions"))
    consumed = ledger.consumed(spark, inc, "gold.fact_interaction", "silver.interactions")
    assert consumed is not None and consumed < silver_version  # its changes are to be read again
    merged = _versions(spark, inc, STAR_TABLES)

    counts = {c.table: c for c in build_star(spark, inc, "r3", channels=CHANNELS, timezone=TZ)}
    assert _versions(spark, inc, STAR_TABLES) == merged  # the same changes again: no commit
    assert all(c.written == 0 and c.reconciles for c in counts.values()), counts
    # only the touched scope was recomputed, each customer from its earliest changed
    # interaction on: ana's n1 (10-04; her 1 and 2 are before it), eve's n2, bia's n3 (09-30,
    # before her 5), dan's 9 (6 and 8 were deleted by the stopped run); not the three of
    # fe@f.com and gu@g.com
    assert counts["fact_interaction"].rows_in == 5
    answers = {c.table: c for c in refresh_answers(spark, inc, timezone=TZ, run_id="r3")}
    assert all(c.reconciles for c in answers.values()), answers
    assert answers["answer_last_interaction"].written > 0
    # each table compares its own scope: the changed customers (ana, bia, caio, dan, eve);
    # fe@f.com enters only contacts_24h's (an interaction in the new 24 h window), so the
    # other two compare ana/bia/caio/dan/eve's rows: 7 (customer, channel) keys, 5 customers
    assert answers["answer_interactions_by_channel"].rows_in == 7
    assert answers["answer_last_interaction"].rows_in == 5
    # the latest interaction (8) was deleted: as of the new latest one, n2; every row moved
    as_of = _gold(spark, inc, "answer_contacts_24h").select(F.unix_micros("as_of")).distinct().collect()
    assert [r[0] for r in as_of] == [_micros("2019-10-04 20:00:00")]

    full = LakePaths(str(tmp_path / "rebuilt"))
    write_interactions(spark, full, _after_changes())
    build_star(spark, full, "f1", channels=CHANNELS, timezone=TZ)
    refresh_answers(spark, full, timezone=TZ, run_id="f1")
    _same_tables(spark, inc, full, STAR_TABLES + tuple(ANSWER_TABLES))

    before = _versions(spark, inc, STAR_TABLES + tuple(ANSWER_TABLES))
    again = build_star(spark, inc, "r4", channels=CHANNELS, timezone=TZ) + refresh_answers(spark, inc, timezone=TZ, run_id="r4")
    assert [(c.rows_in, c.written) for c in again] == [(0, 0)] * len(again)
    assert _versions(spark, inc, STAR_TABLES + tuple(ANSWER_TABLES)) == before


def test_agents_only_added_to_are_named_without_reading_their_interactions(spark, tmp_path, monkeypatch):
    """A batch of inserts names its agents from the names held and the new spellings: no
    agent's other interactions enter the star's scope (Gil's three stay out); a smaller
    spelling renames the agent, a new agent gets its own; the star equals a rebuild. An
    agent a row is removed from is recomputed from all of its rows."""
    from lake.gold import star

    inc = LakePaths(str(tmp_path / "incremental"))
    write_interactions(spark, inc, BEFORE)
    build_star(spark, inc, "r1", channels=CHANNELS, timezone=TZ)
    scopes = []
    real_scope = star.star_scope
    monkeypatch.setattr(
        star, "star_scope",
        lambda snapshot, ids, emails, agents: scopes.append(sorted(r[0] for r in agents.collect()))
        or real_scope(snapshot, ids, emails, agents),
    )

    # inserts only: "BRUNO  LIMA" sorts before the held "Bruno Lima"; Zeca is new; Gil gets a row
    added = [
        interaction("a1", "chat", "ana@x.com", "2019-10-03 09:00:00", agent=" BRUNO  LIMA"),
        interaction("a2", "phone", "eve@q.com", "2019-10-04 09:00:00", name="Eve", agent="Zeca"),
        interaction("a3", "email", "hu@h.com", "2019-10-04 10:00:00", name="Hu", agent="gil"),
    ]
    write_interactions(spark, inc, added, mode="append")
    counts = {c.table: c for c in build_star(spark, inc, "r2", channels=CHANNELS, timezone=TZ)}
    assert scopes == [[]]  # no agent's interactions read
    names = {r["agent_nk"]: r["agent_name"] for r in _gold(spark, inc, "dim_agent").collect()}
    assert (names["bruno lima"], names["zeca"], names["gil"]) == ("BRUNO LIMA", "Zeca", "Gil")
    assert counts["dim_agent"].rows_in == 3 and counts["dim_agent"].reconciles

    # a row of Gil's removed: Gil recomputed from his rows (the scope holds them)
    DeltaTable.forPath(spark, inc.silver("interactions")).delete("interaction_id = 'a3'")
    build_star(spark, inc, "r3", channels=CHANNELS, timezone=TZ)
    assert scopes[1:] == [["gil"]]

    full = LakePaths(str(tmp_path / "rebuilt"))
    write_interactions(spark, full, BEFORE + added[:2])
    build_star(spark, full, "f1", channels=CHANNELS, timezone=TZ)
    _same_tables(spark, inc, full, STAR_TABLES)


def _random_interaction(rng, iid, emails):
    """A silver row of one of ``emails`` at a coarse instant (rows often share one), its
    attributes often missing, on any channel (the phone is the priority one)."""
    started = None if rng.random() < 0.05 else f"2019-10-0{rng.randint(1, 6)} {rng.choice(['08', '09'])}:{rng.choice(['00', '30'])}:00"
    return interaction(iid, rng.choice(["phone", "chat", "whatsapp", "email"]), rng.choice(emails), started,
                       name=rng.choice([None, None, "Ana", "Bia", "Caio"]), phone=rng.choice([None, "111", "222"]),
                       state=rng.choice([None, "SP", "MG"]), agent=rng.choice([None, "Gil", "Ivo"]))


def test_customers_recomputed_from_their_cutoff_equal_a_rebuild(spark, tmp_path, monkeypatch):
    """Random histories (shared instants, missing attributes, priority and other channels)
    and two random batches of late and new inserts, attribute and e-mail updates and
    deletes, by real Delta commits: after each, dim_customer and fact_interaction, merged
    from each customer's cutoff on, equal the star built from the whole table. The first
    batch's run is stopped between dim_customer's MERGE and its ledger entry: the rerun
    seeds from the versions that run already wrote and converges."""
    import random

    from lake.gold.star import dim_customer, fact_interaction

    rng = random.Random(20261127)
    emails = [f"c{i}@x.com" for i in range(10)]
    rows = {f"i{n}": _random_interaction(rng, f"i{n}", emails) for n in range(80)}
    inc = LakePaths(str(tmp_path / "incremental"))
    write_interactions(spark, inc, list(rows.values()))
    build_star(spark, inc, "r0", channels=CHANNELS, timezone=TZ)
    table = DeltaTable.forPath(spark, inc.silver("interactions"))
    for batch in range(1, 3):
        upserts = [_random_interaction(rng, f"b{batch}n{n}", emails) for n in range(rng.randint(2, 6))]
        for iid in rng.sample(sorted(rows), 4):  # attribute updates, one moved to another customer
            changed = dict(rows[iid], customer_name=rng.choice([None, "Dora", "Ana"]), state=rng.choice([None, "RJ"]))
            if iid.endswith("3"):
                changed["customer_email"] = rng.choice(emails)
            upserts.append(changed)
        df = spark.createDataFrame([tuple(r[c] for c in _columns()) for r in upserts], INTERACTIONS_SCHEMA)
        (table.alias("t").merge(df.alias("s"), "t.interaction_id = s.interaction_id")
         .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
        rows.update({r["interaction_id"]: r for r in upserts})
        gone = rng.sample(sorted(rows), 3)
        table.delete(F.col("interaction_id").isin(gone))
        for iid in gone:
            del rows[iid]
        if batch == 1:  # stopped after dim_customer's MERGE, before its ledger entry
            monkeypatch.setenv("LAKE_FAULT", "raise@gold.write.after:dim_customer")
            faults.reset()
            held = delta_io.table_version(spark, inc.gold("dim_customer"))
            with pytest.raises(faults.FaultInjected):
                build_star(spark, inc, "r1-stopped", channels=CHANNELS, timezone=TZ)
            assert delta_io.table_version(spark, inc.gold("dim_customer")) > held  # its MERGE committed
            monkeypatch.delenv("LAKE_FAULT")
            faults.reset()
        counts = {c.table: c for c in build_star(spark, inc, f"r{batch}", channels=CHANNELS, timezone=TZ)}
        assert all(c.reconciles for c in counts.values()), counts

        silver = spark.createDataFrame([tuple(r[c] for c in _columns()) for r in rows.values()], INTERACTIONS_SCHEMA)
        customers = dim_customer(silver, channels=CHANNELS)
        want = {"dim_customer": customers,
                "fact_interaction": fact_interaction(silver, customers, channels=CHANNELS, timezone=TZ)}
        for name, df in want.items():
            assert_df_equality(_comparable(_gold(spark, inc, name)), _comparable(df),
                               ignore_row_order=True, ignore_nullable=True)


DORA = [  # her first phone row (the one channel with a name) starts her second version
    interaction("d1", "chat", "dora@d.com", "2019-10-01 08:00:00"),
    interaction("d2", "chat", "dora@d.com", "2019-10-02 09:00:00"),
    interaction("d3", "whatsapp", "dora@d.com", "2019-10-03 10:00:00"),
    interaction("d4", "phone", "dora@d.com", "2019-10-04 11:00:00", name="Dora"),
    interaction("d5", "phone", "dora@d.com", "2019-10-05 12:00:00", name="Dora"),
]
DORA_LATE = [
    interaction("d0", "chat", "dora@d.com", "2019-09-30 07:00:00"),  # before her first row
    interaction("dp", "phone", "dora@d.com", "2019-10-02 12:00:00", name="Dora"),  # before d4
]


def _dora(spark, paths):
    """dim_customer as {version: (key, name, valid_from in UTC microseconds)} and the facts
    as {id: key}."""
    dim = (_gold(spark, paths, "dim_customer").where("customer_key <> -1")
           .select("version", "customer_key", "customer_name", F.unix_micros("valid_from").alias("vf")).collect())
    versions = {r.version: (r.customer_key, r.customer_name, r.vf) for r in dim}
    facts = {r.interaction_id: r.customer_key for r in _gold(spark, paths, "fact_interaction").collect()}
    return versions, facts


def test_a_late_row_that_moves_where_a_version_starts_keeps_its_key(spark, tmp_path):
    """A version's key holds the customer's attributes and their occurrence, not its start:
    a late row before the customer's first row, and a late phone row (the name) before her
    first one, move where her two versions start; both keep their keys, dim_customer updates
    the two rows' bounds, and of her facts only the one between the old and the new start of
    her second version (d3) moves, besides the two new ones. Keys of her starts would re-key
    both versions and move all five facts."""
    inc = LakePaths(str(tmp_path / "incremental"))
    write_interactions(spark, inc, DORA)
    build_star(spark, inc, "r1", channels=CHANNELS, timezone=TZ)
    held, _ = _dora(spark, inc)
    (k1, none, from1), (k2, dora, from2) = held[1], held[2]
    assert (none, dora, from1, from2) == (None, "Dora", _micros("2019-10-01 08:00:00"), _micros("2019-10-04 11:00:00"))

    write_interactions(spark, inc, DORA_LATE, mode="append")
    counts = {c.table: c for c in build_star(spark, inc, "r2", channels=CHANNELS, timezone=TZ)}
    versions, facts = _dora(spark, inc)
    assert versions == {1: (k1, None, _micros("2019-09-30 07:00:00")), 2: (k2, "Dora", _micros("2019-10-02 12:00:00"))}
    assert facts == {"d0": k1, "d1": k1, "d2": k1, "d3": k2, "dp": k2, "d4": k2, "d5": k2}
    assert (counts["dim_customer"].written, counts["fact_interaction"].written) == (2, 3), counts
    assert all(c.reconciles for c in counts.values()), counts


def test_a_star_built_with_the_earlier_customer_keys_is_rebuilt_once(spark, tmp_path):
    """A lake whose star was written by an earlier version (customer keys hashed e-mail and
    ``valid_from``; no key scheme in the ledger) is rebuilt by its next run, whatever changed,
    and merged again after that: the star then equals one built from scratch."""
    from lake.gold.star import KEYS_SCHEME, KEYS_SOURCE

    inc = LakePaths(str(tmp_path / "incremental"))
    write_interactions(spark, inc, BEFORE)
    build_star(spark, inc, "r1", channels=CHANNELS, timezone=TZ)
    assert ledger.consumed(spark, inc, "gold.fact_interaction", KEYS_SOURCE) == KEYS_SCHEME
    # the earlier version's lake: its keys (written here by hand) and no scheme recorded
    old_key = F.xxhash64(F.lit("customer"), F.col("customer_email"), F.unix_micros("valid_from"))
    dim = _gold(spark, inc, "dim_customer")
    rekeyed = dim.withColumn("customer_key", F.when(F.col("customer_key") == -1, -1).otherwise(old_key))
    delta_io.overwrite(spark, rekeyed.localCheckpoint(), inc.gold("dim_customer"))
    fact = _gold(spark, inc, "fact_interaction")
    keys = dim.select(F.col("customer_key").alias("_k"), F.col("customer_email"), F.col("valid_from"))
    refact = fact.join(keys, fact.customer_key == F.col("_k"), "left").withColumn(
        "customer_key", F.when(F.col("customer_key") == -1, -1).otherwise(old_key)).drop("_k", "customer_email", "valid_from")
    delta_io.overwrite(spark, refact.localCheckpoint(), inc.gold("fact_interaction"))
    DeltaTable.forPath(spark, inc.system(ledger.CONSUMERS)).delete(F.col("source") == KEYS_SOURCE)
    assert ledger.consumed(spark, inc, "gold.fact_interaction", KEYS_SOURCE) is None

    _change_silver(spark, inc)
    counts = {c.table: c for c in build_star(spark, inc, "r2", channels=CHANNELS, timezone=TZ)}
    # rebuilt: the fact read every silver row (9 - 2 deleted + 3 inserted), not the scope
    assert counts["fact_interaction"].rows_in == 10
    assert ledger.consumed(spark, inc, "gold.fact_interaction", KEYS_SOURCE) == KEYS_SCHEME
    full = LakePaths(str(tmp_path / "rebuilt"))
    write_interactions(spark, full, _after_changes())
    build_star(spark, full, "f1", channels=CHANNELS, timezone=TZ)
    _same_tables(spark, inc, full, STAR_TABLES)
    # and merged again from then on
    again = {c.table: c for c in build_star(spark, inc, "r3", channels=CHANNELS, timezone=TZ)}
    assert (again["fact_interaction"].rows_in, again["fact_interaction"].written) == (0, 0)


def _day_range(spark, paths):
    row = _gold(spark, paths, "dim_date").where("date_key <> -1").agg(F.min("date"), F.max("date")).first()
    return (str(row[0]), str(row[1]), _gold(spark, paths, "dim_date").count())


def test_dim_date_follows_the_changes_without_reading_the_table(spark, tmp_path, monkeypatch):
    """New days after the range (with a day between them and it), a delete and an update
    inside it: dim_date is told from the changes and the days it holds, without reading
    silver/interactions, and equals a rebuild; a delete on the last day needs the table."""
    from lake.gold import star

    inc = LakePaths(str(tmp_path / "incremental"))
    write_interactions(spark, inc, BEFORE)
    build_star(spark, inc, "r1", channels=CHANNELS, timezone=TZ)
    assert _day_range(spark, inc) == ("2019-10-01", "2019-10-05", 6)  # 5 days and the unknown one

    table = DeltaTable.forPath(spark, inc.silver("interactions"))
    later = [interaction("n7", "chat", "ana@x.com", "2019-10-07 10:00:00", "2019-10-08 00:30:00", agent="Zeca")]
    write_interactions(spark, inc, later, mode="append")
    table.delete("interaction_id = 'f1'")  # 2019-10-03, inside the range
    table.update("interaction_id = '5'", {"agent": F.lit("Carla")})  # 2019-10-01: before image on the first day
    rows = {r["interaction_id"]: dict(r) for r in BEFORE + later}
    del rows["f1"]
    rows["5"]["agent"] = "Carla"

    # the update's before image lies on the first day: the range needs the table
    calls = []
    real = star.dim_date
    monkeypatch.setattr(star, "dim_date", lambda *a, **k: calls.append(1) or real(*a, **k))
    build_star(spark, inc, "r2", channels=CHANNELS, timezone=TZ)
    assert calls == [1]
    assert _day_range(spark, inc) == ("2019-10-01", "2019-10-08", 9)

    # inserts after the range and a delete inside it: told without the table
    later2 = [interaction("n8", "phone", "bia@y.com", "2019-10-11 09:00:00", name="Bia")]
    write_interactions(spark, inc, later2, mode="append")
    table.delete("interaction_id = '2'")  # 2019-10-02
    rows.update({r["interaction_id"]: dict(r) for r in later2})
    del rows["2"]
    monkeypatch.setattr(star, "dim_date", lambda *a, **k: pytest.fail("read the table"))
    counts = {c.table: c for c in build_star(spark, inc, "r3", channels=CHANNELS, timezone=TZ)}
    assert counts["dim_date"].written == 3 and counts["dim_date"].reconciles  # 10-09, 10-10, 10-11

    # an insert inside the range: the range the table holds, nothing recomputed nor committed
    inside = [interaction("n9", "email", "ana@x.com", "2019-10-04 08:00:00", "2019-10-04 08:10:00")]
    write_interactions(spark, inc, inside, mode="append")
    rows.update({r["interaction_id"]: dict(r) for r in inside})
    before = delta_io.table_version(spark, inc.gold("dim_date"))
    counts = {c.table: c for c in build_star(spark, inc, "r4", channels=CHANNELS, timezone=TZ)}
    assert (counts["dim_date"].rows_in, counts["dim_date"].written) == (0, 0)
    assert counts["fact_interaction"].written >= 1  # the new fact
    assert delta_io.table_version(spark, inc.gold("dim_date")) == before
    assert ledger.consumed(spark, inc, "gold.dim_date", star.SOURCE) == delta_io.table_version(
        spark, inc.silver("interactions")
    )
    monkeypatch.setattr(star, "dim_date", real)

    full = LakePaths(str(tmp_path / "rebuilt"))
    write_interactions(spark, full, list(rows.values()))
    build_star(spark, full, "f1", channels=CHANNELS, timezone=TZ)
    assert _day_range(spark, full) == ("2019-10-01", "2019-10-11", 12)
    _same_tables(spark, inc, full, STAR_TABLES)


# --------------------------------------------------------------------------- movimento_flat

SCHEMAS = {
    "associado": "id long, nome string, sobrenome string, idade int, email string",
    "conta": "id long, tipo string, data_criacao timestamp_ntz, id_associado long",
    "cartao": "id long, num_cartao string, nom_impresso string, data_criacao timestamp_ntz, id_conta long, id_associado long",
    "movimento": "id long, vlr_transacao decimal(10,2), des_transacao string, data_movimento timestamp_ntz, id_cartao long",
}


def _ntz(text):
    return None if text is None else t(text).replace(tzinfo=None)


def _coop_before():
    return {
        "associado": [(1, "Ana", "Silva", 34, "ana@x.com"), (2, "José", "Souza", None, None), (3, "Zé", None, 50, None)],
        "conta": [(10, "corrente", _ntz("2018-01-02 03:04:05"), 1), (11, "poupanca", _ntz("2018-06-07 08:09:10"), 1),
                  (12, "corrente", _ntz("2017-12-31 23:59:59"), 2), (13, None, _ntz("2019-01-01 00:00:00"), 3)],
        "cartao": [(100, "4111111111111234", "ANA", _ntz("2018-01-03 10:00:00"), 10, 1),
                   (101, "5500000000000004", "ANA P", None, 11, 1),
                   (102, "123456789012345678", "JOSE", None, 12, 2),
                   (103, "4000000000000002", "ZE", _ntz("2019-01-02 12:00:00"), 13, 3)],
        "movimento": [(1000, Decimal("1.50"), "a", _ntz("2019-10-01 10:11:12"), 100),
                      (1001, Decimal("0.01"), "b", _ntz("2019-10-01 23:59:59"), 101),
                      (1002, Decimal("-10.00"), "c", _ntz("2019-10-02 00:00:00"), 102),
                      (1003, Decimal("7.00"), "d", _ntz("2019-10-03 01:02:03"), 103),
                      (1004, Decimal("5.00"), None, _ntz("2019-10-04 04:05:06"), 100),
                      (1005, Decimal("3.00"), "f", _ntz("2019-10-04 05:00:00"), 102)],
    }


def _coop_after():
    data = _coop_before()
    data["associado"][0] = (1, "Ana Maria", "Silva", 35, "ana@x.com")  # all of her transactions change
    data["conta"][2] = (12, "salario", _ntz("2017-12-31 23:59:59"), 2)
    data["cartao"] = [c for c in data["cartao"] if c[0] != 103]  # deleted: its transaction leaves the file
    mov = {m[0]: m for m in data["movimento"]}
    mov[1002] = (1002, Decimal("-20.00"), "c", _ntz("2019-10-02 00:00:00"), 102)  # a late UPDATE
    del mov[1004]
    mov[1006] = (1006, Decimal("9.99"), "g", _ntz("2019-10-05 06:00:00"), 101)
    data["movimento"] = list(mov.values())
    return data


def _write_coop(spark, paths, data):
    for name, rows in data.items():
        delta_io.overwrite(spark, spark.createDataFrame(rows, SCHEMAS[name]), paths.silver(name))


def _change_coop(spark, paths):
    def table(name):
        return DeltaTable.forPath(spark, paths.silver(name))

    table("associado").update("id = 1", {"nome": F.lit("Ana Maria"), "idade": F.lit(35)})
    table("conta").update("id = 12", {"tipo": F.lit("salario")})
    table("cartao").delete("id = 103")
    table("movimento").update("id = 1002", {"vlr_transacao": F.lit(Decimal("-20.00"))})
    table("movimento").delete("id = 1004")
    new = spark.createDataFrame([(1006, Decimal("9.99"), "g", _ntz("2019-10-05 06:00:00"), 101)], SCHEMAS["movimento"])
    table("movimento").alias("t").merge(new.alias("s"), "t.id = s.id").whenNotMatchedInsertAll().execute()


def test_movimento_flat_merged_equals_a_rebuild(spark, tmp_path, monkeypatch):
    spark.conf.set("spark.sql.session.timeZone", TZ)
    inc = LakePaths(str(tmp_path / "incremental"))
    _write_coop(spark, inc, _coop_before())
    build_movimento_flat(spark, inc, timezone=TZ, run_id="r1")

    _change_coop(spark, inc)
    monkeypatch.setenv("LAKE_FAULT", "raise@gold.write.after:movimento_flat")
    faults.reset()
    with pytest.raises(faults.FaultInjected):
        build_movimento_flat(spark, inc, timezone=TZ, run_id="r2")
    monkeypatch.delenv("LAKE_FAULT")
    merged = delta_io.table_version(spark, inc.gold("movimento_flat"))
    counts = []
    build_movimento_flat(spark, inc, timezone=TZ, run_id="r3", counts=counts)
    assert delta_io.table_version(spark, inc.gold("movimento_flat")) == merged  # nothing committed again
    # scope: 1000, 1001, 1006 (member 1), 1002, 1005 (account 12), 1003 (card 103), 1004; the
    # flat rows of 1003 and 1004 are already deleted: five rows recomputed, all unchanged
    assert [(c.rows_in, c.written, c.unchanged) for c in counts] == [(5, 0, 5)]

    full = LakePaths(str(tmp_path / "rebuilt"))
    _write_coop(spark, full, _coop_after())
    build_movimento_flat(spark, full, timezone=TZ, run_id="f1")
    _same_tables(spark, inc, full, ["movimento_flat"])
    got = {r["_movimento_id"]: r for r in _gold(spark, inc, "movimento_flat").collect()}
    assert sorted(got) == [1000, 1001, 1002, 1005, 1006]
    assert (got[1001]["nome_associado"], got[1001]["idade_associado"]) == ("Ana Maria", "35")
    assert (got[1005]["tipo_conta"], got[1002]["vlr_transacao_movimento"]) == ("salario", "-20.00")

    counts = []
    build_movimento_flat(spark, inc, timezone=TZ, run_id="r4", counts=counts)
    assert [(c.rows_in, c.written) for c in counts] == [(0, 0)]
    assert delta_io.table_version(spark, inc.gold("movimento_flat")) == merged

    out = tmp_path / "out"
    export_csv(spark, inc, str(out))
    lines = (out / "movimento_flat.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(FLAT_COLUMNS) and len(lines) == 1 + len(got)
