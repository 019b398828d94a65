"""``Column -> Column`` standardizers used by silver, importable on their own.

Every function here is built from native Spark SQL functions only (no Python UDF) and is
safe under ANSI mode: a value that cannot be read becomes null, it never raises.

Time zone: strings without an offset are read as wall-clock times of the Spark session
time zone (``spark.sql.session.timeZone``). The pipeline sets it to the config's
``lake.timezone`` (default ``America/Sao_Paulo``), so ``"01/08/2019 08:15:27"`` is 08:15:27
in São Paulo. With ``naive=True``, :func:`parse_timestamp` returns a ``timestamp_ntz`` read
in no zone instead. Two-digit years (``yy``) fall in 2000..2099.

Text: :func:`clean_text` and :func:`clean_name` trim only, unless asked to collapse inner
whitespace (:class:`lake.config.Whitespace`); dates and times are always collapsed first.

Example:
    >>> from pyspark.sql import functions as F
    >>> from lake.silver.functions import parse_timestamp, parse_duration_seconds
    >>> df.select(parse_timestamp(F.col("data"), ["MM/dd/yyyy"], time=F.col("Horário")),
    ...           parse_duration_seconds(F.col("duracao_atendimento")))
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

from lake.config import WeekdayStyle, Whitespace

#: Time-of-day patterns tried after each date pattern when a separate time column is given.
TIME_FORMATS: tuple[str, ...] = ("H:mm:ss", "H:mm")

_SPACES = r"[\s\u00A0]+"
#: Whitespace inside a line: space, tab, vertical tab, form feed, no-break space.
_INLINE_SPACES = r"[ \t\x0B\f\u00A0]+"
_EDGES = r"^[\s\u00A0]+|[\s\u00A0]+$"

#: Conservative address check: local part of common characters, a dotted domain whose
#: last label holds letters only; no consecutive, leading or trailing dots.
EMAIL_REGEX = (
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,}$"
)


def _squash(col: Column) -> Column:
    """Trim and collapse inner runs of whitespace (including no-break spaces)."""
    return F.trim(F.regexp_replace(col.cast("string"), _SPACES, " "))


def _empty_to_null(col: Column) -> Column:
    return F.when(col == "", F.lit(None).cast("string")).otherwise(col)


def clean_text(col: Column, whitespace: Whitespace | str = Whitespace.TRIM) -> Column:
    """Free text: trimmed (spaces, tabs, line breaks, no-break spaces at either end); the
    inside kept as given unless ``whitespace`` asks otherwise; accents and case kept;
    empty -> null.

    ``whitespace``: ``trim`` (default) keeps inner whitespace and line breaks; ``collapse``
    turns each run of spaces, tabs and no-break spaces into one space and keeps line breaks;
    ``single_line`` turns every run of whitespace, line breaks included, into one space.

    Example:
        >>> df.select(clean_text(F.col("des_transacao")))  # "  Estorno\r\nlinha 2 " -> "Estorno\r\nlinha 2"
        >>> df.select(clean_text(F.col("fila_descricao"), "single_line"))  # " Dúvidas \n  Gerais" -> "Dúvidas Gerais"
    """
    mode = Whitespace(whitespace)
    text = col.cast("string")
    if mode is Whitespace.SINGLE_LINE:
        text = F.regexp_replace(text, _SPACES, " ")
    elif mode is Whitespace.COLLAPSE:
        text = F.regexp_replace(text, _INLINE_SPACES, " ")
    return _empty_to_null(F.regexp_replace(text, _EDGES, ""))


def clean_name(col: Column, whitespace: Whitespace | str = Whitespace.TRIM) -> Column:
    """A person's or place's name: like :func:`clean_text` (accents and case kept as given).

    Case is deliberately not changed: ``initcap`` would turn ``da Silva`` into ``Da Silva``.
    Whether inner blanks collapse is the column's ``whitespace`` option, set in the YAML.

    Example:
        >>> df.select(clean_name(F.col("cliente_nome"), "single_line"))  # " Paulo  Rodrigues" -> "Paulo Rodrigues"
    """
    return clean_text(col, whitespace)


def digits_only(col: Column) -> Column:
    """Keep the digits of a value (string or number); none left -> null.

    Example:
        >>> df.select(digits_only(F.col("num_cartao")))  # "4111 1111-1111 1111" -> "4111111111111111"
    """
    return _empty_to_null(F.regexp_replace(col.cast("string"), r"[^0-9]", ""))


def datetime_text(col: Column) -> Column:
    """The text of a date or time value: trimmed, inner runs of whitespace collapsed
    (stray spaces are noise in a date, never content); empty -> null."""
    return _empty_to_null(_squash(col))


def parse_timestamp(
    col: Column, formats: Sequence[str], *, time: Column | None = None, naive: bool = False
) -> Column:
    """Read a timestamp with the first of ``formats`` that matches the whole value.

    Stray spaces are trimmed and collapsed. ``M``/``d``/``H`` accept one or two digits,
    ``yy`` reads 2000..2099, ``yyyy`` needs four digits. With ``time``, the value is
    ``col`` (a date) and ``time`` joined by a space, tried with each format followed by
    ``H:mm:ss`` then ``H:mm``; a null ``time`` falls back to the date alone. Values are read
    in the session time zone (the config's ``lake.timezone``). Unreadable -> null.

    With ``naive=True`` the result is a ``timestamp_ntz``: the wall-clock value exactly as
    written, read in no zone, so a time that a daylight-saving jump skips or repeats in the
    source zone (``2018-11-04 00:23:54`` in São Paulo) stays what it says.

    Args:
        col: string column holding a date or a date-time.
        formats: ordered Spark datetime patterns, e.g. ``["M/d/yy H:mm", "M/d/yyyy H:mm"]``.
        time: optional string column holding the time of day.
        naive: return ``timestamp_ntz`` (formats must not read a zone or offset).

    Example:
        >>> df.select(parse_timestamp(F.col("data"), ["MM/dd/yyyy"], time=F.col("Horário")))
        # "01/08/2019" + "08:15:27" -> 2019-01-08 08:15:27 (America/Sao_Paulo)
    """
    formats = list(formats)
    if not formats:
        raise ValueError("parse_timestamp needs at least one format")
    text = datetime_text(col)
    date_only = _first_match(text, formats, naive)
    if time is None:
        return date_only
    clock = datetime_text(time)
    joined = F.concat_ws(" ", text, clock)
    with_time = _first_match(joined, [f"{fmt} {tfmt}" for fmt in formats for tfmt in TIME_FORMATS], naive)
    # A present but unreadable time must not silently become midnight.
    return F.when(clock.isNull(), date_only).otherwise(with_time)


def _try_parse_ntz(text: Column, fmt: str) -> Column:
    # Spark has no try_ variant of to_timestamp_ntz (which raises under ANSI): the zoned
    # try_ parse (same parser, same pattern) decides whether the text reads at all; only
    # its null/not-null is used, never its zone-dependent value.
    pattern = F.lit(fmt)
    return F.when(F.try_to_timestamp(text, pattern).isNotNull(), F.to_timestamp_ntz(text, pattern))


def _first_match(text: Column, formats: Sequence[str], naive: bool = False) -> Column:
    if naive:
        tries = [_try_parse_ntz(text, fmt) for fmt in formats]
    else:
        tries = [F.try_to_timestamp(text, F.lit(fmt)) for fmt in formats]
    return tries[0] if len(tries) == 1 else F.coalesce(*tries)


def parse_date(col: Column, formats: Sequence[str]) -> Column:
    """Read a date with the first of ``formats`` that matches; unreadable -> null.

    Example:
        >>> df.select(parse_date(F.col("d"), ["dd/MM/yyyy", "yyyy-MM-dd"]))  # "29/02/2020" -> 2020-02-29
    """
    return parse_timestamp(col, formats).cast("date")


def parse_duration_seconds(col: Column) -> Column:
    """``H:MM:SS`` / ``HH:MM:SS`` (any number of hours, e.g. ``38:00:00``) or ``MM:SS`` -> seconds.

    Minutes and seconds must be two digits below 60. Anything else -> null.

    Example:
        >>> df.select(parse_duration_seconds(F.col("duracao_total_da_chamada")))  # "00:02:31" -> 151
    """
    text = F.trim(col.cast("string"))
    hms = r"^(\d+):([0-5]\d):([0-5]\d)$"
    ms = r"^(\d{1,2}):([0-5]\d)$"

    def part(pattern: str, idx: int) -> Column:
        return F.regexp_extract(text, pattern, idx).try_cast("long")

    return (
        F.when(text.rlike(hms), part(hms, 1) * 3600 + part(hms, 2) * 60 + part(hms, 3))
        .when(text.rlike(ms), part(ms, 1) * 60 + part(ms, 2))
        .otherwise(F.lit(None).cast("long"))
    )


_TRUE = ("sim", "s", "true", "1")
_FALSE = ("nao", "n", "false", "0")


def parse_boolean(col: Column) -> Column:
    """``Sim``/``S``/``true``/``1`` -> true, ``Não``/``Nao``/``N``/``false``/``0`` -> false, else null.

    Case, surrounding spaces and the tilde of ``Não`` are ignored.

    Example:
        >>> df.select(parse_boolean(F.col("Atendido")))  # " NÃO " -> false
    """
    text = F.translate(F.lower(F.trim(col.cast("string"))), "ãâáà", "aaaa")
    return (
        F.when(text.isin(*_TRUE), F.lit(True))
        .when(text.isin(*_FALSE), F.lit(False))
        .otherwise(F.lit(None).cast("boolean"))
    )


def normalize_email(col: Column) -> Column:
    """Trim and lower-case an e-mail address; an invalid one becomes null.

    See :func:`email_problem` for the reason a value was rejected.

    Example:
        >>> df.select(normalize_email(F.col("email")))  # " Paulo@Email.COM " -> "paulo@email.com"
    """
    text = F.lower(F.trim(col.cast("string")))
    return F.when(text.rlike(EMAIL_REGEX), text).otherwise(F.lit(None).cast("string"))


def email_problem(col: Column) -> Column:
    """Why :func:`normalize_email` rejects a value (``empty``, ``missing @``, ...), else null.

    A null input has no problem (null): absence is a completeness rule, not a format one.

    Example:
        >>> df.select(email_problem(F.col("email")))  # "paulo.email.com" -> "missing @"
    """
    text = F.lower(F.trim(col.cast("string")))
    return (
        F.when(text.isNull(), F.lit(None).cast("string"))
        .when(text == "", F.lit("empty"))
        .when(text.rlike(EMAIL_REGEX), F.lit(None).cast("string"))
        .when(~text.contains("@"), F.lit("missing @"))
        .when(F.size(F.split(text, "@")) > 2, F.lit("more than one @"))
        .when(text.rlike(r"\s"), F.lit("contains spaces"))
        .otherwise(F.lit("invalid format"))
    )


def _number_text(col: Column) -> Column:
    # JSON numbers can arrive as "7199999999" or "71.0"; drop a zero fraction, keep digits.
    return digits_only(F.regexp_replace(F.trim(col.cast("string")), r"\.0+$", ""))


def to_e164_phone(ddd: Column | None, number: Column) -> Column:
    """Brazilian area code (DDD) + number -> E.164 (``+55`` + DDD + number); unreadable -> null.

    The URA file's number already includes the DDD (DDD 71, number 7199999999): a 10 or 11
    digit number is taken as DDD + subscriber number; an 8 or 9 digit number gets the DDD
    prepended; a 12 or 13 digit number starting with 55 already has the country code.
    Leading zeros (trunk prefix) are dropped.

    Example:
        >>> df.select(to_e164_phone(F.col("DDD"), F.col("telefone")))  # 71, 7199999999 -> "+557199999999"
    """
    num = F.regexp_replace(_number_text(number), r"^0+", "")
    area = F.regexp_replace(_number_text(ddd), r"^0+", "") if ddd is not None else F.lit(None).cast("string")
    n = F.length(num)
    return (
        F.when(n.isin(10, 11), F.concat(F.lit("+55"), num))
        .when(n.isin(8, 9) & (F.length(area) == 2), F.concat(F.lit("+55"), area, num))
        .when(n.isin(12, 13) & num.startswith("55"), F.concat(F.lit("+"), num))
        .otherwise(F.lit(None).cast("string"))
    )


def to_decimal(col: Column, precision: int, scale: int) -> Column:
    """An exact decimal(precision, scale), read from text or numbers without passing a float.

    ``"1.234,56"`` (pt-BR) and ``"1234,56"`` are accepted as well as ``"1234.56"``; extra
    fraction digits are rounded half-up by the decimal cast. Unreadable or too large -> null.

    Example:
        >>> df.select(to_decimal(F.col("vlr_transacao"), 10, 2))  # "1.234,56" -> Decimal("1234.56")
    """
    text = F.regexp_replace(F.trim(col.cast("string")), r"\s", "")
    both = text.contains(",") & text.contains(".")
    normalized = (
        F.when(both, F.regexp_replace(F.regexp_replace(text, r"\.", ""), ",", "."))
        .when(text.contains(","), F.regexp_replace(text, ",", "."))
        .otherwise(text)
    )
    return normalized.try_cast(f"decimal({precision},{scale})")


_PT_WEEKDAYS = {
    "segunda": 1,
    "terca": 2,
    "quarta": 3,
    "quinta": 4,
    "sexta": 5,
    "sabado": 6,
    "domingo": 7,
    "seg": 1,
    "ter": 2,
    "qua": 3,
    "qui": 4,
    "sex": 5,
    "sab": 6,
    "dom": 7,
}
_EN_WEEKDAYS = {
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
    "sunday": 7,
    "mon": 1,
    "tue": 2,
    "wed": 3,
    "thu": 4,
    "fri": 5,
    "sat": 6,
    "sun": 7,
}


def iso_weekday(ts: Column) -> Column:
    """ISO day of week of a timestamp or date: 1 = Monday .. 7 = Sunday.

    Example:
        >>> df.select(iso_weekday(F.col("started_at")))  # 2019-01-08 -> 2 (Tuesday)
    """
    return ((F.dayofweek(ts) + 5) % 7) + 1


def weekday_number(col: Column, style: WeekdayStyle | str) -> Column:
    """A weekday label -> ISO number (1 = Monday), or null when it cannot be read.

    ``name``: English or Portuguese (``Tuesday``, ``terça-feira``, ``Ter``), any case.
    ``iso``: 1 = Monday .. 7 = Sunday. ``sunday1``: 1 = Sunday .. 7 = Saturday.

    Example:
        >>> df.select(weekday_number(F.col("Semana"), "name"))  # "Tuesday" -> 2
    """
    style = WeekdayStyle(style)
    text = F.lower(F.trim(col.cast("string")))
    if style == WeekdayStyle.NAME:
        text = F.regexp_replace(F.translate(text, "çáéíóúâêôãõ", "caeiouaeoao"), r"-?feira$", "")
        names = {**_EN_WEEKDAYS, **_PT_WEEKDAYS}
        mapping = F.create_map(*[x for k, v in names.items() for x in (F.lit(k), F.lit(v))])
        return F.try_element_at(mapping, text)
    number = F.when(text.rlike(r"^[1-7](\.0+)?$"), F.substring(text, 1, 1).cast("int"))
    if style == WeekdayStyle.ISO:
        return number
    return ((number + 5) % 7) + 1  # sunday1: 1 (Sunday) -> 7, 2 (Monday) -> 1


def weekday_matches(ts: Column, weekday_col: Column, style: WeekdayStyle | str) -> Column:
    """Whether ``ts`` falls on the weekday ``weekday_col`` states; null when either is unknown.

    Example:
        >>> df.select(weekday_matches(F.col("started_at"), F.col("Semana"), "name"))
        # 2019-01-08 + "Tuesday" -> true; 2019-08-01 + "Tuesday" -> false
    """
    return iso_weekday(ts) == weekday_number(weekday_col, style)


def snake_case(name: str) -> str:
    """A source column name -> canonical snake_case (accents dropped, symbols to ``_``).

    Example:
        >>> snake_case("Data da conversa (Início)")
        'data_da_conversa_inicio'
        >>> snake_case("Feedback_Average")
        'feedback_average'
    """
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    plain = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", plain)
    return re.sub(r"[^0-9a-zA-Z]+", "_", plain).strip("_").lower()
