"""The cooperative's ``movimento_flat``: one row per card transaction, 11 string columns,
kept as a gold Delta table and exported as ONE CSV file, atomically.

Join path (``docs/model.md``): ``movimento.id_cartao -> cartao.id``, ``cartao.id_conta ->
conta.id``, ``conta.id_associado -> associado.id``, inner-join semantics (written as left
joins plus a filter, so the rows left out are counted in the same job). Silver quarantines a
transaction whose card does not exist and a card whose ``id_associado`` differs from its
account's (with its transactions), so every transaction reaches exactly one member and one
account: the inner joins neither drop nor multiply rows on silver data.

Formats: timestamps ``yyyy-MM-dd HH:mm:ss``: a naive (``timestamp_ntz``) silver value as the
source wrote it, read in no zone (an instant, ``timestamp``, in the source zone); amounts as the
exact ``decimal(10,2)`` text (``1234.50``, never through a float); age as an integer; null stays
null in the table and is an empty field in the CSV.

Card number (``CardNumberMode``): as stored; masked (``************1234``: one ``*`` per
hidden digit, last four kept); or HMAC-SHA256 (hex) keyed by a secret from the environment,
computed with native functions (``sha2`` over the key pads, RFC 2104).

Example:
    >>> from lake.gold.flat import build_movimento_flat, export_csv
    >>> df = build_movimento_flat(spark, LakePaths("lake-data"), card_number=CardNumberMode.MASK)
    >>> export_csv(spark, df, "output")
    'output/movimento_flat.csv'
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampNTZType

from lake import delta_io
from lake.config import CardNumberMode, ExportOptions
from lake.errors import ConfigError, PipelineError, java_cause
from lake.faults import fault_point
from lake.gold.functions import DEFAULT_TIMEZONE, format_local, format_naive
from lake.gold.tables import FLAT_TABLE
from lake.paths import LakePaths
from lake.runlog import TableCounts, commit_rows, observe_rows, observed
from lake.session import jvm as session_jvm

log = logging.getLogger(__name__)

#: The flat file's columns, in order (NOTES.md).
FLAT_COLUMNS = (
    "nome_associado",
    "sobrenome_associado",
    "idade_associado",
    "vlr_transacao_movimento",
    "des_transacao_movimento",
    "data_movimento",
    "numero_cartao",
    "nome_impresso_cartao",
    "data_criacao_cartao",
    "tipo_conta",
    "data_criacao_conta",
)

#: Spark CSV writer options for RFC 4180 output: quote only when needed, double the quote,
#: keep blanks, empty field for null and empty, UTF-8, LF line ends.
CSV_OPTIONS = {
    "header": "true",
    "sep": ",",
    "quote": '"',
    "escape": '"',
    "escapeQuotes": "true",
    "quoteAll": "false",
    "emptyValue": "",
    "nullValue": "",
    "encoding": "UTF-8",
    "lineSep": "\n",
    "ignoreLeadingWhiteSpace": "false",
    "ignoreTrailingWhiteSpace": "false",
}

_BLOCK = 64  # SHA-256 block size in bytes


# --------------------------------------------------------------------------- card number


def mask_card(col: Column) -> Column:
    """Keep the last four characters, one ``*`` for each other one.

    Example:
        >>> df.select(mask_card(F.col("num")))  # '4111111111111234' -> '************1234'
    """
    return F.concat(F.repeat(F.lit("*"), F.greatest(F.length(col) - 4, F.lit(0))), F.right(col, F.lit(4)))


def hmac_sha256(col: Column, key: str | bytes) -> Column:
    """HMAC-SHA256 (RFC 2104) of a string column's UTF-8 bytes, as lower-case hex.

    Native: ``sha2(opad || unhex(sha2(ipad || msg)))``; the pads (the key xor 0x36 / 0x5c)
    are computed on the driver from the key, never from data. They are literals in the
    query plan, so plans of this column must not be logged.

    Example:
        >>> df.select(hmac_sha256(F.col("num"), "secret"))  # == hmac.new(b"secret", num, sha256)
    """
    k = key.encode("utf-8") if isinstance(key, str) else key
    if len(k) > _BLOCK:
        k = hashlib.sha256(k).digest()
    k = k.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in k).hex()
    opad = bytes(b ^ 0x5C for b in k).hex()
    inner = F.sha2(F.concat(F.unhex(F.lit(ipad)), F.encode(col, "UTF-8")), 256)
    return F.when(col.isNotNull(), F.sha2(F.concat(F.unhex(F.lit(opad)), F.unhex(inner)), 256))


def card_number_column(
    col: Column,
    mode: CardNumberMode,
    *,
    hash_key: str | None = None,
) -> Column:
    """The card number as the export mode asks (see :class:`lake.config.CardNumberMode`)."""
    mode = CardNumberMode(mode)
    if mode is CardNumberMode.AS_STORED:
        return col
    if mode is CardNumberMode.MASK:
        return mask_card(col)
    if not hash_key:
        raise ValueError("card_number=hash needs a key")
    return hmac_sha256(col, hash_key)


def resolve_hash_key(hash_key: str | None, env_var: str = ExportOptions.hash_key_env) -> str:
    """The HMAC key: ``hash_key`` if given, else the environment variable ``env_var``."""
    key = hash_key or os.environ.get(env_var)
    if not key:
        raise ConfigError(
            "environment",
            f"export.hash_key_env ({env_var})",
            "card_number=hash needs a key; the environment variable is not set or empty",
        )
    return key


# --------------------------------------------------------------------------- transform


def _timestamp_text(df: DataFrame, alias: str, name: str, timezone: str) -> Column:
    """``alias.name`` of ``df`` printed: a naive value as it reads, an instant in ``timezone``."""
    column = F.col(f"{alias}.{name}")
    if isinstance(df.select(column).schema[0].dataType, TimestampNTZType):
        return format_naive(column)
    return format_local(column, timezone)


def movimento_flat(
    movimento: DataFrame,
    cartao: DataFrame,
    conta: DataFrame,
    associado: DataFrame,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    card_number: CardNumberMode = CardNumberMode.AS_STORED,
    hash_key: str | None = None,
) -> DataFrame:
    """The flat rows from the four silver tables (pure transform).

    Example:
        >>> movimento_flat(mov, car, con, ass).columns == list(FLAT_COLUMNS)
        True
    """
    joined = _joined(movimento, cartao, conta, associado)
    return _flat_columns(
        joined.where(_complete()), timezone=timezone, card_number=card_number, hash_key=hash_key
    )


def _complete() -> Column:
    """A transaction that reached its card, account and member (the inner joins' condition)."""
    return F.col("c.id").isNotNull() & F.col("k.id").isNotNull() & F.col("a.id").isNotNull()


def _joined(movimento: DataFrame, cartao: DataFrame, conta: DataFrame, associado: DataFrame) -> DataFrame:
    """Every transaction with its card, account and member when they exist (left joins, so
    that the transactions without them can be counted before they are left out)."""
    m, c, k, a = movimento.alias("m"), cartao.alias("c"), conta.alias("k"), associado.alias("a")
    return (
        m.join(c, F.col("m.id_cartao") == F.col("c.id"), "left")
        .join(k, F.col("c.id_conta") == F.col("k.id"), "left")
        .join(a, F.col("k.id_associado") == F.col("a.id"), "left")
    )


def _flat_columns(
    joined: DataFrame,
    *,
    timezone: str,
    card_number: CardNumberMode,
    hash_key: str | None,
    extra: list[Column] | None = None,
) -> DataFrame:
    amount = F.col("m.vlr_transacao").cast("decimal(38,2)").cast("string")
    return joined.select(
        *(extra or []),
        F.col("a.nome").cast("string").alias("nome_associado"),
        F.col("a.sobrenome").cast("string").alias("sobrenome_associado"),
        F.col("a.idade").cast("int").cast("string").alias("idade_associado"),
        amount.alias("vlr_transacao_movimento"),
        F.col("m.des_transacao").cast("string").alias("des_transacao_movimento"),
        _timestamp_text(joined, "m", "data_movimento", timezone).alias("data_movimento"),
        card_number_column(F.col("c.num_cartao").cast("string"), card_number, hash_key=hash_key).alias(
            "numero_cartao"
        ),
        F.col("c.nom_impresso").cast("string").alias("nome_impresso_cartao"),
        _timestamp_text(joined, "c", "data_criacao", timezone).alias("data_criacao_cartao"),
        F.col("k.tipo").cast("string").alias("tipo_conta"),
        _timestamp_text(joined, "k", "data_criacao", timezone).alias("data_criacao_conta"),
    )


#: The key column of the gold table (``movimento.id``); not a column of the CSV.
FLAT_KEY = "_movimento_id"

#: The flat table's ledger sources: silver table -> ledger source name.
FLAT_SOURCES = {name: f"silver.{name}" for name in ("movimento", "cartao", "conta", "associado")}

#: Ledger source holding a fingerprint of how the rows were printed (card number mode, its
#: key, the time zone): a different fingerprint rebuilds the table.
FORMAT_SOURCE = "export.format"


def _format_fingerprint(card_number: CardNumberMode, key: str | None, timezone: str) -> int:
    """A 62-bit fingerprint of the printing options; the key enters only through an HMAC
    (the bookkeeping never holds anything the key could be recovered from)."""
    import hmac

    keyed = hmac.new((key or "").encode("utf-8"), b"lake movimento_flat", hashlib.sha256).hexdigest()
    digest = hashlib.sha256(f"{card_number.value}|{keyed}|{timezone}".encode()).hexdigest()
    return int(digest[:15], 16)


def flat_rows(
    movimento: DataFrame,
    cartao: DataFrame,
    conta: DataFrame,
    associado: DataFrame,
    *,
    timezone: str,
    card_number: CardNumberMode,
    hash_key: str | None,
) -> DataFrame:
    """The gold table's rows: :data:`FLAT_KEY` then the flat columns (pure transform)."""
    joined = _joined(movimento, cartao, conta, associado)
    return _flat_table(
        joined.where(_complete()), timezone=timezone, card_number=card_number, hash_key=hash_key
    )


def _flat_table(joined: DataFrame, **options) -> DataFrame:
    return _flat_columns(joined, **options, extra=[F.col("m.id").cast("long").alias(FLAT_KEY)])


def affected_movimentos(
    changed: dict[str, DataFrame | None], cartao: DataFrame, conta: DataFrame, movimento: DataFrame
) -> DataFrame:
    """The ids (``id``) of the transactions whose flat row may change (pure transform).

    ``changed`` maps each silver table to its change rows (or None): a changed transaction;
    the transactions of a changed card; of every card of a changed account; of every card of
    every account of a changed member. Every change type counts (both images of an update,
    a delete), and the current ``cartao``, ``conta`` and ``movimento`` are followed down.
    """

    def ids(name: str) -> DataFrame | None:
        df = changed.get(name)
        return None if df is None else df.select(F.col("id").cast("long").alias("id"))

    def union(*frames: DataFrame | None) -> DataFrame | None:
        present = [f for f in frames if f is not None]
        if not present:
            return None
        out = present[0]
        for f in present[1:]:
            out = out.unionByName(f)
        return out

    def children(df: DataFrame, fk: str, parents: DataFrame | None) -> DataFrame | None:
        if parents is None:
            return None
        return df.join(
            parents.select(F.col("id").alias("_parent")), F.col(fk) == F.col("_parent"), "left_semi"
        ).select(F.col("id").cast("long").alias("id"))

    accounts = children(conta, "id_associado", ids("associado"))
    cards = union(ids("cartao"), children(cartao, "id_conta", union(ids("conta"), accounts)))
    out = union(ids("movimento"), children(movimento, "id_cartao", cards))
    if out is None:
        raise ValueError("no changes given")
    return out.where(F.col("id").isNotNull())


def build_movimento_flat(
    spark: SparkSession,
    paths: LakePaths,
    *,
    card_number: CardNumberMode = CardNumberMode.AS_STORED,
    hash_key: str | None = None,
    hash_key_env: str = ExportOptions.hash_key_env,
    timezone: str = DEFAULT_TIMEZONE,
    counts: list[TableCounts] | None = None,
    run_id: str = "-",
    full: bool = False,
) -> DataFrame:
    """Bring gold ``movimento_flat`` up to date with the cooperative's silver tables and
    return its flat columns (what the CSV holds).

    Incremental (``docs/model.md``): the table is the ledger consumer
    ``gold.movimento_flat`` of ``silver.movimento``, ``silver.cartao``, ``silver.conta`` and
    ``silver.associado``; the transactions the changes affect (:func:`affected_movimentos`)
    are recomputed and the difference is MERGEd by movimento id. A transaction deleted, or
    no longer reaching its card, account and member (one of them deleted), loses its row.
    ``full=True``, a table never built, other printing options (card number mode, key, time
    zone) or a ledger the change feed does not reach back to rebuild the table.

    ``counts`` (a list) receives the table's :class:`~lake.runlog.TableCounts`. Rebuilt:
    silver ``movimento`` rows read, rows written, and transactions left out for lack of a
    card, account or member. Incremental: rows recomputed, written (MERGE metrics), unchanged.

    Example:
        >>> build_movimento_flat(spark, LakePaths("lake-data"), card_number=CardNumberMode.HASH)
    """
    from lake import ledger
    from lake.gold import incremental

    card_number = CardNumberMode(card_number)
    key = resolve_hash_key(hash_key, hash_key_env) if card_number is CardNumberMode.HASH else None
    options = {"timezone": timezone, "card_number": card_number, "hash_key": key}
    sources = {}
    for name in FLAT_SOURCES:
        path = paths.silver(name)
        if not delta_io.table_exists(spark, path):
            raise PipelineError(f"silver table {name!r} does not exist at {path}; run the silver step first")
        sources[FLAT_SOURCES[name]] = path
    fingerprint = _format_fingerprint(card_number, key, timezone)
    after = incremental.consumed_after(spark, paths, [FLAT_TABLE], sources, full=full)
    recorded = ledger.consumed(spark, paths, incremental.consumer(FLAT_TABLE), FORMAT_SOURCE)
    if after is None or recorded != fingerprint or FLAT_KEY not in _columns(spark, paths):
        result = _rebuild_flat(spark, paths, sources, fingerprint, options, run_id)
    else:
        result = _update_flat(spark, paths, sources, after, fingerprint, options, run_id)
    log.info("gold.movimento_flat: %d rows written, card numbers %s", result.written, card_number.value)
    if counts is not None:
        counts.append(result)
    return delta_io.read_table(spark, paths.gold(FLAT_TABLE)).select(*FLAT_COLUMNS)


def _columns(spark: SparkSession, paths: LakePaths) -> list[str]:
    path = paths.gold(FLAT_TABLE)
    return delta_io.read_table(spark, path).columns if delta_io.table_exists(spark, path) else []


def _rebuild_flat(
    spark: SparkSession,
    paths: LakePaths,
    sources: dict[str, str],
    fingerprint: int,
    options: dict,
    run_id: str,
) -> TableCounts:
    """Replace the whole table (one commit) from the silver tables' latest versions."""
    from lake.gold import incremental

    versions = {source: delta_io.table_version(spark, path) for source, path in sources.items()}
    tables = {
        name: delta_io.read_table(spark, sources[FLAT_SOURCES[name]], version=versions[FLAT_SOURCES[name]])
        for name in FLAT_SOURCES
    }
    movimento, read = observe_rows(tables.pop("movimento"), "flat_in")
    joined, left_out = observe_rows(
        _joined(movimento, **tables), "flat_joined", dropped=F.sum(F.when(~_complete(), 1).otherwise(0))
    )
    df = _flat_table(joined.where(_complete()), **options)
    fault_point("gold.write.before:movimento_flat")
    metrics = delta_io.overwrite(spark, df, paths.gold(FLAT_TABLE))
    fault_point("gold.write.after:movimento_flat")
    incremental.record(spark, paths, [FLAT_TABLE], {**versions, FORMAT_SOURCE: fingerprint}, run_id)
    rows, _ = commit_rows(metrics)
    return TableCounts(
        FLAT_TABLE,
        "gold",
        rows_in=observed(read).get("rows", -1),
        written=rows,
        dropped=observed(left_out).get("dropped", -1),
    )


def _update_flat(
    spark: SparkSession,
    paths: LakePaths,
    sources: dict[str, str],
    after: dict[str, int],
    fingerprint: int,
    options: dict,
    run_id: str,
) -> TableCounts:
    """MERGE the rows of the transactions the changes affect."""
    from lake import ledger
    from lake.gold import incremental

    changed: dict[str, DataFrame | None] = {}
    versions: dict[str, int | None] = {FORMAT_SOURCE: fingerprint}
    for name, source in FLAT_SOURCES.items():
        changed[name], versions[source] = ledger.changes(spark, sources[source], after[source])
    if all(df is None for df in changed.values()):
        log.info("gold.movimento_flat: no change in its silver tables")
        return TableCounts(FLAT_TABLE, "gold", 0, 0)
    tables = {
        name: delta_io.read_table(spark, sources[source], version=versions[source])
        for name, source in FLAT_SOURCES.items()
    }
    scope = affected_movimentos(changed, tables["cartao"], tables["conta"], tables["movimento"])
    movimento = incremental.in_scope(tables.pop("movimento"), F.col("id"), scope, "id")
    desired = flat_rows(movimento, tables["cartao"], tables["conta"], tables["associado"], **options)
    current = incremental.in_scope(
        delta_io.read_table(spark, paths.gold(FLAT_TABLE)), F.col(FLAT_KEY), scope, "id"
    )
    compared = incremental.compare_rows(current, desired, [FLAT_KEY])
    return incremental.merge_and_record(spark, paths, run_id, FLAT_TABLE, compared, [FLAT_KEY], versions)


# --------------------------------------------------------------------------- export


def _hadoop_path(spark: SparkSession, uri: str):
    jvm = session_jvm(spark)
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    if fs.getUri().getScheme() == "file":
        # The checksummed local FS (or Hive's proxy of it) would move a .crc file next to
        # the final file; renames go through the raw local FS instead.
        raw = jvm.org.apache.hadoop.fs.RawLocalFileSystem()
        raw.initialize(jvm.java.net.URI.create("file:///"), spark._jsc.hadoopConfiguration())
        fs = raw
    return fs, fs.makeQualified(path)


def _rename_over(spark: SparkSession, fs, src, dst) -> None:
    """Rename ``src`` over ``dst`` (same directory), replacing it atomically where the store
    allows: POSIX rename on the local FS, ``Rename.OVERWRITE`` through FileContext (HDFS)."""
    if fs.rename(src, dst):
        return
    jvm = session_jvm(spark)
    try:
        fc = jvm.org.apache.hadoop.fs.FileContext.getFileContext(
            dst.toUri(), spark._jsc.hadoopConfiguration()
        )
        opts = jvm.org.apache.hadoop.fs.Options.Rename
        gateway = spark.sparkContext._gateway
        assert gateway is not None  # set together with the JVM session_jvm returned
        arr = gateway.new_array(opts, 1)
        arr[0] = opts.OVERWRITE
        fc.rename(src, dst, arr)
        return
    except Exception as exc:
        log.debug("overwriting rename unavailable (%s); replacing by delete + rename", exc)
    # Object stores: no atomic replace exists; the window is one delete.
    fs.delete(dst, False)
    if not fs.rename(src, dst):
        raise PipelineError(f"cannot rename {src} to {dst}")


def _remove_leftovers(fs, out, parent, file_name: str) -> None:
    """Remove the temporary file and staging folder an export killed before its cleanup
    left behind (``.<file>.<token>.tmp`` in the folder, ``.<dir>.lake-staging-<token>`` beside it)."""
    import fnmatch

    patterns = [(out, f".{file_name}.*.tmp"), (parent, f".{out.getName() or 'root'}.lake-staging-*")]
    for folder, pattern in patterns:
        try:
            stale = [
                st.getPath()
                for st in fs.listStatus(folder)
                if fnmatch.fnmatchcase(st.getPath().getName(), pattern)
            ]
            for path in stale:
                log.info("removing %s, left by an interrupted export", path.toString())
                fs.delete(path, True)
        except Exception as exc:
            log.warning(
                "could not remove leftovers of an earlier export in %s: %s",
                folder.toString(),
                java_cause(exc) or exc,
            )


def export_csv(
    spark: SparkSession,
    df_or_paths: DataFrame | LakePaths,
    output_dir: str,
    *,
    file_name: str = ExportOptions.file_name,
) -> str:
    """Write ``df_or_paths`` (a DataFrame, or the gold ``movimento_flat`` of a lake) as ONE
    CSV file ``output_dir/file_name`` and return its URI.

    RFC 4180 (see :data:`CSV_OPTIONS`), UTF-8 without BOM, LF line ends, header row.
    Atomic: Spark writes one part file into a hidden staging folder beside ``output_dir``
    (``.<dir>.lake-staging-<uuid>`` in its parent); the part file is renamed to a hidden
    temporary name in ``output_dir``, then over the target, and the staging folder is
    removed. A crash leaves the previous file or the new one, never a partial file; the
    hidden temporary file or staging folder a crash can leave is removed by the next export.

    Example:
        >>> export_csv(spark, LakePaths("lake-data"), "s3a://bucket/exports")
        's3a://bucket/exports/movimento_flat.csv'
    """
    if isinstance(df_or_paths, LakePaths):  # the maintained table, without its key column
        df = delta_io.read_table(spark, df_or_paths.gold(FLAT_TABLE)).select(*FLAT_COLUMNS)
    else:
        df = df_or_paths
    jvm = session_jvm(spark)
    fs, out = _hadoop_path(spark, output_dir)
    try:
        made = fs.mkdirs(out) and fs.getFileStatus(out).isDirectory()
    except Exception as exc:
        raise PipelineError(
            f"cannot create the output folder {output_dir}: {java_cause(exc) or exc}"
        ) from None
    if not made:
        raise PipelineError(f"cannot create the output folder {output_dir}")
    parent = out.getParent() or out
    token = uuid.uuid4().hex
    staging = jvm.org.apache.hadoop.fs.Path(parent, f".{out.getName() or 'root'}.lake-staging-{token}")
    target = jvm.org.apache.hadoop.fs.Path(out, file_name)
    temp = jvm.org.apache.hadoop.fs.Path(out, f".{file_name}.{token}.tmp")
    try:
        fault_point("csv.write.before")
        df.coalesce(1).write.format("csv").options(**CSV_OPTIONS).mode("overwrite").save(staging.toString())
        fault_point("csv.write.after")
        parts = [s.getPath() for s in fs.listStatus(staging) if s.getPath().getName().startswith("part-")]
        if len(parts) != 1:
            raise PipelineError(f"expected one part file in {staging}; found {len(parts)}")
        if not fs.rename(parts[0], temp):
            raise PipelineError(f"cannot move {parts[0]} to {temp}")
        fault_point("csv.rename.before")
        _rename_over(spark, fs, temp, target)
        fault_point("csv.rename.after")
    except PipelineError:
        raise
    except Exception as exc:
        cause = java_cause(exc)
        if cause is None:
            raise
        raise PipelineError(
            f"cannot write {file_name} into {output_dir}: {cause}; the previous file, if any, is unchanged"
        ) from None
    finally:
        try:
            fs.delete(staging, True)
            if fs.exists(temp):
                fs.delete(temp, False)
        except Exception as exc:
            log.warning(
                "could not remove the staging files of %s: %s", target.toString(), java_cause(exc) or exc
            )
    _remove_leftovers(fs, out, parent, file_name)
    log.info("exported %s", target.toString())
    return f"{output_dir.rstrip('/')}/{file_name}"
