"""Whole runs on small real-shaped deliveries: one garbage value never stops a run, a file
whose format the evidence refutes is quarantined whole (exit code 5), a first delivery
without some channels answers from what it has, and a 100 000-row file with 1% garbage.

Expected values are computed here, in plain Python, from the rows the tests write.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lake import cli, delta_io
from lake.config import load_config
from lake.gold.answers import gold_interactions
from lake.paths import LakePaths
from lake.pipeline import run

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
AS_OF = "2023-03-02 12:00:00"

WHATSAPP_HEADER = ["Inicio da conversa", "Fim da conversa (duração)", "Fim da conversa (finalizado?)",
                   "Tempo duração atendimento", "Semana", "Finalizado?", "E-mail"]
EMAIL_HEADER = ["Origem do caso", "Loja", "Semana", "Data/Hora de abertura", "Data/Hora de fechamento",
                "Sub Classificação", "Classificação", "Email do cliente"]


# --------------------------------------------------------------------------- real-shaped files


def _us_short(t: dt.datetime) -> str:
    """``M/d/yy H:mm`` as the real WhatsApp and e-mail files write starts (``9/30/19 0:08``)."""
    return f"{t.month}/{t.day}/{t:%y} {t.hour}:{t:%M}"


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def whatsapp_row(start: dt.datetime, minutes: int, email: str) -> list[str]:
    """A consistent WhatsApp row: ISO weekday, end = start + duration (``MM/dd/yyyy HH:mm``)."""
    end = start + dt.timedelta(minutes=minutes)
    return [_us_short(start), f"{end:%m/%d/%Y %H:%M}", f"{end:%m/%d/%Y %H:%M}", _hms(minutes * 60),
            str(start.isoweekday()), "Sim", email]


def email_row(start: dt.datetime, end: dt.datetime, email: str) -> list[str]:
    return ["Site", "Clickbus", str(start.isoweekday()), _us_short(start), _us_short(end), "Dúvida", "Remarcação", email]


def chat_record(start: dt.datetime, end: dt.datetime, email: str) -> dict:
    return {"Data da conversa (Inicio)": f"{start:%d/%m/%Y %H:%M}", "Data da conversa (Fim)": f"{end:%d/%m/%Y %H:%M}",
            "Semana": start.isoweekday(), "Agente": "Antônia", "Visitor_Email": email,
            "Feedback_Response_Additional": "ok", "Feedback_Average": 9, "Atendido": "Sim"}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])


def config(base: Path, landing: Path, conf: Path = CONF):
    return load_config(conf).with_overrides(root=str(base / "lake"), landing=str(landing), output_dir=str(base / "out"))


def fmt(col: str):
    return F.date_format(col, "yyyy-MM-dd HH:mm:ss")


def rules(row) -> list[str]:
    return [e["rule"] for e in row["_errors"]]


# --------------------------------------------------------------------------- a partial first delivery


D = dt.datetime
#: The interactions of the partial delivery that must reach gold: (e-mail, channel, start).
#: No URA file at all; the WhatsApp file has a third row whose start is impossible.
CHAT = [("ana@x.com", D(2023, 3, 1, 10, 0), D(2023, 3, 1, 10, 20)), ("bruno@x.com", D(2023, 3, 2, 9, 0), D(2023, 3, 2, 9, 5))]
EMAIL = [(" ANA@x.com", D(2023, 3, 2, 11, 0), D(2023, 3, 2, 15, 0)), ("carla@x.com", D(2023, 2, 27, 8, 0), D(2023, 2, 27, 9, 0))]
WHATSAPP = [("bruno@x.com", D(2023, 3, 1, 20, 0), 30), ("carla@x.com", D(2023, 2, 28, 7, 0), 120)]
IMPOSSIBLE = "13/45/23 0:08"  # month 13, day 45: no format reads it


def expected_interactions() -> list[tuple[str, str, dt.datetime]]:
    return ([(e.strip().lower(), "chat", s) for e, s, _ in CHAT] + [(e.strip().lower(), "email", s) for e, s, _ in EMAIL]
            + [(e, "whatsapp", s) for e, s, _ in WHATSAPP])


@pytest.fixture(scope="module")
def partial(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("partial")
    landing = base / "landing"
    landing.mkdir()
    (landing / "chatOnline.jsonl").write_text(
        "".join(json.dumps(chat_record(s, e, m), ensure_ascii=False) + "\n" for m, s, e in CHAT), encoding="utf-8")
    write_csv(landing / "email.csv", EMAIL_HEADER, [email_row(s, e, m) for m, s, e in EMAIL])
    good = [whatsapp_row(s, minutes, m) for m, s, minutes in WHATSAPP]
    bad = whatsapp_row(D(2023, 3, 1, 0, 8), 10, "dora@x.com")
    bad[0] = IMPOSSIBLE
    write_csv(landing / "Whatsapp.csv", WHATSAPP_HEADER, [good[0], bad, good[1]])
    cfg = config(base, landing)
    report = run(cfg, spark=spark, pipeline="customer_experience", as_of=AS_OF)
    return {"cfg": cfg, "report": report, "paths": LakePaths(cfg.lake.root)}


def test_partial_delivery_runs_to_the_end(partial):
    report = partial["report"]
    assert report.quarantined_files == []
    by_table = {(c.layer, c.table): c for c in report.counts}
    # The URA has no file: an empty channel in bronze and silver, not an error.
    assert (by_table["bronze", "ura"].rows_in, by_table["silver", "ura"].rows_in) == (0, 0)
    got = {t: (by_table["silver", t].rows_in, by_table["silver", t].written, by_table["silver", t].quarantined)
           for t in ("chat", "email", "whatsapp", "interactions")}
    assert got == {"chat": (2, 2, 0), "email": (2, 2, 0), "whatsapp": (3, 2, 1), "interactions": (6, 6, 0)}
    assert ("gold", "fact_interaction") in by_table


def test_three_row_file_with_an_impossible_date(spark, partial):
    paths = partial["paths"]
    facts = gold_interactions(spark, paths).where("channel = 'whatsapp'").select("customer_email", fmt("started_at").alias("s"))
    assert Counter(map(tuple, facts.collect())) == Counter((m, f"{s:%Y-%m-%d %H:%M:%S}") for m, s, _ in WHATSAPP)
    quarantined = delta_io.read_table(spark, paths.quarantine("whatsapp")).collect()
    assert [(r["E-mail"], r["Inicio da conversa"]) for r in quarantined] == [("dora@x.com", IMPOSSIBLE)]
    assert "started_at_unparseable" in rules(quarantined[0])
    reason = [e for e in quarantined[0]["_errors"] if e["rule"] == "started_at_unparseable"][0]
    assert "Inicio da conversa" in reason["expr"] and "M/d/yy H:mm" in reason["expr"]


def test_partial_delivery_answers_from_what_it_has(spark, partial):
    paths = partial["paths"]
    at = D.fromisoformat(AS_OF)
    rows = expected_interactions()

    contacts = Counter(m for m, _, s in rows if at - dt.timedelta(hours=24) < s <= at)
    got = delta_io.read_table(spark, paths.gold("answer_contacts_24h")).collect()
    assert Counter({r["customer_email"]: r["contacts"] for r in got}) == contacts
    assert len(got) == len(contacts)

    per_channel = Counter((m, c) for m, c, s in rows if s <= at)
    got = delta_io.read_table(spark, paths.gold("answer_interactions_by_channel")).collect()
    assert Counter({(r["customer_email"], r["channel"]): r["interactions"] for r in got}) == per_channel
    assert len(got) == len(per_channel)

    last = {}
    for m, c, s in sorted(rows, key=lambda r: r[2]):
        last[m] = (c, f"{s:%Y-%m-%d %H:%M:%S}")
    got = delta_io.read_table(spark, paths.gold("answer_last_interaction")).select(
        "customer_email", "channel", fmt("started_at").alias("s")).collect()
    assert Counter((r["customer_email"], r["channel"], r["s"]) for r in got) == Counter((m, c, s) for m, (c, s) in last.items())


def test_a_delivery_without_any_file_yields_empty_tables(spark, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    cfg = config(tmp_path, landing)
    report = run(cfg, spark=spark, pipeline="customer_experience", as_of=AS_OF)
    assert all(c.rows_in == 0 for c in report.counts if c.layer in ("bronze", "silver")), report.counts
    paths = LakePaths(cfg.lake.root)
    assert delta_io.read_table(spark, paths.silver("interactions")).count() == 0
    for name in ("fact_interaction", "answer_contacts_24h", "answer_interactions_by_channel", "answer_last_interaction"):
        assert delta_io.read_table(spark, paths.gold(name)).count() == 0, name


# --------------------------------------------------------------------------- a refuted file, through the CLI


def test_refuted_file_is_quarantined_whole_and_the_run_exits_5(spark, tmp_path, capsys):
    landing = tmp_path / "landing"
    landing.mkdir()
    good = [whatsapp_row(D(2023, 3, 1, 20, 0), 30, "bruno@x.com"), whatsapp_row(D(2023, 2, 28, 7, 0), 120, "carla@x.com")]
    write_csv(landing / "Whatsapp_a.csv", WHATSAPP_HEADER, good)
    # Readable dates whose stated weekday is always the day before: every reading is refuted.
    wrong = [whatsapp_row(D(2023, 3, 6, 10, 0), 10, "dora@x.com"), whatsapp_row(D(2023, 3, 7, 10, 0), 10, "eva@x.com")]
    for r in wrong:
        r[4] = str((int(r[4]) - 2) % 7 + 1)
    write_csv(landing / "Whatsapp_b.csv", WHATSAPP_HEADER, wrong)
    write_csv(landing / "email.csv", EMAIL_HEADER, [email_row(D(2023, 3, 2, 11, 0), D(2023, 3, 2, 15, 0), "ana@x.com")])
    root = tmp_path / "lake"
    # The console script's entry point, in this process (the CLI reuses the active Spark session).
    code = cli.main(["run", "--config", str(CONF), "--pipeline", "customer_experience", "--lake-root", str(root),
                     "--landing", str(landing), "--as-of", AS_OF])
    err = capsys.readouterr().err
    assert code == cli.EXIT_QUARANTINED_FILES == 5, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("lake: completed with quarantined files: whatsapp: ")
    assert "Whatsapp_b.csv (format_refuted:whatsapp_weekday)" in last and "Whatsapp_a.csv" not in last

    paths = LakePaths(str(root))
    quarantined = delta_io.read_table(spark, paths.quarantine("whatsapp")).collect()
    assert Counter((r["E-mail"], os.path.basename(r["_source_file"])) for r in quarantined) == Counter(
        {("dora@x.com", "Whatsapp_b.csv"): 1, ("eva@x.com", "Whatsapp_b.csv"): 1})
    assert all(rules(r) == ["format_refuted:whatsapp_weekday"] for r in quarantined), [rules(r) for r in quarantined]
    assert "readable rows agree" in quarantined[0]["_errors"][0]["expr"]
    # The other file of the table and the other tables went on to silver and gold.
    silver = delta_io.read_table(spark, paths.silver("whatsapp")).collect()
    assert Counter(r["customer_email"] for r in silver) == Counter(["bruno@x.com", "carla@x.com"])
    facts = gold_interactions(spark, paths).collect()
    assert Counter((r["customer_email"], r["channel"]) for r in facts) == Counter(
        [("bruno@x.com", "whatsapp"), ("carla@x.com", "whatsapp"), ("ana@x.com", "email")])


def test_exit_codes_are_in_the_help(capsys):
    assert cli.main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "5 completed with quarantined files" in out


# --------------------------------------------------------------------------- 100 000 rows, 1% garbage


GARBAGE_OVERLAY = textwrap.dedent(
    """
    # Invalid e-mails are kept (unknown customer) by default; this delivery's contract
    # quarantines them instead: YAML only.
    silver:
      whatsapp:
        columns:
          customer_email: {type: email, source: E-mail, reason: true}
        expectations:
          - {name: started_at_parsed, expr: "started_at IS NOT NULL", action: quarantine}
          - {name: ended_not_before_started, expr: "ended_at IS NULL OR ended_at >= started_at", action: quarantine}
          - {name: customer_email_valid, expr: "customer_email_problem IS NULL", action: quarantine}
    """
)
ROWS = 100_000


def garbage_file(path: Path, rows: int) -> dict[int, str]:
    """A WhatsApp file of ``rows`` distinct rows; every 100th (1%) is garbage of one of three
    kinds. Row ``i``'s e-mail carries ``i``. Returns ``{i: kind}`` of the garbage rows."""
    start0 = D(2023, 1, 1, 0, 0)
    garbage: dict[int, str] = {}
    out = []
    for i in range(rows):
        row = whatsapp_row(start0 + dt.timedelta(minutes=i), 1 + i % 90, f"c{i}@x.com")
        if i % 100 == 37:
            kind = ("date", "email", "duration")[(i // 100) % 3]
            garbage[i] = kind
            if kind == "date":
                row[0] = f"{13 + i % 7}/{32 + i % 20}/23 {i % 24}:{i % 60:02d}"   # month > 12, day > 31
            elif kind == "email":
                row[6] = f"c{i}.x.com"                                           # no @
            else:
                row[3] = f"{i % 24}:7{i % 10}:00"                                # minutes >= 60
        out.append(row)
    write_csv(path, WHATSAPP_HEADER, out)
    return garbage


def test_100k_rows_with_1_percent_garbage(spark, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    garbage = garbage_file(landing / "Whatsapp.csv", ROWS)
    assert Counter(garbage.values()) == {"date": 334, "email": 333, "duration": 333}
    conf = tmp_path / "conf"
    conf.mkdir()
    shutil.copy(CONF, conf / "lake.yml")
    (conf / "lake.local.yml").write_text(GARBAGE_OVERLAY, encoding="utf-8")
    cfg = config(tmp_path, landing, conf / "lake.yml")
    # Bronze and silver, where the garbage is sorted out (gold over 99 000 rows would only add time).
    for layer in ("bronze", "silver"):
        report = run(cfg, spark=spark, pipeline="customer_experience", layer=layer)
        assert report.quarantined_files == [] and report.reconciles
    paths = LakePaths(cfg.lake.root)

    def number(text: str) -> int:
        return int(re.match(r"c(\d+)", text).group(1))

    quarantined = delta_io.read_table(spark, paths.quarantine("whatsapp")).select(
        "E-mail", F.transform("_errors", lambda e: e["rule"]).alias("rules")).collect()
    assert Counter(number(r["E-mail"]) for r in quarantined) == Counter(list(garbage))
    reason = {"date": "started_at_unparseable", "email": "customer_email_valid", "duration": "handle_seconds_unparseable"}
    assert all(reason[garbage[number(r["E-mail"])]] in r["rules"] for r in quarantined)
    silver = delta_io.read_table(spark, paths.silver("whatsapp")).select("customer_email").collect()
    assert Counter(number(r["customer_email"]) for r in silver) == Counter(i for i in range(ROWS) if i not in garbage)
