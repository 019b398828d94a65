"""Bronze file ingestion: every shape and encoding, lineage, malformed rows, drift, exactly once."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os

import pytest
from pyspark.sql import functions as F

from lake import delta_io
from lake.bronze import IngestResult, ingest_files, reload_source
from lake.config import CsvOptions, DriftPolicy, FileFormat, FileSource, JsonShape, Pipeline, load_config
from lake.errors import SourceError
from lake.paths import LakePaths

URA_COLS = ("data", "Semana", "Horário", "DDD", "telefone", "email", "sub_classificacao")
WA_COLS = ("Inicio da conversa", "Fim da conversa (duração)", "Semana", "Finalizado?", "E-mail")


def _json_source(**kw) -> FileSource:
    base = dict(pipeline=Pipeline.CUSTOMER_EXPERIENCE, patterns=("uratelefonica*",), format=FileFormat.JSON,
                columns=URA_COLS, name="ura")
    base.update(kw)
    return FileSource(**base)


def _csv_source(**kw) -> FileSource:
    base = dict(pipeline=Pipeline.CUSTOMER_EXPERIENCE, patterns=("Whatsapp*",), format=FileFormat.CSV,
                columns=WA_COLS, name="whatsapp")
    base.update(kw)
    return FileSource(**base)


def _write(folder, name: str, data: bytes | str, encoding: str = "utf-8") -> str:
    path = os.path.join(str(folder), name)
    with open(path, "wb") as fh:
        fh.write(data if isinstance(data, bytes) else data.encode(encoding))
    return os.path.abspath(path)


def _sha(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _rows(spark, root, source, cols):
    df = delta_io.read_table(spark, LakePaths(root).bronze(source))
    return sorted((tuple(r) for r in df.select(*[F.col(f"`{c}`") for c in cols]).collect()), key=repr)


URA_1 = {"data": "01/08/2019", "Semana": "Tuesday", "Horário": "08:15:27", "DDD": 71, "telefone": 7199999999,
         "email": "paulo@email.com", "sub_classificacao": "Embarque|Desembarque"}
URA_2 = {"data": "01/09/2019", "Semana": "Wednesday", "Horário": "9:01", "DDD": 11, "telefone": 11988887777,
         "email": "ana@email.com", "sub_classificacao": "Cancelamento"}


@pytest.fixture()
def landing(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def test_json_three_shapes_numbers_as_text_and_lineage(spark, lake_root, landing):
    pretty = _write(landing, "UraTelefonica.jsonl", json.dumps(URA_1, indent=2, ensure_ascii=False))
    lines = _write(landing, "uratelefonica_lines.json",
                   json.dumps(URA_1, ensure_ascii=False) + "\n\n" + json.dumps(URA_2, ensure_ascii=False) + "\r\n")
    array = _write(landing, "URATELEFONICA_array.json", json.dumps([URA_2, URA_1], indent=1, ensure_ascii=False))
    _write(landing, "chatOnline.jsonl", "{}")  # another channel: not matched
    paths = LakePaths(lake_root)
    res = ingest_files(spark, _json_source(), str(landing), paths, "run-1")
    # the oldest file's modification time, as the filesystem gives it (milliseconds)
    oldest_ms = min(os.stat(f).st_mtime_ns // 1_000_000 for f in (pretty, lines, array))
    oldest = datetime.datetime.fromtimestamp(oldest_ms / 1000, datetime.timezone.utc)
    assert res == IngestResult("ura", files_seen=3, files_ingested=3, duplicates=0, rows_in=5, rows_written=5,
                               malformed=0, oldest_modified=oldest)

    got = _rows(spark, lake_root, "ura", ["_source_file", "_record_index", *URA_COLS])
    expected = []
    for path, recs in ((pretty, [URA_1]), (lines, [URA_1, URA_2]), (array, [URA_2, URA_1])):
        for i, r in enumerate(recs):
            expected.append((path, i, *[str(r[c]) for c in URA_COLS]))
    assert got == sorted(expected, key=repr)

    df = delta_io.read_table(spark, paths.bronze("ura"))
    assert df.columns == [*URA_COLS, "_row_id", "_source_file", "_file_hash", "_file_modified_at", "_record_index",
                          "_ingested_at", "_run_id", "_is_malformed", "_malformed_reason", "_raw", "_rescued_data",
                          "_missing_columns"]
    lineage = df.select("_row_id", "_source_file", "_file_hash", "_record_index", "_run_id", "_is_malformed",
                        "_rescued_data", "_missing_columns", "_raw", "_file_modified_at").collect()
    for r in lineage:
        assert r["_file_hash"] == _sha(r["_source_file"])
        assert r["_row_id"] == hashlib.sha256(f"ura|{r['_file_hash']}|{r['_record_index']}".encode()).hexdigest()
        assert r["_run_id"] == "run-1" and r["_is_malformed"] is False
        assert r["_rescued_data"] is None and r["_missing_columns"] == []
        assert json.loads(r["_raw"])["DDD"] in (71, 11)
        assert abs(r["_file_modified_at"].timestamp() - os.stat(r["_source_file"]).st_mtime) < 1
    # the lines file's DDD/telefone kept as the JSON text
    assert ("71", "7199999999") in {(r[0], r[1]) for r in df.select("DDD", "telefone").collect()}

    log = delta_io.read_table(spark, paths.system("ingest_log")).select("path", "status", "rows").collect()
    assert sorted(tuple(r) for r in log) == sorted([(pretty, "ingested", 1), (lines, "ingested", 2), (array, "ingested", 2)])


def test_json_malformed_records_kept_with_raw_text(spark, lake_root, landing):
    good = json.dumps(URA_1, ensure_ascii=False)
    lines = _write(landing, "UraTelefonica_1.json",
                   good.encode() + b'\n{"data": "01/08/2019", "Semana": \n' + b'{"email": "x\xff@y.com"}\n' + b"[1, 2]\n")
    broken_obj = _write(landing, "UraTelefonica_2.json", '{\n  "data": "02/08/2019",\n  "Semana": "Fri"\n')
    broken_arr = _write(landing, "UraTelefonica_3.json", '[{"data": "1"}, {"data": ')
    res = ingest_files(spark, _json_source(), str(landing), LakePaths(lake_root), "r")
    assert (res.rows_in, res.rows_written, res.malformed) == (6, 6, 5)
    got = _rows(spark, lake_root, "ura", ["_source_file", "_record_index", "_is_malformed", "_malformed_reason", "_raw", "data"])
    assert len(got) == 6
    by_key = {(r[0], r[1]): r[2:] for r in got}
    assert by_key[(lines, 0)] == (False, None, good, "01/08/2019")
    assert by_key[(lines, 1)] == (True, "broken JSON", '{"data": "01/08/2019", "Semana": ', None)
    assert by_key[(lines, 2)][:2] == (True, "undecodable bytes") and by_key[(lines, 2)][2] == '{"email": "x\ufffd@y.com"}'
    assert by_key[(lines, 3)] == (True, "not a JSON object", "[1, 2]", None)
    assert by_key[(broken_obj, 0)] == (True, "broken JSON", '{\n  "data": "02/08/2019",\n  "Semana": "Fri"\n', None)
    assert by_key[(broken_arr, 0)] == (True, "broken JSON", '[{"data": "1"}, {"data": ', None)


CSV_HEADER = ["E-mail", "Inicio da conversa", "Fim da conversa (duração)", "Semana", "Finalizado?"]
CSV_ROWS = [
    ["paulo@email.com", "9/30/19 0:08", "10/01/2019 14:08", "1", "Sim"],
    ["ana, maria@email.com", "9/30/19 1:00", 'diz "oi"', "2", "Não"],
    ["jo@email.com", "  9/30/19 2:00 ", "linha1\nlinha2", "3", "Não"],
]


def _csv_text(header, rows, newline="\n", delimiter=","):
    def q(v):
        if any(ch in v for ch in (delimiter, '"', "\n", "\r")):
            return '"' + v.replace('"', '""') + '"'
        return v
    return newline.join(delimiter.join(q(v) for v in row) for row in [header, *rows]) + newline


@pytest.mark.parametrize(
    "encoding,newline,delimiter,py_encoding",
    [("utf-8", "\n", ",", "utf-8"), ("utf-8", "\r\n", ";", "utf-8-sig"), ("latin-1", "\r\n", ",", "latin-1"),
     ("cp1252", "\n", "|", "cp1252")],
)
def test_csv_encodings_line_endings_quoting_by_header_name(spark, lake_root, landing, encoding, newline, delimiter, py_encoding):
    path = _write(landing, "WHATSAPP.csv", _csv_text(CSV_HEADER, CSV_ROWS, newline, delimiter), py_encoding)
    src = _csv_source(csv=CsvOptions(delimiter=delimiter, encoding=encoding))
    res = ingest_files(spark, src, str(landing), LakePaths(lake_root), "r")
    assert (res.rows_in, res.rows_written, res.malformed) == (3, 3, 0)
    got = _rows(spark, lake_root, "whatsapp", ["_record_index", *WA_COLS, "_is_malformed", "_missing_columns"])
    idx = {c: CSV_HEADER.index(c) for c in WA_COLS}
    expected = [(i, *[row[idx[c]] for c in WA_COLS], False, []) for i, row in enumerate(CSV_ROWS)]
    assert got == sorted(expected, key=repr)


def test_csv_malformed_missing_and_undecodable(spark, lake_root, landing):
    body = ("E-mail,Inicio da conversa,Semana,Finalizado?\n"  # no 'Fim da conversa (duração)'
            "a@x.com,9/30/19 0:08,1,Sim\n"
            "b@x.com,9/30/19 0:09,2\n"  # too few fields
            "c@x.com,9/30/19 0:10,3,Sim,extra\n").encode() + b"d\xe9@x.com,9/30/19 0:11,4,N\xe3o\n"  # latin-1 in utf-8
    path = _write(landing, "Whatsapp_bad.csv", body)
    res = ingest_files(spark, _csv_source(), str(landing), LakePaths(lake_root), "r")
    assert (res.rows_in, res.rows_written, res.malformed) == (4, 4, 3)
    got = _rows(spark, lake_root, "whatsapp", ["_record_index", "E-mail", "_is_malformed", "_malformed_reason", "_raw", "_missing_columns"])
    assert got[0] == (0, "a@x.com", False, None, None, ["Fim da conversa (duração)"])
    assert got[1] == (1, "b@x.com", True, "wrong field count", "b@x.com,9/30/19 0:09,2", ["Fim da conversa (duração)"])
    assert got[2] == (2, "c@x.com", True, "wrong field count", "c@x.com,9/30/19 0:10,3,Sim,extra", ["Fim da conversa (duração)"])
    assert got[3][:4] == (3, "d\ufffd@x.com", True, "undecodable bytes") and "d\ufffd@x.com" in got[3][4]
    fim = delta_io.read_table(spark, LakePaths(lake_root).bronze("whatsapp")).select("`Fim da conversa (duração)`").collect()
    assert [r[0] for r in fim] == [None] * 4


def test_second_run_new_file_and_duplicate_content(spark, lake_root, landing):
    paths = LakePaths(lake_root)
    src = _csv_source()
    first = _write(landing, "Whatsapp.csv", _csv_text(CSV_HEADER, CSV_ROWS[:2]))
    r1 = ingest_files(spark, src, str(landing), paths, "r1")
    assert (r1.files_ingested, r1.rows_written) == (1, 2)
    r2 = ingest_files(spark, src, str(landing), paths, "r2")
    assert (r2.files_seen, r2.files_ingested, r2.rows_in, r2.rows_written, r2.duplicates) == (1, 0, 0, 0, 0)
    copy = _write(landing, "whatsapp_copy.csv", open(first, "rb").read())
    later = _write(landing, "Whatsapp_2019-10-02.csv", _csv_text(CSV_HEADER, CSV_ROWS[2:]))
    _write(landing, "Whatsapp_empty.csv", "")
    r3 = ingest_files(spark, src, str(landing), paths, "r3")
    assert (r3.files_seen, r3.files_ingested, r3.duplicates, r3.empty, r3.rows_written) == (4, 1, 1, 1, 1)
    df = delta_io.read_table(spark, paths.bronze("whatsapp"))
    assert sorted(tuple(r) for r in df.groupBy("_source_file", "_run_id").count().collect()) == sorted(
        [(first, "r1", 2), (later, "r3", 1)])
    assert df.select("_row_id").distinct().count() == 3
    log = delta_io.read_table(spark, paths.system("ingest_log")).select("path", "status", "rows", "run_id").collect()
    assert sorted(tuple(r) for r in log) == sorted([
        (first, "ingested", 2, "r1"), (copy, "duplicate", 0, "r3"), (later, "ingested", 1, "r3"),
        (os.path.abspath(os.path.join(landing, "Whatsapp_empty.csv")), "empty", 0, "r3")])
    r4 = ingest_files(spark, src, str(landing), paths, "r4")
    assert (r4.files_ingested, r4.rows_written) == (0, 0)
    assert delta_io.read_table(spark, paths.system("ingest_log")).count() == 4

    # dedupe off: the copy is ingested as its own file
    r5 = ingest_files(spark, dataclasses.replace(src, dedupe_content=False), str(landing), paths, "r5")
    assert (r5.files_ingested, r5.rows_written) == (1, 2)
    assert delta_io.read_table(spark, paths.bronze("whatsapp")).select("_row_id").distinct().count() == 5


def test_drift_policies(spark, lake_root, landing):
    paths = LakePaths(lake_root)
    rec = dict(URA_1, novo_campo="x", outro=5)
    path = _write(landing, "UraTelefonica.json", json.dumps(rec))
    with pytest.raises(SourceError) as err:
        ingest_files(spark, _json_source(drift=DriftPolicy.FAIL), str(landing), paths, "r")
    assert "'ura'" in str(err.value) and path in str(err.value) and "novo_campo, outro" in str(err.value)
    assert not delta_io.table_exists(spark, paths.bronze("ura"))

    ingest_files(spark, _json_source(drift=DriftPolicy.RESCUE), str(landing), paths, "r")
    row = delta_io.read_table(spark, paths.bronze("ura")).first()
    assert json.loads(row["_rescued_data"]) == {"novo_campo": "x", "outro": "5"}

    root2 = LakePaths(lake_root + "/evolve")
    ingest_files(spark, _json_source(drift=DriftPolicy.EVOLVE, columns=URA_COLS + ("faltando",)), str(landing), root2, "r")
    df = delta_io.read_table(spark, root2.bronze("ura"))
    assert df.columns[-2:] == ["novo_campo", "outro"]
    row = df.first()
    assert (row["novo_campo"], row["outro"], row["faltando"], row["_missing_columns"], row["_rescued_data"]) == (
        "x", "5", None, ["faltando"], None)
    # a later file with yet another column evolves the table again; earlier rows get null
    _write(landing, "UraTelefonica_2.json", json.dumps(dict(URA_2, terceiro="t")))
    ingest_files(spark, _json_source(drift=DriftPolicy.EVOLVE, columns=URA_COLS + ("faltando",)), str(landing), root2, "r2")
    got = sorted((r["email"], r["novo_campo"], r["terceiro"]) for r in delta_io.read_table(spark, root2.bronze("ura")).collect())
    assert got == [("ana@email.com", None, "t"), ("paulo@email.com", "x", None)]

    # CSV: header with an extra column
    _write(landing, "Whatsapp.csv", _csv_text(CSV_HEADER + ["Loja"], [CSV_ROWS[0] + ["Clickbus"]]))
    with pytest.raises(SourceError, match="Loja"):
        ingest_files(spark, _csv_source(drift=DriftPolicy.FAIL), str(landing), paths, "r")
    ingest_files(spark, _csv_source(), str(landing), paths, "r")
    row = delta_io.read_table(spark, paths.bronze("whatsapp")).first()
    assert json.loads(row["_rescued_data"]) == {"Loja": "Clickbus"}


def test_full_reload_replaces_source_from_landing(spark, lake_root, landing, tmp_path):
    paths = LakePaths(lake_root)
    _write(landing, "Whatsapp.csv", _csv_text(CSV_HEADER, CSV_ROWS[:1]))
    b = _write(landing, "Whatsapp_b.csv", _csv_text(CSV_HEADER, CSV_ROWS[1:]))
    cfg = load_config("conf/lake.yml").with_overrides(landing=str(landing), root=lake_root)
    ingest_files(spark, cfg.sources["whatsapp"], str(landing), paths, "r1")
    os.remove(b)
    res = reload_source(spark, cfg, "whatsapp", paths, "r2")
    assert (res.files_ingested, res.rows_written) == (1, 1)
    df = delta_io.read_table(spark, paths.bronze("whatsapp"))
    assert [tuple(r) for r in df.select("_run_id", "E-mail").collect()] == [("r2", "paulo@email.com")]
    assert [r["status"] for r in delta_io.read_table(spark, paths.system("ingest_log")).collect()] == ["ingested"]


def test_files_read_by_several_tasks_keep_file_ordinals(spark, lake_root, landing):
    """JSON Lines and CSV without quoted line breaks are split across tasks; the record
    ordinal (and so ``_row_id``) is still the record's position in its file."""
    recs = [dict(URA_1, telefone=i) for i in range(3000)]
    body = "\ufeff" + "".join(json.dumps(r) + ("\r\n\n   \n" if i % 500 == 7 else "\n") for i, r in enumerate(recs))
    jsonl = _write(landing, "UraTelefonica.jsonl", body)
    rows = [[f"c{i}@x.com", "9/30/19 0:08", "10/01/2019 14:08", str(i), "Sim"] for i in range(3000)]
    csv_path = _write(landing, "Whatsapp.csv", _csv_text(CSV_HEADER, rows))
    quoted = _write(landing, "Whatsapp_q.csv", _csv_text(CSV_HEADER, CSV_ROWS))  # a quoted line break
    paths = LakePaths(lake_root)
    conf = {"spark.sql.files.maxPartitionBytes": "20000", "spark.sql.files.openCostInBytes": "1000"}
    saved = {k: spark.conf.get(k) for k in conf}
    try:
        for k, v in conf.items():
            spark.conf.set(k, v)
        assert spark.read.text(jsonl).rdd.getNumPartitions() > 5
        r_json = ingest_files(spark, _json_source(), str(landing), paths, "r1")
        r_csv = ingest_files(spark, _csv_source(), str(landing), paths, "r1")
    finally:
        for k, v in saved.items():
            spark.conf.set(k, v)
    assert (r_json.rows_in, r_json.rows_written, r_json.malformed) == (3000, 3000, 0)
    assert (r_csv.rows_in, r_csv.rows_written, r_csv.malformed) == (3003, 3003, 0)
    got = _rows(spark, lake_root, "ura", ["_record_index", "telefone", "_row_id"])
    h = _sha(jsonl)
    assert got == sorted(((i, str(i), hashlib.sha256(f"ura|{h}|{i}".encode()).hexdigest()) for i in range(3000)), key=repr)
    got = _rows(spark, lake_root, "whatsapp", ["_source_file", "_record_index", "Semana"])
    want = [(csv_path, i, str(i)) for i in range(3000)] + [(quoted, i, r[3]) for i, r in enumerate(CSV_ROWS)]
    assert got == sorted(want, key=repr)
    log = delta_io.read_table(spark, paths.system("ingest_log")).select("path", "rows").collect()
    assert sorted(tuple(r) for r in log) == sorted([(jsonl, 3000), (csv_path, 3000), (quoted, 3)])


def test_csv_sniffs_quoted_line_breaks_natively(spark):
    """The quoted-line-break check runs in Spark on the file's bytes (cases of the former
    chunked Python scan: a quote opening in one chunk and the break in the next)."""
    from lake.bronze.files import _quoted_break

    def found(*chunks, **opts):
        df = spark.createDataFrame([(bytearray(b"".join(chunks)),)], "content binary")
        return df.select(_quoted_break(F.col("content"), _csv_source(csv=CsvOptions(**opts)))).first()[0]

    assert not found(b'a,"b, ""c""",d\n', b'e,"f"\r\n')
    assert found(b'a,"b\nc",d\n')
    assert found(b'a,"b', b'\r\nc"\n')  # the quote opens in one chunk, the break is in the next
    assert not found(b'a,"b', b'c"\n', b'd\n')
    assert found(b'a,"x""\ny",z\n')  # a doubled quote inside a quoted value, then a break
    assert not found(b'a,"x""",b\n"c"\n')
    assert found(b'"a"\n"b\r\n"\n')  # the second line's value holds the break
    assert not found(b"a,b\n", escape="\\")  # another escape, absent from the file: no doubt
    assert not found(b'a,b\n', line_sep=None)
    assert found(b'a,b\n', line_sep="\n")
    assert found(b'a,"b\\"",c\n', escape="\\")  # an escape other than the quote present: multiLine
    assert found(b'a,"b\xff\nc"\n')  # bytes that are not UTF-8 do not hide the quote


def test_landing_given_as_a_file_uri(spark, lake_root, landing):
    """``file:///...`` landing is listed through Hadoop; recorded paths keep the local form,
    so the same folder given as a plain path is the same landing."""
    path = _write(landing, "Whatsapp [1].csv", _csv_text(CSV_HEADER, CSV_ROWS[:2]))
    paths = LakePaths(lake_root)
    uri = landing.resolve().as_uri()
    assert uri.startswith("file:///")
    res = ingest_files(spark, _csv_source(), uri, paths, "r1")
    assert (res.files_seen, res.files_ingested, res.rows_written, res.malformed) == (1, 1, 2, 0)
    got = _rows(spark, lake_root, "whatsapp", ["_source_file", "_file_hash", "E-mail"])
    assert got == sorted([(path, _sha(path), CSV_ROWS[0][0]), (path, _sha(path), CSV_ROWS[1][0])], key=repr)
    again = ingest_files(spark, _csv_source(), str(landing), paths, "r2")
    assert (again.files_seen, again.files_ingested, again.rows_written) == (1, 0, 0)
    with pytest.raises(SourceError, match="does not exist"):
        ingest_files(spark, _csv_source(), uri + "/missing", paths, "r3")


def test_landing_listed_on_a_filesystem_without_get_scheme(spark, landing):
    """A Hadoop filesystem need not implement ``getScheme()`` (``RawLocalFileSystem`` throws):
    the landing's scheme is read from the filesystem's URI, so such a folder is listed alike."""
    from lake.bronze.files import find_files

    path = _write(landing, "Whatsapp.csv", _csv_text(CSV_HEADER, CSV_ROWS[:1]))
    raw = {"fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem", "fs.file.impl.disable.cache": "true"}
    for key, value in raw.items():  # the session's Hadoop configuration (no other test sees it)
        spark.conf.set(key, value)
    try:
        jconf = spark._jsparkSession.sessionState().newHadoopConf()
        fs = spark._jvm.org.apache.hadoop.fs.Path(str(landing)).getFileSystem(jconf)
        assert fs.getClass().getSimpleName() == "RawLocalFileSystem"  # the case under test is real
        found = find_files(spark, str(landing), ("whatsapp*.csv",))
    finally:
        for key in raw:
            spark.conf.unset(key)
    assert [(f.path, f.size) for f in found] == [(path, os.path.getsize(path))]


def test_ingested_file_is_not_read_again(spark, lake_root, landing):
    """A file the ingest log knows by (path, size, modification time) is skipped unread: its
    bytes replaced by garbage of the same size under the same mtime go unnoticed; a changed
    mtime or size makes it a candidate again (hashed, so the garbage is then new content)."""
    paths = LakePaths(lake_root)
    a = _write(landing, "Whatsapp_a.csv", _csv_text(CSV_HEADER, CSV_ROWS[:1]))
    b = _write(landing, "Whatsapp_b.csv", _csv_text(CSV_HEADER, CSV_ROWS[1:2]))
    r1 = ingest_files(spark, _csv_source(), str(landing), paths, "r1")
    assert (r1.files_ingested, r1.rows_written) == (2, 2)

    def garble(path: str, extra: bytes = b"", mtime_delta_ns: int = 0) -> str:
        """Other bytes of the same size (every "a" made "4"), plus ``extra``; mtime as asked."""
        st = os.stat(path)
        data = open(path, "rb").read()
        with open(path, "wb") as fh:
            fh.write(data.replace(b"a", b"4") + extra)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + mtime_delta_ns))
        assert os.stat(path).st_mtime_ns == st.st_mtime_ns + mtime_delta_ns
        return _sha(path)

    garble(a)
    garble(b)
    r2 = ingest_files(spark, _csv_source(), str(landing), paths, "r2")
    assert (r2.files_seen, r2.files_ingested, r2.rows_in, r2.rows_written, r2.duplicates) == (2, 0, 0, 0, 0)
    assert delta_io.read_table(spark, paths.system("ingest_log")).count() == 2

    new_a = garble(a, mtime_delta_ns=5_000_000_000)  # same size, later mtime
    new_b = garble(b, extra=b"X\n")  # same mtime, another size (one more record, malformed)
    r3 = ingest_files(spark, _csv_source(), str(landing), paths, "r3")
    assert (r3.files_seen, r3.files_ingested, r3.rows_written, r3.malformed) == (2, 2, 3, 1)
    written = delta_io.read_table(spark, paths.bronze("whatsapp")).where(F.col("_run_id") == "r3")
    assert sorted(tuple(r) for r in written.groupBy("_source_file", "_file_hash").count().collect()) == sorted(
        [(a, new_a, 1), (b, new_b, 2)])


@pytest.mark.parametrize("whole_file_max", [None, 0], ids=["one-row-per-file", "streamed"])
def test_files_are_hashed_and_sniffed_in_spark(spark, landing, monkeypatch, whole_file_max):
    """Hash, encoding check, JSON shape, emptiness, CSV header and quoted line breaks, as the
    Python sniffing decided them (expected values worked out by hand), both for files read as
    one row and for files too large for that (hash and head streamed, the rest line by line)."""
    from lake.bronze import files as files_module
    from lake.bronze.files import _BLANKS, find_files, inspect_files

    if whole_file_max is not None:
        monkeypatch.setattr(files_module, "WHOLE_FILE_MAX_BYTES", whole_file_max)

    assert _BLANKS == "".join(c for c in map(chr, range(0x110000)) if c.isspace())  # what str.strip removes

    json_files = {
        "Ura_1.json": (b'\xef\xbb\xbf{"a":1}\n{"a":2}\n', False, True, JsonShape.LINES),  # BOM, JSON Lines
        "Ura_2.json": (b" [ ]\n", True, True, JsonShape.ARRAY),  # an empty array
        "Ura_3.json": (b'{\n "a": 1\n}\n', False, True, JsonShape.OBJECT),
        "Ura_4.json": (b'\n\n  {"a": 1,\n{"b":2}', False, True, JsonShape.LINES),  # the second line opens an object
        "Ura_5.json": (b'{"a": "\xff"}', False, False, JsonShape.LINES),  # not UTF-8
        "Ura_6.json": (b"\x1c \xc2\xa0\r\n", True, True, JsonShape.OBJECT),  # Unicode blanks only
        "Ura_7.json": (b"", True, True, None),  # zero bytes: never read
    }
    for name, (data, *_) in json_files.items():
        _write(landing, name, data)
    got = inspect_files(spark, find_files(spark, str(landing), ("ura*",)), _json_source())
    assert [os.path.basename(f.path) for f in got] == sorted(json_files)
    for f in got:
        data, empty, decodes, shape = json_files[os.path.basename(f.path)]
        assert (f.hash, f.size, f.empty, f.decodes) == (hashlib.sha256(data).hexdigest(), len(data), empty, decodes), f.path
        if data:
            assert f.json_shape == shape, f.path

    csv_files = {  # cp1252, header: (empty, decodes, header, multiline)
        "Whatsapp_1.csv": (b'"E-mail","Semana"\r\n', True, True, ("E-mail", "Semana"), False),  # a header alone
        "Whatsapp_2.csv": (b'"E-\nmail",Semana\nx,\x81\n', False, False, ("E-\nmail", "Semana"), True),
        "Whatsapp_3.csv": (b'E-mail,Sem\x80na\n"x, y",z\n', False, True, ("E-mail", "Sem\u20acna"), False),
        "Whatsapp_4.csv": (b'a,b\n"x,y', False, True, ("a", "b"), False),  # an open quote, then the end
        "Whatsapp_5.csv": (b'a,b\n"x\n', False, True, ("a", "b"), True),  # an open quote, then a line feed
    }
    for name, (data, *_) in csv_files.items():
        _write(landing, name, data)
    got = inspect_files(spark, find_files(spark, str(landing), ("whatsapp*",)), _csv_source(csv=CsvOptions(encoding="cp1252")))
    assert [os.path.basename(f.path) for f in got] == sorted(csv_files)
    for f in got:
        data, *want = csv_files[os.path.basename(f.path)]
        assert (f.hash, [f.empty, f.decodes, f.header, f.multiline]) == (hashlib.sha256(data).hexdigest(), want), f.path
