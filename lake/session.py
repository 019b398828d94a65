"""The one place that builds the SparkSession: Delta, JDBC drivers, s3a, local defaults.

Used identically by jobs, notebooks, tests and the CLI. Nothing here runs at import time.

Jars: the Delta, JDBC driver and s3a artifacts (:mod:`lake.versions`) are resolved once from
Maven into a cache (``$LAKE_CACHE_DIR``, default ``~/.cache/lake``) by
:func:`lake.install.warm_jar_cache` (``make setup`` runs ``python -m lake.install --warm``).
Later sessions put the cached files on ``spark.jars`` directly, so they start offline and
without an Ivy resolution.

spark-submit: when the driver was launched by ``spark-submit``, the master and every conf
it was given win; this module only fills in what is missing. The driver JVM is already
running by then, so jars named in the builder would come too late for its classloader:
``python -m lake.install --warm`` therefore also writes a managed block into the installed
pyspark's ``conf/spark-defaults.conf`` (:func:`lake.install.write_spark_defaults`) with the cached jars,
the Delta extension and catalog and the venv's Python, which ``spark-submit`` reads before
it starts the JVM.

Object stores: :func:`object_store_conf` turns the standard AWS environment variables into
the ``spark.hadoop.fs.s3a.*`` settings of an S3-compatible endpoint; credentials stay in the
environment (S3A's default provider chain reads them), never in the Spark conf.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lake import versions
from lake.config import DEFAULT_TIMEZONE
from lake.errors import LakeError, PreflightError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

APP_NAME = "lake"

#: Defaults sized for a small (2-core) machine; any of them can be overridden by
#: spark-submit ``--conf`` or ``extra_conf``.
#: The sources' zone, which the JVM runs in (JDBC drivers build zone-less timestamps in the
#: JVM's default zone); ``LAKE_TIMEZONE`` overrides the default.
SOURCE_TIMEZONE = os.environ.get("LAKE_TIMEZONE", DEFAULT_TIMEZONE)

LOCAL_DEFAULTS: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.session.timeZone": SOURCE_TIMEZONE,
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.databricks.delta.properties.defaults.enableChangeDataFeed": "false",
    # Delta keeps a small table's file list in each commit's checksum (.crc) so a commit needs
    # no state reconstruction, but in a JVM or session zone other than UTC it verifies that
    # list by a full reconstruction after EVERY commit (a Spark job per commit; a tenth of a
    # small run's time, docs/performance.md). The check guards partition values written in
    # a local zone; no lake table is partitioned. Delta's own test suites turn it off too.
    "spark.databricks.delta.allFilesInCrc.verificationMode.forceOnNonUTC.enabled": "false",
    "spark.sql.sources.default": "delta",
    # JDBC reports VARCHAR(n) (SQLite: VARCHAR(0)); treat it as string so Delta adds no
    # length invariant that rejects the source's own values.
    "spark.sql.legacy.charVarcharAsString": "true",
    # Parquet timestamps as INT64 microseconds, not the legacy INT96 (nanoseconds), so other
    # Delta readers (delta-rs, pyarrow) read 9999-12-31 (dim_customer.valid_to) without overflow.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.ui.showConsoleProgress": "false",
    # A JDBC driver builds TIMESTAMP WITHOUT TIME ZONE values in the JVM's default zone: pin
    # it to the sources' zone (LAKE_TIMEZONE, default America/Sao_Paulo) so 08:00 stays 08:00
    # for a column the config leaves undeclared. Declared timestamp_ntz columns travel as
    # text and never depend on it (a value in a daylight-saving gap would move even here).
    "spark.driver.extraJavaOptions": f"-Dderby.system.home=/tmp/lake-derby -Duser.timezone={SOURCE_TIMEZONE}",
    "spark.executor.extraJavaOptions": f"-Duser.timezone={SOURCE_TIMEZONE}",
}


#: The collector of a JVM :func:`get_spark` starts, unless one is chosen already
#: (:func:`with_collector`). In local mode that JVM is driver and executors in one small heap
#: (1 GiB by default), where G1's concurrent marking ran nearly all the time: a fifth of a
#: watch micro-batch's CPU. The parallel collector has no concurrent phase, and its pauses
#: are short on such a heap (docs/performance.md, "The local JVM's collector").
LOCAL_COLLECTOR = "-XX:+UseParallelGC"

#: Where else a JVM's options come from; a collector named there must not be contradicted
#: (the JVM refuses to start with two).
JVM_OPTION_VARS = ("SPARK_SUBMIT_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS")


def with_collector(options: str, environ: dict[str, str] | None = None) -> str:
    """``options`` (a driver's ``extraJavaOptions``) with :data:`LOCAL_COLLECTOR` added,
    unless they or the JVM option variables of ``environ`` already choose a collector.

    Example:
        >>> with_collector("-Duser.timezone=UTC", {})
        '-Duser.timezone=UTC -XX:+UseParallelGC'
        >>> with_collector("-Duser.timezone=UTC", {"JAVA_TOOL_OPTIONS": "-XX:+UseG1GC"})
        '-Duser.timezone=UTC'
    """
    env = os.environ if environ is None else environ
    chosen = " ".join([options, *(env.get(v, "") for v in JVM_OPTION_VARS)])
    if re.search(r"-XX:\+Use\w+GC\b", chosen):
        return options
    return f"{options} {LOCAL_COLLECTOR}".strip()


#: Environment variables naming an S3-compatible endpoint, first found wins (the AWS CLI's
#: and SDKs' own names, so one setting serves ``aws s3``, boto3 and Spark).
S3_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def object_store_conf(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``spark.hadoop.fs.s3a.*`` settings read from the environment; no secret among them.

    ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) selects an S3-compatible endpoint
    (MinIO, Ceph, moto, ...) and turns on path-style access, which such servers need
    (``LAKE_S3_PATH_STYLE=false`` turns it off); ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``)
    sets the signing region. The access key and secret are not copied: S3A's default
    credential chain reads ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
    ``AWS_SESSION_TOKEN`` from the environment itself (then the instance profile), so they
    never reach the Spark conf, its UI or a log.

    Example:
        >>> object_store_conf({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"})["spark.hadoop.fs.s3a.endpoint"]
        'http://127.0.0.1:9000'
    """
    env = os.environ if environ is None else environ
    conf: dict[str, str] = {}
    endpoint = next((env[v] for v in S3_ENDPOINT_VARS if env.get(v)), None)
    if endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint
        path_style = env.get("LAKE_S3_PATH_STYLE", "true").strip().lower()
        conf["spark.hadoop.fs.s3a.path.style.access"] = (
            "false" if path_style in ("false", "0", "no") else "true"
        )
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = (
            "false" if endpoint.startswith("http://") else "true"
        )
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        conf["spark.hadoop.fs.s3a.endpoint.region"] = region
    return conf


def cache_dir() -> Path:
    """Folder holding the resolved jars (``$LAKE_CACHE_DIR`` or ``~/.cache/lake``)."""
    root = os.environ.get("LAKE_CACHE_DIR") or os.path.join(Path.home(), ".cache", "lake")
    return Path(root)


def local_packages() -> tuple[str, ...]:
    """What the project's own sessions resolve: the pipeline's packages plus s3a.

    ``s3a://`` lake roots and landings then work out of the box (see docs/operations.md). On
    a managed cluster the platform's connector serves ``s3://``/``gs://``/``abfss://``: pass
    only :data:`lake.versions.SPARK_PACKAGES` there.
    """
    return versions.SPARK_PACKAGES + versions.S3A_PACKAGES


def _packages_key() -> str:
    key = ",".join(local_packages()) + "|" + ",".join(versions.S3A_EXCLUDES)
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def ivy_dir() -> Path:
    """Ivy home for this exact set of packages, so versions never mix."""
    return cache_dir() / f"ivy-{_packages_key()}"


def cached_jars() -> list[str]:
    """Jar files of a warmed cache, or an empty list when the cache is cold."""
    manifest = ivy_dir() / "jars.txt"
    if not manifest.exists():
        return []
    jars = [line.strip() for line in manifest.read_text().splitlines() if line.strip()]
    if not jars or not all(Path(j).exists() for j in jars):
        return []
    return jars


# --------------------------------------------------------------------------- preflight


def java_major_version(java: str | None = None) -> int:
    """Major version of the Java that Spark will launch (``$JAVA_HOME/bin/java`` or PATH)."""
    if java is None:
        home = os.environ.get("JAVA_HOME")
        java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not (os.path.exists(java) or shutil.which(java)):
        raise PreflightError(
            f"Java {versions.MIN_JAVA_MAJOR} or newer is required but no 'java' was found "
            "on PATH or in JAVA_HOME; run 'make setup' or install openjdk-17-jre-headless."
        )
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise PreflightError(f"Cannot run '{java} -version': {exc}") from exc
    return parse_java_version(out.stderr + out.stdout)


def parse_java_version(text: str) -> int:
    """Major version from the output of ``java -version`` (``1.8.0_392`` -> 8, ``17.0.9`` -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        raise PreflightError(f"Cannot read the Java version from: {text.strip()[:200]!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    return major


def check_java(major: int | None = None) -> None:
    """Fail with one sentence when Java is older than Spark needs."""
    found = java_major_version() if major is None else major
    if found < versions.MIN_JAVA_MAJOR:
        raise PreflightError(
            f"Java {versions.MIN_JAVA_MAJOR} or newer is required by Spark "
            f"{versions.PYSPARK_VERSION}, but Java {found} was found; install openjdk-17 and "
            "point JAVA_HOME at it."
        )


def check_versions(installed: dict[str, str] | None = None) -> None:
    """Fail when the installed pyspark/delta-spark pair is not the pinned one."""
    if installed is None:
        installed = {}
        for dist in ("pyspark", "delta-spark"):
            try:
                installed[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                installed[dist] = "not installed"
    wanted = {"pyspark": versions.PYSPARK_VERSION, "delta-spark": versions.DELTA_VERSION}
    wrong = [f"{d} {installed.get(d)} (need {v})" for d, v in wanted.items() if installed.get(d) != v]
    if wrong:
        raise PreflightError(
            "The pyspark/delta-spark pair is wrong: found "
            + ", ".join(wrong)
            + "; run 'pip install -e .' to install the pinned pair."
        )


def preflight(*, check_jars: bool = True) -> None:
    """Check Java, the pyspark/delta pair and the jar cache; raise :class:`PreflightError`."""
    check_versions()
    check_java()
    if check_jars and not cached_jars():
        from lake.install import warm_jar_cache  # a cold cache: resolve it now, once

        warm_jar_cache()


def spark_home() -> Path:
    """The installed pyspark's folder: the ``SPARK_HOME`` of the venv's ``spark-submit``."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _submitted_conf() -> dict[str, str]:
    """Confs the running driver JVM was given by spark-submit (its command line and defaults)."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # attaches to spark-submit's gateway; starts no context
    return dict(SparkConf(loadDefaults=True).getAll())


def _check_submitted_driver(spark) -> None:
    """Under spark-submit, fail with one sentence when the driver cannot load Delta or runs
    in another time zone than the sources' (JDBC timestamps would be shifted)."""
    java = jvm(spark)
    loader = java.Thread.currentThread().getContextClassLoader()
    try:
        java.java.lang.Class.forName("org.apache.spark.sql.delta.catalog.DeltaCatalog", False, loader)
    except Exception as exc:
        raise PreflightError(
            "Delta Lake is not on the spark-submit driver's classpath; run "
            "'python -m lake.install --warm' (it writes the jars into "
            f"{spark_home() / 'conf' / 'spark-defaults.conf'}) or pass "
            f"--packages {','.join(versions.SPARK_PACKAGES)}."
        ) from exc
    zone = java.java.util.TimeZone.getDefault().getID()
    if zone != SOURCE_TIMEZONE:
        raise PreflightError(
            f"The spark-submit driver JVM runs in time zone {zone}, but the sources' zone is "
            f"{SOURCE_TIMEZONE}; run 'python -m lake.install --warm' (it writes -Duser.timezone into "
            "spark-defaults.conf) or pass --driver-java-options "
            f"-Duser.timezone={SOURCE_TIMEZONE} and --conf spark.executor.extraJavaOptions=-Duser.timezone={SOURCE_TIMEZONE}."
        )


# --------------------------------------------------------------------------- session


def use_timezone(spark: SparkSession, zone: str) -> None:
    """Make ``zone`` (the config's ``lake.timezone``) the session's time zone: Spark reads and
    prints zone-less timestamp text in it. Every entry point calls this before it reads.

    Example:
        >>> use_timezone(spark, cfg.lake.timezone)
    """
    spark.conf.set("spark.sql.session.timeZone", zone)


def jvm(spark: SparkSession) -> Any:
    """The driver's py4j view of the JVM (``jvm.org.apache.hadoop.fs.Path``, ...).

    Raises:
        LakeError: the session has no JVM on this side (Spark Connect).
    """
    gateway = spark.sparkContext._jvm
    if gateway is None:
        raise LakeError("this needs a classic Spark session with a driver JVM, not Spark Connect")
    return gateway


def materialize(df: DataFrame) -> DataFrame:
    """``df`` computed once into disk blocks, as a DataFrame that scans them (its lineage cut).

    For a frame read several times (a count, then a MERGE): later actions plan a scan of the
    blocks instead of planning ``df``'s joins and windows again, which costs a small batch
    more than its rows do. On disk, not in memory: memory-store blocks cannot be evicted for
    execution (a batch as large as the storage pool left an aggregation without memory).
    A lost block fails the action that needs it; every caller's step is idempotent and reruns.
    Free the blocks with :func:`release`.

    Example:
        >>> checked = materialize(check_batch(...)); ...; release(checked)
    """
    from pyspark import StorageLevel

    return df.localCheckpoint(eager=True, storageLevel=StorageLevel.DISK_ONLY)


def release(df: DataFrame) -> None:
    """Drop the blocks :func:`materialize` wrote for ``df`` now (not at the driver's next GC)."""
    logical = df._jdf.queryExecution().logical()
    if logical.getClass().getSimpleName() == "LogicalRDD":
        logical.rdd().unpersist(False)


#: Session settings of a step run without generated code: no whole-stage Java source and
#: the interpreted form of every expression, projection and predicate.
INTERPRETED: dict[str, str] = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


#: The blocks of :func:`sized_for` now open, per thread (a stack each: True for a small
#: step), and the session's own code-generation settings, saved when the first block opened.
_SIZED_LOCK = threading.Lock()
_SIZED: dict[int, list[bool]] = {}
_OWN: dict[str, str | None] = {}


@contextlib.contextmanager
def sized_for(spark: SparkSession, step_bytes: int | None, small_mib: float):
    """Run the block's queries interpreted when the step's data is small.

    Spark generates and compiles Java for every query it runs (whole-stage code generation),
    which pays off over millions of rows; a step over a few thousand rows (a micro-batch, a
    small lake, the run's bookkeeping) spends most of its time compiling: a 2 000-row lake's
    runs took a fifth less time interpreted (docs/performance.md). ``step_bytes``: the bytes
    the step reads (None: unknown); below ``small_mib`` MiB (``lake.small_step_mib``; 0:
    never) the block runs with :data:`INTERPRETED`, otherwise with the session's own
    settings, also inside a small block. When the last block ends the session's own
    settings come back. Results are the same either way; only the speed differs.

    The settings are the session's, so steps running side by side in threads
    (:func:`lake.parallel.side_by_side`) share them: each thread's innermost block states
    its step's size, and the session runs interpreted only while every such step is small
    (a large step run interpreted costs more than a small one compiled).

    Example:
        >>> with sized_for(spark, delta_io.table_bytes(spark, path), cfg.lake.small_step_mib):
        ...     build_silver_table(...)
    """
    small = step_bytes is not None and small_mib > 0 and step_bytes < small_mib * 1024 * 1024
    if small:
        log.debug("a small step (%d bytes, under %s MiB): its queries run interpreted", step_bytes, small_mib)
    me = threading.get_ident()
    with _SIZED_LOCK:
        if not _SIZED:
            _OWN.clear()
            _OWN.update({key: spark.conf.get(key, None) for key in INTERPRETED})
        _SIZED.setdefault(me, []).append(small)
        _apply_sizes(spark)
    try:
        yield
    finally:
        with _SIZED_LOCK:
            stack = _SIZED[me]
            stack.pop()
            if not stack:
                del _SIZED[me]
            _apply_sizes(spark)


def _apply_sizes(spark: SparkSession) -> None:
    """The settings the open :func:`sized_for` blocks call for (the caller holds the lock)."""
    if _SIZED and all(stack[-1] for stack in _SIZED.values()):
        _set_conf(spark, dict(INTERPRETED))
    else:
        _set_conf(spark, dict(_OWN))


def _set_conf(spark: SparkSession, settings: dict[str, str | None]) -> None:
    for key, value in settings.items():
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)


def _under_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ


def get_spark(
    *,
    app_name: str = APP_NAME,
    master: str | None = None,
    extra_conf: dict[str, str] | None = None,
    run_preflight: bool = True,
):
    """Return the process's SparkSession, creating it with Delta, JDBC drivers and s3a if needed.

    A second call returns the same session. Under ``spark-submit`` the submitted master and
    confs are kept; only missing Delta settings are added. The s3a endpoint settings come
    from the environment (:func:`object_store_conf`).

    Example:
        >>> from lake import get_spark
        >>> spark = get_spark()
        >>> spark.range(3).count()
        3
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active

    submitted: dict[str, str] = {}
    under_submit = _under_spark_submit()
    if under_submit:
        submitted = _submitted_conf()
    elif run_preflight:
        preflight()

    # Python workers use this interpreter (the venv's), not whatever python3 is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    conf: dict[str, str] = dict(LOCAL_DEFAULTS)
    conf.update(object_store_conf())
    if "spark.master" not in submitted:
        conf["spark.master"] = master or os.environ.get("LAKE_SPARK_MASTER", "local[2]")
        if conf["spark.master"].startswith("local"):
            conf.setdefault("spark.driver.host", "127.0.0.1")
            conf.setdefault("spark.driver.bindAddress", "127.0.0.1")
    jars = cached_jars()
    if jars:
        existing = [j for j in submitted.get("spark.jars", "").split(",") if j]
        conf["spark.jars"] = ",".join(dict.fromkeys(existing + jars))
    elif under_submit:
        pass  # too late to resolve packages: spark-submit --packages or spark-defaults.conf
    elif "spark.jars.packages" not in submitted:
        conf["spark.jars.packages"] = ",".join(local_packages())
        conf["spark.jars.excludes"] = ",".join(versions.S3A_EXCLUDES)
        conf["spark.jars.ivy"] = str(ivy_dir())
    conf.update(extra_conf or {})
    if not under_submit:  # a submitted driver's JVM is running: it keeps its collector
        driver_opts = "spark.driver.extraJavaOptions"
        conf[driver_opts] = with_collector(conf.get(driver_opts, ""))
    for key, value in conf.items():
        if key in submitted and key != "spark.jars":
            continue
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("LAKE_SPARK_LOG_LEVEL", "WARN"))
    if under_submit:
        _check_submitted_driver(spark)
    return spark
