"""Session factory and preflight."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lake import install, session, versions
from lake.errors import PreflightError


def test_import_lake_does_not_start_spark():
    code = "import sys, lake; lake.load_config; print('pyspark' in sys.modules, 'py4j' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_session_is_reused(spark):
    assert session.get_spark() is spark
    assert spark.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"


def test_delta_and_jdbc_drivers_available(spark, tmp_path):
    import sqlite3

    db = tmp_path / "x.db"
    con = sqlite3.connect(db)
    con.execute("create table t (id integer, name text)")
    con.execute("insert into t values (1, 'Ana')")
    con.commit()
    con.close()
    df = (spark.read.format("jdbc").option("url", f"jdbc:sqlite:{db}").option("dbtable", "t")
          .option("driver", "org.sqlite.JDBC").load())
    df.write.format("delta").save(str(tmp_path / "d"))
    assert [tuple(r) for r in spark.read.format("delta").load(str(tmp_path / "d")).collect()] == [(1, "Ana")]
    jvm = spark.sparkContext._jvm
    for cls in ("org.postgresql.Driver", "org.mariadb.jdbc.Driver"):
        assert jvm.java.lang.Class.forName(cls, True, jvm.Thread.currentThread().getContextClassLoader())


def test_local_session_runs_the_parallel_collector(spark):
    """A local session's JVM (driver and executors in one small heap) collects with the
    parallel collector, not G1 (lake.session.with_collector; docs/performance.md)."""
    jvm = spark.sparkContext._jvm
    beans = jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    names = {beans.get(i).getName() for i in range(beans.size())}
    assert names == {"PS Scavenge", "PS MarkSweep"}, names


@pytest.mark.parametrize(
    "options,environ,want",
    [
        ("-Duser.timezone=UTC", {}, "-Duser.timezone=UTC -XX:+UseParallelGC"),
        ("", {}, "-XX:+UseParallelGC"),
        # a collector chosen in the options or in a JVM option variable is kept (two refuse to start)
        ("-Xss4m -XX:+UseG1GC", {}, "-Xss4m -XX:+UseG1GC"),
        ("-Xss4m", {"JAVA_TOOL_OPTIONS": "-XX:+UseZGC"}, "-Xss4m"),
        ("-Xss4m", {"SPARK_SUBMIT_OPTS": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}, "-Xss4m"),
        ("-Xss4m", {"SPARK_SUBMIT_OPTS": "-XX:TieredStopAtLevel=1"}, "-Xss4m -XX:+UseParallelGC"),
    ],
)
def test_with_collector(options, environ, want):
    assert session.with_collector(options, environ) == want


@pytest.mark.parametrize(
    "text,major",
    [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_392"', 8), ('openjdk version "21" 2023', 21)],
)
def test_parse_java_version(text, major):
    assert session.parse_java_version(text) == major


def test_old_java_fails_with_one_sentence():
    with pytest.raises(PreflightError) as err:
        session.check_java(11)
    msg = str(err.value)
    assert "Java 17 or newer is required" in msg and "Java 11 was found" in msg and "\n" not in msg


def test_missing_java(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    with pytest.raises(PreflightError, match="no 'java' was found"):
        session.java_major_version()


def test_wrong_pair_fails():
    with pytest.raises(PreflightError) as err:
        session.check_versions({"pyspark": "3.5.1", "delta-spark": versions.DELTA_VERSION})
    assert f"pyspark 3.5.1 (need {versions.PYSPARK_VERSION})" in str(err.value)
    session.check_versions({"pyspark": versions.PYSPARK_VERSION, "delta-spark": versions.DELTA_VERSION})


def test_installed_pair_is_the_pinned_pair():
    session.check_versions()


def test_unresolvable_jar_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(versions, "SPARK_PACKAGES", ("io.delta:no-such-artifact-lake-test_2.13:0.0.1",))
    monkeypatch.setattr(versions, "S3A_PACKAGES", ())  # resolving them into the empty cache costs 30 s
    with pytest.raises(PreflightError) as err:
        install.warm_jar_cache()
    assert "The jar cache cannot be resolved" in str(err.value)
    assert "no-such-artifact-lake-test" in str(err.value)


def test_warm_cache_lists_existing_jars():
    jars = session.cached_jars()
    assert jars, "make setup warms the jar cache"
    names = " ".join(os.path.basename(j) for j in jars)
    for artifact in ("delta-spark", "postgresql", "mariadb-java-client", "sqlite-jdbc", "hadoop-aws", "awssdk_s3-"):
        assert artifact in names
    assert "awssdk_bundle" not in names  # 686 MB; the SDK modules S3A calls are enough


def test_object_store_conf_from_the_environment():
    conf = session.object_store_conf({"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_REGION": "sa-east-1",
                                      "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"})
    assert conf == {
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:9000",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.endpoint.region": "sa-east-1",
    }
    # credentials stay in the environment (S3A's provider chain reads them there)
    assert not any("AKIAEXAMPLE" in v or "s3cr3t-value" in v for v in conf.values())


def test_object_store_conf_variants():
    assert session.object_store_conf({}) == {}
    conf = session.object_store_conf({"AWS_ENDPOINT_URL": "https://s3.example.test", "LAKE_S3_PATH_STYLE": "false",
                                      "AWS_DEFAULT_REGION": "eu-west-1"})
    assert conf == {
        "spark.hadoop.fs.s3a.endpoint": "https://s3.example.test",
        "spark.hadoop.fs.s3a.path.style.access": "false",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "true",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
    }
    # the S3-specific variable wins over the general one, as in the AWS SDKs
    both = session.object_store_conf({"AWS_ENDPOINT_URL_S3": "http://a:1", "AWS_ENDPOINT_URL": "http://b:2"})
    assert both["spark.hadoop.fs.s3a.endpoint"] == "http://a:1"


def test_local_packages_resolve_s3a_without_the_sdk_bundle():
    packages = session.local_packages()
    assert packages[: len(versions.SPARK_PACKAGES)] == versions.SPARK_PACKAGES
    # hadoop-aws must match the Hadoop that pyspark bundles, or S3A fails at class loading
    bundled = sorted(p.name for p in (session.spark_home() / "jars").glob("hadoop-client-api-*.jar"))
    assert bundled == [f"hadoop-client-api-{versions.HADOOP_VERSION}.jar"]
    assert f"org.apache.hadoop:hadoop-aws:{versions.HADOOP_VERSION}" in packages
    assert "software.amazon.awssdk:bundle" in versions.S3A_EXCLUDES


def test_sized_for_runs_a_small_step_interpreted_and_gives_the_settings_back(spark):
    whole_stage = "spark.sql.codegen.wholeStage"
    mode = "spark.sql.codegen.factoryMode"
    spark.conf.set(whole_stage, "true")
    spark.conf.unset(mode)
    mib = 1024 * 1024
    with session.sized_for(spark, 3 * mib, 4.0):
        assert spark.conf.get(whole_stage) == "false"
        assert spark.conf.get(mode) == "NO_CODEGEN"
        # a query runs, and its plan has no generated stage
        df = spark.range(10).selectExpr("id * 2 AS x").where("x > 4")
        assert df.count() == 7
        assert "WholeStageCodegen" not in df._jdf.queryExecution().executedPlan().toString()
    assert spark.conf.get(whole_stage) == "true"
    assert spark.conf.get(mode, None) in (None, "FALLBACK")  # unset again: Spark's default
    for size, small in ((4 * mib, 4.0), (None, 4.0), (1, 0.0)):  # large, unknown, turned off
        with session.sized_for(spark, size, small):
            assert spark.conf.get(whole_stage) == "true"
            assert spark.conf.get(mode, None) in (None, "FALLBACK")
    # a run's bookkeeping is small, a step in it large: the step gets the session's own settings
    with session.sized_for(spark, 0, 4.0):
        with session.sized_for(spark, 5 * mib, 4.0):
            assert spark.conf.get(whole_stage) == "true"
            assert spark.conf.get(mode, None) in (None, "FALLBACK")
        assert spark.conf.get(whole_stage) == "false"
        assert spark.conf.get(mode) == "NO_CODEGEN"
    assert spark.conf.get(whole_stage) == "true"
