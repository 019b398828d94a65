"""Hand-built bronze tables (schema of docs/contracts.md) for the silver tests."""

from __future__ import annotations

import datetime as dt
import hashlib

from lake import delta_io

#: The real sample rows of ../shared/seeds/000_*.txt, as bronze strings.
SEED_ROWS = {
    "ura": {
        "data": "01/08/2019", "Semana": "Tuesday", "Horário": "08:15:27", "fila_descricao": "Dúvidas Gerais",
        "Agente": "Antônia", "Status": "Atendida", "DDD": "71", "telefone": "7199999999", "Estado": "Bahia",
        "cliente_nome": "Paulo Rodrigues", "email": "paulorodrigues@email.com", "fila_de_atendimento": "Sim",
        "duracao_espera_fila": "00:00:09", "duracao_atendimento": "00:01:44", "duracao_total_da_chamada": "00:02:31",
        "classificacao": "Dúvida", "sub_classificacao": "Embarque|Desembarque fora rodoviária",
    },
    "chat": {
        "Data da conversa (Inicio)": "10/06/2019 14:18", "Data da conversa (Fim)": "10/06/2019 14:18", "Semana": "1",
        "Agente": "Antônia", "Visitor_Email": "paulorodrigues@email.com",
        "Feedback_Response_Additional": "atendimento pessimo", "Feedback_Average": "1", "Atendido": "Sim",
    },
    "whatsapp": {
        "Inicio da conversa": "9/30/19 0:08", "Fim da conversa (duração)": "10/01/2019 14:08",
        "Fim da conversa (finalizado?)": "10/01/2019 14:08", "Tempo duração atendimento": "38:00:00",
        "Semana": "1", "Finalizado?": "Sim", "E-mail": "paulorodrigues@email.com",
    },
    "email": {
        "Origem do caso": "Site", "Loja": "ClickBus", "Semana": "1", "Data/Hora de abertura": "9/30/19 0:28",
        "Data/Hora de fechamento": "9/30/19 16:41", "Sub Classificação": "Dúvida",
        "Classificação": "Falha na finalizacao da compra", "Email do cliente": "paulorodrigues@email.com",
    },
}

LINEAGE_DDL = (
    "_row_id string, _source_file string, _file_hash string, _file_modified_at timestamp, "
    "_record_index long, _ingested_at timestamp, _run_id string, _is_malformed boolean, "
    "_malformed_reason string, _raw string, _rescued_data string, _missing_columns array<string>"
)


def bronze_df(spark, source: str, columns, rows, *, file="/landing/f1", run_id="r1",
              ingested_at=dt.datetime(2024, 1, 1, 12, 0, 0), start=0):
    """Bronze file rows: ``rows`` are dicts of column -> string (missing -> null); a dict may
    carry ``_malformed=True``, ``_file``, ``_ingested_at``, ``_index``."""
    schema = ", ".join(f"`{c}` string" for c in columns) + ", " + LINEAGE_DDL
    data = []
    for i, r in enumerate(rows, start=start):
        f = r.get("_file", file)
        idx = r.get("_index", i)
        rid = hashlib.sha256(f"{source}|{f}|{idx}".encode()).hexdigest()
        bad = bool(r.get("_malformed", False))
        data.append(tuple(None if bad else r.get(c) for c in columns) + (
            rid, f, "h-" + f, ingested_at, idx, r.get("_ingested_at", ingested_at), run_id, bad,
            "broken JSON" if bad else None, "{oops" if bad else None, None, []))
    return spark.createDataFrame(data, schema)


def jdbc_df(spark, source: str, ddl: str, rows, *, run_id="r1", ingested_at=dt.datetime(2024, 1, 1, 12, 0, 0)):
    """Bronze JDBC rows (typed columns); ``_row_id`` is sha2 of ``source | first column``."""
    schema = ddl + ", _row_id string, _source_table string, _ingested_at timestamp, _run_id string"
    data = [tuple(r) + (hashlib.sha256(f"{source}|{r[0]}".encode()).hexdigest(), source, ingested_at, run_id) for r in rows]
    return spark.createDataFrame(data, schema)


def write_bronze(spark, paths, source, df):
    delta_io.append(spark, df, paths.bronze(source))
