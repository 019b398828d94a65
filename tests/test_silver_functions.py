"""Standardizers: every accepted format, nulls, garbage and boundaries (chispa)."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import reduce

import pytest
from chispa import assert_column_equality
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lake.silver import functions as sf


def applied(spark, fn, cases, in_ddl="v string", out_type="string"):
    """cases: list of (inputs tuple, expected). The frame of ``actual`` (fn applied) and ``expected``."""
    names = re.findall(r"(?:^|,\s*)(\w+)\s", in_ddl)
    rows = [tuple(i) + (e,) for i, e in cases]
    df = spark.createDataFrame(rows, f"{in_ddl}, expected {out_type}")
    return df.select(fn(*[F.col(n) for n in names]).alias("actual"), "expected")


def check(spark, fn, cases, in_ddl="v string", out_type="string"):
    """Builds the frame, applies fn, compares (one Spark job)."""
    check_all(spark, [(fn, cases, in_ddl, out_type)])


def check_all(spark, groups):
    """Several ``(fn, cases, in_ddl, out_type)`` groups compared in one Spark job: each group
    is applied on its own frame, and the frames are unioned before one chispa comparison."""
    out = reduce(DataFrame.unionByName, [applied(spark, *g) for g in groups])
    assert_column_equality(out, "actual", "expected")


def fmt(col):
    return F.date_format(col, "yyyy-MM-dd HH:mm:ss")


def test_parse_timestamp_each_format_and_garbage(spark):
    formats = ["M/d/yy H:mm", "M/d/yy H:mm:ss", "MM/dd/yyyy HH:mm", "dd/MM/yyyy HH:mm:ss", "M/d/yyyy"]
    cases = [
        (("9/30/19 0:08",), "2019-09-30 00:08:00"),         # 2-digit year, no leading zeros
        (("09/30/19 00:08",), "2019-09-30 00:08:00"),       # same with leading zeros
        (("9/30/19 0:08:59",), "2019-09-30 00:08:59"),      # with seconds
        (("10/01/2019 14:08",), "2019-10-01 14:08:00"),     # 4-digit year
        (("  10/01/2019   14:08 ",), "2019-10-01 14:08:00"),  # stray spaces
        (("31/12/2019 23:59:59",), "2019-12-31 23:59:59"),
        (("2/29/2020",), "2020-02-29 00:00:00"),            # leap day
        (("2/29/2019",), None),                             # 2019 is not a leap year
        (("1/1/00 0:00",), "2000-01-01 00:00:00"),          # yy reads 2000..2099
        (("12/31/99 23:59",), "2099-12-31 23:59:00"),
        (("13/45/2019",), None),
        (("garbage",), None),
        (("",), None),
        ((None,), None),
    ]
    check(spark, lambda c: fmt(sf.parse_timestamp(c, formats)), cases)


def test_parse_timestamp_order_decides_ambiguous_values(spark):
    check_all(spark, [
        (lambda c: fmt(sf.parse_timestamp(c, ["MM/dd/yyyy", "dd/MM/yyyy"])), [(("01/08/2019",), "2019-01-08 00:00:00")]),
        (lambda c: fmt(sf.parse_timestamp(c, ["dd/MM/yyyy", "MM/dd/yyyy"])), [(("01/08/2019",), "2019-08-01 00:00:00")]),
    ])


def test_parse_timestamp_with_time_column(spark):
    cases = [
        (("01/08/2019", "08:15:27"), "2019-01-08 08:15:27"),
        (("01/08/2019", "8:15"), "2019-01-08 08:15:00"),
        ((" 1/8/2019 ", " 00:00:00 "), "2019-01-08 00:00:00"),
        (("01/08/2019", None), "2019-01-08 00:00:00"),   # no time: the date alone
        (("01/08/2019", "25:00:00"), None),              # unreadable time never becomes midnight
        ((None, "08:15:27"), None),
    ]
    check(spark, lambda d, t: fmt(sf.parse_timestamp(d, ["M/d/yyyy"], time=t)), cases, "d string, t string")


def test_parse_timestamp_uses_session_time_zone(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "America/Sao_Paulo"
    # 2019-01-08 08:15:27 in São Paulo (UTC-2 in January 2019 summer time) = 10:15:27 UTC.
    cases = [(("01/08/2019 08:15:27",), 1546942527)]
    check(spark, lambda c: F.unix_seconds(sf.parse_timestamp(c, ["MM/dd/yyyy HH:mm:ss"])), cases, out_type="long")


def test_parse_timestamp_needs_formats():
    with pytest.raises(ValueError):
        sf.parse_timestamp(F.col("x"), [])


def test_parse_date(spark):
    import datetime as dt
    cases = [
        (("29/02/2020",), dt.date(2020, 2, 29)),
        (("29/02/2019",), None),
        (("2019-12-31",), dt.date(2019, 12, 31)),
        (("x",), None),
        ((None,), None),
    ]
    check(spark, lambda c: sf.parse_date(c, ["dd/MM/yyyy", "yyyy-MM-dd"]), cases, out_type="date")


def test_parse_duration_seconds(spark):
    cases = [
        (("00:00:00",), 0),
        (("00:02:31",), 151),
        (("0:01:44",), 104),           # H:MM:SS
        (("38:00:00",), 136800),       # more than 24 hours
        (("99:59:59",), 359999),
        (("100:00:00",), 360000),
        (("02:31",), 151),             # MM:SS
        ((" 00:00:09 ",), 9),
        (("00:60:00",), None),
        (("00:00:60",), None),
        (("1:2:3",), None),
        (("abc",), None),
        (("",), None),
        ((None,), None),
    ]
    check(spark, sf.parse_duration_seconds, cases, out_type="long")


def test_parse_boolean(spark):
    cases = [
        (("Sim",), True), (("sim",), True), ((" S ",), True), (("true",), True), (("TRUE",), True), (("1",), True),
        (("Não",), False), (("NÃO",), False), (("Nao",), False), (("n",), False), (("false",), False), (("0",), False),
        (("talvez",), None), (("",), None), ((None,), None), (("2",), None),
    ]
    check(spark, sf.parse_boolean, cases, out_type="boolean")


EMAIL_CASES = [
    ("paulorodrigues@email.com", "paulorodrigues@email.com", None),
    ("  Paulo.Rodrigues@Email.COM ", "paulo.rodrigues@email.com", None),
    ("a+tag@sub.domain.com.br", "a+tag@sub.domain.com.br", None),
    ("paulo.email.com", None, "missing @"),
    ("a@b@c.com", None, "more than one @"),
    ("paulo rodrigues@email.com", None, "contains spaces"),
    ("paulo@email", None, "invalid format"),
    ("paulo..r@email.com", None, "invalid format"),
    ("   ", None, "empty"),
    (None, None, None),
]


def test_normalize_email(spark):
    check(spark, sf.normalize_email, [((v,), e) for v, e, _ in EMAIL_CASES])


def test_email_problem(spark):
    check(spark, sf.email_problem, [((v,), p) for v, _, p in EMAIL_CASES])


def test_to_e164_phone(spark):
    cases = [
        (("71", "7199999999"), "+557199999999"),     # URA: number already holds the DDD
        (("71", "71999999999"), "+5571999999999"),   # 11 digits (mobile with 9)
        (("71.0", "7199999999.0"), "+557199999999"),  # numbers read as decimals
        (("71", "99999999"), "+557199999999"),       # 8 digits: DDD prepended
        (("071", "999999999"), "+5571999999999"),    # trunk zero dropped
        ((None, "(71) 9999-9999"), "+557199999999"),
        (("71", "5571999999999"), "+5571999999999"),  # already with the country code
        (("71", "123"), None),
        ((None, "99999999"), None),                  # no DDD for a local number
        (("71", None), None),
        (("71", "abc"), None),
    ]
    check(spark, sf.to_e164_phone, cases, "ddd string, n string")


def test_clean_text_and_name(spark):
    """Default: trimmed only (line breaks and inner runs are content); collapse and
    single_line only when the column asks for it."""
    trim = [
        (("  Dúvidas   Gerais ",), "Dúvidas   Gerais"),
        (("Estorno\r\nlinha 2",), "Estorno\r\nlinha 2"),
        (("\n\t a\nb \u00a0\r\n",), "a\nb"),                # edges: any whitespace, NBSP included
        (("Antônia\u00a0 Souza",), "Antônia\u00a0 Souza"),
        (("Embarque|Desembarque",), "Embarque|Desembarque"),
        (("   ",), None),
        (("\r\n",), None),
        (("",), None),
        ((None,), None),
    ]
    collapse = [
        (("  Dúvidas   Gerais ",), "Dúvidas Gerais"),
        (("Antônia\u00a0 Souza",), "Antônia Souza"),
        (("linha  1\r\nlinha\t\t2\n\nfim",), "linha 1\r\nlinha 2\n\nfim"),  # line breaks kept
        (("   ",), None),
        ((None,), None),
    ]
    single_line = [
        (("  Dúvidas   Gerais ",), "Dúvidas Gerais"),
        (("Antônia\u00a0 Souza",), "Antônia Souza"),
        (("a\tb\nc",), "a b c"),
        (("linha 1 \r\n linha 2",), "linha 1 linha 2"),
        (("paulo da  Silva",), "paulo da Silva"),
        (("   ",), None),
        ((None,), None),
    ]
    check_all(spark, [
        (sf.clean_text, trim),
        (sf.clean_name, trim),
        (lambda c: sf.clean_text(c, "collapse"), collapse),
        (lambda c: sf.clean_name(c, "collapse"), collapse),
        (lambda c: sf.clean_text(c, "single_line"), single_line),
        (lambda c: sf.clean_name(c, "single_line"), single_line),
    ])


def test_parse_timestamp_naive_keeps_daylight_saving_gap_and_overlap(spark):
    """São Paulo skipped 00:00-01:00 on 2018-11-04 and repeated 23:00-24:00 on 2019-02-16:
    a naive value is read in no zone and stays exactly as written."""
    spark.conf.set("spark.sql.session.timeZone", "America/Sao_Paulo")
    formats = ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd"]
    cases = [
        (("2018-11-04 00:23:54",), "2018-11-04 00:23:54"),       # in the gap
        (("2019-02-16 23:30:00",), "2019-02-16 23:30:00"),       # in the overlap
        ((" 2018-11-04  00:00:00.000 ",), "2018-11-04 00:00:00"),  # stray spaces, millis
        (("2018-11-04",), "2018-11-04 00:00:00"),                # a midnight that never happened
        (("2019-02-29 10:00:00",), None),
        (("garbage",), None),
        ((None,), None),
    ]
    check(spark, lambda c: sf.parse_timestamp(c, formats, naive=True).cast("string"), cases)
    df = spark.createDataFrame([("2018-11-04 00:23:54",)], "v string")
    assert dict(df.select(sf.parse_timestamp(F.col("v"), formats, naive=True).alias("t")).dtypes)["t"] == "timestamp_ntz"


def test_to_decimal_is_exact(spark):
    cases = [
        (("1234.56",), Decimal("1234.56")),
        (("1.234,56",), Decimal("1234.56")),
        (("1234,5",), Decimal("1234.50")),
        (("0.1",), Decimal("0.10")),
        ((" -0.01 ",), Decimal("-0.01")),
        (("99999999.99",), Decimal("99999999.99")),
        (("100000000.00",), None),   # exceeds decimal(10,2)
        (("abc",), None),
        ((None,), None),
    ]
    check(spark, lambda c: sf.to_decimal(c, 10, 2), cases, out_type="decimal(10,2)")


def test_to_decimal_from_decimal_column(spark):
    cases = [((Decimal("12345678.91"),), Decimal("12345678.91")), ((None,), None)]
    check(spark, lambda c: sf.to_decimal(c, 10, 2), cases, "v decimal(10,2)", "decimal(10,2)")


def test_digits_only(spark):
    cases = [(("4111 1111-1111 1111",), "4111111111111111"), (("abc",), None), ((None,), None), (("007",), "007")]
    check_all(spark, [(sf.digits_only, cases), (sf.digits_only, [((4111111111111111,), "4111111111111111")], "v long")])


def test_weekday_matches(spark):
    # 2019-01-08 is a Tuesday; 2019-08-01 a Thursday; 2019-10-06 a Sunday.
    cases = [
        (("2019-01-08", "Tuesday"), True), (("2019-01-08", " terça-feira "), True), (("2019-01-08", "Ter"), True),
        (("2019-08-01", "Tuesday"), False), (("2019-10-06", "domingo"), True), (("2019-10-06", "Sunday"), True),
        (("2019-01-08", "Blursday"), None), ((None, "Tuesday"), None),
    ]
    iso = [(("2019-06-10", "1"), True), (("2019-10-06", "7"), True), (("2019-10-06", "1"), False), (("2019-10-06", "8"), None)]
    sun = [(("2019-10-06", "1"), True), (("2019-06-10", "2"), True), (("2019-06-10", "1"), False)]
    check_all(spark, [
        (lambda d, w, style=style: sf.weekday_matches(F.to_date(d), w, style), rows, "d string, w string", "boolean")
        for style, rows in (("name", cases), ("iso", iso), ("sunday1", sun))
    ])


@pytest.mark.parametrize("raw, expected", [
    ("Data da conversa (Inicio)", "data_da_conversa_inicio"),
    ("Fim da conversa (finalizado?)", "fim_da_conversa_finalizado"),
    ("Horário", "horario"),
    ("E-mail", "e_mail"),
    ("Data/Hora de abertura", "data_hora_de_abertura"),
    ("Feedback_Average", "feedback_average"),
    ("FeedbackAverage", "feedback_average"),
    ("Sub Classificação", "sub_classificacao"),
])
def test_snake_case(raw, expected):
    assert sf.snake_case(raw) == expected
