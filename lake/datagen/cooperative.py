"""The cooperative's operational database (associado, conta, cartao, movimento), seeded.

Members own several accounts, accounts carry several cards, cards carry the transactions.
Two knobs plant the referential faults the silver layer must catch: orphan transactions
(``id_cartao`` of no card) and inconsistent cards (``cartao.id_associado`` differing from its
account's member). Card numbers are 16-digit strings with a valid Luhn check digit; amounts
are exact strings with two decimal places (``"1234.50"``), never floats.

The three small tables are built whole; ``movimento`` is built in fixed seeded blocks, so
:func:`iter_movimento_chunks` streams 10 million rows in bounded memory and yields the same
rows as :func:`generate_cooperative` whatever the chunk size.

Example:
    >>> from datetime import datetime
    >>> from lake.datagen.cooperative import generate_cooperative
    >>> tables = generate_cooperative(transactions=1000, seed=1, now=datetime(2026, 1, 1))
    >>> sorted(tables)
    ['associado', 'cartao', 'conta', 'movimento']
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from lake.datagen.common import epoch_seconds, resolve_now, split_evenly
from lake.datagen.people import ascii_fold, build_companies, build_people
from lake.datagen.textfmt import format_datetimes

log = logging.getLogger(__name__)

ACCOUNT_TYPES = ("corrente", "poupanca", "salario", "investimento")
TABLES = ("associado", "conta", "cartao", "movimento")
COLUMNS = {
    "associado": ["id", "nome", "sobrenome", "idade", "email"],
    "conta": ["id", "tipo", "data_criacao", "id_associado"],
    "cartao": ["id", "num_cartao", "nom_impresso", "data_criacao", "id_conta", "id_associado"],
    "movimento": ["id", "vlr_transacao", "des_transacao", "data_movimento", "id_cartao"],
}
BLOCK_ROWS = 100_000  # movimento is generated in blocks of this size, each with its own seed
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"
_BINS = ("4", "51", "52", "53", "54", "55", "636368", "606282")  # Visa, Master, Elo, Hipercard
_PAD2 = np.array([f"{i:02d}" for i in range(100)], dtype=object)


def default_members(transactions: int) -> int:
    """About 200 transactions per member, at least 20 members."""
    return max(20, transactions // 200)


@dataclass(frozen=True)
class _Plan:
    seed: int
    now_s: int
    transactions: int
    orphan_share: float
    associado: pd.DataFrame
    conta: pd.DataFrame
    cartao: pd.DataFrame
    card_created_s: np.ndarray  # creation time of each card, epoch seconds
    card_cdf: np.ndarray  # a few cards are used a lot


def luhn_check_digit(payload: np.ndarray) -> np.ndarray:
    """Luhn check digits of rows of digits (shape ``(n, k)``), vectorized."""
    digits = payload.astype(np.int64)
    k = digits.shape[1]
    # Doubling starts with the payload's rightmost digit (the check digit goes after it).
    doubled = (k - 1 - np.arange(k)) % 2 == 0
    d2 = digits * 2
    d2 = np.where(d2 > 9, d2 - 9, d2)
    total = np.where(doubled, d2, digits).sum(axis=1)
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    """True when a string of digits passes the Luhn check."""
    digits = [int(c) for c in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def _card_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique 16-digit card numbers with real-looking prefixes and valid check digits."""
    numbers = np.empty(0, dtype=object)
    while len(numbers) < n:
        need = n - len(numbers)
        payload = rng.integers(0, 10, size=(need, 15), dtype=np.int64)
        bins = rng.integers(0, len(_BINS), need)
        for b, prefix in enumerate(_BINS):
            rows = bins == b
            for pos, ch in enumerate(prefix):
                payload[rows, pos] = int(ch)
        full = np.concatenate([payload, luhn_check_digit(payload)[:, None]], axis=1)
        text = (full + 48).astype(np.uint8).view("S16").ravel().astype(str).astype(object)
        numbers = pd.unique(np.concatenate([numbers, text]))
        numbers = np.asarray(numbers, dtype=object)
    return numbers[:n]


def _printed_names(first: np.ndarray, last: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Upper-case embossed names; a few keep accents or carry commas and quotes."""
    plain = np.array([ascii_fold_keep_spaces(f + " " + s).upper() for f, s in zip(first, last)], dtype=object)
    accented = np.array([(f + " " + s).upper() for f, s in zip(first, last)], dtype=object)
    comma = np.array([(s + ", " + f).upper() for f, s in zip(first, last)], dtype=object)
    quoted = np.array(
        [f.upper() + ' "' + f.split()[0][:3].upper() + '" ' + s.upper() for f, s in zip(first, last)],
        dtype=object,
    )
    apostrophe = np.array(
        [f.upper() + " D'" + ascii_fold_keep_spaces(s).upper() for f, s in zip(first, last)], dtype=object
    )
    kind = rng.choice(5, size=len(first), p=[0.85, 0.07, 0.04, 0.02, 0.02])
    return np.stack([plain, accented, comma, quoted, apostrophe])[kind, np.arange(len(first))]


def ascii_fold_keep_spaces(text: str) -> str:
    """Drop accents, keep words: ``"João da Silva" -> "Joao da Silva"``."""
    return " ".join(ascii_fold(word) if not word.isascii() else word for word in text.split())


def _to_datetime(secs: np.ndarray) -> np.ndarray:
    return np.asarray(secs, dtype=np.int64).astype("datetime64[s]")


def _plan(
    *,
    transactions: int,
    seed: int,
    members: int | None,
    orphan_share: float,
    mismatch_share: float,
    now: datetime | None,
) -> _Plan:
    for name, share in (("orphan_share", orphan_share), ("mismatch_share", mismatch_share)):
        if not 0.0 <= share < 1.0:
            raise ValueError(f"{name}: expected a share in [0, 1); found {share!r}")
    n_members = int(members if members is not None else default_members(transactions))
    if n_members < 2:
        raise ValueError(f"members: expected at least 2; found {n_members}")
    now_s = epoch_seconds(resolve_now(now))
    rng = np.random.default_rng([seed, 31])
    people = build_people(n_members, seed=seed)
    person = np.arange(n_members) % len(people)
    member_id = np.arange(1, n_members + 1, dtype=np.int64)

    # associado: e-mails stay unique when there are more members than pooled people.
    local = np.array([e.split("@")[0] for e in people.email], dtype=object)[person]
    domain = np.array([e.split("@")[1] for e in people.email], dtype=object)[person]
    repeat = np.arange(n_members) >= len(people)
    email = np.where(repeat, local + member_id.astype(str).astype(object), local) + "@" + domain
    associado = pd.DataFrame(
        {
            "id": member_id,
            "nome": people.first_name[person],
            "sobrenome": people.last_name[person],
            "idade": rng.integers(18, 86, n_members).astype(np.int64),
            "email": email,
        }
    )

    # conta: one to four accounts per member, opened over the last 12 years.
    per_member = 1 + np.minimum(rng.poisson(0.6, n_members), 3)
    acc_owner = np.repeat(member_id, per_member)
    n_acc = len(acc_owner)
    acc_created = now_s - rng.integers(30 * 86_400, 12 * 365 * 86_400, n_acc)
    conta = pd.DataFrame(
        {
            "id": np.arange(1, n_acc + 1, dtype=np.int64),
            "tipo": np.array(ACCOUNT_TYPES, dtype=object)[rng.choice(4, n_acc, p=[0.55, 0.25, 0.1, 0.1])],
            "data_criacao": _to_datetime(acc_created),
            "id_associado": acc_owner,
        }
    )

    # cartao: one to three cards per account, issued after the account was opened.
    per_account = 1 + np.minimum(rng.poisson(0.5, n_acc), 2)
    card_account = np.repeat(np.arange(n_acc), per_account)
    n_cards = len(card_account)
    card_created = acc_created[card_account] + (
        rng.random(n_cards) * (now_s - 86_400 - acc_created[card_account])
    ).astype(np.int64)
    card_owner = acc_owner[card_account].copy()
    n_mismatch = round(n_cards * mismatch_share)
    if n_mismatch:
        bad = rng.choice(n_cards, n_mismatch, replace=False)
        shift = rng.integers(1, n_members, n_mismatch)
        card_owner[bad] = (card_owner[bad] - 1 + shift) % n_members + 1
    owner_person = person[acc_owner[card_account] - 1]
    cartao = pd.DataFrame(
        {
            "id": np.arange(1, n_cards + 1, dtype=np.int64),
            "num_cartao": _card_numbers(rng, n_cards),
            "nom_impresso": _printed_names(people.first_name, people.last_name, rng)[owner_person],
            "data_criacao": _to_datetime(card_created),
            "id_conta": card_account.astype(np.int64) + 1,
            "id_associado": card_owner,
        }
    )
    weights = rng.pareto(1.5, n_cards) + 0.2
    return _Plan(
        seed,
        now_s,
        transactions,
        orphan_share,
        associado,
        conta,
        cartao,
        card_created,
        np.cumsum(weights) / weights.sum(),
    )


def _movimento_block(
    plan: _Plan, block: int, first_id: int, size: int, orphans: int, merchants: np.ndarray
) -> pd.DataFrame:
    rng = np.random.default_rng([plan.seed, 37, block])
    n_cards = len(plan.cartao)
    card = np.minimum(np.searchsorted(plan.card_cdf, rng.random(size), side="right"), n_cards - 1)
    low = np.maximum(plan.card_created_s[card], plan.now_s - 2 * 365 * 86_400)
    when = low + (rng.random(size) * (plan.now_s - low)).astype(np.int64)
    cents = np.clip(np.round(rng.lognormal(np.log(8_000), 1.1, size)), 1, 5_000_000).astype(np.int64)
    refund = rng.random(size) < 0.01
    whole = (cents // 100).astype(str).astype(object)
    amount = np.where(refund, "-", "") + whole + "." + _PAD2[cents % 100]
    kind = np.where(refund, 3, rng.choice(3, size, p=[0.8, 0.15, 0.05]))
    prefix = np.array(["COMPRA ", "COMPRA PARCELADA ", "PAGAMENTO ", "ESTORNO "], dtype=object)
    description = prefix[kind] + merchants[rng.integers(0, len(merchants), size)]
    card_id = card.astype(np.int64) + 1
    if orphans:
        at = rng.choice(size, orphans, replace=False)
        card_id[at] = n_cards + 1 + rng.integers(0, 10_000, orphans)  # no such card
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + size, dtype=np.int64),
            "vlr_transacao": amount,
            "des_transacao": description,
            "data_movimento": _to_datetime(when),
            "id_cartao": card_id,
        }
    )


def _movimento_blocks(plan: _Plan) -> Iterator[pd.DataFrame]:
    n_blocks = max(1, -(-plan.transactions // BLOCK_ROWS))
    sizes = split_evenly(plan.transactions, n_blocks)
    orphans = split_evenly(round(plan.transactions * plan.orphan_share), n_blocks)
    merchants = np.array([m.upper() for m in build_companies(300, seed=plan.seed)], dtype=object)
    first_id = 1
    for block in range(n_blocks):
        if sizes[block]:
            yield _movimento_block(plan, block, first_id, sizes[block], orphans[block], merchants)
        first_id += sizes[block]


def _rechunk(blocks: Iterator[pd.DataFrame], chunk_rows: int) -> Iterator[pd.DataFrame]:
    pending: list[pd.DataFrame] = []
    held = 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        while held >= chunk_rows:
            merged = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            yield merged.iloc[:chunk_rows].reset_index(drop=True)
            rest = merged.iloc[chunk_rows:].reset_index(drop=True)
            pending, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]


def iter_movimento_chunks(
    *,
    transactions: int,
    seed: int = 42,
    members: int | None = None,
    orphan_share: float = 0.0,
    mismatch_share: float = 0.0,
    now: datetime | None = None,
    chunk_rows: int = 500_000,
) -> Iterator[pd.DataFrame]:
    """Stream ``movimento`` in DataFrames of ``chunk_rows`` rows (the last may be shorter).

    Same arguments as :func:`generate_cooperative`; the concatenated chunks equal its
    ``movimento`` table whatever ``chunk_rows`` is.
    """
    plan = _plan(
        transactions=transactions,
        seed=seed,
        members=members,
        orphan_share=orphan_share,
        mismatch_share=mismatch_share,
        now=now,
    )
    return _rechunk(_movimento_blocks(plan), max(1, chunk_rows))


def generate_cooperative(
    *,
    transactions: int,
    seed: int = 42,
    members: int | None = None,
    orphan_share: float = 0.0,
    mismatch_share: float = 0.0,
    now: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Build the four cooperative tables in memory.

    Args:
        transactions: rows of ``movimento``.
        seed: same seed and arguments, equal frames.
        members: rows of ``associado``; default one per 200 transactions (at least 20).
            Each member has 1-4 accounts and each account 1-3 cards.
        orphan_share: share of transactions whose ``id_cartao`` matches no card
            (exactly ``round(transactions * orphan_share)``).
        mismatch_share: share of cards whose ``id_associado`` differs from their account's
            member (exactly ``round(cards * mismatch_share)``).
        now: reference time (default: now in America/Sao_Paulo); dates lie before it.

    Returns:
        ``{"associado", "conta", "cartao", "movimento"}`` -> DataFrame, columns as in
        :data:`COLUMNS`; ids int64, timestamps ``datetime64[s]``, ``vlr_transacao`` exact
        strings with two decimals, ``num_cartao`` 16-digit strings.
    """
    plan = _plan(
        transactions=transactions,
        seed=seed,
        members=members,
        orphan_share=orphan_share,
        mismatch_share=mismatch_share,
        now=now,
    )
    blocks = list(_movimento_blocks(plan))
    movimento = (
        pd.concat(blocks, ignore_index=True)
        if blocks
        else pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS["movimento"]})
    )
    return {"associado": plan.associado, "conta": plan.conta, "cartao": plan.cartao, "movimento": movimento}


# ---------------------------------------------------------------- SQLite fast path


def _sqlite_rows(frame: pd.DataFrame) -> Iterator[tuple]:
    """Rows ready for sqlite3, rendered like ``dbload`` does: ``yyyy-MM-dd HH:mm:ss.SSS`` text."""
    cols = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        if np.issubdtype(values.dtype, np.datetime64):
            text = format_datetimes(values.astype("datetime64[s]").astype(np.int64), TIMESTAMP_FORMAT)
            cols.append((text + ".000").tolist())
        else:
            cols.append(values.tolist())
    return zip(*cols)


def _ddl_statements(strict: bool) -> list[str]:
    """The SQLite schema of ``lake/datagen/sql`` that ``dbload`` also uses (one source of DDL)."""
    from lake.datagen.dbload import ddl_path

    text = "\n".join(
        line
        for line in ddl_path("sqlite", strict=strict).read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("--")
    )
    return [stmt.strip() for stmt in text.split(";") if stmt.strip()]


def _write_sqlite(
    plan: _Plan, path: str | os.PathLike, *, chunk_rows: int, replace: bool, strict: bool
) -> dict[str, int]:
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    con = sqlite3.connect(os.fspath(path), isolation_level=None)
    counts: dict[str, int] = {}
    try:
        con.execute("PRAGMA journal_mode=MEMORY")
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-65536")
        con.execute("BEGIN")
        if replace:
            for table in reversed(TABLES):
                con.execute(f"DROP TABLE IF EXISTS {table}")
        statements = _ddl_statements(strict)
        # Indexes are built once after the load: cheaper than maintaining them row by row.
        indexes = [st for st in statements if st.upper().startswith("CREATE INDEX")]
        for statement in statements:
            if statement not in indexes:
                con.execute(statement)
        frames = {
            "associado": [plan.associado],
            "conta": [plan.conta],
            "cartao": [plan.cartao],
            "movimento": _rechunk(_movimento_blocks(plan), max(1, chunk_rows)),
        }
        for table in TABLES:
            cols = COLUMNS[table]
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            counts[table] = 0
            for frame in frames[table]:
                con.executemany(sql, _sqlite_rows(frame[cols]))
                counts[table] += len(frame)
        for statement in indexes:
            con.execute(statement)
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    log.info("wrote SQLite %s: %s", path, counts)
    return counts


def write_cooperative_sqlite(
    path: str | os.PathLike,
    *,
    transactions: int,
    seed: int = 42,
    members: int | None = None,
    orphan_share: float = 0.0,
    mismatch_share: float = 0.0,
    now: datetime | None = None,
    chunk_rows: int = 500_000,
    replace: bool = True,
    strict: bool = False,
) -> dict[str, int]:
    """Write the cooperative tables straight into a SQLite file, ``movimento`` in chunks.

    The bulk path for SQLite at scale: the schema of ``lake/datagen/sql/cooperative_sqlite*.sql``
    (as :func:`lake.datagen.dbload.load_cooperative` creates it), one transaction,
    ``executemany`` per chunk, timestamps as ``yyyy-MM-dd HH:mm:ss.SSS`` text like dbload.
    Memory stays bounded by ``chunk_rows``.

    Args:
        path: the SQLite file (its folder is created).
        replace: drop the four tables first (else they must not exist).
        strict: create the strict schema (constraints) instead of the relaxed one. SQLite
            enforces its foreign keys only when asked, so dirty rows still load.
        Other arguments: as :func:`generate_cooperative`.

    Returns:
        Rows written per table.

    Example:
        >>> write_cooperative_sqlite("data/cooperative.db", transactions=1_000_000)  # doctest: +SKIP
        {'associado': 5000, 'conta': 8000, 'cartao': 12000, 'movimento': 1000000}
    """
    plan = _plan(
        transactions=transactions,
        seed=seed,
        members=members,
        orphan_share=orphan_share,
        mismatch_share=mismatch_share,
        now=now,
    )
    return _write_sqlite(plan, path, chunk_rows=chunk_rows, replace=replace, strict=strict)
