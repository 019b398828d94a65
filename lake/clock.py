"""The one clock of the lake's bookkeeping: ``now()``, which a test (or an operator) can inject.

Every timestamp the lake writes for its own records (``_ingested_at``, run ids, ingest log,
watermarks, consumer versions, runs) comes from :func:`now`. None of them decides what is
new: progress is recorded as Delta versions (:mod:`lake.ledger`), so a frozen clock or a
clock set back between two runs skips nothing.

``LAKE_CLOCK`` (read at every call, so a subprocess inherits it) injects the clock:

- ``2026-01-01T00:00:00Z`` (any ISO-8601 instant; no zone means UTC): frozen at that instant;
- ``+3600s`` / ``-3600s`` (also ``m``, ``h``, ``d``): the machine's UTC clock shifted.

Example:
    LAKE_CLOCK=-3600s lake run     # a driver whose clock is an hour behind
"""

from __future__ import annotations

import datetime as _dt
import os
import re

from lake.errors import ConfigError

ENV = "LAKE_CLOCK"

_OFFSET = re.compile(r"^([+-])(\d+(?:\.\d+)?)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse(spec: str) -> _dt.datetime | _dt.timedelta:
    """``spec`` as a frozen instant (UTC-aware datetime) or an offset (timedelta).

    Example:
        >>> parse("-3600s")
        datetime.timedelta(days=-1, seconds=82800)
    """
    text = spec.strip()
    m = _OFFSET.match(text)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        return _dt.timedelta(seconds=sign * float(m.group(2)) * _UNIT_S[m.group(3)])
    try:
        instant = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            ENV,
            "",
            f"expected an ISO-8601 instant (2026-01-01T00:00:00Z) or an offset (+3600s, -1h), found {spec!r}",
        ) from exc
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=_dt.timezone.utc)
    return instant.astimezone(_dt.timezone.utc)


def now() -> _dt.datetime:
    """The current UTC instant (timezone-aware), as ``LAKE_CLOCK`` injects it."""
    spec = os.environ.get(ENV)
    real = _dt.datetime.now(_dt.timezone.utc)
    if not spec:
        return real
    value = parse(spec)
    if isinstance(value, _dt.timedelta):
        return real + value
    return value
