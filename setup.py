"""Packaging for ``lake``. The pyspark/delta-spark pair is pinned in lake/versions.py."""

import re
from pathlib import Path

from setuptools import find_packages, setup

_versions = Path(__file__).with_name("lake").joinpath("versions.py").read_text()
PYSPARK = re.search(r'PYSPARK_VERSION = "([^"]+)"', _versions).group(1)
DELTA = re.search(r'DELTA_VERSION = "([^"]+)"', _versions).group(1)

# optional parts: `Lake.read(engine="pandas")` needs pandas; the sample-data generator
# (`lake demo`, `lake generate`, lake.datagen) needs Faker, numpy and pandas
PANDAS = ["pandas>=2.1,<3"]
DATAGEN = ["faker>=25.0", "numpy>=1.26", *PANDAS]

setup(
    name="lake",
    version="0.1.0",
    description="A Spark-native medallion data lake: config-driven bronze, silver and gold on Delta Lake.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8")
    if Path(__file__).with_name("README.md").exists()
    else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["lake", "lake.*"]),
    # the SQL the library reads at run time ships inside the package
    package_data={"lake": ["py.typed", "gold/sql/*.sql", "datagen/sql/*.sql"]},
    include_package_data=True,
    install_requires=[
        f"pyspark=={PYSPARK}",
        f"delta-spark=={DELTA}",
        "pyyaml>=6.0",
        "pyarrow>=15",
        # Spark-free reads and `lake query` (delta-rs + its DataFusion engine, Arrow via arro3)
        "deltalake>=1.6,<2",
        "arro3-core>=0.4",
    ],
    extras_require={
        "pandas": PANDAS,
        "datagen": DATAGEN,
        # everything: make setup installs .[dev]
        "dev": [
            *DATAGEN,
            "pytest>=8",
            "pytest-timeout>=2.3",
            # make test runs the files in two processes (Makefile TEST_WORKERS)
            "pytest-xdist>=3.6",
            "chispa>=0.10",
            "nbclient>=0.10",
            "nbformat>=5.10",
            "ipykernel>=6.29",
            "matplotlib>=3.8",
            "psycopg2-binary>=2.9",
            "pymysql>=1.1",
            # the S3-compatible server of the s3a tests (tests/fixtures_s3.py)
            "moto[server]>=5.1,<6",
            # make lint (part of make test): ruff.toml and mypy.ini hold their rules
            "ruff>=0.17,<0.18",
            "mypy>=2.4,<3",
            # tests/test_wheel.py builds the wheel offline (pip wheel --no-build-isolation)
            "wheel>=0.38",
        ],
    },
    entry_points={"console_scripts": ["lake=lake.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Database",
    ],
)
