"""The customer-experience Kimball star built from ``silver/interactions``.

Tables (``{root}/gold/...``, design in ``docs/model.md``):

* ``dim_customer``: one row per customer *version* (type 2). Natural key: the normalized
  e-mail. Name, phone and state come from the channels configured with
  ``customer_attributes_first`` when they have them, else from the most recent non-null
  value of any channel, as known at each interaction.
  A new version starts at the first interaction whose known attributes differ from the
  previous ones; ``valid_from`` is that interaction's ``started_at``, ``valid_to`` the next
  version's ``valid_from`` (``9999-12-31 23:59:59`` for the current one).
* ``dim_channel``: the configured channels (``channels:`` of the configuration: fixed key,
  priority) plus "unknown".
* ``dim_agent``: one row per normalized agent name.
* ``dim_date``: every day between the first and the last fact date (source time zone).
* ``fact_interaction``: one row per interaction, pointing at the customer version valid
  when the interaction started.

Surrogate keys are deterministic hashes (``xxhash64``) of the natural key (for a customer
version: e-mail, attribute values and their occurrence, :func:`customer_key`), so rebuilding
gold from silver, on any rerun or after any incremental load, gives every existing member
the same key without a key-map table. The key scheme is recorded in the ledger
(:data:`KEYS_SOURCE`); a star built under another one is rebuilt once.
Every unknown member has key ``-1`` (``UNKNOWN_KEY``); a fact without a usable e-mail,
agent, channel or date points there, so no fact is lost.

Example:
    >>> from lake.gold.star import build_star
    >>> counts = build_star(spark, LakePaths("lake-data"), run_id, channels=cfg.channels.values(),
    ...                     timezone="America/Sao_Paulo")
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from lake import delta_io, ledger
from lake.config import UNKNOWN_CHANNEL_PRIORITY, Channel
from lake.faults import fault_point
from lake.gold import incremental
from lake.gold.functions import (
    DEFAULT_TIMEZONE,
    UNKNOWN_KEY,
    channel_value,
    local_date,
    normalize_email,
    normalize_name,
)
from lake.gold.tables import CONFIG_TABLES, STAR_TABLES
from lake.parallel import side_by_side
from lake.paths import LakePaths
from lake.runlog import TableCounts, commit_rows, observe_rows, observed
from lake.session import materialize, release

log = logging.getLogger(__name__)

#: ``valid_to`` of a current dimension version.
END_OF_TIME = "9999-12-31 23:59:59"

#: The star's ledger source, and the tables that consume it (the config-built ones do not).
SOURCE = "silver.interactions"
CONSUMING_TABLES = tuple(t for t in STAR_TABLES if t not in CONFIG_TABLES)

#: Ledger source holding the customer key scheme the star was built with (recorded with the
#: fact's entry, the last one of a rebuild): 2 = e-mail, attributes and occurrence
#: (:func:`customer_key`); none recorded (1: e-mail and ``valid_from``, before 2026-11-28)
#: or another one rebuilds the star once.
KEYS_SOURCE = "star.keys"
KEYS_SCHEME = 2


def _key(kind: str, *cols: Column) -> Column:
    """A surrogate key: xxhash64 of a namespace and the natural key, never ``UNKNOWN_KEY``."""
    h = F.xxhash64(F.lit(kind), *cols)
    return F.when(h == F.lit(UNKNOWN_KEY), F.lit(-2).cast("long")).otherwise(h)


# --------------------------------------------------------------------------- customers


#: The customer attributes a ``dim_customer`` version holds.
CUSTOMER_ATTRIBUTES = ("customer_name", "phone", "state")


def customer_versions(interactions: DataFrame, *, channels: Collection[Channel]) -> DataFrame:
    """Type-2 versions of each customer (``dim_customer`` without the unknown row).

    Attributes known at a moment: for each of name, phone and state, the latest non-null
    value from the ``customer_attributes_first`` channels up to that moment, else the latest
    non-null value from any channel. Interactions starting at the same instant are taken
    together (within one, the greatest ``interaction_id`` wins), so versions never share a
    ``valid_from``.

    Example:
        >>> customer_versions(spark.read.format("delta").load("lake/silver/interactions"),
        ...                   channels=cfg.channels.values())
        ... # customer_key, customer_email, customer_name, phone, state, valid_from, valid_to,
        ... # is_current, version
    """
    return _versions(_instants(_attribute_rows(interactions, channels)))


def customer_versions_from(
    interactions: DataFrame, cuts: DataFrame, held: DataFrame, *, channels: Collection[Channel]
) -> DataFrame:
    """The versions of each customer of ``cuts`` from the one valid just before its cutoff
    on: what :func:`customer_versions` gives for them, less the versions that end before.

    ``cuts``: ``_email`` (a normalized e-mail, once) and ``_cut``, the earliest instant a
    batch changed for it; ``interactions``: at least the customer's rows (others are
    ignored); ``held``: ``dim_customer``'s rows, built before the batch. The attributes
    known at an instant depend only on the rows up to it, so the versions that start before
    the cutoff keep their key and attributes; the one valid at it (``valid_from < _cut <=
    valid_to``) is the seed: its ``valid_from``, ``version`` and, from the rows before the
    cutoff (one aggregation, no window), the latest value of each attribute from the priority
    channels and from any channel. The rows from the cutoff on are versioned after it as a
    rebuild would. A customer without a seed (new, or changed from its first interaction
    on) is versioned from its first row. Pure transform.
    """
    rows = _attribute_rows(interactions, channels).join(
        cuts, F.col("customer_email") == F.col("_email"), "inner"
    )
    order = F.struct("started_at", "interaction_id")

    def latest(col: Column) -> Column:
        return F.max_by(col, F.when(col.isNotNull() & F.col("interaction_id").isNotNull(), order))

    before = (
        rows.where(F.col("started_at") < F.col("_cut"))
        .groupBy("customer_email")
        .agg(
            *[latest(F.when(F.col("_first"), F.col(a))).alias(f"_p_{a}") for a in CUSTOMER_ATTRIBUTES],
            *[latest(F.col(a)).alias(f"_a_{a}") for a in CUSTOMER_ATTRIBUTES],
        )
    )
    held_cut = held.join(cuts, F.col("customer_email") == F.col("_email"), "inner")
    seeds = (
        held_cut.where((F.col("valid_from") < F.col("_cut")) & (F.col("valid_to") >= F.col("_cut")))
        .select(
            "customer_email", F.col("valid_from").alias("started_at"), (F.col("version") - 1).alias("_offset")
        )
        .join(before, "customer_email", "inner")
    )
    after = _instants(rows.where(F.col("started_at") >= F.col("_cut"))).withColumn(
        "_offset", F.lit(None).cast("int")
    )
    # the versions that end before the seed count in the occurrence of their attributes
    earlier = (
        held_cut.where(F.col("valid_to") < F.col("_cut"))
        .groupBy("customer_email", *CUSTOMER_ATTRIBUTES)
        .agg(F.count(F.lit(1)).cast("int").alias(_EARLIER))
    )
    return _versions(seeds.unionByName(after), earlier)


def _attribute_rows(interactions: DataFrame, channels: Collection[Channel]) -> DataFrame:
    """The rows that version customers: normalized e-mail, ``started_at``, ``interaction_id``,
    ``_first`` (a priority channel's row) and the trimmed attributes (empty: null)."""
    first = [c.name for c in channels if c.customer_attributes_first]
    return interactions.select(
        normalize_email("customer_email").alias("customer_email"),
        "started_at",
        "interaction_id",
        (F.col("channel").isin(first) if first else F.lit(False)).alias("_first"),
        *[F.when(F.length(F.trim(a)) > 0, F.trim(a)).alias(a) for a in CUSTOMER_ATTRIBUTES],
    ).where(F.col("customer_email").isNotNull() & F.col("started_at").isNotNull())


def _instants(rows: DataFrame) -> DataFrame:
    """One row per customer and instant: per attribute, the latest non-null value from the
    priority channels (``_p_``) and from any channel (``_a_``) at that instant (the
    greatest ``interaction_id`` among the instant's rows wins)."""

    def latest(col: Column) -> Column:
        return F.max_by(col, F.when(col.isNotNull(), F.col("interaction_id")))

    return rows.groupBy("customer_email", "started_at").agg(
        *[latest(F.when(F.col("_first"), F.col(a))).alias(f"_p_{a}") for a in CUSTOMER_ATTRIBUTES],
        *[latest(F.col(a)).alias(f"_a_{a}") for a in CUSTOMER_ATTRIBUTES],
    )


#: Column of :func:`_versions`' ``earlier``: a customer's versions with those attributes
#: before the rows versioned.
_EARLIER = "_earlier"


def customer_key(email: Column, attributes: Collection[Column], occurrence: Column) -> Column:
    """A customer version's key: the e-mail, the version's attribute values (each with
    whether it is null, so a value never hashes like another column's) and their
    *occurrence*, the how-manieth version of that customer with those values (A -> B -> A:
    1, 1, 2). Its start is not in it: a late row that moves where a version starts keeps
    its key, and only the facts between the old and the new start move."""
    parts = [p for a in attributes for p in (a.isNull(), a)]
    return _key("customer", email, *parts, occurrence)


def _versions(instants: DataFrame, earlier: DataFrame | None = None) -> DataFrame:
    """The versions of :func:`_instants` rows: the attributes known at each instant (the
    latest priority value up to it, else the latest of any channel), a version starting
    where they differ from the instant before. An ``_offset`` column, when present, is added
    to the version numbers of its customer (a seed row's: the versions before it);
    ``earlier`` (``customer_email``, the attributes, :data:`_EARLIER`) to the occurrence of
    those attributes (:func:`customer_key`)."""
    attrs = CUSTOMER_ATTRIBUTES
    upto = (
        Window.partitionBy("customer_email")
        .orderBy("started_at")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    offset = (
        F.coalesce(F.max("_offset").over(Window.partitionBy("customer_email")), F.lit(0))
        if "_offset" in instants.columns
        else F.lit(0)
    )
    known = instants.select(
        "customer_email",
        "started_at",
        offset.alias("_offset"),
        *[
            F.coalesce(
                F.last(f"_p_{a}", ignorenulls=True).over(upto), F.last(f"_a_{a}", ignorenulls=True).over(upto)
            ).alias(a)
            for a in attrs
        ],
    )
    ordered = Window.partitionBy("customer_email").orderBy("started_at")
    same_as_before = F.lit(True)
    for a in attrs:
        same_as_before = same_as_before & F.lag(F.col(a)).over(ordered).eqNullSafe(F.col(a))
    starts = known.withColumn("_starts", F.lag("started_at").over(ordered).isNull() | ~same_as_before).where(
        "_starts"
    )
    occurrence = F.row_number().over(Window.partitionBy("customer_email", *attrs).orderBy("started_at"))
    if earlier is not None:
        on = [F.col("customer_email") == F.col("_e_email")] + [
            F.col(a).eqNullSafe(F.col(f"_e_{a}")) for a in attrs
        ]
        cond = functools.reduce(lambda x, y: x & y, on)
        starts = starts.join(
            earlier.select(
                F.col("customer_email").alias("_e_email"),
                *[F.col(a).alias(f"_e_{a}") for a in attrs],
                _EARLIER,
            ),
            cond,
            "left",
        )
        occurrence = occurrence + F.coalesce(F.col(_EARLIER), F.lit(0))
    return starts.select(
        customer_key(F.col("customer_email"), [F.col(a) for a in attrs], occurrence).alias("customer_key"),
        "customer_email",
        *attrs,
        F.col("started_at").alias("valid_from"),
        F.coalesce(F.lead("started_at").over(ordered), F.lit(END_OF_TIME).cast("timestamp")).alias(
            "valid_to"
        ),
        F.lead("started_at").over(ordered).isNull().alias("is_current"),
        (F.row_number().over(ordered) + F.col("_offset")).alias("version"),
    )


def unknown_customer(spark: SparkSession) -> DataFrame:
    """The "unknown customer" row (key ``-1``)."""
    return spark.sql(
        f"""SELECT CAST({UNKNOWN_KEY} AS BIGINT) AS customer_key, CAST(NULL AS STRING) AS customer_email,
        'unknown' AS customer_name, CAST(NULL AS STRING) AS phone, CAST(NULL AS STRING) AS state,
        TIMESTAMP'1900-01-01 00:00:00' AS valid_from, TIMESTAMP'{END_OF_TIME}' AS valid_to,
        TRUE AS is_current, 1 AS version"""
    )


def dim_customer(interactions: DataFrame, *, channels: Collection[Channel]) -> DataFrame:
    """``dim_customer``: the customer versions plus the unknown member."""
    return customer_versions(interactions, channels=channels).unionByName(
        unknown_customer(interactions.sparkSession)
    )


# --------------------------------------------------------------------------- small dims


def channel_rows(channels: Collection[Channel]) -> list[tuple[int, str, int]]:
    """``dim_channel``'s rows (``channel_key, channel, priority``): the configured channels
    and the unknown member, which ranks after every one of them."""
    rows = [(c.key, c.name, c.priority) for c in channels]
    return sorted([(UNKNOWN_KEY, "unknown", UNKNOWN_CHANNEL_PRIORITY), *rows])


def dim_channel(spark: SparkSession, channels: Collection[Channel]) -> DataFrame:
    """``dim_channel``: each configured channel with its fixed key and ``priority`` (1 ranks
    first), and the unknown member.

    Example:
        >>> dim_channel(spark, cfg.channels.values()).orderBy("channel_key").first().channel
        'unknown'
    """
    return spark.createDataFrame(channel_rows(channels), "channel_key long, channel string, priority int")


def sync_dim_channel(
    spark: SparkSession, paths: LakePaths, channels: Collection[Channel], run_id: str
) -> TableCounts:
    """Rewrite ``dim_channel`` when the configured channels differ from the table's, so a
    channel added to the configuration reaches an existing star without ``--full`` (a tiny
    bookkeeping read: one row per channel). Nothing is committed when they agree."""
    path = paths.gold("dim_channel")
    want = channel_rows(channels)
    if delta_io.table_exists(spark, path):
        have = delta_io.read_table(spark, path).select("channel_key", "channel", "priority").collect()
        if sorted(tuple(r) for r in have) == want:
            return TableCounts("dim_channel", "gold", 0, 0)
    rows, _ = commit_rows(delta_io.overwrite(spark, dim_channel(spark, channels), path))
    log.info("run %s: gold.dim_channel rewritten from the configured channels (%d rows)", run_id, rows)
    return TableCounts("dim_channel", "gold", rows_in=len(want), written=rows)


def dim_agent(interactions: DataFrame) -> DataFrame:
    """``dim_agent``: one row per normalized agent name (display name: the smallest trimmed
    spelling seen), plus the unknown member.

    Example:
        >>> dim_agent(silver)  # 'Ana  Souza' and 'ana souza' -> one agent 'ana souza'
    """
    unknown = interactions.sparkSession.sql(
        f"SELECT CAST({UNKNOWN_KEY} AS BIGINT) AS agent_key, CAST(NULL AS STRING) AS agent_nk, 'unknown' AS agent_name"
    )
    return agent_members(interactions).unionByName(unknown)


def agent_spelling(agent: str = "agent") -> Column:
    """An agent's display spelling: trimmed, inner whitespace collapsed (``dim_agent`` keeps
    the smallest one seen per normalized name)."""
    return F.trim(F.regexp_replace(agent, r"\s+", " "))


def agent_members(interactions: DataFrame) -> DataFrame:
    """``dim_agent`` without the unknown member: one row per normalized agent name of
    ``interactions`` (display name: the smallest trimmed spelling seen)."""
    return (
        interactions.select(normalize_name("agent").alias("agent_nk"), agent_spelling().alias("agent_name"))
        .where(F.col("agent_nk").isNotNull())
        .groupBy("agent_nk")
        .agg(F.min("agent_name").alias("agent_name"))
        .select(_key("agent", F.col("agent_nk")).alias("agent_key"), "agent_nk", "agent_name")
    )


def grown_agents(added: DataFrame, held: DataFrame) -> DataFrame:
    """``dim_agent`` rows of agents a batch only added rows for (no row of theirs removed):
    the display name is the smaller of the one held and the smallest new spelling, told
    without reading the agent's other interactions (the minimum over more rows).

    ``added``: ``_agent_nk`` and ``_agent_name`` (a new row's spelling) of those agents;
    ``held``: ``dim_agent``'s rows (an agent not there yet takes its new spelling). Pure
    transform."""
    new = added.groupBy("_agent_nk").agg(F.min("_agent_name").alias("_new_name"))
    names = held.select(F.col("agent_nk").alias("_held_nk"), F.col("agent_name").alias("_held_name"))
    return new.join(names, F.col("_agent_nk") == F.col("_held_nk"), "left").select(
        _key("agent", F.col("_agent_nk")).alias("agent_key"),
        F.col("_agent_nk").alias("agent_nk"),
        F.least("_new_name", "_held_name").alias("agent_name"),  # least skips a null
    )


def dim_date(facts: DataFrame, *, timezone: str = DEFAULT_TIMEZONE) -> DataFrame:
    """``dim_date``: one row per day from the first to the last ``started_at``/``ended_at``
    date of ``facts`` (source time zone), plus the unknown date (key ``-1``).

    Example:
        >>> dim_date(silver).select("date_key", "weekday_name").first()
        Row(date_key=20191001, weekday_name='Tuesday')
    """
    return dim_date_of_range(_date_range(facts, timezone))


def dim_date_of_range(bounds: DataFrame) -> DataFrame:
    """``dim_date`` for a day range: one row per day from ``bounds.lo`` to ``bounds.hi`` (a
    one-row frame; none when ``lo`` is null), plus the unknown date (key ``-1``)."""
    days = bounds.where(F.col("lo").isNotNull()).select(
        F.explode(F.sequence("lo", "hi", F.expr("INTERVAL 1 DAY"))).alias("date")
    )
    known = days.select(
        date_key_of(F.col("date")).alias("date_key"),
        "date",
        F.year("date").alias("year"),
        F.quarter("date").alias("quarter"),
        F.month("date").alias("month"),
        F.date_format("date", "MMMM").alias("month_name"),
        F.dayofmonth("date").alias("day"),
        ((F.dayofweek("date") + 5) % 7 + 1).alias("iso_weekday"),
        F.date_format("date", "EEEE").alias("weekday_name"),
        F.weekofyear("date").alias("iso_week"),
        F.dayofweek("date").isin(1, 7).alias("is_weekend"),
    )
    unknown = bounds.sparkSession.sql(
        f"""SELECT {UNKNOWN_KEY} AS date_key, CAST(NULL AS DATE) AS date, CAST(NULL AS INT) AS year,
        CAST(NULL AS INT) AS quarter, CAST(NULL AS INT) AS month, 'unknown' AS month_name,
        CAST(NULL AS INT) AS day, CAST(NULL AS INT) AS iso_weekday, 'unknown' AS weekday_name,
        CAST(NULL AS INT) AS iso_week, CAST(NULL AS BOOLEAN) AS is_weekend"""
    )
    return known.unionByName(unknown)


def _date_range(facts: DataFrame, timezone: str) -> DataFrame:
    """One row: the first (``lo``) and last (``hi``) ``started_at``/``ended_at`` date of
    ``facts`` in ``timezone`` (nulls when none)."""
    return facts.select(
        F.explode(F.array(local_date("started_at", timezone), local_date("ended_at", timezone))).alias("d")
    ).agg(F.min("d").alias("lo"), F.max("d").alias("hi"))


def date_range_after(
    changes: DataFrame, current: DataFrame, *, timezone: str = DEFAULT_TIMEZONE
) -> DataFrame:
    """The day range of the interactions after a batch of ``changes`` (their change feed:
    every image), told from the changes and ``current`` (the ``dim_date`` rows held, built
    before them) without reading the table: one row ``lo, hi, known, held_lo, held_hi`` (one
    aggregation; ``held_*``: the range ``current`` holds).

    ``known`` is false when it cannot be told: ``current`` has no range, or a removed row
    (deleted, or an update's before image) lies on its first or last day or outside it
    (the range may shrink: only the table knows). Otherwise the rows on the first and last
    day are still there, so the range is the held one widened to the added rows' dates.
    Pure transform.
    """
    removed = F.col(ledger.CHANGE_TYPE).isin("delete", "update_preimage")
    changed = changes.select(
        F.explode(F.array(local_date("started_at", timezone), local_date("ended_at", timezone))).alias("d"),
        F.when(removed, F.lit("removed")).otherwise(F.lit("added")).alias("kind"),
    )
    held = current.select(F.col("date").alias("d"), F.lit("held").alias("kind"))
    dates = changed.unionByName(held).where(F.col("d").isNotNull())

    def bound(agg, kind: str) -> Column:
        return agg(F.when(F.col("kind") == kind, F.col("d")))

    inside = (F.col("r_lo") > F.col("d_lo")) & (F.col("r_hi") < F.col("d_hi"))
    return dates.agg(
        bound(F.min, "held").alias("d_lo"),
        bound(F.max, "held").alias("d_hi"),
        bound(F.min, "removed").alias("r_lo"),
        bound(F.max, "removed").alias("r_hi"),
        bound(F.min, "added").alias("a_lo"),
        bound(F.max, "added").alias("a_hi"),
    ).select(
        F.least("d_lo", "a_lo").alias("lo"),
        F.greatest("d_hi", "a_hi").alias("hi"),
        (F.col("d_lo").isNotNull() & (F.col("r_lo").isNull() | inside)).alias("known"),
        F.col("d_lo").alias("held_lo"),
        F.col("d_hi").alias("held_hi"),
    )


def date_key_of(date: Column) -> Column:
    """``yyyymmdd`` integer key of a date; ``-1`` for null."""
    return F.coalesce(F.date_format(date, "yyyyMMdd").cast("int"), F.lit(UNKNOWN_KEY))


# --------------------------------------------------------------------------- fact


def fact_interaction(
    interactions: DataFrame,
    customers: DataFrame,
    *,
    channels: Collection[Channel],
    timezone: str = DEFAULT_TIMEZONE,
) -> DataFrame:
    """``fact_interaction``: one row per silver interaction, with surrogate keys.

    The customer key is the version valid at ``started_at``
    (``valid_from <= started_at < valid_to``); without a usable e-mail it is ``-1``. The
    channel key is the configured channel's; a channel not configured is ``-1``.

    Example:
        >>> fact_interaction(silver, dim_customer(silver, channels=chs), channels=chs).columns[:5]
        ['interaction_id', 'customer_key', 'channel_key', 'agent_key', 'date_key']
    """
    channel_key = channel_value("channel", {c.name: c.key for c in channels}, UNKNOWN_KEY).cast("long")
    agent_nk = normalize_name("agent")
    facts = interactions.select(
        "*",
        normalize_email("customer_email").alias("_email"),
        channel_key.alias("channel_key"),
        F.when(agent_nk.isNotNull(), _key("agent", agent_nk))
        .otherwise(F.lit(UNKNOWN_KEY).cast("long"))
        .alias("agent_key"),
        date_key_of(local_date("started_at", timezone)).alias("date_key"),
    )
    versions = customers.where(F.col("customer_key") != UNKNOWN_KEY).select(
        F.col("customer_key").alias("_ck"),
        F.col("customer_email").alias("_v_email"),
        F.col("valid_from").alias("_vf"),
        F.col("valid_to").alias("_vt"),
        F.col("is_current").alias("_cur"),
    )
    on = (F.col("_email") == F.col("_v_email")) & (
        (
            F.col("started_at").isNotNull()
            & (F.col("_vf") <= F.col("started_at"))
            & (F.col("started_at") < F.col("_vt"))
        )
        | (F.col("started_at").isNull() & F.col("_cur"))
    )
    return facts.join(versions, on, "left").select(
        "interaction_id",
        F.coalesce(F.col("_ck"), F.lit(UNKNOWN_KEY).cast("long")).alias("customer_key"),
        "channel_key",
        "agent_key",
        "date_key",
        "started_at",
        "ended_at",
        "wait_seconds",
        "handle_seconds",
        "total_seconds",
        "answered",
        "classification",
        "sub_classification",
        "feedback_score",
        "feedback_comment",
        F.col("_source_table").alias("source_table"),
    )


# --------------------------------------------------------------------------- job


def build_star(
    spark: SparkSession,
    paths: LakePaths,
    run_id: str,
    *,
    channels: Collection[Channel],
    timezone: str = DEFAULT_TIMEZONE,
    full: bool = False,
    parallel: int = 1,
) -> list[TableCounts]:
    """Bring the star up to date with ``silver/interactions``.

    Incremental (``docs/model.md``, "Gold updated, not rebuilt"): each table is a ledger
    consumer (``gold.<table>`` of ``silver.interactions``); the changes committed after the
    recorded version are read, the rows they can affect are recomputed and only the
    difference is MERGEd. ``full=True``, a star never built, or a ledger the change feed
    does not reach back to rebuilds every table (each replaced in one commit). Hash keys make
    both paths give the same keys, so an incremental star equals a rebuilt one.
    ``dim_channel`` follows the configured ``channels`` (:func:`sync_dim_channel`). The four
    dimensions are written ``parallel`` at once (:func:`lake.parallel.side_by_side`), then
    the fact, which joins the customer versions just written.

    Counts: rebuilt, a dimension's ``rows_in`` is the rows its transform produced and the
    fact's the ``silver/interactions`` rows read (one fact per interaction); incremental,
    ``rows_in`` is the rows recomputed for the changes' scope, ``written`` the rows the MERGE
    inserted, updated or deleted, ``unchanged`` the recomputed rows equal to the table's.

    Example:
        >>> build_star(spark, LakePaths("lake-data"), "20261125T173000-1a2b3c4d",
        ...            channels=cfg.channels.values(), timezone="America/Sao_Paulo")
        [TableCounts(table='dim_customer', layer='gold', ...), ...]
    """
    source = paths.silver("interactions")
    after = incremental.consumed_after(spark, paths, CONSUMING_TABLES, {SOURCE: source}, full=full)
    scheme = ledger.consumed(spark, paths, incremental.consumer("fact_interaction"), KEYS_SOURCE)
    if after is not None and scheme != KEYS_SCHEME:
        log.info(
            "run %s: gold star built with customer key scheme %s, this version uses %d: rebuilt once",
            run_id,
            scheme or 1,
            KEYS_SCHEME,
        )
        after = None
    if after is None:
        return rebuild_star(spark, paths, run_id, channels=channels, timezone=timezone, parallel=parallel)
    found = ledger.read_changes(spark, source, after[SOURCE])
    changes, upto = found.df, found.upto
    if changes is None or upto is None:
        log.info(
            "run %s: gold star: no change in silver.interactions after version %d", run_id, after[SOURCE]
        )
        channel_counts = sync_dim_channel(spark, paths, channels, run_id)
        return [channel_counts if n == "dim_channel" else TableCounts(n, "gold", 0, 0) for n in STAR_TABLES]
    return update_star(
        spark,
        paths,
        run_id,
        changes,
        upto,
        channels=channels,
        timezone=timezone,
        whole=found.full,
        parallel=parallel,
    )


def rebuild_star(
    spark: SparkSession,
    paths: LakePaths,
    run_id: str,
    *,
    channels: Collection[Channel],
    timezone: str = DEFAULT_TIMEZONE,
    parallel: int = 1,
) -> list[TableCounts]:
    """Rebuild every star table from ``silver/interactions`` at its latest version (each
    replaced in one commit; the dimensions ``parallel`` at once) and record that version in
    the ledger."""
    source = paths.silver("interactions")
    upto = delta_io.table_version(spark, source)
    silver = delta_io.read_table(spark, source, version=upto)
    customers = dim_customer(silver, channels=channels)
    tables = {
        "dim_customer": customers,
        "dim_channel": dim_channel(spark, channels),
        "dim_agent": dim_agent(silver),
        "dim_date": dim_date(silver, timezone=timezone),
    }

    def rebuild(name: str, df: DataFrame) -> TableCounts:
        df, produced = observe_rows(df, name)
        fault_point(f"gold.write.before:{name}")
        rows, _ = commit_rows(delta_io.overwrite(spark, df, paths.gold(name)))
        fault_point(f"gold.write.after:{name}")
        if name in CONSUMING_TABLES:
            incremental.record(spark, paths, [name], {SOURCE: upto}, run_id)
        log.info("run %s: gold.%s rebuilt (%d rows)", run_id, name, rows)
        return TableCounts(name, "gold", rows_in=observed(produced).get("rows", -1), written=rows)

    counts = side_by_side(spark, [functools.partial(rebuild, n, df) for n, df in tables.items()], parallel)
    # the fact joins the persisted versions, so it points at exactly the keys just written
    persisted = delta_io.read_table(spark, paths.gold("dim_customer"))
    interactions, read = observe_rows(silver, "fact_interaction_in")
    facts = fact_interaction(interactions, persisted, channels=channels, timezone=timezone)
    fault_point("gold.write.before:fact_interaction")
    rows, _ = commit_rows(delta_io.overwrite(spark, facts, paths.gold("fact_interaction")))
    fault_point("gold.write.after:fact_interaction")
    incremental.record(spark, paths, ["fact_interaction"], {SOURCE: upto, KEYS_SOURCE: KEYS_SCHEME}, run_id)
    counts.append(
        TableCounts("fact_interaction", "gold", rows_in=observed(read).get("rows", -1), written=rows)
    )
    log.info("run %s: gold.fact_interaction rebuilt (%d rows)", run_id, rows)
    return counts


def touched_keys(changes: DataFrame) -> DataFrame:
    """What a batch of ``silver/interactions`` changes touches, one row per change row:
    ``interaction_id``, ``started_at``, the normalized e-mail (``_email``) and agent
    (``_agent_nk``), the agent's spelling (``_agent_name``) and whether the row was removed
    (``_removed``: a delete or an update's before image).

    Every change type counts (insert, both images of an update, delete): an interaction
    that moved from one customer to another touches both.
    """
    return changes.select(
        "interaction_id",
        "started_at",
        normalize_email("customer_email").alias("_email"),
        normalize_name("agent").alias("_agent_nk"),
        agent_spelling().alias("_agent_name"),
        F.col(ledger.CHANGE_TYPE).isin("delete", "update_preimage").alias("_removed"),
    )


#: Columns :func:`star_scope` adds: which of the touched keys a row matches, and the
#: cutoff of its customer (:func:`customer_cuts`).
_BY_ID, _BY_EMAIL, _BY_AGENT = "_lake_by_id", "_lake_by_email", "_lake_by_agent"
_CUT = "_lake_cut"
_SCOPE_FLAGS = (_BY_ID, _BY_EMAIL, _BY_AGENT, _CUT)

#: A cutoff before every interaction: the customer is versioned from its first row.
_BEGINNING = "0001-01-01 00:00:00"


def customer_cuts(touched: DataFrame, *, whole: bool = False) -> DataFrame:
    """Each touched customer once (``_email``) with its cutoff (``_cut``): the earliest
    ``started_at`` of its changed rows, every image counted (an interaction moved from one
    customer to another cuts both; a removed row cuts where it was). Nothing before the
    cutoff changed, so neither did the customer's versions that end before it nor the facts
    that point at them. Null when every changed row lacks ``started_at`` (such rows version
    nothing). ``whole`` (changes without deletes): the beginning, every row is recomputed.
    Pure transform."""
    emails = touched.where(F.col("_email").isNotNull()).groupBy("_email")
    if whole:
        return emails.agg(F.lit(_BEGINNING).cast("timestamp").alias("_cut"))
    return emails.agg(F.min("started_at").alias("_cut"))


def star_scope(snapshot: DataFrame, ids: DataFrame, emails: DataFrame, agents: DataFrame) -> DataFrame:
    """The rows of ``snapshot`` a batch of changes can affect, read once for every star
    table, each flagged with what it matches: its ``interaction_id`` is one of ``ids``
    (:data:`_BY_ID`), its normalized e-mail one of ``emails._email`` (:data:`_BY_EMAIL`: a
    touched customer, whose versions and facts may move; :data:`_CUT` is its ``_cut``) or
    its normalized agent one of ``agents._agent_nk`` (:data:`_BY_AGENT`). ``ids``, ``emails``
    and ``agents`` hold each value once (left joins that never multiply). Pure transform."""
    by_id = ids.select(F.col("interaction_id").alias("_scope_id"), F.lit(True).alias(_BY_ID))
    by_email = emails.select(
        F.col("_email").alias("_scope_email"), F.lit(True).alias(_BY_EMAIL), F.col("_cut").alias(_CUT)
    )
    by_agent = agents.select(F.col("_agent_nk").alias("_scope_agent"), F.lit(True).alias(_BY_AGENT))
    return (
        snapshot.withColumn("_row_email", normalize_email("customer_email"))
        .withColumn("_row_agent", normalize_name("agent"))
        .join(by_id, F.col("interaction_id") == F.col("_scope_id"), "left")
        .join(by_email, F.col("_row_email") == F.col("_scope_email"), "left")
        .join(by_agent, F.col("_row_agent") == F.col("_scope_agent"), "left")
        .where(F.coalesce(F.col(_BY_ID), F.col(_BY_EMAIL), F.col(_BY_AGENT), F.lit(False)))
        .drop("_row_email", "_row_agent", "_scope_id", "_scope_email", "_scope_agent")
    )


def scope_rows(scope: DataFrame, *flags: str) -> DataFrame:
    """The rows of a :func:`star_scope` frame that match any of ``flags``, without the flags."""
    match = F.lit(False)
    for flag in flags:
        match = match | F.coalesce(F.col(flag), F.lit(False))
    return scope.where(match).drop(*_SCOPE_FLAGS)


def fact_scope_rows(scope: DataFrame) -> DataFrame:
    """The rows of a :func:`star_scope` frame whose fact may change: a changed interaction,
    or one of a touched customer from its cutoff on (its version may be new), or without
    ``started_at`` (it points at the current version, which may be new). Pure transform."""
    by_id = F.coalesce(F.col(_BY_ID), F.lit(False))
    by_email = F.coalesce(F.col(_BY_EMAIL), F.lit(False)) & (
        F.col("started_at").isNull() | F.coalesce(F.col("started_at") >= F.col(_CUT), F.lit(False))
    )
    return scope.where(by_id | by_email).drop(*_SCOPE_FLAGS)


def update_star(
    spark: SparkSession,
    paths: LakePaths,
    run_id: str,
    changes: DataFrame,
    upto: int,
    *,
    channels: Collection[Channel],
    timezone: str = DEFAULT_TIMEZONE,
    whole: bool = False,
    parallel: int = 1,
) -> list[TableCounts]:
    """MERGE the star from a batch of ``silver/interactions`` changes (up to version ``upto``;
    ``whole``: they are the table's whole content, its change feed not recorded, so deletes
    are not among them).

    Scope of each table: ``dim_customer``, a touched customer's versions from the one valid
    at its cutoff on (:func:`customer_cuts`; type 2 history is event-time: a late or deleted
    interaction restates that customer's versions from its instant on, no other);
    ``dim_agent``, the touched agents (all the rows of an agent a row was removed from, only
    the new spellings of one a batch only added to); ``dim_date``, the day range of the whole
    table, told from the changes and the range held (:func:`date_range_after`; the table is
    read only when a removed row lay on a bound; a range the table holds already is neither
    recomputed nor committed); ``fact_interaction``, the changed interactions and a touched
    customer's interactions from its cutoff on (:func:`fact_scope_rows`). Recomputed rows
    are read from silver at ``upto``, so they equal what a rebuild at ``upto`` would write.
    The dimensions are MERGEd ``parallel`` at once, then the fact.
    """
    from pyspark.sql.functions import col

    snapshot = delta_io.read_table(spark, paths.silver("interactions"), version=upto)
    touched = materialize(touched_keys(changes))
    scope = None
    try:
        ids = touched.select("interaction_id").distinct()
        emails = customer_cuts(touched, whole=whole)
        named = touched.where(col("_agent_nk").isNotNull())
        touched_agents = named.select("_agent_nk").distinct()
        # an agent a row was removed from is recomputed from all its rows (its smallest
        # spelling may be gone); one only added to, from the name held and the new spellings
        # (grown_agents): its other interactions are not read. Whole changes (no change
        # feed) may hide removals: every touched agent is recomputed.
        if whole:
            agents, grown = touched_agents, None
        else:
            agents = named.where(col("_removed")).select("_agent_nk").distinct()
            grown = named.join(agents, "_agent_nk", "left_anti")
        # silver read once for every table: the rows of the touched ids, customers and agents
        scope = materialize(star_scope(snapshot, ids, emails, agents))
        versions = {SOURCE: upto}

        def merge(name: str, current: DataFrame, desired: DataFrame, keys: list[str]) -> TableCounts:
            compared = incremental.compare_rows(current, desired, keys)
            return incremental.merge_and_record(spark, paths, run_id, name, compared, keys, versions)

        def gold(name: str) -> DataFrame:
            return delta_io.read_table(spark, paths.gold(name))

        # each touched customer from the version valid at its cutoff on (customer_cuts)
        cuts = emails.where(col("_cut").isNotNull())

        def customer_versions() -> TableCounts:
            held = gold("dim_customer").join(cuts, col("customer_email") == col("_email"), "left_semi")
            from_cut = held.join(cuts, col("customer_email") == col("_email")).where(
                col("valid_to") >= col("_cut")
            )
            return merge(
                "dim_customer",
                from_cut.select(*held.columns),
                customer_versions_from(scope_rows(scope, _BY_EMAIL), cuts, held, channels=channels),
                ["customer_key"],
            )

        def agent_names() -> TableCounts:
            held_agents = incremental.in_scope(
                gold("dim_agent"), col("agent_nk"), touched_agents, "_agent_nk"
            )
            desired_agents = agent_members(scope_rows(scope, _BY_AGENT))
            if grown is not None:
                desired_agents = desired_agents.unionByName(grown_agents(grown, held_agents))
            return merge("dim_agent", held_agents, desired_agents, ["agent_key"])

        def dates() -> TableCounts:
            # the day range from the changes and the range held; the whole table is read only
            # when a removed row may have moved a bound
            bounds = None
            if not whole:  # one tiny row read: the range, and whether it could be told
                bounds = delta_io.one_row(date_range_after(changes, gold("dim_date"), timezone=timezone))
                bounds = bounds if bounds["known"] else None
            if bounds is not None and (bounds["lo"], bounds["hi"]) == (bounds["held_lo"], bounds["held_hi"]):
                # a range the table already holds: its rows are those dim_date_of_range wrote
                return incremental.record_unchanged(spark, paths, run_id, "dim_date", versions)
            days = (
                dim_date(snapshot, timezone=timezone)
                if bounds is None
                else dim_date_of_range(
                    spark.range(1).select(F.lit(bounds["lo"]).alias("lo"), F.lit(bounds["hi"]).alias("hi"))
                )
            )
            return merge("dim_date", gold("dim_date"), days, ["date_key"])

        counts = side_by_side(
            spark,
            [customer_versions, lambda: sync_dim_channel(spark, paths, channels, run_id), agent_names, dates],
            parallel,
        )
        # the fact joins the persisted versions (just merged), as the rebuild does
        customers = incremental.in_scope(gold("dim_customer"), col("customer_email"), emails, "_email")
        desired = fact_interaction(fact_scope_rows(scope), customers, channels=channels, timezone=timezone)
        keys = ids.unionByName(desired.select("interaction_id"))
        current = incremental.in_scope(
            gold("fact_interaction"), col("interaction_id"), keys, "interaction_id"
        )
        counts.append(merge("fact_interaction", current, desired, ["interaction_id"]))
    finally:
        if scope is not None:
            release(scope)
        release(touched)
    for c in counts:
        log.info("run %s: gold.%s merged (%d recomputed, %d written)", run_id, c.table, c.rows_in, c.written)
    return counts
