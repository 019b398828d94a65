"""The package as a user installs it: a wheel in a fresh virtualenv outside the repository.

The wheel is built offline from a copy of the sources (``pip wheel --no-deps
--no-build-isolation``), installed with ``--no-deps`` into a new venv under a temporary
folder, and given the heavy dependencies (pyspark, delta-spark, deltalake, ...) of the
project's venv through a ``.pth`` line instead of a download. From another directory,
without PYTHONPATH, it runs one pipeline and ``lake query``; nothing may come from the
repository (``lake.__file__`` is checked, and the SQL files must be in the wheel).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from lake.datagen import generate
from tests import SHORT_JVM_OPTS

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-11-25 12:00:00"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _run(cmd, *, cwd, env=None, timeout=900):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (a build leaves build/ and *.egg-info)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "lake", src / "lake", ignore=shutil.ignore_patterns("__pycache__"))
    out = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", out, src], cwd=base)
    (found,) = out.glob("lake-*.whl")
    return found


def test_wheel_holds_the_sql_and_keeps_the_generator_optional(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = whl.read(meta).decode()
    sql = {n for n in names if n.endswith(".sql")}
    expected = {f"lake/gold/sql/{q}.sql" for q in ("contacts_24h", "interactions_by_channel", "last_interaction")}
    expected |= {f"lake/datagen/sql/cooperative_{d}{v}.sql"
                 for d in ("postgres", "mysql", "sqlite") for v in ("", "_relaxed")}
    assert sql == expected
    assert "lake/py.typed" in names
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    faker = [r for r in requires if r.lower().startswith("faker")]
    # faker, numpy and pandas only under extras (datagen, and dev which includes it)
    assert faker and all("extra ==" in r for r in faker), faker
    assert any('extra == "datagen"' in r for r in faker)
    for lib in ("numpy", "pandas"):
        assert all("extra ==" in r for r in requires if r.lower().startswith(lib)), requires
    runtime = {r.split(";")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
               for r in requires if "extra ==" not in r}
    assert {"pyspark", "delta-spark", "pyyaml", "deltalake"} <= runtime
    assert not runtime & {"faker", "numpy", "pandas"}


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    """A new venv (no pip) holding only the wheel, the heavy dependencies seen through a .pth."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel],
         cwd=venv.parent)
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=venv.parent).strip()
    # appended after the venv's own site-packages: the wheel's lake wins, and .pth files over
    # there (the repository's editable install) are not processed from a .pth line
    Path(site, "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "VIRTUAL_ENV")}
    env["LAKE_SPARK_LOG_LEVEL"] = "ERROR"
    env["SPARK_SUBMIT_OPTS"] = SHORT_JVM_OPTS  # a JVM per command, a minute each
    return env


def test_installed_wheel_runs_a_pipeline_and_answers(fresh_venv, tmp_path):
    bin_dir = fresh_venv / "bin"
    where = _run([bin_dir / "python", "-c", "import lake; print(lake.__file__)"], cwd=tmp_path, env=_env())
    assert Path(where.strip()).resolve().is_relative_to(fresh_venv.resolve()), where

    # the smallest input: a few generated records per channel (written by the repo's package)
    landing = tmp_path / "landing"
    generate(landing_dir=str(landing), database_url=None, interactions=60, seed=3, members=10,
             now=datetime(2026, 11, 25, 11, 0, 0))
    conf = tmp_path / "lake.yml"
    shutil.copy2(REPO / "conf" / "lake.yml", conf)
    root = tmp_path / "lake-data"
    common = ["--config", conf, "--lake-root", root]
    _run([bin_dir / "lake", "run", *common, "--pipeline", "customer_experience", "--landing", landing,
          "--as-of", AS_OF], cwd=tmp_path, env=_env())

    query = ["query", "interactions-by-channel", *common, "--as-of", AS_OF, "--format", "json"]
    installed = json.loads(_run([bin_dir / "lake", *query], cwd=tmp_path, env=_env()))
    # the same query by the repository's package on the same lake
    repo_env = dict(_env(), PYTHONPATH=str(REPO))
    expected = json.loads(_run([sys.executable, "-m", "lake.cli", *query], cwd=tmp_path, env=repo_env))
    key = lambda row: json.dumps(row, sort_keys=True)  # noqa: E731
    assert Counter(map(key, installed)) == Counter(map(key, expected))
    assert installed and {row["channel"] for row in installed} <= {"phone", "chat", "whatsapp", "email"}
