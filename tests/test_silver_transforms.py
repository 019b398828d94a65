"""The silver build's pure DataFrame -> DataFrame steps on a handful of inline rows, and the
validation of ``references:`` (expected values written by hand)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
import yaml
from chispa import assert_df_equality

from lake.config import Expectation, Reference, load_config, parse_config
from lake.errors import ConfigError
from lake.silver import quality
from lake.silver.build import check_batch, dropped_rows, mark_latest_states
from lake.silver.evidence import Decision
from lake.silver.references import Parent, join_reference, join_references

CFG = load_config("conf/lake.yml")

CARD_RULES = (
    Expectation("account_not_found", "conta.found"),
    Expectation("card_member_mismatch", "NOT conta.found OR id_associado <=> conta.id_associado"),
)


def _rules(df):
    """id -> the rule names of its row's ``_errors``."""
    return sorted((r["id"], [e["rule"] for e in r["_errors"]]) for r in df.select("id", "_errors").collect())


def test_join_reference_brings_the_parent_row_or_not_found(spark):
    cards = spark.createDataFrame(
        [(1, 10, 100), (2, 10, 200), (3, 20, None), (4, 99, 100), (5, None, 100)],
        "id long, id_conta long, id_associado long",
    )
    accounts = spark.createDataFrame([(10, 100, "corrente"), (20, None, "poupanca")], "id long, id_associado long, tipo string")
    ref = Reference("conta", {"id_conta": "id"}, columns=("id_associado",))

    got = cards.transform(join_reference, ref, Parent(CFG.silver["conta"], accounts)).select(
        "id", "id_associado", "conta"
    )

    expected = spark.createDataFrame(
        [(1, 100, (True, 100)), (2, 200, (True, 100)), (3, None, (True, None)),
         (4, 100, (False, None)), (5, 100, (False, None))],  # 5: a null join column finds nothing
        "id long, id_associado long, conta struct<found:boolean, id_associado:long>",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_card_rules_are_expectations_over_the_join(spark):
    cards = spark.createDataFrame(
        [(1, 10, 100), (2, 10, 200), (3, 20, None), (4, 99, 100), (5, 20, 300)],
        "id long, id_conta long, id_associado long",
    )
    accounts = spark.createDataFrame([(10, 100), (20, None)], "id long, id_associado long")
    ref = Reference("conta", {"id_conta": "id"}, columns=("id_associado",))

    checked = cards.transform(join_references, [ref], {"conta": Parent(CFG.silver["conta"], accounts)}).transform(
        quality.evaluate, CARD_RULES
    )

    # 3: both members null (<=> is null-safe, as before); 4: no account, so no mismatch either
    assert _rules(checked) == [
        (1, []), (2, ["card_member_mismatch"]), (3, []), (4, ["account_not_found"]), (5, ["card_member_mismatch"]),
    ]


def test_a_missing_parent_table_finds_nothing(spark):
    accounts = spark.createDataFrame([(1, 7), (2, None)], "id long, id_associado long")
    ref = Reference("associado", {"id_associado": "id"})
    got = accounts.transform(join_reference, ref, Parent(CFG.silver["associado"])).transform(
        quality.evaluate, [Expectation("member_not_found", "associado.found")]
    )
    assert _rules(got) == [(1, ["member_not_found"]), (2, ["member_not_found"])]


def test_quarantined_for_lists_the_parent_keys_quarantine_rules(spark):
    moves = spark.createDataFrame([(1, 100), (2, 200), (3, 300), (4, 400), (5, None)], "id long, id_cartao long")
    cards = spark.createDataFrame([(100,)], "id long")
    # the quarantine holds bronze values; card 400 was quarantined twice (two rows, two rules)
    quarantine = spark.createDataFrame(
        [(200, [("card_member_mismatch", "x")]), (300, [("card_number_length", "y")]),
         (400, [("card_number_length", "y")]), (400, [("card_member_mismatch", "x"), ("id_present", "z")])],
        "id long, _errors array<struct<rule:string, expr:string>>",
    )
    ref = Reference("cartao", {"id_cartao": "id"}, with_quarantine=True)
    rules = (
        Expectation("card_member_mismatch", "cartao.found OR NOT array_contains(cartao.quarantined_for, 'card_member_mismatch')"),
        Expectation("card_not_found", "cartao.found OR array_contains(cartao.quarantined_for, 'card_member_mismatch')"),
    )

    joined = moves.transform(join_reference, ref, Parent(CFG.silver["cartao"], cards, quarantine))
    got = sorted((r["id"], r["cartao"]["found"], r["cartao"]["quarantined_for"]) for r in joined.collect())
    assert got == [
        (1, True, []), (2, False, ["card_member_mismatch"]), (3, False, ["card_number_length"]),
        (4, False, ["card_member_mismatch", "card_number_length", "id_present"]), (5, False, []),
    ]
    assert _rules(joined.transform(quality.evaluate, rules)) == [
        (1, []), (2, ["card_member_mismatch"]), (3, ["card_not_found"]), (4, ["card_member_mismatch"]),
        (5, ["card_not_found"]),
    ]


def test_check_batch_of_five_accounts(spark):
    ts = dt.datetime(2023, 5, 1, 10, 0)
    bronze = spark.createDataFrame(
        [(1, " corrente ", ts, 7, "r1"), (2, "cofre", ts, 7, "r2"), (3, "poupanca", ts, 8, "r3"),
         (None, "corrente", ts, 7, "r4"), (5, "salario", ts, None, "r5")],
        "id long, tipo string, data_criacao timestamp_ntz, id_associado long, _row_id string",
    )
    members = spark.createDataFrame([(7,)], "id long")
    parents = {"associado": Parent(CFG.silver["associado"], members)}

    checked = check_batch(bronze, CFG.silver["conta"], Decision({}), parents)

    got = sorted(
        ((r["_row_id"], r["id"], r["tipo"], [e["rule"] for e in r["_errors"]], r["_warned_by"])
         for r in checked.collect()),
        key=lambda t: t[0],
    )
    assert got == [
        ("r1", 1, "corrente", [], []),
        ("r2", 2, "cofre", [], ["tipo_known"]),
        ("r3", 3, "poupanca", ["member_not_found"], []),
        ("r4", None, "corrente", ["id_present"], []),
        ("r5", 5, "salario", ["member_not_found"], []),
    ]
    assert "associado" not in checked.columns  # the join's struct is gone once checked


def test_mark_latest_states_of_five_rows(spark):
    checked = spark.createDataFrame(
        [("a", 1, 3, dt.datetime(2024, 1, 1)), ("a", 1, 5, dt.datetime(2024, 1, 1)), ("b", 2, 5, dt.datetime(2024, 1, 1)),
         ("b", 2, 5, dt.datetime(2024, 1, 2)), ("c", 3, None, dt.datetime(2024, 1, 1))],
        "_row_id string, id long, _commit_version long, _ingested_at timestamp",
    )
    held = spark.createDataFrame([(2,), (9,)], "id long")

    got = mark_latest_states(checked, held, ["id"]).select("_row_id", "_commit_version", "_ingested_at", "_latest", "_in_silver")

    expected = spark.createDataFrame(
        [("a", 3, dt.datetime(2024, 1, 1), False, False), ("a", 5, dt.datetime(2024, 1, 1), True, False),
         ("b", 5, dt.datetime(2024, 1, 1), False, True), ("b", 5, dt.datetime(2024, 1, 2), True, True),
         ("c", None, dt.datetime(2024, 1, 1), True, False)],
        "_row_id string, _commit_version long, _ingested_at timestamp, _latest boolean, _in_silver boolean",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_dropped_rows_counts_drops_and_superseded_states():
    plain = {"dropped": 1, "passed": 5, "passed_keys": 3, "quarantined": 2, "quarantined_ids": 1}
    assert dropped_rows(plain, has_op=False) == 1 + (5 - 3) + (2 - 1)
    mutable = {"rows_in": 9, "latest": 6, "latest_passed": 4, "latest_passed_keys": 4, "latest_dropped": 1}
    assert dropped_rows(mutable, has_op=True) == 1 + (9 - 6) + 0


# --------------------------------------------------------------------------- references in the config


@pytest.fixture(scope="module")
def raw():
    with open("conf/lake.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _with_reference(raw, table, ref):
    out = copy.deepcopy(raw)
    out["silver"][table]["references"] = [ref]
    return out


@pytest.mark.parametrize(
    ("table", "ref", "key", "fragment"),
    [
        ("cartao", {"table": "contas", "join": {"id_conta": "id"}}, "silver.cartao.references[0].table", "not a silver table"),
        ("conta", {"table": "cartao", "join": {"id": "id"}}, "silver.conta.references[0].table", "not defined before"),
        ("cartao", {"table": "conta", "join": {"id_cont": "id"}}, "silver.cartao.references[0].join", "'id_cont' is not one"),
        ("cartao", {"table": "conta", "join": {"id_conta": "idx"}}, "silver.cartao.references[0].join.id_conta", "'idx' is not a column"),
        ("cartao", {"table": "conta", "join": {"id_associado": "id_associado"}}, "silver.cartao.references[0].join", "keys of 'conta'"),
        ("cartao", {"table": "conta", "join": {"id_conta": "id"}, "columns": ["nome"]}, "silver.cartao.references[0].columns", "'nome' is not a column"),
        ("cartao", {"table": "conta", "join": {"id_conta": "id"}, "alias": "id"}, "silver.cartao.references[0].alias", "already a column"),
        ("cartao", {"table": "conta", "join": {"id_conta": "id"}, "when": "x"}, "silver.cartao.references[0].when", "unknown key"),
    ],
)
def test_bad_reference_is_a_config_error(raw, table, ref, key, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_reference(raw, table, ref), "conf/lake.yml")
    assert caught.value.key == key
    assert fragment in caught.value.detail


def test_committed_references():
    got = {name: t.references for name, t in CFG.silver.items() if t.references}
    assert got == {
        "conta": (Reference("associado", {"id_associado": "id"}),),
        "cartao": (Reference("conta", {"id_conta": "id"}, columns=("id_associado",)),),
        "movimento": (Reference("cartao", {"id_cartao": "id"}, with_quarantine=True),),
    }
