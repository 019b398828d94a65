"""Sample-data generators: determinism, knobs and formats at small scale (no Spark).

Expected values come from independent parsing here (json, csv, regexes built from the
configured Spark patterns, the calendar), not from the generator's own helpers.
"""

from __future__ import annotations

import csv
import decimal
import filecmp
import json
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from lake.config import load_config
from lake.datagen import (
    generate,
    generate_channel_files,
    generate_cooperative,
    iter_movimento_chunks,
    write_cooperative_sqlite,
)
from lake.datagen.dbload import load_cooperative

NOW = datetime(2026, 3, 10, 15, 30, 0)
CONFIG = load_config(str(Path(__file__).resolve().parents[1] / "conf" / "lake.yml"))
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
EMAIL_RE = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$")


# ---------------------------------------------------------------- helpers (independent)


def _pattern_regex(pattern: str) -> re.Pattern:
    # One letter takes one or two digits, as Spark's parser does ("H" reads "01" and "1").
    tokens = {"yyyy": r"(?P<y4>\d{4})", "yy": r"(?P<y2>\d{2})", "MM": r"(?P<M>\d{2})",
              "M": r"(?P<M>\d{1,2})", "dd": r"(?P<d>\d{2})", "d": r"(?P<d>\d{1,2})",
              "HH": r"(?P<H>\d{2})", "H": r"(?P<H>\d{1,2})", "mm": r"(?P<m>\d{2})",
              "ss": r"(?P<s>\d{2})"}
    parts = re.findall(r"yyyy|yy|MM|M|dd|d|HH|H|mm|ss|[^yMdHms]+", pattern)
    return re.compile("^" + "".join(tokens.get(p, re.escape(p)) for p in parts) + "$")


def _parse(value: str, formats) -> datetime:
    """Parse with the first configured Spark pattern that matches the whole (trimmed) string."""
    for fmt in formats:
        match = _pattern_regex(fmt).match(value.strip())
        if match:
            g = match.groupdict()
            year = int(g["y4"]) if g.get("y4") else 2000 + int(g["y2"])
            return datetime(year, int(g["M"]), int(g["d"]), int(g.get("H") or 0),
                            int(g.get("m") or 0), int(g.get("s") or 0))
    raise AssertionError(f"{value!r} matches none of {formats}")


def _formats(table: str, column: str) -> tuple[str, ...]:
    return CONFIG.silver[table].columns[column].formats


def _json_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _records(manifest: dict, channel: str) -> list[dict]:
    """Well-formed records of a channel, as dicts keyed by the header/JSON keys."""
    out: list[dict] = []
    for file in manifest["channels"][channel]["files"]:
        path = Path(file)
        if path.suffix == ".csv":
            header, rows = _csv_rows(path)
            out += [dict(zip(header, row)) for row in rows if len(row) == len(header)]
        else:
            for line in _json_lines(path):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = sum(divmod(d * 2, 10))
        total += d
    return total % 10 == 0


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """Clean of malformed/duplicate rows, with every format variant and e-mail noise."""
    folder = tmp_path_factory.mktemp("noisy")
    return generate_channel_files(folder, interactions=4000, seed=3, now=NOW, noise=True)


# ---------------------------------------------------------------- channel files


def test_columns_are_exactly_the_configured_ones(noisy):
    for channel in ("whatsapp", "email"):
        header, _ = _csv_rows(Path(noisy["channels"][channel]["files"][0]))
        assert header == list(CONFIG.sources[channel].columns)
    for channel in ("ura", "chat"):
        first = json.loads(_json_lines(Path(noisy["channels"][channel]["files"][0]))[0])
        assert list(first) == list(CONFIG.sources[channel].columns)
    names = sorted(Path(f).name for c in noisy["channels"].values() for f in c["files"])
    assert names == ["UraTelefonica.jsonl", "Whatsapp.csv", "chatOnline.jsonl", "email.csv"]


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    kwargs = dict(interactions=1500, now=NOW, malformed_share=0.02, duplicate_share=0.02)
    a = generate_channel_files(tmp_path / "a", seed=11, **kwargs)
    b = generate_channel_files(tmp_path / "b", seed=11, **kwargs)
    c = generate_channel_files(tmp_path / "c", seed=12, **kwargs)
    for channel in a["channels"]:
        fa, fb, fc = (Path(m["channels"][channel]["files"][0]) for m in (a, b, c))
        assert filecmp.cmp(fa, fb, shallow=False), channel
        assert fa.read_bytes() != fc.read_bytes(), channel


def test_ura_dates_match_configured_format_and_weekday(noisy):
    records = _records(noisy, "ura")
    assert len(records) == noisy["channels"]["ura"]["records"]
    variants = set()
    for rec in records:
        day = _parse(rec["data"], _formats("ura", "started_at"))
        assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", rec["Horário"].strip())
        assert rec["Semana"] == WEEKDAYS[day.weekday()], rec
        variants.add(re.sub(r"\d", "9", rec["data"]))
        assert isinstance(rec["DDD"], int) and isinstance(rec["telefone"], int)
        assert str(rec["telefone"]).startswith(str(rec["DDD"]))
        assert len(str(rec["telefone"])) in (10, 11)
        assert "|" in rec["sub_classificacao"]
        for col in ("duracao_espera_fila", "duracao_atendimento", "duracao_total_da_chamada"):
            assert re.fullmatch(r"\d{2,}:[0-5]\d:[0-5]\d", rec[col])
    # 4-digit and 2-digit years, with and without leading zeros, and stray spaces
    assert {"99/99/9999", "9/9/99"} <= variants
    assert any(v != v.strip() for v in variants)


@pytest.mark.parametrize("channel,start_col,end_col,silver_start,silver_end", [
    ("chat", "Data da conversa (Inicio)", "Data da conversa (Fim)", "started_at", "ended_at"),
    ("whatsapp", "Inicio da conversa", "Fim da conversa (duração)", "started_at", "ended_at"),
    ("email", "Data/Hora de abertura", "Data/Hora de fechamento", "started_at", "ended_at"),
])
def test_dates_match_configured_format_weekday_and_order(noisy, channel, start_col, end_col,
                                                         silver_start, silver_end):
    records = _records(noisy, channel)
    assert len(records) == noisy["channels"][channel]["records"]
    shapes = set()
    for rec in records:
        start = _parse(rec[start_col], _formats(channel, silver_start))
        assert int(rec["Semana"]) == start.isoweekday(), rec
        shapes.add(re.sub(r"\d", "9", rec[start_col].strip()))
        if rec[end_col].strip():
            end = _parse(rec[end_col], _formats(channel, silver_end))
            assert end >= start
            assert end <= NOW
    assert len(shapes) >= 3  # the variants are really there


def test_chat_day_first_is_consistent(noisy):
    """A chat date with day > 12 proves dd/MM, never MM/dd."""
    days = [int(r["Data da conversa (Inicio)"].strip().split("/")[0]) for r in _records(noisy, "chat")]
    assert max(days) > 12
    months = [int(r["Data da conversa (Inicio)"].strip().split("/")[1]) for r in _records(noisy, "chat")]
    assert max(months) <= 12


def test_whatsapp_duration_is_end_minus_start(noisy):
    long_ones = 0
    for rec in _records(noisy, "whatsapp"):
        start = _parse(rec["Inicio da conversa"], _formats("whatsapp", "started_at"))
        end = _parse(rec["Fim da conversa (duração)"], _formats("whatsapp", "ended_at"))
        finished = _parse(rec["Fim da conversa (finalizado?)"], _formats("whatsapp", "finished_at"))
        h, m, s = (int(x) for x in rec["Tempo duração atendimento"].split(":"))
        assert timedelta(hours=h, minutes=m, seconds=s) == end - start
        assert finished == end
        assert rec["Finalizado?"] in ("Sim", "Não")
        long_ones += h >= 24
    assert long_ones > 0  # durations past 24 hours exist


def test_email_file_shape(noisy):
    for rec in _records(noisy, "email"):
        assert rec["Loja"] == "Clickbus"
    header, rows = _csv_rows(Path(noisy["channels"]["email"]["files"][0]))
    raw = Path(noisy["channels"]["email"]["files"][0]).read_text(encoding="utf-8")
    assert '"' in raw and any("," in r[6] for r in rows)  # RFC 4180 quoting exercised


def test_email_noise_counts(noisy):
    cols = {"ura": "email", "chat": "Visitor_Email", "whatsapp": "E-mail", "email": "Email do cliente"}
    for channel, col in cols.items():
        stats = noisy["channels"][channel]
        values = [r[col] for r in _records(noisy, channel)]
        missing = sum(v is None or v == "" for v in values)
        present = [v for v in values if v]
        invalid = sum(not EMAIL_RE.match(v.strip().lower()) for v in present)
        noisy_ = sum(v != v.strip().lower() for v in present if EMAIL_RE.match(v.strip().lower()))
        assert (missing, invalid, noisy_) == (stats["email_missing"], stats["email_invalid"],
                                              stats["email_noisy"]), channel
        assert missing > 0 and invalid > 0 and noisy_ > 0, channel
        assert any(v != v.strip() for v in present) and any(v.strip() != v.strip().lower() for v in present)


def test_no_noise_means_clean(tmp_path):
    m = generate_channel_files(tmp_path, interactions=800, seed=5, now=NOW, noise=False)
    for rec in _records(m, "whatsapp"):
        assert EMAIL_RE.match(rec["E-mail"])
        assert _pattern_regex("M/d/yy H:mm").match(rec["Inicio da conversa"])
    for rec in _records(m, "ura"):
        assert _pattern_regex("MM/dd/yyyy").match(rec["data"])


def test_last_24_hours_hold_data(noisy):
    recent = 0
    total = 0
    for rec in _records(noisy, "whatsapp") + _records(noisy, "email"):
        start_col = "Inicio da conversa" if "Inicio da conversa" in rec else "Data/Hora de abertura"
        start = _parse(rec[start_col], _formats("whatsapp" if "E-mail" in rec else "email", "started_at"))
        total += 1
        recent += NOW - timedelta(hours=24) <= start <= NOW
        assert start >= NOW - timedelta(days=92)
    assert 0.03 < recent / total < 0.12


def test_malformed_and_duplicate_knobs(tmp_path):
    m = generate_channel_files(tmp_path, interactions=4000, seed=8, now=NOW,
                               malformed_share=0.03, duplicate_share=0.05, files_per_channel=2)
    for channel, stats in m["channels"].items():
        assert [Path(f).name for f in stats["files"]][1].split(".")[0].endswith("_2")
        broken, good = 0, []
        for file in stats["files"]:
            if file.endswith(".csv"):
                header, rows = _csv_rows(Path(file))
                broken += sum(len(r) != len(header) for r in rows)
                good += [tuple(r) for r in rows if len(r) == len(header)]
            else:
                for line in _json_lines(Path(file)):
                    try:
                        good.append(json.dumps(json.loads(line), sort_keys=True))
                    except json.JSONDecodeError:
                        broken += 1
        assert stats["records"] == broken + len(good)
        assert broken == stats["malformed"] == round(stats["records"] * 0.03), channel
        assert len(good) - len(set(good)) == stats["duplicates"] == round(stats["records"] * 0.05), channel
    assert sum(s["records"] for s in m["channels"].values()) == 4000


def test_json_shapes(tmp_path):
    arr = generate_channel_files(tmp_path / "arr", interactions=400, seed=1, now=NOW, json_shape="array",
                                 malformed_share=0.02)
    for channel in ("ura", "chat"):
        data = json.loads(Path(arr["channels"][channel]["files"][0]).read_text(encoding="utf-8"))
        assert isinstance(data, list) and len(data) == arr["channels"][channel]["records"]
        assert arr["channels"][channel]["malformed"] == 0  # a broken record would break the array
    assert arr["channels"]["whatsapp"]["malformed"] == 2
    one = generate_channel_files(tmp_path / "one", interactions=4, seed=1, now=NOW, json_shape="object")
    text = Path(one["channels"]["ura"]["files"][0]).read_text(encoding="utf-8")
    assert text.count("\n") > 10 and isinstance(json.loads(text), dict)
    with pytest.raises(ValueError, match="exactly one record"):
        generate_channel_files(tmp_path / "bad", interactions=40, seed=1, now=NOW, json_shape="object")


# ---------------------------------------------------------------- cooperative


def _coop(**kw):
    base = dict(transactions=6000, seed=4, now=NOW, orphan_share=0.01, mismatch_share=0.1)
    base.update(kw)
    return generate_cooperative(**base)


def test_cooperative_deterministic():
    a, b, c = _coop(), _coop(), _coop(seed=5)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["movimento"].equals(c["movimento"])
    assert not a["associado"].equals(c["associado"])


def test_cooperative_shape_and_values():
    t = _coop()
    assert list(t["associado"].columns) == ["id", "nome", "sobrenome", "idade", "email"]
    assert list(t["cartao"].columns) == ["id", "num_cartao", "nom_impresso", "data_criacao", "id_conta",
                                         "id_associado"]
    assert set(t["conta"]["tipo"]) <= {"corrente", "poupanca", "salario", "investimento"}
    accounts = t["conta"].groupby("id_associado").size()
    cards = t["cartao"].merge(t["conta"], left_on="id_conta", right_on="id").groupby("id_associado_y").size()
    assert accounts.max() >= 2 and cards.max() >= 3
    assert t["cartao"]["num_cartao"].str.fullmatch(r"\d{16}").all()
    assert all(_luhn_ok(n) for n in t["cartao"]["num_cartao"])
    assert t["cartao"]["num_cartao"].is_unique
    names = t["cartao"]["nom_impresso"]
    assert (names == names.str.upper()).all()
    amounts = t["movimento"]["vlr_transacao"]
    assert amounts.map(type).eq(str).all()
    assert amounts.str.fullmatch(r"-?\d+\.\d{2}").all()
    assert all(str(decimal.Decimal(a)) == a for a in amounts)
    assert amounts.map(decimal.Decimal).max() < decimal.Decimal("100000000")
    assert (t["movimento"]["data_movimento"] <= pd.Timestamp(NOW)).all()
    assert t["movimento"]["id"].is_unique


def test_cooperative_orphans_and_mismatches_exact():
    t = _coop()
    orphans = ~t["movimento"]["id_cartao"].isin(t["cartao"]["id"])
    assert orphans.sum() == round(6000 * 0.01)
    joined = t["cartao"].merge(t["conta"], left_on="id_conta", right_on="id", how="left",
                               suffixes=("", "_c"))
    assert joined["id_c"].notna().all() and len(joined) == len(t["cartao"])
    assert (joined["id_associado"] != joined["id_associado_c"]).sum() == round(len(t["cartao"]) * 0.1)
    assert t["cartao"]["id_associado"].isin(t["associado"]["id"]).all()
    clean = _coop(orphan_share=0.0, mismatch_share=0.0)
    assert clean["movimento"]["id_cartao"].isin(clean["cartao"]["id"]).all()


def test_movimento_chunks_equal_whole_table():
    whole = _coop()["movimento"]
    chunks = list(iter_movimento_chunks(transactions=6000, seed=4, now=NOW, orphan_share=0.01,
                                        mismatch_share=0.1, chunk_rows=1700))
    assert [len(c) for c in chunks] == [1700, 1700, 1700, 900]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)


def test_sqlite_fast_path_equals_dbload(tmp_path):
    kw = dict(transactions=3000, seed=9, now=NOW, orphan_share=0.01, mismatch_share=0.05)
    counts = write_cooperative_sqlite(tmp_path / "fast.db", chunk_rows=700, **kw)
    load_cooperative(f"jdbc:sqlite:{tmp_path / 'ref.db'}", generate_cooperative(**kw))
    fast, ref = sqlite3.connect(tmp_path / "fast.db"), sqlite3.connect(tmp_path / "ref.db")
    for table in ("associado", "conta", "cartao", "movimento"):
        rows = fast.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        assert rows == ref.execute(f"SELECT * FROM {table} ORDER BY id").fetchall(), table
        assert counts[table] == len(rows)
    assert counts["movimento"] == 3000


def test_generate_end_to_end(tmp_path):
    m = generate(landing_dir=tmp_path / "landing", database_url=f"jdbc:sqlite:{tmp_path / 'coop.db'}",
                 interactions=1000, transactions=2000, seed=2, now=NOW, json_shape="array")
    assert {p.name for p in (tmp_path / "landing").iterdir()} == {
        "UraTelefonica.jsonl", "chatOnline.jsonl", "Whatsapp.csv", "email.csv"}
    assert m["cooperative"]["rows"]["movimento"] == 2000
    con = sqlite3.connect(tmp_path / "coop.db")
    orphans = con.execute("SELECT COUNT(*) FROM movimento m LEFT JOIN cartao c ON c.id = m.id_cartao "
                          "WHERE c.id IS NULL").fetchone()[0]
    assert orphans == m["cooperative"]["orphans"] == 10
    clean = generate(landing_dir=None, database_url=f"jdbc:sqlite:{tmp_path / 'clean.db'}",
                     transactions=500, seed=2, now=NOW, realism=False)
    assert clean["cooperative"]["orphans"] == 0 and clean["channels"] is None


@pytest.mark.parametrize("server_fixture", ["fresh_pg_db", "fresh_mariadb_db"])
def test_generate_loads_real_databases_in_chunks(request, server_fixture):
    """dbload creates the schema and the first chunk; later chunks are appended."""
    db = request.getfixturevalue(server_fixture)
    m = generate(landing_dir=None, database_url=db.jdbc_url, user=db.user, password=db.password,
                 transactions=2500, seed=6, now=NOW, chunk_rows=1000)
    expected = generate_cooperative(transactions=2500, seed=6, now=NOW, orphan_share=0.005,
                                    mismatch_share=0.01)
    assert m["cooperative"]["rows"] == {name: len(df) for name, df in expected.items()}
    conn = db.python_connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, vlr_transacao, id_cartao FROM movimento ORDER BY id")
            rows = cur.fetchall()
            cur.execute("SELECT COUNT(*) FROM movimento m LEFT JOIN cartao c ON c.id = m.id_cartao "
                        "WHERE c.id IS NULL")
            orphans = cur.fetchone()[0]
    finally:
        conn.close()
    want = expected["movimento"]
    assert [r[0] for r in rows] == want["id"].tolist()
    assert [r[1] for r in rows] == [decimal.Decimal(a) for a in want["vlr_transacao"]]
    assert orphans == m["cooperative"]["orphans"] == 12
