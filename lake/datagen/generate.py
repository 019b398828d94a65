"""One call that fills a landing folder and the cooperative database with sample data.

Used by ``lake generate`` and ``lake demo``: the four channel files
(:func:`lake.datagen.channels.generate_channel_files`) and the cooperative's tables loaded
into SQLite, PostgreSQL or MariaDB (:mod:`lake.datagen.dbload`), both relative to one
reference time so "the last 24 hours" holds data in both.

Example:
    >>> from lake.datagen import generate
    >>> manifest = generate(landing_dir="data/landing",
    ...                     database_url="jdbc:sqlite:data/cooperative.db",
    ...                     interactions=DEMO_INTERACTIONS, transactions=DEMO_TRANSACTIONS)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime

from lake.datagen.channels import generate_channel_files
from lake.datagen.common import TIMEZONE, resolve_now
from lake.datagen.cooperative import _movimento_blocks, _plan, _rechunk, _write_sqlite
from lake.redaction import redact

log = logging.getLogger(__name__)

DEMO_INTERACTIONS = 4_000
DEMO_TRANSACTIONS = 5_000
#: Dirty-data shares used when ``realism`` is on (each can be overridden by its argument).
REALISM = {"malformed_share": 0.01, "duplicate_share": 0.01, "orphan_share": 0.005, "mismatch_share": 0.01}


def generate(
    *,
    landing_dir: str | os.PathLike | None,
    database_url: str | None,
    interactions: int = DEMO_INTERACTIONS,
    transactions: int = DEMO_TRANSACTIONS,
    seed: int = 42,
    now: datetime | None = None,
    realism: bool = True,
    json_shape: str = "lines",
    files_per_channel: int = 1,
    members: int | None = None,
    malformed_share: float | None = None,
    duplicate_share: float | None = None,
    orphan_share: float | None = None,
    mismatch_share: float | None = None,
    user: str | None = None,
    password: str | None = None,
    strict: bool = False,
    chunk_rows: int = 500_000,
) -> dict:
    """Write the channel files and load the cooperative database.

    Args:
        landing_dir: folder for the channel files; None skips them.
        database_url: JDBC URL of the cooperative database (``jdbc:sqlite:path``,
            ``jdbc:postgresql://...``, ``jdbc:mariadb://...``); None skips it.
        interactions: channel records in total (see ``generate_channel_files``).
        transactions: rows of ``movimento``.
        seed: same seed and arguments, same data.
        now: reference time; default the current time in America/Sao_Paulo.
        realism: dirty data on (format variants, e-mail noise, and the shares of
            :data:`REALISM`); False writes clean data.
        json_shape: ``lines`` (fast, the default at scale) or ``array`` (as the real files;
            JSON channels then carry no malformed records).
        files_per_channel: files per channel.
        members: cooperative members (default one per 200 transactions).
        malformed_share, duplicate_share, orphan_share, mismatch_share: override the
            realism shares.
        user, password: database credentials (default from ``LAKE_JDBC_USER`` /
            ``LAKE_JDBC_PASSWORD`` in dbload); never logged.
        strict: load the strict schema (constraints) instead of the relaxed one; dirty
            cooperative rows are then refused by PostgreSQL and MariaDB.
        chunk_rows: rows held in memory at a time.

    Returns:
        ``{"now", "timezone", "seed", "channels": <channel manifest or None>,
        "cooperative": {"url", "rows", "orphans", "mismatched_cards", "members"} or None,
        "seconds": {"channels", "cooperative"}}``.
    """
    shares = {key: (value if realism else 0.0) for key, value in REALISM.items()}
    for key, value in (
        ("malformed_share", malformed_share),
        ("duplicate_share", duplicate_share),
        ("orphan_share", orphan_share),
        ("mismatch_share", mismatch_share),
    ):
        if value is not None:
            shares[key] = value
    wall = resolve_now(now)
    manifest: dict = {
        "now": wall.isoformat(sep=" "),
        "timezone": TIMEZONE,
        "seed": seed,
        "channels": None,
        "cooperative": None,
        "seconds": {},
    }

    if landing_dir is not None:
        started = time.perf_counter()
        manifest["channels"] = generate_channel_files(
            landing_dir,
            interactions=interactions,
            seed=seed,
            now=wall,
            malformed_share=shares["malformed_share"],
            duplicate_share=shares["duplicate_share"],
            noise=realism,
            json_shape=json_shape,
            files_per_channel=files_per_channel,
            chunk_rows=min(chunk_rows, 250_000),
        )
        manifest["seconds"]["channels"] = round(time.perf_counter() - started, 3)
        log.info("channel files written to %s in %.1f s", landing_dir, manifest["seconds"]["channels"])

    if database_url is not None:
        started = time.perf_counter()
        plan = _plan(
            transactions=transactions,
            seed=seed,
            members=members,
            orphan_share=shares["orphan_share"],
            mismatch_share=shares["mismatch_share"],
            now=wall,
        )
        rows = _load_database(
            plan, database_url, user=user, password=password, strict=strict, chunk_rows=chunk_rows
        )
        manifest["cooperative"] = {
            "url": redact(database_url),
            "rows": rows,
            "members": len(plan.associado),
            "orphans": round(transactions * shares["orphan_share"]),
            "mismatched_cards": round(len(plan.cartao) * shares["mismatch_share"]),
        }
        manifest["seconds"]["cooperative"] = round(time.perf_counter() - started, 3)
        log.info(
            "cooperative database %s loaded in %.1f s: %s",
            redact(database_url),
            manifest["seconds"]["cooperative"],
            rows,
        )
    return manifest


def _load_database(plan, url: str, *, user, password, strict: bool, chunk_rows: int) -> dict[str, int]:
    """SQLite: the chunked direct path. Others: dbload for the schema and the first chunk,
    then ``append_rows`` per chunk, so memory stays bounded."""
    from lake.datagen import dbload

    target = dbload.parse_jdbc_url(url)
    if target.dialect == "sqlite":
        return _write_sqlite(plan, target.database, chunk_rows=chunk_rows, replace=True, strict=strict)
    chunks = _rechunk(_movimento_blocks(plan), max(1, chunk_rows))
    first = next(chunks, None)
    tables = {"associado": plan.associado, "conta": plan.conta, "cartao": plan.cartao}
    if first is not None:
        tables["movimento"] = first
    rows = dbload.load_cooperative(url, tables, user=user, password=password, strict=strict, replace=True)
    rows.setdefault("movimento", 0)
    for chunk in chunks:
        rows["movimento"] += dbload.append_rows(url, "movimento", chunk, user=user, password=password)
    return rows
