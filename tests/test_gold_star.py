"""Gold star: SCD2 customers, unknown members, stable surrogate keys."""

from __future__ import annotations

import dataclasses

import pytest
from pyspark.sql import functions as F

from lake import delta_io
from lake.config import Channel
from lake.gold.functions import format_local
from lake.gold.star import END_OF_TIME, build_star, customer_versions
from lake.paths import LakePaths
from tests.gold_helpers import CHANNELS, TZ, interaction, norm_email, write_interactions

ROWS = [
    interaction("1", "phone", "ana@x.com", "2019-10-01 08:00:00", "2019-10-01 08:10:00",
                name="Ana Silva", phone="11999990000", state="SP", agent="Bruno  Lima"),
    interaction("2", "chat", " ANA@x.com ", "2019-10-01 09:00:00", name="Ana S.", agent="bruno lima"),
    interaction("3", "whatsapp", "ana@x.com", "2019-10-02 10:00:00"),
    interaction("4", "phone", "ana@x.com", "2019-10-03 11:00:00",
                name="Ana Silva", phone="11999990000", state="RJ"),
    interaction("5", "chat", "bia@y.com", "2019-10-01 12:00:00", name="Bia", agent="  "),
    interaction("6", "email", "bia@y.com", "2019-10-04 13:00:00", name="Beatriz", agent="Carla"),
    interaction("7", "email", None, "2019-10-02 14:00:00", agent="Carla"),
    interaction("8", "whatsapp", "not-an-email", "2019-10-05 23:30:00"),
    interaction("9", "phone", "caio@z.com", "2019-10-02 15:00:00", name="Caio"),
    interaction("10", "chat", "caio@z.com", "2019-10-02 15:00:00", name="Caio C"),
]

END = "9999-12-31 23:59:59"
# (email, valid_from) -> (name, phone, state, valid_to, is_current): worked out by hand from
# the rule "phone channel first, else most recent non-null, as known at each interaction".
EXPECTED_VERSIONS = {
    ("ana@x.com", "2019-10-01 08:00:00"): ("Ana Silva", "11999990000", "SP", "2019-10-03 11:00:00", False),
    ("ana@x.com", "2019-10-03 11:00:00"): ("Ana Silva", "11999990000", "RJ", END, True),
    ("bia@y.com", "2019-10-01 12:00:00"): ("Bia", None, None, "2019-10-04 13:00:00", False),
    ("bia@y.com", "2019-10-04 13:00:00"): ("Beatriz", None, None, END, True),
    ("caio@z.com", "2019-10-02 15:00:00"): ("Caio", None, None, END, True),
}


def _version_of(row):
    """The (email, valid_from) version an interaction should point at (plain Python)."""
    email = norm_email(row["customer_email"])
    if email is None:
        return None
    started = row["started_at"].strftime("%Y-%m-%d %H:%M:%S")
    froms = sorted(vf for (e, vf) in EXPECTED_VERSIONS if e == email and vf <= started)
    return (email, froms[-1])


def _customers(spark, paths):
    df = delta_io.read_table(spark, paths.gold("dim_customer"))
    rows = df.select(
        "customer_key", "customer_email", "customer_name", "phone", "state", "is_current",
        format_local("valid_from", TZ).alias("vf"),
        F.date_format(F.col("valid_to"), "yyyy-MM-dd HH:mm:ss").alias("vt_session"),
        format_local("valid_to", TZ).alias("vt"),
    ).collect()
    return rows


@pytest.fixture(scope="module")
def star(spark, tmp_path_factory):
    """One star for the module (Delta writes are the slow part); the stability test, last
    in the file, extends it."""
    paths = LakePaths(str(tmp_path_factory.mktemp("gold-star")))
    write_interactions(spark, paths, ROWS)
    counts = build_star(spark, paths, "run-1", channels=CHANNELS, timezone=TZ)
    return paths, counts


def test_dim_customer_scd2_and_unknown(spark, star):
    paths, counts = star
    rows = _customers(spark, paths)
    unknown = [r for r in rows if r.customer_key == -1]
    assert len(unknown) == 1 and unknown[0].customer_email is None
    got = {
        (r.customer_email, r.vf): (r.customer_name, r.phone, r.state,
                                   END if r.vt_session == END_OF_TIME else r.vt, r.is_current)
        for r in rows if r.customer_key != -1
    }
    assert got == EXPECTED_VERSIONS
    assert len({r.customer_key for r in rows}) == len(rows)
    assert sorted(c.table for c in counts) == ["dim_agent", "dim_channel", "dim_customer", "dim_date", "fact_interaction"]
    assert all(c.reconciles for c in counts)
    fact = next(c for c in counts if c.table == "fact_interaction")
    assert (fact.rows_in, fact.written) == (len(ROWS), len(ROWS))  # one fact per interaction read
    dim = next(c for c in counts if c.table == "dim_customer")
    assert dim.written == len(EXPECTED_VERSIONS) + 1  # the versions and the unknown member


def test_fact_points_at_valid_version_and_unknowns(spark, star):
    paths, _ = star
    keys = {(r.customer_email, r.vf): r.customer_key for r in _customers(spark, paths)}
    fact = {r.interaction_id: r for r in delta_io.read_table(spark, paths.gold("fact_interaction")).collect()}
    assert sorted(fact) == sorted(r["interaction_id"] for r in ROWS)  # no fact lost, none doubled
    agents = {r.agent_nk: r.agent_key for r in delta_io.read_table(spark, paths.gold("dim_agent")).collect()}
    channel_keys = {"phone": 1, "chat": 2, "whatsapp": 3, "email": 4}
    for row in ROWS:
        f = fact[row["interaction_id"]]
        version = _version_of(row)
        assert f.customer_key == (-1 if version is None else keys[version]), row["interaction_id"]
        assert f.channel_key == channel_keys[row["channel"]]
        agent = " ".join((row["agent"] or "").split()).lower()
        assert f.agent_key == (agents[agent] if agent else -1)
    assert fact["1"].agent_key == fact["2"].agent_key != -1
    assert fact["8"].date_key == 20191005  # 23:30 in Sao Paulo is already the 6th in UTC
    assert fact["1"].date_key == 20191001


def test_dim_date_and_channel(spark, star):
    paths, _ = star
    dates = {r.date_key: r for r in delta_io.read_table(spark, paths.gold("dim_date")).collect()}
    assert sorted(dates) == [-1, 20191001, 20191002, 20191003, 20191004, 20191005]
    assert dates[20191001].weekday_name == "Tuesday" and dates[20191001].iso_weekday == 2
    assert dates[20191005].is_weekend is True and dates[20191004].is_weekend is False
    channels = {r.channel: r.channel_key for r in delta_io.read_table(spark, paths.gold("dim_channel")).collect()}
    assert channels == {"unknown": -1, "phone": 1, "chat": 2, "whatsapp": 3, "email": 4}


def test_surrogate_keys_stable_across_rerun_and_incremental_load(spark, star):
    paths, _ = star

    def snapshot():
        cust = {(r.customer_email, r.vf): r.customer_key for r in _customers(spark, paths)}
        agent = {r.agent_nk: r.agent_key for r in delta_io.read_table(spark, paths.gold("dim_agent")).collect()}
        fact = {
            r.interaction_id: (r.customer_key, r.agent_key, r.channel_key, r.date_key)
            for r in delta_io.read_table(spark, paths.gold("fact_interaction")).collect()
        }
        return cust, agent, fact

    first = snapshot()
    build_star(spark, paths, "run-2", channels=CHANNELS, timezone=TZ)
    assert snapshot() == first

    new = [
        interaction("11", "phone", "dan@w.com", "2019-10-06 09:00:00", name="Dan", agent="Zeca"),
        interaction("12", "chat", "ana@x.com", "2019-10-06 10:00:00", agent="Bruno Lima"),
        interaction("13", "sms", "eve@v.com", "2019-10-06 11:00:00"),  # a channel just configured
    ]
    write_interactions(spark, paths, new, mode="append")
    sms = Channel(key=7, priority=9, name="sms")
    counts = build_star(spark, paths, "run-3", channels=(*CHANNELS, sms), timezone=TZ)
    # the incremental run brings dim_channel up to the configuration: the unknown member, four, sms
    assert [(c.rows_in, c.written) for c in counts if c.table == "dim_channel"] == [(6, 6)]
    dim = delta_io.read_table(spark, paths.gold("dim_channel")).collect()
    assert sorted(tuple(r) for r in dim) == [(-1, "unknown", 99), (1, "phone", 1), (2, "chat", 2),
                                             (3, "whatsapp", 3), (4, "email", 4), (7, "sms", 9)]
    cust, agent, fact = snapshot()
    assert fact["13"][2] == 7
    assert {k: cust[k] for k in first[0]} == first[0]
    assert {k: agent[k] for k in first[1]} == first[1]
    assert {k: fact[k] for k in first[2]} == first[2]
    assert ("dan@w.com", "2019-10-06 09:00:00") in cust
    assert fact["12"][0] == cust[("ana@x.com", "2019-10-03 11:00:00")]


def test_customer_attributes_follow_the_configured_flag(spark):
    """The "attributes first" channel is config: moved from phone to chat, chat's name wins
    from its first interaction on (phone's while chat has none yet)."""
    from tests.gold_helpers import INTERACTIONS_SCHEMA

    rows = [interaction("p", "phone", "ana@x.com", "2019-10-01 08:00:00", name="Ana Silva"),
            interaction("c", "chat", "ana@x.com", "2019-10-01 09:00:00", name="Ana S."),
            interaction("p2", "phone", "ana@x.com", "2019-10-01 10:00:00", name="Ana Silva")]
    cols = [c.split()[0] for c in INTERACTIONS_SCHEMA.split(", ")]
    df = spark.createDataFrame([tuple(r[c] for c in cols) for r in rows], INTERACTIONS_SCHEMA)

    def names(channels):
        got = customer_versions(df, channels=channels).select("customer_name", format_local("valid_from", TZ))
        return sorted(map(tuple, got.collect()))

    assert names(CHANNELS) == [("Ana Silva", "2019-10-01 08:00:00")]  # phone first: one version
    chat_first = [dataclasses.replace(c, customer_attributes_first=c.name == "chat") for c in CHANNELS]
    assert names(chat_first) == [("Ana S.", "2019-10-01 09:00:00"), ("Ana Silva", "2019-10-01 08:00:00")]
    none_first = [dataclasses.replace(c, customer_attributes_first=False) for c in CHANNELS]
    assert names(none_first) == [("Ana S.", "2019-10-01 09:00:00"), ("Ana Silva", "2019-10-01 08:00:00"),
                                 ("Ana Silva", "2019-10-01 10:00:00")]  # the latest of any channel
