"""Bronze ingestion of landing files (JSON in three shapes, CSV), exactly once.

Orchestration (which files are new) runs in Python on file metadata; every record is read,
split, parsed and mapped by Spark SQL functions.

Landing is any Hadoop filesystem the lake root can be on (a local folder, ``file:``,
``s3a:``, ``gs:``, ``abfss:``, ``hdfs:``). Discovery is one Hadoop FileSystem ``listStatus`` of
the folder on the driver (names, sizes and modification times; no byte read). A file the
ingest log already knows by path, size and modification time is skipped without being read;
only new or changed files are hashed (SHA-256) and sniffed (JSON shape, CSV header, encoding,
quoted line breaks) in Spark tasks over a ``binaryFile`` read of just those files, with native
functions, one small metadata row per file returning to the driver. A file over
``WHOLE_FILE_MAX_BYTES`` is never one row: its hash and head are streamed through Hadoop on the
driver and its whole-file checks run line by line in Spark tasks.

Exactly once: the bronze append (one Delta commit per run and source) is the commit point.
The files already ingested are derived from the ``_file_hash``/``_source_file`` values
present in bronze, so a run killed before the commit leaves nothing, and a run killed after
it is recognised by the rerun, which only repairs ``_system/ingest_log`` (whose rows a run
appends once, after its last file source: :func:`lake.ledger.ingest_log_batch`).

Example:
    >>> from lake.bronze import ingest_files
    >>> res = ingest_files(spark, cfg.sources["ura"], "data/landing", LakePaths(root), run_id)
    >>> res.rows_in == res.rows_written
    True
"""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import fnmatch
import hashlib
import io
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from lake import delta_io
from lake.bronze.common import IngestResult, LogEntry, read_ingest_log_files, utc_now, write_ingest_log
from lake.config import DriftPolicy, FileFormat, FileSource, JsonShape
from lake.errors import SourceError
from lake.faults import fault_point
from lake.paths import LakePaths
from lake.runlog import observe_rows, observed
from lake.session import jvm as session_jvm
from lake.session import sized_for

log = logging.getLogger(__name__)

#: Lineage columns appended after the configured columns, in this order (docs/contracts.md).
LINEAGE_COLUMNS = (
    "_row_id",
    "_source_file",
    "_file_hash",
    "_file_modified_at",
    "_record_index",
    "_ingested_at",
    "_run_id",
    "_is_malformed",
    "_malformed_reason",
    "_raw",
    "_rescued_data",
    "_missing_columns",
)

_SNIFF_BYTES = 65536
#: A larger file is not read as one row (a ``binaryFile`` row holds the whole file, copied
#: two or three times in the task: a 151 MB file took a 1 GiB driver out). Its hash and head
#: are streamed through Hadoop on the driver and its whole-file checks run per line in Spark
#: tasks, so memory no longer grows with file size (see :func:`_sniff_streamed`).
WHOLE_FILE_MAX_BYTES = 16 * 1024 * 1024
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_ROW_MASK = (1 << 33) - 1  # monotonically_increasing_id = partition << 33 | row number
# Spark 4 readers accept only a few charsets; cp1252 is read as Latin-1 and its 0x80-0x9F
# range translated (the five bytes cp1252 leaves undefined become U+FFFD and are flagged).
_JAVA_CHARSETS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "iso8859-1": "ISO-8859-1",
    "latin-1": "ISO-8859-1",
    "cp1252": "ISO-8859-1",
    "ascii": "US-ASCII",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16LE",
    "utf-16-be": "UTF-16BE",
}
_C1 = "".join(chr(b) for b in range(0x80, 0xA0))
_CP1252_C1 = bytes(range(0x80, 0xA0)).decode("cp1252", errors="replace")


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class LandingFile:
    """One delivered file and what was sniffed from its bytes.

    ``path`` is what lineage and the ingest log record (an absolute path for a local file, the
    URI otherwise); ``uri`` is what Spark reads. A file recognised from the ingest log by its
    path, size and modification time is not read: it carries the logged hash and
    ``sniffed=False``.
    """

    path: str
    size: int
    mtime: _dt.datetime
    hash: str
    empty: bool
    decodes: bool  # every byte decodes in the configured encoding
    json_shape: JsonShape | None = None
    header: tuple[str, ...] = field(default=())
    multiline: bool = True  # CSV: a quoted value may hold a line break (read unsplit)
    uri: str = ""
    sniffed: bool = True

    @property
    def location(self) -> str:
        """Where Spark reads the file (a Hadoop path, glob characters escaped)."""
        return _glob_escape(self.uri or self.path)


@dataclass(frozen=True)
class ListedFile:
    """A landing file as the filesystem lists it (no byte read)."""

    path: str  # recorded form: absolute path for a local file, else the URI
    uri: str  # the Hadoop path string Spark reads and reports
    size: int
    mtime_ms: int

    @property
    def mtime(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.mtime_ms / 1000, _dt.timezone.utc)


def _landing_dir(spark: SparkSession, landing: str):
    """The landing folder's Hadoop FileSystem and qualified path (any Hadoop URI).

    A path without a scheme on a local default filesystem is made absolute against this
    process's directory, as the lake always did, so recorded paths keep their form.
    """
    jvm = session_jvm(spark)
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    try:
        conf = spark._jsparkSession.sessionState().newHadoopConf()
        path = hadoop_path(landing)
        fs = path.getFileSystem(conf)
        if path.toUri().getScheme() is None and fs.getUri().getScheme() == "file":
            path = hadoop_path(os.path.abspath(landing))
        path = fs.makeQualified(path)
        is_dir = fs.exists(path) and fs.getFileStatus(path).isDirectory()
    except Exception as exc:  # py4j wraps the Hadoop error (unknown scheme, credentials, ...)
        raise SourceError(f"landing folder {landing!r} cannot be listed: {exc}") from exc
    if not is_dir:
        raise SourceError(f"landing folder {landing!r} does not exist")
    return fs, path


def in_flight(name: str) -> bool:
    """A file name that is not yet (or never) a delivery: hidden (``.``/``_`` first) or a copy
    in progress (``._COPYING_``, ``.tmp`` last) -- Spark's and Hadoop's own rule.

    A writer makes a file visible by renaming it into place once it is complete (atomic on a
    local disk and on HDFS; an object-store upload appears whole), so a file still being
    written is never read half (docs/bronze.md).

    Example:
        >>> [in_flight(n) for n in ("chat_3.json", ".chat_3.json", "chat_3.json._COPYING_")]
        [False, True, True]
    """
    return name.startswith((".", "_")) or name.endswith(("._COPYING_", ".tmp"))


def find_files(spark: SparkSession, landing: str, patterns: tuple[str, ...]) -> list[ListedFile]:
    """The files directly in ``landing`` whose names match any pattern, case-insensitively,
    leaving out files still being written (:func:`in_flight`).

    One Hadoop FileSystem ``listStatus`` of the folder (a LIST request on an object store):
    names, sizes and modification times only, no byte is read.

    Example:
        >>> [f.path for f in find_files(spark, "s3a://bucket/landing", ("whatsapp*",))]
        ['s3a://bucket/landing/Whatsapp.csv']
    """
    fs, folder = _landing_dir(spark, landing)
    local = fs.getUri().getScheme() == "file"
    lowered = [p.lower() for p in patterns]
    found = []
    for st in fs.listStatus(folder):
        name = st.getPath().getName()
        if st.isFile() and not in_flight(name) and any(fnmatch.fnmatchcase(name.lower(), p) for p in lowered):
            uri = st.getPath().toString()
            recorded = st.getPath().toUri().getPath() if local else uri
            found.append((name, ListedFile(recorded, uri, int(st.getLen()), int(st.getModificationTime()))))
    return [f for _, f in sorted(found, key=lambda nf: nf[0])]


def _python_encoding(source: FileSource) -> str:
    return codecs.lookup(source.csv.encoding).name if source.format == FileFormat.CSV else "utf-8"


#: Encodings in which every ASCII byte is that character (quotes and line breaks are bytes).
_ASCII_COMPATIBLE = ("utf-8", "latin-1", "iso8859-1", "cp1252", "ascii")
#: Python's ``str.isspace`` characters (what ``str.strip`` removes), and as a Java regex class.
_BLANKS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_WS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _BLANKS) + "]"
#: Python's ``str.splitlines`` separators.
_LINE_SEPS = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"


def _strip(text: Column) -> Column:
    """``str.strip()``: Python's blanks off both ends (Spark's ``trim`` removes spaces only)."""
    return F.btrim(text, F.lit(_BLANKS))


def _text(data: Column, encoding: str) -> Column | None:
    """``data`` (binary) decoded as Python decodes it with ``errors="replace"`` (a leading
    UTF-8 BOM dropped); None for an encoding that is not ASCII-compatible."""
    if encoding == "utf-8":
        return F.regexp_replace(F.make_valid_utf8(data.cast("string")), "^\ufeff", "")
    if encoding not in _ASCII_COMPATIBLE:
        return None
    latin = F.decode(data, "ISO-8859-1")  # one character per byte, never fails
    if encoding == "cp1252":
        return F.translate(latin, _C1, _CP1252_C1)
    if encoding == "ascii":
        return F.regexp_replace(latin, "[^\\x00-\\x7f]", "\ufffd")
    return latin


def _decodes(content: Column, encoding: str) -> Column:
    """Every byte decodes in ``encoding`` (checked on the whole file, in the task).

    UTF-16 and other encodings that are not ASCII-compatible have no native strict check
    (Spark's ``decode`` fails the query on malformed input): they count as not decoding, so a
    record holding U+FFFD is flagged ``undecodable bytes``, as a malformed file's records are.
    """
    if encoding == "utf-8":
        return F.is_valid_utf8(content.cast("string"))
    if encoding in ("latin-1", "iso8859-1"):
        return F.lit(True)
    latin = F.decode(content, "ISO-8859-1")
    if encoding == "cp1252":  # the five bytes cp1252 leaves undefined
        return ~latin.rlike("[\\x81\\x8d\\x8f\\x90\\x9d]")
    if encoding == "ascii":
        return ~latin.rlike("[^\\x00-\\x7f]")
    return F.lit(False)


def _json_shape(text: Column) -> Column:
    """``[`` first -> array; a first non-blank line that is a whole object (or a second line
    opening another object) -> JSON Lines; otherwise one multi-line object."""
    lines = F.filter(F.transform(F.split(text, _LINE_SEPS), _strip), lambda ln: ln != "")
    first, second = F.try_element_at(lines, F.lit(1)), F.try_element_at(lines, F.lit(2))
    is_lines = first.startswith("{") & (
        first.endswith("}") | F.coalesce(second.startswith("{"), F.lit(False))
    )
    return (
        F.when(text.rlike(f"^{_WS}*\\["), F.lit(JsonShape.ARRAY.value))
        .when(F.coalesce(is_lines, F.lit(False)), F.lit(JsonShape.LINES.value))
        .otherwise(F.lit(JsonShape.OBJECT.value))
    )


def _hex(ch: str) -> str:
    return f"\\x{{{ord(ch):x}}}"


def _quoted_break(content: Column, source: FileSource) -> Column:
    """True when a line break may sit inside a quoted CSV value (the file then needs
    ``multiLine``, read in one task; otherwise Spark splits it across cores).

    Quote characters toggle the quoted state (a doubled quote toggles twice). Keeping only
    quotes and line breaks and then dropping adjacent quote pairs leaves at most one quote
    between two breaks without changing the quote parity at any break, so a break inside
    quotes exists exactly when a quote is directly followed by a break. When in doubt (an
    escape other than the quote present, a custom line separator, an encoding where the quote
    is not one byte) the answer is True.
    """
    rule = _quote_rule(source)
    if rule is None:
        return F.lit(True)
    quote, escape = rule
    text = content.cast("string")  # ASCII bytes stay themselves whatever the encoding
    skeleton = _quote_skeleton(text, quote)
    found = skeleton.contains(quote + "\n") | skeleton.contains(quote + "\r")
    if escape is not None:
        found = found | text.contains(escape)
    return found


def _quote_rule(source: FileSource) -> tuple[str, str | None] | None:
    """The CSV's (quote, escape) when the quoted-break check can be decided on bytes; None
    when in doubt (no ASCII quote, a custom line separator, an encoding where the quote is
    not one byte, a non-ASCII escape)."""
    opts = source.csv
    quote = opts.quote if opts.quote and opts.quote.isascii() else None
    escape = opts.escape if opts.escape and opts.escape != opts.quote else None
    if (
        quote is None
        or opts.line_sep
        or _python_encoding(source) not in _ASCII_COMPATIBLE
        or (escape is not None and not escape.isascii())
    ):
        return None
    return quote, escape


def _quote_skeleton(text: Column, quote: str) -> Column:
    """Only quotes and line breaks, adjacent quote pairs dropped (see :func:`_quoted_break`).
    Pairs never span a line feed, so a file's skeleton is its lines' skeletons joined by
    line feeds: the check can run line by line."""
    q = _hex(quote)
    return F.regexp_replace(F.regexp_replace(text, f"[^{q}\\r\\n]+", ""), f"{q}{q}", "")


def _quoted_break_lines(lines: DataFrame, source: FileSource, ends_with_lf: Column) -> Column:
    """:func:`_quoted_break` as an aggregate over a file's lines (``line``, binary, split at
    line feeds; ``_pos`` orders them): a quote right before a carriage return, or right before
    a line feed, which follows every line but the last (and the last when the file ends with
    one)."""
    rule = _quote_rule(source)
    if rule is None:
        return F.lit(True)
    quote, escape = rule
    text = F.col("line").cast("string")
    skeleton = _quote_skeleton(text, quote)
    ends = skeleton.endswith(quote)
    last_ends = F.max_by(ends, F.col("_pos"))
    found = (
        F.bool_or(skeleton.contains(quote + "\r"))
        | (F.count_if(ends) > F.when(last_ends, 1).otherwise(0))
        | (last_ends & ends_with_lf)
    )
    if escape is not None:
        found = found | F.bool_or(text.contains(escape))
    return found


def _header_bytes(head: Column, source: FileSource) -> Column:
    """The head bytes the CSV header is parsed from: the first line when its quotes are
    balanced (the header cannot continue past it), else the whole head."""
    opts = source.csv
    if _python_encoding(source) not in _ASCII_COMPATIBLE or not (opts.quote and opts.quote.isascii()):
        return head
    latin = F.decode(head, "ISO-8859-1")
    first = F.regexp_extract(latin, "^[^\\r\\n]*", 0)
    quotes = F.length(first) - F.length(F.replace(first, F.lit(opts.quote), F.lit("")))
    balanced = (quotes % 2 == 0) & (
        F.lit(True) if not opts.escape or opts.escape == opts.quote else ~first.contains(opts.escape)
    )
    return F.when(balanced, F.substring(head, 1, F.length(first))).otherwise(head)


def _empty(size: Column, text: Column, source: FileSource) -> Column:
    """No record at all: zero bytes, only blanks (JSON: or ``[]``), or a CSV header alone."""
    stripped = _strip(text)
    whole = size <= _SNIFF_BYTES  # a longer file holds something past the head
    if source.format == FileFormat.JSON:
        return (size == 0) | (whole & stripped.rlike(f"^\\[?{_WS}*\\]?\\z"))
    blank = stripped == ""
    if source.csv.header:  # a header line and nothing after it
        after_break = F.substring(text, F.instr(text, "\n") + 1, 4 * _SNIFF_BYTES)
        body = F.when(F.instr(text, "\n") > 0, after_break).otherwise(F.lit(""))
        blank = blank | (_strip(body) == "")
    return (size == 0) | (whole & blank)


def _sniff(files: DataFrame, source: FileSource) -> DataFrame:
    """One metadata row per file of a ``binaryFile`` frame, computed in the tasks.

    Columns: ``path``, ``size``, ``mtime_ms``, ``hash`` (SHA-256 of the bytes), ``decodes``,
    ``empty`` (None when the encoding is not ASCII-compatible: decided from ``head``),
    ``shape`` (JSON), ``multiline`` and ``head`` (CSV: the bytes the header is parsed from).
    """
    content = F.col("content")
    head = F.substring(content, 1, _SNIFF_BYTES)
    encoding = _python_encoding(source)
    text = _text(head, encoding)
    cols = [
        F.col("path"),
        F.col("length").alias("size"),
        F.unix_millis("modificationTime").alias("mtime_ms"),
        F.sha2(content, 256).alias("hash"),
        _decodes(content, encoding).alias("decodes"),
        (_empty(F.col("length"), text, source) if text is not None else F.lit(None).cast("boolean")).alias(
            "empty"
        ),
    ]
    if source.format == FileFormat.JSON:
        assert text is not None  # JSON is read as UTF-8, which _text always decodes
        shape = F.lit(source.json_shape.value) if source.json_shape != JsonShape.AUTO else _json_shape(text)
        cols += [
            shape.alias("shape"),
            F.lit(True).alias("multiline"),
            F.lit(None).cast("binary").alias("head"),
        ]
    else:
        header = _header_bytes(head, source) if source.csv.header else F.lit(None).cast("binary")
        if text is None:  # emptiness is decided from the head in Python
            header = head
        cols += [
            F.lit(None).cast("string").alias("shape"),
            _quoted_break(content, source).alias("multiline"),
            header.alias("head"),
        ]
    return files.select(*cols)


def _empty_csv_head(head: str, size: int, source: FileSource) -> bool:
    """Emptiness of a CSV file in an encoding Spark cannot decode leniently (UTF-16, ...)."""
    stripped = head.strip()
    body = head.split("\n", 1)[1] if "\n" in head else ""
    return size == 0 or (size <= _SNIFF_BYTES and (not stripped or (source.csv.header and not body.strip())))


def _sniff_header(head: str, source: FileSource) -> tuple[str, ...]:
    opts = source.csv
    kwargs: dict[str, Any] = {"delimiter": opts.delimiter, "quotechar": opts.quote}
    if opts.escape and opts.escape != opts.quote:
        kwargs.update(escapechar=opts.escape, doublequote=False)
    try:
        row = next(csv.reader(io.StringIO(head, newline=""), **kwargs), [])
    except csv.Error:
        row = []
    return tuple(row)


def inspect_files(spark: SparkSession, listed: list[ListedFile], source: FileSource) -> list[LandingFile]:
    """Hash and sniff ``listed`` in Spark tasks (one ``binaryFile`` read of just these files);
    one small metadata row per file comes back to the driver.

    A zero-byte file is never read (``binaryFile`` skips it): its facts are known. A file gone
    since the listing is left out (the next run sees it if it comes back).
    """
    found: dict[str, LandingFile] = {}
    to_read = [f for f in listed if f.size > 0]
    whole = [f for f in to_read if f.size <= WHOLE_FILE_MAX_BYTES]
    rows = []
    if whole:
        frame = spark.read.format("binaryFile").load([_glob_escape(f.uri) for f in whole])
        rows = [r.asDict() for r in _sniff(frame, source).collect()]
    rows += _sniff_streamed(spark, [f for f in to_read if f.size > WHOLE_FILE_MAX_BYTES], source)
    encoding = _python_encoding(source)
    by_uri = {f.uri: f for f in to_read}
    for r in rows:
        f = by_uri.get(r["path"])
        if f is None:
            raise SourceError(
                f"source {source.name!r}: Spark read {r['path']!r}, which the landing listing does not hold"
            )
        head = (
            bytes(r["head"]).decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace")
            if r["head"] is not None
            else ""
        )
        empty = r["empty"] if r["empty"] is not None else _empty_csv_head(head, int(r["size"]), source)
        mtime = _dt.datetime.fromtimestamp(int(r["mtime_ms"]) / 1000, _dt.timezone.utc)
        header = _sniff_header(head, source) if source.format == FileFormat.CSV and source.csv.header else ()
        found[f.uri] = LandingFile(
            f.path,
            int(r["size"]),
            mtime,
            r["hash"],
            bool(empty),
            bool(r["decodes"]),
            json_shape=JsonShape(r["shape"]) if r["shape"] else None,
            header=header,
            multiline=bool(r["multiline"]),
            uri=f.uri,
        )
    for f in listed:
        if f.size == 0:
            found[f.uri] = LandingFile(f.path, 0, f.mtime, _EMPTY_SHA256, True, True, uri=f.uri)
        elif f.uri not in found:
            log.warning("%s: %s disappeared from landing before it was read; skipped", source.name, f.path)
    return [found[f.uri] for f in listed if f.uri in found]


def _stream_digest(spark: SparkSession, f: ListedFile) -> tuple[str, bytes, int, bool] | None:
    """SHA-256 (hex) of a file's bytes, its first ``_SNIFF_BYTES``, its length and whether its
    last byte is a line feed, streamed through its Hadoop FileSystem inside the JVM (a small
    buffer: only the head crosses to Python). None when the file is gone."""
    jvm = session_jvm(spark)
    path = jvm.org.apache.hadoop.fs.Path(f.uri)
    digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
    try:
        stream = path.getFileSystem(spark._jsparkSession.sessionState().newHadoopConf()).open(path)
    except Exception as exc:  # py4j wraps the Hadoop error
        if "FileNotFoundException" in str(exc):
            return None
        raise SourceError(f"landing file {f.path!r} cannot be read: {exc}") from exc
    try:
        hashed = jvm.java.security.DigestInputStream(stream, digest)
        head = bytes(hashed.readNBytes(_SNIFF_BYTES))  # up to that many (fewer at the end)
        size = len(head) + jvm.org.apache.commons.io.IOUtils.consume(hashed)
        lf = False
        if size:
            stream.seek(size - 1)
            lf = stream.read() == 0x0A
    finally:
        stream.close()
    return bytes(digest.digest()).hex(), head, int(size), lf


def _sniff_streamed(spark: SparkSession, listed: list[ListedFile], source: FileSource) -> list[dict]:
    """:func:`_sniff`'s rows for files too large to be one row: hash and head streamed on the
    driver (:func:`_stream_digest`), the head facts by :func:`_sniff`'s own expressions over
    the head, and the whole-file facts (encoding check, quoted line breaks) aggregated over
    the lines in Spark tasks (one job for all these files; a line is the largest value held)."""
    streamed = [(f, d) for f in listed if (d := _stream_digest(spark, f)) is not None]
    if not streamed:
        return []
    heads = spark.createDataFrame(
        [(f.uri, size, f.mtime, bytearray(head)) for f, (_, head, size, _) in streamed],
        "path string, length long, modificationTime timestamp, content binary",
    )
    by_head = {r["path"]: r.asDict() for r in _sniff(heads, source).collect()}
    encoding = _python_encoding(source)
    lines = reduce(
        lambda a, b: a.unionByName(b),
        [
            spark.read.option("lineSep", "\n")
            .text(_glob_escape(f.uri))
            .select(
                F.lit(i).alias("_f"),
                F.col("value").cast("binary").alias("line"),
                F.struct(F.col("_metadata.file_block_start"), F.monotonically_increasing_id()).alias("_pos"),
            )
            for i, (f, _) in enumerate(streamed)
        ],
    )
    ends_lf = F.col("_f").isin([i for i, (_, d) in enumerate(streamed) if d[3]] or [-1])
    multiline = (
        F.lit(True)
        if source.format == FileFormat.JSON
        else _quoted_break_lines(lines, source, F.first(ends_lf))
    )
    facts = {
        r["_f"]: r
        for r in lines.groupBy("_f")
        .agg(F.bool_and(_decodes(F.col("line"), encoding)).alias("decodes"), multiline.alias("multiline"))
        .collect()
    }
    rows = []
    for i, (f, (digest, _, size, _)) in enumerate(streamed):
        fact = facts.get(i)
        rows.append(
            {
                **by_head[f.uri],
                "size": size,
                "mtime_ms": f.mtime_ms,
                "hash": digest,
                "decodes": True if fact is None else bool(fact["decodes"]),
                "multiline": fact is not None and bool(fact["multiline"]),
            }
        )
    return rows


def _glob_escape(path: str) -> str:
    """Hadoop treats ``*?[]{}`` in a load path as a glob; file names may contain them."""
    return re.sub(r"([*?\[\]{}\\])", r"\\\1", path)


# --------------------------------------------------------------------------- record readers


def _lineage(
    f: LandingFile, source: FileSource, index: Column, run_id: str, ingested_at: _dt.datetime
) -> list[Column]:
    parts = [F.lit(source.name), F.lit(f.hash), index.cast("string")]
    if not source.dedupe_content:  # identical copies are all ingested: keep their ids apart
        parts.append(F.lit(f.path))
    return [
        F.sha2(F.concat_ws("|", *parts), 256).alias("_row_id"),
        F.lit(f.path).alias("_source_file"),
        F.lit(f.hash).alias("_file_hash"),
        F.lit(f.mtime).cast("timestamp").alias("_file_modified_at"),
        index.cast("long").alias("_record_index"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.lit(run_id).alias("_run_id"),
    ]


def _json_lines_scan(spark: SparkSession, f: LandingFile) -> DataFrame:
    """A JSON Lines file read as text (splittable: one task per block): its non-blank lines
    as ``raw0`` in file order, with ``_blk`` (the block's start offset) and ``_mid`` (a
    position that grows within a block); see :func:`_block_deltas` for the record ordinal."""
    line = F.regexp_replace(F.col("value"), "^\ufeff|\r$", "")
    return (
        spark.read.option("lineSep", "\n")
        .text(f.location)
        .select(line.alias("raw0"), F.col("_metadata.file_block_start").alias("_blk"))
        .where(F.trim(F.col("raw0")) != "")
        # after the filter, so that positions count records only
        .select("raw0", "_blk", F.monotonically_increasing_id().alias("_mid"))
    )


def _block_deltas(scans: dict[str, DataFrame]) -> dict[str, dict[int, int]]:
    """Per file and block: what turns ``_mid`` into the 0-based record ordinal in the file.

    ``_mid`` (``monotonically_increasing_id``) is ``partition << 33 | row in partition``, and a
    block is read whole by one partition, so the ordinal is ``_mid - min(_mid of the block) +
    records in the earlier blocks``. One aggregation over the listed scans (a line count:
    nothing is parsed) finds both; splits are planned the same way when the batch is read
    again in this session, so the write sees the same ``_mid`` values.
    """
    if not scans:
        return {}
    keys = list(scans)
    narrow = [scans[k].select(F.lit(i).alias("_f"), "_blk", "_mid") for i, k in enumerate(keys)]
    rows = (
        reduce(lambda a, b: a.unionByName(b), narrow)
        .groupBy("_f", "_blk")
        .agg(F.count(F.lit(1)).alias("n"), F.min("_mid").alias("first"))
        .collect()
    )
    deltas: dict[str, dict[int, int]] = {k: {} for k in keys}
    for i, k in enumerate(keys):
        before = 0
        for r in sorted((r for r in rows if r["_f"] == i), key=lambda r: r["_blk"]):
            deltas[k][int(r["_blk"])] = before - int(r["first"])
            before += int(r["n"])
    return deltas


def _ordinal(deltas: dict[int, int] | None) -> Column:
    """The record ordinal from ``_mid``: as it is for a one-partition scan, else shifted per block."""
    if not deltas:  # one partition (or no record at all): _mid is the row number
        return F.col("_mid").bitwiseAND(F.lit(_ROW_MASK))
    blocks = sorted(deltas.items())
    shift = F.when(F.col("_blk") == blocks[0][0], F.lit(blocks[0][1]))
    for start, delta in blocks[1:]:
        shift = shift.when(F.col("_blk") == start, F.lit(delta))
    return F.col("_mid") + shift


def _json_records(
    spark: SparkSession,
    f: LandingFile,
    *,
    scan: DataFrame | None = None,
    deltas: dict[int, int] | None = None,
) -> DataFrame:
    """One row per JSON record of the file: ``idx``, ``raw`` (text), ``bad_bytes``, ``split_failed``.

    JSON Lines are read as text (``scan``, see :func:`_json_lines_scan`); an array or a
    single object is read whole with ``binaryFile`` (such files are small by nature).
    Without ``scan``/``deltas`` a JSON Lines ``idx`` only orders the records.
    """
    if f.json_shape == JsonShape.LINES:
        df = scan if scan is not None else _json_lines_scan(spark, f)
        idx = _ordinal(deltas) if scan is not None else F.struct("_blk", "_mid")
        df = df.select(idx.alias("idx"), "raw0", F.lit(False).alias("split_failed"))
    else:
        text = F.regexp_replace(F.col("content").cast("string"), "^\ufeff", "")
        df = spark.read.format("binaryFile").load(f.location).select(text.alias("text"))
        if f.json_shape == JsonShape.ARRAY:
            elements = F.from_json(F.col("text"), "array<string>")
            records = F.coalesce(elements, F.array(F.col("text")))
            split_failed = elements.isNull()
        else:
            records = F.array(F.col("text"))
            split_failed = F.lit(False)
        df = df.select(F.posexplode(records).alias("idx", "raw0"), split_failed.alias("split_failed"))
    # Invalid UTF-8 sequences surface as U+FFFD; only a file whose bytes do not decode has them.
    bad_bytes = F.lit(False) if f.decodes else F.col("raw").contains("\ufffd")
    return df.select("idx", F.expr("make_valid_utf8(raw0)").alias("raw"), "split_failed").withColumn(
        "bad_bytes", bad_bytes
    )


#: ``from_json`` options matching ``try_parse_json``'s strict grammar (no 'quotes', no NaN),
#: so one parse decides "valid object" for almost every record.
_STRICT_JSON = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false"}


def _json_frame(
    spark: SparkSession,
    f: LandingFile,
    source: FileSource,
    run_id: str,
    ingested_at: _dt.datetime,
    extras: list[str],
    *,
    scan: DataFrame | None = None,
    deltas: dict[int, int] | None = None,
) -> DataFrame:
    cols = list(source.columns)
    recs = _json_records(spark, f, scan=scan, deltas=deltas).withColumn(
        "m", F.from_json(F.col("raw"), "map<string,string>", _STRICT_JSON)
    )
    m = F.col("m")
    known = F.array(*[F.lit(c) for c in cols])
    # Records parse once; only those that are not an object are parsed again (as a variant)
    # to tell broken JSON from valid non-objects. Duplicate keys are broken JSON (as in
    # try_parse_json), though from_json keeps them.
    reason = (
        F.when(F.col("bad_bytes"), F.lit("undecodable bytes"))
        .when(F.col("split_failed"), F.lit("broken JSON"))
        .when(m.isNull() & F.expr("try_parse_json(raw)").isNull(), F.lit("broken JSON"))
        .when(m.isNull(), F.lit("not a JSON object"))
        .when(F.size(F.map_keys(m)) != F.size(F.array_distinct(F.map_keys(m))), F.lit("broken JSON"))
    )
    if source.drift == DriftPolicy.RESCUE:
        unknown = F.map_filter(m, lambda k, v: ~F.array_contains(known, k))
        rescued = F.when(F.size(unknown) > 0, F.to_json(unknown))
    else:
        rescued = F.lit(None).cast("string")
    missing = F.when(m.isNull(), F.array().cast("array<string>")).otherwise(
        F.filter(known, lambda c: ~F.array_contains(F.map_keys(m), c))
    )
    return recs.select(
        *[F.try_element_at(m, F.lit(c)).alias(c) for c in cols],
        *_lineage(f, source, F.col("idx"), run_id, ingested_at),
        reason.isNotNull().alias("_is_malformed"),
        reason.alias("_malformed_reason"),
        F.col("raw").alias("_raw"),
        rescued.alias("_rescued_data"),
        missing.alias("_missing_columns"),
        *[F.try_element_at(m, F.lit(c)).alias(c) for c in extras],
    )


def _json_unknown_keys(spark: SparkSession, f: LandingFile, source: FileSource) -> list[str]:
    """Keys of the file's records that are not configured columns (a tiny metadata query)."""
    keys = F.posexplode(F.map_keys(F.from_json(F.col("raw"), "map<string,string>"))).alias("pos", "k")
    rows = (
        _json_records(spark, f)
        .select("idx", keys)
        .where(~F.col("k").isin(list(source.columns)))
        .groupBy("k")
        .agg(F.min(F.struct("idx", "pos")).alias("first"))
        .orderBy("first", "k")
        .collect()
    )
    return [r["k"] for r in rows]


def _header_names(f: LandingFile, source: FileSource) -> list[str]:
    if not source.csv.header:
        return list(source.columns)
    names = [h.strip() for h in f.header]
    return [n if n else f"_c{i}" for i, n in enumerate(names)]


def _csv_unknown_columns(f: LandingFile, source: FileSource) -> list[str]:
    seen: list[str] = []
    for n in _header_names(f, source):
        if n not in source.columns and n not in seen:
            seen.append(n)
    return seen


def _csv_scan(spark: SparkSession, f: LandingFile, source: FileSource) -> DataFrame:
    """The file's records under neutral positional names ``_c0..`` plus ``_corrupt_record``,
    ``_blk`` (block start) and ``_mid`` (position), see :func:`_block_deltas`.

    ``multiLine`` (one task per file) only when the file has a line break inside quotes;
    otherwise Spark splits the file across cores.
    """
    opts = source.csv
    names = _header_names(f, source)
    schema = StructType(
        [StructField(f"_c{i}", StringType()) for i in range(len(names))]
        + [StructField("_corrupt_record", StringType())]
    )
    reader = spark.read.schema(schema).options(
        header=str(opts.header).lower(),
        multiLine=str(f.multiline).lower(),
        sep=opts.delimiter,
        quote=opts.quote,
        escape=opts.escape,
        encoding=_JAVA_CHARSETS.get(_python_encoding(source), opts.encoding),
        mode="PERMISSIVE",
        columnNameOfCorruptRecord="_corrupt_record",
        enforceSchema="true",
    )
    if opts.line_sep:
        reader = reader.option("lineSep", opts.line_sep)
    df = reader.csv(f.location)
    values = [F.col(c) for c in df.columns]
    if _python_encoding(source) == "cp1252":
        values = [F.translate(F.col(c), _C1, _CP1252_C1).alias(c) for c in df.columns]
    return df.select(
        *values,
        F.col("_metadata.file_block_start").alias("_blk"),
        F.monotonically_increasing_id().alias("_mid"),
    )


def _csv_frame(
    spark: SparkSession,
    f: LandingFile,
    source: FileSource,
    run_id: str,
    ingested_at: _dt.datetime,
    extras: list[str],
    *,
    scan: DataFrame | None = None,
    deltas: dict[int, int] | None = None,
) -> DataFrame:
    opts = source.csv
    names = _header_names(f, source)
    position: dict[str, int] = {}
    for i, n in enumerate(names):
        position.setdefault(n, i)
    # Read positionally under neutral names; columns are then picked by header NAME.
    df = scan if scan is not None else _csv_scan(spark, f, source)
    fields = [F.col(f"_c{i}") for i in range(len(names))]
    index = _ordinal(deltas)
    bad_bytes = F.lit(False)
    if not f.decodes and fields:
        bad_bytes = reduce(
            lambda a, b: a | b, [F.coalesce(c.contains("\ufffd"), F.lit(False)) for c in fields]
        )
        bad_bytes = bad_bytes | F.coalesce(F.col("_corrupt_record").contains("\ufffd"), F.lit(False))
    reason = F.when(bad_bytes, F.lit("undecodable bytes")).when(
        F.col("_corrupt_record").isNotNull(), F.lit("wrong field count")
    )
    raw = F.when(
        reason.isNotNull(),
        F.coalesce(F.col("_corrupt_record"), F.concat_ws(opts.delimiter, *fields)),
    )
    unknown = list(_csv_unknown_columns(f, source))
    if source.drift == DriftPolicy.RESCUE and unknown:
        rescued = F.to_json(F.struct(*[F.col(f"_c{position[n]}").alias(n) for n in unknown]))
    else:
        rescued = F.lit(None).cast("string")
    missing = [c for c in source.columns if c not in position]

    def pick(name: str) -> Column:
        return (F.col(f"_c{position[name]}") if name in position else F.lit(None).cast("string")).alias(name)

    return df.select(
        *[pick(c) for c in source.columns],
        *_lineage(f, source, index, run_id, ingested_at),
        reason.isNotNull().alias("_is_malformed"),
        reason.alias("_malformed_reason"),
        raw.alias("_raw"),
        rescued.alias("_rescued_data"),
        F.array(*[F.lit(c) for c in missing]).cast("array<string>").alias("_missing_columns"),
        *[pick(c) for c in extras],
    )


# --------------------------------------------------------------------------- orchestration


def _bronze_files(
    spark: SparkSession,
    path: str,
    files: Iterable[LandingFile],
    logged: set[tuple[str, str, str]],
) -> set[tuple[str, str]]:
    """``{(_source_file, _file_hash)}`` committed in bronze among ``files``: the exactly-once
    ledger.

    A file the ingest log records as ``ingested`` (path and hash) is committed: the log is
    written only after the bronze commit. Bronze is read only for the other files' hashes (a
    filter Delta's file statistics can prune by), so a run whose files are all known reads no
    bronze row. Without a bronze table nothing is committed, whatever the log says.
    """
    if not delta_io.table_exists(spark, path):
        return set()
    files = list(files)
    committed = {(f.path, f.hash) for f in files if (f.path, f.hash, "ingested") in logged}
    ask = sorted({f.hash for f in files if (f.path, f.hash) not in committed})
    if ask:
        rows = (
            delta_io.read_table(spark, path)
            .where(F.col("_file_hash").isin(ask))
            .select("_source_file", "_file_hash")
            .distinct()
            .collect()
        )
        committed |= {(r["_source_file"], r["_file_hash"]) for r in rows}
    return committed


def _unknown_columns(spark: SparkSession, f: LandingFile, source: FileSource) -> list[str]:
    if source.format == FileFormat.JSON:
        return _json_unknown_keys(spark, f, source)
    return _csv_unknown_columns(f, source)


def _batch(
    spark: SparkSession,
    new: list[LandingFile],
    source: FileSource,
    run_id: str,
    ingested_at: _dt.datetime,
    extras: list[str],
) -> DataFrame:
    """The bronze rows of the new files: one frame per file, unioned (nothing is executed
    here except the line count that places records read by several tasks, see
    :func:`_block_deltas`)."""
    if source.format == FileFormat.JSON:
        scans = {f.path: _json_lines_scan(spark, f) for f in new if f.json_shape == JsonShape.LINES}
        build = _json_frame
    else:
        scans = {f.path: _csv_scan(spark, f, source) for f in new}
        build = _csv_frame
    split = {p: df for p, df in scans.items() if df.rdd.getNumPartitions() > 1}
    deltas = _block_deltas(split)
    frames = [
        build(
            spark, f, source, run_id, ingested_at, extras, scan=scans.get(f.path), deltas=deltas.get(f.path)
        )
        for f in new
    ]
    return reduce(lambda a, b: a.unionByName(b), frames)


def _written_counts(
    spark: SparkSession,
    bronze: str,
    version: int,
    new: list[LandingFile],
    run_id: str,
) -> tuple[dict[str, int], int]:
    """Rows per file and malformed rows of the batch just committed, from the version written
    (two narrow columns), not from a second read of the landing files."""
    rows = (
        delta_io.read_table(spark, bronze, version=version)
        .where((F.col("_run_id") == run_id) & F.col("_file_hash").isin(sorted({f.hash for f in new})))
        .groupBy("_source_file")
        .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("_is_malformed").cast("long")).alias("bad"))
        .collect()
    )
    return {r["_source_file"]: int(r["n"]) for r in rows}, sum(int(r["bad"] or 0) for r in rows)


def _known_files(
    listed: list[ListedFile], seen: set[tuple[str, int, int | None, str, str]]
) -> dict[str, LandingFile | None]:
    """Per listed file (by URI): the file as the ingest log knows it (same path, size and
    modification time, one hash), unread; None when it must be read.

    Times match to the millisecond Hadoop reports, within 1 ms: logs written before
    discovery went through Hadoop hold ``os.stat``'s float time in microseconds.
    """
    index: dict[tuple[str, int], list[tuple[int | None, str, str]]] = {}
    for p, size, ms, h, status in seen:
        index.setdefault((p, size), []).append((ms, h, status))
    out: dict[str, LandingFile | None] = {}
    for f in listed:
        rows = [
            (h, status)
            for ms, h, status in index.get((f.path, f.size), [])
            if ms is not None and abs(ms - f.mtime_ms) <= 1
        ]
        hashes = {h for h, _ in rows}
        empty = any(status == "empty" for _, status in rows)
        out[f.uri] = (
            LandingFile(f.path, f.size, f.mtime, hashes.pop(), empty, True, uri=f.uri, sniffed=False)
            if len(hashes) == 1
            else None
        )
    return out


def _sniffed(
    spark: SparkSession, files: Mapping[str, LandingFile | None], todo: list[ListedFile], source: FileSource
) -> dict[str, LandingFile]:
    """``files`` (by URI, in listing order) with the ``todo`` ones hashed and sniffed (a
    file gone since the listing drops out)."""
    read = {f.uri: f for f in inspect_files(spark, todo, source)} if todo else {}
    again = {f.uri for f in todo}
    out: dict[str, LandingFile] = {}
    for uri, f in files.items():
        if uri in read:
            out[uri] = read[uri]
        elif uri not in again and f is not None:
            out[uri] = f
    return out


@dataclass(frozen=True)
class _Plan:
    new: list[LandingFile]
    entries: list[LogEntry]  # log rows for skipped files (empty, duplicate)
    repair: list[LandingFile]  # committed by a run that died before logging them
    duplicates: int
    empties: int
    duplicate_files: list[LandingFile]


def _decide(
    files: list[LandingFile],
    committed: set[tuple[str, str]],
    logged: set[tuple[str, str, str]],
    source: FileSource,
) -> _Plan:
    """Which files to ingest, skip or log, from their hashes (in listing order: the first of
    several identical files is the one ingested)."""
    committed_hashes = {h for _, h in committed}
    new: list[LandingFile] = []
    entries: list[LogEntry] = []
    repair: list[LandingFile] = []
    dups: list[LandingFile] = []
    empties = 0
    chosen: set[str] = set()
    for f in files:
        if (f.path, f.hash) in committed:
            if (f.path, f.hash, "ingested") not in logged:
                repair.append(f)
            continue
        if f.empty:
            empties += 1
            if (f.path, f.hash, "empty") not in logged:
                entries.append(LogEntry(f.path, f.hash, f.size, f.mtime, "empty", 0))
            continue
        if source.dedupe_content and (f.hash in committed_hashes or f.hash in chosen):
            dups.append(f)
            if (f.path, f.hash, "duplicate") not in logged:
                entries.append(LogEntry(f.path, f.hash, f.size, f.mtime, "duplicate", 0))
            continue
        chosen.add(f.hash)
        new.append(f)
    return _Plan(new, entries, repair, len(dups), empties, dups)


def ingest_files(
    spark: SparkSession,
    source: FileSource,
    landing: str,
    paths: LakePaths,
    run_id: str,
    *,
    full_reload: bool = False,
    logged_files: set[tuple[str, int, int | None, str, str]] | None = None,
    small_step_mib: float = 0.0,
) -> IngestResult:
    """Ingest the source's files not yet in bronze (all of them with ``full_reload``).

    ``logged_files``: what the ingest log holds for this source
    (:func:`lake.ledger.read_ingest_log_files`), when the caller read it already for all its
    sources in one read. ``small_step_mib``: below that many MiB of files to read, the step
    runs interpreted (:func:`lake.session.sized_for`).

    Example:
        >>> ingest_files(spark, cfg.sources["whatsapp"], "data/landing", LakePaths("/tmp/lake"), "r1")
        IngestResult(source='whatsapp', files_seen=1, files_ingested=1, ...)
    """
    bronze = paths.bronze(source.name)
    listed = find_files(spark, landing, source.patterns)
    if full_reload:
        seen: set[tuple[str, int, int | None, str, str]] = set()
    else:
        seen = logged_files if logged_files is not None else read_ingest_log_files(spark, paths, source.name)
    known = _known_files(listed, seen)
    unread = sum(f.size for f in listed if known[f.uri] is None)
    with sized_for(spark, unread, small_step_mib):
        return _ingest_listed(spark, source, paths, run_id, bronze, listed, seen, full_reload=full_reload)


def _ingest_listed(
    spark: SparkSession,
    source: FileSource,
    paths: LakePaths,
    run_id: str,
    bronze: str,
    listed: list[ListedFile],
    seen: set[tuple[str, int, int | None, str, str]],
    *,
    full_reload: bool,
) -> IngestResult:
    """:func:`ingest_files` once the landing is listed and the ingest log read."""
    logged = {(p, h, status) for p, _, _, h, status in seen}

    # Files the log already knows by (path, size, mtime) are not read; the others are hashed
    # and sniffed in one Spark job. A known file the rules now want ingested (say
    # dedupe_content was switched off) is sniffed then, and the files are decided again.
    known = _known_files(listed, seen)
    sniffed = _sniffed(spark, known, [f for f in listed if known[f.uri] is None], source)
    committed = set() if full_reload else _bronze_files(spark, bronze, sniffed.values(), logged)
    plan = _decide(list(sniffed.values()), committed, logged, source)
    stale = {f.uri for f in plan.new if not f.sniffed}
    if stale:
        sniffed = _sniffed(spark, sniffed, [f for f in listed if f.uri in stale], source)
        committed = set() if full_reload else _bronze_files(spark, bronze, sniffed.values(), logged)
        plan = _decide(list(sniffed.values()), committed, logged, source)
    files = list(sniffed.values())
    new, entries, repair = plan.new, plan.entries, plan.repair
    for f in plan.duplicate_files:
        log.info("%s: %s duplicates content already ingested; skipped", source.name, f.path)

    extras_by_file = (
        {f.path: _unknown_columns(spark, f, source) for f in new}
        if source.drift != DriftPolicy.RESCUE
        else {}
    )
    if source.drift == DriftPolicy.FAIL:
        for f in new:
            if extras_by_file[f.path]:
                raise SourceError(
                    f"source {source.name!r}: file {f.path} has columns not in the configuration "
                    f"(drift policy 'fail'): {', '.join(extras_by_file[f.path])}"
                )
    extras: list[str] = []
    if source.drift == DriftPolicy.EVOLVE:
        for f in new:
            extras += [c for c in extras_by_file[f.path] if c not in extras and c not in LINEAGE_COLUMNS]

    rows_in = rows_written = malformed = 0
    counts: dict[str, int] = {}
    if new:
        ingested_at = utc_now()
        # records counted as they are read from the files, in the write's own job
        batch, read = observe_rows(
            _batch(spark, new, source, run_id, ingested_at, extras),
            f"bronze_{source.name}_in",
            malformed=F.sum(F.col("_is_malformed").cast("long")),
        )
        version_before = delta_io.table_version(spark, bronze)
        fault_point(f"bronze.append.before:{source.name}")
        if full_reload:
            metrics = delta_io.overwrite(spark, batch, bronze)
        else:
            metrics = delta_io.append(spark, batch, bronze, merge_schema=source.drift == DriftPolicy.EVOLVE)
        fault_point(f"bronze.append.after:{source.name}")
        # an empty append leaves no commit: the latest metrics would be an older write's
        committed_now = delta_io.committed_after(metrics, version_before)
        rows_written = metrics.get("numOutputRows", 0) if committed_now else 0
        seen_rows = observed(read)
        if committed_now and len(new) == 1 and "malformed" in seen_rows:
            # one file: its rows are the commit's and its malformed rows were counted as read
            counts, malformed = {new[0].path: rows_written}, seen_rows["malformed"]
        elif committed_now:
            counts, malformed = _written_counts(spark, bronze, metrics["version"], new, run_id)
        rows_in = seen_rows.get("rows", -1)
        log.info(
            "%s: %d files, %d rows written to %s (%d malformed)",
            source.name,
            len(new),
            rows_written,
            bronze,
            malformed,
        )
    elif full_reload and delta_io.table_exists(spark, bronze):
        from delta.tables import DeltaTable

        DeltaTable.forPath(spark, bronze).delete()

    entries += [LogEntry(f.path, f.hash, f.size, f.mtime, "ingested", counts.get(f.path, 0)) for f in new]
    if repair:
        repaired = (
            delta_io.read_table(spark, bronze)
            .where(F.col("_file_hash").isin([f.hash for f in repair]))
            .groupBy("_source_file", "_file_hash")
            .count()
            .collect()
        )
        n = {(r["_source_file"], r["_file_hash"]): int(r["count"]) for r in repaired}
        entries += [
            LogEntry(f.path, f.hash, f.size, f.mtime, "ingested", n.get((f.path, f.hash), 0)) for f in repair
        ]
    fault_point(f"bronze.ingest_log.before:{source.name}")
    write_ingest_log(spark, paths, source.name, run_id, entries, replace_source=full_reload)
    fault_point(f"bronze.ingest_log.after:{source.name}")
    return IngestResult(
        source=source.name,
        files_seen=len(files),
        files_ingested=len(new),
        duplicates=plan.duplicates,
        rows_in=rows_in,
        rows_written=rows_written,
        malformed=malformed,
        empty=plan.empties,
        oldest_modified=min((f.mtime for f in new), default=None),
    )
