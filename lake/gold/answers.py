"""The three customer-experience answers: library functions, gold tables, SQL files.

Every answer takes either a SparkSession or a DataFrame of interactions:

* from a SparkSession, the answer is read from the gold star under ``paths`` by its SQL file
  (``lake/gold/sql/<name>.sql``), the ONE definition that :mod:`lake.gold.fast` also runs
  on delta-rs's DataFusion engine without a JVM;
* from a DataFrame (the ``silver/interactions`` shape: ``interaction_id, channel,
  customer_email, started_at, ended_at, ...``), the same rules in the DataFrame API, for
  data that is not (yet) in gold. ``tests/test_answers_parity.py`` holds the three ways
  (Spark SQL, DataFrame API over the star, DataFusion) to identical output.

Rules shared by the answers (also in ``docs/model.md``):

* customers are identified by the normalized e-mail (trimmed, lower-cased); interactions
  without a usable e-mail (the unknown customer) are left out of the per-customer answers;
* ``as_of`` is a ``'yyyy-MM-dd HH:mm:ss'`` string (or a datetime; naive values are read in
  the source time zone); default: now. Only interactions with ``started_at <= as_of`` count;
* ``contacts_24h`` counts ``as_of - 24 hours < started_at <= as_of`` (24 elapsed hours);
* ``last_interaction`` ties: latest ``started_at``, then latest ``ended_at`` (null last),
  then the configured channel ``priority`` (``channels:``, as ``dim_channel.priority``),
  then the smallest ``interaction_id``.

Example:
    >>> from lake.gold.answers import contacts_24h, format_answer
    >>> print(format_answer(contacts_24h(spark, paths=paths, as_of="2019-10-02 00:00:00"), "csv"))
    customer_email,contacts
    ana@x.com,2
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import os
from collections.abc import Collection, Mapping

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampNTZType, TimestampType

from lake import delta_io, ledger
from lake.config import UNKNOWN_CHANNEL_PRIORITY, Channel
from lake.faults import fault_point
from lake.gold import rules
from lake.gold.functions import (
    DEFAULT_TIMEZONE,
    UNKNOWN_KEY,
    as_of_literal,
    channel_value,
    format_local,
    normalize_email,
    parse_as_of,
)
from lake.gold.tables import ANSWER_TABLES, STAR_TABLES
from lake.parallel import side_by_side
from lake.paths import LakePaths
from lake.runlog import TableCounts, commit_rows, observe_rows, observed

log = logging.getLogger(__name__)

Source = SparkSession | DataFrame
AsOf = str | _dt.datetime | None

#: Gold tables that :func:`register_gold_views` exposes as ``gold.<name>``.
GOLD_VIEWS = STAR_TABLES

INTERACTION_COLUMNS = (
    "interaction_id",
    "customer_email",
    "channel",
    "started_at",
    "ended_at",
    "agent",
    "answered",
    "classification",
    "sub_classification",
    "feedback_score",
)


# --------------------------------------------------------------------------- source


def gold_interactions(spark: SparkSession, paths: LakePaths) -> DataFrame:
    """Interactions as read back from the star (customer e-mail and channel from the dims).

    Example:
        >>> gold_interactions(spark, LakePaths("lake-data")).columns[:3]
        ['interaction_id', 'customer_email', 'channel']
    """
    fact = delta_io.read_table(spark, paths.gold("fact_interaction"))
    cust = delta_io.read_table(spark, paths.gold("dim_customer")).select("customer_key", "customer_email")
    chan = delta_io.read_table(spark, paths.gold("dim_channel")).select("channel_key", "channel")
    agent = delta_io.read_table(spark, paths.gold("dim_agent")).select(
        "agent_key", F.col("agent_name").alias("agent")
    )
    return (
        fact.join(cust, "customer_key", "left")
        .join(chan, "channel_key", "left")
        .join(agent, "agent_key", "left")
        .select(
            "interaction_id",
            "customer_email",
            "channel",
            "started_at",
            "ended_at",
            F.when(F.col("agent_key") != UNKNOWN_KEY, F.col("agent")).alias("agent"),
            "answered",
            "classification",
            "sub_classification",
            "feedback_score",
        )
    )


def _interactions(source: Source, paths: LakePaths | None) -> DataFrame:
    """The known-customer interactions of ``source`` with a normalized ``customer_email``."""
    if isinstance(source, SparkSession):
        if paths is None:
            from lake.config import load_config

            paths = LakePaths(load_config().lake.root)
        df = gold_interactions(source, paths)
    else:
        df = source
    cols = [c for c in INTERACTION_COLUMNS if c in df.columns and c != "customer_email"]
    return df.select(normalize_email("customer_email").alias("customer_email"), *cols).where(
        F.col("customer_email").isNotNull()
    )


def _star_answer(
    spark: SparkSession, name: str, as_of: AsOf, timezone: str, paths: LakePaths | None
) -> DataFrame:
    """Answer ``name`` from the gold star: its SQL file on Spark SQL (the text the fast path
    runs on DataFusion, so both engines share one definition)."""
    if paths is None:
        from lake.config import load_config

        paths = LakePaths(load_config().lake.root)
    return run_query(spark, name, as_of=as_of, timezone=timezone, paths=paths)


def _up_to(df: DataFrame, as_of: AsOf, timezone: str) -> tuple[DataFrame, Column]:
    at = as_of_literal(as_of, timezone)
    return df.where(F.col("started_at").isNotNull() & (F.col("started_at") <= at)), at


# --------------------------------------------------------------------------- answers


def contacts_24h(
    source: Source,
    *,
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    paths: LakePaths | None = None,
) -> DataFrame:
    """Contacts per customer in the 24 hours before ``as_of``: ``customer_email, contacts``.

    Counts interactions of any channel with ``as_of - 24 hours < started_at <= as_of``;
    customers without such a contact are not listed.

    Example:
        >>> contacts_24h(silver_df, as_of="2019-10-02 00:00:00").show()
        +--------------+--------+
        |customer_email|contacts|
        |     ana@x.com|       2|
    """
    if isinstance(source, SparkSession):
        return _star_answer(source, "contacts_24h", as_of, timezone, paths)
    df, at = _up_to(_interactions(source, paths), as_of, timezone)
    return (
        df.where(F.col("started_at") > at - F.expr("INTERVAL 24 HOURS"))
        .groupBy("customer_email")
        .agg(F.count(F.lit(1)).alias("contacts"))
    )


def interactions_by_channel(
    source: Source,
    *,
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    paths: LakePaths | None = None,
) -> DataFrame:
    """One row per customer and channel used up to ``as_of``:
    ``customer_email, channel, interactions, first_started_at, last_started_at``.

    Example:
        >>> interactions_by_channel(silver_df, as_of="2019-10-02 00:00:00").columns
        ['customer_email', 'channel', 'interactions', 'first_started_at', 'last_started_at']
    """
    if isinstance(source, SparkSession):
        return _star_answer(source, "interactions_by_channel", as_of, timezone, paths)
    df, _ = _up_to(_interactions(source, paths), as_of, timezone)
    return df.groupBy("customer_email", "channel").agg(
        F.count(F.lit(1)).alias("interactions"),
        F.min("started_at").alias("first_started_at"),
        F.max("started_at").alias("last_started_at"),
    )


def interactions_pivot(
    source: Source,
    *,
    channels: Collection[Channel],
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    paths: LakePaths | None = None,
) -> DataFrame:
    """Per-customer counts, one column per configured channel in priority order (0 when
    unused), plus ``total`` (which also counts channels not configured).

    Example:
        >>> interactions_pivot(silver_df, channels=cfg.channels.values()).columns  # conf/lake.yml
        ['customer_email', 'phone', 'chat', 'whatsapp', 'email', 'total']
    """
    df, _ = _up_to(_interactions(source, paths), as_of, timezone)
    ordered = sorted(channels, key=lambda c: c.priority)
    counts = [F.count(F.when(F.col("channel") == c.name, F.lit(1))).alias(c.name) for c in ordered]
    return df.groupBy("customer_email").agg(*counts, F.count(F.lit(1)).alias("total"))


def customer_interactions(
    source: Source,
    email: str,
    *,
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    paths: LakePaths | None = None,
) -> DataFrame:
    """Every interaction of one customer (e-mail normalized) up to ``as_of``.

    Example:
        >>> customer_interactions(silver_df, " Ana@X.com ").select("channel", "started_at")
    """
    df, _ = _up_to(_interactions(source, paths), as_of, timezone)
    return df.where(F.col("customer_email") == normalize_email(F.lit(email)))


def last_interaction(
    source: Source,
    *,
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    paths: LakePaths | None = None,
    channels: Collection[Channel] | None = None,
) -> DataFrame:
    """Each customer's latest interaction up to ``as_of``: ``customer_email, channel, started_at``.

    Ties: latest ``started_at``, then latest ``ended_at`` (null last), then the channel's
    configured ``priority`` (from the star's ``dim_channel``; for a DataFrame source, from
    ``channels``, which it requires), then the smallest ``interaction_id``.

    Example:
        >>> last_interaction(silver_df, as_of="2019-10-02 00:00:00",
        ...                  channels=cfg.channels.values()).first()
        Row(customer_email='ana@x.com', channel='phone', started_at=datetime(...))
    """
    if isinstance(source, SparkSession):
        return _star_answer(source, "last_interaction", as_of, timezone, paths)
    if channels is None:
        raise ValueError("last_interaction of a DataFrame needs channels= (cfg.channels.values())")
    df, _ = _up_to(_interactions(source, paths), as_of, timezone)
    # a channel not configured ranks last, as the unknown member of dim_channel
    priority = channel_value("channel", {c.name: c.priority for c in channels}, UNKNOWN_CHANNEL_PRIORITY)
    w = Window.partitionBy("customer_email").orderBy(
        F.col("started_at").desc(),
        F.col("ended_at").desc_nulls_last(),
        priority.asc(),
        F.col("interaction_id").asc(),
    )
    return (
        df.withColumn("_rank", F.row_number().over(w))
        .where(F.col("_rank") == 1)
        .select("customer_email", "channel", "started_at")
    )


# --------------------------------------------------------------------------- gold tables


#: The answer tables' ledger sources: the interactions they are computed from, and the
#: ``as_of`` instant they hold (its "version": microseconds since the epoch, UTC).
SOURCE = "silver.interactions"
AS_OF_SOURCE = "as_of"


def _answer_fns():
    return {
        "contacts_24h": contacts_24h,
        "interactions_by_channel": interactions_by_channel,
        "last_interaction": last_interaction,
    }


def _micros(instant: _dt.datetime) -> int:
    delta = instant.astimezone(_dt.timezone.utc) - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def latest_start(spark: SparkSession, paths: LakePaths) -> _dt.datetime | None:
    """The latest ``started_at`` in ``fact_interaction`` (the default ``as_of`` of the
    answer tables), or None when the star has no interaction. A one-value read."""
    fact = delta_io.read_table(spark, paths.gold("fact_interaction"))
    latest = fact.agg(F.max(F.unix_micros("started_at")).alias("m"))  # exact, in no zone
    value = delta_io.one_row(latest)["m"]
    return None if value is None else _from_micros(value)


def _from_micros(value: int) -> _dt.datetime:
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(microseconds=value)


def answer_rows(
    spark: SparkSession,
    paths: LakePaths,
    answer: str,
    at: _dt.datetime,
    timezone: str,
    *,
    facts: str | None = None,
) -> DataFrame:
    """The rows of an answer table: the answer as of ``at``; ``contacts_24h`` rows also
    carry ``as_of`` (the window they count). ``facts``: a view read in place of
    ``gold.fact_interaction`` (a subset of its rows: the answer of their customers)."""
    if facts is None:
        df = _answer_fns()[answer](spark, as_of=at, timezone=timezone, paths=paths)
    else:
        df = spark.sql(
            render_query(answer, as_of=at, timezone=timezone, paths=paths, tables={"fact_interaction": facts})
        )
    if answer == "contacts_24h":
        df = df.withColumn("as_of", F.lit(at).cast("timestamp"))
    return df


def _fact_emails(spark: SparkSession, paths: LakePaths) -> DataFrame:
    """``fact_interaction``'s rows with their customer's ``customer_email`` (normalized, as
    ``dim_customer`` holds it) and ``started_at``; the unknown customer left out."""
    fact = delta_io.read_table(spark, paths.gold("fact_interaction")).select("customer_key", "started_at")
    cust = delta_io.read_table(spark, paths.gold("dim_customer")).select("customer_key", "customer_email")
    return fact.join(cust, "customer_key").select(
        normalize_email("customer_email").alias("customer_email"), "started_at"
    )


def scope_flag(table: str) -> str:
    """The column of an answer scope (:func:`answer_scope`) that is true for the customers
    whose row of ``table`` may change."""
    return f"_lake_for_{table}"


def moved_scope(
    spark: SparkSession,
    paths: LakePaths,
    moves: Collection[tuple[str, str, _dt.datetime]],
    new: _dt.datetime,
) -> DataFrame | None:
    """The customers (``customer_email``) whose answer row can change because ``as_of``
    moved to ``new``, for each ``(answer, table, old as_of)`` of ``moves``, found from the
    tables (one read of the facts for all of them), not by a full recompute; each row
    flags (:func:`scope_flag`) the tables it belongs to:

    * ``interactions_by_channel`` and ``last_interaction`` count ``started_at <= as_of``:
      the customers with an interaction between the two instants;
    * ``contacts_24h`` counts ``as_of - 24 h < started_at <= as_of``: the customers the
      table lists (they may leave the window) and those with an interaction in the new
      window (they may enter it).

    None when nothing moved. A customer may appear in several rows (see :func:`answer_scope`).
    """
    if not moves:
        return None
    started = F.col("started_at")

    def between(lo: _dt.datetime, hi: _dt.datetime) -> Column:
        return (started > F.lit(lo).cast("timestamp")) & (started <= F.lit(hi).cast("timestamp"))

    tables = [table for _, table, _ in moves]
    flags: dict[str, Column] = {}
    listed: list[DataFrame] = []
    for answer, table, old in moves:
        if answer == "contacts_24h":
            flags[table] = between(new - _dt.timedelta(hours=24), new)
            listed.append(
                delta_io.read_table(spark, paths.gold(table)).select(
                    "customer_email", *[F.lit(t == table).alias(scope_flag(t)) for t in tables]
                )
            )
        else:
            flags[table] = between(min(old, new), max(old, new))
    entering: Column = F.lit(False)
    for flag in flags.values():
        entering = entering | flag
    scope = (
        _fact_emails(spark, paths)
        .where(entering)
        .select("customer_email", *[flags[t].alias(scope_flag(t)) for t in tables])
    )
    for df in listed:
        scope = scope.unionByName(df)
    return scope.where(F.col("customer_email").isNotNull())


def answer_scope(changed: list[DataFrame], moved: DataFrame | None, tables: Collection[str]) -> DataFrame:
    """One row per customer (``customer_email``) whose row of any of ``tables`` may change,
    with one :func:`scope_flag` column per table: true when that table's row may change.

    ``changed``: the e-mails the batch's changes name (every table's scope); ``moved``: the
    rows of :func:`moved_scope` (flags for the tables whose ``as_of`` moved, absent flags
    false). Pure transform.
    """
    parts = [
        df.select("customer_email", *[F.lit(True).alias(scope_flag(t)) for t in tables]) for df in changed
    ]
    if moved is not None:
        parts.append(
            moved.select(
                "customer_email",
                *[
                    (F.col(scope_flag(t)) if scope_flag(t) in moved.columns else F.lit(False)).alias(
                        scope_flag(t)
                    )
                    for t in tables
                ],
            )
        )
    scope = parts[0]
    for part in parts[1:]:
        scope = scope.unionByName(part)
    return (
        scope.where(F.col("customer_email").isNotNull())
        .groupBy("customer_email")
        .agg(*[F.bool_or(scope_flag(t)).alias(scope_flag(t)) for t in tables])
    )


def scoped_facts(spark: SparkSession, paths: LakePaths, scope: DataFrame) -> DataFrame:
    """Every ``fact_interaction`` row of the customers of ``scope`` (``customer_email``,
    normalized): all versions of each (``dim_customer`` rows share the e-mail), so the
    answers over these rows are the answers of exactly those customers."""
    from lake.gold.incremental import in_scope

    keys = in_scope(
        delta_io.read_table(spark, paths.gold("dim_customer")).select("customer_key", "customer_email"),
        F.col("customer_email"),
        scope,
        "customer_email",
    ).select("customer_key")
    return delta_io.read_table(spark, paths.gold("fact_interaction")).join(keys, "customer_key", "left_semi")


def refresh_answers(
    spark: SparkSession,
    paths: LakePaths,
    *,
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    run_id: str = "-",
    full: bool = False,
    parallel: int = 1,
) -> list[TableCounts]:
    """Bring the three answer tables up to date (``docs/model.md``, "The answer tables").

    The tables answer as of ``as_of``; by default, as of the latest interaction in the star
    (data time: the same instant for the same data, whenever and however often it ran).
    Incremental: each table is a ledger consumer of ``silver.interactions``; only the
    customers the changes touch, plus those whose row can change because ``as_of`` moved
    (:func:`moved_scope`), are recomputed, and the difference is MERGEd (rows of customers
    who no longer qualify are deleted). The facts of the union of the three scopes are
    read once (:func:`scoped_facts`) and answered by each table's SQL file; each table
    compares only the rows of its own scope.
    ``full=True``, a table never built, or a ledger the change feed does not reach back to
    recomputes the whole table (one commit). The tables are written ``parallel`` at once
    (:func:`lake.parallel.side_by_side`).

    Example:
        >>> refresh_answers(spark, LakePaths("lake-data"), as_of="2019-10-02 00:00:00")
    """
    from lake.gold import incremental

    source = paths.silver("interactions")
    explicit = parse_as_of(as_of, timezone) if as_of is not None else None
    enabled_at = incremental.ensure_change_feed(spark, source)  # once for the three tables
    default_at: list[_dt.datetime] = []  # the star's latest start, read once when needed

    def as_of_instant() -> _dt.datetime:
        if explicit is not None:
            return explicit
        if not default_at:
            default_at.append(latest_start(spark, paths) or parse_as_of(None, timezone))
        return default_at[0]

    counts: dict[str, TableCounts] = {}
    read: dict[int, tuple[DataFrame | None, int | None]] = {}  # changes per consumed version
    merges: list[tuple[str, str, tuple[str, ...], int | None]] = []  # table, answer, keys, upto
    moves: list[tuple[str, str, _dt.datetime]] = []
    rebuilds: list[tuple[str, str]] = []  # table, answer
    for table, (answer, keys) in ANSWER_TABLES.items():
        after = incremental.consumed_after(
            spark, paths, [table], {SOURCE: source}, full=full, enabled_at={SOURCE: enabled_at}
        )
        old_us = ledger.consumed(spark, paths, incremental.consumer(table), AS_OF_SOURCE)
        if after is None or old_us is None or not delta_io.table_exists(spark, paths.gold(table)):
            rebuilds.append((table, answer))
            continue
        if after[SOURCE] not in read:
            read[after[SOURCE]] = ledger.changes(spark, source, after[SOURCE])
        changes, upto = read[after[SOURCE]]
        if changes is None and explicit is None:
            counts[table] = TableCounts(table, "gold", 0, 0)  # same data, same as_of: same answer
            continue
        at = as_of_instant()
        moved = _micros(at) != old_us
        if changes is None and not moved:
            counts[table] = TableCounts(table, "gold", 0, 0)
            continue
        if moved:
            moves.append((answer, table, _from_micros(old_us)))
        merges.append((table, answer, keys, upto))
    if rebuilds:
        at = as_of_instant()
        steps = [
            functools.partial(_rebuild_answer, spark, paths, t, a, at, timezone, run_id) for t, a in rebuilds
        ]
        counts.update(zip([t for t, _ in rebuilds], side_by_side(spark, steps, parallel), strict=True))
    if merges:
        changed = [
            df.select(normalize_email("customer_email").alias("customer_email"))
            for df, _ in read.values()
            if df is not None
        ]
        counts.update(
            _merge_answers(spark, paths, merges, changed, moves, as_of_instant(), timezone, run_id, parallel)
        )
    return [counts[t] for t in ANSWER_TABLES]


def _merge_answers(
    spark: SparkSession,
    paths: LakePaths,
    merges: list[tuple[str, str, tuple[str, ...], int | None]],
    changed: list[DataFrame],
    moves: list[tuple[str, str, _dt.datetime]],
    at: _dt.datetime,
    timezone: str,
    run_id: str,
    parallel: int = 1,
) -> dict[str, TableCounts]:
    """MERGE each answer table of ``merges`` (``parallel`` at once) over its own scope: the customers the
    ``changed`` e-mails name and those its ``moves`` reach (:func:`moved_scope`). The
    scopes are computed together (:func:`answer_scope`) and the facts of all their
    customers read once; each table compares only its own customers' rows."""
    import uuid

    from lake.gold import incremental
    from lake.session import materialize, release

    tables = [table for table, _, _, _ in merges]
    moved = moved_scope(spark, paths, moves, at)
    scope = materialize(answer_scope(changed, moved, tables))
    facts = materialize(scoped_facts(spark, paths, scope))
    view = f"lake_answer_facts_{uuid.uuid4().hex}"
    facts.createOrReplaceTempView(view)

    def merge(table: str, answer: str, keys: tuple[str, ...], upto: int | None) -> TableCounts:
        own = scope.where(F.col(scope_flag(table))).select("customer_email")
        # the SQL answers every customer of the shared facts; only this table's own
        # customers are compared (a customer another table needs is unchanged here)
        desired = answer_rows(spark, paths, answer, at, timezone, facts=view).join(
            own, "customer_email", "left_semi"
        )
        current = incremental.in_scope(
            delta_io.read_table(spark, paths.gold(table)), F.col("customer_email"), own, "customer_email"
        )
        compared = incremental.compare_rows(current, desired, keys)
        counts = incremental.merge_and_record(
            spark, paths, run_id, table, compared, keys, {SOURCE: upto, AS_OF_SOURCE: _micros(at)}
        )
        log.info("gold.%s merged as of %s", table, at.isoformat())
        return counts

    try:
        done = side_by_side(spark, [functools.partial(merge, *m) for m in merges], parallel)
        return {m[0]: c for m, c in zip(merges, done, strict=True)}
    finally:
        spark.catalog.dropTempView(view)
        release(facts)
        release(scope)


def _rebuild_answer(
    spark: SparkSession,
    paths: LakePaths,
    table: str,
    answer: str,
    at: _dt.datetime,
    timezone: str,
    run_id: str,
) -> TableCounts:
    """Recompute a whole answer table as of ``at`` (one commit) and record it in the ledger."""
    from lake.gold import incremental

    upto = delta_io.table_version(spark, paths.silver("interactions"))
    df, produced = observe_rows(answer_rows(spark, paths, answer, at, timezone), table)
    fault_point(f"gold.write.before:{table}")
    rows, _ = commit_rows(delta_io.overwrite(spark, df, paths.gold(table)))
    fault_point(f"gold.write.after:{table}")
    incremental.record(spark, paths, [table], {SOURCE: upto, AS_OF_SOURCE: _micros(at)}, run_id)
    log.info("gold.%s recomputed as of %s (%d rows)", table, at.isoformat(), rows)
    return TableCounts(table, "gold", rows_in=observed(produced).get("rows", -1), written=rows)


# --------------------------------------------------------------------------- SQL


def _delta_path(path: str) -> str:
    """``path`` as Delta's SQL path identifier needs it: Delta reads ``delta.`<path>``` only
    for an absolute path or a URI (a relative one, e.g. the demo's ``lake-data``, fails with
    UNSUPPORTED_DATASOURCE_FOR_DIRECT_QUERY)."""
    return path if ":" in path.split("/", 1)[0] else os.path.abspath(path)


def register_gold_views(spark: SparkSession, paths: LakePaths, *, database: str = "gold") -> None:
    """Expose the star as ``gold.<table>`` views (what the SQL files query).

    Example:
        >>> register_gold_views(spark, LakePaths("lake-data"))
        >>> spark.sql("SELECT count(*) FROM gold.fact_interaction")
    """
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    for name in GOLD_VIEWS:
        location = _delta_path(paths.gold(name)).replace("`", "``")
        spark.sql(f"CREATE OR REPLACE VIEW `{database}`.`{name}` AS SELECT * FROM delta.`{location}`")


def render_query(
    name: str,
    *,
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    paths: LakePaths | None = None,
    tables: Mapping[str, str] | None = None,
) -> str:
    """The statement of ``lake/gold/sql/<name>.sql`` for ``as_of`` (the text both engines
    run, see :func:`lake.gold.rules.render_query`). With ``paths``, each ``gold.<table>`` is
    read as ``delta.`<path>``` (no catalog needed); without, from the ``gold`` views.
    ``tables`` names what to read instead of some of them (e.g. a view of a subset).

    Example:
        >>> "2019-10-02T03:00:00" in render_query("contacts_24h", as_of="2019-10-02 00:00:00")
        True
    """
    read: dict[str, str] | None = None
    if paths is not None:
        names = rules.gold_tables(rules.query_text(name))
        read = {t: "delta.`" + _delta_path(paths.gold(t)).replace("`", "``") + "`" for t in names}
    if tables:
        read = {**(read or {}), **tables}
    return rules.render_query(name, as_of=as_of, timezone=timezone, tables=read)


def run_query(
    spark: SparkSession,
    name: str,
    *,
    as_of: AsOf = None,
    timezone: str = DEFAULT_TIMEZONE,
    paths: LakePaths | None = None,
) -> DataFrame:
    """Run an answer SQL file on Spark SQL: over the gold tables under ``paths``, or over
    the ``gold.*`` views (:func:`register_gold_views`) when ``paths`` is None.

    Example:
        >>> run_query(spark, "last_interaction", as_of="2019-10-02 00:00:00", paths=paths)
    """
    return spark.sql(render_query(name, as_of=as_of, timezone=timezone, paths=paths))


# --------------------------------------------------------------------------- output


def format_answer(df: DataFrame, fmt: str = "table", *, timezone: str = DEFAULT_TIMEZONE) -> str:
    """Render a (small) answer as text: ``table``, ``csv`` (header and rows only) or ``json``
    (a list of objects). Timestamps print as ``yyyy-MM-dd HH:mm:ss`` in ``timezone``.
    The text has no final line end, so ``print(format_answer(...))`` prints exactly it.

    Rows are sorted by every column so the output is reproducible, and the text is the one
    :func:`lake.gold.fast.format_table` prints for the same answer read without Spark
    (:func:`lake.gold.rules.render_rows`). This is an output surface: it brings the final
    answer to the driver.

    Example:
        >>> print(format_answer(df, "csv"))
        customer_email,contacts
        ana@x.com,2
    """
    if fmt not in rules.FORMATS:
        raise ValueError(f"format must be one of {', '.join(rules.FORMATS)}; found {fmt!r}")
    cols = []
    for f in df.schema.fields:
        if isinstance(f.dataType, (TimestampType, TimestampNTZType)):
            c = F.col(f.name) if isinstance(f.dataType, TimestampType) else F.col(f.name).cast("timestamp")
            cols.append(format_local(c, timezone).alias(f.name))
        else:
            cols.append(F.col(f.name))
    return rules.render_rows(df.columns, [tuple(r) for r in df.select(*cols).collect()], fmt)
