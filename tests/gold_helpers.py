"""Inline silver tables for the gold tests (shapes of docs/contracts.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from lake import delta_io
from lake.config import load_config

TZ = "America/Sao_Paulo"
SP = ZoneInfo(TZ)

#: The committed configuration's channels (what a pipeline run passes to gold).
CHANNELS = tuple(load_config(Path(__file__).resolve().parents[1] / "conf" / "lake.yml").channels.values())

INTERACTIONS_SCHEMA = (
    "interaction_id string, channel string, customer_email string, customer_name string, "
    "started_at timestamp, ended_at timestamp, wait_seconds long, handle_seconds long, "
    "total_seconds long, agent string, answered boolean, classification string, "
    "sub_classification string, feedback_score int, feedback_comment string, phone string, "
    "state string, _source_table string, _source_file string, _run_id string"
)


def t(text: str | None) -> dt.datetime | None:
    """'yyyy-MM-dd HH:mm:ss' read in the source zone -> aware datetime."""
    if text is None:
        return None
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SP)


def fmt(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(SP).strftime("%Y-%m-%d %H:%M:%S")


def interaction(iid, channel, email, started, ended=None, *, name=None, agent=None, phone=None, state=None, **kw):
    """One silver interaction row as a dict (times as 'yyyy-MM-dd HH:mm:ss' in SP)."""
    return {
        "interaction_id": iid, "channel": channel, "customer_email": email, "customer_name": name,
        "started_at": t(started), "ended_at": t(ended), "wait_seconds": kw.get("wait"),
        "handle_seconds": kw.get("handle"), "total_seconds": kw.get("total"), "agent": agent,
        "answered": kw.get("answered"), "classification": kw.get("classification"),
        "sub_classification": None, "feedback_score": kw.get("score"), "feedback_comment": None,
        "phone": phone, "state": state, "_source_table": channel, "_source_file": None, "_run_id": "r1",
    }


def write_interactions(spark, paths, rows, *, mode="overwrite"):
    cols = [c.split()[0] for c in INTERACTIONS_SCHEMA.split(", ")]
    df = spark.createDataFrame([tuple(r[c] for c in cols) for r in rows], INTERACTIONS_SCHEMA)
    if mode == "overwrite":
        delta_io.overwrite(spark, df, paths.silver("interactions"))
    else:
        delta_io.append(spark, df, paths.silver("interactions"))
    return df


def norm_email(e):
    import re

    if e is None:
        return None
    e = e.strip().lower()
    return e if re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", e) else None
