"""Vectorized text rendering for generated rows: dates, durations, JSON and CSV tokens.

Every function takes numpy arrays and returns numpy object arrays of ``str``. Nothing loops
in Python per row: dates are rendered once per distinct day and once per second (or minute)
of the day into small tables, then picked by integer indexing and joined with numpy's
element-wise ``+`` on object arrays.

Timestamps are ``int64`` seconds since 1970-01-01 on the local wall clock (no zone).

Example:
    >>> import numpy as np
    >>> from lake.datagen.textfmt import format_datetimes
    >>> secs = np.array([1569802080])  # 2019-09-30 00:08:00
    >>> format_datetimes(secs, "M/d/yy H:mm").tolist()
    ['9/30/19 0:08']
"""

from __future__ import annotations

import re
from functools import lru_cache
from json.encoder import encode_basestring  # what json.dumps(ensure_ascii=False) uses

import numpy as np

DAY = 86_400
_PAD2 = np.array([f"{i:02d}" for i in range(100)], dtype=object)
_NOPAD = np.array([str(i) for i in range(100)], dtype=object)
_TOKEN_RE = re.compile(r"yyyy|yy|MM|M|dd|d|HH|H|mm|ss|[^yMdHms]+")
WEEKDAY_NAMES = np.array(
    ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"], dtype=object
)


def _render(pattern: str, n: int, fields: dict[str, np.ndarray]) -> np.ndarray:
    """Render ``pattern`` from integer component arrays (``y, M, d, H, m, s``)."""
    out: np.ndarray | None = None
    for tok in _TOKEN_RE.findall(pattern):
        if tok == "yyyy":
            part = fields["y"].astype(str).astype(object)
        elif tok == "yy":
            part = _PAD2[fields["y"] % 100]
        elif tok == "MM":
            part = _PAD2[fields["M"]]
        elif tok == "M":
            part = _NOPAD[fields["M"]]
        elif tok == "dd":
            part = _PAD2[fields["d"]]
        elif tok == "d":
            part = _NOPAD[fields["d"]]
        elif tok == "HH":
            part = _PAD2[fields["H"]]
        elif tok == "H":
            part = _NOPAD[fields["H"]]
        elif tok == "mm":
            part = _PAD2[fields["m"]]
        elif tok == "ss":
            part = _PAD2[fields["s"]]
        else:
            part = np.full(n, tok, dtype=object)
        out = part if out is None else out + part
    assert out is not None
    return out


def _split_pattern(pattern: str) -> tuple[str, str, str]:
    """``"M/d/yy H:mm" -> ("M/d/yy", " ", "H:mm")``; either side may be empty."""
    match = re.match(r"^([yMd/.\-]*)(\s*)([Hms:]*)$", pattern)
    if not match:
        raise ValueError(f"unsupported date pattern {pattern!r}")
    return match.group(1), match.group(2), match.group(3)


@lru_cache(maxsize=64)
def _time_table(pattern: str) -> tuple[np.ndarray, int]:
    """All renderings of a time pattern, and the unit (1 s or 60 s) that indexes them."""
    unit = 1 if "s" in pattern else 60
    sod = np.arange(0, DAY, unit)
    fields = {"H": sod // 3600, "m": (sod // 60) % 60, "s": sod % 60}
    return _render(pattern, len(sod), fields), unit


def civil_fields(days: np.ndarray) -> dict[str, np.ndarray]:
    """Year, month and day of days since the epoch."""
    d = days.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    return {
        "y": d.astype("datetime64[Y]").astype(np.int64) + 1970,
        "M": month_start.astype(np.int64) % 12 + 1,
        "d": (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1,
    }


def format_datetimes(secs: np.ndarray, pattern: str) -> np.ndarray:
    """Render epoch seconds with a Spark-style pattern (tokens ``yyyy yy MM M dd d HH H mm ss``)."""
    secs = np.asarray(secs, dtype=np.int64)
    n = len(secs)
    if n == 0:
        return np.empty(0, dtype=object)
    date_pat, sep, time_pat = _split_pattern(pattern)
    days = secs // DAY
    out: np.ndarray | None = None
    if date_pat:
        first = int(days.min())
        table_days = np.arange(first, int(days.max()) + 1)
        table = _render(date_pat, len(table_days), civil_fields(table_days))
        out = table[days - first]
    if time_pat:
        table, unit = _time_table(time_pat)
        times = table[(secs - days * DAY) // unit]
        out = times if out is None else out + sep + times
    assert out is not None
    return out


def iso_weekday(secs: np.ndarray) -> np.ndarray:
    """ISO weekday numbers (1 = Monday) of epoch seconds, as int64."""
    return (np.asarray(secs, dtype=np.int64) // DAY + 3) % 7 + 1


def weekday_names(secs: np.ndarray) -> np.ndarray:
    """English weekday names (``"Tuesday"``) of epoch seconds."""
    return WEEKDAY_NAMES[iso_weekday(secs) - 1]


@lru_cache(maxsize=1)
def _mmss() -> np.ndarray:
    s = np.arange(3600)
    return ":" + _PAD2[s // 60] + ":" + _PAD2[s % 60]


def format_durations(secs: np.ndarray) -> np.ndarray:
    """``HH:MM:SS`` strings; hours go past 24 (``38:00:00``)."""
    secs = np.asarray(secs, dtype=np.int64)
    if len(secs) == 0:
        return np.empty(0, dtype=object)
    hours = secs // 3600
    hours_table = np.array([f"{h:02d}" for h in range(int(hours.max()) + 1)], dtype=object)
    return hours_table[hours] + _mmss()[secs % 3600]


def ints_to_str(values: np.ndarray) -> np.ndarray:
    """Integers as decimal strings (object array)."""
    return np.asarray(values).astype(np.int64).astype(str).astype(object)


def json_tokens(values) -> np.ndarray:
    """JSON literals of a small pool of strings (``None`` -> ``null``); call once per pool."""
    return np.array(["null" if v is None else encode_basestring(v) for v in values], dtype=object)


def csv_field(value: str | None) -> str:
    """One RFC 4180 field: quoted only when it holds a delimiter, quote or line break."""
    if value is None:
        return ""
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_tokens(values) -> np.ndarray:
    """RFC 4180 fields of a small pool of strings; call once per pool."""
    return np.array([csv_field(v) for v in values], dtype=object)


def record_pieces(tokens: list[np.ndarray], literals: list[str], end: str) -> np.ndarray:
    """A ``(rows, 2 * columns + 1)`` object array ``lit0 tok0 lit1 tok1 ... end`` per row.

    Joining the whole array with ``"".join(pieces.ravel().tolist())`` renders the records in
    time linear in the bytes (growing each record by ``+`` would copy it once per column).
    Rows can be reordered or repeated by fancy indexing, and single pieces edited in place.
    """
    n = len(tokens[0])
    pieces = np.empty((n, 2 * len(tokens) + 1), dtype=object)
    for j, (lit, tok) in enumerate(zip(literals, tokens)):
        pieces[:, 2 * j] = lit
        pieces[:, 2 * j + 1] = tok
    pieces[:, -1] = end
    return pieces


def json_literals(keys: list[str], *, pretty: bool, indent: str = "") -> tuple[list[str], str]:
    """Literals around the values of a JSON object with ``keys``, and the closing text.

    ``pretty`` gives the multi-line layout of the real files, each line prefixed by ``indent``.
    """
    names = [encode_basestring(k) + ": " for k in keys]
    if pretty:
        inner = "\n" + indent + "  "
        return ([indent + "{" + inner + names[0]] + ["," + inner + n for n in names[1:]], "\n" + indent + "}")
    return ["{" + names[0]] + [", " + n for n in names[1:]], "}"


def csv_literals(columns: int, delimiter: str = ",") -> list[str]:
    """Literals before each CSV field: nothing, then the delimiter."""
    return [""] + [delimiter] * (columns - 1)
