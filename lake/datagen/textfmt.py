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

import csv
import io
import json
import re
from functools import lru_cache

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
    return np.array(
        ["null" if v is None else json.dumps(v, ensure_ascii=False) for v in values], dtype=object
    )


def csv_field(value: str | None) -> str:
    """One RFC 4180 field: quoted only when it holds a delimiter, quote or line break."""
    if value is None:
        return ""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="", quoting=csv.QUOTE_MINIMAL).writerow([value])
    text = buf.getvalue()
    # csv quotes a lone empty string as '""'; an empty field is what a missing value looks like.
    return "" if value == "" else text


def csv_tokens(values) -> np.ndarray:
    """RFC 4180 fields of a small pool of strings; call once per pool."""
    return np.array([csv_field(v) for v in values], dtype=object)


def join_fields(parts: list[np.ndarray], *, sep: str, prefix: str = "", suffix: str = "") -> np.ndarray:
    """Element-wise ``prefix + parts[0] + sep + parts[1] + ... + suffix``."""
    out = prefix + parts[0] if prefix else parts[0]
    for part in parts[1:]:
        out = out + sep + part
    return out + suffix if suffix else out


def join_json_objects(keys: list[str], tokens: list[np.ndarray], *, pretty: bool, indent: str = "") -> np.ndarray:
    """Element-wise JSON objects from already-encoded value tokens.

    ``pretty`` gives the multi-line layout of the real files, each line prefixed by ``indent``.
    """
    names = [json.dumps(k, ensure_ascii=False) + ": " for k in keys]
    if pretty:
        inner = indent + "  "
        out = indent + "{\n" + inner + names[0] + tokens[0]
        for name, tok in zip(names[1:], tokens[1:]):
            out = out + (",\n" + inner + name) + tok
        return out + ("\n" + indent + "}")
    out = "{" + names[0] + tokens[0]
    for name, tok in zip(names[1:], tokens[1:]):
        out = out + (", " + name) + tok
    return out + "}"
