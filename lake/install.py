"""Install-time tooling: the jar cache and the spark-submit defaults (``make setup``).

``python -m lake.install --warm`` resolves the Delta, JDBC driver and s3a jars
(:mod:`lake.versions`) from Maven once into the cache that :mod:`lake.session` reads
(``$LAKE_CACHE_DIR``, default ``~/.cache/lake``), so later sessions start offline. It also
writes a managed block into the installed pyspark's ``conf/spark-defaults.conf``
(:func:`write_spark_defaults`: the cached jars, the Delta extension and catalog, the venv's
Python and the sources' time zone), which ``spark-submit`` reads before it starts the
driver JVM, and pins ``SPARK_HOME`` in the venv's ``find-spark-home``.

Nothing here is needed to run a pipeline once the cache is warm; :func:`lake.session.preflight`
calls :func:`warm_jar_cache` only when it finds the cache cold.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from lake import versions
from lake.errors import PreflightError
from lake.session import (
    LOCAL_DEFAULTS,
    SOURCE_TIMEZONE,
    cache_dir,
    cached_jars,
    check_java,
    check_versions,
    ivy_dir,
    local_packages,
    spark_home,
)

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- jars


def warm_jar_cache() -> list[str]:
    """Resolve the Delta, JDBC and s3a jars from Maven into the cache; return their paths.

    Runs a throw-away ``spark-submit --packages`` resolution (no Spark job), so it works
    before any session exists and leaves nothing running.
    """
    jars = cached_jars()
    if jars:
        return jars
    import pyspark

    spark_home = os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__)
    submit = os.path.join(spark_home, "bin", "spark-submit")
    ivy = ivy_dir()
    ivy.mkdir(parents=True, exist_ok=True)
    probe = ivy / "resolve.py"
    probe.write_text("pass\n")
    cmd = [
        submit,
        "--master",
        "local[1]",
        "--conf",
        f"spark.jars.ivy={ivy}",
        "--conf",
        f"spark.jars.excludes={','.join(versions.S3A_EXCLUDES)}",
        "--packages",
        ",".join(local_packages()),
        str(probe),
    ]
    log.info("Resolving %d packages into %s", len(local_packages()), ivy)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    found = _without_spark_provided(sorted(str(p) for p in (ivy / "jars").glob("*.jar")), spark_home)
    if proc.returncode != 0 or not found:
        unresolved = re.findall(r"::\s+(\S+#\S+;\S+): not found", proc.stderr)
        what = ", ".join(unresolved) or proc.stderr.strip().splitlines()[-1:] or ["unknown error"]
        raise PreflightError(
            "The jar cache cannot be resolved from Maven "
            f"({what if isinstance(what, str) else what[0]}); check network access to the "
            f"Maven repository or copy a warmed cache to {cache_dir()}."
        )
    (ivy / "jars.txt").write_text("\n".join(found) + "\n")
    return found


def _artifact(jar_name: str) -> str:
    """``org.apache.parquet_parquet-column-1.16.0.jar`` -> ``parquet-column``."""
    base = jar_name.rsplit("/", 1)[-1].removesuffix(".jar").split("_", 1)[-1]
    return re.sub(r"-\d[\w.\-]*$", "", base)


def _without_spark_provided(jars: list[str], spark_home: str) -> list[str]:
    """Drop resolved jars that Spark already ships (Jackson, Hadoop, Parquet, ...):
    Spark's own copies win on the classpath anyway, and a second copy only risks conflicts."""
    provided = {_artifact(p.name) for p in Path(spark_home, "jars").glob("*.jar")}
    return [j for j in jars if _artifact(Path(j).name) not in provided]


# --------------------------------------------------------------------------- spark-submit

DEFAULTS_BEGIN = (
    "# >>> lake: managed by 'python -m lake.install --warm'; edits inside this block are overwritten"
)
DEFAULTS_END = "# <<< lake"
#: How every managed block starts, also one written when the command was ``lake.session --warm``.
_BEGIN_PREFIX = "# >>> lake: managed by "

#: Keys of the managed block that a user's own line in spark-defaults.conf may override.
_DELTA_KEYS = (
    "spark.sql.extensions",
    "spark.sql.catalog.spark_catalog",
    "spark.sql.legacy.charVarcharAsString",
    "spark.sql.parquet.outputTimestampType",
)


def _parse_properties(lines: list[str]) -> dict[str, str]:
    """``key value`` / ``key=value`` lines of a Spark properties file (later lines win)."""
    props: dict[str, str] = {}
    for line in lines:
        text = line.strip()
        if not text or text.startswith(("#", "!")):
            continue
        match = re.match(r"([^\s=:]+)\s*[\s=:]\s*(.*)", text)
        if match:
            props[match.group(1)] = match.group(2).strip()
        else:
            props[text] = ""
    return props


def submit_defaults(
    jars: list[str], *, python: str | None = None, user: dict[str, str] | None = None
) -> dict[str, str]:
    """The confs ``spark-submit`` needs to run the jobs: jars, Delta and the venv's Python.

    A key the user already set in ``spark-defaults.conf`` keeps the user's value, except
    ``spark.jars``, whose lists are merged (the user's jars first).

    Example:
        >>> submit_defaults(["/c/delta.jar"], python="/v/bin/python")["spark.jars"]
        '/c/delta.jar'
    """
    user = user or {}
    user_jars = [j for j in user.get("spark.jars", "").split(",") if j]
    conf = {"spark.jars": ",".join(dict.fromkeys(user_jars + list(jars)))}
    conf.update({k: LOCAL_DEFAULTS[k] for k in _DELTA_KEYS})
    python = python or sys.executable
    # spark-submit starts the driver with python3 from PATH unless told otherwise, and
    # executors need the same interpreter.
    conf["spark.pyspark.python"] = python
    conf["spark.pyspark.driver.python"] = python
    # The driver JVM's zone is fixed before Python runs: JDBC timestamps need it pinned here.
    merged = {"spark.jars"}
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        theirs = user.get(key, "")
        if "-Duser.timezone=" not in theirs:
            conf[key] = f"{theirs} -Duser.timezone={SOURCE_TIMEZONE}".strip()
            merged.add(key)
    return {k: v for k, v in conf.items() if k in merged or k not in user}


def write_spark_defaults(
    jars: list[str], *, home: str | Path | None = None, python: str | None = None
) -> Path:
    """Write the managed block of ``$SPARK_HOME/conf/spark-defaults.conf``; keep the user's lines.

    Returns the file written. Running it again replaces the block in place.

    Example:
        >>> write_spark_defaults(cached_jars())
        PosixPath('.../site-packages/pyspark/conf/spark-defaults.conf')
    """
    path = Path(home or spark_home()) / "conf" / "spark-defaults.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    user_lines: list[str] = []
    inside = False
    for line in path.read_text().splitlines() if path.exists() else []:
        if line.startswith(_BEGIN_PREFIX):
            inside = True
        elif inside and line.startswith(DEFAULTS_END):
            inside = False
        elif not inside:
            user_lines.append(line)
    while user_lines and not user_lines[-1].strip():
        user_lines.pop()
    conf = submit_defaults(jars, python=python, user=_parse_properties(user_lines))
    block = [DEFAULTS_BEGIN] + [f"{k} {v}" for k, v in conf.items()] + [DEFAULTS_END]
    text = "\n".join(user_lines + ([""] if user_lines else []) + block) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    if os.environ.get("SPARK_CONF_DIR"):
        log.warning(
            "SPARK_CONF_DIR is set to %s; spark-submit reads spark-defaults.conf from there, not from %s",
            os.environ["SPARK_CONF_DIR"],
            path,
        )
    return path


FIND_HOME_MARK = "# lake: managed by 'python -m lake.install --warm'"
#: The mark of every pin line, also one written when the command was ``lake.session --warm``.
_MARK_PREFIX = "# lake: managed by 'python -m lake."


def pin_spark_home(*, bin_dir: str | Path | None = None, home: str | Path | None = None) -> Path | None:
    """Make the venv's ``spark-submit`` find its pyspark without an activated venv.

    pip's ``bin/find-spark-home`` asks ``python3`` from ``PATH`` where pyspark lives, which
    fails when the venv is not activated; this adds one guarded line that sets
    ``SPARK_HOME`` to this pyspark when it is unset. Returns the file changed, or None.
    """
    script = Path(bin_dir or Path(sys.executable).parent) / "find-spark-home"
    if not script.exists():
        return None
    lines = [line for line in script.read_text().splitlines() if _MARK_PREFIX not in line]
    # The file is sourced by spark-submit: return (never exit) once SPARK_HOME is set.
    pin = (
        f'if [ -z "${{SPARK_HOME}}" ]; then export SPARK_HOME="{Path(home or spark_home())}"; '
        f"return 0 2>/dev/null; fi  {FIND_HOME_MARK}"
    )
    at = 1 if lines and lines[0].startswith("#!") else 0
    script.write_text("\n".join(lines[:at] + [pin] + lines[at:]) + "\n")
    return script


def main(argv: list[str] | None = None) -> int:
    """``python -m lake.install --warm``: run the preflight, warm the jar cache and write the
    spark-submit defaults (the jars, Delta and the venv's Python) into the installed pyspark."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lake.install", description=main.__doc__)
    parser.add_argument(
        "--warm",
        action="store_true",
        help="resolve the Delta, JDBC and s3a jars into the cache and write spark-defaults.conf",
    )
    args = parser.parse_args(argv)
    try:
        check_versions()
        check_java()
        if args.warm:
            jars = warm_jar_cache()
            print(f"jar cache ready: {len(jars)} jars in {ivy_dir()}")
            defaults = write_spark_defaults(jars)
            pin_spark_home()
            print(f"spark-submit defaults written to {defaults}")
    except PreflightError as exc:
        print(f"lake: error: {exc}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
