"""The one place that pins the Spark/Delta pair and the JDBC drivers.

delta-spark declares the pyspark range it supports (``delta-spark 4.4.0`` requires
``pyspark>=4.0.1,<=4.2.0``) and publishes one Maven artifact per Spark minor version.
``setup.py``, the session factory and the preflight all read these constants.
"""

from __future__ import annotations

PYSPARK_VERSION = "4.2.0"
DELTA_VERSION = "4.4.0"
SCALA_BINARY = "2.13"

_SPARK_MINOR = ".".join(PYSPARK_VERSION.split(".")[:2])

DELTA_PACKAGE = f"io.delta:delta-spark_{_SPARK_MINOR}_{SCALA_BINARY}:{DELTA_VERSION}"
POSTGRES_PACKAGE = "org.postgresql:postgresql:42.7.8"
MARIADB_PACKAGE = "org.mariadb.jdbc:mariadb-java-client:3.5.6"
SQLITE_PACKAGE = "org.xerial:sqlite-jdbc:3.50.3.0"

SPARK_PACKAGES: tuple[str, ...] = (
    DELTA_PACKAGE,
    POSTGRES_PACKAGE,
    MARIADB_PACKAGE,
    SQLITE_PACKAGE,
)

# s3a: the connector of pyspark's bundled Hadoop (pyspark/jars/hadoop-client-api-3.5.0.jar)
# and the AWS SDK v2 modules it was built against (hadoop-project 3.5.0:
# aws-java-sdk-v2.version). hadoop-aws declares the SDK's shaded ``bundle`` (686 MB); the
# modules S3A calls (s3, s3-transfer-manager, sts and their own dependencies) are 14 MB
# once Spark's own jars (netty, httpclient, slf4j) are left out, and S3A works with them
# (it only skips its optional OpenSSL socket factory, made for the shaded bundle).
HADOOP_VERSION = "3.5.0"
AWS_SDK_VERSION = "2.35.4"

S3A_PACKAGES: tuple[str, ...] = (
    f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}",
    f"software.amazon.awssdk:s3:{AWS_SDK_VERSION}",
    f"software.amazon.awssdk:s3-transfer-manager:{AWS_SDK_VERSION}",
    f"software.amazon.awssdk:sts:{AWS_SDK_VERSION}",
)
#: ``groupId:artifactId`` left out of the resolution (``spark.jars.excludes``).
S3A_EXCLUDES: tuple[str, ...] = ("software.amazon.awssdk:bundle",)


MIN_JAVA_MAJOR = 17
