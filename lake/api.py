"""The Python handle data scientists use: ``Lake.from_config(...)``.

Example:
    >>> from lake import Lake
    >>> lk = Lake.from_config("conf/lake.yml")
    >>> lk.gold.fact_interaction.count()          # a table by layer and name
    >>> lk.table("silver.interactions").show(5)
    >>> lk.last_interaction(as_of="2026-11-25 12:00:00").show()
    >>> lk.quality().show()                        # latest run's per-table counts

Without Spark (no JVM starts): ``engine="pandas"`` or ``engine="arrow"``.

    >>> lk.read("gold.fact_interaction", engine="pandas").head()
    >>> lk.last_interaction(as_of="2026-11-25 12:00:00", engine="pandas")
"""

from __future__ import annotations

from typing import Any

from lake.config import LakeConfig, load_config
from lake.errors import PipelineError, require_extra
from lake.paths import LakePaths
from lake.session import use_timezone

LAYERS = ("bronze", "silver", "gold", "quarantine")

#: What :meth:`Lake.read` and the answers return: a Spark DataFrame, or (read through
#: delta-rs, no JVM) a pyarrow Table or a pandas DataFrame.
ENGINES = ("spark", "arrow", "pandas")


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise PipelineError(f"engine must be one of {', '.join(ENGINES)}; found {engine!r}")


def _to_pandas(table):
    """An Arrow table as pandas, timestamps as aware values in UTC.

    Timestamps beyond pandas' nanosecond range (``dim_customer.valid_to`` = 9999-12-31)
    stay Python datetimes instead of raising.
    """
    require_extra("pandas", "pandas")
    try:
        return table.to_pandas()
    except Exception:
        return table.to_pandas(timestamp_as_object=True)


class _LayerTables:
    """``lk.gold.fact_interaction``: attribute access to one layer's tables."""

    def __init__(self, lake: Lake, layer: str) -> None:
        self._lake = lake
        self._layer = layer

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._lake.table(f"{self._layer}.{name}")

    def __dir__(self) -> list[str]:
        return self._lake.tables(self._layer)


class Lake:
    """A lake described by a configuration: its tables, answers, runs and quality counts."""

    def __init__(self, config: LakeConfig, *, spark=None) -> None:
        self.config = config
        self.paths = LakePaths(config.lake.root)
        self._spark = spark
        for layer in LAYERS:
            setattr(self, layer, _LayerTables(self, layer))

    @classmethod
    def from_config(
        cls, path: str | None = None, *, lake_root: str | None = None, landing: str | None = None, spark=None
    ) -> Lake:
        """Load ``path`` (default ``conf/lake.yml``) and optionally point at another lake root.

        Example:
            >>> lk = Lake.from_config("conf/lake.yml", lake_root="lake-data")
        """
        cfg = load_config(path).with_overrides(root=lake_root, landing=landing)
        return cls(cfg, spark=spark)

    @property
    def spark(self):
        """The shared SparkSession (created on first use), in the config's time zone."""
        if self._spark is None:
            from lake.session import get_spark

            self._spark = get_spark()
        use_timezone(self._spark, self.config.lake.timezone)
        return self._spark

    # ------------------------------------------------------------------ tables

    def _path(self, layer: str, name: str) -> str:
        if layer not in LAYERS:
            raise PipelineError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
        return getattr(self.paths, layer)(name)

    def table(self, name: str):
        """A Delta table as a DataFrame, by ``layer.table`` (e.g. ``gold.dim_customer``).

        Example:
            >>> lk.table("quarantine.whatsapp").select("_errors").show(truncate=False)
        """
        layer, _, table = name.partition(".")
        if not table:
            raise PipelineError(f"table name {name!r} must be 'layer.table', e.g. 'gold.fact_interaction'")
        return self.read(name)

    def read(self, name: str, *, engine: str = "spark", version: int | None = None):
        """A table by ``layer.table``, as a Spark DataFrame (``engine="spark"``), a pyarrow
        Table (``"arrow"``) or a pandas DataFrame (``"pandas"``); the last two read through
        delta-rs and never start Spark. ``version`` reads an older version (time travel).

        Example:
            >>> lk.read("gold.fact_interaction", engine="pandas").groupby("channel_key").size()
        """
        _check_engine(engine)
        layer, _, table = name.partition(".")
        if not table:
            raise PipelineError(f"table name {name!r} must be 'layer.table', e.g. 'gold.fact_interaction'")
        path = self._path(layer, table)
        if engine == "spark":
            from lake import delta_io  # imports pyspark: only on the Spark path

            if not delta_io.table_exists(self.spark, path):
                raise PipelineError(f"table {name} does not exist yet at {path}; run 'lake run' first")
            return delta_io.read_table(self.spark, path, version=version)
        from lake.gold.fast import read_arrow

        arrow = read_arrow(path, version=version)
        return arrow if engine == "arrow" else _to_pandas(arrow)

    def tables(self, layer: str | None = None) -> list[str]:
        """Names (``layer.table``) of the tables that exist in the lake."""
        import os

        found = []
        for lay in [layer] if layer else LAYERS:
            folder = os.path.join(self.paths.root, lay)
            if os.path.isdir(folder):
                found += [
                    f"{lay}.{t}"
                    for t in sorted(os.listdir(folder))
                    if os.path.isdir(os.path.join(folder, t, "_delta_log"))
                ]
        return found

    def register(self) -> list[str]:
        """Register every existing table in the session catalog (``SELECT * FROM gold.dim_customer``)."""
        names = self.tables()
        for layer in LAYERS:
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {layer}")
        for name in names:
            layer, table = name.split(".")
            self.spark.sql(
                f"CREATE TABLE IF NOT EXISTS {layer}.{table} USING delta LOCATION '{self._path(layer, table)}'"
            )
        return names

    def sql(self, query: str):
        """Run Spark SQL over the registered tables."""
        self.register()
        return self.spark.sql(query)

    # ------------------------------------------------------------------ runs

    def run(
        self,
        *,
        pipeline: str = "all",
        layer: str = "all",
        full_reload: bool = False,
        as_of: str | None = None,
    ):
        """Run the pipelines (see :func:`lake.pipeline.run`)."""
        from lake.pipeline import run

        return run(
            self.config,
            pipeline=pipeline,
            layer=layer,
            spark=self.spark,
            full_reload=full_reload,
            as_of=as_of,
        )

    def watch(
        self,
        *,
        pipeline: str = "all",
        interval: float = 5.0,
        max_batches: int | None = None,
    ):
        """Keep the lake current in the background: a micro-batch every ``interval``
        seconds on this Lake's Spark session (see :mod:`lake.watch`). Returns a
        :class:`~lake.watch.WatchHandle`: ``.progress`` (the last batches), ``.wait()``,
        ``.stop()``.

        Example:
            >>> handle = lk.watch(pipeline="customer_experience", interval=5)
            >>> handle.wait(batches=1, timeout=120); handle.progress[-1].line()
            >>> lk.last_interaction(engine="arrow")  # current as of the last batch
            >>> handle.stop()
        """
        from lake.watch import WatchHandle

        return WatchHandle(
            self.config, spark=self.spark, pipeline=pipeline, interval=interval, max_batches=max_batches
        )

    def quality(self, *, limit: int = 1):
        """Per-table counts (in, written, quarantined, dropped, unchanged, warned) of the latest
        runs, with ``reconciles``, ``status`` and, for a failed run, its error."""
        from lake.runlog import latest_runs

        df = latest_runs(self.spark, self.paths, limit=limit)
        if df is None:
            raise PipelineError("no run recorded yet; run 'lake run' first")
        return df

    # ------------------------------------------------------------------ answers

    def _interactions(self):
        return self.table("gold.fact_interaction")

    def _answer(self, name: str, as_of: Any, engine: str):
        _check_engine(engine)
        if engine == "spark":
            from lake.pipeline import answer

            return answer(self.spark, self.config, name, as_of=as_of)
        from lake.gold import fast
        from lake.gold.rules import ANSWERS

        table = fast.answer(self.paths.root, ANSWERS[name], as_of=as_of, timezone=self.config.lake.timezone)
        return table if engine == "arrow" else _to_pandas(table)

    def contacts_24h(self, *, as_of: Any = None, engine: str = "spark"):
        """Contacts per customer with ``as_of - 24h < started_at <= as_of`` (default now).

        ``engine="arrow"`` / ``"pandas"`` answer through delta-rs without Spark (same SQL).
        """
        return self._answer("contacts-24h", as_of, engine)

    def interactions_by_channel(self, *, as_of: Any = None, engine: str = "spark"):
        """One row per customer and channel used, with counts and first/last start."""
        return self._answer("interactions-by-channel", as_of, engine)

    def last_interaction(self, *, as_of: Any = None, engine: str = "spark"):
        """Each customer's latest interaction up to ``as_of`` and its channel.

        Example:
            >>> lk.last_interaction(as_of="2026-11-25 12:00:00", engine="pandas").head()
        """
        return self._answer("last-interaction", as_of, engine)

    def interactions(self):
        """Every interaction as read back from the star: ``interaction_id, customer_email,
        channel, started_at, ended_at, agent, answered, classification, ...``.

        Example:
            >>> lk.interactions().groupBy("channel").count().show()
        """
        from lake.gold.answers import gold_interactions

        return gold_interactions(self.spark, self.paths)

    def customer_interactions(self, email: str, *, as_of: Any = None):
        """Every interaction of one customer (e-mail normalized) up to ``as_of`` (default now).

        Example:
            >>> lk.customer_interactions("Ana@X.com", as_of="2026-11-25 12:00:00").show()
        """
        from lake.gold import answers

        return answers.customer_interactions(
            self.spark, email, as_of=as_of, timezone=self.config.lake.timezone, paths=self.paths
        )

    @property
    def functions(self):
        """The public ``Column -> Column`` standardizers (:mod:`lake.silver.functions`)."""
        from lake.silver import functions

        return functions
