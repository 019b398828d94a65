"""Format evidence on the real sample rows of the seeds, wrong configurations, candidates."""

from __future__ import annotations

import dataclasses

import pytest

from lake.config import ColumnRule, ColumnType, load_config
from lake.errors import QualityError
from lake.silver.build import check_evidence
from lake.silver.evidence import decide, evidence_summary
from tests.silver_bronze import SEED_ROWS, bronze_df

CFG = load_config("conf/lake.yml")


def seed_bronze(spark, source, rows=None, **kw):
    return bronze_df(spark, source, CFG.sources[source].columns, rows or [SEED_ROWS[source]], **kw)


def with_rule(table, column, **changes):
    cols = dict(table.columns)
    cols[column] = dataclasses.replace(cols[column], **changes)
    return dataclasses.replace(table, columns=cols)


@pytest.mark.parametrize("source", ["ura", "chat", "whatsapp", "email"])
def test_configured_formats_are_supported_by_the_seed_evidence(spark, source):
    table = CFG.silver[source]
    rows = evidence_summary(seed_bronze(spark, source), table).collect()
    # Every rule has evidence on the one seed row, and it agrees.
    assert rows and all(r["checked"] == 1 and r["agreed"] == 1 for r in rows), rows
    assert decide(table, rows) == {}


def test_wrong_day_month_order_for_ura_is_caught(spark):
    # 1 Aug 2019 is a Thursday; the row says Tuesday (8 Jan 2019).
    table = with_rule(CFG.silver["ura"], "started_at", formats=("dd/MM/yyyy",))
    with pytest.raises(QualityError) as exc:
        check_evidence(seed_bronze(spark, "ura"), table)
    msg = str(exc.value)
    for part in ("'ura'", "started_at", "ura_weekday", "/landing/f1", "data=01/08/2019", "Semana=Tuesday"):
        assert part in msg, msg


def test_wrong_order_for_chat_is_caught(spark):
    # 6 Oct 2019 is a Sunday; Semana 1 is Monday (10 June 2019).
    table = with_rule(CFG.silver["chat"], "started_at", formats=("MM/dd/yyyy H:mm",))
    with pytest.raises(QualityError, match="chat_weekday"):
        check_evidence(seed_bronze(spark, "chat"), table)


def test_wrong_order_for_whatsapp_end_is_caught_by_duration(spark):
    # Read day first, the end is 10 Jan 2019: not 38 hours after 30 Sep 2019 00:08.
    table = with_rule(CFG.silver["whatsapp"], "ended_at", formats=("dd/MM/yyyy HH:mm",))
    with pytest.raises(QualityError, match="whatsapp_duration"):
        check_evidence(seed_bronze(spark, "whatsapp"), table)


def test_format_that_parses_nothing_is_refuted(spark):
    table = with_rule(CFG.silver["email"], "started_at", formats=("yyyy-MM-dd HH:mm",))
    with pytest.raises(QualityError, match="email_weekday"):
        check_evidence(seed_bronze(spark, "email"), table)


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
    assert decide(table, [summary["/a"]]) == {}
    with pytest.raises(QualityError, match="'/b'"):
        decide(table, summary.values())


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
    choices = check_evidence(seed_bronze(spark, "ura", [us, br]), table)
    assert choices == {"started_at": {"/us": 1, "/br": 0}}


def test_candidates_refuse_ambiguous_evidence(spark):
    # 05/05/2019 reads the same both ways (a Sunday): the evidence cannot choose.
    row = dict(SEED_ROWS["ura"], data="05/05/2019", Semana="Sunday")
    with pytest.raises(QualityError, match="ambiguous"):
        check_evidence(seed_bronze(spark, "ura", [row]), candidates_table())


def test_candidates_refuse_when_none_agrees(spark):
    row = dict(SEED_ROWS["ura"], Semana="Friday")   # 8 Jan and 1 Aug 2019: Tuesday, Thursday
    with pytest.raises(QualityError, match="no candidate"):
        check_evidence(seed_bronze(spark, "ura", [row]), candidates_table())


def test_candidate_rule_config_is_valid():
    rule = ColumnRule(type=ColumnType.TIMESTAMP, source="data", candidates=(("dd/MM/yyyy",), ("MM/dd/yyyy",)))
    assert rule.candidates[1] == ("MM/dd/yyyy",)
