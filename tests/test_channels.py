"""A fifth channel is YAML only: a new source, a new silver table and a `channels:` entry,
written beside a copy of conf/lake.yml, flow through silver, the star and the three answers
with no code change. Expected values are worked out here from the inline rows."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lake import delta_io
from lake.config import load_config
from lake.gold.answers import interactions_pivot, last_interaction
from lake.gold.functions import format_local
from lake.paths import LakePaths
from lake.pipeline import run

CONF = Path(__file__).resolve().parents[1] / "conf" / "lake.yml"
AS_OF = "2023-03-02 12:00:00"
TZ = "America/Sao_Paulo"  # conf/lake.yml's zone: the rows' times are wall-clock times there
D = dt.datetime

#: The fifth channel, as an operator would add it (docs/configuration.md, "How to add a
#: channel"): it ranks between phone and chat, so chat, whatsapp and e-mail move down one.
FIFTH = textwrap.dedent(
    """
    channels:
      app_chat: {key: 5, priority: 2}
      chat: {priority: 3}
      whatsapp: {priority: 4}
      email: {priority: 5}
    sources:
      app_chat:
        kind: files
        pipeline: customer_experience
        patterns: ["AppChat*"]
        format: json
        columns: [id, inicio, fim, cliente, atendente]
    silver:
      app_chat:
        source: app_chat
        pipeline: customer_experience
        channel: app_chat
        keys: [interaction_id]
        columns:
          interaction_id: {type: string, expr: "concat('x-app-', id)"}
          started_at: {type: timestamp, source: inicio, formats: ["yyyy-MM-dd HH:mm:ss"]}
          ended_at: {type: timestamp, source: fim, formats: ["yyyy-MM-dd HH:mm:ss"]}
          customer_email: {type: email, source: cliente}
          agent: {type: name, source: atendente, whitespace: single_line}
        expectations:
          - {name: started_at_parsed, expr: "started_at IS NOT NULL", action: quarantine}
    """
)
#: (e-mail, channel, start, end). bruno's two contacts tie on start and end: the configured
#: priority (app_chat 2 before chat 3) decides, against the next tie-break (the smallest
#: interaction_id: chat's, a hex digest, sorts before 'x-app-...'); ana's latest is in the
#: new channel, carla's is not.
ROWS = [
    ("ana@x.com", "chat", D(2023, 3, 1, 10, 0), D(2023, 3, 1, 10, 20)),
    ("ana@x.com", "app_chat", D(2023, 3, 2, 9, 0), D(2023, 3, 2, 9, 10)),
    ("bruno@x.com", "chat", D(2023, 3, 1, 14, 0), D(2023, 3, 1, 14, 30)),
    ("bruno@x.com", "app_chat", D(2023, 3, 1, 14, 0), D(2023, 3, 1, 14, 30)),
    ("carla@x.com", "app_chat", D(2023, 2, 28, 8, 0), D(2023, 2, 28, 8, 5)),
    ("carla@x.com", "chat", D(2023, 3, 1, 9, 0), D(2023, 3, 1, 9, 10)),
]
WANT_CHANNELS = {  # dim_channel: (key, name, priority)
    (-1, "unknown", 99), (1, "phone", 1), (2, "chat", 3), (3, "whatsapp", 4), (4, "email", 5), (5, "app_chat", 2),
}
WANT_LAST = {"ana@x.com": "app_chat", "bruno@x.com": "app_chat", "carla@x.com": "chat"}


def _ts(value: dt.datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


@pytest.fixture(scope="module")
def fifth(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("fifth-channel")
    conf = base / "conf"
    conf.mkdir()
    shutil.copy(CONF, conf / "lake.yml")
    (conf / "lake.local.yml").write_text(FIFTH, encoding="utf-8")  # merged key by key
    landing = base / "landing"
    landing.mkdir()
    chat = [{"Data da conversa (Inicio)": f"{s:%d/%m/%Y %H:%M}", "Data da conversa (Fim)": f"{e:%d/%m/%Y %H:%M}",
             "Semana": s.isoweekday(), "Agente": "Antônia", "Visitor_Email": m,
             "Feedback_Response_Additional": "ok", "Feedback_Average": 9, "Atendido": "Sim"}
            for m, c, s, e in ROWS if c == "chat"]
    app = [{"id": str(i), "inicio": _ts(s), "fim": _ts(e), "cliente": m, "atendente": "Bot"}
           for i, (m, c, s, e) in enumerate(ROWS) if c == "app_chat"]
    for name, records in (("chatOnline.jsonl", chat), ("AppChat.jsonl", app)):
        (landing / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    cfg = load_config(conf / "lake.yml").with_overrides(root=str(base / "lake"), landing=str(landing))
    report = run(cfg, spark=spark, pipeline="customer_experience", as_of=AS_OF)
    return {"cfg": cfg, "report": report, "paths": LakePaths(cfg.lake.root)}


def test_fifth_channel_reaches_silver_and_the_star(spark, fifth):
    report, paths = fifth["report"], fifth["paths"]
    assert report.reconciles
    silver = {c.table: c for c in report.counts if c.layer == "silver"}
    n_app = sum(1 for r in ROWS if r[1] == "app_chat")
    assert (silver["app_chat"].rows_in, silver["app_chat"].written) == (n_app, n_app)
    assert silver["interactions"].written == len(ROWS)
    inter = delta_io.read_table(spark, paths.silver("interactions"))
    got = inter.select("customer_email", "channel", format_local("started_at", TZ))
    assert Counter(map(tuple, got.collect())) == Counter((m, c, _ts(s)) for m, c, s, _ in ROWS)

    dim = delta_io.read_table(spark, paths.gold("dim_channel")).collect()
    assert Counter(tuple(r) for r in dim) == Counter(WANT_CHANNELS)
    fact = delta_io.read_table(spark, paths.gold("fact_interaction"))
    keys = Counter((r.source_table, r.channel_key) for r in fact.collect())
    assert keys == Counter({("app_chat", 5): n_app, ("chat", 2): len(ROWS) - n_app})  # never -1


def test_fifth_channel_in_the_three_answers(spark, fifth):
    paths = fifth["paths"]
    at = D(2023, 3, 2, 12, 0)

    def table(name):
        df = delta_io.read_table(spark, paths.gold(name)).drop("as_of")
        ts = [format_local(f.name, TZ).alias(f.name) if f.dataType.typeName() == "timestamp" else F.col(f.name)
              for f in df.schema.fields]
        return Counter(map(tuple, df.select(*ts).collect()))

    window = Counter(m for m, _, s, _ in ROWS if at - dt.timedelta(hours=24) < s <= at)
    assert table("answer_contacts_24h") == Counter(window.items())
    groups: dict[tuple[str, str], list[dt.datetime]] = {}
    for m, c, s, _ in ROWS:
        groups.setdefault((m, c), []).append(s)
    assert table("answer_interactions_by_channel") == Counter(
        (m, c, len(v), _ts(min(v)), _ts(max(v))) for (m, c), v in groups.items())
    latest = {m: max(s for mm, _, s, _ in ROWS if mm == m) for m in WANT_LAST}
    assert table("answer_last_interaction") == Counter((m, c, _ts(latest[m])) for m, c in WANT_LAST.items())


def test_dataframe_answers_take_the_configured_channels(spark, fifth):
    cfg, paths = fifth["cfg"], fifth["paths"]
    silver = delta_io.read_table(spark, paths.silver("interactions"))
    channels = cfg.channels.values()
    last = last_interaction(silver, as_of=AS_OF, timezone=cfg.lake.timezone, channels=channels)
    assert {r.customer_email: r.channel for r in last.collect()} == WANT_LAST
    pivot = interactions_pivot(silver, channels=channels, as_of=AS_OF, timezone=cfg.lake.timezone)
    assert pivot.columns == ["customer_email", "phone", "app_chat", "chat", "whatsapp", "email", "total"]
    per = {m: Counter(c for mm, c, _, _ in ROWS if mm == m) for m in WANT_LAST}
    assert Counter(map(tuple, pivot.collect())) == Counter(
        (m, *[n[c] for c in pivot.columns[1:-1]], sum(n.values())) for m, n in per.items())
    with pytest.raises(ValueError, match="channels"):
        last_interaction(silver, as_of=AS_OF)
