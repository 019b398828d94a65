"""The four customer-experience channel files, generated at any size.

Writes ``UraTelefonica.jsonl``, ``chatOnline.jsonl``, ``Whatsapp.csv`` and ``email.csv``
(``Whatsapp_2.csv``, ... when several files per channel are asked) with the configured column
names and the formats of the real sample files. Rows are built in bounded chunks from small
seeded pools (:mod:`lake.datagen.people`) by numpy indexing; text is rendered by
:mod:`lake.datagen.textfmt`. Same arguments and seed, byte-identical files.

Example:
    >>> from lake.datagen.channels import generate_channel_files
    >>> manifest = generate_channel_files("data/landing", interactions=2000, seed=1)
    >>> sorted(manifest["channels"])
    ['chat', 'email', 'ura', 'whatsapp']
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from lake.datagen.common import TIMEZONE, epoch_seconds, resolve_now, split_evenly
from lake.datagen.people import PeoplePool, build_agents, build_people, state_names
from lake.datagen.textfmt import (
    csv_field,
    csv_literals,
    csv_tokens,
    format_datetimes,
    format_durations,
    ints_to_str,
    iso_weekday,
    json_literals,
    json_tokens,
    record_pieces,
    weekday_names,
)

log = logging.getLogger(__name__)

CHANNELS = ("ura", "chat", "whatsapp", "email")
FILE_NAMES = {
    "ura": ("UraTelefonica", ".jsonl"),
    "chat": ("chatOnline", ".jsonl"),
    "whatsapp": ("Whatsapp", ".csv"),
    "email": ("email", ".csv"),
}
# Exactly the columns of conf/lake.yml, in file order.
COLUMNS = {
    "ura": [
        "data",
        "Semana",
        "Horário",
        "fila_descricao",
        "Agente",
        "Status",
        "DDD",
        "telefone",
        "Estado",
        "cliente_nome",
        "email",
        "fila_de_atendimento",
        "duracao_espera_fila",
        "duracao_atendimento",
        "duracao_total_da_chamada",
        "classificacao",
        "sub_classificacao",
    ],
    "chat": [
        "Data da conversa (Inicio)",
        "Data da conversa (Fim)",
        "Semana",
        "Agente",
        "Visitor_Email",
        "Feedback_Response_Additional",
        "Feedback_Average",
        "Atendido",
    ],
    "whatsapp": [
        "Inicio da conversa",
        "Fim da conversa (duração)",
        "Fim da conversa (finalizado?)",
        "Tempo duração atendimento",
        "Semana",
        "Finalizado?",
        "E-mail",
    ],
    "email": [
        "Origem do caso",
        "Loja",
        "Semana",
        "Data/Hora de abertura",
        "Data/Hora de fechamento",
        "Sub Classificação",
        "Classificação",
        "Email do cliente",
    ],
}
CHANNEL_SHARE = {"ura": 0.30, "chat": 0.25, "whatsapp": 0.25, "email": 0.20}
# Date formats per column: the first is the real file's, the rest are variants seen in the
# field. Each keeps the column's day/month order (conf/lake.yml silver formats).
DATE_FORMATS = {
    ("ura", "data"): ["MM/dd/yyyy", "M/d/yyyy", "M/d/yy"],
    ("ura", "Horário"): ["HH:mm:ss"],
    ("chat", "Data da conversa (Inicio)"): [
        "dd/MM/yyyy HH:mm",
        "dd/MM/yyyy HH:mm:ss",
        "d/M/yyyy H:mm",
        "d/M/yy H:mm",
    ],
    ("chat", "Data da conversa (Fim)"): [
        "dd/MM/yyyy HH:mm",
        "dd/MM/yyyy HH:mm:ss",
        "d/M/yyyy H:mm",
        "d/M/yy H:mm",
    ],
    ("whatsapp", "Inicio da conversa"): [
        "M/d/yy H:mm",
        "M/d/yy H:mm:ss",
        "M/d/yyyy H:mm",
        "M/d/yyyy H:mm:ss",
    ],
    ("whatsapp", "Fim da conversa (duração)"): ["MM/dd/yyyy HH:mm", "M/d/yyyy H:mm:ss", "M/d/yy H:mm"],
    ("whatsapp", "Fim da conversa (finalizado?)"): ["MM/dd/yyyy HH:mm", "M/d/yyyy H:mm:ss", "M/d/yy H:mm"],
    ("email", "Data/Hora de abertura"): [
        "M/d/yy H:mm",
        "M/d/yy H:mm:ss",
        "M/d/yyyy H:mm",
        "M/d/yyyy H:mm:ss",
    ],
    ("email", "Data/Hora de fechamento"): [
        "M/d/yy H:mm",
        "M/d/yy H:mm:ss",
        "M/d/yyyy H:mm",
        "M/d/yyyy H:mm:ss",
    ],
}
VARIANT_SHARE = 0.10  # rows not in a column's first format, when noise is on
STRAY_SPACE_SHARE = 0.005
RECENT_SHARE = 0.07  # interactions started in the last 24 hours
HISTORY_DAYS = 90
CHUNK_ROWS = 250_000
# E-mail noise kinds and shares (when noise is on).
EMAIL_KINDS = ("clean", "upper", "capitalized", "spaced", "spaced_upper", "invalid", "missing")
EMAIL_SHARES = (0.90, 0.02, 0.02, 0.02, 0.01, 0.01, 0.02)

_QUEUES = [
    "Dúvidas Gerais",
    "Cancelamento",
    "Remarcação",
    "Reembolso",
    "Compra de Passagem",
    "Bagagem",
    "Atendimento Prioritário",
]
_URA_STATUS = ["Atendida", "Abandonada", "Não Atendida"]
_URA_CLASSES = [
    ("Dúvida", "Embarque|Desembarque fora rodoviária"),
    ("Dúvida", "Bagagem|Limite de peso"),
    ("Reclamação", "Atraso|Ônibus não compareceu"),
    ("Reclamação", "Cobrança|Valor cobrado em dobro"),
    ("Solicitação", "Cancelamento|Reembolso"),
    ("Solicitação", "Remarcação|Troca de horário"),
    ("Elogio", "Atendimento|Motorista"),
]
_EMAIL_CLASSES = [  # (Sub Classificação = broad class, Classificação = detail): swapped vs URA
    ("Dúvida", "Falha na finalizacao da compra"),
    ("Dúvida", "Embarque, documentos necessários"),
    ("Reclamação", "Cancelamento, reembolso não recebido"),
    ("Reclamação", "Atraso na viagem"),
    ("Solicitação", "Remarcação"),
    ("Solicitação", 'Nota fiscal "segunda via"'),
    ("Elogio", "Atendimento"),
]
_EMAIL_ORIGINS = ["Site", "E-mail", "Aplicativo", "Formulário Web", "Telefone"]
_FEEDBACK = [
    None,
    "",
    "atendimento pessimo",
    "Ótimo atendimento, resolveu rápido!",
    "demorou muito",
    "Agente muito educada",
    "não resolveu meu problema",
    'O "reembolso" ainda não caiu',
    "nota 10",
    "péssimo; vou reclamar no Reclame Aqui",
]


@dataclass(frozen=True)
class _Pools:
    people: PeoplePool
    cdf: np.ndarray  # cumulative weights: a few customers contact a lot, most rarely
    agents: np.ndarray
    email_json: np.ndarray  # (kinds, people) JSON tokens of the e-mail with its noise
    email_csv: np.ndarray  # (kinds, people) CSV fields
    email_kind_cdf: np.ndarray


def _email_variants(clean: np.ndarray) -> list[list[str | None]]:
    variants: list[list[str | None]] = []
    for kind in EMAIL_KINDS:
        if kind == "clean":
            row = list(clean)
        elif kind == "upper":
            row = [e.upper() for e in clean]
        elif kind == "capitalized":
            row = [e.split("@")[0].capitalize() + "@" + e.split("@")[1].capitalize() for e in clean]
        elif kind == "spaced":
            row = [(" " if i % 2 else "") + e + "  " for i, e in enumerate(clean)]
        elif kind == "spaced_upper":
            row = ["  " + e.upper() for e in clean]
        elif kind == "invalid":
            forms = (
                lambda e: e.replace("@", ""),
                lambda e: e.replace("@", "@@"),
                lambda e: e.split("@")[0] + "@",
                lambda e: e.replace(".", " ", 1),
            )
            row = [forms[i % len(forms)](e) for i, e in enumerate(clean)]
        else:
            row = [None] * len(clean)
        variants.append(row)
    return variants


def _pools(interactions: int, seed: int, noise: bool) -> _Pools:
    people = build_people(max(200, interactions // 20), seed=seed)
    weights = 1.0 / np.power(np.arange(1, len(people) + 1), 0.6)
    rng = np.random.default_rng([seed, 202])
    weights = weights[rng.permutation(len(people))]
    variants = _email_variants(people.email)
    email_json = np.stack([json_tokens(v) for v in variants])
    email_csv = np.stack([csv_tokens(v) for v in variants])
    shares = np.array(EMAIL_SHARES if noise else (1.0,) + (0.0,) * (len(EMAIL_KINDS) - 1))
    return _Pools(
        people,
        np.cumsum(weights) / weights.sum(),
        build_agents(40, seed=seed),
        email_json,
        email_csv,
        np.cumsum(shares) / shares.sum(),
    )


def _pick(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def _starts(rng: np.random.Generator, now_s: int, n: int, unit: int) -> np.ndarray:
    """Start times: ``RECENT_SHARE`` in the last 24 h, the rest over the previous 90 days."""
    recent = rng.random(n) < RECENT_SHARE
    old = rng.integers(now_s - HISTORY_DAYS * 86_400 - 86_400, now_s - 86_400, n)
    new = rng.integers(now_s - 23 * 3600, now_s - 600, n)
    return (np.where(recent, new, old) // unit) * unit


def _dates(rng: np.random.Generator, secs: np.ndarray, channel: str, column: str, noise: bool) -> np.ndarray:
    """Render a date column, mixing format variants and stray spaces when noise is on."""
    formats = DATE_FORMATS[(channel, column)]
    if not noise or len(formats) == 1:
        out = format_datetimes(secs, formats[0])
    else:
        choice = np.where(rng.random(len(secs)) < VARIANT_SHARE, rng.integers(1, len(formats), len(secs)), 0)
        out = np.empty(len(secs), dtype=object)
        for i, fmt in enumerate(formats):
            mask = choice == i
            if mask.any():
                out[mask] = format_datetimes(secs[mask], fmt)
    if noise:
        stray = rng.random(len(secs))
        lead = np.flatnonzero(stray < STRAY_SPACE_SHARE / 2)
        trail = np.flatnonzero(stray > 1 - STRAY_SPACE_SHARE / 2)
        out[lead] = " " + out[lead]
        out[trail] = out[trail] + " "
    return out


def _q(values: np.ndarray) -> np.ndarray:
    """JSON string literals of strings that need no escaping (dates, durations)."""
    return '"' + values + '"'


def _choice_tokens(rng: np.random.Generator, options: list, n: int, encode, p=None) -> np.ndarray:
    return encode(options)[rng.choice(len(options), size=n, p=p)]


# ---------------------------------------------------------------- one chunk per channel


def _ura(
    rng, pools: _Pools, now_s: int, n: int, noise: bool
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    person = _pick(rng, pools.cdf, n)
    ppl = pools.people
    start = _starts(rng, now_s, n, 1)
    status = rng.choice(3, n, p=[0.82, 0.13, 0.05])
    wait = np.minimum(rng.exponential(60, n).astype(np.int64), 3600)
    handle = np.where(status == 0, 30 + rng.exponential(300, n).astype(np.int64), 0)
    total = wait + handle + rng.integers(5, 120, n)
    ddd = ppl.ddd[person]
    local = ppl.phone_local[person]
    phone = ddd * np.where(local >= 100_000_000, 1_000_000_000, 100_000_000) + local
    cls = rng.integers(0, len(_URA_CLASSES), n)
    kind = _pick(rng, pools.email_kind_cdf, n)
    tokens = [
        _q(_dates(rng, start, "ura", "data", noise)),
        _q(weekday_names(start)),
        _q(_dates(rng, start, "ura", "Horário", noise)),
        _choice_tokens(rng, _QUEUES, n, json_tokens),
        json_tokens(pools.agents)[rng.integers(0, len(pools.agents), n)],
        json_tokens(_URA_STATUS)[status],
        ints_to_str(ddd),
        ints_to_str(phone),
        json_tokens(state_names())[ppl.state[person]],
        json_tokens(ppl.full_name)[person] if n else np.empty(0, dtype=object),
        pools.email_json[kind, person],
        json_tokens(["Sim", "Não"])[(rng.random(n) < 0.1).astype(int)],
        _q(format_durations(wait)),
        _q(format_durations(handle)),
        _q(format_durations(total)),
        json_tokens([c for c, _ in _URA_CLASSES])[cls],
        json_tokens([s for _, s in _URA_CLASSES])[cls],
    ]
    return tokens, kind, start


def _chat(rng, pools: _Pools, now_s: int, n: int, noise: bool):
    person = _pick(rng, pools.cdf, n)
    start = _starts(rng, now_s, n, 60)
    end = np.minimum(start + rng.integers(0, 61, n) * 60, now_s // 60 * 60)
    end = np.maximum(end, start)
    score = rng.integers(0, 11, n)
    kind = _pick(rng, pools.email_kind_cdf, n)
    tokens = [
        _q(_dates(rng, start, "chat", "Data da conversa (Inicio)", noise)),
        _q(_dates(rng, end, "chat", "Data da conversa (Fim)", noise)),
        ints_to_str(iso_weekday(start)),
        json_tokens(pools.agents)[rng.integers(0, len(pools.agents), n)],
        pools.email_json[kind, person],
        _choice_tokens(rng, _FEEDBACK, n, json_tokens),
        np.where(rng.random(n) < 0.15, "null", ints_to_str(score)).astype(object),
        json_tokens(["Sim", "Não"])[(rng.random(n) < 0.08).astype(int)],
    ]
    return tokens, kind, start


def _whatsapp(rng, pools: _Pools, now_s: int, n: int, noise: bool):
    person = _pick(rng, pools.cdf, n)
    start = _starts(rng, now_s, n, 60)
    band = rng.random(n)
    minutes = np.where(
        band < 0.70,
        rng.integers(1, 121, n),
        np.where(band < 0.95, rng.integers(120, 24 * 60, n), rng.integers(24 * 60, 72 * 60, n)),
    )
    end = np.maximum(np.minimum(start + minutes * 60, now_s // 60 * 60), start)
    kind = _pick(rng, pools.email_kind_cdf, n)
    tokens = [
        _dates(rng, start, "whatsapp", "Inicio da conversa", noise),
        _dates(rng, end, "whatsapp", "Fim da conversa (duração)", noise),
        _dates(rng, end, "whatsapp", "Fim da conversa (finalizado?)", noise),
        format_durations(end - start),
        ints_to_str(iso_weekday(start)),
        csv_tokens(["Sim", "Não"])[(rng.random(n) < 0.1).astype(int)],
        pools.email_csv[kind, person],
    ]
    return tokens, kind, start


def _email(rng, pools: _Pools, now_s: int, n: int, noise: bool):
    person = _pick(rng, pools.cdf, n)
    start = _starts(rng, now_s, n, 60)
    end = np.maximum(np.minimum(start + rng.integers(5, 3 * 24 * 60, n) * 60, now_s // 60 * 60), start)
    closed = _dates(rng, end, "email", "Data/Hora de fechamento", noise)
    if noise:  # a few cases are still open
        closed = np.where(rng.random(n) < 0.02, "", closed).astype(object)
    cls = rng.integers(0, len(_EMAIL_CLASSES), n)
    kind = _pick(rng, pools.email_kind_cdf, n)
    tokens = [
        _choice_tokens(rng, _EMAIL_ORIGINS, n, csv_tokens, p=[0.6, 0.2, 0.1, 0.05, 0.05]),
        np.full(n, "Clickbus", dtype=object),
        ints_to_str(iso_weekday(start)),
        _dates(rng, start, "email", "Data/Hora de abertura", noise),
        closed,
        csv_tokens([c for c, _ in _EMAIL_CLASSES])[cls],
        csv_tokens([d for _, d in _EMAIL_CLASSES])[cls],
        pools.email_csv[kind, person],
    ]
    return tokens, kind, start


_BUILDERS = {"ura": _ura, "chat": _chat, "whatsapp": _whatsapp, "email": _email}


# ---------------------------------------------------------------- corruption


def _break(pieces: np.ndarray, rows: np.ndarray, *, is_json: bool, lines_end: str) -> None:
    """Corrupt ``rows`` in place, alternating two ways per format.

    JSON: the record cut in the middle, or its closing brace lost. CSV: one field too many,
    or the last field (the e-mail, never quoted) lost.
    """
    half = pieces.shape[1] // 2
    for j, row in enumerate(np.sort(rows)):
        if is_json and j % 2:
            pieces[row, half:-1] = ""
            pieces[row, -1] = lines_end
        elif is_json:
            pieces[row, -1] = "," + lines_end
        elif j % 2:
            pieces[row, -1] = ",sem_cabecalho" + lines_end
        else:
            pieces[row, -3:-1] = ""


def _apportion(total: int, shares: list[float]) -> list[int]:
    """Split ``total`` by ``shares`` exactly (largest remainders get the leftover units)."""
    exact = np.array(shares) * total
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    return [int(c) for c in counts]


# ---------------------------------------------------------------- public API


def generate_channel_files(
    landing_dir: str | os.PathLike,
    *,
    interactions: int,
    seed: int = 42,
    now: datetime | None = None,
    malformed_share: float = 0.0,
    duplicate_share: float = 0.0,
    noise: bool = True,
    json_shape: str = "lines",
    files_per_channel: int = 1,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Write the four channel files holding ``interactions`` records in total.

    Args:
        landing_dir: folder to write into (created when missing; files there are replaced).
        interactions: records written over the four channels (30% URA, 25% chat, 25%
            WhatsApp, 20% e-mail), duplicates and malformed records included.
        seed: same seed and arguments, byte-identical files.
        now: the reference time; default the current time in America/Sao_Paulo. A naive
            value is read as Sao Paulo wall time. About 7% of the interactions start in the
            24 hours before it, the rest over the previous 90 days.
        malformed_share: share of records broken on purpose (a JSON line cut short, a CSV
            row with the wrong field count). JSON channels get malformed records only with
            ``json_shape="lines"``: in an array or a single object one broken record would
            break the whole file.
        duplicate_share: share of records that repeat an earlier record byte for byte.
        noise: date-format variants, stray spaces, and e-mail case/whitespace noise,
            invalid and missing e-mails.
        json_shape: ``lines`` (JSON Lines, fastest), ``array`` (pretty-printed array) or
            ``object`` (one pretty-printed object: only when each file holds one record).
        files_per_channel: split each channel over this many files (``Whatsapp.csv``,
            ``Whatsapp_2.csv``, ...).
        chunk_rows: rows built in memory at a time.

    Returns:
        A manifest: ``{"now", "seed", "json_shape", "interactions", "channels": {channel:
        {"records", "malformed", "duplicates", "email_noisy", "email_invalid",
        "email_missing", "last_24h", "files"}}}``.
    """
    if json_shape not in ("lines", "array", "object"):
        raise ValueError(f"json_shape: expected 'lines', 'array' or 'object'; found {json_shape!r}")
    for name, share in (("malformed_share", malformed_share), ("duplicate_share", duplicate_share)):
        if not 0.0 <= share < 0.5:
            raise ValueError(f"{name}: expected a share in [0, 0.5); found {share!r}")
    if files_per_channel < 1:
        raise ValueError(f"files_per_channel: expected >= 1; found {files_per_channel!r}")
    landing = Path(landing_dir)
    landing.mkdir(parents=True, exist_ok=True)
    now_dt = resolve_now(now)
    now_s = epoch_seconds(now_dt)
    pools = _pools(interactions, seed, noise)

    per_channel = _apportion(interactions, [CHANNEL_SHARE[c] for c in CHANNELS])
    manifest: dict = {
        "now": now_dt.isoformat(sep=" "),
        "timezone": TIMEZONE,
        "seed": seed,
        "json_shape": json_shape,
        "interactions": interactions,
        "channels": {},
    }
    for ci, channel in enumerate(CHANNELS):
        records = per_channel[ci]
        # A broken record inside a JSON array or object would break the whole file.
        breakable = FILE_NAMES[channel][1] == ".csv" or json_shape == "lines"
        stats: dict[str, Any] = {
            "records": records,
            "malformed": round(records * malformed_share) if breakable else 0,
            "duplicates": round(records * duplicate_share),
            "email_noisy": 0,
            "email_invalid": 0,
            "email_missing": 0,
            "last_24h": 0,
            "files": [],
        }
        file_records = split_evenly(records, files_per_channel)
        file_mal = split_evenly(stats["malformed"], files_per_channel)
        file_dup = split_evenly(stats["duplicates"], files_per_channel)
        stem, ext = FILE_NAMES[channel]
        for fi in range(files_per_channel):
            path = landing / (f"{stem}{ext}" if fi == 0 else f"{stem}_{fi + 1}{ext}")
            _write_file(
                path,
                channel,
                pools,
                now_s,
                seed,
                ci,
                fi,
                file_records[fi],
                file_mal[fi],
                file_dup[fi],
                noise,
                json_shape,
                chunk_rows,
                stats,
            )
            stats["files"].append(str(path))
        manifest["channels"][channel] = stats
        log.info(
            "wrote %s: %d records (%d malformed, %d duplicates) in %d file(s)",
            channel,
            records,
            stats["malformed"],
            stats["duplicates"],
            files_per_channel,
        )
    return manifest


def _write_file(
    path: Path,
    channel: str,
    pools: _Pools,
    now_s: int,
    seed: int,
    ci: int,
    fi: int,
    records: int,
    malformed: int,
    duplicates: int,
    noise: bool,
    json_shape: str,
    chunk_rows: int,
    stats: dict,
) -> None:
    is_json = FILE_NAMES[channel][1] == ".jsonl"
    if is_json and json_shape == "object" and records != 1:
        raise ValueError(
            f"json_shape='object' holds exactly one record per file; {path.name} "
            f"would hold {records}. Use 'array' or 'lines', or more files per channel."
        )
    n_chunks = max(1, -(-records // max(1, chunk_rows)))
    chunk_sizes = split_evenly(records, n_chunks)
    chunk_mal = split_evenly(malformed, n_chunks)
    chunk_dup = split_evenly(duplicates, n_chunks)
    kinds = np.array(EMAIL_KINDS)
    columns = COLUMNS[channel]
    if not is_json:
        literals, end = csv_literals(len(columns)), "\n"
    elif json_shape == "lines":
        literals, end = json_literals(columns, pretty=False)
        end += "\n"
    else:  # array elements are indented and separated by ",\n"; an object stands alone
        literals, end = json_literals(columns, pretty=True, indent="  " if json_shape == "array" else "")
        end += "\n" if json_shape == "object" else ""
    with open(path, "w", encoding="utf-8", newline="") as out:
        if not is_json:
            out.write(",".join(csv_field(c) for c in columns) + "\n")
        elif json_shape == "array":
            out.write("[")
        first_row = True
        for k in range(n_chunks):
            rng = np.random.default_rng([seed, 7, ci, fi, k])
            size, n_mal, n_dup = chunk_sizes[k], chunk_mal[k], chunk_dup[k]
            base = size - n_dup
            tokens, kind, start = _BUILDERS[channel](rng, pools, now_s, base, noise)
            kind_names = kinds[kind]
            stats["email_missing"] += int((kind_names == "missing").sum())
            stats["email_invalid"] += int((kind_names == "invalid").sum())
            stats["email_noisy"] += int(
                np.isin(kind_names, ["upper", "capitalized", "spaced", "spaced_upper"]).sum()
            )
            stats["last_24h"] += int((start >= now_s - 86_400).sum())
            if size == 0:
                continue
            pieces = record_pieces(tokens, literals, end)
            picked = (
                rng.choice(base, size=n_mal + n_dup, replace=False) if n_mal + n_dup else np.empty(0, int)
            )
            _break(pieces, picked[:n_mal], is_json=is_json, lines_end="\n" if end.endswith("\n") else "")
            if n_dup:  # the same record again, somewhere else in the file
                order = np.insert(np.arange(base), rng.integers(0, base + 1, n_dup), picked[n_mal:])
                pieces = pieces[order]
            if is_json and json_shape == "array":
                pieces[1:, 0] = ",\n" + pieces[1:, 0]
                pieces[0, 0] = ("\n" if first_row else ",\n") + pieces[0, 0]
            out.write("".join(pieces.ravel().tolist()))
            first_row = False
        if is_json and json_shape == "array":
            out.write("]\n" if first_row else "\n]\n")
