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

MIN_JAVA_MAJOR = 17
