"""The three answers: library (silver DataFrame and gold star), gold tables and SQL files,
each compared with the answer computed in plain Python over the test's own rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict

import pytest
from pyspark.sql.types import TimestampType

from lake import delta_io
from lake.gold.answers import (
    contacts_24h,
    customer_interactions,
    format_answer,
    interactions_by_channel,
    interactions_pivot,
    last_interaction,
    refresh_answers,
    run_query,
)
from lake.gold.functions import format_local
from lake.gold.star import build_star
from lake.paths import LakePaths
from tests.gold_helpers import CHANNELS, TZ, fmt, interaction, norm_email, t, write_interactions

AS_OF = "2019-10-02 00:00:00"

ROWS = [
    # 24 h boundaries around AS_OF
    interaction("a1", "phone", "a@x.com", "2019-10-01 00:00:00", "2019-10-01 00:05:00"),  # exactly -24 h: out
    interaction("a2", "chat", "a@x.com", "2019-10-01 00:00:01", "2019-10-01 00:06:00"),  # in
    interaction("a3", "whatsapp", "A@x.com", "2019-10-02 00:00:00", "2019-10-02 00:30:00"),  # exactly as_of: in
    interaction("a4", "email", "a@x.com", "2019-10-02 00:00:01", "2019-10-02 01:00:00"),  # after as_of: out
    interaction("a5", "chat", "a@x.com", "2019-09-30 08:00:00", "2019-09-30 08:10:00"),
    # ties on started_at, broken by ended_at
    interaction("b1", "chat", " B@X.com ", "2019-10-01 12:00:00", "2019-10-01 12:30:00"),
    interaction("b2", "email", "b@x.com", "2019-10-01 12:00:00", "2019-10-01 12:40:00"),
    # same start and end: channel priority (phone before chat)
    interaction("c1", "chat", "c@x.com", "2019-10-01 13:00:00", "2019-10-01 13:10:00"),
    interaction("c2", "phone", "c@x.com", "2019-10-01 13:00:00", "2019-10-01 13:10:00"),
    # same start, end and channel: smallest interaction_id
    interaction("d2", "whatsapp", "d@x.com", "2019-10-01 14:00:00"),
    interaction("d1", "whatsapp", "d@x.com", "2019-10-01 14:00:00"),
    # null ended_at ranks after a known one
    interaction("e1", "email", "e@x.com", "2019-10-01 15:00:00"),
    interaction("e2", "email", "e@x.com", "2019-10-01 15:00:00", "2019-10-01 15:05:00"),
    # old customer: not in the last 24 h
    interaction("f1", "phone", "f@x.com", "2019-09-01 10:00:00", "2019-09-01 10:10:00"),
    # unknown customers: excluded from the answers
    interaction("u1", "phone", None, "2019-10-01 20:00:00"),
    interaction("u2", "chat", "   ", "2019-10-01 21:00:00"),
    interaction("u3", "email", "not-an-email", "2019-10-01 22:00:00"),
]

PRIORITY = {"phone": 1, "chat": 2, "whatsapp": 3, "email": 4}


# --------------------------------------------------------------------------- plain Python


def _known(as_of: dt.datetime):
    return [(norm_email(r["customer_email"]), r) for r in ROWS
            if norm_email(r["customer_email"]) and r["started_at"] <= as_of]


def expected_contacts(as_of):
    counts = defaultdict(int)
    for email, r in _known(as_of):
        if as_of - dt.timedelta(hours=24) < r["started_at"]:
            counts[email] += 1
    return Counter((e, n) for e, n in counts.items())


def expected_by_channel(as_of):
    groups = defaultdict(list)
    for email, r in _known(as_of):
        groups[(email, r["channel"])].append(r["started_at"])
    return Counter((e, c, len(v), fmt(min(v)), fmt(max(v))) for (e, c), v in groups.items())


def expected_last(as_of):
    best = {}
    for email, r in _known(as_of):
        key = (
            -r["started_at"].timestamp(),
            0 if r["ended_at"] else 1,
            -r["ended_at"].timestamp() if r["ended_at"] else 0,
            PRIORITY[r["channel"]],
            r["interaction_id"],
        )
        if email not in best or key < best[email][0]:
            best[email] = (key, r)
    return Counter((e, r["channel"], fmt(r["started_at"])) for e, (_, r) in best.items())


def rows_of(df):
    """Rows as a multiset (Counter) of tuples, timestamps printed in the source zone."""
    cols = [format_local(f.name, TZ).alias(f.name) if isinstance(f.dataType, TimestampType) else f.name
            for f in df.schema.fields]
    return Counter(tuple(r) for r in df.select(*cols).collect())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def silver_df(spark, tmp_path_factory):
    from tests.gold_helpers import INTERACTIONS_SCHEMA

    cols = [c.split()[0] for c in INTERACTIONS_SCHEMA.split(", ")]
    return spark.createDataFrame([tuple(r[c] for c in cols) for r in ROWS], INTERACTIONS_SCHEMA).cache()


@pytest.fixture(scope="module")
def gold(spark, tmp_path_factory):
    paths = LakePaths(str(tmp_path_factory.mktemp("gold-answers")))
    write_interactions(spark, paths, ROWS)
    build_star(spark, paths, "run-1", channels=CHANNELS, timezone=TZ)
    return paths


AS_OFS = [AS_OF, "2019-10-01 13:00:00", "2019-09-30 08:00:00"]


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("as_of", AS_OFS)
def test_answers_from_silver_dataframe(silver_df, as_of):
    at = t(as_of)
    assert rows_of(contacts_24h(silver_df, as_of=as_of, timezone=TZ)) == expected_contacts(at)
    assert rows_of(interactions_by_channel(silver_df, as_of=as_of, timezone=TZ)) == expected_by_channel(at)
    assert rows_of(last_interaction(silver_df, as_of=as_of, timezone=TZ, channels=CHANNELS)) == expected_last(at)


def test_boundaries_and_ties_spelled_out(silver_df):
    contacts = dict(rows_of(contacts_24h(silver_df, as_of=AS_OF, timezone=TZ)).elements())
    assert contacts["a@x.com"] == 2  # a2 and a3; not a1 (exactly 24 h before), not a4 (after)
    assert "f@x.com" not in contacts and None not in contacts
    last_rows = rows_of(last_interaction(silver_df, as_of=AS_OF, timezone=TZ, channels=CHANNELS))
    assert set(last_rows.values()) == {1}  # one row per customer
    last = {e: (c, s) for e, c, s in last_rows}
    assert last["a@x.com"] == ("whatsapp", "2019-10-02 00:00:00")
    assert last["b@x.com"][0] == "email"
    assert last["c@x.com"][0] == "phone"
    assert sorted(last) == ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"]
    ids = [r.interaction_id for r in customer_interactions(silver_df, " D@x.com", as_of=AS_OF, timezone=TZ).collect()]
    assert sorted(ids) == ["d1", "d2"]


def test_last_interaction_id_tie_break(spark, silver_df):
    # d1 and d2 are identical but for the id: the smallest id wins, whatever the input order
    df = last_interaction(silver_df.where("customer_email = 'd@x.com'").orderBy("interaction_id"), as_of=AS_OF, timezone=TZ, channels=CHANNELS)
    assert rows_of(df) == Counter([("d@x.com", "whatsapp", "2019-10-01 14:00:00")])
    e = last_interaction(silver_df.where("customer_email = 'e@x.com'"), as_of=AS_OF, timezone=TZ, channels=CHANNELS)
    assert rows_of(e) == Counter([("e@x.com", "email", "2019-10-01 15:00:00")])


def test_default_as_of_is_now(silver_df):
    assert contacts_24h(silver_df, timezone=TZ).count() == 0
    assert rows_of(last_interaction(silver_df, timezone=TZ, channels=CHANNELS)) == expected_last(dt.datetime.now(dt.timezone.utc))


def test_pivot(silver_df):
    at = t(AS_OF)
    expected = defaultdict(lambda: {c: 0 for c in PRIORITY})
    for email, r in _known(at):
        expected[email][r["channel"]] += 1
    want = Counter((e, *[v[c] for c in PRIORITY], sum(v.values())) for e, v in expected.items())
    df = interactions_pivot(silver_df, channels=CHANNELS, as_of=AS_OF, timezone=TZ)
    assert df.columns == ["customer_email", "phone", "chat", "whatsapp", "email", "total"]
    assert rows_of(df) == want


def test_answers_from_gold_and_sql_files(spark, gold):
    at = t(AS_OF)
    cases = {
        "contacts_24h": (contacts_24h, expected_contacts(at)),
        "interactions_by_channel": (interactions_by_channel, expected_by_channel(at)),
        "last_interaction": (last_interaction, expected_last(at)),
    }
    for name, (fn, want) in cases.items():
        lib = fn(spark, as_of=AS_OF, timezone=TZ, paths=gold)
        assert rows_of(lib) == want, name
        sql = run_query(spark, name, as_of=AS_OF, timezone=TZ, paths=gold)
        assert sql.columns == lib.columns, name
        assert rows_of(sql) == want, name


def test_refresh_answers_tables(spark, gold):
    counts = refresh_answers(spark, gold, as_of=AS_OF, timezone=TZ)
    assert [c.table for c in counts] == ["answer_contacts_24h", "answer_interactions_by_channel", "answer_last_interaction"]
    at = t(AS_OF)
    want_rows = [sum(f(at).values()) for f in (expected_contacts, expected_by_channel, expected_last)]
    assert [(c.rows_in, c.written) for c in counts] == [(n, n) for n in want_rows]
    assert all(c.reconciles for c in counts)
    got = delta_io.read_table(spark, gold.gold("answer_contacts_24h"))
    assert Counter((e, n) for e, n, _ in rows_of(got).elements()) == expected_contacts(at)
    assert {a for *_, a in rows_of(got)} == {AS_OF}
    last = delta_io.read_table(spark, gold.gold("answer_last_interaction")).drop("as_of")
    assert rows_of(last) == expected_last(at)


def test_format_answer(silver_df):
    at = t(AS_OF)
    df = last_interaction(silver_df, as_of=AS_OF, timezone=TZ, channels=CHANNELS)
    text = format_answer(df, "csv", timezone=TZ)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["customer_email", "channel", "started_at"]
    assert Counter(tuple(r) for r in parsed[1:]) == expected_last(at)
    assert text.count("\n") == len(parsed) - 1 and "\r" not in text  # LF between lines, none after
    objs = json.loads(format_answer(df, "json", timezone=TZ))
    assert Counter((o["customer_email"], o["channel"], o["started_at"]) for o in objs) == expected_last(at)
    table = format_answer(contacts_24h(silver_df, as_of=AS_OF, timezone=TZ), "table", timezone=TZ)
    assert "customer_email" in table and "a@x.com" in table
    with pytest.raises(ValueError):
        format_answer(df, "xml")
