"""Format evidence on the real sample rows of the seeds, wrong configurations, candidates."""

from __future__ import annotations

import dataclasses

import pytest

from lake.config import ColumnRule, ColumnType, RefutedPolicy, load_config
from lake.errors import QualityError
from lake.silver.build import check_evidence
from lake.silver.evidence import Decision, decide, evidence_summary
from tests.silver_bronze import SEED_ROWS, bronze_df

CFG = load_config("conf/lake.yml")


def seed_bronze(spark, source, rows=None, **kw):
    return bronze_df(spark, source, CFG.sources[source].columns, rows or [SEED_ROWS[source]], **kw)


def with_rule(table, column, **changes):
    cols = dict(table.columns)
    cols[column] = dataclasses.replace(cols[column], **changes)
    return dataclasses.replace(table, columns=cols)


def failing(table):
    """The table with ``on_refuted: fail``: a refused file stops the run."""
    return dataclasses.replace(table, on_refuted=RefutedPolicy.FAIL)


def refused(bronze, table):
    """``[(file, reason)]`` of the files the evidence refuses under the default policy."""
    decision = check_evidence(bronze, table)
    assert table.on_refuted == RefutedPolicy.QUARANTINE
    return [(r.file, r.reason) for r in decision.refused]


@pytest.mark.parametrize("source", ["ura", "chat", "whatsapp", "email"])
def test_configured_formats_are_supported_by_the_seed_evidence(spark, source):
    table = CFG.silver[source]
    rows = evidence_summary(seed_bronze(spark, source), table).collect()
    # Every rule has evidence on the one seed row, and it agrees.
    assert rows and all(r["checked"] == 1 and r["agreed"] == 1 for r in rows), rows
    assert decide(table, rows).choices == {} and decide(table, rows).refused == ()


def test_wrong_day_month_order_for_ura_is_caught(spark):
    # 1 Aug 2019 is a Thursday; the row says Tuesday (8 Jan 2019).
    table = with_rule(CFG.silver["ura"], "started_at", formats=("dd/MM/yyyy",))
    bronze = seed_bronze(spark, "ura")
    assert refused(bronze, table) == [("/landing/f1", "format_refuted:ura_weekday")]
    with pytest.raises(QualityError) as exc:
        check_evidence(bronze, failing(table))
    msg = str(exc.value)
    for part in ("'ura'", "started_at", "ura_weekday", "/landing/f1", "data=01/08/2019", "Semana=Tuesday"):
        assert part in msg, msg


def test_wrong_order_for_chat_is_caught(spark):
    # 6 Oct 2019 is a Sunday; Semana 1 is Monday (10 June 2019).
    table = with_rule(CFG.silver["chat"], "started_at", formats=("MM/dd/yyyy H:mm",))
    assert refused(seed_bronze(spark, "chat"), table) == [("/landing/f1", "format_refuted:chat_weekday")]
    with pytest.raises(QualityError, match="chat_weekday"):
        check_evidence(seed_bronze(spark, "chat"), failing(table))


def test_wrong_order_for_whatsapp_end_is_caught_by_duration(spark):
    # Read day first, the end is 10 Jan 2019: not 38 hours after 30 Sep 2019 00:08.
    table = with_rule(CFG.silver["whatsapp"], "ended_at", formats=("dd/MM/yyyy HH:mm",))
    assert refused(seed_bronze(spark, "whatsapp"), table) == [("/landing/f1", "format_refuted:whatsapp_duration")]
    with pytest.raises(QualityError, match="whatsapp_duration"):
        check_evidence(seed_bronze(spark, "whatsapp"), failing(table))


def test_format_that_parses_nothing_is_refuted(spark):
    # No value with evidence parses at all: not one garbage row, the format itself is wrong.
    table = with_rule(CFG.silver["email"], "started_at", formats=("yyyy-MM-dd HH:mm",))
    assert refused(seed_bronze(spark, "email"), table) == [("/landing/f1", "format_refuted:email_weekday")]
    with pytest.raises(QualityError, match="email_weekday.*no value with evidence parses"):
        check_evidence(seed_bronze(spark, "email"), failing(table))


def test_a_value_no_format_reads_is_not_evidence(spark):
    # Three rows, one date impossible under every format (month 45): the two readable rows
    # agree, the third neither agrees nor disagrees, so the file is not refuted.
    table = CFG.silver["whatsapp"]
    good = dict(SEED_ROWS["whatsapp"])
    other = dict(good, **{"Inicio da conversa": "10/1/19 9:00", "Fim da conversa (duração)": "10/01/2019 09:30",
                          "Tempo duração atendimento": "00:30:00", "Semana": "2"})   # 1 Oct 2019: a Tuesday
    garbage = dict(good, **{"Inicio da conversa": "13/45/19 0:08"})
    rows = evidence_summary(seed_bronze(spark, "whatsapp", [good, garbage, other]), table).collect()
    got = sorted((r["evidence"], r["checked"], r["agreed"], r["unreadable"]) for r in rows)
    assert got == [("whatsapp_duration", 2, 2, 1), ("whatsapp_weekday", 2, 2, 1)]
    assert decide(table, rows).refused == ()
    assert check_evidence(seed_bronze(spark, "whatsapp", [good, garbage, other]), failing(table)).refused == ()


def test_readable_rows_that_disagree_still_refute(spark):
    # One unreadable row is left out; of the two readable ones only one agrees: 50% < 95%.
    table = CFG.silver["whatsapp"]
    good = dict(SEED_ROWS["whatsapp"])
    rows = [good, dict(good, Semana="3"), dict(good, **{"Inicio da conversa": "99/99/99 0:08"})]
    with pytest.raises(QualityError, match=r"1 of 2 readable rows agree \(need 95%\); 1 unreadable rows not counted"):
        check_evidence(seed_bronze(spark, "whatsapp", rows), failing(table))


def test_refutation_is_per_file_and_respects_min_agreement(spark):
    table = CFG.silver["ura"]
    good = dict(SEED_ROWS["ura"])
    bad = dict(good, Semana="Monday")
    # 19 of 20 rows agree in file A (95% = min_agreement): accepted. File B: 0 of 1.
    rows = [dict(good, _file="/a") for _ in range(19)] + [dict(bad, _file="/a"), dict(bad, _file="/b")]
    # One summary for both files; file A decided alone, then with file B.
    summary = {r["_source_file"]: r for r in evidence_summary(seed_bronze(spark, "ura", rows), table).collect()}
    assert (summary["/a"]["checked"], summary["/a"]["agreed"]) == (20, 19)
    assert (summary["/b"]["checked"], summary["/b"]["agreed"]) == (1, 0)
    assert decide(table, [summary["/a"]]).refused == ()
    assert [(r.file, r.reason) for r in decide(table, summary.values()).refused] == [("/b", "format_refuted:ura_weekday")]


def test_rows_without_evidence_do_not_count(spark):
    row = dict(SEED_ROWS["ura"], Semana=None)
    rows = evidence_summary(seed_bronze(spark, "ura", [row]), with_rule(CFG.silver["ura"], "started_at", formats=("dd/MM/yyyy",))).collect()
    assert [(r["checked"], r["agreed"]) for r in rows] == [(0, 0)]


def candidates_table():
    return with_rule(CFG.silver["ura"], "started_at", formats=(), candidates=(("dd/MM/yyyy",), ("MM/dd/yyyy",)))


def test_candidates_pick_the_supported_format_per_file(spark):
    table = candidates_table()
    us = dict(SEED_ROWS["ura"], _file="/us")                                  # 01/08/2019 Tuesday -> MM/dd
    br = dict(SEED_ROWS["ura"], data="13/08/2019", Semana="Tuesday", _file="/br")  # 13 Aug 2019 is a Tuesday
    decision = check_evidence(seed_bronze(spark, "ura", [us, br]), table)
    assert decision.choices == {"started_at": {"/us": 1, "/br": 0}} and decision.refused == ()


def test_candidates_refuse_ambiguous_evidence(spark):
    # 05/05/2019 reads the same both ways (a Sunday): the evidence cannot choose.
    row = dict(SEED_ROWS["ura"], data="05/05/2019", Semana="Sunday")
    assert refused(seed_bronze(spark, "ura", [row]), candidates_table()) == [("/landing/f1", "format_ambiguous:started_at")]
    with pytest.raises(QualityError, match="ambiguous"):
        check_evidence(seed_bronze(spark, "ura", [row]), failing(candidates_table()))


def test_candidates_refuse_when_none_agrees(spark):
    row = dict(SEED_ROWS["ura"], Semana="Friday")   # 8 Jan and 1 Aug 2019: Tuesday, Thursday
    assert refused(seed_bronze(spark, "ura", [row]), candidates_table()) == [("/landing/f1", "format_refuted:ura_weekday")]
    with pytest.raises(QualityError, match="no candidate"):
        check_evidence(seed_bronze(spark, "ura", [row]), failing(candidates_table()))


def test_candidate_rule_config_is_valid():
    rule = ColumnRule(type=ColumnType.TIMESTAMP, source="data", candidates=(("dd/MM/yyyy",), ("MM/dd/yyyy",)))
    assert rule.candidates[1] == ("MM/dd/yyyy",)


def test_candidates_judge_on_readable_rows_only(spark):
    # /us: one row only month-first reads as its Tuesday, one row no candidate reads (99/99):
    # the readable row decides alone; the unreadable one is counted apart.
    table = candidates_table()
    us = dict(SEED_ROWS["ura"], _file="/us")
    garbage = dict(SEED_ROWS["ura"], data="99/99/2019", _file="/us")
    summary = evidence_summary(seed_bronze(spark, "ura", [us, garbage]), table).collect()
    assert sorted((r["variant"], r["checked"], r["agreed"], r["unreadable"]) for r in summary) == [
        ("started_at=0", 1, 0, 1), ("started_at=1", 1, 1, 1)]
    assert decide(table, summary) == Decision({"started_at": {"/us": 1}})
