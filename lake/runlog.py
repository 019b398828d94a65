"""Run ids and the per-table quality counts every run records (``{root}/_system/runs``)."""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import asdict, dataclass


def new_run_id() -> str:
    """A sortable, unique run id, e.g. ``20261125T173000-1a2b3c4d``."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{now}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class TableCounts:
    """What one run did to one table. ``rows_in == written + quarantined + dropped``."""

    table: str
    layer: str
    rows_in: int
    written: int
    quarantined: int = 0
    dropped: int = 0
    warned: int = 0

    @property
    def reconciles(self) -> bool:
        return self.rows_in == self.written + self.quarantined + self.dropped

    def as_dict(self) -> dict:
        return asdict(self)
