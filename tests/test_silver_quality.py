"""Expectations: each action, null predicates, malformed rows, reconciled counts."""

from __future__ import annotations

import pytest
from chispa import assert_df_equality

from lake.config import Action, Expectation
from lake.errors import QualityError
from lake.silver import quality

RULES = [
    Expectation("id_present", "id IS NOT NULL", Action.QUARANTINE),
    Expectation("positive", "amount > 0", Action.QUARANTINE),
    Expectation("not_test", "name <> 'test'", Action.DROP),
    Expectation("small", "amount < 100", Action.WARN),
]


def frame(spark):
    rows = [
        ("ok", 1, 10, "a", False),            # written
        ("warned", 2, 500, "b", False),       # warn: written, counted
        ("no_id", None, 10, "c", False),      # quarantine id_present
        ("two_fail", None, -1, "d", False),   # quarantine id_present + positive
        ("null_pred", 3, None, "e", False),   # amount null -> positive is null -> failure
        ("dropped", 4, 10, "test", False),    # drop
        ("drop_and_q", 5, -5, "test", False),  # quarantine wins over drop
        ("malformed", None, None, None, True),  # malformed_record only
    ]
    return spark.createDataFrame(rows, "label string, id long, amount long, name string, _is_malformed boolean")


def test_each_rows_fate_and_counts(spark):
    checked = quality.evaluate(frame(spark), RULES)
    errors = {r["label"]: [e["rule"] for e in r["_errors"]] for r in checked.select("label", "_errors").collect()}
    assert errors == {
        "ok": [], "warned": [], "no_id": ["id_present"], "two_fail": ["id_present", "positive"],
        "null_pred": ["positive"], "dropped": [], "drop_and_q": ["positive"], "malformed": ["malformed_record"],
    }
    exprs = {e["rule"]: e["expr"] for r in checked.collect() for e in r["_errors"]}
    assert exprs["positive"] == "amount > 0" and exprs["malformed_record"] == "_is_malformed = false"
    written = sorted(r["label"] for r in quality.passed(checked).collect())
    assert written == ["ok", "warned"]
    quarantined = sorted(r["label"] for r in quality.quarantined_rows(checked).collect())
    assert quarantined == ["drop_and_q", "malformed", "no_id", "null_pred", "two_fail"]
    counts = quality.quality_counts(checked, RULES).first()
    assert (counts["rows_in"], counts["quarantined"], counts["dropped"], counts["warned"]) == (8, 5, 1, 1)
    assert counts["rows_in"] == len(written) + counts["quarantined"] + counts["dropped"]
    quality.raise_on_failures("t", counts, RULES)   # no fail rule: nothing raised


def test_fail_rule_raises_with_count_and_rule(spark):
    rules = RULES + [Expectation("no_negative", "amount >= 0", Action.FAIL)]
    checked = quality.evaluate(frame(spark), rules)
    counts = quality.quality_counts(checked, rules).first()
    # two_fail (-1), drop_and_q (-5), null_pred (null) fail; the malformed row is not judged.
    with pytest.raises(QualityError, match=r"'no_negative' \(amount >= 0\) failed on 3 rows"):
        quality.raise_on_failures("t", counts, rules)


def test_extra_errors_are_appended(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame([(1, True), (2, False)], "id long, orphan boolean")
    extra = F.when(F.col("orphan"), F.array(quality.error("card_not_found", "x IN y")))
    out = quality.evaluate(df, [], extra_errors=extra).select("id", F.col("_errors.rule").alias("rules"))
    expected = spark.createDataFrame([(1, ["card_not_found"]), (2, [])], "id long, rules array<string>")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)
